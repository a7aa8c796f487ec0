package integration

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestRequestHeadersTimeout408: a client that sends part of a header block
// and stalls gets 408 and the connection is closed; the upstream sees nothing.
func TestRequestHeadersTimeout408(t *testing.T) {
	t.Parallel()
	up := startEcho(t, "up")
	m := startMoe(t, upYAML(`    timeouts: {request_headers: 1s, idle: 30s}
`), "up", up.Addr)
	c := dial(t, m.Addr("listen"))
	fmt.Fprintf(c, "GET /slowloris HTTP/1.1\r\nHost: h\r\nX-Partial: abc")
	br := bufio.NewReader(c)
	c.SetReadDeadline(time.Now().Add(8 * time.Second))
	code, line, err := readStatusLine(br)
	if err != nil {
		t.Fatalf("stalled header block: no 408 within 8s (request_headers: 1s): %v %q", err, line)
	}
	if code != 408 {
		t.Fatalf("status %d (%q), want 408", code, line)
	}
	expectClosed(t, c, br, 5*time.Second)
	if up.BytesIn() != 0 {
		t.Fatalf("upstream received %d bytes of an incomplete request", up.BytesIn())
	}
	if st, _, _ := httpGet(t, m.URL("/after")); st != 200 {
		t.Fatalf("after the 408: status %d", st)
	}
}

// TestIdleTimeoutClosesKeepAlive: a keep-alive connection that stays idle
// longer than timeouts.idle is closed by moe (it was usable before).
func TestIdleTimeoutClosesKeepAlive(t *testing.T) {
	t.Parallel()
	up := startEcho(t, "up")
	m := startMoe(t, upYAML(`    timeouts: {request_headers: 10s, idle: 1s}
`), "up", up.Addr)
	c := dial(t, m.Addr("listen"))
	br := bufio.NewReader(c)
	for i := 0; i < 2; i++ {
		fmt.Fprintf(c, "GET /idle/%d HTTP/1.1\r\nHost: h\r\n\r\n", i)
		if resp := readResponse(t, br, "GET"); resp.Status != 200 {
			t.Fatalf("request %d: status %d", i, resp.Status)
		}
	}
	expectClosed(t, c, br, 8*time.Second)
}

// TestBlankLinesDoNotHoldIdleConnection: CRLFs between requests are
// skipped (RFC 9112 2.2) but do not restart the idle timer: a client
// trickling them is closed at the idle timeout (before, each read of blank
// lines re-armed it, and such a client held its connection for ever).
func TestBlankLinesDoNotHoldIdleConnection(t *testing.T) {
	t.Parallel()
	up := startEcho(t, "up")
	m := startMoe(t, upYAML(`    timeouts: {request_headers: 10s, idle: 1s}
`), "up", up.Addr)
	c := dial(t, m.Addr("listen"))
	br := bufio.NewReader(c)
	fmt.Fprintf(c, "GET /first HTTP/1.1\r\nHost: h\r\n\r\n")
	if resp := readResponse(t, br, "GET"); resp.Status != 200 {
		t.Fatalf("status %d", resp.Status)
	}
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		for {
			select {
			case <-stop:
				return
			case <-time.After(200 * time.Millisecond):
				if _, err := io.WriteString(c, "\r\n"); err != nil {
					return
				}
			}
		}
	}()
	start := time.Now()
	expectClosed(t, c, br, 8*time.Second)
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("closed after %v; the idle timeout is 1s", d)
	}
}

// TestRouteTimeoutSlowUpstream504: the route timeout expires before the slow
// upstream answers: 504, and moe keeps serving.
func TestRouteTimeoutSlowUpstream504(t *testing.T) {
	t.Parallel()
	slow := startUpstream(t, "slow", slowHandler(3*time.Second))
	fast := startEcho(t, "fast")
	m := startMoe(t, yamlMain+`    routes:
      - match: {prefix: /slow}
        cluster: slow
        timeout: 500ms
      - match: {prefix: /}
        cluster: fast
clusters:
  - name: slow
    endpoints: ["{{slow}}"]
  - name: fast
    endpoints: ["{{fast}}"]
`, "slow", slow.Addr, "fast", fast.Addr)
	st, _, body := httpGet(t, m.URL("/slow"))
	if st != 504 {
		t.Fatalf("slow upstream with route timeout 500ms: status %d (%q), want 504", st, truncate(body, 200))
	}
	if st, _, _ := httpGet(t, m.URL("/fast")); st != 200 {
		t.Fatalf("after the 504: status %d", st)
	}
}

// TestH1UnreadSocketSendTimeout: an HTTP/1 client that pipelines requests
// for big responses and never reads: moe's output for it fills and stays
// full; after timeouts.send without a drain the connection is closed and
// the upstream request ended (before, HTTP/1 had no send timeout: both
// connections lived as long as the client liked).
func TestH1UnreadSocketSendTimeout(t *testing.T) {
	t.Parallel()
	up := bigUpstream(t)
	m := startMoe(t, upYAML("    timeouts: {send: 1s}\n"), "up", up.Addr)
	c := dial(t, m.Addr("listen"))
	defer c.Close()
	const n = 8 // 64 MiB of responses: far more than the socket buffers take
	var b strings.Builder
	for i := 0; i < n; i++ {
		b.WriteString("GET /big HTTP/1.1\r\nHost: h\r\n\r\n")
	}
	if _, err := io.WriteString(c, b.String()); err != nil {
		t.Fatal(err)
	}
	expectClosedAfterStall(t, c, up, n)
	if st, _, _ := httpGet(t, m.URL("/small")); st != 200 {
		t.Errorf("normal client: %d", st)
	}
}

// TestH1SlowReaderNotCutBySendTimeout: a client that reads steadily but
// slowly (about 160 KB/s, small reads) keeps its download with
// timeouts.send: 1s: the timeout counts from the last byte written, not
// from when the output went full (a review saw 150 KB/s readers cut at the
// timeout: the kernel's send buffer frees room only in large steps, so the
// output stayed above the low watermark for seconds). This test passes on
// the binary from before that fix too (the cut was seen with four
// concurrent readers and a Python upstream, and not reproduced here): it
// holds the rule, it does not prove the fix.
func TestH1SlowReaderNotCutBySendTimeout(t *testing.T) {
	t.Parallel()
	up := bigUpstream(t)
	m := startMoe(t, upYAML("    timeouts: {send: 1s}\n"), "up", up.Addr)
	// A small receive buffer, as a review's clients had: the kernel's
	// send buffer on moe's side then frees room in large steps, seconds
	// apart at this rate.
	c := dialSmallRcvbuf(t, m.Addr("listen"))
	defer c.Close()
	io.WriteString(c, "GET /big HTTP/1.1\r\nHost: h\r\n\r\n")
	c.SetReadDeadline(time.Now().Add(30 * time.Second))
	buf := make([]byte, 16<<10)
	var got int64
	for got < 2<<20 {
		n, err := c.Read(buf)
		got += int64(n)
		if err != nil {
			t.Fatalf("cut after %d bytes of a steady 160 KB/s read: %v", got, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// dialSmallRcvbuf dials addr with a 16 KiB receive buffer: a client that
// reads slowly, or not at all, fills it fast, and moe's side of the
// socket then frees room in large steps.
func dialSmallRcvbuf(t testing.TB, addr string) net.Conn {
	t.Helper()
	d := net.Dialer{Control: func(_, _ string, rc syscall.RawConn) error {
		return rc.Control(func(fd uintptr) { syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 16<<10) })
	}}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	return c
}
