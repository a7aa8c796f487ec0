package integration

import (
	"bufio"
	"fmt"
	"net"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestH1DrainServesRequestsAlreadySent: a request that sits in an idle
// keep-alive connection's socket when the drain starts is answered (with
// Connection: close), not dropped with an EOF: the client cannot tell
// whether a dropped request ran.
//
// The worker is held busy (test_stall sleeps on it) while SIGTERM is taken
// and the requests are written, so when it wakes up the drain message is
// ahead of the requests: each is in its socket, unread, when the drain
// reaches its connection.
func TestH1DrainServesRequestsAlreadySent(t *testing.T) {
	requireGo(t)
	p := testPlugins(t)
	up := startEcho(t, "up")
	m := startMoe(t, pluginYAML(1, []string{p.TestFilters}, [3]string{"main", "listen", "      - name: test_stall"}), "up", up.Addr)
	const n = 32
	conns := make([]net.Conn, n)
	readers := make([]*bufio.Reader, n)
	for i := range conns {
		conns[i] = dial(t, m.Addr("listen"))
		readers[i] = bufio.NewReader(conns[i])
		fmt.Fprintf(conns[i], "GET /first/%d HTTP/1.1\r\nHost: h\r\n\r\n", i)
		if r := readRawResponse(t, readers[i], "GET"); r.Status != 200 {
			t.Fatalf("conn %d: first request: status %d", i, r.Status)
		}
	}
	// Idle now. Hold the worker.
	stall := dial(t, m.Addr("listen"))
	stallBr := bufio.NewReader(stall)
	fmt.Fprintf(stall, "GET /stall HTTP/1.1\r\nHost: h\r\nX-Stall-Ms: 1500\r\n\r\n")
	if !waitFor(5*time.Second, func() bool { return up.Count() == n || up.Count() == n+1 }) {
		t.Fatalf("upstream count %d", up.Count())
	}
	time.Sleep(200 * time.Millisecond) // the stall request reached the filter
	m.Signal(syscall.SIGTERM)
	if !waitFor(5*time.Second, func() bool { return strings.Contains(readFileString(m.Stderr), "draining") }) {
		t.Fatalf("moe did not log the drain")
	}
	for i, c := range conns {
		fmt.Fprintf(c, "GET /second/%d HTTP/1.1\r\nHost: h\r\n\r\n", i)
	}
	lost := 0
	for i := range conns {
		conns[i].SetReadDeadline(time.Now().Add(15 * time.Second))
		line, err := readers[i].ReadString('\n')
		if err != nil {
			lost++
			continue
		}
		if !strings.HasPrefix(line, "HTTP/1.1 200") {
			t.Errorf("conn %d: second request: %q", i, line)
			continue
		}
		// The answer says the connection closes after it.
		closing := false
		for {
			h, err := readers[i].ReadString('\n')
			if err != nil || h == "\r\n" {
				break
			}
			closing = closing || strings.EqualFold(strings.TrimSpace(h), "connection: close")
		}
		if !closing {
			t.Errorf("conn %d: the answer during the drain has no Connection: close", i)
		}
	}
	if lost > 0 {
		t.Errorf("%d of %d requests already in their sockets got no answer (EOF) at the drain", lost, n)
	}
	if r := readRawResponse(t, stallBr, "GET"); r.Status != 200 {
		t.Errorf("stalled request: status %d", r.Status)
	}
	m.WaitExit(20 * time.Second)
}

// TestH2cDrainServesRequestsAlreadySent: the h2c (prior knowledge) version
// of TestH1DrainServesRequestsAlreadySent. A fresh connection on an
// http2 listener, whose preface and request are already in its socket when
// the drain reaches it, is read (start_drain sees the bytes), sniffed as
// HTTP/2 during the drain, and drains as an h2 connection: its request is
// answered, moe sends GOAWAY (NO_ERROR) and closes it. Before, the idle
// connection was closed at the drain (EOF, no answer); a connection
// sniffed during a drain did not drain (no GOAWAY: it stayed open until
// drain_timeout).
func TestH2cDrainServesRequestsAlreadySent(t *testing.T) {
	requireGo(t)
	p := testPlugins(t)
	up := startEcho(t, "up")
	yaml := strings.Replace(pluginYAML(1, []string{p.TestFilters}, [3]string{"main", "listen", "      - name: test_stall"}),
		"    address: \"{{listen}}\"\n", "    address: \"{{listen}}\"\n    http2: true\n", 1)
	yaml = strings.Replace(yaml, "workers: 1\n", "workers: 1\ndrain_timeout: 30s\n", 1)
	// The stall request connects upstream right after the worker slept
	// 1.5 s in the filter: with the default 1 s, libuv's loop time (not
	// updated during the sleep) expires that connect at once (502).
	yaml += "    connect_timeout: 5s\n"
	m := startMoe(t, yaml, "up", up.Addr)
	const n = 8
	conns := make([]net.Conn, n)
	for i := range conns {
		conns[i] = dial(t, m.Addr("listen")) // nothing sent yet: not sniffed
	}
	time.Sleep(200 * time.Millisecond) // accepted by the idle worker
	// Hold the worker.
	stall := dial(t, m.Addr("listen"))
	stallBr := bufio.NewReader(stall)
	fmt.Fprintf(stall, "GET /stall HTTP/1.1\r\nHost: h\r\nX-Stall-Ms: 1500\r\n\r\n")
	time.Sleep(200 * time.Millisecond) // the stall request reached the filter
	start := time.Now()
	m.Signal(syscall.SIGTERM)
	if !waitFor(5*time.Second, func() bool { return strings.Contains(readFileString(m.Stderr), "draining") }) {
		t.Fatalf("moe did not log the drain")
	}
	for i, c := range conns {
		b := append([]byte(h2Preface), appendFrame(nil, frameSettings, 0, 0, nil)...)
		b = appendFrame(b, frameHeaders, flagEndHeaders|flagEndStream, 1, requestBlock("GET", fmt.Sprintf("/second/%d", i), "h2.test"))
		if _, err := c.Write(b); err != nil {
			t.Fatalf("conn %d: write: %v", i, err)
		}
	}
	lost, noGoaway := 0, 0
	deadline := time.Now().Add(10 * time.Second) // for all of them together
	for i, c := range conns {
		h := &h2Raw{t: t, c: c, br: bufio.NewReaderSize(c, 64<<10)}
		var goaway *h2Frame
		ex, _, err := h.readUntil(max(time.Until(deadline), 100*time.Millisecond), func(f h2Frame, ex map[uint32]*h2Exchange) bool {
			if f.Type == frameGoaway {
				g := f
				goaway = &g
			}
			e := ex[1]
			return goaway != nil && e != nil && (e.Ended || e.Reset != 0)
		})
		e := ex[1]
		if e == nil || !e.Ended || e.Reset != 0 || e.Headers == 0 {
			lost++
			t.Logf("conn %d: stream 1 %+v, GOAWAY %v, err %v", i, e, goaway != nil, err)
			continue
		}
		if want := fmt.Sprintf("/second/%d", i); !strings.Contains(string(e.Body), want) {
			t.Errorf("conn %d: body %q, want the echo of %s", i, e.Body, want)
		}
		if goaway == nil {
			noGoaway++
			t.Logf("conn %d: answered, no GOAWAY within 10s (%v)", i, err)
			continue
		}
		if last, code := goawayCode(*goaway); code != errCodeNo || last < 1 {
			t.Errorf("conn %d: GOAWAY last stream %d code %d, want NO_ERROR covering stream 1", i, last, code)
		}
		expectClosed(t, c, h.br, 5*time.Second)
	}
	if lost > 0 {
		t.Errorf("%d of %d h2c requests already in their sockets got no answer at the drain", lost, n)
	}
	if noGoaway > 0 {
		t.Errorf("%d of %d h2c connections answered during the drain got no GOAWAY", noGoaway, n)
	}
	if r := readRawResponse(t, stallBr, "GET"); r.Status != 200 {
		t.Errorf("stalled request: status %d: %s", r.Status, r.Body)
	}
	for _, c := range conns {
		c.Close()
	}
	m.WaitExit(20 * time.Second)
	if d := time.Since(start); d > 15*time.Second {
		t.Errorf("moe took %v to drain (drain_timeout 30s): a connection did not drain", d)
	}
}
