package integration

import (
	"bufio"
	"fmt"
	"strings"
	"testing"
	"time"
)

// denyPrivateRoutes: /private answers 403 from moe itself, everything else
// goes to the recording upstream "up". A request for /private that reaches
// the upstream got past the router. (The smuggling and path tests share it.)
const denyPrivateRoutes = `      - match: {prefix: /private}
        direct_response: {status: 403, body: "denied\n"}
      - match: {prefix: /}
        cluster: up
clusters:
  - name: up
    endpoints: ["{{up}}"]
`

// smugglingYAML: denyPrivateRoutes, and CONNECT to the upstream too.
const smugglingYAML = `    routes:
      - match: {method: CONNECT}
        cluster: up
` + denyPrivateRoutes

// noPrivate fails when the upstream saw a request for /private. Smuggled
// bytes travel right behind the request that carried them, so they reach
// the upstream before its answer to that request reaches the client; the
// wait only bounds how long a late one is looked for.
func noPrivate(t *testing.T, up *upstream) {
	t.Helper()
	deadline := time.Now().Add(300 * time.Millisecond)
	for time.Now().Before(deadline) {
		for _, r := range up.Requests() {
			if strings.Contains(r.Target, "private") {
				t.Fatalf("the upstream received %s %s: smuggled past the router", r.Method, r.Target)
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func chunk(s string) string { return fmt.Sprintf("%x\r\n%s\r\n", len(s), s) }

// TestH1UpgradeSmuggling: nothing after an Upgrade or CONNECT head goes
// upstream until the upstream agreed to a tunnel. An upstream that answers
// normally would run the bytes that follow as its next request.
func TestH1UpgradeSmuggling(t *testing.T) {
	t.Parallel()
	// The upstream answers everything normally, and refuses CONNECT.
	up := startUpstream(t, "up", func(c *upConn, r *upReq) bool {
		if r.Method == "CONNECT" {
			return writeResponse(c, r, 405, nil, []byte("no tunnels here\n")) == nil
		}
		return echoHandler(c, r)
	})
	m := startMoe(t, yamlMain+smugglingYAML, "up", up.Addr)
	const smuggled = "GET /private/secret.txt HTTP/1.1\r\nHost: a\r\n\r\n"
	cases := []struct {
		name string
		req  string
		// what the upstream must have received for the carrying request
		target  string
		upgrade string // its Upgrade header ("" = none)
		chunked bool
	}{
		{"websocket_then_request",
			"GET /public/index.txt HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n" + smuggled,
			"/public/index.txt", "websocket", false},
		{"custom_protocol_then_request",
			"GET /public HTTP/1.1\r\nHost: a\r\nUpgrade: foo/2\r\nConnection: keep-alive, Upgrade\r\n\r\n" + smuggled,
			"/public", "foo/2", false},
		// The body of an Upgrade request is framed to the upstream like any
		// body: de-chunked and sent raw, it was read as a request.
		{"chunked_body_carries_request",
			"POST /public HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nTransfer-Encoding: chunked\r\n\r\n" +
				chunk(smuggled) + "0\r\n\r\n",
			"/public", "websocket", true},
		{"sized_body_then_request",
			"POST /public HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nContent-Length: 4\r\n\r\nbody" + smuggled,
			"/public", "websocket", false},
		// h2c smuggling: an upstream that speaks h2c would switch, and the
		// client would talk HTTP/2 to it past every route and filter. moe
		// answers h2c itself or not at all: the request goes on as a plain
		// one, without Upgrade.
		{"h2c_upgrade",
			"GET /public HTTP/1.1\r\nHost: a\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\nConnection: Upgrade, HTTP2-Settings\r\n\r\n" + smuggled,
			"/public", "", false},
		{"h2c_in_a_second_upgrade_line",
			"GET /public HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\nConnection: Upgrade\r\n\r\n" + smuggled,
			"/public", "", false},
		{"h2c_upgrade_with_body",
			"POST /public HTTP/1.1\r\nHost: a\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\nConnection: Upgrade, HTTP2-Settings\r\nContent-Length: 4\r\n\r\nbody" + smuggled,
			"/public", "", false},
		{"connect_refused_then_request",
			"CONNECT db.internal:5432 HTTP/1.1\r\nHost: db.internal:5432\r\n\r\n" + smuggled,
			"db.internal:5432", "", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := len(up.Requests())
			c := dial(t, m.Addr("listen"))
			br := bufio.NewReader(c)
			if _, err := c.Write([]byte(tc.req)); err != nil {
				t.Fatal(err)
			}
			resp := readRawResponse(t, br, "GET")
			want := 200
			if strings.HasPrefix(tc.name, "connect") {
				want = 405
			}
			if resp.Status != want {
				t.Fatalf("status %d, want the upstream's %d", resp.Status, want)
			}
			if strings.HasPrefix(tc.name, "h2c") {
				// A plain request: the smuggled one is the next request
				// on the connection, routed and denied by moe.
				next := readRawResponse(t, br, "GET")
				if next.Status != 403 {
					t.Fatalf("request after the h2c upgrade attempt: status %d, want 403 from the route", next.Status)
				}
			} else {
				// The upstream did not agree to a tunnel: the rest of the
				// connection is not trusted.
				expectClosed(t, c, br, 5*time.Second)
			}
			noPrivate(t, up)
			reqs := up.Requests()[before:]
			if len(reqs) != 1 {
				t.Fatalf("upstream got %d requests, want 1", len(reqs))
			}
			r := reqs[0]
			if r.Target != tc.target || r.Header.Get("Upgrade") != tc.upgrade || r.Chunked != tc.chunked {
				t.Fatalf("upstream got %s %s upgrade=%q chunked=%v, want %s upgrade=%q chunked=%v",
					r.Method, r.Target, r.Header.Get("Upgrade"), r.Chunked, tc.target, tc.upgrade, tc.chunked)
			}
			if strings.HasPrefix(tc.name, "h2c") && r.Header.Get("Http2-Settings") != "" {
				t.Fatalf("HTTP2-Settings went upstream: %v", r.Header)
			}
			if tc.chunked && string(r.Body) != smuggled {
				t.Fatalf("upstream body %q, want the chunked body %q", r.Body, smuggled)
			}
		})
	}
}

// TestH1UpgradeSmugglingExtAuth: on a listener with extauth, a request
// smuggled behind an Upgrade head (a POST claiming x-user-id: admin, with no
// credentials) never reaches the upstream, and the auth service is asked
// once for each request moe routes: once for the carrying request when the
// connection closes after a refused upgrade, twice when the smuggled bytes
// are parsed as the next request (h2c: moe does not pass it on), which the
// auth service then denies. Before, the smuggled POST reached the upstream
// behind the authorised head, and auth ran once.
func TestH1UpgradeSmugglingExtAuth(t *testing.T) {
	t.Parallel()
	requireGo(t)
	auth := startAuthServer(t, authHandler)
	up := startEcho(t, "up") // answers every request normally, never 101
	m := startMoe(t, extauthYAML(1, extauthListener("main", "listen", auth.URL, "", "")), "up", up.Addr)
	const smuggled = "POST /admin/users HTTP/1.1\r\nHost: a\r\nX-User-Id: admin\r\nContent-Length: 5\r\n\r\nadmin"
	const authz = "Authorization: Bearer good\r\n"
	cases := []struct {
		name      string
		req       string
		chunked   bool // the smuggled bytes are the carrying request's chunked body
		nextAuth  bool // moe parses them as the next request, which auth is asked about
		authCalls int
	}{
		{"websocket_then_request",
			"GET /public HTTP/1.1\r\nHost: a\r\n" + authz + "Upgrade: websocket\r\nConnection: Upgrade\r\n\r\n" + smuggled,
			false, false, 1},
		{"sized_body_then_request",
			"POST /public HTTP/1.1\r\nHost: a\r\n" + authz + "Upgrade: websocket\r\nConnection: Upgrade\r\nContent-Length: 4\r\n\r\nbody" + smuggled,
			false, false, 1},
		{"chunked_body_carries_request",
			"POST /public HTTP/1.1\r\nHost: a\r\n" + authz + "Upgrade: websocket\r\nConnection: Upgrade\r\nTransfer-Encoding: chunked\r\n\r\n" +
				chunk(smuggled) + "0\r\n\r\n",
			true, false, 1},
		{"h2c_upgrade_then_request",
			"GET /public HTTP/1.1\r\nHost: a\r\n" + authz + "Upgrade: h2c\r\nHTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\nConnection: Upgrade, HTTP2-Settings\r\n\r\n" + smuggled,
			false, true, 2},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before, authBefore := len(up.Requests()), len(auth.Calls())
			c := dial(t, m.Addr("listen"))
			br := bufio.NewReader(c)
			if _, err := c.Write([]byte(tc.req)); err != nil {
				t.Fatal(err)
			}
			if r := readRawResponse(t, br, "GET"); r.Status != 200 {
				t.Fatalf("status %d, want the upstream's 200: %s", r.Status, r.Body)
			}
			if tc.nextAuth {
				if r := readRawResponse(t, br, "POST"); r.Status != 401 {
					t.Fatalf("the request after the h2c upgrade attempt: status %d, want 401 from the auth service: %s", r.Status, r.Body)
				}
			} else {
				expectClosed(t, c, br, 5*time.Second)
			}
			// The smuggled bytes travel right behind the carrying request:
			// a late arrival is looked for a little while.
			deadline := time.Now().Add(300 * time.Millisecond)
			for time.Now().Before(deadline) {
				for _, r := range up.Requests()[before:] {
					if strings.Contains(r.Target, "admin") || r.Header.Get("X-User-Id") == "admin" {
						t.Fatalf("the upstream received %s %s (X-User-Id %q): smuggled past extauth",
							r.Method, r.Target, r.Header.Values("X-User-Id"))
					}
				}
				time.Sleep(20 * time.Millisecond)
			}
			reqs := up.Requests()[before:]
			if len(reqs) != 1 {
				t.Fatalf("upstream got %d requests, want 1", len(reqs))
			}
			r := reqs[0]
			if r.Target != "/public" || r.Chunked != tc.chunked {
				t.Fatalf("upstream got %s %s chunked=%v, want /public chunked=%v", r.Method, r.Target, r.Chunked, tc.chunked)
			}
			if got := r.Header.Values("X-User-Id"); len(got) != 1 || got[0] != "alice" {
				t.Fatalf("upstream X-User-Id %q, want [alice] from the auth answer", got)
			}
			if tc.chunked && string(r.Body) != smuggled {
				t.Fatalf("upstream body %q, want the chunked body %q", r.Body, smuggled)
			}
			calls := auth.Calls()[authBefore:]
			if len(calls) != tc.authCalls {
				t.Fatalf("auth service asked %d times, want %d (once per request moe routed)", len(calls), tc.authCalls)
			}
			if tc.nextAuth {
				if got := calls[1].Header.Get("X-Forwarded-Uri"); got != "/admin/users" {
					t.Fatalf("second auth call for %q, want /admin/users", got)
				}
			}
		})
	}
}

// TestH1UpgradeEarlyBytesAfter101: bytes a client sends right behind its
// Upgrade head (before the 101) are held, not lost: they reach the upstream
// once it switched, in order, ahead of later bytes.
func TestH1UpgradeEarlyBytesAfter101(t *testing.T) {
	t.Parallel()
	up := startUpstream(t, "ws", tunnelHandler(101, []string{"Upgrade", "websocket", "Connection", "Upgrade"}, ""))
	m := startMoe(t, simpleYAML(1, up.Addr))
	c := dial(t, m.Addr("listen"))
	br := bufio.NewReader(c)
	fmt.Fprintf(c, "GET /ws HTTP/1.1\r\nHost: ws.example\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\nearly-bytes|")
	resp := readRawResponse(t, br, "HEAD")
	if resp.Status != 101 {
		t.Fatalf("status %d, want 101", resp.Status)
	}
	fmt.Fprintf(c, "late-bytes\n")
	got, err := br.ReadString('\n')
	if err != nil || got != "early-bytes|late-bytes\n" {
		t.Fatalf("echo through the tunnel: %q, %v; want the early bytes first", got, err)
	}
}
