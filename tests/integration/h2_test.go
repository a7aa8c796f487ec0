package integration

// HTTP/2 cleartext (prior knowledge) clients through moe to HTTP/1.1
// upstreams. Clients: curl --http2-prior-knowledge, nghttp and h2load
// (Debian nghttp2-client), and a raw frame writer (h2_frames_test.go) for
// what no client does on purpose (split prefaces, rapid reset).

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// curlH2 runs curl with HTTP/2 prior knowledge; returns the body and the
// "%{http_version} %{http_code}" line.
func curlH2(t *testing.T, args ...string) (body []byte, status string) {
	t.Helper()
	needTool(t, "curl")
	out := filepath.Join(t.TempDir(), "body")
	args = append([]string{"-sS", "--http2-prior-knowledge", "--max-time", "60", "-o", out,
		"-w", "%{http_version} %{http_code}"}, args...)
	code, stdout, stderr := runCmd(t, 90*time.Second, "curl", args...)
	if code != 0 {
		t.Fatalf("curl %v: exit %d: %s", args, code, stderr)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	return b, strings.TrimSpace(stdout)
}

var h2loadStatusRE = regexp.MustCompile(`status codes: (\d+) 2xx, (\d+) 3xx, (\d+) 4xx, (\d+) 5xx`)

// h2load runs h2load and returns the 2xx count and its output.
func h2load(t *testing.T, args ...string) (int, string) {
	t.Helper()
	return startH2load(t, args...)()
}

// startH2load runs h2load in the background, for a test that does other
// work meanwhile; the returned wait, called on the test's goroutine, gives
// the succeeded count and the output (and fails the test if h2load did not
// run or printed no status line).
func startH2load(t *testing.T, args ...string) (wait func() (int, string)) {
	t.Helper()
	needTool(t, "h2load")
	var stdout, stderr bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	cmd := exec.CommandContext(ctx, "h2load", args...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	var err error
	done := make(chan struct{})
	go func() { err = cmd.Run(); close(done) }()
	// A test that fails before wait stops h2load now, not in 120 s.
	t.Cleanup(func() { cancel(); <-done })
	return func() (int, string) {
		t.Helper()
		<-done
		cancel()
		m := h2loadStatusRE.FindStringSubmatch(stdout.String())
		if m == nil {
			t.Fatalf("h2load %v: %v, no status line:\n%s\n%s", args, err, stdout.String(), stderr.String())
		}
		var ok int
		fmt.Sscan(m[1], &ok)
		return ok, stdout.String()
	}
}

// TestH2cToH1Get: h2c GET through moe; the HTTP/1.1 upstream sees Host from
// :authority and the forwarding headers; the access log says HTTP/2.
func TestH2cToH1Get(t *testing.T) {
	t.Parallel()
	up := startEcho(t, "up")
	m := startMoe(t, h2YAML(1, up.Addr))
	body, status := curlH2(t, "-H", "Host: h2.example", "-H", "X-Test: one", m.URL("/get/1?q=2"))
	if status != "2 200" {
		t.Fatalf("curl: %q, want \"2 200\"", status)
	}
	e := decodeEcho(t, body)
	if e.Method != "GET" || e.Target != "/get/1?q=2" || e.Proto != "HTTP/1.1" {
		t.Errorf("upstream saw %s %s %s", e.Method, e.Target, e.Proto)
	}
	for k, want := range map[string]string{"Host": "h2.example", "X-Test": "one", "X-Forwarded-Proto": "http",
		"X-Forwarded-For": "127.0.0.1"} {
		if got := strings.Join(e.Header[k], ","); got != want {
			t.Errorf("upstream header %s = %q, want %q", k, got, want)
		}
	}
	if en := waitEntry(t, m.Dir+"/access.log", "/get/1?q=2"); en != nil && fmt.Sprint(en["protocol"]) != "HTTP/2" {
		t.Errorf("access log protocol %v, want HTTP/2", en["protocol"])
	}
	// HEAD: the head of the GET response (content-length included), no DATA.
	if body, status := curlH2(t, "-I", m.URL("/head")); status != "2 200" || !strings.Contains(strings.ToLower(string(body)), "content-length:") {
		t.Errorf("HEAD: %q\n%s", status, body)
	}
}

// TestH2cToH1Post: request bodies, sized (Content-Length) and unsized (the
// upstream then gets chunked), arrive whole.
func TestH2cToH1Post(t *testing.T) {
	t.Parallel()
	up := startEcho(t, "up")
	m := startMoe(t, h2YAML(1, up.Addr))
	data, sum := randomBody(t, 3<<20)
	f := filepath.Join(t.TempDir(), "req")
	if err := os.WriteFile(f, data, 0o644); err != nil {
		t.Fatal(err)
	}
	body, status := curlH2(t, "--data-binary", "@"+f, "-H", "Content-Type: application/octet-stream", m.URL("/post"))
	if status != "2 200" {
		t.Fatalf("sized POST: %q", status)
	}
	e := decodeEcho(t, body)
	if e.Method != "POST" || e.BodyLen != int64(len(data)) || e.BodySHA != sum || e.Chunked {
		t.Errorf("sized POST: upstream saw %s len %d chunked %v sha match %v", e.Method, e.BodyLen, e.Chunked, e.BodySHA == sum)
	}
	// From stdin: curl sends no content-length.
	cmd := []string{"-sS", "--http2-prior-knowledge", "--max-time", "60", "-T", "-", m.URL("/put")}
	needTool(t, "curl")
	c := execWithStdin(t, data, "curl", cmd...)
	e = decodeEcho(t, c)
	if e.Method != "PUT" || e.BodyLen != int64(len(data)) || e.BodySHA != sum || !e.Chunked {
		t.Errorf("unsized PUT: upstream saw %s len %d chunked %v sha match %v", e.Method, e.BodyLen, e.Chunked, e.BodySHA == sum)
	}
}

// TestH2cManyConcurrentStreams: h2load, 4 connections with 16 streams each
// in flight, 2000 requests, all 2xx.
func TestH2cManyConcurrentStreams(t *testing.T) {
	t.Parallel()
	up := startEcho(t, "up")
	m := startMoe(t, h2YAML(2, up.Addr))
	ok, out := h2load(t, "-c4", "-m16", "-n2000", m.URL("/load"))
	if ok != 2000 {
		t.Fatalf("h2load: %d 2xx of 2000:\n%s", ok, out)
	}
	if n := up.Count(); n != 2000 {
		t.Errorf("upstream got %d requests, want 2000", n)
	}
}

// TestH2cLargeResponseFlowControl: a 10 MiB chunked response to nghttp,
// whose windows are 64 KiB: the body goes out as the client opens its
// window, complete and in order.
func TestH2cLargeResponseFlowControl(t *testing.T) {
	t.Parallel()
	needTool(t, "nghttp")
	const size = 10 << 20
	up := startUpstream(t, "big", chunkedStreamHandler(size))
	m := startMoe(t, h2YAML(1, up.Addr))
	code, out, stderr := runCmd(t, 120*time.Second, "nghttp", "-w", "16", "-W", "16", m.URL("/big"))
	if code != 0 {
		t.Fatalf("nghttp: exit %d: %s", code, stderr)
	}
	if len(out) != size || sha([]byte(out)) != patternSHA(size) {
		t.Fatalf("nghttp got %d bytes (want %d), sha match %v", len(out), size, sha([]byte(out)) == patternSHA(size))
	}
	// curl too (large windows): same bytes.
	body, status := curlH2(t, m.URL("/big2"))
	if status != "2 200" || len(body) != size || sha(body) != patternSHA(size) {
		t.Fatalf("curl: %q, %d bytes", status, len(body))
	}
}

// trailersHandler answers a chunked body followed by trailers.
func trailersHandler(c *upConn, r *upReq) bool {
	_, err := io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n"+
		"Trailer: X-Checksum\r\n\r\n6\r\nhello \r\n5\r\nworld\r\n0\r\nX-Checksum: abc123\r\n\r\n")
	return err == nil
}

// TestH2cTrailersFromChunkedH1: trailers of a chunked HTTP/1.1 response
// reach the h2 client as a trailing HEADERS frame.
func TestH2cTrailersFromChunkedH1(t *testing.T) {
	t.Parallel()
	needTool(t, "nghttp")
	up := startUpstream(t, "trailers", trailersHandler)
	m := startMoe(t, h2YAML(1, up.Addr))
	code, out, stderr := runCmd(t, 30*time.Second, "nghttp", "-v", m.URL("/t"))
	if code != 0 {
		t.Fatalf("nghttp: exit %d: %s", code, stderr)
	}
	if !strings.Contains(out, "hello world") {
		t.Errorf("no body in nghttp output:\n%s", out)
	}
	i := strings.Index(out, "hello world")
	j := strings.Index(out, "x-checksum: abc123")
	if j < 0 || j < i {
		t.Errorf("trailer x-checksum not received after the body:\n%s", out)
	}
	if strings.Contains(out, "transfer-encoding") || strings.Contains(out, "\ntrailer:") {
		t.Errorf("connection-specific header forwarded to the h2 client:\n%s", out)
	}
}

// TestH2cSamePortServesH1: with http2: true the port still speaks HTTP/1.1,
// also when the first bytes look like the start of the preface; and a
// preface split across reads is recognised.
func TestH2cSamePortServesH1(t *testing.T) {
	t.Parallel()
	up := startEcho(t, "up")
	m := startMoe(t, h2YAML(1, up.Addr))
	if st, _, b := httpGet(t, m.URL("/h1")); st != 200 || decodeEcho(t, b).Target != "/h1" {
		t.Fatalf("HTTP/1.1 GET: status %d", st)
	}
	// "P" then "UT ...": held back as a possible preface, then parsed as HTTP/1.
	c := dial(t, m.Addr("listen"))
	io.WriteString(c, "P")
	time.Sleep(50 * time.Millisecond)
	io.WriteString(c, "UT /split-h1 HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nok")
	resp := readResponse(t, bufio.NewReader(c), "PUT")
	if e := decodeEcho(t, resp.Body); resp.Status != 200 || e.Target != "/split-h1" || e.BodyLen != 2 {
		t.Fatalf("split HTTP/1 request: status %d target %q len %d", resp.Status, e.Target, e.BodyLen)
	}
	// The preface in three reads, then a request.
	c2 := dial(t, m.Addr("listen"))
	for _, part := range []string{h2Preface[:3], h2Preface[3:17], h2Preface[17:]} {
		io.WriteString(c2, part)
		time.Sleep(30 * time.Millisecond)
	}
	h := &h2Raw{t: t, c: c2, br: bufio.NewReader(c2)}
	h.write(appendFrame(nil, frameSettings, 0, 0, nil))
	h.get(1, "/split-h2")
	ex, _, err := h.readUntil(10*time.Second, func(f h2Frame, ex map[uint32]*h2Exchange) bool {
		return ex[1] != nil && (ex[1].Ended || ex[1].Reset != 0)
	})
	if err != nil {
		t.Fatalf("split preface: %v", err)
	}
	if e := decodeEcho(t, ex[1].Body); e.Target != "/split-h2" || e.Header["Host"][0] != "h2.test" {
		t.Fatalf("split preface: upstream saw %q host %v", e.Target, e.Header["Host"])
	}
}

// TestH2cTooManyHeaders: more request headers than limits.max_headers is
// answered 431 on that stream.
func TestH2cTooManyHeaders(t *testing.T) {
	t.Parallel()
	up := startEcho(t, "up")
	m := startMoe(t, h2YAML(1, up.Addr))
	args := []string{}
	for i := 0; i < 120; i++ {
		args = append(args, "-H", fmt.Sprintf("x-h-%d: v", i))
	}
	_, status := curlH2(t, append(args, m.URL("/many"))...)
	if status != "2 431" {
		t.Fatalf("120 headers: %q, want \"2 431\"", status)
	}
	if up.Count() != 0 {
		t.Errorf("upstream got %d requests, want 0", up.Count())
	}
	// The connection and the listener still work.
	if _, status := curlH2(t, m.URL("/few")); status != "2 200" {
		t.Fatalf("after 431: %q", status)
	}
}

// TestH2cIdleTimeout: a connection with no stream is closed with GOAWAY
// after timeouts.idle.
func TestH2cIdleTimeout(t *testing.T) {
	t.Parallel()
	up := startEcho(t, "up")
	y := strings.Replace(h2YAML(1, up.Addr), "    http2: true\n", "    http2: true\n    timeouts: {idle: 300ms}\n", 1)
	m := startMoe(t, y)
	h := dialH2(t, m.Addr("listen"))
	h.get(1, "/before-idle")
	start := time.Now()
	_, frames, err := h.readUntil(10*time.Second, func(f h2Frame, ex map[uint32]*h2Exchange) bool { return false })
	if !isClosedErr(err) {
		t.Fatalf("want the connection closed, got %v", err)
	}
	var goaway bool
	for _, f := range frames {
		goaway = goaway || f.Type == frameGoaway
	}
	if !goaway || time.Since(start) > 5*time.Second {
		t.Errorf("goaway %v after %v", goaway, time.Since(start))
	}
}

// TestH2cDrainGoawayInFlight: SIGTERM sends GOAWAY on an h2 connection with
// streams in flight; they complete, then moe closes and exits 0.
func TestH2cDrainGoawayInFlight(t *testing.T) {
	t.Parallel()
	up := startUpstream(t, "slow", slowHandler(time.Second))
	m := startMoe(t, h2YAML(1, up.Addr))
	h := dialH2(t, m.Addr("listen"))
	for _, id := range []uint32{1, 3, 5} {
		h.get(id, fmt.Sprintf("/drain/%d", id))
	}
	if !waitFor(5*time.Second, func() bool { return up.Count() == 3 }) {
		t.Fatalf("upstream got %d requests, want 3", up.Count())
	}
	m.Signal(syscall.SIGTERM)
	ex, frames, err := h.readUntil(15*time.Second, func(f h2Frame, ex map[uint32]*h2Exchange) bool { return false })
	if !isClosedErr(err) {
		t.Fatalf("want moe to close the connection after the streams, got %v", err)
	}
	goaway := -1
	for i, f := range frames {
		if f.Type == frameGoaway {
			last, code := goawayCode(f)
			if code != errCodeNo || last < 5 {
				t.Errorf("GOAWAY last_stream %d code %d, want >= 5 and NO_ERROR", last, code)
			}
			goaway = i
			break
		}
	}
	if goaway < 0 {
		t.Fatalf("no GOAWAY among %d frames", len(frames))
	}
	for _, id := range []uint32{1, 3, 5} {
		e := ex[id]
		if e == nil || !e.Ended || e.Reset != 0 || decodeEcho(t, e.Body).Target != fmt.Sprintf("/drain/%d", id) {
			t.Errorf("stream %d did not complete: %+v", id, e)
		}
	}
	m.WaitExit(10 * time.Second)
}

// TestH2cRapidResetGoaway: HEADERS + RST_STREAM in a loop (CVE-2023-44487)
// gets GOAWAY(ENHANCE_YOUR_CALM); a well-behaved client on another
// connection is served meanwhile.
func TestH2cRapidResetGoaway(t *testing.T) {
	t.Parallel()
	up := startEcho(t, "up")
	m := startMoe(t, h2YAML(1, up.Addr))
	waitGood := startH2load(t, "-c2", "-m8", "-n1000", m.URL("/good"))
	h := dialH2(t, m.Addr("listen"))
	var b []byte
	rst := binary.BigEndian.AppendUint32(nil, errCodeCancel)
	for i := 0; i < 1000; i++ {
		id := uint32(2*i + 1)
		b = appendFrame(b, frameHeaders, flagEndHeaders|flagEndStream, id, requestBlock("GET", "/abuse", "h2.test"))
		b = appendFrame(b, frameRSTStream, 0, id, rst)
	}
	go h.c.Write(b) // moe may close before taking it all
	_, frames, err := h.readUntil(10*time.Second, func(f h2Frame, ex map[uint32]*h2Exchange) bool {
		return f.Type == frameGoaway
	})
	if err != nil {
		t.Fatalf("no GOAWAY (%d frames): %v", len(frames), err)
	}
	if _, code := goawayCode(frames[len(frames)-1]); code != errCodeEnhanceYourCalm {
		t.Errorf("GOAWAY code %#x, want ENHANCE_YOUR_CALM (0xb)", code)
	}
	_, _, err = h.readUntil(5*time.Second, func(h2Frame, map[uint32]*h2Exchange) bool { return false })
	if !isClosedErr(err) {
		t.Errorf("connection not closed after GOAWAY: %v", err)
	}
	good, goodOut := waitGood()
	if good != 1000 {
		t.Errorf("well-behaved client: %d 2xx of 1000:\n%s", good, goodOut)
	}
	if n := up.Count(); n > 1000+300 {
		t.Errorf("upstream got %d requests: the abusive streams were not cut short", n)
	}
	if _, status := curlH2(t, m.URL("/after")); status != "2 200" {
		t.Errorf("after the attack: %q", status)
	}
}

// TestH2cUploadBackpressure: a 64 MiB upload to an upstream that stops
// reading for 2s: HTTP/2 flow control holds the client back (moe does not
// open the stream window while the upstream is full), so moe's peak RSS
// grows far less than the body.
func TestH2cUploadBackpressure(t *testing.T) {
	needTool(t, "curl")
	const size = 64 << 20
	up := startEcho(t, "counter")
	up.bodyPause = 2 * time.Second
	y := strings.Replace(bigYAML(up.Addr), "    address: \"{{listen}}\"\n", "    address: \"{{listen}}\"\n    http2: true\n", 1)
	m := startMoe(t, y)
	warmMoe(t, m)
	_, hwm0 := m.RSS()
	f := filepath.Join(t.TempDir(), "upload")
	fh, err := os.Create(f)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(fh, newPatternStream(size)); err != nil {
		t.Fatal(err)
	}
	fh.Close()
	body, status := curlH2(t, "-T", f, m.URL("/upload"))
	if status != "2 200" {
		t.Fatalf("upload: %q %q", status, truncate(body, 200))
	}
	if e := decodeEcho(t, body); e.BodyLen != size || e.BodySHA != patternSHA(size) {
		t.Fatalf("upstream got %d bytes, sha match %v", e.BodyLen, e.BodySHA == patternSHA(size))
	}
	_, hwm := m.RSS()
	if growth := hwm - hwm0; growth > 32<<20 {
		t.Errorf("moe peak RSS grew by %d MiB during a 64 MiB upload to a paused upstream: no backpressure", growth>>20)
	}
}

// execWithStdin runs a command with stdin and returns its stdout.
func execWithStdin(t *testing.T, stdin []byte, name string, args ...string) []byte {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Stdin = bytes.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = &errb
	done := make(chan error, 1)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("%s %v: %v: %s", name, args, err, errb.String())
		}
	case <-time.After(90 * time.Second):
		cmd.Process.Kill()
		t.Fatalf("%s %v: timed out", name, args)
	}
	return out.Bytes()
}

// TestH2cSlowReaderResponseBackpressure: a client that does not open its
// window holds a 32 MiB response at moe's watermark (the upstream stops
// being read); when it reads again the whole body arrives intact.
func TestH2cSlowReaderResponseBackpressure(t *testing.T) {
	const size = 32 << 20
	up := startUpstream(t, "big", chunkedStreamHandler(size))
	m := startMoe(t, h2YAML(1, up.Addr))
	h := dialH2(t, m.Addr("listen"))
	h.get(1, "/warm-nothing")
	// Nothing read yet: SETTINGS, the response head and 64 KiB of body wait
	// in the socket; the stream window is exhausted.
	_, hwm0 := m.RSS()
	time.Sleep(1500 * time.Millisecond)
	_, hwm := m.RSS()
	if growth := hwm - hwm0; growth > 16<<20 {
		t.Errorf("moe peak RSS grew by %d MiB while the client read nothing: the response was buffered", growth>>20)
	}
	ex, _, err := h.readUntil(60*time.Second, func(f h2Frame, ex map[uint32]*h2Exchange) bool {
		return ex[1] != nil && (ex[1].Ended || ex[1].Reset != 0)
	})
	if err != nil {
		t.Fatalf("reading the response: %v", err)
	}
	if b := ex[1].Body; len(b) != size || sha(b) != patternSHA(size) {
		t.Fatalf("got %d bytes (want %d), sha match %v", len(b), size, sha(b) == patternSHA(size))
	}
}

// TestH2cRequestHeadersTimeout: a HEADERS frame whose block never ends
// (no END_HEADERS, no CONTINUATION) is held to timeouts.request_headers:
// GOAWAY and close.
func TestH2cRequestHeadersTimeout(t *testing.T) {
	t.Parallel()
	up := startEcho(t, "up")
	y := strings.Replace(h2YAML(1, up.Addr), "    http2: true\n", "    http2: true\n    timeouts: {request_headers: 300ms}\n", 1)
	m := startMoe(t, y)
	h := dialH2(t, m.Addr("listen"))
	// Take moe's SETTINGS first: our ACK may not land inside the open block.
	if _, _, err := h.readUntil(5*time.Second, func(f h2Frame, _ map[uint32]*h2Exchange) bool {
		return f.Type == frameSettings && f.Flags&flagAck == 0
	}); err != nil {
		t.Fatal(err)
	}
	h.write(appendFrame(nil, frameHeaders, flagEndStream, 1, requestBlock("GET", "/slowloris", "h2.test")))
	start := time.Now()
	_, frames, err := h.readUntil(10*time.Second, func(h2Frame, map[uint32]*h2Exchange) bool { return false })
	if !isClosedErr(err) {
		t.Fatalf("want the connection closed, got %v", err)
	}
	var goaway bool
	for _, f := range frames {
		goaway = goaway || f.Type == frameGoaway
	}
	if !goaway || time.Since(start) > 5*time.Second {
		t.Errorf("goaway %v after %v", goaway, time.Since(start))
	}
	if up.Count() != 0 {
		t.Errorf("upstream got %d requests, want 0", up.Count())
	}
}

// TestH2cClientResetStream: the client resets a stream waiting on a slow
// upstream; moe abandons that request and the connection serves the next
// stream.
func TestH2cClientResetStream(t *testing.T) {
	t.Parallel()
	up := startUpstream(t, "slow", slowHandler(500*time.Millisecond))
	m := startMoe(t, h2YAML(1, up.Addr))
	h := dialH2(t, m.Addr("listen"))
	h.get(1, "/reset-me")
	if !waitFor(5*time.Second, func() bool { return up.Count() == 1 }) {
		t.Fatalf("upstream got %d requests, want 1", up.Count())
	}
	h.write(appendFrame(nil, frameRSTStream, 0, 1, binary.BigEndian.AppendUint32(nil, errCodeCancel)))
	h.get(3, "/after-reset")
	ex, _, err := h.readUntil(10*time.Second, func(f h2Frame, ex map[uint32]*h2Exchange) bool {
		return ex[3] != nil && (ex[3].Ended || ex[3].Reset != 0)
	})
	if err != nil {
		t.Fatalf("stream 3: %v", err)
	}
	if e := decodeEcho(t, ex[3].Body); e.Target != "/after-reset" {
		t.Errorf("stream 3: upstream saw %q", e.Target)
	}
	if e := ex[1]; e != nil && len(e.Body) > 0 {
		t.Errorf("stream 1 got %d body bytes after its reset", len(e.Body))
	}
	en := waitEntry(t, m.Dir+"/access.log", "/reset-me")
	if en != nil && fmt.Sprint(en["flags"]) != "DC" {
		t.Errorf("reset stream logged with flags %v, want DC", en["flags"])
	}
}

// TestH2cListenerFirstBytes: on an http2 listener, first bytes that are
// neither the HTTP/2 preface nor an HTTP/1.x request line close the
// connection without an HTTP/1 answer (an h2 client with a bad preface must
// see a close); an HTTP/1.1 request after empty lines (RFC 9112 2.2) and a
// plain one are served; a bad request line on a plain HTTP/1 listener still
// gets its 400.
func TestH2cListenerFirstBytes(t *testing.T) {
	t.Parallel()
	up := startEcho(t, "up")
	m := startMoe(t, h2YAML(1, up.Addr))
	exchange := func(addr, req string) string {
		t.Helper()
		c := dial(t, addr)
		defer c.Close()
		c.Write([]byte(req))
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		b, _ := io.ReadAll(c)
		return string(b)
	}
	if got := exchange(m.Addr("listen"), "INVALID CONNECTION PREFACE\r\n\r\n"); got != "" {
		t.Errorf("bad preface: got %q, want the connection closed without an answer", truncate([]byte(got), 80))
	}
	for _, req := range []string{
		"GET /a HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
		"\r\n\r\nGET /b HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
	} {
		if got := exchange(m.Addr("listen"), req); !strings.HasPrefix(got, "HTTP/1.1 200") {
			t.Errorf("%q: got %q, want 200", req, truncate([]byte(got), 80))
		}
	}
	h1 := startMoe(t, simpleYAML(1, up.Addr))
	if got := exchange(h1.Addr("listen"), "INVALID CONNECTION PREFACE\r\n\r\n"); !strings.HasPrefix(got, "HTTP/1.1 400") {
		t.Errorf("plain HTTP/1 listener: got %q, want 400", truncate([]byte(got), 80))
	}
}
