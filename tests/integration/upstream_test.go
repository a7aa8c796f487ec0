package integration

// Go test upstreams. Each is a plain net.Listener with a raw HTTP/1.1 request
// reader, so tests see exactly what moe put on the wire (every header as
// sent, hop-by-hop ones included) and can misbehave at the byte level.
// Every upstream records what it received so a test can assert that the
// upstream received nothing.

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// upReq is one request as an upstream received it.
type upReq struct {
	Method  string
	Target  string
	Proto   string
	Header  http.Header // canonical names; every header line as received
	Lines   []string    // raw header lines, in order
	Chunked bool        // request body came chunked
	BodyLen int64       // -1 until the body was read
	BodySHA string      // hex sha256 of the body
	BodyEnd bool        // the body ended as framed (a chunked one: its trailer section too)
	Body    []byte      // the first maxKeptBody bytes of the body
	// Trailer lines of a chunked body, as received (set with the body).
	Trailers []string
	conn     *upConn
}

const maxKeptBody = 1 << 20

// upConn is an accepted upstream connection.
type upConn struct {
	net.Conn
	br *bufio.Reader
	u  *upstream
}

// handlerFunc answers one request. It returns false to close the connection.
type handlerFunc func(c *upConn, r *upReq) bool

type upstream struct {
	t        testing.TB
	Name     string
	Addr     string
	ln       net.Listener
	handler  handlerFunc
	accepted atomic.Int64
	bytesIn  atomic.Int64
	mu       sync.Mutex
	reqs     []*upReq
	conns    map[net.Conn]struct{}
	wg       sync.WaitGroup
	closed   atomic.Bool
	// readBody: when false the handler gets the request with the body unread
	// (startUpstreamBody).
	readBody bool
	// bodyPause: when set, the upstream stops reading a request body for
	// this long after its first MiB, so a proxy without backpressure would
	// have to buffer what the client keeps sending.
	bodyPause time.Duration
}

// countingConn counts bytes the upstream reads, so "received nothing" also
// covers bytes that never formed a request head.
type countingReader struct {
	r io.Reader
	n *atomic.Int64
}

func (c countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n.Add(int64(n))
	return n, err
}

// startUpstream runs a raw HTTP/1.1 upstream on a free port with handler h.
func startUpstream(t testing.TB, name string, h handlerFunc) *upstream {
	t.Helper()
	return startUpstreamBody(t, name, h, true)
}

// startUpstreamBody: startUpstream, and readBody false hands h each request
// with its body unread, in c.br.
func startUpstreamBody(t testing.TB, name string, h handlerFunc, readBody bool) *upstream {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	u := &upstream{t: t, Name: name, Addr: ln.Addr().String(), ln: ln, handler: h,
		conns: map[net.Conn]struct{}{}, readBody: readBody}
	u.wg.Add(1)
	go u.serve()
	t.Cleanup(u.Close)
	return u
}

func (u *upstream) Close() {
	if u.closed.Swap(true) {
		return
	}
	u.ln.Close()
	u.mu.Lock()
	for c := range u.conns {
		c.Close()
	}
	u.mu.Unlock()
	u.wg.Wait()
}

func (u *upstream) serve() {
	defer u.wg.Done()
	for {
		c, err := u.ln.Accept()
		if err != nil {
			return
		}
		u.accepted.Add(1)
		u.mu.Lock()
		if u.closed.Load() {
			u.mu.Unlock()
			c.Close()
			return
		}
		u.conns[c] = struct{}{}
		u.mu.Unlock()
		u.wg.Add(1)
		go func() {
			defer u.wg.Done()
			defer func() {
				u.mu.Lock()
				delete(u.conns, c)
				u.mu.Unlock()
				c.Close()
			}()
			uc := &upConn{Conn: c, br: bufio.NewReaderSize(countingReader{c, &u.bytesIn}, 64<<10), u: u}
			for {
				// A generous deadline: upstreams never hang a test forever.
				c.SetDeadline(time.Now().Add(120 * time.Second))
				r, err := readUpReq(uc.br)
				if err != nil {
					return
				}
				r.conn = uc
				r.BodyLen = -1
				u.mu.Lock()
				u.reqs = append(u.reqs, r)
				u.mu.Unlock()
				if u.readBody {
					if err := r.readBody(uc.br, &u.mu, u.bodyPause); err != nil {
						return
					}
				}
				if !u.handler(uc, r) {
					return
				}
			}
		}()
	}
}

// Requests returns a snapshot of the requests received so far.
func (u *upstream) Requests() []*upReq {
	u.mu.Lock()
	defer u.mu.Unlock()
	return append([]*upReq(nil), u.reqs...)
}

// Count is the number of request heads received.
func (u *upstream) Count() int {
	u.mu.Lock()
	defer u.mu.Unlock()
	return len(u.reqs)
}

// BytesIn is every byte read from any connection.
func (u *upstream) BytesIn() int64 { return u.bytesIn.Load() }

// readUpReq reads a request line and header block.
func readUpReq(br *bufio.Reader) (*upReq, error) {
	line, err := readLine(br)
	if err != nil {
		return nil, err
	}
	f := strings.SplitN(line, " ", 3)
	if len(f) != 3 {
		return nil, fmt.Errorf("bad request line %q", line)
	}
	r := &upReq{Method: f[0], Target: f[1], Proto: f[2], Header: http.Header{}}
	total := len(line)
	for {
		l, err := readLine(br)
		if err != nil {
			return nil, err
		}
		if l == "" {
			break
		}
		total += len(l)
		if total > 1<<20 {
			return nil, errors.New("request head too large")
		}
		r.Lines = append(r.Lines, l)
		i := strings.IndexByte(l, ':')
		if i <= 0 {
			return nil, fmt.Errorf("bad header line %q", l)
		}
		name := http.CanonicalHeaderKey(l[:i])
		r.Header[name] = append(r.Header[name], strings.TrimSpace(l[i+1:]))
	}
	for _, te := range r.Header.Values("Transfer-Encoding") {
		if strings.Contains(strings.ToLower(te), "chunked") {
			r.Chunked = true
		}
	}
	return r, nil
}

func readLine(br *bufio.Reader) (string, error) {
	s, err := br.ReadString('\n')
	if err != nil {
		return "", err
	}
	s = strings.TrimSuffix(s, "\n")
	s = strings.TrimSuffix(s, "\r")
	return s, nil
}

// BodyReader returns a reader for the request body (chunked or
// Content-Length framed). For chunked bodies it also consumes the trailers.
func (r *upReq) BodyReader(br *bufio.Reader) io.Reader {
	if r.Chunked {
		return &chunkedBody{cr: httputil.NewChunkedReader(br), br: br}
	}
	if cl := r.Header.Get("Content-Length"); cl != "" {
		n, err := strconv.ParseInt(cl, 10, 64)
		if err == nil && n > 0 {
			return io.LimitReader(br, n)
		}
	}
	return bytes.NewReader(nil)
}

type chunkedBody struct {
	cr       io.Reader
	br       *bufio.Reader
	done     bool
	trailers []string
}

func (c *chunkedBody) Read(p []byte) (int, error) {
	if c.done {
		return 0, io.EOF
	}
	n, err := c.cr.Read(p)
	if err == io.EOF {
		c.done = true
		// Trailer section, then the empty line.
		for {
			l, lerr := readLine(c.br)
			if lerr != nil {
				return n, lerr
			}
			if l == "" {
				break
			}
			c.trailers = append(c.trailers, l)
		}
	}
	return n, err
}

// readBody drains the body, recording length, sha256 and a prefix.
func (r *upReq) readBody(br *bufio.Reader, mu *sync.Mutex, pause time.Duration) error {
	h := sha256.New()
	var kept bytes.Buffer
	body := r.BodyReader(br)
	if pause > 0 {
		body = &pausingReader{r: body, after: 1 << 20, pause: pause}
	}
	n, err := io.Copy(io.MultiWriter(h, &limitedBuffer{b: &kept, max: maxKeptBody}), body)
	mu.Lock()
	r.BodyLen = n
	r.BodyEnd = err == nil
	r.BodySHA = hex.EncodeToString(h.Sum(nil))
	r.Body = kept.Bytes()
	if cb, ok := body.(*chunkedBody); ok {
		r.Trailers = cb.trailers
	} else if pr, ok := body.(*pausingReader); ok {
		if cb, ok := pr.r.(*chunkedBody); ok {
			r.Trailers = cb.trailers
		}
	}
	mu.Unlock()
	return err
}

type limitedBuffer struct {
	b   *bytes.Buffer
	max int
}

func (l *limitedBuffer) Write(p []byte) (int, error) {
	if room := l.max - l.b.Len(); room > 0 {
		if len(p) < room {
			l.b.Write(p)
		} else {
			l.b.Write(p[:room])
		}
	}
	return len(p), nil
}

// wantsClose: the request asked to close the connection after the response.
func (r *upReq) wantsClose() bool {
	for _, v := range r.Header.Values("Connection") {
		if strings.Contains(strings.ToLower(v), "close") {
			return true
		}
	}
	return r.Proto == "HTTP/1.0" && !strings.Contains(strings.ToLower(r.Header.Get("Connection")), "keep-alive")
}

// writeResponse writes a Content-Length framed response. For HEAD the
// headers announce the length but no body follows.
func writeResponse(c *upConn, r *upReq, status int, hdr []string, body []byte) error {
	var b bytes.Buffer
	fmt.Fprintf(&b, "HTTP/1.1 %d %s\r\n", status, http.StatusText(status))
	for i := 0; i+1 < len(hdr); i += 2 {
		fmt.Fprintf(&b, "%s: %s\r\n", hdr[i], hdr[i+1])
	}
	fmt.Fprintf(&b, "Content-Length: %d\r\n\r\n", len(body))
	if r == nil || r.Method != "HEAD" {
		b.Write(body)
	}
	c.SetWriteDeadline(time.Now().Add(30 * time.Second))
	_, err := c.Write(b.Bytes())
	return err
}

// echoReply is the JSON body of the echo upstream.
type echoReply struct {
	Upstream string              `json:"upstream"`
	Method   string              `json:"method"`
	Target   string              `json:"target"`
	Proto    string              `json:"proto"`
	Header   map[string][]string `json:"header"`
	Chunked  bool                `json:"chunked"`
	BodyLen  int64               `json:"body_len"`
	BodySHA  string              `json:"body_sha256"`
}

func echoBody(u *upstream, r *upReq) []byte {
	u.mu.Lock()
	rep := echoReply{Upstream: u.Name, Method: r.Method, Target: r.Target, Proto: r.Proto,
		Header: r.Header, Chunked: r.Chunked, BodyLen: r.BodyLen, BodySHA: r.BodySHA}
	u.mu.Unlock()
	b, _ := json.Marshal(rep)
	return b
}

// echoHandler answers 200 with a JSON description of the request.
func echoHandler(c *upConn, r *upReq) bool {
	err := writeResponse(c, r, 200, []string{"Content-Type", "application/json", "X-Upstream", c.u.Name}, echoBody(c.u, r))
	return err == nil && !r.wantsClose()
}

func startEcho(t testing.TB, name string) *upstream { return startUpstream(t, name, echoHandler) }

// slowHandler sleeps d, then echoes.
func slowHandler(d time.Duration) handlerFunc {
	return func(c *upConn, r *upReq) bool {
		time.Sleep(d)
		return echoHandler(c, r)
	}
}

// resetHandler: read the request, then reset the connection (RST) without
// answering.
func resetHandler(c *upConn, r *upReq) bool {
	if tc, ok := c.Conn.(*net.TCPConn); ok {
		tc.SetLinger(0)
	}
	c.Close()
	return false
}

// resetMidBodyHandler sends headers announcing total bytes and half of them,
// then resets (rst) or closes (FIN) the connection.
func resetMidBodyHandler(total int, rst bool) handlerFunc {
	return func(c *upConn, r *upReq) bool {
		var b bytes.Buffer
		fmt.Fprintf(&b, "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: %d\r\n\r\n", total)
		b.Write(bytes.Repeat([]byte("x"), total/2))
		c.Write(b.Bytes())
		// Give moe the chance to read and forward the head before the RST
		// (a RST can discard data queued at moe's socket).
		time.Sleep(200 * time.Millisecond)
		if tc, ok := c.Conn.(*net.TCPConn); ok && rst {
			tc.SetLinger(0)
		}
		c.Close()
		return false
	}
}

// hugeHeadersHandler answers with one response header of n bytes.
func hugeHeadersHandler(n int) handlerFunc {
	return func(c *upConn, r *upReq) bool {
		err := writeResponse(c, r, 200, []string{"X-Huge", strings.Repeat("h", n)}, []byte("huge-ok"))
		return err == nil
	}
}

// neverHandler reads the request and never answers; it holds the connection
// until the peer closes it.
func neverHandler(c *upConn, r *upReq) bool {
	c.SetReadDeadline(time.Now().Add(60 * time.Second))
	io.Copy(io.Discard, c.br)
	return false
}

// tunnelHandler answers status (101 for Upgrade, 200 for CONNECT) with hdr,
// sends greeting, then echoes raw bytes until EOF.
func tunnelHandler(status int, hdr []string, greeting string) handlerFunc {
	return func(c *upConn, r *upReq) bool {
		var b bytes.Buffer
		fmt.Fprintf(&b, "HTTP/1.1 %d %s\r\n", status, http.StatusText(status))
		for i := 0; i+1 < len(hdr); i += 2 {
			fmt.Fprintf(&b, "%s: %s\r\n", hdr[i], hdr[i+1])
		}
		b.WriteString("\r\n")
		b.WriteString(greeting)
		if _, err := c.Write(b.Bytes()); err != nil {
			return false
		}
		c.SetDeadline(time.Now().Add(60 * time.Second))
		buf := make([]byte, 32<<10)
		for {
			n, err := c.br.Read(buf)
			if n > 0 {
				if _, werr := c.Write(buf[:n]); werr != nil {
					return false
				}
			}
			if err != nil {
				return false
			}
		}
	}
}

// rawRecorder answers each connection's first request head with `head` at
// once, before reading any body (an upstream that answers early, or says
// 101), then records every byte it reads after the head until moe closes.
// Use with startUpstreamBody(..., false).
type rawRecorder struct {
	mu     sync.Mutex
	got    bytes.Buffer
	closed chan struct{}
	once   sync.Once
}

func newRawRecorder() *rawRecorder { return &rawRecorder{closed: make(chan struct{})} }

func (r *rawRecorder) handler(head string) handlerFunc {
	return func(c *upConn, _ *upReq) bool {
		defer r.once.Do(func() { close(r.closed) })
		if _, err := c.Write([]byte(head)); err != nil {
			return false
		}
		c.SetDeadline(time.Now().Add(20 * time.Second))
		buf := make([]byte, 32<<10)
		for {
			n, err := c.br.Read(buf)
			r.mu.Lock()
			r.got.Write(buf[:n])
			r.mu.Unlock()
			if err != nil {
				return false
			}
		}
	}
}

func (r *rawRecorder) String() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.got.String()
}

// waitFor: true once the bytes contain sub, false at the deadline or when
// the connection ended without them.
func (r *rawRecorder) waitFor(sub string, d time.Duration) bool {
	return waitFor(d, func() bool {
		select {
		case <-r.closed:
			return true
		default:
			return strings.Contains(r.String(), sub)
		}
	}) && strings.Contains(r.String(), sub)
}

// waitClosed: true once moe closed the upstream connection.
func (r *rawRecorder) waitClosed(d time.Duration) bool {
	select {
	case <-r.closed:
		return true
	case <-time.After(d):
		return false
	}
}

// patternStream is a deterministic byte stream: block i is a 64 KiB block of
// a fixed pattern with i written into its first 8 bytes, so reordering or
// duplication shows up in the checksum.
type patternStream struct {
	total, off int64
	block      []byte
}

func newPatternStream(total int64) *patternStream {
	blk := make([]byte, 64<<10)
	x := uint32(2463534242)
	for i := range blk {
		x ^= x << 13
		x ^= x >> 17
		x ^= x << 5
		blk[i] = byte(x)
	}
	return &patternStream{total: total, block: blk}
}

func (p *patternStream) Read(b []byte) (int, error) {
	if p.off >= p.total {
		return 0, io.EOF
	}
	n := 0
	for n < len(b) && p.off < p.total {
		bi := p.off / int64(len(p.block))
		bo := p.off % int64(len(p.block))
		var chunk []byte
		if bo < 8 {
			var hdr [8]byte
			for k := 0; k < 8; k++ {
				hdr[k] = byte(bi >> (8 * k))
			}
			chunk = hdr[bo:]
		} else {
			chunk = p.block[bo:]
		}
		if rem := p.total - p.off; int64(len(chunk)) > rem {
			chunk = chunk[:rem]
		}
		c := copy(b[n:], chunk)
		n += c
		p.off += int64(c)
	}
	return n, nil
}

func patternSHA(total int64) string {
	h := sha256.New()
	io.CopyBuffer(h, newPatternStream(total), make([]byte, 256<<10))
	return hex.EncodeToString(h.Sum(nil))
}

// chunkedStreamHandler streams total bytes of the pattern as a chunked body
// generated on the fly (never held in memory).
func chunkedStreamHandler(total int64) handlerFunc {
	return func(c *upConn, r *upReq) bool {
		c.SetWriteDeadline(time.Now().Add(5 * time.Minute))
		bw := bufio.NewWriterSize(c, 256<<10)
		fmt.Fprintf(bw, "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nTransfer-Encoding: chunked\r\n\r\n")
		cw := httputil.NewChunkedWriter(bw)
		if _, err := io.CopyBuffer(cw, newPatternStream(total), make([]byte, 128<<10)); err != nil {
			return false
		}
		cw.Close()
		bw.WriteString("\r\n")
		return bw.Flush() == nil && !r.wantsClose()
	}
}

// chunkedSmallHandler answers with body split into the given chunks,
// using chunked framing.
func chunkedSmallHandler(parts ...string) handlerFunc {
	return func(c *upConn, r *upReq) bool {
		var b bytes.Buffer
		b.WriteString("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n")
		for _, p := range parts {
			fmt.Fprintf(&b, "%x\r\n%s\r\n", len(p), p)
		}
		b.WriteString("0\r\n\r\n")
		_, err := c.Write(b.Bytes())
		return err == nil && !r.wantsClose()
	}
}

// startContinueServer is a net/http upstream (Go's server implements
// Expect: 100-continue: it sends the interim response when the handler
// first reads the body). It echoes the body length.
func startContinueServer(t testing.TB) (addr string, got *atomic.Int64) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	got = &atomic.Int64{}
	srv := &http.Server{
		ReadHeaderTimeout: 30 * time.Second,
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			n, _ := io.Copy(io.Discard, r.Body)
			got.Add(n)
			fmt.Fprintf(w, "continue-ok %d expect=%q", n, r.Header.Get("Expect"))
		}),
	}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return ln.Addr().String(), got
}

// decodeEcho parses an echo upstream reply.
func decodeEcho(t testing.TB, body []byte) echoReply {
	t.Helper()
	var e echoReply
	if err := json.Unmarshal(body, &e); err != nil {
		t.Fatalf("response is not the echo upstream's JSON: %v; body %q", err, truncate(body, 300))
	}
	return e
}

func truncate(b []byte, n int) string {
	if len(b) > n {
		return string(b[:n]) + "..."
	}
	return string(b)
}

// pausingReader sleeps once, after the first `after` bytes.
type pausingReader struct {
	r      io.Reader
	after  int64
	n      int64
	pause  time.Duration
	paused bool
}

func (p *pausingReader) Read(b []byte) (int, error) {
	if !p.paused && p.n >= p.after {
		p.paused = true
		time.Sleep(p.pause)
	}
	n, err := p.r.Read(b)
	p.n += int64(n)
	return n, err
}
