package integration

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/http2/hpack"
)

// TestH2HpackUniqueIdsNotIndexed: moe's HPACK encoder does not fill the
// connection's dynamic table with values that are new on every response.
// Through the traceid filter, the first response on a connection indexes
// x-request-id (so its name is in the table); every later one sends its id
// as a "never indexed" literal (decoded as Sensitive), so the ids do not
// evict the fields that repeat (h2::make_field_nv).
func TestH2HpackUniqueIdsNotIndexed(t *testing.T) {
	t.Parallel()
	requireGo(t)
	up := startEcho(t, "up")
	m := startMoe(t, goFilterYAMLWith(1, "      - name: traceid", "    http2: true\n"), "up", up.Addr)
	h := dialH2(t, m.Addr("listen"))
	defer h.c.Close()

	type field struct {
		value     string
		sensitive bool
	}
	var got []field
	dec := hpack.NewDecoder(4096, func(f hpack.HeaderField) {
		if f.Name == "x-request-id" {
			got = append(got, field{f.Value, f.Sensitive})
		}
	})
	const n = 6
	for i := 1; i <= n; i++ {
		id := uint32(2*i - 1)
		h.get(id, "/hpack")
		_, _, err := h.readUntil(10*time.Second, func(f h2Frame, ex map[uint32]*h2Exchange) bool {
			if f.Type == frameHeaders && f.Stream == id {
				if f.Flags&0x8 != 0 || f.Flags&0x20 != 0 {
					t.Fatalf("response HEADERS with PADDED/PRIORITY flags %#x: not expected from moe", f.Flags)
				}
				if _, err := dec.Write(f.Payload); err != nil {
					t.Fatalf("HPACK decode of response %d: %v", i, err)
				}
			}
			e := ex[id]
			return e != nil && e.Ended
		})
		if err != nil {
			t.Fatalf("response %d: %v", i, err)
		}
	}
	if len(got) != n {
		t.Fatalf("%d x-request-id fields in %d responses: %+v", len(got), n, got)
	}
	seen := map[string]bool{}
	for i, f := range got {
		if !hex32RE.MatchString(f.value) || seen[f.value] {
			t.Fatalf("response %d: x-request-id %q (want a new 32-hex id)", i+1, f.value)
		}
		seen[f.value] = true
		if want := i > 0; f.sensitive != want {
			t.Fatalf("response %d: x-request-id never-indexed = %v, want %v (indexed once per connection, then never)", i+1, f.sensitive, want)
		}
	}
}

// hpackIndexedLiteral appends "literal header field with incremental
// indexing, new name" (0x40): the field goes into the dynamic table.
func hpackIndexedLiteral(b []byte, name, value string) []byte {
	b = append(b, 0x40)
	b = hpackInt(b, 0, 7, len(name))
	b = append(b, name...)
	b = hpackInt(b, 0, 7, len(value))
	return append(b, value...)
}

// hpackBombSetup opens a connection and puts one 4000-byte field into the
// dynamic table (index 62) with a valid request on stream 1, answered.
func hpackBombSetup(t *testing.T, m *Moe) *h2Raw {
	t.Helper()
	h := dialH2(t, m.Addr("listen"))
	block := hpackIndexedLiteral(requestBlock("GET", "/seed", "h2.test"), "x-bomb", strings.Repeat("a", 4000))
	h.write(appendFrame(nil, frameHeaders, flagEndHeaders|flagEndStream, 1, block))
	ex, _, err := h.readUntil(10*time.Second, func(f h2Frame, ex map[uint32]*h2Exchange) bool {
		return ex[1] != nil && ex[1].Ended || f.Type == frameGoaway
	})
	if err != nil || ex[1] == nil || !ex[1].Ended || ex[1].Reset != 0 {
		t.Fatalf("seed request with a 4000-byte field: %+v, %v", ex[1], err)
	}
	return h
}

// goodH2Client runs a well-behaved h2 client next to the abuse and checks
// that it got every answer (correctness, not timing).
func goodH2Client(t *testing.T, m *Moe) (check func()) {
	t.Helper()
	wait := startH2load(t, "-c2", "-m4", "-n2000", m.URL("/good"))
	return func() {
		t.Helper()
		if ok, out := wait(); ok != 2000 {
			t.Errorf("well-behaved client next to the abuse: %d 2xx of 2000:\n%s", ok, out)
		}
	}
}

// expectCalmGoaway reads until GOAWAY (or `answered` streams all ended)
// and wants GOAWAY(ENHANCE_YOUR_CALM), then the connection closed.
func expectCalmGoaway(t *testing.T, h *h2Raw, what string, answered func(ex map[uint32]*h2Exchange) bool) {
	t.Helper()
	ex, frames, err := h.readUntil(20*time.Second, func(f h2Frame, ex map[uint32]*h2Exchange) bool {
		return f.Type == frameGoaway || answered(ex)
	})
	if err != nil {
		t.Fatalf("%s: no GOAWAY: %v (%d frames)", what, err, len(frames))
	}
	last := frames[len(frames)-1]
	if last.Type != frameGoaway {
		t.Fatalf("%s: answered without GOAWAY (moe decoded it all): %d streams", what, len(ex))
	}
	if _, code := goawayCode(last); code != errCodeEnhanceYourCalm {
		t.Fatalf("%s: GOAWAY code %#x, want ENHANCE_YOUR_CALM", what, code)
	}
	if _, _, err := h.readUntil(10*time.Second, func(h2Frame, map[uint32]*h2Exchange) bool { return false }); !isClosedErr(err) {
		t.Fatalf("%s: connection not closed after GOAWAY: %v", what, err)
	}
}

// TestH2cHpackBombGoaway: a header block of HEADERS plus 8 CONTINUATION
// frames (147 KiB, the most nghttp2 takes) of 1-byte references to a
// 4000-byte dynamic-table entry would decode to 590 MB, every byte
// validated by nghttp2, if moe kept taking fields past its limit (it did:
// ~200 ms of one worker per block, then a 431). moe ends the connection
// with GOAWAY(ENHANCE_YOUR_CALM) once the block passes twice
// max_request_headers; a well-behaved client on the same worker gets all
// its answers, and the upstream never sees the bomb.
func TestH2cHpackBombGoaway(t *testing.T) {
	t.Parallel()
	needTool(t, "h2load")
	up := startEcho(t, "up")
	m := startMoe(t, h2YAML(1, up.Addr))
	check := goodH2Client(t, m)
	for round := 0; round < 3; round++ {
		h := hpackBombSetup(t, m)
		const frameMax = 16384
		first := requestBlock("GET", "/bomb", "h2.test")
		first = append(first, bytes.Repeat([]byte{0x80 | 62}, frameMax-len(first))...)
		refs := bytes.Repeat([]byte{0x80 | 62}, frameMax)
		b := appendFrame(nil, frameHeaders, flagEndStream, 3, first)
		for i := 0; i < 8; i++ {
			fl := byte(0)
			if i == 7 {
				fl = flagEndHeaders
			}
			b = appendFrame(b, frameContinuation, fl, 3, refs)
		}
		go h.c.Write(b) // moe may close before taking it all
		expectCalmGoaway(t, h, fmt.Sprintf("round %d: 147 KiB HPACK bomb", round), func(ex map[uint32]*h2Exchange) bool {
			return ex[3] != nil && (ex[3].Ended || ex[3].Reset != 0)
		})
		h.c.Close()
	}
	check()
	for _, r := range up.Requests() {
		if r.Target == "/bomb" {
			t.Fatalf("the bomb reached the upstream")
		}
	}
	if _, status := curlH2(t, m.URL("/after")); status != "2 200" {
		t.Errorf("after the bombs: %q", status)
	}
}

// TestH2cHpackAmplificationGoaway: blocks that each stay under
// max_request_headers (14 references to a 4000-byte entry: 56 KB from 14
// bytes) but, one after the other, make moe decode far more than the
// client sends. Past 128 decoded bytes per byte received plus 4096 per
// block (after a 1 MiB credit) moe ends the connection with
// GOAWAY(ENHANCE_YOUR_CALM); a well-behaved client on the same worker
// gets all its answers.
func TestH2cHpackAmplificationGoaway(t *testing.T) {
	t.Parallel()
	needTool(t, "h2load")
	up := startEcho(t, "up")
	y := strings.Replace(h2YAML(1, up.Addr), "    routes:\n", "    routes:\n      - match: {prefix: /amp}\n        direct_response: {status: 200, body: \"ok\"}\n"+
		"      - match: {path: /}\n        direct_response: {status: 204}\n", 1)
	m := startMoe(t, y)
	check := goodH2Client(t, m)
	h := hpackBombSetup(t, m)
	const n = 60 // 60 x 56 KB = 3.4 MB decoded from a few KiB
	var b []byte
	for i := 0; i < n; i++ {
		block := append(requestBlock("GET", "/amp", "h2.test"), bytes.Repeat([]byte{0x80 | 62}, 14)...)
		b = appendFrame(b, frameHeaders, flagEndHeaders|flagEndStream, uint32(3+2*i), block)
	}
	go h.c.Write(b)
	expectCalmGoaway(t, h, "just-under-the-limit blocks", func(ex map[uint32]*h2Exchange) bool {
		done := 0
		for id, e := range ex {
			if id >= 3 && (e.Ended || e.Reset != 0) {
				done++
			}
		}
		return done == n
	})
	h.c.Close()
	check()
	// A client that references each table entry once per request is never
	// cut off, however small its blocks: 1000 requests of 14 bytes (static
	// :method, :scheme, :path, then the 4000-byte field and :authority from
	// the table) that decode to 4.2 KB each, answered by a 204 (no DATA, so
	// no WINDOW_UPDATE from us adds to what we send). Each block's first
	// 4096 bytes (the table's size) are free; 128 x 14 bytes would not do.
	h = hpackBombSetup(t, m)
	defer h.c.Close()
	authority := append([]byte{0x82, 0x86, 0x84, 0x41, 7}, "h2.test"...) // :authority with indexing
	h.write(appendFrame(nil, frameHeaders, flagEndHeaders|flagEndStream, 3, authority))
	for i := 0; i < 1000; i++ {
		id := uint32(3 + 2*i)
		if i > 0 {
			h.write(appendFrame(nil, frameHeaders, flagEndHeaders|flagEndStream, id, []byte{0x82, 0x86, 0x84, 0x80 | 62, 0x80 | 63}))
		}
		ex, _, err := h.readUntil(10*time.Second, func(f h2Frame, ex map[uint32]*h2Exchange) bool {
			return ex[id] != nil && ex[id].Ended || f.Type == frameGoaway
		})
		if err != nil || ex[id] == nil || !ex[id].Ended {
			t.Fatalf("request %d of 14 bytes decoding to 4.2 KB: %+v, %v", i, ex[id], err)
		}
	}
}
