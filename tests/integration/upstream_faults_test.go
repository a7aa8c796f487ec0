package integration

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// faultYAML: /fault/* goes to cluster "bad" (endpoint badAddr, extra cluster
// settings in clusterExtra, route settings in routeExtra); everything else
// to the healthy echo cluster "good".
func faultYAML(badAddr, goodAddr, routeExtra, clusterExtra string) string {
	return yamlMain + fmt.Sprintf(`    routes:
      - name: fault
        match: {prefix: /fault}
        cluster: bad
%s
      - name: good
        match: {prefix: /}
        cluster: good
clusters:
  - name: bad
    endpoints: ["%s"]
%s
  - name: good
    endpoints: ["%s"]
`, indent(routeExtra, 8), badAddr, indent(clusterExtra, 4), goodAddr)
}

func indent(s string, n int) string {
	if s == "" {
		return ""
	}
	pad := strings.Repeat(" ", n)
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	for i := range lines {
		lines[i] = pad + lines[i]
	}
	return strings.Join(lines, "\n")
}

// assertStillServing: after a fault, a normal request through moe succeeds.
func assertStillServing(t *testing.T, m *Moe) {
	t.Helper()
	st, _, body := httpGet(t, m.URL("/healthy"))
	if st != 200 {
		t.Fatalf("after the fault a normal request got %d %q, want 200", st, truncate(body, 200))
	}
}

// TestUpstreamConnectRefused502: the only endpoint refuses connections.
func TestUpstreamConnectRefused502(t *testing.T) {
	t.Parallel()
	good := startEcho(t, "good")
	m := startMoe(t, faultYAML(closedPort(t), good.Addr, "", ""))
	for i := 0; i < 3; i++ {
		st, _, body := httpGet(t, m.URL("/fault/refused"))
		if st != 502 {
			t.Fatalf("refused endpoint: status %d %q, want 502", st, truncate(body, 200))
		}
	}
	assertStillServing(t, m)
}

// TestUpstreamResetBeforeResponse502: the upstream reads the request and
// resets the connection without answering.
func TestUpstreamResetBeforeResponse502(t *testing.T) {
	t.Parallel()
	bad := startUpstream(t, "reset", resetHandler)
	good := startEcho(t, "good")
	m := startMoe(t, faultYAML(bad.Addr, good.Addr, "", ""))
	st, _, body := httpGet(t, m.URL("/fault/reset"))
	if st != 502 {
		t.Fatalf("upstream reset before response: status %d %q, want 502", st, truncate(body, 200))
	}
	if bad.Count() < 1 {
		t.Fatal("the resetting upstream never got the request")
	}
	assertStillServing(t, m)
}

// TestUpstreamNoCapacity503: cluster max_connections 1 and max_pending 1 with
// a slow upstream; of 3 concurrent requests at least one gets 503.
func TestUpstreamNoCapacity503(t *testing.T) {
	t.Parallel()
	bad := startUpstream(t, "slow", slowHandler(1500*time.Millisecond))
	good := startEcho(t, "good")
	m := startMoe(t, faultYAML(bad.Addr, good.Addr, "", "max_connections: 1\nmax_pending: 1"))
	var wg sync.WaitGroup
	codes := make([]int, 3)
	errs := make([]error, 3)
	start := make(chan struct{})
	for i := range codes {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			<-start
			resp, err := newClient().Get(m.URL(fmt.Sprintf("/fault/cap/%d", i)))
			if err != nil {
				errs[i] = err
				return
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			codes[i] = resp.StatusCode
		}(i)
	}
	close(start)
	wg.Wait()
	n503, n200 := 0, 0
	for i, c := range codes {
		if errs[i] != nil {
			t.Fatalf("request %d: %v", i, errs[i])
		}
		switch c {
		case 503:
			n503++
		case 200:
			n200++
		default:
			t.Errorf("request %d: status %d, want 200 or 503", i, c)
		}
	}
	if n503 < 1 || n200 < 1 {
		t.Fatalf("statuses %v: want at least one 503 (no capacity) and at least one 200", codes)
	}
	assertStillServing(t, m)
	if st, _, _ := httpGet(t, m.URL("/fault/cap/after")); st != 200 {
		t.Fatalf("the limited cluster after the burst: status %d, want 200", st)
	}
}

// TestUpstreamNeverAnswers504: the upstream accepts the request and never
// answers; the route timeout gives 504.
func TestUpstreamNeverAnswers504(t *testing.T) {
	t.Parallel()
	bad := startUpstream(t, "never", neverHandler)
	good := startEcho(t, "good")
	m := startMoe(t, faultYAML(bad.Addr, good.Addr, "timeout: 1s", ""))
	st, _, body := httpGet(t, m.URL("/fault/never"))
	if st != 504 {
		t.Fatalf("upstream never answers (route timeout 1s): status %d %q, want 504", st, truncate(body, 200))
	}
	assertStillServing(t, m)
}

// TestUpstreamResetMidResponse: the upstream sends headers and half of the
// announced body, then resets (or closes). The client must see the
// connection end before the full body, never a "complete" short response.
func TestUpstreamResetMidResponse(t *testing.T) {
	t.Parallel()
	for _, rst := range []bool{true, false} {
		name := "fin"
		if rst {
			name = "rst"
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			const total = 1 << 20
			bad := startUpstream(t, "mid", resetMidBodyHandler(total, rst))
			good := startEcho(t, "good")
			m := startMoe(t, faultYAML(bad.Addr, good.Addr, "", ""))
			resp, err := newClient().Get(m.URL("/fault/mid"))
			if err != nil {
				t.Fatalf("request: %v (want 200 headers, then a cut body)", err)
			}
			if resp.StatusCode != 200 {
				t.Fatalf("status %d, want the upstream's 200 then a cut body", resp.StatusCode)
			}
			n, err := io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if err == nil {
				t.Fatalf("client read %d bytes and a clean end of body; want an error (unexpected EOF) before %d bytes", n, total)
			}
			if !errors.Is(err, io.ErrUnexpectedEOF) && !isClosedErr(err) {
				t.Logf("body error: %v", err)
			}
			if n >= total {
				t.Fatalf("client read %d bytes, want fewer than %d", n, total)
			}
			assertStillServing(t, m)
		})
	}
}

// TestUpstreamHugeResponseHeaders: a 100 KiB response header either passes
// intact or gives 502; moe stays up either way.
func TestUpstreamHugeResponseHeaders(t *testing.T) {
	t.Parallel()
	const n = 100 << 10
	bad := startUpstream(t, "huge", hugeHeadersHandler(n))
	good := startEcho(t, "good")
	m := startMoe(t, faultYAML(bad.Addr, good.Addr, "", ""))
	c := newClient()
	c.Transport.(*http.Transport).MaxResponseHeaderBytes = 1 << 20
	st, h, body := httpDo(t, c, "GET", m.URL("/fault/huge"), nil)
	switch st {
	case 502:
	case 200:
		if len(h.Get("X-Huge")) != n || string(body) != "huge-ok" {
			t.Fatalf("200 with a mangled huge header (%d bytes) or body %q", len(h.Get("X-Huge")), truncate(body, 100))
		}
	default:
		t.Fatalf("status %d, want 502 (or the intact 200)", st)
	}
	assertStillServing(t, m)
}

// TestUpstreamWhitespaceBounded: what llhttp skips without a callback in
// an upstream's response (spaces before a header value, leading zeros of a
// chunk size) is bounded, as it is for requests (TestH1FramingEdges): a
// head padded to 2 MiB answers 502, a chunked body whose chunk-size line is
// 2 MiB of zeros is cut (its head is out). Both were read to the end and
// passed on. Many small chunks, and trailers, still pass.
func TestUpstreamWhitespaceBounded(t *testing.T) {
	t.Parallel()
	pad := strings.Repeat(" ", 2<<20)
	zeros := strings.Repeat("0", 2<<20)
	var small strings.Builder
	for i := 0; i < 5000; i++ {
		small.WriteString("1\r\nx\r\n")
	}
	for _, tc := range []struct {
		name, resp string
		wantStatus int    // 0: the client must not get the whole body
		wantBody   string // with wantStatus 200
	}{
		{"padded_head", "HTTP/1.1 200 OK\r\nX-A:" + pad + "v\r\nContent-Length: 2\r\n\r\nok", 502, ""},
		{"zeros_in_chunk_size", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + zeros + "2\r\nok\r\n0\r\n\r\n", 0, ""},
		{"many_small_chunks", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + small.String() + "0\r\nX-T: " + strings.Repeat("t", 40<<10) + "\r\n\r\n", 200, strings.Repeat("x", 5000)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			resp := tc.resp
			bad := startUpstream(t, "bad", func(c *upConn, r *upReq) bool {
				c.SetWriteDeadline(time.Now().Add(30 * time.Second))
				c.Write([]byte(resp))
				return false
			})
			good := startEcho(t, "good")
			m := startMoe(t, faultYAML(bad.Addr, good.Addr, "", ""))
			if tc.name == "many_small_chunks" {
				// A raw client: Go's refuses trailers this long. 40 KiB of
				// trailer bytes would break the 32 KiB framing bound if
				// they counted as framing.
				conn := dial(t, m.Addr("listen"))
				conn.SetDeadline(time.Now().Add(20 * time.Second))
				fmt.Fprintf(conn, "GET /fault/%s HTTP/1.1\r\nHost: h\r\nTE: trailers\r\nConnection: close\r\n\r\n", tc.name)
				raw, _ := io.ReadAll(conn)
				if !bytes.HasPrefix(raw, []byte("HTTP/1.1 200")) || !bytes.Contains(raw, []byte("x-t: "+strings.Repeat("t", 40<<10)+"\r\n\r\n")) ||
					bytes.Count(raw, []byte("x")) < 5000 {
					t.Fatalf("response of %d bytes without the whole body and trailer: %q", len(raw), truncate(raw, 200))
				}
				assertStillServing(t, m)
				return
			}
			c := newClient()
			resp2, err := c.Get(m.URL("/fault/" + tc.name))
			if err != nil {
				t.Fatalf("request: %v", err)
			}
			body, rerr := io.ReadAll(resp2.Body)
			resp2.Body.Close()
			switch {
			case tc.wantStatus == 0:
				if rerr == nil && string(body) == "ok" {
					t.Fatalf("status %d and the whole body %q: the 2 MiB chunk-size line passed", resp2.StatusCode, body)
				}
			case resp2.StatusCode != tc.wantStatus:
				t.Fatalf("status %d, want %d", resp2.StatusCode, tc.wantStatus)
			case tc.wantStatus == 200 && (rerr != nil || string(body) != tc.wantBody):
				t.Fatalf("body of %d bytes (%v), want %d bytes", len(body), rerr, len(tc.wantBody))
			}
			assertStillServing(t, m)
		})
	}
}

// TestAccessLogNamesFailedEndpoint: a UF line names the endpoint that
// refused the connection (upstream_host was empty on failures), for an
// HTTP/1 cluster and for an h2c one (its connect failure goes through
// H2ClientConnection::fail_streams).
func TestAccessLogNamesFailedEndpoint(t *testing.T) {
	t.Parallel()
	for _, protocol := range []string{"http1", "h2c"} {
		t.Run(protocol, func(t *testing.T) {
			t.Parallel()
			up := startEcho(t, "up")
			dead := closedPort(t)
			yaml := strings.Replace(adminYAML, "  - name: dead\n", "  - name: dead\n    protocol: "+protocol+"\n", 1)
			m := startMoe(t, yaml, "up", up.Addr, "dead", dead)
			if st, _, _ := httpGet(t, m.URL("/dead/x")); st != 502 {
				t.Fatalf("status %d, want 502", st)
			}
			e := waitEntry(t, m.Dir+"/access.log", "/dead/x")
			if e == nil {
				return
			}
			if fmt.Sprint(e["flags"]) != "UF" || fmt.Sprint(e["upstream_host"]) != dead {
				t.Fatalf("access log flags %v upstream_host %v, want UF and %s", e["flags"], e["upstream_host"], dead)
			}
		})
	}
}

// TestAccessLogPathAsReceived: the access log's path is what the client
// sent, whatever normalisation and prefix_rewrite made of it; the path that
// went upstream is its own field (upstream_path, "" when nothing was
// forwarded). Proxied requests logged the rewritten path, local replies
// the original.
func TestAccessLogPathAsReceived(t *testing.T) {
	t.Parallel()
	up := startEcho(t, "up")
	m := startMoe(t, yamlMain+`    routes:
      - match: {prefix: /api/}
        cluster: up
        prefix_rewrite: /
      - match: {prefix: /}
        direct_response: {status: 200, body: "direct\n"}
clusters:
  - name: up
    endpoints: ["{{up}}"]
`, "up", up.Addr)
	c := dial(t, m.Addr("listen"))
	br := bufio.NewReader(c)
	fmt.Fprintf(c, "GET /api//x/../y?q=1 HTTP/1.1\r\nHost: h\r\n\r\nGET /here/./d HTTP/1.1\r\nHost: h\r\n\r\n")
	for i := 0; i < 2; i++ {
		if r := readRawResponse(t, br, "GET"); r.Status != 200 {
			t.Fatalf("response %d: status %d", i, r.Status)
		}
	}
	if reqs := up.Requests(); len(reqs) != 1 || reqs[0].Target != "/y?q=1" {
		t.Fatalf("upstream got %+v, want one request for /y?q=1", reqs)
	}
	for _, tc := range []struct{ path, upstream string }{{"/api//x/../y?q=1", "/y?q=1"}, {"/here/./d", ""}} {
		e := waitEntry(t, m.Dir+"/access.log", tc.path)
		if e == nil {
			return
		}
		if fmt.Sprint(e["upstream_path"]) != tc.upstream {
			t.Fatalf("access log for %s: upstream_path %v, want %q", tc.path, e["upstream_path"], tc.upstream)
		}
	}
}
