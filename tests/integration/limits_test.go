package integration

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// sendRaw writes req on a fresh connection and returns the status code of the
// first response (0 when none came before the connection closed / timed out).
func sendRaw(t *testing.T, addr, req string) (int, *bufio.Reader, net.Conn) {
	t.Helper()
	c := dial(t, addr)
	if _, err := c.Write([]byte(req)); err != nil && !isClosedErr(err) {
		t.Fatalf("write: %v", err)
	}
	br := bufio.NewReader(c)
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	code, _, err := readStatusLine(br)
	if err != nil {
		return 0, br, c
	}
	return code, br, c
}

// TestH1RequestHeaderLimits: max_request_headers and max_headers are
// enforced with 431; requests just under the limits pass.
func TestH1RequestHeaderLimits(t *testing.T) {
	t.Parallel()
	up := startEcho(t, "up")
	m := startMoe(t, upYAML(`    limits: {max_request_headers: 8KiB, max_headers: 10}
`), "up", up.Addr)
	addr := m.Addr("listen")
	headers := func(n int) string {
		var b strings.Builder
		for i := 0; i < n; i++ {
			fmt.Fprintf(&b, "X-H%d: v\r\n", i)
		}
		return b.String()
	}
	cases := []struct {
		name   string
		req    string
		status int
	}{
		{"header_bytes_under_limit", "GET / HTTP/1.1\r\nHost: h\r\nX-Big: " + strings.Repeat("a", 6000) + "\r\n\r\n", 200},
		{"header_bytes_over_limit", "GET / HTTP/1.1\r\nHost: h\r\nX-Big: " + strings.Repeat("a", 9000) + "\r\n\r\n", 431},
		{"header_bytes_over_limit_many_lines", "GET / HTTP/1.1\r\nHost: h\r\nX-A: " + strings.Repeat("a", 3000) +
			"\r\nX-B: " + strings.Repeat("b", 3000) + "\r\nX-C: " + strings.Repeat("c", 3000) + "\r\n\r\n", 431},
		{"request_line_over_limit", "GET /" + strings.Repeat("p", 9000) + " HTTP/1.1\r\nHost: h\r\n\r\n", 431},
		{"header_count_under_limit", "GET / HTTP/1.1\r\nHost: h\r\n" + headers(8) + "\r\n", 200},
		{"header_count_over_limit", "GET / HTTP/1.1\r\nHost: h\r\n" + headers(15) + "\r\n", 431},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := up.Count()
			code, br, c := sendRaw(t, addr, tc.req)
			if code != tc.status {
				t.Fatalf("status %d, want %d", code, tc.status)
			}
			if tc.status == 431 {
				expectClosed(t, c, br, 5*time.Second)
				if up.Count() != before {
					t.Fatalf("upstream received the rejected request")
				}
			}
		})
	}
}

// TestH1RequestBodyTooLarge413: a body above the listener's (or route's)
// max_request_body gets 413; a Content-Length one never reaches upstream.
func TestH1RequestBodyTooLarge413(t *testing.T) {
	t.Parallel()
	up := startEcho(t, "up")
	m := startMoe(t, yamlMain+`    limits: {max_request_body: 1KiB}
    routes:
      - match: {prefix: /roomy}
        cluster: up
        max_request_body: 10KiB
      - match: {prefix: /}
        cluster: up
clusters:
  - name: up
    endpoints: ["{{up}}"]
`, "up", up.Addr)
	addr := m.Addr("listen")
	clReq := func(path string, n int) string {
		return fmt.Sprintf("POST %s HTTP/1.1\r\nHost: h\r\nContent-Length: %d\r\n\r\n%s", path, n, strings.Repeat("b", n))
	}
	chunkedReq := func(path string, n int) string {
		var b bytes.Buffer
		fmt.Fprintf(&b, "POST %s HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n", path)
		for n > 0 {
			k := min(n, 500)
			fmt.Fprintf(&b, "%x\r\n%s\r\n", k, strings.Repeat("c", k))
			n -= k
		}
		b.WriteString("0\r\n\r\n")
		return b.String()
	}
	cases := []struct {
		name         string
		req          string
		status       int
		mustNotReach bool
	}{
		{"listener_limit_under", clReq("/", 1000), 200, false},
		{"listener_limit_over_content_length", clReq("/", 2000), 413, true},
		{"listener_limit_over_chunked", chunkedReq("/", 3000), 413, false},
		{"route_override_allows_more", clReq("/roomy", 5000), 200, false},
		{"route_override_over", clReq("/roomy", 20000), 413, true},
		{"route_override_over_chunked", chunkedReq("/roomy", 20000), 413, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := up.Count()
			code, _, _ := sendRaw(t, addr, tc.req)
			if code != tc.status {
				t.Fatalf("status %d, want %d", code, tc.status)
			}
			if tc.mustNotReach && up.Count() != before {
				t.Fatalf("upstream received a request whose Content-Length is over the limit")
			}
		})
	}
	// moe still serves.
	if st, _, _ := httpGet(t, m.URL("/after")); st != 200 {
		t.Fatalf("after 413s: status %d", st)
	}
}

// TestListenerMaxConnections: with max_connections: 2 a third connection is
// not served (closed at once, or never answered) while the first two keep
// working; when one closes, a new connection is served again.
func TestListenerMaxConnections(t *testing.T) {
	t.Parallel()
	up := startEcho(t, "up")
	m := startMoe(t, upYAML(`    limits: {max_connections: 2}
`), "up", up.Addr)
	addr := m.Addr("listen")
	type kc struct {
		c  net.Conn
		br *bufio.Reader
	}
	get := func(k kc, path string) error {
		k.c.SetDeadline(time.Now().Add(5 * time.Second))
		if _, err := fmt.Fprintf(k.c, "GET %s HTTP/1.1\r\nHost: h\r\n\r\n", path); err != nil {
			return err
		}
		resp, err := http.ReadResponse(k.br, nil)
		if err != nil {
			return err
		}
		_, err = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if err != nil {
			return err
		}
		if resp.StatusCode != 200 {
			return fmt.Errorf("status %d", resp.StatusCode)
		}
		return nil
	}
	var open []kc
	for i := 0; i < 2; i++ {
		c := dial(t, addr)
		k := kc{c, bufio.NewReader(c)}
		if err := get(k, fmt.Sprintf("/held/%d", i)); err != nil {
			t.Fatalf("connection %d within the limit: %v", i, err)
		}
		open = append(open, k)
	}
	// The extra connection: accepted-then-closed, or not served.
	extra := dial(t, addr)
	extra.SetDeadline(time.Now().Add(2 * time.Second))
	fmt.Fprintf(extra, "GET /extra HTTP/1.1\r\nHost: h\r\n\r\n")
	code, line, err := readStatusLine(bufio.NewReader(extra))
	if err == nil {
		t.Fatalf("connection over max_connections was served: %q (status %d)", line, code)
	}
	var ne net.Error
	if !(isClosedErr(err) || (errors.As(err, &ne) && ne.Timeout())) {
		t.Fatalf("extra connection: unexpected error %v", err)
	}
	extra.Close()
	for i, k := range open {
		if err := get(k, "/still"); err != nil {
			t.Fatalf("existing connection %d stopped working once the limit was hit: %v", i, err)
		}
	}
	// Free a slot; a new connection is served again (moe may need a moment
	// to notice the close).
	open[0].c.Close()
	ok := waitFor(5*time.Second, func() bool {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err != nil {
			return false
		}
		defer c.Close()
		return get(kc{c, bufio.NewReader(c)}, "/again") == nil
	})
	if !ok {
		t.Fatal("after closing one of the two connections, a new connection is still not served")
	}
}

// TestH1LingeringCloseKeeps413: a client that goes on uploading after moe
// answered 413, and reads only later, still gets the 413. moe half-closes
// and reads the rest away (lingering close) instead of closing at once: a
// close with unread input sends RST, and an RST that reaches the client
// before it read the answer throws the answer away. The upload stops when
// the client has read the answer, as a real client does.
func TestH1LingeringCloseKeeps413(t *testing.T) {
	t.Parallel()
	up := startEcho(t, "up")
	m := startMoe(t, upYAML(`    limits: {max_request_body: 64KiB}
`), "up", up.Addr)
	addr := m.Addr("listen")
	for i := 0; i < 5; i++ {
		c := dial(t, addr)
		c.SetDeadline(time.Now().Add(10 * time.Second))
		if _, err := io.WriteString(c, "POST /up HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"); err != nil {
			t.Fatal(err)
		}
		done := make(chan struct{})
		type upload struct {
			n   int64
			err error
		}
		wrote := make(chan upload, 1)
		go func() {
			chunk := []byte(fmt.Sprintf("%x\r\n%s\r\n", 16384, strings.Repeat("u", 16384)))
			var u upload
			defer func() { wrote <- u }()
			for {
				select {
				case <-done:
					return
				default:
				}
				k, err := c.Write(chunk)
				u.n += int64(k)
				if err != nil {
					u.err = err
					return
				}
			}
		}()
		// Still uploading, not reading: moe's answer waits in our socket
		// while more of the body reaches moe after it stopped reading.
		time.Sleep(300 * time.Millisecond)
		br := bufio.NewReader(c)
		code, line, err := readStatusLine(br)
		close(done)
		u := <-wrote
		c.Close()
		if err != nil || code != 413 {
			t.Fatalf("round %d: got %q, %v after uploading %d bytes; want the 413", i, line, err, u.n)
		}
		if u.n < 1<<20 {
			t.Fatalf("round %d: only %d bytes uploaded: the test did not keep the client sending", i, u.n)
		}
		// On loopback Linux keeps the answer in the receive queue even
		// after an RST, so the status alone cannot show the difference;
		// the upload can: moe must not have reset the connection while
		// the client was still sending and had not read the answer.
		if u.err != nil {
			t.Fatalf("round %d: the upload failed before the client read the answer (%v): moe reset instead of lingering", i, u.err)
		}
	}
	if st, _, _ := httpGet(t, m.URL("/after")); st != 200 {
		t.Fatalf("after: status %d", st)
	}
}

// TestH1LingeringCloseEnds: a lingering close ends when the client closes
// (at once) or after 5 s of silence from a client that never does; both
// connections get moe's FIN right after the response.
func TestH1LingeringCloseEnds(t *testing.T) {
	t.Parallel()
	up := startEcho(t, "up")
	m := startMoe(t, upYAML(""), "up", up.Addr)
	active := func() float64 {
		v, ok := statValue(t, m, "moe_downstream_connections_active", nil)
		if !ok {
			t.Fatal("no moe_downstream_connections_active in /stats")
		}
		return v
	}
	// Reads the answer to a Connection: close request, then moe's FIN.
	getClose := func() net.Conn {
		c := dial(t, m.Addr("listen"))
		c.SetDeadline(time.Now().Add(5 * time.Second))
		io.WriteString(c, "GET /x HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n")
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := io.Copy(io.Discard, resp.Body); err != nil {
			t.Fatalf("body: %v", err)
		}
		resp.Body.Close()
		if n, err := c.Read(make([]byte, 1)); n != 0 || err != io.EOF {
			t.Fatalf("after the response: %d bytes, %v; want EOF (moe's FIN)", n, err)
		}
		return c
	}
	// A client that closes: the connection is gone at once.
	c := getClose()
	if !waitFor(2*time.Second, func() bool { return active() == 1 }) {
		t.Fatalf("%v connections active while one lingers, want 1", active())
	}
	c.Close()
	if !waitFor(2*time.Second, func() bool { return active() == 0 }) {
		t.Fatalf("%v connections still active after the client closed", active())
	}
	// A client that keeps its side open and silent: gone after ~5 s.
	c = getClose()
	defer c.Close()
	start := time.Now()
	if v := active(); v != 1 {
		t.Fatalf("%v connections active while a silent client lingers, want 1", v)
	}
	if !waitFor(10*time.Second, func() bool { return active() == 0 }) {
		t.Fatalf("a silent client's connection still active after %v", time.Since(start))
	}
	if d := time.Since(start); d < 3*time.Second {
		t.Fatalf("closed after %v: moe did not linger", d)
	}
	// moe kept serving.
	if st, _, _ := httpGet(t, m.URL("/after")); st != 200 {
		t.Fatalf("after: status %d", st)
	}
}

// TestBodyOverLimitAfterEarlyResponse: the upstream answers before reading
// the body (200 at once, or 101 to an Upgrade request); the client's body
// then goes over max_request_body. The upstream must not get the body's end
// (it would take the short body as whole: the bytes over the limit were
// dropped and the end sent on), nor tunnel bytes after it; the upstream
// connection goes and the client's response is cut. Over HTTP/1.1 and h2c.
func TestBodyOverLimitAfterEarlyResponse(t *testing.T) {
	t.Parallel()
	const first = "0123456789abcdef"
	big := strings.Repeat("Z", 4096)
	for _, tc := range []struct{ name, upHead, reqHead string }{
		{"h1_200", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nearly\r\n",
			"POST /up HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"},
		{"h1_upgrade_101", "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n",
			"POST /ws HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nTransfer-Encoding: chunked\r\n\r\n"},
		{"h2c_200", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nearly\r\n", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			rec := newRawRecorder()
			up := startUpstreamBody(t, "up", rec.handler(tc.upHead), false)
			m := startMoe(t, upYAML("    http2: true\n    limits: {max_request_body: 1KiB}\n"), "up", up.Addr)
			var rest func()      // sends the rest of the body
			var clientCut func() // checks the client's response was cut
			if tc.reqHead != "" {
				c := dial(t, m.Addr("listen"))
				br := bufio.NewReader(c)
				if _, err := c.Write([]byte(tc.reqHead + chunk(first))); err != nil {
					t.Fatal(err)
				}
				readRawResponse(t, br, "HEAD") // the upstream's head, passed on
				rest = func() { c.Write([]byte(chunk(big) + "0\r\n\r\nTUNNEL-AFTER")) }
				clientCut = func() { expectClosed(t, c, br, 5*time.Second) }
			} else {
				pr, pw := io.Pipe()
				done := make(chan error, 1)
				go func() {
					req, _ := http.NewRequest("POST", "http://"+m.Addr("listen")+"/up", pr)
					resp, err := h2cHTTPClient(20 * time.Second).Do(req)
					if err == nil {
						_, err = io.ReadAll(resp.Body)
						resp.Body.Close()
					}
					done <- err
				}()
				pw.Write([]byte(first))
				rest = func() { pw.Write([]byte(big)); pw.Close() }
				clientCut = func() {
					select {
					case err := <-done:
						if err == nil {
							t.Errorf("the client read a whole response; want it cut (RST_STREAM)")
						}
					case <-time.After(5 * time.Second):
						t.Errorf("the client's response was not cut in 5 s")
					}
				}
			}
			if !rec.waitFor(first, 5*time.Second) {
				t.Fatalf("the first bytes never reached the upstream: %q", rec.String())
			}
			rest()
			if !rec.waitClosed(5 * time.Second) {
				t.Errorf("the upstream connection is still open after the body went over the limit")
			}
			got := rec.String()
			if strings.Contains(got, "\r\n0\r\n\r\n") || strings.Contains(got, "ZZZZ") || strings.Contains(got, "TUNNEL-AFTER") {
				t.Errorf("the upstream got %q: the end of a short body (or the bytes over the limit, or tunnel bytes)", truncate([]byte(got), 200))
			}
			clientCut()
		})
	}
}
