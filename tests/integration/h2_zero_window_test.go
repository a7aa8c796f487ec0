package integration

// HTTP/2 clients that open many streams for big responses and never open
// their flow-control windows (SETTINGS_INITIAL_WINDOW_SIZE 0): moe must not
// buffer what the upstream sends for them (memory), must not hold their
// upstream connections forever (timeouts.send), and must give the memory
// back when they go.

import (
	"bufio"
	"encoding/binary"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// dialH2ZeroWindow is dialH2 with SETTINGS_INITIAL_WINDOW_SIZE 0: moe may
// send no DATA on any stream until a WINDOW_UPDATE that never comes.
func dialH2ZeroWindow(t testing.TB, addr string) *h2Raw {
	t.Helper()
	c := dial(t, addr)
	h := &h2Raw{t: t, c: c}
	h.br = bufio.NewReaderSize(c, 64<<10)
	settings := binary.BigEndian.AppendUint16(nil, 0x4) // SETTINGS_INITIAL_WINDOW_SIZE
	settings = binary.BigEndian.AppendUint32(settings, 0)
	if _, err := c.Write(append([]byte(h2Preface), appendFrame(nil, frameSettings, 0, 0, settings)...)); err != nil {
		t.Fatalf("write preface: %v", err)
	}
	return h
}

// (u *upstream) open is the number of connections the upstream has open.
func (u *upstream) open() int {
	u.mu.Lock()
	defer u.mu.Unlock()
	return len(u.conns)
}

// bigUpstream answers /big with 8 MiB (chunked, generated), anything else
// with the echo.
func bigUpstream(t *testing.T) *upstream {
	return startUpstream(t, "big", func(c *upConn, r *upReq) bool {
		if r.Target == "/big" {
			return chunkedStreamHandler(8<<20)(c, r)
		}
		return echoHandler(c, r)
	})
}

// zeroWindowStreams opens n streams for /big on h and waits for their
// response HEADERS (not flow-controlled, so they arrive).
func zeroWindowStreams(t *testing.T, h *h2Raw, n int) {
	t.Helper()
	var b []byte
	for i := 0; i < n; i++ {
		b = appendFrame(b, frameHeaders, flagEndHeaders|flagEndStream, uint32(1+2*i), requestBlock("GET", "/big", "h2.test"))
	}
	h.write(b)
	got := 0
	_, frames, err := h.readUntil(30*time.Second, func(f h2Frame, ex map[uint32]*h2Exchange) bool {
		if f.Type == frameHeaders {
			got++
		}
		return got == n || f.Type == frameGoaway
	})
	if err != nil || got != n {
		t.Fatalf("%d of %d response HEADERS (%d frames): %v", got, n, len(frames), err)
	}
	for _, f := range frames {
		if f.Type == frameData && len(f.Payload) > 0 {
			t.Fatalf("DATA on a zero window: %s", f)
		}
	}
}

// TestH2cZeroWindowStreamsMemoryBounded: 8 connections with
// SETTINGS_INITIAL_WINDOW_SIZE 0 and 100 streams each for an 8 MiB
// response. moe reads from each upstream only what it may send (a little
// more: one read), so its RSS grows by far less than 800 streams x its
// 256 KiB stream watermark; a normal client still gets its answers; when
// the zero-window clients go, their upstream connections close and moe's
// RSS comes back down (malloc_trim after large buffers were freed).
func TestH2cZeroWindowStreamsMemoryBounded(t *testing.T) {
	// In the ASan build freed memory waits in ASan's quarantine: this moe
	// gets none, so RSS counts what it holds (later ASAN_OPTIONS entries
	// win; other builds ignore the variable). Not parallel, so no other
	// test's moe inherits it.
	asanOpts := "quarantine_size_mb=0"
	if v := os.Getenv("ASAN_OPTIONS"); v != "" {
		asanOpts = v + ":" + asanOpts
	}
	t.Setenv("ASAN_OPTIONS", asanOpts)
	up := bigUpstream(t)
	m := startMoe(t, h2YAML(1, up.Addr))
	warmMoe(t, m)
	rss0, _ := m.RSS()
	const conns, streams = 8, 100
	var hs []*h2Raw
	for i := 0; i < conns; i++ {
		h := dialH2ZeroWindow(t, m.Addr("listen"))
		defer h.c.Close()
		zeroWindowStreams(t, h, streams)
		hs = append(hs, h)
	}
	// (The warm-up's pooled connection serves one of the streams.)
	if !waitFor(20*time.Second, func() bool { return up.open() >= conns*streams }) {
		t.Fatalf("%d upstream connections open, want %d", up.open(), conns*streams)
	}
	time.Sleep(time.Second) // the upstreams keep writing: let moe take what it takes
	rss1, _ := m.RSS()
	t.Logf("moe VmRSS %d MiB -> %d MiB with %d zero-window streams", rss0>>20, rss1>>20, conns*streams)
	if grew := rss1 - rss0; grew > 128<<20 {
		t.Errorf("moe VmRSS grew by %d MiB for %d zero-window streams (limit 128 MiB): moe buffers what it cannot send",
			grew>>20, conns*streams)
	}
	if _, status := curlH2(t, m.URL("/small")); status != "2 200" {
		t.Errorf("normal client next to the zero-window ones: %q", status)
	}
	for _, h := range hs {
		h.c.Close()
	}
	// (One stays: the pooled connection of /small.)
	if !waitFor(20*time.Second, func() bool { return up.open() <= 1 }) {
		t.Fatalf("%d upstream connections still open after the clients went", up.open())
	}
	if !moeHasGo(t) {
		// The sanitizer build (the one without Go): ASan's allocator keeps
		// the pages it got, malloc_trim does not reach it.
		t.Logf("sanitizer build: not checking that the memory is given back")
		return
	}
	var rss2 int64
	waitFor(5*time.Second, func() bool { rss2, _ = m.RSS(); return rss2-rss0 < 32<<20 })
	t.Logf("moe VmRSS %d MiB after the clients went", rss2>>20)
	if rss2-rss0 >= 32<<20 {
		t.Errorf("moe VmRSS %d MiB after the clients went, %d MiB before them (limit +32 MiB): memory not given back",
			rss2>>20, rss0>>20)
	}
}

// TestH2cZeroWindowSendTimeout: a stream whose response cannot be sent
// for timeouts.send (the client's window stays shut) is reset with
// RST_STREAM(CANCEL) and its upstream connection closed; the connection
// and a normal client are served.
func TestH2cZeroWindowSendTimeout(t *testing.T) {
	t.Parallel()
	up := bigUpstream(t)
	m := startMoe(t, strings.Replace(h2YAML(1, up.Addr), "    http2: true\n", "    http2: true\n    timeouts: {send: 1s}\n", 1))
	h := dialH2ZeroWindow(t, m.Addr("listen"))
	defer h.c.Close()
	const n = 20
	zeroWindowStreams(t, h, n)
	start := time.Now()
	resets := 0
	ex, frames, err := h.readUntil(15*time.Second, func(f h2Frame, ex map[uint32]*h2Exchange) bool {
		if f.Type == frameRSTStream {
			resets++
		}
		return resets == n || f.Type == frameGoaway
	})
	if err != nil || resets != n {
		t.Fatalf("%d of %d streams reset (%d frames): %v", resets, n, len(frames), err)
	}
	d := time.Since(start)
	t.Logf("%d streams reset %v after their headers", n, d)
	if d < 500*time.Millisecond {
		t.Errorf("reset after %v, before timeouts.send (1s)", d)
	}
	for id, e := range ex {
		if e.Reset != errCodeCancel+1 {
			t.Errorf("stream %d: reset code %d, want CANCEL", id, int(e.Reset)-1)
		}
	}
	if !waitFor(10*time.Second, func() bool { return up.open() == 0 }) {
		t.Errorf("%d upstream connections still open after the resets", up.open())
	}
	// The same connection still serves a stream whose window it opens.
	h.get(1001, "/small")
	h.write(appendFrame(nil, frameWindowUpdate, 0, 1001, binary.BigEndian.AppendUint32(nil, 1<<20)))
	ex, _, err = h.readUntil(10*time.Second, func(f h2Frame, ex map[uint32]*h2Exchange) bool {
		return ex[1001] != nil && ex[1001].Ended || f.Type == frameGoaway
	})
	if err != nil || ex[1001] == nil || !ex[1001].Ended || ex[1001].Reset != 0 || !strings.Contains(string(ex[1001].Body), "/small") {
		t.Errorf("stream 1001 on the zero-window connection: %+v, %v", ex[1001], err)
	}
	if _, status := curlH2(t, m.URL("/small")); status != "2 200" {
		t.Errorf("normal client: %q", status)
	}
}

// expectClosedAfterStall: the client behind c asked for n big (8 MiB)
// responses and read nothing; after 4 s (timeouts.send is 1 s) moe must
// have closed it, with less than all of them sent, and ended the upstream
// connections behind it.
func expectClosedAfterStall(t *testing.T, c net.Conn, up *upstream, n int) {
	t.Helper()
	time.Sleep(4 * time.Second)
	// Now read: what moe had written, then the end of the connection.
	c.SetReadDeadline(time.Now().Add(20 * time.Second))
	got, err := io.Copy(io.Discard, c)
	t.Logf("read %d MiB after the stall, then %v", got>>20, err)
	if err != nil && !isClosedErr(err) {
		t.Fatalf("moe did not close the connection of a client that read nothing for 4 s (send: 1s): %v after %d bytes", err, got)
	}
	if got >= int64(n)*8<<20 {
		t.Fatalf("read %d bytes: all %d responses, the stall was never noticed", got, n)
	}
	if !waitFor(10*time.Second, func() bool { return up.open() == 0 }) {
		t.Errorf("%d upstream connections still open", up.open())
	}
}

// TestH2cUnreadSocketSendTimeout: a client that opens every window but
// never reads its socket: moe's output for it fills (kernel buffers, then
// the connection's 256 KiB) and stays full. After timeouts.send without a
// drain the connection is closed (a GOAWAY could not get through either),
// instead of living as long as the client likes with its buffers full;
// the upstream connections go too.
func TestH2cUnreadSocketSendTimeout(t *testing.T) {
	t.Parallel()
	up := bigUpstream(t)
	m := startMoe(t, strings.Replace(h2YAML(1, up.Addr), "    http2: true\n", "    http2: true\n    timeouts: {send: 1s}\n", 1))
	c := dial(t, m.Addr("listen"))
	defer c.Close()
	settings := binary.BigEndian.AppendUint16(nil, 0x4) // SETTINGS_INITIAL_WINDOW_SIZE
	settings = binary.BigEndian.AppendUint32(settings, 0x7fffffff)
	b := append([]byte(h2Preface), appendFrame(nil, frameSettings, 0, 0, settings)...)
	b = appendFrame(b, frameWindowUpdate, 0, 0, binary.BigEndian.AppendUint32(nil, 0x7fffffff-65535))
	const n = 8 // 64 MiB of responses: far more than the socket buffers take
	for i := 0; i < n; i++ {
		b = appendFrame(b, frameHeaders, flagEndHeaders|flagEndStream, uint32(1+2*i), requestBlock("GET", "/big", "h2.test"))
	}
	if _, err := c.Write(b); err != nil {
		t.Fatal(err)
	}
	// moe acks our SETTINGS but we never read: it stalls on the socket.
	expectClosedAfterStall(t, c, up, n)
	if _, status := curlH2(t, m.URL("/small")); status != "2 200" {
		t.Errorf("normal client: %q", status)
	}
}

// TestStalledStreamsYieldToWaitingRequests: clients that take none of
// their responses hold every connection of a cluster (max_connections 10
// here); a normal request behind them must not wait for timeouts.send
// (30 s): once a stream has been stalled for shed_stalled_after (2 s by
// default) and a request waits, the stalled stream is reset and its
// connection goes to the waiting request. Without waiting requests nothing
// is shed. Attackers over h2 (SETTINGS_INITIAL_WINDOW_SIZE 0, 20 streams:
// 10 hold connections, 10 wait) and over HTTP/1.1 (10 connections that
// never read); the normal client over both. shed_stalled_after: 0s turns
// it off, and then the normal request still waits.
func TestStalledStreamsYieldToWaitingRequests(t *testing.T) {
	t.Parallel()
	for _, attacker := range []string{"h2", "h1"} {
		for _, off := range []bool{false, true} {
			name := attacker
			if off {
				if attacker == "h1" {
					continue // one "off" row shows the knob
				}
				name += "/shed_off"
			}
			t.Run(name, func(t *testing.T) {
				t.Parallel()
				testStalledStreamsYield(t, attacker, off)
			})
		}
	}
}

func testStalledStreamsYield(t *testing.T, attacker string, off bool) {
	up := bigUpstream(t)
	cluster := "    max_connections: 10\n    max_pending: 100\n"
	if off {
		cluster += "    shed_stalled_after: 0s\n"
	}
	m := startMoe(t, h2YAML(1, up.Addr)+cluster)
	const held = 10
	switch attacker {
	case "h2":
		h := dialH2ZeroWindow(t, m.Addr("listen"))
		defer h.c.Close()
		var b []byte
		for i := 0; i < 2*held; i++ {
			b = appendFrame(b, frameHeaders, flagEndHeaders|flagEndStream, uint32(1+2*i), requestBlock("GET", "/big", "h2.test"))
		}
		h.write(b)
	case "h1":
		for i := 0; i < held; i++ {
			c := dialSmallRcvbuf(t, m.Addr("listen"))
			defer c.Close()
			if _, err := io.WriteString(c, "GET /big HTTP/1.1\r\nHost: h\r\n\r\n"); err != nil {
				t.Fatal(err)
			}
		}
	}
	if !waitFor(20*time.Second, func() bool { return up.open() >= held }) {
		t.Fatalf("%d upstream connections open, want %d", up.open(), held)
	}
	// Stalled past shed_stalled_after; only the h2 attacker has requests
	// waiting, and those are its own.
	time.Sleep(3 * time.Second)
	if attacker == "h1" {
		if v, _ := statValue(t, m, "moe_upstream_stalled_shed_total", map[string]string{"cluster": "up"}); v != 0 {
			t.Fatalf("%v streams shed with no request waiting", v)
		}
		if up.open() != held {
			t.Fatalf("%d upstream connections open before any request waits, want %d", up.open(), held)
		}
	}
	// Before shedding, the request waited for the attackers' route timeout
	// (15 s from their start) or timeouts.send (30 s).
	maxTime := "8"
	if off {
		maxTime = "5"
	}
	args := []string{"-sS", "-o", "/dev/null", "-w", "%{http_code}", "--max-time", maxTime, m.URL("/small")}
	start := time.Now()
	code, out, errOut := runCmd(t, 30*time.Second, "curl", args...)
	t.Logf("HTTP/1.1 request behind the stalled streams: curl exit %d %q after %v", code, out, time.Since(start).Round(time.Millisecond))
	if off {
		if code == 0 {
			t.Fatalf("shed_stalled_after: 0s: the request got %q past the stalled streams", out)
		}
		if v, _ := statValue(t, m, "moe_upstream_stalled_shed_total", map[string]string{"cluster": "up"}); v != 0 {
			t.Fatalf("shed_stalled_after: 0s: %v streams shed", v)
		}
		return
	}
	if code != 0 || out != "200" {
		t.Fatalf("HTTP/1.1 request behind the stalled streams: curl exit %d, %q %s", code, out, errOut)
	}
	start = time.Now()
	code, out, errOut = runCmd(t, 30*time.Second, "curl", append([]string{"--http2-prior-knowledge"}, args...)...)
	t.Logf("h2 request: curl exit %d %q after %v", code, out, time.Since(start).Round(time.Millisecond))
	if code != 0 || out != "200" {
		t.Fatalf("h2 request behind the stalled streams: curl exit %d, %q %s", code, out, errOut)
	}
	shed, _ := statValue(t, m, "moe_upstream_stalled_shed_total", map[string]string{"cluster": "up"})
	if shed < 1 {
		t.Fatalf("moe_upstream_stalled_shed_total %v, want at least 1", shed)
	}
	var ds int
	waitFor(5*time.Second, func() bool {
		ds = 0
		for _, e := range accessLogEntries(t, filepath.Join(m.Dir, "access.log")) {
			if e["path"] == "/big" && e["flags"] == "DS" {
				ds++
			}
		}
		return ds >= 1
	})
	if ds < 1 {
		t.Fatalf("no access log line for /big with flag DS (%v shed)", shed)
	}
	t.Logf("%s attacker: %v stalled streams shed", attacker, shed)
}
