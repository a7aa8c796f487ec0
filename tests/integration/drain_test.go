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
