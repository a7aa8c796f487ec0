package integration

// protocol: h2c clusters: moe speaks HTTP/2 (prior knowledge) to the
// upstream. The upstream is Debian's nginx with `listen ... http2` (h2c
// without TLS), which answers some locations itself and proxies the rest to
// a Go HTTP/1.1 backend (so request bodies can be checked). nginx's access
// log records $connection per request: how many upstream connections moe
// used.

import (
	"bufio"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

const h2BigLen = 8 << 20

type h2Nginx struct {
	Addr   string
	Prefix string
}

// startH2cBackend serves /body: answers "len=N sha=HEX proto=P te=T" for the
// request body it got.
func startH2cBackend(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			time.Sleep(time.Second)
			io.WriteString(w, "slow-done")
			return
		}
		if r.URL.Path == "/trailers" {
			// Flushed before the body: chunked, so nginx's h2 response has
			// no content-length and moe's HTTP/1.1 response is chunked.
			w.WriteHeader(200)
			w.(http.Flusher).Flush()
			io.WriteString(w, "with-trailers")
			return
		}
		h := sha256.New()
		n, _ := io.Copy(h, r.Body)
		fmt.Fprintf(w, "len=%d sha=%s", n, hex.EncodeToString(h.Sum(nil)))
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return ln.Addr().String()
}

// startH2cNginx runs nginx with an h2c-only server:
//
//	/          200 "h2c-ok"
//	/proto     200 "$server_protocol|$http_host|$http_te|$http_x_test"
//	/trailers  200 "with-trailers" (backend, no length) + trailer x-checksum: abc123
//	/body      proxied to backend
//	/slow      proxied to backend: "slow-done" after 1 s
//	/big       h2BigLen bytes of the pattern stream
func startH2cNginx(t testing.TB, backend string) *h2Nginx {
	return startH2cNginxWith(t, backend, 100000)
}

// startH2cNginxWith sets keepalive_requests: nginx sends GOAWAY after that
// many streams on a connection.
func startH2cNginxWith(t testing.TB, backend string, keepaliveRequests int) *h2Nginx {
	t.Helper()
	prefix, _ := nginxPrefix(t, h2BigLen)
	n := &h2Nginx{Prefix: prefix}
	n.Addr = runNginx(t, prefix, func(addr string) string {
		return fmt.Sprintf(`http {
    log_format conn '$connection $server_protocol $request_method $uri $status';
    access_log %[1]s/logs/access.log conn;
    default_type text/plain;
%[5]s
    http2_max_concurrent_streams 16;
    keepalive_requests %[4]d;
    server {
        listen %[2]s http2;
        root %[1]s/html;
        location = / { return 200 "h2c-ok"; }
        location = /proto { return 200 "$server_protocol|$http_host|$http_te|$http_x_test"; }
        location = /trailers {
            add_trailer x-checksum abc123;
            proxy_pass http://%[3]s;
        }
        location = /body { proxy_pass http://%[3]s; }
        location = /slow { proxy_pass http://%[3]s; }
        location = /big { default_type application/octet-stream; alias %[1]s/html/big.bin; }
    }
}
`, prefix, addr, backend, keepaliveRequests, nginxTempPaths(prefix))
	}, dialable)
	return n
}

// accessLines returns nginx's access log lines ("$connection $protocol
// $method $uri $status"), waiting until at least min are there.
func (n *h2Nginx) accessLines(t testing.TB, min int) []string {
	t.Helper()
	var lines []string
	waitFor(5*time.Second, func() bool {
		s := strings.TrimSpace(readFileString(filepath.Join(n.Prefix, "logs", "access.log")))
		lines = nil
		if s != "" {
			lines = strings.Split(s, "\n")
		}
		return len(lines) >= min
	})
	return lines
}

func h2cYAML(workers int, endpoint string, extra string) string {
	return yamlHead(workers) + fmt.Sprintf(`    http2: true
    routes:
      - name: to-up
        match: {prefix: /}
        cluster: up
clusters:
  - name: up
    protocol: h2c
    endpoints: ["%s"]
%s`, endpoint, extra)
}

// TestH2UpstreamGet: an HTTP/1.1 GET through moe to an h2c upstream; nginx
// sees HTTP/2.0, the Host as :authority, and the other request headers.
func TestH2UpstreamGet(t *testing.T) {
	t.Parallel()
	ng := startH2cNginx(t, startH2cBackend(t))
	m := startMoe(t, h2cYAML(1, ng.Addr, ""))
	st, _, body := httpGet(t, m.URL("/"))
	if st != 200 || string(body) != "h2c-ok" {
		t.Fatalf("GET /: %d %q", st, body)
	}
	st, _, body = httpGet(t, m.URL("/proto"), "Host", "front.example", "X-Test", "yes", "TE", "trailers")
	if st != 200 || string(body) != "HTTP/2.0|front.example|trailers|yes" {
		t.Fatalf("GET /proto: %d %q", st, body)
	}
	st, _, body = httpGet(t, m.URL("/nope"))
	if st != 404 {
		t.Fatalf("GET /nope: %d %q", st, body)
	}
	// HEAD: headers only, the length kept.
	c := newClient()
	req, _ := http.NewRequest("HEAD", m.URL("/"), nil)
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.ContentLength != 6 {
		t.Fatalf("HEAD /: %d length %d", resp.StatusCode, resp.ContentLength)
	}
}

// TestH2UpstreamPost: request bodies, sized and chunked, small and larger
// than the stream windows, reach the upstream intact.
func TestH2UpstreamPost(t *testing.T) {
	t.Parallel()
	ng := startH2cNginx(t, startH2cBackend(t))
	m := startMoe(t, h2cYAML(1, ng.Addr, ""))
	for _, size := range []int64{0, 1, 1000, 300 << 10, 3 << 20} {
		for _, chunked := range []bool{false, true} {
			h := sha256.New()
			io.Copy(h, newPatternStream(size))
			want := fmt.Sprintf("len=%d sha=%s", size, hex.EncodeToString(h.Sum(nil)))
			var rd io.Reader = newPatternStream(size)
			if chunked {
				rd = io.MultiReader(rd) // hides the length: net/http sends chunked
			}
			req, _ := http.NewRequest("POST", m.URL("/body"), rd)
			if !chunked {
				req.ContentLength = size
			}
			resp, err := newClient().Do(req)
			if err != nil {
				t.Fatalf("POST %d chunked=%v: %v", size, chunked, err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 || string(b) != want {
				t.Fatalf("POST %d chunked=%v: %d %q, want %q", size, chunked, resp.StatusCode, b, want)
			}
		}
	}
}

// TestH2UpstreamMultiplexed: many concurrent requests from one worker share
// few upstream connections (nginx allows 16 streams per connection here).
func TestH2UpstreamMultiplexed(t *testing.T) {
	t.Parallel()
	ng := startH2cNginx(t, startH2cBackend(t))
	m := startMoe(t, h2cYAML(1, ng.Addr, ""))
	const clients, each = 40, 10
	runH2Load(t, m, clients, each)
	lines := ng.accessLines(t, clients*each)
	conns := map[string]int{}
	for _, l := range lines {
		f := strings.Fields(l)
		if len(f) < 2 || f[1] != "HTTP/2.0" {
			t.Fatalf("nginx log line %q: not HTTP/2.0", l)
		}
		conns[f[0]]++
	}
	// 40 in flight at most, 16 streams per connection: 3 would do; allow
	// for connections replaced over the run, but far fewer than 40.
	if len(conns) > 8 {
		t.Fatalf("%d requests used %d upstream connections: %v", len(lines), len(conns), conns)
	}
	t.Logf("%d requests over %d upstream connections", len(lines), len(conns))
}

// TestH2UpstreamTrailers: trailers from the h2c upstream reach an HTTP/1.1
// client in the last chunk.
func TestH2UpstreamTrailers(t *testing.T) {
	t.Parallel()
	ng := startH2cNginx(t, startH2cBackend(t))
	m := startMoe(t, h2cYAML(1, ng.Addr, ""))
	c := dial(t, m.Addr("listen"))
	defer c.Close()
	fmt.Fprintf(c, "GET /trailers HTTP/1.1\r\nHost: x\r\nTE: trailers\r\n\r\n")
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 200 || string(body) != "with-trailers" {
		t.Fatalf("%d %q", resp.StatusCode, body)
	}
	if len(resp.TransferEncoding) == 0 || resp.TransferEncoding[0] != "chunked" {
		t.Fatalf("transfer-encoding %v, want chunked", resp.TransferEncoding)
	}
	if got := resp.Trailer.Get("X-Checksum"); got != "abc123" {
		t.Fatalf("trailer x-checksum %q (trailers %v)", got, resp.Trailer)
	}
}

// TestH2UpstreamDown: nothing listens at the h2c endpoint: 502, and again
// (no connection left behind in a bad state).
func TestH2UpstreamDown(t *testing.T) {
	t.Parallel()
	m := startMoe(t, h2cYAML(1, closedPort(t), "    connect_timeout: 1s\n"))
	for i := 0; i < 3; i++ {
		st, _, body := httpGet(t, m.URL("/"))
		if st != 502 {
			t.Fatalf("GET %d: %d %q, want 502", i, st, body)
		}
	}
}

// runH2Load: `clients` keep-alive clients, `each` requests each, GETs and
// POSTs alternating; every answer is checked.
func runH2Load(t *testing.T, m *Moe, clients, each int) {
	t.Helper()
	var wg sync.WaitGroup
	errs := make(chan string, clients*each)
	for i := 0; i < clients; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			c := newClient()
			for j := 0; j < each; j++ {
				var st int
				var body []byte
				if j%2 == 0 {
					req, _ := http.NewRequest("GET", m.URL("/"), nil)
					resp, err := c.Do(req)
					if err != nil {
						errs <- err.Error()
						continue
					}
					body, _ = io.ReadAll(resp.Body)
					resp.Body.Close()
					st = resp.StatusCode
					if st != 200 || string(body) != "h2c-ok" {
						errs <- fmt.Sprintf("GET: %d %q", st, body)
					}
				} else {
					payload := strings.Repeat(fmt.Sprintf("%d-%d;", i, j), 500)
					resp, err := c.Post(m.URL("/body"), "text/plain", strings.NewReader(payload))
					if err != nil {
						errs <- err.Error()
						continue
					}
					body, _ = io.ReadAll(resp.Body)
					resp.Body.Close()
					sum := sha256.Sum256([]byte(payload))
					want := fmt.Sprintf("len=%d sha=%s", len(payload), hex.EncodeToString(sum[:]))
					if resp.StatusCode != 200 || string(body) != want {
						errs <- fmt.Sprintf("POST: %d %q", resp.StatusCode, body)
					}
				}
			}
		}(i)
	}
	wg.Wait()
	close(errs)
	n := 0
	for e := range errs {
		if n++; n <= 5 {
			t.Error(e)
		}
	}
	if n > 0 {
		t.Fatalf("%d failed requests", n)
	}
}

// TestH2UpstreamGoaway: nginx ends each connection with GOAWAY after 5
// streams (12 concurrent clients); streams it did not process are refused and retried on a new
// connection, so every request still succeeds.
func TestH2UpstreamGoaway(t *testing.T) {
	t.Parallel()
	ng := startH2cNginxWith(t, startH2cBackend(t), 5)
	m := startMoe(t, h2cYAML(1, ng.Addr, ""))
	// Fewer clients than nginx's 16 streams per connection: only GOAWAY
	// refuses streams here (RST_STREAM(REFUSED_STREAM) is retried once only,
	// see TestH2UpstreamRefusedStream).
	const clients, each = 12, 10
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("moe access log:\n%s", tailFile(filepath.Join(m.Dir, "access.log"), 3000))
		}
	})
	runH2Load(t, m, clients, each)
	lines := ng.accessLines(t, clients*each)
	conns := map[string]int{}
	for _, l := range lines {
		f := strings.Fields(l)
		if len(f) >= 5 && f[4] == "200" {
			conns[f[0]]++
		}
	}
	for c, n := range conns {
		if n > 5 {
			t.Fatalf("connection %s carried %d requests, nginx allows 5", c, n)
		}
	}
	if len(conns) < clients*each/5 {
		t.Fatalf("%d connections for %d requests", len(conns), clients*each)
	}
}

// TestH2UpstreamLargeResponse: 8 MiB from the h2c upstream, read at full
// speed by three clients while a fourth has stopped reading after its first
// chunk (its stream's window is held, not the connection's). The slow
// client resumes only after the fast ones are done, so if the stalled
// stream blocked the shared upstream connection the fast fetches would
// never finish (their client gives up after 20 s and the test fails). All
// four share one upstream connection (checked on /stats).
func TestH2UpstreamLargeResponse(t *testing.T) {
	t.Parallel()
	ng := startH2cNginx(t, startH2cBackend(t))
	m := startMoe(t, h2cYAML(1, ng.Addr, ""))
	h := sha256.New()
	io.Copy(h, newPatternStream(h2BigLen))
	want := hex.EncodeToString(h.Sum(nil))
	// fetch reads /big whole; with a gate, it reads one chunk, reports on
	// started and waits for the gate before reading the rest.
	fetch := func(c *http.Client, started chan<- struct{}, gate <-chan struct{}) string {
		resp, err := c.Get(m.URL("/big"))
		if err != nil {
			return err.Error()
		}
		defer resp.Body.Close()
		if resp.StatusCode != 200 {
			return fmt.Sprintf("status %d", resp.StatusCode)
		}
		h := sha256.New()
		buf := make([]byte, 256<<10)
		var n int64
		for {
			k, err := resp.Body.Read(buf)
			h.Write(buf[:k])
			n += int64(k)
			if err == io.EOF {
				break
			}
			if err != nil {
				return err.Error()
			}
			if gate != nil && n > 0 {
				close(started)
				<-gate
				gate = nil
			}
		}
		if got := hex.EncodeToString(h.Sum(nil)); n != h2BigLen || got != want {
			return fmt.Sprintf("got %d bytes sha %s", n, got)
		}
		return ""
	}
	started, gate := make(chan struct{}), make(chan struct{})
	// Every way out lets the slow reader go (a failing check included).
	release := sync.OnceFunc(func() { close(gate) })
	t.Cleanup(release)
	slowDone := make(chan string, 1)
	// The slow client's socket takes 64 KiB: with moe's own buffers and
	// its socket's send buffer, well under 8 MiB fits before the stream
	// must stop.
	small := &net.Dialer{Control: func(_, _ string, rc syscall.RawConn) error {
		return rc.Control(func(fd uintptr) { syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 64<<10) })
	}}
	slow := &http.Client{Timeout: 60 * time.Second, Transport: &http.Transport{Proxy: nil, DialContext: small.DialContext}}
	go func() { slowDone <- fetch(slow, started, gate) }()
	select {
	case <-started:
	case e := <-slowDone:
		t.Fatalf("slow fetch ended before its first chunk: %s", e)
	case <-time.After(20 * time.Second):
		t.Fatal("slow fetch: no first chunk in 20s")
	}
	fast := &http.Client{Timeout: 20 * time.Second, Transport: newClient().Transport}
	for i := 0; i < 3; i++ {
		if e := fetch(fast, nil, nil); e != "" {
			t.Fatalf("fast fetch %d while another stream of the upstream connection is stalled: %s", i, e)
		}
	}
	// The slow stream is still open: moe logs a stream when it ends (the
	// log is written about every 200 ms), and only the 3 fast ones have.
	bigDone := func() int { return strings.Count(readFileString(filepath.Join(m.Dir, "access.log")), `"path":"/big"`) }
	if !waitFor(5*time.Second, func() bool { return bigDone() >= 3 }) {
		t.Fatalf("access log: %d /big streams ended, want the 3 fast ones", bigDone())
	}
	time.Sleep(500 * time.Millisecond)
	if n := bigDone(); n != 3 {
		t.Fatalf("access log: %d /big streams ended while the slow client read nothing: the slow stream was not held", n)
	}
	// They shared one upstream connection with the stalled stream.
	if n, ok := statValue(t, m, "moe_upstream_connections_active", map[string]string{"cluster": "up"}); !ok || n != 1 {
		t.Fatalf("moe_upstream_connections_active = %v (found %v), want 1: the fetches did not share the connection", n, ok)
	}
	release()
	select {
	case e := <-slowDone:
		if e != "" {
			t.Fatalf("slow fetch: %s", e)
		}
	case <-time.After(60 * time.Second):
		t.Fatal("slow fetch did not finish within 60s of being released")
	}
}

// TestH2UpstreamClientAbort: clients that go away mid-response cancel their
// upstream stream (RST_STREAM), not the connection: later requests still
// share it.
func TestH2UpstreamClientAbort(t *testing.T) {
	t.Parallel()
	ng := startH2cNginx(t, startH2cBackend(t))
	m := startMoe(t, h2cYAML(1, ng.Addr, ""))
	for i := 0; i < 5; i++ {
		c := dial(t, m.Addr("listen"))
		fmt.Fprintf(c, "GET /big HTTP/1.1\r\nHost: x\r\n\r\n")
		c.SetReadDeadline(time.Now().Add(10 * time.Second))
		buf := make([]byte, 64<<10)
		if _, err := io.ReadFull(c, buf); err != nil {
			t.Fatalf("abort %d: %v", i, err)
		}
		c.Close()
	}
	for i := 0; i < 5; i++ {
		st, _, body := httpGet(t, m.URL("/"))
		if st != 200 || string(body) != "h2c-ok" {
			t.Fatalf("GET / after aborts: %d %q", st, body)
		}
	}
	lines := ng.accessLines(t, 10)
	conns := map[string]bool{}
	for _, l := range lines {
		conns[strings.Fields(l)[0]] = true
	}
	if len(conns) != 1 {
		t.Fatalf("%d upstream connections, want 1: %q", len(conns), lines)
	}
}

// TestH2UpstreamDrainInFlight: SIGTERM while requests wait on the h2c
// upstream: they complete, then moe exits 0.
func TestH2UpstreamDrainInFlight(t *testing.T) {
	t.Parallel()
	ng := startH2cNginx(t, startH2cBackend(t))
	m := startMoe(t, h2cYAML(1, ng.Addr, ""))
	const n = 3
	res := make(chan string, n)
	for i := 0; i < n; i++ {
		go func() {
			resp, err := newClient().Get(m.URL("/slow"))
			if err != nil {
				res <- err.Error()
				return
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			res <- fmt.Sprintf("%d %s", resp.StatusCode, b)
		}()
	}
	time.Sleep(300 * time.Millisecond)
	m.Signal(syscall.SIGTERM)
	for i := 0; i < n; i++ {
		if r := <-res; r != "200 slow-done" {
			t.Errorf("in-flight request: %s", r)
		}
	}
	m.WaitExit(10 * time.Second)
}

// TestH2UpstreamFromH2Client: HTTP/2 on both legs (curl prior knowledge ->
// moe -> h2c nginx), GET and POST.
func TestH2UpstreamFromH2Client(t *testing.T) {
	t.Parallel()
	needTool(t, "curl")
	ng := startH2cNginx(t, startH2cBackend(t))
	m := startMoe(t, h2cYAML(1, ng.Addr, ""))
	code, out, errs := runCmd(t, 30*time.Second, "curl", "-sS", "--noproxy", "*", "--http2-prior-knowledge", "-m", "20",
		m.URL("/proto"))
	if code != 0 || !strings.HasPrefix(out, "HTTP/2.0|127.0.0.1:") {
		t.Fatalf("curl h2 GET /proto: exit %d out %q err %q", code, out, errs)
	}
	payload := strings.Repeat("x", 100000)
	sum := sha256.Sum256([]byte(payload))
	code, out, errs = runCmd(t, 30*time.Second, "curl", "-sS", "--noproxy", "*", "--http2-prior-knowledge", "-m", "20",
		"--data-binary", payload, m.URL("/body"))
	if want := fmt.Sprintf("len=%d sha=%s", len(payload), hex.EncodeToString(sum[:])); code != 0 || out != want {
		t.Fatalf("curl h2 POST /body: exit %d out %q err %q, want %q", code, out, errs, want)
	}
}

// rawH2Upstream is a minimal h2c server over the frame helpers of
// h2_frames_test.go: it answers each request HEADERS per `decide` (which
// gets the count of HEADERS so far, from 1): 0 → 200 "raw-ok", else
// RST_STREAM with that error code.
type rawH2Upstream struct {
	Addr    string
	mu      sync.Mutex
	headers int
}

func (u *rawH2Upstream) Headers() int {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.headers
}

func startRawH2Upstream(t testing.TB, decide func(n int) uint32) *rawH2Upstream {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	u := &rawH2Upstream{Addr: ln.Addr().String()}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func(c net.Conn) {
				defer c.Close()
				h := &h2Raw{t: t, c: c, br: bufio.NewReaderSize(c, 64<<10)}
				pre := make([]byte, len(h2Preface))
				if _, err := io.ReadFull(h.br, pre); err != nil || string(pre) != h2Preface {
					return
				}
				c.Write(appendFrame(nil, frameSettings, 0, 0, nil))
				for {
					f, err := h.readFrame()
					if err != nil {
						return
					}
					if f.Type != frameHeaders {
						continue
					}
					u.mu.Lock()
					u.headers++
					n := u.headers
					u.mu.Unlock()
					if code := decide(n); code != 0 {
						c.Write(appendFrame(nil, frameRSTStream, 0, f.Stream, binary.BigEndian.AppendUint32(nil, code)))
						continue
					}
					var b []byte
					b = appendFrame(b, frameHeaders, flagEndHeaders, f.Stream, hpackLiteral(nil, ":status", "200", false))
					b = appendFrame(b, frameData, flagEndStream, f.Stream, []byte("raw-ok"))
					c.Write(b)
				}
			}(c)
		}
	}()
	return u
}

// TestH2UpstreamRefusedStream: RST_STREAM(REFUSED_STREAM) after the
// server's SETTINGS is retried once; a second refusal, or any other reset,
// is a 502.
func TestH2UpstreamRefusedStream(t *testing.T) {
	t.Parallel()
	const refused, internal = 0x7, 0x2
	t.Run("refused-once", func(t *testing.T) {
		up := startRawH2Upstream(t, func(n int) uint32 {
			if n == 1 {
				return refused
			}
			return 0
		})
		m := startMoe(t, h2cYAML(1, up.Addr, ""))
		st, _, body := httpGet(t, m.URL("/"))
		if st != 200 || string(body) != "raw-ok" || up.Headers() != 2 {
			t.Fatalf("%d %q after %d HEADERS, want 200 raw-ok after 2", st, body, up.Headers())
		}
	})
	t.Run("refused-always", func(t *testing.T) {
		up := startRawH2Upstream(t, func(int) uint32 { return refused })
		m := startMoe(t, h2cYAML(1, up.Addr, ""))
		st, _, body := httpGet(t, m.URL("/"))
		// HEADERS 1 (submitted before the server's SETTINGS arrived) is
		// resent on the same connection (2), then retried once on a new
		// connection (3, again before SETTINGS, not resent again).
		if st != 502 || up.Headers() != 3 {
			t.Fatalf("%d %q after %d HEADERS, want 502 after 3", st, body, up.Headers())
		}
	})
	t.Run("internal-error", func(t *testing.T) {
		up := startRawH2Upstream(t, func(int) uint32 { return internal })
		m := startMoe(t, h2cYAML(1, up.Addr, ""))
		st, _, body := httpGet(t, m.URL("/"))
		if st != 502 || up.Headers() != 1 || !strings.Contains(string(body), "INTERNAL_ERROR") {
			t.Fatalf("%d %q after %d HEADERS, want 502 INTERNAL_ERROR after 1", st, body, up.Headers())
		}
	})
}
