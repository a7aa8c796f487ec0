package integration

// The built-in Go filters (traceid, headers, ratelimit, bodyrewrite) seen
// from the wire, and the crossing count per request.

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// goFilterYAML: one listener {{listen}} with the given filters: block
// (already indented for "    filters:"), prefix / to cluster up at {{up}}.
func goFilterYAML(workers int, filters string) string {
	return goFilterYAMLWith(workers, filters, "")
}

// goFilterYAMLWith: goFilterYAML with more keys for the listener (lines
// indented for it, e.g. "    http2: true\n").
func goFilterYAMLWith(workers int, filters, listenerKeys string) string {
	return fmt.Sprintf(`workers: %d
admin: {address: "{{admin}}"}
log: {level: info, access_log: "off"}
listeners:
  - name: main
    address: "{{listen}}"
%s    filters:
%s
    routes:
      - name: to-up
        match: {prefix: /}
        cluster: up
clusters:
  - name: up
    endpoints: ["{{up}}"]
`, workers, listenerKeys, strings.TrimRight(filters, "\n"))
}

var hex32RE = regexp.MustCompile(`^[0-9a-f]{32}$`)

// TestGoTraceIDRequestAndResponse: traceid puts a 32-hex x-request-id on the
// upstream request when the client sent none and copies it onto the
// response; a client-supplied id is kept, on both sides.
func TestGoTraceIDRequestAndResponse(t *testing.T) {
	t.Parallel()
	requireGo(t)
	up := startEcho(t, "up")
	m := startMoe(t, goFilterYAML(1, `      - name: traceid
        config: {header: x-request-id}`), "up", up.Addr)
	c := newClient()

	t.Run("absent_generated", func(t *testing.T) {
		seen := map[string]bool{}
		for i := 0; i < 3; i++ {
			st, h, body := httpDo(t, c, "GET", m.URL("/trace"), nil)
			if st != 200 {
				t.Fatalf("status %d: %s", st, body)
			}
			e := decodeEcho(t, body)
			ids := e.Header["X-Request-Id"]
			if len(ids) != 1 || !hex32RE.MatchString(ids[0]) {
				t.Fatalf("upstream got X-Request-Id %q, want one 32-hex id", ids)
			}
			if got := h.Values("X-Request-Id"); len(got) != 1 || got[0] != ids[0] {
				t.Fatalf("response X-Request-Id %q, want %q (the id sent upstream)", got, ids[0])
			}
			if seen[ids[0]] {
				t.Fatalf("id %s generated twice", ids[0])
			}
			seen[ids[0]] = true
		}
	})
	t.Run("client_supplied_kept", func(t *testing.T) {
		st, h, body := httpDo(t, c, "GET", m.URL("/trace"), nil, "X-Request-Id", "client-id-42")
		if st != 200 {
			t.Fatalf("status %d: %s", st, body)
		}
		e := decodeEcho(t, body)
		if ids := e.Header["X-Request-Id"]; len(ids) != 1 || ids[0] != "client-id-42" {
			t.Fatalf("upstream got X-Request-Id %q, want exactly [client-id-42]", ids)
		}
		if got := h.Values("X-Request-Id"); len(got) != 1 || got[0] != "client-id-42" {
			t.Fatalf("response X-Request-Id %q, want [client-id-42]", got)
		}
	})
}

// TestGoHeadersFilter: request_add/set/remove reach the upstream;
// response_add/set/remove reach the client.
func TestGoHeadersFilter(t *testing.T) {
	t.Parallel()
	requireGo(t)
	up := startUpstream(t, "up", func(c *upConn, r *upReq) bool {
		err := writeResponse(c, r, 200, []string{"Content-Type", "application/json",
			"X-Upstream-Secret", "s3cret", "X-Resp-Set", "from-upstream", "X-Resp-Add", "from-upstream"}, echoBody(c.u, r))
		return err == nil && !r.wantsClose()
	})
	m := startMoe(t, goFilterYAML(1, `      - name: headers
        config:
          request_add: {x-added: by-moe}
          request_set: [{name: x-set, value: by-moe}]
          request_remove: [x-remove-me]
          response_add: {x-resp-add: by-moe}
          response_set: {x-resp-set: by-moe}
          response_remove: [x-upstream-secret]`), "up", up.Addr)

	st, h, body := httpDo(t, newClient(), "GET", m.URL("/h"), nil,
		"X-Added", "from-client", "X-Set", "from-client", "X-Remove-Me", "1", "X-Untouched", "u")
	if st != 200 {
		t.Fatalf("status %d: %s", st, body)
	}
	e := decodeEcho(t, body)
	want := map[string][]string{
		"X-Added":     {"from-client", "by-moe"},
		"X-Set":       {"by-moe"},
		"X-Untouched": {"u"},
	}
	for k, v := range want {
		if got := e.Header[k]; strings.Join(got, "|") != strings.Join(v, "|") {
			t.Errorf("upstream request %s = %q, want %q", k, got, v)
		}
	}
	if got, ok := e.Header["X-Remove-Me"]; ok {
		t.Errorf("upstream request still has X-Remove-Me %q", got)
	}
	if got := h.Values("X-Resp-Add"); strings.Join(got, "|") != "from-upstream|by-moe" {
		t.Errorf("response X-Resp-Add = %q, want [from-upstream by-moe]", got)
	}
	if got := h.Values("X-Resp-Set"); strings.Join(got, "|") != "by-moe" {
		t.Errorf("response X-Resp-Set = %q, want [by-moe]", got)
	}
	if got := h.Values("X-Upstream-Secret"); len(got) != 0 {
		t.Errorf("response still has X-Upstream-Secret %q", got)
	}
}

// TestGoRateLimit429: ratelimit keyed on a header; past the burst the
// client gets 429 with a Retry-After in seconds and the upstream nothing;
// another key has its own bucket.
func TestGoRateLimit429(t *testing.T) {
	t.Parallel()
	requireGo(t)
	up := startEcho(t, "up")
	// 0.1 tokens/s: no token comes back while the test runs.
	m := startMoe(t, goFilterYAML(2, `      - name: ratelimit
        config: {rate: 0.1, burst: 3, key: "header:x-client"}`), "up", up.Addr)
	c := newClient()
	for i := 0; i < 3; i++ {
		if st, _, body := httpDo(t, c, "GET", m.URL("/rl"), nil, "X-Client", "a"); st != 200 {
			t.Fatalf("request %d of the burst: status %d: %s", i+1, st, body)
		}
	}
	before := up.Count()
	st, h, body := httpDo(t, c, "GET", m.URL("/rl"), nil, "X-Client", "a")
	if st != 429 {
		t.Fatalf("4th request with burst 3: status %d, want 429: %s", st, body)
	}
	ra := h.Get("Retry-After")
	n, err := strconv.Atoi(ra)
	if err != nil || n < 1 || n > 10 {
		t.Fatalf("Retry-After %q, want whole seconds in 1..10 (rate 0.1/s)", ra)
	}
	if up.Count() != before {
		t.Fatalf("the upstream received the rate-limited request")
	}
	if st, _, body := httpDo(t, c, "GET", m.URL("/rl"), nil, "X-Client", "b"); st != 200 {
		t.Fatalf("another key: status %d, want 200: %s", st, body)
	}
	// docs/go-filters.md: api.NewCounter metrics are on GET /stats as
	// moe_go_filter_<name>{filter="<filter>"}.
	t.Run("limited_total_on_stats", func(t *testing.T) {
		if v, ok := statValue(t, m, "moe_go_filter_limited_total", map[string]string{"filter": "ratelimit"}); !ok || v < 1 {
			t.Errorf("/stats moe_go_filter_limited_total{filter=\"ratelimit\"} = %v (present %v), want >= 1", v, ok)
		}
	})
}

// TestGoBodyRewriteFixesContentLength: bodyrewrite changes the length of
// JSON and text bodies (Content-Length and chunked from the upstream); the
// client gets a Content-Length that matches the bytes that follow, and the
// keep-alive connection stays in sync for the next request.
func TestGoBodyRewriteFixesContentLength(t *testing.T) {
	t.Parallel()
	requireGo(t)
	bodies := map[string]struct {
		ctype, body string
		chunked     bool
	}{
		"/json":    {"application/json", `{"animal":"cat","says":"meow","cat":true}`, false},
		"/text":    {"text/plain; charset=utf-8", "the cat sat on the cat mat", false},
		"/chunked": {"text/html", "<p>cat</p><p>more cat</p>", true},
		"/shrink":  {"text/plain", "elephant elephant elephant", false},
		"/binary":  {"application/octet-stream", "cat cat cat", false},
	}
	up := startUpstream(t, "up", func(c *upConn, r *upReq) bool {
		b, ok := bodies[r.Target]
		if !ok {
			return writeResponse(c, r, 404, nil, []byte("no such body")) == nil
		}
		if b.chunked {
			var w strings.Builder
			fmt.Fprintf(&w, "HTTP/1.1 200 OK\r\nContent-Type: %s\r\nTransfer-Encoding: chunked\r\n\r\n", b.ctype)
			for _, p := range []string{b.body[:5], b.body[5:]} {
				fmt.Fprintf(&w, "%x\r\n%s\r\n", len(p), p)
			}
			w.WriteString("0\r\n\r\n")
			_, err := c.Write([]byte(w.String()))
			return err == nil && !r.wantsClose()
		}
		return writeResponse(c, r, 200, []string{"Content-Type", b.ctype}, []byte(b.body)) == nil && !r.wantsClose()
	})
	m := startMoe(t, goFilterYAML(1, `      - name: bodyrewrite
        config:
          replacements: [{from: cat, to: tiger}, {from: elephant, to: ant}]`), "up", up.Addr)

	cases := []struct{ path, want string }{
		{"/json", `{"animal":"tiger","says":"meow","tiger":true}`},
		{"/text", "the tiger sat on the tiger mat"},
		{"/chunked", "<p>tiger</p><p>more tiger</p>"},
		{"/shrink", "ant ant ant"},
		{"/binary", "cat cat cat"}, // not a rewritten content type
	}
	// All on one keep-alive connection: a wrong length would desync the
	// next response.
	conn := dial(t, m.Addr("listen"))
	br := bufio.NewReader(conn)
	for _, tc := range cases {
		fmt.Fprintf(conn, "GET %s HTTP/1.1\r\nHost: h\r\n\r\n", tc.path)
		resp := readRawResponse(t, br, "GET")
		if resp.Status != 200 {
			t.Fatalf("%s: status %d: %q", tc.path, resp.Status, resp.Body)
		}
		if string(resp.Body) != tc.want {
			t.Errorf("%s: body %q, want %q", tc.path, resp.Body, tc.want)
		}
		cls := resp.Header.Values("Content-Length")
		chunked := len(resp.Header.Values("Transfer-Encoding")) > 0
		switch {
		case len(cls) == 1:
			if cls[0] != strconv.Itoa(len(tc.want)) {
				t.Errorf("%s: Content-Length %s, body is %d bytes", tc.path, cls[0], len(tc.want))
			}
			if chunked {
				t.Errorf("%s: both Content-Length and Transfer-Encoding", tc.path)
			}
		case len(cls) == 0 && chunked:
			// A chunked response is framed correctly by construction.
		default:
			t.Errorf("%s: Content-Length %q, Transfer-Encoding %q: want one Content-Length", tc.path, cls,
				resp.Header.Values("Transfer-Encoding"))
		}
	}
	// Nothing is left over on the connection.
	conn.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
	if n, _ := br.Read(make([]byte, 1)); n > 0 {
		t.Fatalf("bytes after the last response: the framing is off")
	}
}

// TestGoCrossingsPerRequestIndependentOfChainLength: chains of 1, 3 and 10
// `headers` filters cost the same number of Go crossings per request
// (GET /go "crossings"): the whole chain runs inside one crossing per event.
func TestGoCrossingsPerRequestIndependentOfChainLength(t *testing.T) {
	t.Parallel()
	requireGo(t)
	up := startEcho(t, "up")
	chain := func(n int) string {
		var b strings.Builder
		for i := 0; i < n; i++ {
			fmt.Fprintf(&b, "      - name: headers\n        config: {request_set: {x-f%d: \"%d\"}, response_set: {x-r%d: \"%d\"}}\n", i, i, i, i)
		}
		return b.String()
	}
	var y strings.Builder
	y.WriteString("workers: 1\nadmin: {address: \"{{admin}}\"}\nlog: {level: info, access_log: \"off\"}\nlisteners:\n")
	lengths := []int{1, 3, 10}
	for _, n := range lengths {
		fmt.Fprintf(&y, "  - name: chain%d\n    address: \"{{chain%d}}\"\n    filters:\n%s    routes:\n      - match: {prefix: /}\n        cluster: up\n", n, n, chain(n))
	}
	y.WriteString("clusters:\n  - name: up\n    endpoints: [\"{{up}}\"]\n")
	m := startMoe(t, y.String(), "up", up.Addr)

	const N = 50
	perReq := map[int]float64{}
	for _, n := range lengths {
		c := newClient()
		url := "http://" + m.Addr(fmt.Sprintf("chain%d", n)) + "/x"
		// One request first so a connection exists; then measure.
		if st, _, _ := httpDo(t, c, "GET", url, nil); st != 200 {
			t.Fatalf("chain of %d: status %d", n, st)
		}
		before := stableGoStat(t, m, "crossings")
		for i := 0; i < N; i++ {
			st, h, body := httpDo(t, c, "GET", url, nil)
			if st != 200 {
				t.Fatalf("chain of %d: status %d", n, st)
			}
			// Every filter of the chain ran, both ways.
			e := decodeEcho(t, body)
			if got := e.Header[fmt.Sprintf("X-F%d", n-1)]; len(got) != 1 {
				t.Fatalf("chain of %d: the last filter's request header is missing upstream: %v", n, e.Header)
			}
			if h.Get(fmt.Sprintf("X-R%d", n-1)) == "" || h.Get("X-R0") == "" {
				t.Fatalf("chain of %d: response headers of the first/last filter missing: %v", n, h)
			}
		}
		after := stableGoStat(t, m, "crossings")
		d := after - before
		if d <= 0 || int64(d)%N != 0 {
			t.Fatalf("chain of %d: crossings went from %v to %v over %d requests (want a positive multiple of %d)", n, before, after, N, N)
		}
		perReq[n] = d / N
		t.Logf("chain of %2d filters: %v crossings per request", n, perReq[n])
	}
	if perReq[1] != perReq[3] || perReq[1] != perReq[10] {
		t.Fatalf("crossings per request depend on the chain length: %v (want the same for 1, 3 and 10 filters)", perReq)
	}
}

// TestGoBatchedHeaderEvents: with many connections in flight, the header
// events of a header-only chain (traceid + headers) reach Go in batches, one
// crossing per worker loop iteration and at most 256 events per crossing
// (docs/go-runtime.md, "Batched header events"); 300 connections are in
// flight, so some iterations split. Each stream must still get its own filter results: every
// response carries the id its own request went upstream with, on the right
// path, and Go saw two events per request in fewer crossings than events.
func TestGoBatchedHeaderEvents(t *testing.T) {
	t.Parallel()
	requireGo(t)
	up := startEcho(t, "up")
	m := startMoe(t, goFilterYAML(1, `      - name: traceid
      - name: headers
        config: {response_set: {x-chain: done}}`), "up", up.Addr)
	warm := newClient()
	if st, _, body := httpDo(t, warm, "GET", m.URL("/warm"), nil); st != 200 {
		t.Fatalf("warm-up: status %d: %s", st, body)
	}
	eventsBefore := stableGoStat(t, m, "events")
	crossingsBefore := stableGoStat(t, m, "crossings")

	const conns, perConn = 300, 10 // over 256 in flight: batches split (GoWorker::run_batch)
	inParallel(t, conns, func(g int) error {
		c := newClient()
		for i := 0; i < perConn; i++ {
			path := fmt.Sprintf("/batch/%d/%d", g, i)
			req, _ := http.NewRequest("GET", m.URL(path), nil)
			clientID := ""
			if i%2 == 1 {
				clientID = fmt.Sprintf("client-%d-%d", g, i)
				req.Header.Set("X-Request-Id", clientID)
			}
			resp, body, err := fetch(c, req)
			if err != nil || resp.StatusCode != 200 {
				return fmt.Errorf("%s: %v (response %v)", path, err, resp)
			}
			var e echoReply
			if err := json.Unmarshal(body, &e); err != nil {
				return fmt.Errorf("%s: body is not the echo JSON: %v", path, err)
			}
			sent := e.Header["X-Request-Id"]
			got := resp.Header.Values("X-Request-Id")
			switch {
			case e.Target != path:
				return fmt.Errorf("%s: the upstream saw %q", path, e.Target)
			case len(sent) != 1 || (clientID != "" && sent[0] != clientID) || (clientID == "" && !hex32RE.MatchString(sent[0])):
				return fmt.Errorf("%s: upstream X-Request-Id %q (client sent %q)", path, sent, clientID)
			case len(got) != 1 || got[0] != sent[0]:
				return fmt.Errorf("%s: response X-Request-Id %q, want [%s] (the id of this request)", path, got, sent[0])
			case resp.Header.Get("X-Chain") != "done":
				return fmt.Errorf("%s: the second filter's response header is missing", path)
			}
		}
		return nil
	})
	if t.Failed() {
		return
	}
	events := stableGoStat(t, m, "events") - eventsBefore
	crossings := stableGoStat(t, m, "crossings") - crossingsBefore
	t.Logf("%d requests: %v events in %v crossings", conns*perConn, events, crossings)
	if events != 2*conns*perConn {
		t.Fatalf("%v events for %d requests, want 2 per request (request and response headers)", events, conns*perConn)
	}
	if crossings >= events {
		t.Fatalf("%v crossings for %v events: with %d connections in flight, some events should share a crossing", crossings, events, conns)
	}
}

// TestGoBatchedPipelinedAndH2: header events that wait for the worker's
// batch while the rest of the message keeps arriving. Pipelined HTTP/1
// requests with bodies (sized and chunked) in one write, and 40 concurrent
// HTTP/2 streams with bodies on one connection, one of them over the route's
// body limit (413 from the batch's continuation): every other stream gets
// its own id and its whole body upstream, in order for HTTP/1.
func TestGoBatchedPipelinedAndH2(t *testing.T) {
	t.Parallel()
	requireGo(t)
	up := startEcho(t, "up")
	m := startMoe(t, goFilterYAMLWith(1, "      - name: traceid", "    http2: true\n    limits: {max_request_body: 100000}\n"), "up", up.Addr)

	t.Run("h1_pipelined", func(t *testing.T) {
		c := dial(t, m.Addr("listen"))
		var b bytes.Buffer
		const n = 9
		for i := 0; i < n; i++ {
			id := fmt.Sprintf("pipe-%d", i)
			switch i % 3 {
			case 0:
				fmt.Fprintf(&b, "GET /pipe/%d HTTP/1.1\r\nHost: p\r\nX-Request-Id: %s\r\n\r\n", i, id)
			case 1:
				body := strings.Repeat("b", i*1000)
				fmt.Fprintf(&b, "POST /pipe/%d HTTP/1.1\r\nHost: p\r\nX-Request-Id: %s\r\nContent-Length: %d\r\n\r\n%s", i, id, len(body), body)
			case 2:
				fmt.Fprintf(&b, "POST /pipe/%d HTTP/1.1\r\nHost: p\r\nX-Request-Id: %s\r\nTransfer-Encoding: chunked\r\n\r\n", i, id)
				fmt.Fprintf(&b, "%x\r\n%s\r\n0\r\n\r\n", i*100, strings.Repeat("c", i*100))
			}
		}
		pipelineEcho(t, c, b.Bytes(), n, func(i int, resp *rawResponse, e echoReply) {
			want := fmt.Sprintf("pipe-%d", i)
			if got := e.Header["X-Request-Id"]; len(got) != 1 || got[0] != want {
				t.Fatalf("response %d: upstream X-Request-Id %q, want [%s]", i, got, want)
			}
			if got := resp.Header.Get("X-Request-Id"); got != want {
				t.Fatalf("response %d: X-Request-Id %q, want %s", i, got, want)
			}
			wantLen := map[int]int64{0: 0, 1: int64(i * 1000), 2: int64(i * 100)}[i%3]
			if e.BodyLen != wantLen {
				t.Fatalf("response %d: upstream got %d body bytes, want %d", i, e.BodyLen, wantLen)
			}
		})
	})

	t.Run("h2_streams", func(t *testing.T) {
		c := h2cHTTPClient(30 * time.Second)
		const n = 40
		const tooBig = 17
		inParallel(t, n, func(i int) error {
			size := i * 997
			if i == tooBig {
				size = 150000
			}
			req, _ := http.NewRequest("POST", m.URL(fmt.Sprintf("/h2/%d", i)), strings.NewReader(strings.Repeat("h", size)))
			req.ContentLength = int64(size)
			id := fmt.Sprintf("h2-%d", i)
			req.Header.Set("X-Request-Id", id)
			resp, body, err := fetch(c, req)
			switch {
			case err != nil:
				return fmt.Errorf("stream %d: %v", i, err)
			case resp.ProtoMajor != 2:
				return fmt.Errorf("stream %d: HTTP/%d, want HTTP/2", i, resp.ProtoMajor)
			case resp.Header.Get("X-Request-Id") != id:
				return fmt.Errorf("stream %d: X-Request-Id %q, want %s", i, resp.Header.Get("X-Request-Id"), id)
			case i == tooBig && resp.StatusCode != 413:
				return fmt.Errorf("stream %d: status %d for a body over the limit, want 413", i, resp.StatusCode)
			case i == tooBig:
				return nil
			case resp.StatusCode != 200:
				return fmt.Errorf("stream %d: status %d: %s", i, resp.StatusCode, body)
			}
			var e echoReply
			if err := json.Unmarshal(body, &e); err != nil {
				return fmt.Errorf("stream %d: not the echo JSON: %v", i, err)
			}
			if e.Target != fmt.Sprintf("/h2/%d", i) || e.BodyLen != int64(size) {
				return fmt.Errorf("stream %d: upstream saw %s with %d body bytes, want /h2/%d with %d", i, e.Target, e.BodyLen, i, size)
			}
			return nil
		})
	})
}

// TestGoResponseFiltersSeeLocalReplies: replies moe makes itself (a direct
// response, a 502 for a refused upstream, a 404) go through the response
// hooks too (x-filtered), and get the fields filters asked for with
// AddResponseHeader (traceid's id) like any response.
func TestGoResponseFiltersSeeLocalReplies(t *testing.T) {
	t.Parallel()
	requireGo(t)
	m := startMoe(t, `workers: 1
admin: {address: "{{admin}}"}
log: {level: info, access_log: "off"}
listeners:
  - name: main
    address: "{{listen}}"
    filters:
      - name: traceid
      - name: headers
        config: {response_set: {x-filtered: "yes"}}
    routes:
      - match: {path: /direct}
        direct_response: {status: 200, body: "direct\n"}
      - match: {prefix: /down}
        cluster: down
clusters:
  - name: down
    endpoints: ["{{down}}"]
`, "down", closedPort(t))
	c := newClient()
	for _, tc := range []struct {
		path   string
		status int
	}{{"/direct", 200}, {"/down", 502}, {"/nowhere", 404}} {
		st, h, body := httpDo(t, c, "GET", m.URL(tc.path), nil, "X-Request-Id", "id-"+tc.path[1:])
		if st != tc.status {
			t.Errorf("%s: status %d, want %d: %s", tc.path, st, tc.status, body)
			continue
		}
		if got := h.Get("X-Request-Id"); got != "id-"+tc.path[1:] {
			t.Errorf("%s: x-request-id %q, want the client's id-%s", tc.path, got, tc.path[1:])
		}
		if got := h.Get("X-Filtered"); got != "yes" {
			t.Errorf("%s: x-filtered %q, want yes (response hooks did not run)", tc.path, got)
		}
	}
}

// TestGoFilterHeaderChangeReroutes: a request header a filter sets picks
// the route when a route matches on it, and a Host a filter sets picks a
// host route; on a listener whose routes match no headers, the same change
// keeps the route (moe routes again only when the change can matter).
func TestGoFilterHeaderChangeReroutes(t *testing.T) {
	t.Parallel()
	requireGo(t)
	a, b := startEcho(t, "a"), startEcho(t, "b")
	listener := func(name, addr, set, routes string) string {
		return fmt.Sprintf(`  - name: %s
    address: "{{%s}}"
    filters:
      - name: headers
        config: {request_set: {%s}}
    routes:
%s`, name, addr, set, routes)
	}
	m := startMoe(t, `workers: 1
admin: {address: "{{admin}}"}
log: {level: info, access_log: "off"}
listeners:
`+listener("by-header", "listen", "x-lane: canary", `      - match: {prefix: /, headers: [{name: x-lane, exact: canary}]}
        cluster: b
      - match: {prefix: /}
        cluster: a
`)+listener("by-host", "listen2", "host: b.example", `      - match: {prefix: /, host: b.example}
        cluster: b
      - match: {prefix: /}
        cluster: a
`)+listener("plain", "listen3", "x-lane: canary", `      - match: {prefix: /}
        cluster: a
`)+`clusters:
  - name: a
    endpoints: ["{{a}}"]
  - name: b
    endpoints: ["{{b}}"]
`, "a", a.Addr, "b", b.Addr)
	for _, tc := range []struct{ listen, want string }{
		{"listen", "b"}, {"listen2", "b"}, {"listen3", "a"},
	} {
		st, _, body := httpGet(t, "http://"+m.Addr(tc.listen)+"/x")
		if st != 200 {
			t.Fatalf("%s: status %d %q", tc.listen, st, body)
		}
		if e := decodeEcho(t, body); e.Upstream != tc.want {
			t.Errorf("%s: served by %q, want %q (headers %v)", tc.listen, e.Upstream, tc.want, e.Header)
		}
	}
}

// TestGoAddResponseHeaderOneEvent: traceid has only a request hook and puts
// its response id through Stream.AddResponseHeader, so Go sees one event
// per request and the response never waits for Go; the id still reaches
// every response, and an upstream's own x-request-id wins over it.
func TestGoAddResponseHeaderOneEvent(t *testing.T) {
	t.Parallel()
	requireGo(t)
	up := startUpstream(t, "up", func(c *upConn, r *upReq) bool {
		hdr := []string{"Content-Type", "text/plain"}
		if strings.HasPrefix(r.Target, "/own") {
			hdr = append(hdr, "X-Request-Id", "from-upstream")
		}
		return writeResponse(c, r, 200, hdr, []byte("ok\n")) == nil && !r.wantsClose()
	})
	m := startMoe(t, goFilterYAMLWith(1, "      - name: traceid", "    http2: true\n"), "up", up.Addr)
	c := newClient()
	if st, _, body := httpDo(t, c, "GET", m.URL("/warm"), nil); st != 200 {
		t.Fatalf("warm-up: %d %s", st, body)
	}
	before := stableGoStat(t, m, "events")
	const n = 50
	for i := 0; i < n; i++ {
		st, h, body := httpDo(t, c, "GET", m.URL(fmt.Sprintf("/r/%d", i)), nil)
		if st != 200 || !hex32RE.MatchString(h.Get("X-Request-Id")) || len(h.Values("X-Request-Id")) != 1 {
			t.Fatalf("/r/%d: %d, x-request-id %q: %s", i, st, h.Values("X-Request-Id"), body)
		}
	}
	if d := stableGoStat(t, m, "events") - before; d != n {
		t.Errorf("Go saw %v events for %d requests, want one each", d, n)
	}
	st, h, _ := httpDo(t, c, "GET", m.URL("/own"), nil)
	if got := h.Values("X-Request-Id"); st != 200 || len(got) != 1 || got[0] != "from-upstream" {
		t.Errorf("/own: %d, x-request-id %q, want the upstream's only", st, got)
	}
	// HTTP/2 (h2c): the id arrives in the response's HPACK block too.
	req, _ := http.NewRequest("GET", m.URL("/h2"), nil)
	resp, _, err := fetch(h2cHTTPClient(10*time.Second), req)
	if err != nil || resp.StatusCode != 200 || !hex32RE.MatchString(resp.Header.Get("X-Request-Id")) {
		t.Fatalf("h2: %v %v", err, resp)
	}
	if v := stableGoStat(t, m, "streams"); v != 0 {
		t.Errorf("Go holds %v stream states after the requests", v)
	}
}
