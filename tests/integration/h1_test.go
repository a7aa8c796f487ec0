package integration

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

func sha(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// TestH1KeepAlive: several requests on one client connection are all served
// on it.
func TestH1KeepAlive(t *testing.T) {
	t.Parallel()
	up := startEcho(t, "up")
	m := startMoe(t, simpleYAML(1, up.Addr))
	c := dial(t, m.Addr("listen"))
	br := bufio.NewReader(c)
	for i := 0; i < 5; i++ {
		fmt.Fprintf(c, "GET /ka/%d HTTP/1.1\r\nHost: ka\r\n\r\n", i)
		resp := readResponse(t, br, "GET")
		if resp.Status != 200 {
			t.Fatalf("request %d: status %d", i, resp.Status)
		}
		if e := decodeEcho(t, resp.Body); e.Target != fmt.Sprintf("/ka/%d", i) {
			t.Fatalf("request %d: upstream saw %q", i, e.Target)
		}
	}
	if up.Count() != 5 {
		t.Fatalf("upstream got %d requests, want 5", up.Count())
	}
}

// TestH1Pipelining: several requests in one write get their responses in
// order on the same connection.
func TestH1Pipelining(t *testing.T) {
	t.Parallel()
	up := startEcho(t, "up")
	m := startMoe(t, simpleYAML(2, up.Addr))
	c := dial(t, m.Addr("listen"))
	var b bytes.Buffer
	const n = 8
	for i := 0; i < n; i++ {
		if i%2 == 0 {
			fmt.Fprintf(&b, "GET /pipe/%d HTTP/1.1\r\nHost: p\r\n\r\n", i)
		} else {
			body := strings.Repeat("b", i*100)
			fmt.Fprintf(&b, "POST /pipe/%d HTTP/1.1\r\nHost: p\r\nContent-Length: %d\r\n\r\n%s", i, len(body), body)
		}
	}
	pipelineEcho(t, c, b.Bytes(), n, func(i int, resp *rawResponse, e echoReply) {
		if want := int64(0); i%2 == 1 {
			want = int64(i * 100)
			if e.BodyLen != want {
				t.Fatalf("response %d: upstream got %d body bytes, want %d", i, e.BodyLen, want)
			}
		}
	})
}

// pipelineEcho writes the n pipelined requests in reqs (to /pipe/0 ..
// /pipe/n-1, at an echo upstream) in one write, reads the n responses, and
// checks each is a 200 for its own request, in order; check sees the rest.
func pipelineEcho(t *testing.T, c net.Conn, reqs []byte, n int, check func(i int, resp *rawResponse, e echoReply)) {
	t.Helper()
	if _, err := c.Write(reqs); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(c)
	for i := 0; i < n; i++ {
		resp := readResponse(t, br, "GET")
		if resp.Status != 200 {
			t.Fatalf("response %d: status %d: %s", i, resp.Status, resp.Body)
		}
		e := decodeEcho(t, resp.Body)
		if e.Target != fmt.Sprintf("/pipe/%d", i) {
			t.Fatalf("response %d is for %q: out of order", i, e.Target)
		}
		check(i, resp, e)
	}
}

// TestH1ToH1ChunkedPost: a chunked request body arrives intact upstream.
func TestH1ToH1ChunkedPost(t *testing.T) {
	t.Parallel()
	up := startEcho(t, "up")
	m := startMoe(t, simpleYAML(1, up.Addr))
	c := dial(t, m.Addr("listen"))
	parts := []string{"hello", " ", strings.Repeat("x", 70000), "!", "end"}
	var b bytes.Buffer
	b.WriteString("POST /chunked HTTP/1.1\r\nHost: c\r\nTransfer-Encoding: chunked\r\n\r\n")
	for _, p := range parts {
		fmt.Fprintf(&b, "%x\r\n%s\r\n", len(p), p)
	}
	b.WriteString("0\r\n\r\n")
	if _, err := c.Write(b.Bytes()); err != nil {
		t.Fatal(err)
	}
	resp := readResponse(t, bufio.NewReader(c), "POST")
	if resp.Status != 200 {
		t.Fatalf("status %d", resp.Status)
	}
	e := decodeEcho(t, resp.Body)
	all := strings.Join(parts, "")
	if e.BodyLen != int64(len(all)) || e.BodySHA != sha([]byte(all)) {
		t.Fatalf("upstream got %d bytes (sha %s), want %d (sha %s)", e.BodyLen, e.BodySHA, len(all), sha([]byte(all)))
	}
	if e.Method != "POST" {
		t.Fatalf("upstream saw method %q", e.Method)
	}
}

// TestH1ToH1ContentLengthPost: a Content-Length body arrives intact and the
// upstream sees the same Content-Length.
func TestH1ToH1ContentLengthPost(t *testing.T) {
	t.Parallel()
	up := startEcho(t, "up")
	m := startMoe(t, simpleYAML(1, up.Addr))
	body := bytes.Repeat([]byte("0123456789"), 30000)
	st, _, rb := httpDo(t, newClient(), "POST", m.URL("/cl"), bytes.NewReader(body))
	if st != 200 {
		t.Fatalf("status %d", st)
	}
	e := decodeEcho(t, rb)
	if e.BodyLen != int64(len(body)) || e.BodySHA != sha(body) {
		t.Fatalf("upstream got %d bytes, want %d (or corrupted)", e.BodyLen, len(body))
	}
	if got := e.Header["Content-Length"]; len(got) != 1 || got[0] != strconv.Itoa(len(body)) {
		t.Fatalf("upstream Content-Length %q, want %d", got, len(body))
	}
}

// TestH1ToH1ChunkedResponse: a chunked upstream response reaches the client
// intact.
func TestH1ToH1ChunkedResponse(t *testing.T) {
	t.Parallel()
	parts := []string{"alpha-", strings.Repeat("y", 100000), "-omega"}
	up := startUpstream(t, "up", chunkedSmallHandler(parts...))
	m := startMoe(t, simpleYAML(1, up.Addr))
	c := dial(t, m.Addr("listen"))
	br := bufio.NewReader(c)
	for i := 0; i < 2; i++ { // twice: the framing must leave the connection usable
		fmt.Fprintf(c, "GET /chunked-resp HTTP/1.1\r\nHost: c\r\n\r\n")
		resp := readRawResponse(t, br, "GET")
		if resp.Status != 200 || string(resp.Body) != strings.Join(parts, "") {
			t.Fatalf("got %d and %d body bytes, want 200 and %d", resp.Status, len(resp.Body), len(strings.Join(parts, "")))
		}
	}
}

// TestH1Head: HEAD keeps the headers (Content-Length) and has no body; the
// connection stays in sync for the next request.
func TestH1Head(t *testing.T) {
	t.Parallel()
	up := startEcho(t, "up")
	m := startMoe(t, simpleYAML(1, up.Addr))
	c := dial(t, m.Addr("listen"))
	br := bufio.NewReader(c)
	fmt.Fprintf(c, "HEAD /head HTTP/1.1\r\nHost: h\r\n\r\n")
	resp := readRawResponse(t, br, "HEAD")
	if resp.Status != 200 {
		t.Fatalf("HEAD status %d", resp.Status)
	}
	cl := resp.Header.Get("Content-Length")
	if n, err := strconv.Atoi(cl); err != nil || n <= 0 {
		t.Fatalf("HEAD response lost the upstream's Content-Length (got %q)", cl)
	}
	if resp.Header.Get("X-Upstream") != "up" {
		t.Fatalf("HEAD response lost the upstream headers: %v", resp.Header)
	}
	// Any body bytes after the HEAD response would corrupt this one.
	fmt.Fprintf(c, "GET /after-head HTTP/1.1\r\nHost: h\r\n\r\n")
	resp = readResponse(t, br, "GET")
	if resp.Status != 200 {
		t.Fatalf("GET after HEAD: status %d", resp.Status)
	}
	if e := decodeEcho(t, resp.Body); e.Target != "/after-head" || e.Method != "GET" {
		t.Fatalf("GET after HEAD answered with %+v", e)
	}
}

// TestH1ExpectContinue: a client sending Expect: 100-continue gets the
// 100 Continue interim response before it sends the body, then the final
// response.
func TestH1ExpectContinue(t *testing.T) {
	t.Parallel()
	addr, got := startContinueServer(t)
	m := startMoe(t, simpleYAML(1, addr))
	c := dial(t, m.Addr("listen"))
	br := bufio.NewReader(c)
	body := strings.Repeat("c", 1000)
	fmt.Fprintf(c, "POST /continue HTTP/1.1\r\nHost: c\r\nExpect: 100-continue\r\nContent-Length: %d\r\n\r\n", len(body))
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	code, line, err := readStatusLine(br)
	if err != nil {
		t.Fatalf("waiting for 100 Continue (body not sent yet): %v (read %q)", err, line)
	}
	if code != 100 {
		t.Fatalf("first response status %d (%q), want 100 Continue before the body is sent", code, line)
	}
	// End of the interim response head.
	for {
		l, err := readLine(br)
		if err != nil {
			t.Fatal(err)
		}
		if l == "" {
			break
		}
	}
	c.SetReadDeadline(time.Now().Add(ioTimeout))
	if _, err := io.WriteString(c, body); err != nil {
		t.Fatal(err)
	}
	resp := readResponse(t, br, "POST")
	if resp.Status != 200 || !strings.HasPrefix(string(resp.Body), "continue-ok 1000") {
		t.Fatalf("final response %d %q, want 200 \"continue-ok 1000...\"", resp.Status, resp.Body)
	}
	if got.Load() != 1000 {
		t.Fatalf("upstream got %d body bytes, want 1000", got.Load())
	}
}

// TestH1ConnectionCloseHonoured: "Connection: close" from the client makes
// moe close after the response.
func TestH1ConnectionCloseHonoured(t *testing.T) {
	t.Parallel()
	up := startEcho(t, "up")
	m := startMoe(t, simpleYAML(1, up.Addr))
	c := dial(t, m.Addr("listen"))
	br := bufio.NewReader(c)
	fmt.Fprintf(c, "GET /close HTTP/1.1\r\nHost: c\r\nConnection: close\r\n\r\n")
	resp := readResponse(t, br, "GET")
	if resp.Status != 200 {
		t.Fatalf("status %d", resp.Status)
	}
	expectClosed(t, c, br, 5*time.Second)
}

// TestH10WithoutKeepAliveCloses: an HTTP/1.0 request without keep-alive is
// answered and the connection closed; it goes upstream with a Host (the
// endpoint's, as the client sent none); a chunked upstream body is not sent
// chunked to the 1.0 client.
func TestH10WithoutKeepAliveCloses(t *testing.T) {
	t.Parallel()
	up := startEcho(t, "up")
	chunky := startUpstream(t, "chunky", chunkedSmallHandler("one-", "two-", "three"))
	m := startMoe(t, yamlMain+`    routes:
      - match: {prefix: /chunky}
        cluster: chunky
      - match: {prefix: /}
        cluster: up
clusters:
  - name: up
    endpoints: ["{{up}}"]
  - name: chunky
    endpoints: ["{{chunky}}"]
`, "up", up.Addr, "chunky", chunky.Addr)

	t.Run("closes_after_response", func(t *testing.T) {
		c := dial(t, m.Addr("listen"))
		br := bufio.NewReader(c)
		fmt.Fprintf(c, "GET /ten HTTP/1.0\r\n\r\n")
		resp := readRawResponse(t, br, "GET")
		if resp.Status != 200 {
			t.Fatalf("status %d", resp.Status)
		}
		e := decodeEcho(t, resp.Body)
		if e.Target != "/ten" {
			t.Fatalf("upstream saw %q", e.Target)
		}
		// The client sent no Host (HTTP/1.0 may not); the upstream gets
		// HTTP/1.1, which must have one: the endpoint's address.
		if h := e.Header["Host"]; len(h) != 1 || h[0] != up.Addr {
			t.Fatalf("upstream Host %q, want [%s]", h, up.Addr)
		}
		expectClosed(t, c, br, 5*time.Second)
	})
	t.Run("no_chunked_to_http10", func(t *testing.T) {
		c := dial(t, m.Addr("listen"))
		br := bufio.NewReader(c)
		fmt.Fprintf(c, "GET /chunky HTTP/1.0\r\n\r\n")
		resp := readRawResponse(t, br, "GET")
		if resp.Status != 200 {
			t.Fatalf("status %d", resp.Status)
		}
		if te := resp.Header.Get("Transfer-Encoding"); te != "" {
			t.Fatalf("HTTP/1.0 client got Transfer-Encoding %q", te)
		}
		if string(resp.Body) != "one-two-three" {
			t.Fatalf("body %q, want one-two-three", resp.Body)
		}
		expectClosed(t, c, br, 5*time.Second)
	})
}

// TestH1WebSocketUpgrade: the Upgrade handshake passes through, the 101 is
// forwarded with its Upgrade/Connection headers, then raw bytes flow both
// ways.
func TestH1WebSocketUpgrade(t *testing.T) {
	t.Parallel()
	up := startUpstream(t, "ws", tunnelHandler(101, []string{
		"Upgrade", "websocket", "Connection", "Upgrade",
		"Sec-WebSocket-Accept", "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="}, "hello-from-upstream\n"))
	m := startMoe(t, simpleYAML(1, up.Addr))
	c := dial(t, m.Addr("listen"))
	br := bufio.NewReader(c)
	fmt.Fprintf(c, "GET /ws HTTP/1.1\r\nHost: ws.example\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"+
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")
	resp := readRawResponse(t, br, "HEAD") // headers only: what follows is raw
	if resp.Status != 101 {
		t.Fatalf("status %d, want 101", resp.Status)
	}
	if !strings.EqualFold(resp.Header.Get("Upgrade"), "websocket") ||
		!strings.Contains(strings.ToLower(strings.Join(resp.Header["Connection"], ",")), "upgrade") {
		t.Fatalf("101 lost Upgrade/Connection headers: %v", resp.Header)
	}
	reqs := up.Requests()
	if len(reqs) != 1 || !strings.EqualFold(reqs[0].Header.Get("Upgrade"), "websocket") ||
		!strings.Contains(strings.ToLower(reqs[0].Header.Get("Connection")), "upgrade") ||
		reqs[0].Header.Get("Sec-Websocket-Key") == "" {
		t.Fatalf("upstream did not get the upgrade request headers: %+v", reqs)
	}
	greet, err := br.ReadString('\n')
	if err != nil || greet != "hello-from-upstream\n" {
		t.Fatalf("upstream->client bytes after 101: %q, %v", greet, err)
	}
	tunnelEcho(t, c, br, 1<<20)
}

// tunnelEcho writes n pattern bytes and expects them echoed back.
func tunnelEcho(t *testing.T, c io.Writer, br *bufio.Reader, n int) {
	t.Helper()
	data, _ := io.ReadAll(newPatternStream(int64(n)))
	errc := make(chan error, 1)
	go func() {
		_, err := c.Write(data)
		errc <- err
	}()
	got := make([]byte, n)
	if _, err := io.ReadFull(br, got); err != nil {
		t.Fatalf("echo through tunnel: %v", err)
	}
	if err := <-errc; err != nil {
		t.Fatalf("write into tunnel: %v", err)
	}
	if !bytes.Equal(got, data) {
		t.Fatal("bytes echoed through the tunnel differ from those sent")
	}
}

// TestH1Connect: CONNECT to a route whose cluster accepts it: 200, then raw
// bytes both ways; an HTTP/1.0 CONNECT without Host goes upstream with its
// target as Host.
func TestH1Connect(t *testing.T) {
	t.Parallel()
	up := startUpstream(t, "connect", tunnelHandler(200, nil, "tunnel-open\n"))
	m := startMoe(t, yamlMain+`    routes:
      - match: {method: CONNECT}
        cluster: connect
clusters:
  - name: connect
    endpoints: ["{{up}}"]
`, "up", up.Addr)
	c := dial(t, m.Addr("listen"))
	br := bufio.NewReader(c)
	fmt.Fprintf(c, "CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n")
	resp := readRawResponse(t, br, "HEAD")
	if resp.Status != 200 {
		t.Fatalf("CONNECT status %d, want 200", resp.Status)
	}
	if reqs := up.Requests(); len(reqs) != 1 || reqs[0].Method != "CONNECT" || reqs[0].Target != "example.com:443" {
		t.Fatalf("upstream did not get CONNECT example.com:443: %+v", reqs)
	}
	greet, err := br.ReadString('\n')
	if err != nil || greet != "tunnel-open\n" {
		t.Fatalf("upstream->client bytes after 200: %q, %v", greet, err)
	}
	tunnelEcho(t, c, br, 1<<20)

	// An HTTP/1.0 CONNECT may come without Host; the HTTP/1.1 one moe sends
	// upstream carries the target's authority (RFC 9112 3.2), not the
	// endpoint's address.
	c2 := dial(t, m.Addr("listen"))
	br2 := bufio.NewReader(c2)
	fmt.Fprintf(c2, "CONNECT example.org:8443 HTTP/1.0\r\n\r\n")
	if resp := readRawResponse(t, br2, "HEAD"); resp.Status != 200 {
		t.Fatalf("HTTP/1.0 CONNECT status %d, want 200", resp.Status)
	}
	if reqs := up.Requests(); len(reqs) != 2 || reqs[1].Target != "example.org:8443" || reqs[1].Header.Get("Host") != "example.org:8443" {
		t.Fatalf("upstream's second CONNECT: %+v, want Host example.org:8443", reqs[len(reqs)-1])
	}
}

// TestCurlThroughMoeToNginx: curl as the client, nginx as the upstream:
// a small GET, HEAD and an 8 MiB download with checksum.
func TestCurlThroughMoeToNginx(t *testing.T) {
	t.Parallel()
	ng := startNginx(t)
	m := startMoe(t, simpleYAML(2, ng.Addr))
	dir := t.TempDir()

	code, out, errs := runCmd(t, 30*time.Second, "curl", "-sS", "--noproxy", "*", "--http1.1", "-m", "20", m.URL("/"))
	if code != 0 || out != "nginx-ok" {
		t.Fatalf("curl GET /: exit %d out %q err %q", code, out, errs)
	}

	code, out, errs = runCmd(t, 30*time.Second, "curl", "-sS", "--noproxy", "*", "--http1.1", "-m", "20", "-I", m.URL("/"))
	if code != 0 || !strings.HasPrefix(out, "HTTP/1.1 200") || !strings.Contains(strings.ToLower(out), "content-length: 8") {
		t.Fatalf("curl -I /: exit %d out %q err %q", code, out, errs)
	}

	file := filepath.Join(dir, "big.out")
	code, out, errs = runCmd(t, 60*time.Second, "curl", "-sS", "--noproxy", "*", "--http1.1", "-m", "50",
		"-o", file, "-w", "%{http_code}", m.URL("/big"))
	if code != 0 || out != "200" {
		t.Fatalf("curl /big: exit %d out %q err %q", code, out, errs)
	}
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if int64(len(b)) != ng.BigLen || sha(b) != ng.BigSHA {
		t.Fatalf("/big through moe: %d bytes (sha %s), want %d (sha %s)", len(b), sha(b), ng.BigLen, ng.BigSHA)
	}

	// Several URLs on one curl invocation: curl reuses the connection.
	code, out, errs = runCmd(t, 30*time.Second, "curl", "-sS", "--noproxy", "*", "--http1.1", "-m", "20",
		m.URL("/"), m.URL("/"), m.URL("/"))
	if code != 0 || out != "nginx-oknginx-oknginx-ok" {
		t.Fatalf("curl keep-alive x3: exit %d out %q err %q", code, out, errs)
	}
}

// TestUpstream204WithContentLengthHasNoBody: a 204 has no body whatever its
// Content-Length says (RFC 9110 6.4.1). An upstream answers "204,
// Content-Length: 8" with 4 bytes after the head, then closes. The client
// gets the 204 without the Content-Length, and moe keeps serving. moe used to leave llhttp waiting for
// 8 body bytes after it had told the stream the response was complete, and
// then reported the close to a stream that had ended (a use after free the
// ASan build catches). Found by connection_fuzz.
func TestUpstream204WithContentLengthHasNoBody(t *testing.T) {
	t.Parallel()
	bad := startUpstream(t, "bad", func(c *upConn, r *upReq) bool {
		c.Write([]byte("HTTP/1.1 204 No Content\r\nContent-Length: 8\r\n\r\nbody"))
		time.Sleep(20 * time.Millisecond)
		c.Close()
		return false
	})
	m := startMoe(t, simpleYAML(1, bad.Addr))
	for i := 0; i < 5; i++ {
		st, hdr, body := httpGet(t, m.URL("/no-content"))
		if st != 204 || len(body) != 0 {
			t.Fatalf("request %d: status %d, %d body bytes; want 204 and none", i, st, len(body))
		}
		// A 204 has no length to announce (nghttp2 clients reset one that does).
		if cl, ok := hdr["Content-Length"]; ok {
			t.Fatalf("request %d: 204 forwarded with Content-Length %q", i, cl)
		}
	}
	if st, _ := m.adminGet(t, "/ready"); st != 200 {
		t.Fatalf("/ready %d after the 204s", st)
	}
}

// TestUpstream1xxBodyNotRelayed: a 1xx response has no body (RFC 9110 15.2),
// whatever its head announces. An upstream that sends "103,
// Content-Length: 5" and five bytes before its final response must not get
// those bytes to the client: relayed raw ahead of the final head, they
// would let the upstream write the client's response stream at will. moe
// forwards the 103, treats what follows it as a broken response (502, or a
// closed connection once the response has begun) and never reuses that
// upstream connection.
func TestUpstream1xxBodyNotRelayed(t *testing.T) {
	t.Parallel()
	const injected = "HTTP/1.1 200 OK\r\nX-Injected: 1\r\nContent-Length: 0\r\n\r\n"
	bad := startUpstream(t, "bad", func(c *upConn, r *upReq) bool {
		fmt.Fprintf(c, "HTTP/1.1 103 Early Hints\r\nLink: </a>\r\nContent-Length: %d\r\n\r\n%s", len(injected), injected)
		fmt.Fprintf(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
		return true
	})
	m := startMoe(t, simpleYAML(1, bad.Addr))
	c := dial(t, m.Addr("listen"))
	fmt.Fprintf(c, "GET /hints HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	got, err := io.ReadAll(c)
	if err != nil {
		t.Fatalf("read: %v (got %q)", err, got)
	}
	if strings.Contains(string(got), "X-Injected") {
		t.Fatalf("the 1xx body reached the client as a response:\n%s", got)
	}
	if !strings.HasPrefix(string(got), "HTTP/1.1 103 Early Hints\r\n") {
		t.Fatalf("client got %q, want the 103 first", got)
	}
}
