package integration

import (
	"bufio"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestH1ForwardedHeaders: Host is kept as the client sent it,
// X-Forwarded-For gets the client IP (set, or appended to an existing list),
// X-Forwarded-Proto is http.
func TestH1ForwardedHeaders(t *testing.T) {
	t.Parallel()
	up := startEcho(t, "up")
	m := startMoe(t, simpleYAML(1, up.Addr))

	st, _, body := httpGet(t, m.URL("/fwd"), "Host", "client.example:1234")
	if st != 200 {
		t.Fatalf("status %d", st)
	}
	e := decodeEcho(t, body)
	if got := e.Header["Host"]; len(got) != 1 || got[0] != "client.example:1234" {
		t.Errorf("upstream Host = %q, want exactly [client.example:1234]", got)
	}
	if got := e.Header["X-Forwarded-For"]; len(got) != 1 || got[0] != "127.0.0.1" {
		t.Errorf("upstream X-Forwarded-For = %q, want [127.0.0.1]", got)
	}
	if got := e.Header["X-Forwarded-Proto"]; len(got) != 1 || got[0] != "http" {
		t.Errorf("upstream X-Forwarded-Proto = %q, want [http]", got)
	}

	st, _, body = httpGet(t, m.URL("/fwd"), "X-Forwarded-For", "203.0.113.7")
	if st != 200 {
		t.Fatalf("status %d", st)
	}
	e = decodeEcho(t, body)
	xff := strings.Join(e.Header["X-Forwarded-For"], ", ")
	if strings.ReplaceAll(xff, " ", "") != "203.0.113.7,127.0.0.1" {
		t.Errorf("upstream X-Forwarded-For = %q, want \"203.0.113.7, 127.0.0.1\"", xff)
	}
}

// TestH1ForwardedHeadersToNginx: the same, seen by nginx.
func TestH1ForwardedHeadersToNginx(t *testing.T) {
	t.Parallel()
	ng := startNginx(t)
	m := startMoe(t, simpleYAML(1, ng.Addr))
	st, _, body := httpGet(t, m.URL("/echo-headers"), "Host", "front.example", "X-Forwarded-For", "198.51.100.1")
	if st != 200 {
		t.Fatalf("status %d body %q", st, body)
	}
	f := strings.Split(strings.TrimSpace(string(body)), "|")
	if len(f) != 4 {
		t.Fatalf("nginx body %q", body)
	}
	if strings.ReplaceAll(f[0], " ", "") != "198.51.100.1,127.0.0.1" {
		t.Errorf("nginx saw X-Forwarded-For %q, want \"198.51.100.1, 127.0.0.1\"", f[0])
	}
	if f[1] != "front.example" {
		t.Errorf("nginx saw Host %q, want front.example", f[1])
	}
	if strings.Contains(strings.ToLower(f[2]), "close") {
		t.Errorf("nginx saw Connection %q: moe should keep upstream connections alive", f[2])
	}
	if f[3] != "http" {
		t.Errorf("nginx saw X-Forwarded-Proto %q, want http", f[3])
	}
}

// TestH1HopByHopRequestHeadersRemoved: hop-by-hop headers from the client,
// and headers the client's Connection names, never reach the upstream.
func TestH1HopByHopRequestHeadersRemoved(t *testing.T) {
	t.Parallel()
	up := startEcho(t, "up")
	m := startMoe(t, simpleYAML(1, up.Addr))
	c := dial(t, m.Addr("listen"))
	req := "GET /hop HTTP/1.1\r\n" +
		"Host: hop.example\r\n" +
		"Connection: keep-alive, X-Custom-Hop\r\n" +
		"X-Custom-Hop: secret\r\n" +
		"Keep-Alive: timeout=5\r\n" +
		"Proxy-Connection: keep-alive\r\n" +
		"TE: trailers\r\n" +
		"Trailer: X-Trail\r\n" +
		"Upgrade: not-really\r\n" +
		"X-End-To-End: kept\r\n" +
		"\r\n"
	if _, err := c.Write([]byte(req)); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(c)
	resp := readResponse(t, br, "GET")
	if resp.Status != 200 {
		t.Fatalf("status %d body %q", resp.Status, resp.Body)
	}
	e := decodeEcho(t, resp.Body)
	for _, h := range []string{"X-Custom-Hop", "Keep-Alive", "Proxy-Connection", "Te", "Trailer", "Upgrade"} {
		if v, ok := e.Header[h]; ok {
			t.Errorf("upstream received hop-by-hop header %s: %q", h, v)
		}
	}
	for _, v := range e.Header["Connection"] {
		if strings.Contains(strings.ToLower(v), "x-custom-hop") {
			t.Errorf("upstream received the client's Connection header %q", v)
		}
	}
	if got := e.Header["X-End-To-End"]; len(got) != 1 || got[0] != "kept" {
		t.Errorf("end-to-end header X-End-To-End = %q, want [kept]", got)
	}

	// Twelve names over two Connection fields, in mixed case and with odd
	// spacing: more than moe splits up front, so the rest are found by the
	// per-field scan. Every named field goes; the unnamed one stays.
	var b strings.Builder
	b.WriteString("GET /hop2 HTTP/1.1\r\nHost: hop.example\r\n")
	b.WriteString("Connection: X-H0,x-h1 ,\tX-h2, close, x-h3,x-h4,x-h5\r\n")
	b.WriteString("Connection: ,X-H6,  x-h7,x-h8,x-h9, X-H10,x-h11\r\n")
	for i := 0; i < 12; i++ {
		fmt.Fprintf(&b, "X-H%d: v%d\r\n", i, i)
	}
	b.WriteString("X-H12: kept\r\n\r\n")
	if _, err := c.Write([]byte(b.String())); err != nil {
		t.Fatal(err)
	}
	resp = readResponse(t, br, "GET")
	if resp.Status != 200 {
		t.Fatalf("status %d body %q", resp.Status, resp.Body)
	}
	e = decodeEcho(t, resp.Body)
	for i := 0; i < 12; i++ {
		if v, ok := e.Header[fmt.Sprintf("X-H%d", i)]; ok {
			t.Errorf("upstream received X-H%d, named in Connection: %q", i, v)
		}
	}
	if got := e.Header["X-H12"]; len(got) != 1 || got[0] != "kept" {
		t.Errorf("X-H12 = %q, want [kept]", got)
	}
}

// TestH1HopByHopResponseHeadersRemoved: hop-by-hop headers from the
// upstream's response never reach the client; the upstream's
// "Connection: close" does not close the client connection; a chunked
// upstream body is re-framed and intact.
func TestH1HopByHopResponseHeadersRemoved(t *testing.T) {
	t.Parallel()
	up := startUpstream(t, "up", func(c *upConn, r *upReq) bool {
		resp := "HTTP/1.1 200 OK\r\n" +
			"Connection: X-Resp-Hop, close\r\n" +
			"X-Resp-Hop: secret\r\n" +
			"Keep-Alive: timeout=5, max=100\r\n" +
			"Proxy-Connection: keep-alive\r\n" +
			"Upgrade: not-really\r\n" +
			"Trailer: X-Trail\r\n" +
			"X-End-To-End: kept\r\n" +
			"Transfer-Encoding: chunked\r\n" +
			"\r\n" +
			"5\r\nhello\r\n6\r\n world\r\n0\r\nX-Trail: t\r\n\r\n"
		c.Write([]byte(resp))
		return false // the upstream closes, as it announced
	})
	m := startMoe(t, simpleYAML(1, up.Addr))
	c := dial(t, m.Addr("listen"))
	br := bufio.NewReader(c)
	for i := 0; i < 2; i++ {
		fmt.Fprintf(c, "GET /resp-hop/%d HTTP/1.1\r\nHost: x\r\n\r\n", i)
		resp := readRawResponse(t, br, "GET")
		if resp.Status != 200 || string(resp.Body) != "hello world" {
			t.Fatalf("request %d: %d %q, want 200 \"hello world\"", i, resp.Status, resp.Body)
		}
		for _, h := range []string{"X-Resp-Hop", "Keep-Alive", "Proxy-Connection", "Upgrade", "Trailer"} {
			if v, ok := resp.Header[h]; ok {
				t.Errorf("client received hop-by-hop header %s: %q", h, v)
			}
		}
		for _, v := range resp.Header["Connection"] {
			lv := strings.ToLower(v)
			if strings.Contains(lv, "x-resp-hop") || strings.Contains(lv, "close") {
				t.Errorf("client received the upstream's Connection header %q", v)
			}
		}
		if resp.Header.Get("X-End-To-End") != "kept" {
			t.Errorf("end-to-end header X-End-To-End missing: %v", resp.Header)
		}
	}
}

// TestUpstreamConnectionCloseNotReused: an upstream response with
// "Connection: close" ends the use of that upstream connection; the next
// request goes on a new one. (The upstream here keeps the socket open, so
// a reuse is seen as a second request on the same connection.)
func TestUpstreamConnectionCloseNotReused(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	perConn := map[*upConn]int{}
	up := startUpstream(t, "up", func(c *upConn, r *upReq) bool {
		mu.Lock()
		perConn[c]++
		mu.Unlock()
		err := writeResponse(c, r, 200, []string{"Connection", "close"}, []byte("closing"))
		return err == nil // keep reading: a well-behaved proxy never sends more
	})
	m := startMoe(t, strings.Replace(simpleYAML(1, up.Addr), "        cluster: up\n", "        cluster: up\n        timeout: 3s\n", 1))
	for i := 0; i < 3; i++ {
		st, _, body := httpGet(t, m.URL(fmt.Sprintf("/cc/%d", i)))
		if st != 200 || string(body) != "closing" {
			mu.Lock()
			var counts []int
			for _, n := range perConn {
				counts = append(counts, n)
			}
			mu.Unlock()
			t.Fatalf("request %d: %d %q, want 200 \"closing\" (upstream: %d connections, requests per connection %v)",
				i, st, body, up.accepted.Load(), counts)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	for _, n := range perConn {
		if n > 1 {
			t.Fatalf("moe sent %d requests on an upstream connection whose first response said Connection: close", n)
		}
	}
	if up.accepted.Load() != 3 {
		t.Fatalf("upstream accepted %d connections for 3 requests, want 3", up.accepted.Load())
	}
}

// TestUpstreamIdleCloseNotReused: the upstream closes a pooled keep-alive
// connection while it is idle (as servers do on their idle timeout); the next
// request must not fail on that dead connection.
func TestUpstreamIdleCloseNotReused(t *testing.T) {
	t.Parallel()
	up := startUpstream(t, "up", func(c *upConn, r *upReq) bool {
		echoHandler(c, r)
		time.Sleep(100 * time.Millisecond)
		return false // close the idle connection, without announcing it
	})
	m := startMoe(t, strings.Replace(simpleYAML(1, up.Addr), "        cluster: up\n", "        cluster: up\n        timeout: 5s\n", 1))
	for i := 0; i < 3; i++ {
		if st, _, body := httpGet(t, m.URL(fmt.Sprintf("/idle-close/%d", i))); st != 200 {
			t.Fatalf("request %d, after the upstream closed the previous idle connection: %d %q, want 200",
				i, st, truncate(body, 200))
		}
		time.Sleep(500 * time.Millisecond) // let the FIN arrive while the connection is idle in the pool
	}
	if up.accepted.Load() != 3 {
		t.Fatalf("upstream accepted %d connections for 3 requests, want 3", up.accepted.Load())
	}
}

// TestH1AndH2cIPv6ClientForwardedFor: the client address moe keeps in
// binary per connection comes out as text in X-Forwarded-For, for an IPv6
// client too, and survives the hand-off of an HTTP/1 connection to HTTP/2
// (prior knowledge on an http2 listener).
func TestH1AndH2cIPv6ClientForwardedFor(t *testing.T) {
	t.Parallel()
	addr, err := freePortOn("[::1]")
	if err != nil {
		t.Skipf("no IPv6 loopback: %v", err)
	}
	up := startEcho(t, "up")
	startMoe(t, strings.Replace(h2YAML(1, up.Addr), "{{listen}}", addr, 1))

	st, _, body := httpGet(t, "http://"+addr+"/v6", "X-Forwarded-For", "203.0.113.7")
	if st != 200 {
		t.Fatalf("HTTP/1.1: status %d", st)
	}
	if got := strings.Join(decodeEcho(t, body).Header["X-Forwarded-For"], ","); strings.ReplaceAll(got, " ", "") != "203.0.113.7,::1" {
		t.Errorf("HTTP/1.1: upstream X-Forwarded-For = %q, want \"203.0.113.7, ::1\"", got)
	}
	body, status := curlH2(t, "http://"+addr+"/v6h2")
	if status != "2 200" {
		t.Fatalf("h2c: curl %q, want \"2 200\"", status)
	}
	if got := strings.Join(decodeEcho(t, body).Header["X-Forwarded-For"], ","); got != "::1" {
		t.Errorf("h2c: upstream X-Forwarded-For = %q, want \"::1\"", got)
	}
}
