package integration

// extauth against a real auth service the test runs, and async streams whose
// client goes away while the filter is Pending.

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// authHandler is the auth service used by the extauth tests:
//
//	x-stall: hold            never answer (until the caller leaves, or 30s)
//	x-stall: other           stall until released / the caller leaves, then 200
//	Authorization: Bearer good  200, X-User-Id: alice (copied), X-Not-Copied
//	Authorization: Bearer nouser 200 without X-User-Id
//	anything else            401 with WWW-Authenticate, Set-Cookie, a body and
//	                         an X-Internal header that must not reach the client
func authHandler(a *authServer, w http.ResponseWriter, r *http.Request) {
	// No keep-alive: extauth's client would otherwise keep idle connections
	// (two goroutines each) for 90s, which the goroutine counts would see.
	w.Header().Set("Connection", "close")
	switch r.Header.Get("X-Stall") {
	case "":
	case "hold": // never answer; wait for the caller to leave (or 30s)
		select {
		case <-r.Context().Done():
		case <-time.After(30 * time.Second):
		}
		return
	default:
		if !a.Stall(r) {
			return
		}
	}
	if r.Header.Get("Authorization") == "Bearer nouser" {
		w.WriteHeader(200)
		return
	}
	if r.Header.Get("Authorization") == "Bearer good" || r.Header.Get("X-Stall") != "" {
		w.Header().Set("X-User-Id", "alice")
		w.Header().Set("X-Not-Copied", "secret")
		w.WriteHeader(200)
		return
	}
	w.Header().Set("Content-Type", "text/plain")
	w.Header().Set("WWW-Authenticate", `Bearer realm="moe-test"`)
	w.Header().Set("Set-Cookie", "session=; Max-Age=0")
	w.Header().Set("X-Internal", "do-not-leak")
	w.WriteHeader(401)
	fmt.Fprint(w, "bad token\n")
}

// extauthListener is one listener block named name on {{addr}} with an
// extauth filter (filter-level extra keys such as timeout/on_error in
// filterExtra, extauth config extra keys in cfgExtra), routed to {{up}}.
func extauthListener(name, addr, authURL, filterExtra, cfgExtra string) string {
	return fmt.Sprintf(`  - name: %s
    address: "{{%s}}"
    filters:
      - name: extauth%s
        config:
          url: %q
          forward_headers: [authorization, x-stall]
          copy_headers_from_auth: [x-user-id]%s
    routes:
      - match: {prefix: /}
        cluster: up
`, name, addr, filterExtra, authURL, cfgExtra)
}

func extauthYAML(workers int, listeners ...string) string {
	return fmt.Sprintf(`workers: %d
admin: {address: "{{admin}}"}
log: {level: info, access_log: "off"}
listeners:
%sclusters:
  - name: up
    endpoints: ["{{up}}"]
`, workers, strings.Join(listeners, ""))
}

func randomBody(t *testing.T, n int) ([]byte, string) {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	s := sha256.Sum256(b)
	return b, hex.EncodeToString(s[:])
}

// TestGoExtAuthAllow: the auth service gets the forwarded headers and the
// x-forwarded-* description of the request; on 200 the request reaches the
// upstream with the auth service's x-user-id (replacing a client-sent one)
// and without the headers not listed; a request body waits intact.
func TestGoExtAuthAllow(t *testing.T) {
	t.Parallel()
	requireGo(t)
	auth := startAuthServer(t, authHandler)
	up := startEcho(t, "up")
	m := startMoe(t, extauthYAML(1, extauthListener("main", "listen", auth.URL, "", "")), "up", up.Addr)
	c := newClient()

	st, _, body := httpDo(t, c, "GET", m.URL("/private/doc?x=1"), nil,
		"Authorization", "Bearer good", "X-User-Id", "mallory", "Cookie", "c=1", "Host", "app.test")
	if st != 200 {
		t.Fatalf("allowed GET: status %d: %s", st, body)
	}
	e := decodeEcho(t, body)
	if got := e.Header["X-User-Id"]; len(got) != 1 || got[0] != "alice" {
		t.Errorf("upstream X-User-Id %q, want [alice] (copied from the auth answer, replacing the client's)", got)
	}
	if got, ok := e.Header["X-Not-Copied"]; ok {
		t.Errorf("upstream got X-Not-Copied %q: not in copy_headers_from_auth", got)
	}
	if e.Target != "/private/doc?x=1" {
		t.Errorf("upstream target %q", e.Target)
	}
	calls := auth.Calls()
	if len(calls) != 1 {
		t.Fatalf("auth service got %d calls, want 1", len(calls))
	}
	ac := calls[0]
	want := map[string]string{
		"Authorization":      "Bearer good",
		"X-Forwarded-Method": "GET",
		"X-Forwarded-Uri":    "/private/doc?x=1",
		"X-Forwarded-Host":   "app.test",
	}
	for k, v := range want {
		if got := ac.Header.Get(k); got != v {
			t.Errorf("auth request %s = %q, want %q", k, got, v)
		}
	}
	if got := ac.Header.Get("X-Forwarded-For"); !strings.HasPrefix(got, "127.0.0.1") {
		t.Errorf("auth request X-Forwarded-For = %q, want the client address 127.0.0.1", got)
	}
	if got := ac.Header.Get("Cookie"); got != "" {
		t.Errorf("auth request got Cookie %q: not in forward_headers", got)
	}
	if ac.Method != "GET" || ac.URI != "/check" {
		t.Errorf("auth request %s %s, want GET /check", ac.Method, ac.URI)
	}

	// A POST whose body arrives while the filter is Pending reaches the
	// upstream whole.
	payload, sum := randomBody(t, 256<<10)
	st, _, body = httpDo(t, c, "POST", m.URL("/upload"), bytes.NewReader(payload), "Authorization", "Bearer good")
	if st != 200 {
		t.Fatalf("allowed POST: status %d: %s", st, body)
	}
	e = decodeEcho(t, body)
	if e.BodyLen != int64(len(payload)) || e.BodySHA != sum {
		t.Fatalf("upstream got a %d-byte body (sha %s), want %d bytes (sha %s)", e.BodyLen, e.BodySHA, len(payload), sum)
	}
}

// TestGoExtAuthDeny: a non-2xx auth answer goes to the client (status, body,
// content-type, www-authenticate, set-cookie; not other headers) and the
// upstream receives nothing, not even a connection.
func TestGoExtAuthDeny(t *testing.T) {
	t.Parallel()
	requireGo(t)
	auth := startAuthServer(t, authHandler)
	up := startEcho(t, "up")
	m := startMoe(t, extauthYAML(1, extauthListener("main", "listen", auth.URL, "", "")), "up", up.Addr)
	c := newClient()
	for _, method := range []string{"GET", "POST"} {
		var body *bytes.Reader
		if method == "POST" {
			body = bytes.NewReader(bytes.Repeat([]byte("p"), 64<<10))
		} else {
			body = bytes.NewReader(nil)
		}
		st, h, b := httpDo(t, c, method, m.URL("/private"), body, "Authorization", "Bearer bad")
		if st != 401 {
			t.Fatalf("%s denied: status %d, want 401 (the auth service's): %s", method, st, b)
		}
		if string(b) != "bad token\n" {
			t.Errorf("%s denied: body %q, want the auth service's %q", method, b, "bad token\n")
		}
		if got := h.Get("WWW-Authenticate"); got != `Bearer realm="moe-test"` {
			t.Errorf("%s denied: WWW-Authenticate %q", method, got)
		}
		if got := h.Get("Set-Cookie"); got != "session=; Max-Age=0" {
			t.Errorf("%s denied: Set-Cookie %q", method, got)
		}
		if got := h.Get("Content-Type"); got != "text/plain" {
			t.Errorf("%s denied: Content-Type %q", method, got)
		}
		if got := h.Get("X-Internal"); got != "" {
			t.Errorf("%s denied: X-Internal %q reached the client", method, got)
		}
	}
	if n := len(auth.Calls()); n != 2 {
		t.Errorf("auth service got %d calls, want 2", n)
	}
	if up.accepted.Load() != 0 || up.BytesIn() != 0 {
		t.Fatalf("upstream accepted %d connections and read %d bytes for denied requests, want nothing",
			up.accepted.Load(), up.BytesIn())
	}
}

// TestGoExtAuthTimeout: the auth service never answers. With the filter's
// timeout (500ms) shorter than the auth call's (5s): fail_closed answers 504
// well before the auth call would give up, and the upstream gets nothing;
// fail_open lets the request through. With only the auth call's own timeout
// (300ms), the call fails and extauth's fail_closed answers 503.
func TestGoExtAuthTimeout(t *testing.T) {
	t.Parallel()
	requireGo(t)
	auth := startAuthServer(t, authHandler)
	up := startEcho(t, "up")
	m := startMoe(t, extauthYAML(2,
		extauthListener("closed", "listen", auth.URL, "\n        timeout: 500ms\n        on_error: fail_closed", "\n          timeout: 5s"),
		extauthListener("open", "listen2", auth.URL, "\n        timeout: 500ms\n        on_error: fail_open", "\n          timeout: 5s"),
		extauthListener("calltimeout", "listen3", auth.URL, "", "\n          timeout: 300ms"),
	), "up", up.Addr)
	c := newClient()
	timeoutsBefore := goStat(t, m, "timeouts")

	t.Run("fail_closed_504", func(t *testing.T) {
		start := time.Now()
		st, _, b := httpDo(t, c, "GET", "http://"+m.Addr("listen")+"/slow", nil, "X-Stall", "1")
		d := time.Since(start)
		if st != 504 {
			t.Fatalf("status %d after %v, want 504 from the filter timeout: %s", st, d, b)
		}
		if d < 400*time.Millisecond || d > 4*time.Second {
			t.Errorf("504 after %v; want it at the 500ms filter timeout (not before, and before the 5s auth call timeout)", d)
		}
		if !strings.Contains(string(b), "timed out") {
			t.Errorf("504 body %q, want it to say the filter timed out", b)
		}
		if n := up.Count(); n != 0 {
			t.Errorf("upstream received %d requests, want none", n)
		}
		if v := goStat(t, m, "timeouts"); v < timeoutsBefore+1 {
			t.Errorf("/go timeouts %v, want >= %v", v, timeoutsBefore+1)
		}
	})
	t.Run("fail_open_passes", func(t *testing.T) {
		before := up.Count()
		st, _, b := httpDo(t, c, "GET", "http://"+m.Addr("listen2")+"/slow", nil, "X-Stall", "1", "X-User-Id", "mallory")
		if st != 200 {
			t.Fatalf("status %d, want 200 (fail_open passes the request on at the timeout): %s", st, b)
		}
		e := decodeEcho(t, b)
		if got := e.Header["X-User-Id"]; len(got) != 0 {
			t.Errorf("upstream got X-User-Id %q although auth never answered (the client's own must be removed)", got)
		}
		if up.Count() != before+1 {
			t.Errorf("upstream count %d, want %d", up.Count(), before+1)
		}
	})
	t.Run("auth_call_timeout_503", func(t *testing.T) {
		start := time.Now()
		st, _, b := httpDo(t, c, "GET", "http://"+m.Addr("listen3")+"/slow", nil, "X-Stall", "1")
		if st != 503 {
			t.Fatalf("status %d after %v, want 503 (the auth call's 300ms timeout, extauth fail_closed): %s", st, time.Since(start), b)
		}
	})
	// Nothing is stuck: moe answers an allowed request on the closed listener.
	if st, _, b := httpDo(t, c, "GET", "http://"+m.Addr("listen")+"/ok", nil, "Authorization", "Bearer good"); st != 200 {
		t.Fatalf("after the timeouts: status %d: %s", st, b)
	}
}

// TestGoExtAuthAuthDown: the auth service's port refuses connections.
// extauth on_error fail_closed answers 503 and the upstream gets nothing;
// fail_open lets the request through.
func TestGoExtAuthAuthDown(t *testing.T) {
	t.Parallel()
	requireGo(t)
	down := "http://" + closedPort(t) + "/check"
	up := startEcho(t, "up")
	m := startMoe(t, extauthYAML(1,
		extauthListener("closed", "listen", down, "", "\n          on_error: fail_closed"),
		extauthListener("open", "listen2", down, "", "\n          on_error: fail_open"),
	), "up", up.Addr)
	c := newClient()
	st, _, b := httpDo(t, c, "GET", "http://"+m.Addr("listen")+"/x", nil, "Authorization", "Bearer good")
	if st != 503 {
		t.Fatalf("fail_closed with the auth service down: status %d, want 503: %s", st, b)
	}
	if up.Count() != 0 {
		t.Fatalf("upstream received %d requests, want none", up.Count())
	}
	st, _, b = httpDo(t, c, "GET", "http://"+m.Addr("listen2")+"/x", nil, "Authorization", "Bearer good")
	if st != 200 {
		t.Fatalf("fail_open with the auth service down: status %d, want 200: %s", st, b)
	}
	if up.Count() != 1 {
		t.Fatalf("upstream received %d requests, want 1", up.Count())
	}
}

// TestGoExtAuthClientCopiedHeaderRemoved: the client sends its own
// x-user-id (the header extauth copies from the auth answer). It never
// reaches the upstream: not when the auth service allows the request with
// no x-user-id of its own, not when the auth service is down and the filter
// fails open, in any spelling or count, over HTTP/1.1 and over h2c (issue
// 12, item 3). x_user_id is a spelling too: CGI-style upstreams (PHP,
// WSGI, Rack) read it as HTTP_X_USER_ID, the variable x-user-id fills.
func TestGoExtAuthClientCopiedHeaderRemoved(t *testing.T) {
	t.Parallel()
	requireGo(t)
	auth := startAuthServer(t, authHandler)
	down := "http://" + closedPort(t) + "/check"
	up := startEcho(t, "up")
	h2c := func(l string) string {
		return strings.Replace(l, "}}\"\n", "}}\"\n    http2: true\n", 1)
	}
	m := startMoe(t, extauthYAML(1,
		h2c(extauthListener("main", "listen", auth.URL, "", "")),
		h2c(extauthListener("open", "listen2", down, "", "\n          on_error: fail_open")),
	), "up", up.Addr)
	for _, tc := range []struct{ name, addr, authz string }{
		{"2xx_without_header", m.Addr("listen"), "Bearer nouser"},
		{"fail_open_auth_down", m.Addr("listen2"), "Bearer good"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			runHostileInputs(t, tc.addr, up, []hostileInput{
				{name: "two_spellings", method: "GET", path: "/private", authority: "app.test",
					headers: []string{"Authorization", tc.authz, "X-User-Id", "admin", "x-user-id", "root"},
					status:  200, upAbsent: []string{"X-User-Id"}},
				{name: "underscores", method: "GET", path: "/private", authority: "app.test",
					headers: []string{"Authorization", tc.authz, "X_User_Id", "admin", "x-user_id", "root"},
					status:  200, upAbsent: []string{"X_User_Id", "X-User_id"}},
			})
		})
	}
}

// TestGoAsyncClientResetWhilePending: clients whose requests wait on a
// stalled auth service go away (RST or FIN) while Pending; moe keeps serving,
// never forwards the abandoned requests, the auth calls are cancelled, and
// GET /go goroutines come back near the baseline. Then clients that stay get
// 504 at the filter timeout, and the goroutines come back again.
func TestGoAsyncClientResetWhilePending(t *testing.T) {
	t.Parallel()
	requireGo(t)
	auth := startAuthServer(t, authHandler)
	up := startEcho(t, "up")
	m := startMoe(t, extauthYAML(2,
		extauthListener("reset", "listen", auth.URL, "\n        timeout: 20s", "\n          timeout: 20s"),
		extauthListener("short", "listen2", auth.URL, "\n        timeout: 1s", "\n          timeout: 20s"),
	), "up", up.Addr)
	addr := m.Addr("listen")
	c := newClient()
	for i := 0; i < 10; i++ {
		if st, _, b := httpDo(t, c, "GET", "http://"+addr+"/warm", nil, "Authorization", "Bearer good"); st != 200 {
			t.Fatalf("warm-up: status %d: %s", st, b)
		}
	}
	baseline := stableGoStat(t, m, "goroutines")
	panics := goStat(t, m, "panics")
	t.Logf("baseline goroutines %v", baseline)
	const n = 16
	const margin = 8

	// Phase 1: clients leave while Pending.
	conns := make([]net.Conn, n)
	for i := range conns {
		conns[i] = dial(t, addr)
		fmt.Fprintf(conns[i], "GET /abandoned/%d HTTP/1.1\r\nHost: h\r\nX-Stall: 1\r\n\r\n", i)
	}
	if !waitFor(10*time.Second, func() bool { return auth.Active() == n }) {
		t.Fatalf("the auth service holds %d calls, want %d stalled", auth.Active(), n)
	}
	if g := goStat(t, m, "goroutines"); g < baseline+n {
		t.Logf("note: only %v goroutines with %d auth calls in flight", g, n)
	}
	for i, cn := range conns {
		if tc, ok := cn.(*net.TCPConn); ok && i%2 == 0 {
			tc.SetLinger(0) // even: RST
		}
		cn.Close() // odd: FIN
	}
	// moe serves new requests at once.
	if st, _, b := httpDo(t, newClient(), "GET", "http://"+addr+"/after-reset", nil, "Authorization", "Bearer good"); st != 200 {
		t.Fatalf("after the resets: status %d: %s", st, b)
	}
	// A stream's Context is cancelled when it ends, so the auth calls of
	// ended streams go away well before the 20s timeouts. Whatever is still
	// open after 5s, the auth service now answers.
	if !waitFor(5*time.Second, func() bool { return auth.Active() == 0 }) {
		t.Logf("note: %d of %d auth calls still open 5s after their clients left; the auth service answers them now", auth.Active(), n)
		auth.Release()
	}
	if !waitFor(10*time.Second, func() bool { return auth.Active() == 0 }) {
		t.Errorf("%d auth calls still open after the auth service answered", auth.Active())
	}
	if g, ok := waitGoroutinesNear(t, m, baseline, margin, 10*time.Second); !ok {
		t.Errorf("after the resets: %v goroutines, baseline %v (+%d allowed): leak", g, baseline, margin)
	}
	for _, r := range up.Requests() {
		var i int
		if _, err := fmt.Sscanf(r.Target, "/abandoned/%d", &i); err != nil {
			continue
		}
		if i%2 == 0 {
			t.Errorf("upstream received %s, whose client had reset the connection (RST) while Pending", r.Target)
		} else {
			t.Logf("note: upstream received %s, whose client had closed the connection (FIN) while Pending", r.Target)
		}
	}

	// Phase 2: clients stay; the 1s filter timeout answers 504.
	results := make(chan string, n)
	for i := 0; i < n; i++ {
		cn := dial(t, m.Addr("listen2"))
		go func(i int, cn net.Conn) {
			fmt.Fprintf(cn, "GET /timeout/%d HTTP/1.1\r\nHost: h\r\nX-Stall: hold\r\n\r\n", i)
			cn.SetReadDeadline(time.Now().Add(15 * time.Second))
			code, line, err := readStatusLine(bufio.NewReader(cn))
			if err != nil || code != 504 {
				results <- fmt.Sprintf("request %d: %q %v (want 504)", i, line, err)
			} else {
				results <- ""
			}
			cn.Close()
		}(i, cn)
	}
	for i := 0; i < n; i++ {
		if r := <-results; r != "" {
			t.Error(r)
		}
	}
	if !waitFor(10*time.Second, func() bool { return auth.Active() == 0 }) {
		t.Errorf("%d auth calls still open after the filter timeout (Context not cancelled at timeout?)", auth.Active())
	}
	if g, ok := waitGoroutinesNear(t, m, baseline, margin, 10*time.Second); !ok {
		t.Errorf("after the timeouts: %v goroutines, baseline %v (+%d allowed): leak", g, baseline, margin)
	}
	if st, _, b := httpDo(t, newClient(), "GET", "http://"+addr+"/final", nil, "Authorization", "Bearer good"); st != 200 {
		t.Fatalf("final request: status %d: %s", st, b)
	}
	if p := goStat(t, m, "panics"); p != panics {
		t.Errorf("/go panics went from %v to %v", panics, p)
	}
	if m.Exited() {
		t.Fatal("moe exited")
	}
}
