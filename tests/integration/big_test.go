package integration

import (
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"
)

const (
	bigTransfer   = 100 << 20 // 100 MiB
	maxHWMGrowth  = 64 << 20  // moe must stream, not buffer
	warmupRequest = "/warmup"
)

// warmMoe makes a few requests so one-time allocations (pools, Go runtime)
// are done before the baseline is read.
func warmMoe(t *testing.T, m *Moe) {
	t.Helper()
	for i := 0; i < 3; i++ {
		if st, _, _ := httpGet(t, m.URL(warmupRequest)); st != 200 {
			t.Fatalf("warm-up request: status %d", st)
		}
	}
}

// TestH1ToH1ChunkedUpload100MiB streams a 100 MiB chunked request body
// through moe; the upstream counts and hashes it. moe's peak RSS (VmHWM) must
// grow by less than 64 MiB.
func TestH1ToH1ChunkedUpload100MiB(t *testing.T) {
	up := startEcho(t, "counter")
	// The upstream stops reading for 2s after the first MiB: moe must stop
	// reading from the client too (backpressure), not buffer the rest.
	up.bodyPause = 2 * time.Second
	m := startMoe(t, bigYAML(up.Addr))
	warmMoe(t, m)
	_, hwm0 := m.RSS()

	want := patternSHA(bigTransfer)
	req, err := http.NewRequest("POST", m.URL("/upload"), io.NopCloser(newPatternStream(bigTransfer)))
	if err != nil {
		t.Fatal(err)
	}
	req.ContentLength = -1 // chunked
	client := newClient()
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("upload: %v", err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("upload: status %d err %v body %q", resp.StatusCode, err, truncate(body, 200))
	}
	e := decodeEcho(t, body)
	if e.BodyLen != bigTransfer || e.BodySHA != want {
		t.Fatalf("upstream received %d bytes (sha %s), want %d (sha %s)", e.BodyLen, e.BodySHA, bigTransfer, want)
	}
	rss, hwm1 := m.RSS()
	t.Logf("moe VmHWM %d MiB -> %d MiB, VmRSS now %d MiB", hwm0>>20, hwm1>>20, rss>>20)
	if hwm1-hwm0 >= maxHWMGrowth {
		t.Fatalf("moe VmHWM grew by %d MiB during a 100 MiB upload (limit %d MiB): the body is buffered, not streamed",
			(hwm1-hwm0)>>20, maxHWMGrowth>>20)
	}
	client.CloseIdleConnections()
	assertQuickDrain(t, m)
}

// TestH1ToH1ChunkedDownload100MiB streams a 100 MiB chunked response,
// generated on the fly by the upstream, through moe to the client.
func TestH1ToH1ChunkedDownload100MiB(t *testing.T) {
	up := startUpstream(t, "stream", func(c *upConn, r *upReq) bool {
		if r.Target == warmupRequest {
			return echoHandler(c, r)
		}
		return chunkedStreamHandler(bigTransfer)(c, r)
	})
	m := startMoe(t, bigYAML(up.Addr))
	warmMoe(t, m)
	_, hwm0 := m.RSS()

	want := patternSHA(bigTransfer)
	client := newClient()
	resp, err := client.Get(m.URL("/download"))
	if err != nil {
		t.Fatalf("download: %v", err)
	}
	h := sha256.New()
	// Read the first MiB, then stop reading for 2s: moe must stop reading
	// from the upstream (backpressure), not buffer what it keeps sending.
	n, err := io.CopyN(h, resp.Body, 1<<20)
	if err == nil {
		time.Sleep(2 * time.Second)
		var n2 int64
		n2, err = io.CopyBuffer(h, resp.Body, make([]byte, 256<<10))
		n += n2
	}
	resp.Body.Close()
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("download: status %d, %d bytes, err %v", resp.StatusCode, n, err)
	}
	if got := hex.EncodeToString(h.Sum(nil)); n != bigTransfer || got != want {
		t.Fatalf("client received %d bytes (sha %s), want %d (sha %s)", n, got, bigTransfer, want)
	}
	rss, hwm1 := m.RSS()
	t.Logf("moe VmHWM %d MiB -> %d MiB, VmRSS now %d MiB", hwm0>>20, hwm1>>20, rss>>20)
	if hwm1-hwm0 >= maxHWMGrowth {
		t.Fatalf("moe VmHWM grew by %d MiB during a 100 MiB download (limit %d MiB): the body is buffered, not streamed",
			(hwm1-hwm0)>>20, maxHWMGrowth>>20)
	}
	client.CloseIdleConnections()
	assertQuickDrain(t, m)
}

// bigYAML: route timeout and drain_timeout far above what the transfer needs,
// so a stream that outlives its transfer shows up in assertQuickDrain.
func bigYAML(endpoint string) string {
	y := "drain_timeout: 60s\n" + simpleYAML(1, endpoint)
	return strings.Replace(y, "        cluster: up\n", "        cluster: up\n        timeout: 60s\n", 1)
}

// assertQuickDrain: with nothing in flight, SIGTERM makes moe exit 0 well
// before the 60s route timeout / drain_timeout: no stream outlived its
// transfer.
func assertQuickDrain(t *testing.T, m *Moe) {
	t.Helper()
	m.Signal(syscall.SIGTERM)
	select {
	case <-m.done:
	case <-time.After(10 * time.Second):
		t.Errorf("with no request in flight, moe still runs 10s after SIGTERM (drain_timeout and route timeout 60s): " +
			"the finished transfer's stream was not released")
		m.Kill()
		return
	}
	m.WaitExit(time.Second)
}
