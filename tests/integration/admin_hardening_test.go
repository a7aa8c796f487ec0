package integration

// The admin listener defends itself like any listener (issue 12, item 8):
// size limits, timeouts, a connection cap, backpressure on pipelined
// requests, HEAD without a body, a Host check against DNS rebinding, and
// secrets redacted in /config_dump.

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"
)

// adminHardYAML: a short header timeout and idle timeout so the tests do
// not wait long; a small connection cap.
const adminHardYAML = `admin:
  address: "{{admin}}"
  allowed_hosts: [admin.internal]
  max_connections: 8
  timeouts: {request_headers: 500ms, idle: 1s}
log: {level: debug, access_log: "off"}
listeners:
  - name: main
    address: "{{listen}}"
    routes:
      - match: {prefix: /, headers: [{name: x-api-key, exact: "route-key-123"}]}
        direct_response: {status: 200, body: "ok\n", headers: {authorization: "Bearer direct-456"}}
      - match: {prefix: /}
        direct_response: {status: 200, body: "ok\n"}
`

func adminRaw(t *testing.T, m *Moe) (net.Conn, *bufio.Reader) {
	t.Helper()
	c := dial(t, m.Admin)
	return c, bufio.NewReader(c)
}

// TestAdminHugeRequestRefused: a request target of 64 MiB gets 414, header
// lines past 16 KiB get 431, and moe's memory stays where it was (before,
// the whole URL was buffered: 1,000 MiB of URL made 1.07 GB of RSS).
func TestAdminHugeRequestRefused(t *testing.T) {
	t.Parallel()
	m := startMoe(t, adminHardYAML)
	rss0, _ := m.RSS()
	for _, tc := range []struct {
		name   string
		status int
		head   string
		filler string
	}{
		{"target_414", 414, "GET /", "a"},
		{"headers_431", 431, "GET /ready HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: ", "b"},
		// What llhttp skips without a callback counts too (before: 64 MiB
		// of spaces before a value, or in the request line, were taken).
		{"value_whitespace_431", 431, "GET /ready HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big:", " "},
		{"request_line_spaces_431", 431, "GET", " "},
		{"blank_lines_431", 431, "", "\r\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, br := adminRaw(t, m)
			c.SetDeadline(time.Now().Add(30 * time.Second))
			if _, err := io.WriteString(c, tc.head); err != nil {
				t.Fatal(err)
			}
			// Write up to 64 MiB in the background; moe answers and closes
			// long before, so the writer's error is expected.
			go func() {
				chunk := []byte(strings.Repeat(tc.filler, 64<<10))
				for i := 0; i < 1024; i++ {
					if _, err := c.Write(chunk); err != nil {
						return
					}
				}
			}()
			st, line, err := readStatusLine(br)
			if err != nil {
				t.Fatalf("no status line (%v): %q", err, line)
			}
			if st != tc.status {
				t.Fatalf("status %d (%q), want %d", st, line, tc.status)
			}
			expectClosed(t, c, br, 10*time.Second)
		})
	}
	adminStillBounded(t, m, rss0, "after the huge requests")
}

// adminStillBounded: moe's RSS grew by at most 64 MiB since rss0 (a
// generous bound: the attacks grew it by a GiB or more) and /ready still
// answers.
func adminStillBounded(t *testing.T, m *Moe, rss0 int64, when string) {
	t.Helper()
	if rss, _ := m.RSS(); rss > rss0+64<<20 {
		t.Errorf("RSS %d MiB %s, was %d MiB", rss>>20, when, rss0>>20)
	}
	if st, _ := m.adminGet(t, "/ready"); st != 200 {
		t.Errorf("/ready %s: %d", when, st)
	}
}

// TestAdminPipelinedWithoutReadingBounded: a client writes 200,000
// pipelined GET /config_dump requests and reads nothing. moe stops reading
// once its answers queue up (backpressure), so memory stays bounded (before:
// 1.94 GB), the writer blocks, and moe keeps serving others.
func TestAdminPipelinedWithoutReadingBounded(t *testing.T) {
	t.Parallel()
	m := startMoe(t, adminHardYAML)
	rss0, _ := m.RSS()
	c, _ := adminRaw(t, m)
	req := "GET /config_dump HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
	batch := []byte(strings.Repeat(req, 1000))
	var wrote int
	done := make(chan struct{})
	go func() {
		defer close(done)
		c.SetWriteDeadline(time.Now().Add(5 * time.Second))
		for i := 0; i < 200; i++ {
			n, err := c.Write(batch)
			wrote += n
			if err != nil {
				return // the write deadline: moe stopped reading
			}
		}
	}()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("writer still running after 30s")
	}
	if wrote >= 200*len(batch) {
		t.Errorf("moe read all %d bytes of pipelined requests without the answers being read: no backpressure", wrote)
	}
	adminStillBounded(t, m, rss0, "while a client does not read its pipelined answers")
}

// TestAdminStalledConnectionsClosed: a connection that sends nothing, one
// that stops inside its headers and one idle after an answer are closed
// after admin.timeouts (500ms, 1s); the waits below only bound the wait.
// Connections past admin.max_connections (8) are closed at once.
func TestAdminStalledConnectionsClosed(t *testing.T) {
	t.Parallel()
	m := startMoe(t, adminHardYAML)
	var wg sync.WaitGroup
	for _, tc := range []struct{ name, send string }{
		{"silent", ""},
		{"partial_headers", "GET /ready HTTP/1.1\r\nHost: 127.0.0.1\r\n"},
		{"idle_after_answer", "GET /ready HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"},
	} {
		c, br := adminRaw(t, m)
		io.WriteString(c, tc.send)
		if strings.HasSuffix(tc.send, "\r\n\r\n") {
			if r := readResponse(t, br, "GET"); r.Status != 200 {
				t.Fatalf("%s: status %d", tc.name, r.Status)
			}
		}
		wg.Add(1)
		go func(name string) {
			defer wg.Done()
			// 3 s: the configured 500 ms / 1 s, not the 10 s / 60 s defaults.
			t.Run(name, func(t *testing.T) { expectClosed(t, c, br, 3*time.Second) })
		}(tc.name)
	}
	wg.Wait()

	// The cap: 8 open (silent) connections are kept, the 9th is closed
	// without an answer.
	var held []net.Conn
	for i := 0; i < 8; i++ {
		c, _ := adminRaw(t, m)
		held = append(held, c)
	}
	time.Sleep(100 * time.Millisecond) // let moe accept them
	c, br := adminRaw(t, m)
	io.WriteString(c, "GET /ready HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
	// Closed at once: an EOF or a reset well within the bound, not a read
	// timeout (a connection left open would pass a plain err != nil).
	c.SetReadDeadline(time.Now().Add(2 * time.Second))
	if b, err := br.ReadByte(); err == nil {
		t.Errorf("connection over admin.max_connections answered (first byte %q), want it closed", b)
	} else if !isClosedErr(err) {
		t.Errorf("connection over admin.max_connections: %v, want it closed at once", err)
	}
	for _, h := range held {
		h.Close()
	}
	// moe notices the closes on its next loop turn: until then the cap may
	// still refuse (a reset), so the probe retries rather than fails.
	if !waitFor(10*time.Second, func() bool {
		resp, err := newClient().Get("http://" + m.Addr("admin") + "/ready")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == 200
	}) {
		t.Error("admin does not answer after the held connections closed")
	}
}

// TestAdminHeadHasNoBody: HEAD gets GET's headers (Content-Length of the
// GET body) and no body; the next request on the connection is in sync.
func TestAdminHeadHasNoBody(t *testing.T) {
	t.Parallel()
	m := startMoe(t, adminHardYAML)
	_, getBody := m.adminGet(t, "/config_dump")
	c, br := adminRaw(t, m)
	io.WriteString(c, "HEAD /config_dump HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\nGET /ready HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
	head := readRawResponse(t, br, "HEAD")
	if head.Status != 200 {
		t.Fatalf("HEAD status %d", head.Status)
	}
	if got := head.Header.Get("Content-Length"); got != fmt.Sprint(len(getBody)) {
		t.Errorf("HEAD Content-Length %q, want GET's %d", got, len(getBody))
	}
	// If HEAD had carried a body, this would read its first bytes as the
	// status line.
	next := readRawResponse(t, br, "GET")
	if next.Status != 200 || string(next.Body) != "ready\n" {
		t.Errorf("request after HEAD: %d %q (HEAD sent a body?)", next.Status, next.Body)
	}
}

// TestAdminErrorToHeadHasNoBody: the answers moe gives instead of the
// endpoint (414, 431, 403, 400 on a malformed request after the method)
// have no body for a HEAD request either (RFC 9110 9.3.2): before, the
// limit answers carried their reason as a body, which a HEAD client reads
// as the start of the next response. Found by admin_fuzz.
func TestAdminErrorToHeadHasNoBody(t *testing.T) {
	t.Parallel()
	m := startMoe(t, adminHardYAML)
	for _, tc := range []struct {
		name   string
		status int
		req    string
	}{
		{"target_414", 414, "HEAD /" + strings.Repeat("a", 9000) + " HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"},
		{"headers_431", 431, "HEAD /ready HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: " + strings.Repeat("b", 17000) + "\r\n\r\n"},
		{"bad_header_400", 400, "HEAD /ready HTTP/1.1\r\nHost: 127.0.0.1\r\nX: \x01\r\n\r\n"},
		{"host_403", 403, "HEAD /stats HTTP/1.1\r\nHost: evil.example\r\n\r\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, br := adminRaw(t, m)
			c.SetDeadline(time.Now().Add(10 * time.Second))
			go io.WriteString(c, tc.req)
			r := readRawResponse(t, br, "HEAD")
			if r.Status != tc.status {
				t.Fatalf("status %d, want %d", r.Status, tc.status)
			}
			if tc.status == 403 { // keep-alive: the next answer must follow the head at once
				io.WriteString(c, "GET /ready HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
				if next := readRawResponse(t, br, "GET"); next.Status != 200 || string(next.Body) != "ready\n" {
					t.Fatalf("request after the HEAD: %d %q (a body after the 403's head?)", next.Status, next.Body)
				}
				return
			}
			rest, _ := io.ReadAll(br)
			if len(rest) != 0 {
				t.Fatalf("%d bytes after the head of a %d to HEAD: %q", len(rest), tc.status, rest)
			}
		})
	}
}

// TestAdminHostChecked: a Host that is not loopback, the admin address or
// in admin.allowed_hosts gets 403 (DNS rebinding: a page on evil.example
// whose name now resolves to 127.0.0.1); loopback names and addresses, the
// admin address and allowed_hosts pass.
func TestAdminHostChecked(t *testing.T) {
	t.Parallel()
	m := startMoe(t, adminHardYAML)
	for host, want := range map[string]int{
		"evil.example":              403,
		"evil.example:" + port(m):   403,
		"127.0.0.1.evil.example":    403,
		"localhost":                 200,
		"LOCALHOST:" + port(m):      200,
		"127.0.0.1":                 200,
		"127.5.6.7":                 200,
		"[::1]:" + port(m):          200,
		m.Admin:                     200,
		"admin.internal":            200,
		"Admin.Internal:" + port(m): 200,
	} {
		c, br := adminRaw(t, m)
		fmt.Fprintf(c, "GET /config_dump HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n", host)
		r := readRawResponse(t, br, "GET")
		if r.Status != want {
			t.Errorf("Host %q: status %d, want %d", host, r.Status, want)
		}
		if want == 403 && strings.Contains(string(r.Body), "listeners") {
			t.Errorf("Host %q: 403 carries the config", host)
		}
	}
}

func port(m *Moe) string {
	_, p, _ := net.SplitHostPort(m.Admin)
	return p
}

// TestAdminConfigDumpRedactsSecrets: values under secret-looking keys in
// filter configs, route header matches and direct_response headers with a
// secret-looking name, and fields a filter marked with api.SecretFields
// (the testfilters plugin marks test_reply's body) are dumped as
// "[redacted]"; the rest is as configured.
func TestAdminConfigDumpRedactsSecrets(t *testing.T) {
	t.Parallel()
	requireGo(t)
	p := testPlugins(t)
	m := startMoe(t, goYAMLPlugins(p.TestFilters)+`admin: {address: "{{admin}}"}
log: {level: info, access_log: "off"}
listeners:
  - name: main
    address: "{{listen}}"
    filters:
      - name: headers
        config:
          request_set: {x-client-secret: "hs-secret-789", x-plain: "visible-1"}
      - name: extauth
        config:
          url: "http://127.0.0.1:1/check"
          forward_headers: [authorization]
      - name: test_reply
        config: {status: 403, body: "sdk-secret-body"}
    routes:
      - match: {prefix: /, headers: [{name: x-api-key, exact: "route-key-123"}]}
        direct_response: {status: 200, body: "ok\n", headers: {authorization: "Bearer direct-456", x-plain: "visible-2"}}
`)
	st, body := m.adminGet(t, "/config_dump")
	if st != 200 {
		t.Fatalf("/config_dump %d", st)
	}
	var v any
	if err := json.Unmarshal([]byte(body), &v); err != nil {
		t.Fatalf("/config_dump is not JSON after redaction: %v\n%s", err, body)
	}
	for _, secret := range []string{"hs-secret-789", "route-key-123", "Bearer direct-456", "sdk-secret-body"} {
		if strings.Contains(body, secret) {
			t.Errorf("/config_dump shows %q", secret)
		}
	}
	for _, shown := range []string{"visible-1", "visible-2", `"x-client-secret":"[redacted]"`, `"body":"[redacted]"`,
		`"forward_headers":["authorization"]`, `"status":403`} {
		if !strings.Contains(body, shown) {
			t.Errorf("/config_dump lacks %s:\n%s", shown, body)
		}
	}
}

// TestAdminUpgradeAndHostWhitespace: an Upgrade request gets its one answer
// and the connection closes (a second "400 Pause on CONNECT/Upgrade"
// followed it); a Host with trailing whitespace is the same host.
func TestAdminUpgradeAndHostWhitespace(t *testing.T) {
	t.Parallel()
	m := startMoe(t, adminHardYAML)
	c, br := adminRaw(t, m)
	io.WriteString(c, "GET /ready HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\nraw bytes")
	if r := readRawResponse(t, br, "GET"); r.Status != 200 {
		t.Fatalf("Upgrade to /ready: status %d", r.Status)
	}
	c.SetReadDeadline(time.Now().Add(3 * time.Second))
	rest, err := io.ReadAll(br)
	if len(rest) != 0 || !isClosedErr(err) && err != nil {
		t.Fatalf("after the answer: %q, %v; want the connection closed with nothing more", rest, err)
	}
	c2, br2 := adminRaw(t, m)
	io.WriteString(c2, "GET /ready HTTP/1.1\r\nHost: localhost \t\r\n\r\n")
	if r := readRawResponse(t, br2, "GET"); r.Status != 200 {
		t.Fatalf("Host with trailing whitespace: status %d, want 200", r.Status)
	}
}

// TestAdminNotOnLoopbackWarns: the admin listener has no authentication,
// so moe warns at startup when it is bound to an address that is not
// loopback (docs/security.md), naming the address, and says nothing when
// it is: 127.0.0.0/8, ::1, an IPv4-mapped ::ffff:127.x, localhost.
func TestAdminNotOnLoopbackWarns(t *testing.T) {
	t.Parallel()
	const yaml = `admin: {address: "{{admin}}"}
log: {level: info, access_log: "off"}
listeners:
  - name: main
    address: "{{listen}}"
    routes:
      - match: {prefix: /}
        direct_response: {status: 200}
`
	_, noV6 := freePortOn("[::1]")
	for _, tc := range []struct {
		name string
		host string // the admin address is host:PORT
		warn string // the address the warning names ("" = no warning)
		v6   bool
	}{
		{"any_v4", "0.0.0.0", "0.0.0.0", false},
		{"any_v6", "[::]", "[::]", true},
		{"loopback_v4", "127.0.0.1", "", false},
		{"loopback_v4_not_first", "127.0.0.2", "", false},
		{"loopback_v6", "[::1]", "", true},
		{"loopback_v4_mapped", "[::ffff:127.0.0.1]", "", true},
		{"localhost", "localhost", "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if tc.v6 && noV6 != nil {
				t.Skipf("no IPv6 loopback: %v", noV6)
			}
			probe := freePort(t)
			if tc.host == "[::1]" || tc.host == "[::]" {
				probe, _ = freePortOn("[::1]") // a port free on ::1
			}
			_, p, _ := net.SplitHostPort(probe)
			m := startMoe(t, yaml, "admin", tc.host+":"+p)
			m.Stop() // its stderr is complete
			log := readFileString(m.Stderr)
			got := strings.Contains(log, "not on loopback")
			switch {
			case tc.warn != "" && !strings.Contains(log, "admin listener on "+tc.warn+":"+p+" is not on loopback"):
				t.Errorf("admin on %s:%s: no warning naming %s:%s; stderr:\n%s", tc.host, p, tc.warn, p, log)
			case tc.warn == "" && got:
				t.Errorf("admin on %s:%s (loopback): warned anyway; stderr:\n%s", tc.host, p, log)
			}
		})
	}
}
