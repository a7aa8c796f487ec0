package integration

// Hostile HTTP/2 input, one abusive connection per case, while a
// well-behaved h2load client keeps sending on other connections of the same
// worker: each case must end in the RFC 9113 error (a stream error:
// RST_STREAM on that stream; a connection error: GOAWAY with the code, then
// close), and the good client must get every answer. h2spec (h2spec_test.go)
// checks the codes case by case; this checks that the abuse stays contained.
// (DATA beyond a stream window is not a case: moe reopens the window as it
// takes the bytes, so whether a burst overruns it depends on timing.)

import (
	"encoding/binary"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const (
	frameContinuation   = 0x9
	errCodeProtocol     = 0x1
	errCodeFlowControl  = 0x3
	errCodeFrameSize    = 0x6
	errCodeCompression  = 0x9
	errCodeStreamClosed = 0x5
)

func TestH2cHostileFramesContained(t *testing.T) {
	t.Parallel()
	needTool(t, "h2load")
	up := startEcho(t, "up")
	m := startMoe(t, h2YAML(1, up.Addr))
	u32 := func(v uint32) []byte { return binary.BigEndian.AppendUint32(nil, v) }
	get := func(id uint32, es bool) []byte {
		fl := byte(flagEndHeaders)
		if es {
			fl |= flagEndStream
		}
		return appendFrame(nil, frameHeaders, fl, id, requestBlock("POST", "/abuse", "h2.test"))
	}
	cases := []struct {
		name   string
		frames []byte
		goaway bool   // a connection error (else RST_STREAM on stream 1)
		code   uint32 // the error code
	}{
		{"DATA on stream 0", appendFrame(nil, frameData, 0, 0, []byte("x")), true, errCodeProtocol},
		{"frame larger than SETTINGS_MAX_FRAME_SIZE", appendFrame(get(1, false), frameData, 0, 1, make([]byte, 16385)), true, errCodeFrameSize},
		{"HPACK index out of range", appendFrame(nil, frameHeaders, flagEndHeaders|flagEndStream, 1, []byte{0xff, 0xff, 0xff, 0x7f}), true, errCodeCompression},
		{"CONTINUATION without HEADERS", appendFrame(nil, frameContinuation, flagEndHeaders, 1, requestBlock("GET", "/", "h2.test")), true, errCodeProtocol},
		{"SETTINGS of 7 bytes", appendFrame(nil, frameSettings, 0, 0, make([]byte, 7)), true, errCodeFrameSize},
		{"connection window above 2^31-1", appendFrame(appendFrame(nil, frameWindowUpdate, 0, 0, u32(0x7fffffff)), frameWindowUpdate, 0, 0, u32(0x7fffffff)), true, errCodeFlowControl},
		{"stream window above 2^31-1", appendFrame(appendFrame(get(1, false), frameWindowUpdate, 0, 1, u32(0x7fffffff)), frameWindowUpdate, 0, 1, u32(0x7fffffff)), false, errCodeFlowControl},
		{"HEADERS on a lower, unused stream id", append(get(5, true), get(3, true)...), true, errCodeProtocol},
		{"DATA after END_STREAM", appendFrame(get(1, true), frameData, flagEndStream, 1, []byte("x")), true, errCodeStreamClosed},
		{"zero WINDOW_UPDATE on a stream", appendFrame(get(1, false), frameWindowUpdate, 0, 1, u32(0)), true, errCodeProtocol},
	}
	waitGood := startH2load(t, "-c2", "-m8", "-n3000", m.URL("/good"))
	for _, tc := range cases {
		h := dialH2(t, m.Addr("listen"))
		go h.c.Write(tc.frames) // moe may close before taking it all
		ex, frames, err := h.readUntil(10*time.Second, func(f h2Frame, ex map[uint32]*h2Exchange) bool {
			if tc.goaway {
				return f.Type == frameGoaway
			}
			return f.Type == frameRSTStream && f.Stream == 1 || f.Type == frameGoaway
		})
		var seen []string
		for _, f := range frames {
			seen = append(seen, f.String())
		}
		if err != nil {
			t.Errorf("%s: no %s: %v; frames: %s", tc.name, map[bool]string{true: "GOAWAY", false: "RST_STREAM"}[tc.goaway], err, strings.Join(seen, " "))
			h.c.Close()
			continue
		}
		last := frames[len(frames)-1]
		if tc.goaway {
			if _, code := goawayCode(last); last.Type != frameGoaway || code != tc.code {
				t.Errorf("%s: got %s (code %#x), want GOAWAY code %#x", tc.name, last, code, tc.code)
			}
			// Then the connection closes.
			if _, _, err := h.readUntil(5*time.Second, func(h2Frame, map[uint32]*h2Exchange) bool { return false }); !isClosedErr(err) {
				t.Errorf("%s: connection not closed after GOAWAY: %v", tc.name, err)
			}
		} else if e := ex[1]; last.Type != frameRSTStream || e == nil || e.Reset != tc.code+1 {
			t.Errorf("%s: got %s, want RST_STREAM code %#x on stream 1", tc.name, last, tc.code)
		}
		h.c.Close()
	}
	good, goodOut := waitGood()
	if good != 3000 {
		t.Errorf("well-behaved client: %d 2xx of 3000:\n%s", good, goodOut)
	}
	if _, status := curlH2(t, m.URL("/after")); status != "2 200" {
		t.Errorf("after the hostile cases: %q", status)
	}
}

// earlyReplyYAML: /early is a direct response, so moe answers a POST there
// before the client has sent its body.
func earlyReplyYAML(upAddr string) string {
	return strings.Replace(h2YAML(1, upAddr), "    routes:\n", "    routes:\n      - match: {prefix: /early}\n        direct_response: {status: 403, body: \"no\"}\n", 1)
}

// earlyReply opens stream 1 with a POST to /early (no END_STREAM, extra
// header fields after the pseudo-headers) and waits for moe's complete
// answer.
func earlyReply(t *testing.T, h *h2Raw, extra ...string) {
	t.Helper()
	h.write(appendFrame(nil, frameHeaders, flagEndHeaders, 1, requestBlock("POST", "/early", "h2.test", extra...)))
	ex, frames, err := h.readUntil(10*time.Second, func(f h2Frame, ex map[uint32]*h2Exchange) bool {
		return ex[1] != nil && (ex[1].Ended || ex[1].Reset != 0) || f.Type == frameGoaway
	})
	if err != nil || ex[1] == nil || !ex[1].Ended || ex[1].Reset != 0 {
		t.Fatalf("early reply: exchange %+v, %d frames, %v", ex[1], len(frames), err)
	}
}

// TestH2cLateFramesAfterEarlyReply: moe answers before the request ends (a
// direct response). The stream stays open on moe's side until the client
// ends its half (RFC 9113 8.1 allows a RST_STREAM(NO_ERROR) at once, but
// then every protocol error in what the client still sends would go
// unanswered: TestH2cProtocolErrorsAfterEarlyReply): a valid late body and
// trailers close the stream without any RST_STREAM, and the connection
// serves the next stream. A client that sends nothing more gets
// RST_STREAM(NO_ERROR) after a second, and frames it sends for that stream
// afterwards are ignored (5.1), not treated as frames on a closed stream:
// the frame gate is strict only about streams the *client* ended.
func TestH2cLateFramesAfterEarlyReply(t *testing.T) {
	t.Parallel()
	up := startEcho(t, "up")
	m := startMoe(t, earlyReplyYAML(up.Addr))
	late := func(id uint32) []byte {
		b := appendFrame(nil, frameData, 0, id, []byte("late body"))
		return appendFrame(b, frameHeaders, flagEndHeaders|flagEndStream, id, hpackLiteral(nil, "x-trailer", "t", false))
	}
	next := func(h *h2Raw, what string) {
		t.Helper()
		h.get(3, "/next")
		ex, frames, err := h.readUntil(10*time.Second, func(f h2Frame, ex map[uint32]*h2Exchange) bool {
			return f.Type == frameGoaway || (ex[3] != nil && ex[3].Ended)
		})
		if err != nil {
			t.Fatalf("%s: %v (%d frames)", what, err, len(frames))
		}
		for _, f := range frames {
			if f.Type == frameGoaway {
				_, code := goawayCode(f)
				t.Fatalf("%s: GOAWAY code %#x", what, code)
			}
			if f.Type == frameRSTStream {
				t.Fatalf("%s: %s %x", what, f, f.Payload)
			}
		}
		if e := ex[3]; e == nil || !e.Ended || e.Reset != 0 || !strings.Contains(string(e.Body), "/next") {
			t.Fatalf("%s: stream 3: %+v", what, e)
		}
	}

	// The client finishes its request after the answer.
	h := dialH2(t, m.Addr("listen"))
	earlyReply(t, h)
	h.write(late(1))
	next(h, "valid late body and trailers")
	h.c.Close()

	// The client goes quiet: RST_STREAM(NO_ERROR) within a few seconds.
	h = dialH2(t, m.Addr("listen"))
	defer h.c.Close()
	earlyReply(t, h)
	start := time.Now()
	ex, frames, err := h.readUntil(10*time.Second, func(f h2Frame, ex map[uint32]*h2Exchange) bool {
		return f.Type == frameRSTStream && f.Stream == 1 || f.Type == frameGoaway
	})
	if err != nil || ex[1] == nil || ex[1].Reset != errCodeNo+1 {
		t.Fatalf("silent client: %+v, %d frames, %v", ex[1], len(frames), err)
	}
	if d := time.Since(start); d < 500*time.Millisecond || d > 5*time.Second {
		t.Errorf("RST_STREAM(NO_ERROR) %v after the answer, want about 1 s", d)
	}
	h.write(late(1))
	next(h, "late frames on a stream moe reset")
}

// TestH2cProtocolErrorsAfterEarlyReply: a protocol error is one after moe
// has answered too. moe answers a POST to a direct response at once; the
// invalid frame the client sends next must still get its RFC 9113 answer
// (h2spec's cases, which used to race moe's answer and its
// RST_STREAM(NO_ERROR)): a stream error (RST_STREAM(PROTOCOL_ERROR) on
// stream 1) or the connection error. The connection serves the next stream
// after a stream error.
func TestH2cProtocolErrorsAfterEarlyReply(t *testing.T) {
	t.Parallel()
	up := startEcho(t, "up")
	m := startMoe(t, earlyReplyYAML(up.Addr))
	const flagPadded = 0x8
	cases := []struct {
		name   string
		extra  []string // request header fields
		frames []byte
		goaway bool
	}{
		{"content-length 1, 4 bytes of DATA", []string{"content-length", "1"},
			appendFrame(nil, frameData, flagEndStream, 1, []byte("test")), false},
		{"content-length 8, 4 bytes of DATA", []string{"content-length", "8"},
			appendFrame(nil, frameData, flagEndStream, 1, []byte("test")), false},
		{"pseudo-header in trailers", nil,
			appendFrame(nil, frameHeaders, flagEndHeaders|flagEndStream, 1, hpackLiteral(nil, ":method", "POST", false)), false},
		{"second HEADERS without END_STREAM", nil,
			appendFrame(nil, frameHeaders, flagEndHeaders, 1, hpackLiteral(nil, "x-trailer", "t", false)), false},
		{"DATA with a pad length over the payload", nil,
			appendFrame(nil, frameData, flagPadded|flagEndStream, 1, []byte{6, 't', 'e', 's', 't'}), true},
	}
	for _, tc := range cases {
		h := dialH2(t, m.Addr("listen"))
		earlyReply(t, h, tc.extra...)
		h.write(tc.frames)
		ex, frames, err := h.readUntil(10*time.Second, func(f h2Frame, ex map[uint32]*h2Exchange) bool {
			return f.Type == frameRSTStream && f.Stream == 1 || f.Type == frameGoaway
		})
		if err != nil {
			t.Errorf("%s: no RST_STREAM or GOAWAY: %v (%d frames)", tc.name, err, len(frames))
			h.c.Close()
			continue
		}
		last := frames[len(frames)-1]
		if tc.goaway {
			if _, code := goawayCode(last); last.Type != frameGoaway || code != errCodeProtocol {
				t.Errorf("%s: %s (code %#x), want GOAWAY(PROTOCOL_ERROR)", tc.name, last, code)
			}
		} else if last.Type != frameRSTStream || ex[1].Reset != errCodeProtocol+1 {
			t.Errorf("%s: %s %x, want RST_STREAM(PROTOCOL_ERROR) on stream 1", tc.name, last, last.Payload)
		} else {
			h.get(3, "/next")
			ex, _, err := h.readUntil(10*time.Second, func(f h2Frame, ex map[uint32]*h2Exchange) bool {
				return f.Type == frameGoaway || (ex[3] != nil && ex[3].Ended)
			})
			if err != nil || ex[3] == nil || !ex[3].Ended || ex[3].Reset != 0 {
				t.Errorf("%s: the next stream: %+v, %v", tc.name, ex[3], err)
			}
		}
		h.c.Close()
	}
}

// TestH2cGoawayEndsOpenStreamsWhileLingering: after a connection error
// moe sends GOAWAY and lingers (reads and discards until the client closes
// or goes quiet), but a stream still waiting on its upstream is ended at
// once: the access log has it long before the upstream would have answered
// and before the linger's 5 s run out, and the client sees moe's FIN.
func TestH2cGoawayEndsOpenStreamsWhileLingering(t *testing.T) {
	t.Parallel()
	up := startUpstream(t, "up", slowHandler(4*time.Second))
	m := startMoe(t, h2YAML(1, up.Addr))
	h := dialH2(t, m.Addr("listen"))
	defer h.c.Close()
	h.write(appendFrame(nil, frameHeaders, flagEndHeaders|flagEndStream, 1, requestBlock("GET", "/waiting", "h2.test")))
	if !waitFor(3*time.Second, func() bool { return up.Count() >= 1 }) {
		t.Fatal("the request did not reach the upstream")
	}
	start := time.Now()
	h.write(appendFrame(nil, frameData, 0, 0, []byte("x"))) // DATA on stream 0: GOAWAY
	if _, _, err := h.readUntil(3*time.Second, func(f h2Frame, _ map[uint32]*h2Exchange) bool { return f.Type == frameGoaway }); err != nil {
		t.Fatalf("no GOAWAY: %v", err)
	}
	// The client stays connected and silent: moe lingers up to 5 s.
	logged := func() bool {
		return strings.Contains(readFileString(filepath.Join(m.Dir, "access.log")), `"/waiting"`)
	}
	if !waitFor(2*time.Second, logged) {
		t.Fatalf("the open stream was not ended within 2 s of GOAWAY (access log:\n%s)",
			tailFile(filepath.Join(m.Dir, "access.log"), 2000))
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Fatalf("the stream ended %v after GOAWAY", d)
	}
	if _, _, err := h.readUntil(2*time.Second, func(h2Frame, map[uint32]*h2Exchange) bool { return false }); !isClosedErr(err) {
		t.Fatalf("no FIN after GOAWAY: %v", err)
	}
}

// TestH2cPathOutsideASCIIRefused: nghttp2 lets a :path byte above 0x7e
// through, but the path goes upstream in an HTTP/1.1 request line, which
// cannot carry it (moe's own HTTP/1 listener answers such a target with
// 400). moe answers 400 itself, the upstream sees nothing of it, and the
// connection serves the next stream. Found by tests/fuzz/connection_fuzz.
func TestH2cPathOutsideASCIIRefused(t *testing.T) {
	t.Parallel()
	up := startEcho(t, "up")
	m := startMoe(t, h2YAML(1, up.Addr))
	h := dialH2(t, m.Addr("listen"))
	defer h.c.Close()
	h.get(1, "/caf\xc3\xa9")
	h.get(3, "/fine")
	ex, frames, err := h.readUntil(10*time.Second, func(f h2Frame, ex map[uint32]*h2Exchange) bool {
		return ex[1] != nil && ex[1].Ended && ex[3] != nil && ex[3].Ended || f.Type == frameGoaway
	})
	if err != nil || ex[1] == nil || ex[3] == nil {
		t.Fatalf("exchanges %+v %+v, %d frames, %v", ex[1], ex[3], len(frames), err)
	}
	if got := string(ex[1].Body); got != "Bad Request: invalid character in :path\n" {
		t.Errorf("stream 1 body %q, want moe's 400 text", got)
	}
	if reqs := up.Requests(); len(reqs) != 1 || reqs[0].Target != "/fine" {
		t.Errorf("upstream saw %d requests (want only /fine): %+v", len(reqs), reqs)
	}
}
