package integration

import (
	"bufio"
	"fmt"
	"io"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/http2/hpack"
)

// hostileInput is one request, described once and sent over HTTP/1.1 (as a
// raw request) and over h2c (as raw frames), so both codecs are held to the
// same answer.
type hostileInput struct {
	name      string
	method    string
	path      string
	authority string   // Host / :authority
	headers   []string // name, value pairs
	trailers  []string // name, value pairs: the body "x" goes chunked (h1) / DATA then trailers (h2)
	status    int      // what the client must get
	// over h2, when it differs: -1 = nghttp2 resets the stream itself
	// (RFC 9113 8.2.1 and 8.3.1 make it malformed); the upstream must then
	// have received nothing if the request had no body
	h2Status int
	h1Only   bool // no h2 equivalent
	// What the upstream must have received, when status is the upstream's:
	upHost   string   // its Host (default: authority)
	upAbsent []string // header (or trailer) names it must not have seen
	upHas    []string // name, value pairs it must have seen
	// trailer names the upstream must not have received as trailers
	trailersAbsent []string

	// For rows the fields above cannot say (TestH2SmugglingTable):
	body     string   // sent after the head: as is over HTTP/1.1 (the row's headers frame it), one DATA frame over h2
	h2Data   []string // over h2, these DATA frames instead (END_STREAM on the last)
	h2Fields []string // over h2, exactly this header block: name, value pairs in order, pseudo-fields included, names as written
	h1Raw    string   // over HTTP/1.1, exactly these bytes instead of h1()
	h2Only   bool     // no HTTP/1.1 equivalent
	upTarget string   // the request-target the upstream must have received
	upOnly   []string // name, value pairs: the upstream got exactly this one value under name
	// The body a refused h2 request may have delivered whole before the
	// refusal (a content-length that DATA overran in a later frame): at
	// most this, never the bytes past it.
	upBodyMax string
}

// data is the DATA frames c sends over h2 (nil: none).
func (c hostileInput) data() []string {
	switch {
	case c.h2Data != nil:
		return c.h2Data
	case c.body != "":
		return []string{c.body}
	case c.trailers != nil:
		return []string{"x"}
	}
	return nil
}

func (c hostileInput) h1() string {
	if c.h1Raw != "" {
		return c.h1Raw
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s HTTP/1.1\r\nHost: %s\r\n", c.method, c.path, c.authority)
	for i := 0; i+1 < len(c.headers); i += 2 {
		fmt.Fprintf(&b, "%s: %s\r\n", c.headers[i], c.headers[i+1])
	}
	if c.trailers != nil {
		b.WriteString("Transfer-Encoding: chunked\r\n\r\n1\r\nx\r\n0\r\n")
		for i := 0; i+1 < len(c.trailers); i += 2 {
			fmt.Fprintf(&b, "%s: %s\r\n", c.trailers[i], c.trailers[i+1])
		}
	}
	b.WriteString("\r\n")
	if c.trailers == nil {
		b.WriteString(c.body)
	}
	return b.String()
}

// h2 sends c on stream 1 of a fresh raw h2c connection and returns the
// response status (0: none) and whether moe refused the stream (RST_STREAM
// or GOAWAY; not a timeout, which fails the test).
func (c hostileInput) h2(t *testing.T, addr string) (int, bool) {
	t.Helper()
	h := dialH2(t, addr)
	var hdr []string
	for i := 0; i+1 < len(c.headers); i += 2 {
		hdr = append(hdr, strings.ToLower(c.headers[i]), c.headers[i+1])
	}
	block := requestBlock(c.method, c.path, c.authority, hdr...)
	if c.h2Fields != nil {
		block = nil
		for i := 0; i+1 < len(c.h2Fields); i += 2 {
			block = hpackLiteral(block, c.h2Fields[i], c.h2Fields[i+1], false)
		}
	}
	data := c.data()
	if data == nil {
		h.write(appendFrame(nil, frameHeaders, flagEndHeaders|flagEndStream, 1, block))
	} else {
		// One write: moe reads the request in one go, so a refusal of a
		// later frame comes before the upstream could answer.
		b := appendFrame(nil, frameHeaders, flagEndHeaders, 1, block)
		for i, d := range data {
			var fl byte
			if i == len(data)-1 && c.trailers == nil {
				fl = flagEndStream
			}
			b = appendFrame(b, frameData, fl, 1, []byte(d))
		}
		if c.trailers != nil {
			var tb []byte
			for i := 0; i+1 < len(c.trailers); i += 2 {
				tb = hpackLiteral(tb, strings.ToLower(c.trailers[i]), c.trailers[i+1], false)
			}
			b = appendFrame(b, frameHeaders, flagEndHeaders|flagEndStream, 1, tb)
		}
		h.write(b)
	}
	status, refused := 0, false
	dec := hpack.NewDecoder(4096, func(f hpack.HeaderField) {
		if f.Name == ":status" {
			status, _ = strconv.Atoi(f.Value)
		}
	})
	_, _, err := h.readUntil(10*time.Second, func(f h2Frame, ex map[uint32]*h2Exchange) bool {
		if f.Type == frameHeaders && f.Stream == 1 {
			dec.Write(f.Payload)
		}
		if f.Type == frameGoaway {
			refused = true
			return true
		}
		e := ex[1]
		if e != nil && e.Reset != 0 {
			refused = true
		}
		return e != nil && (e.Ended || e.Reset != 0)
	})
	if err != nil && !refused && status == 0 {
		if isClosedErr(err) {
			return 0, true // closed without an answer: refused too
		}
		t.Fatalf("h2: no answer, no reset: %v", err)
	}
	return status, refused
}

// TestHostileInputTable: Host grammar, fragments, empty values, hop-by-hop
// fields named by Connection, forbidden trailers; each row over HTTP/1.1
// and h2c, each answered the same way.
func TestHostileInputTable(t *testing.T) {
	t.Parallel()
	up := startEcho(t, "up")
	m := startMoe(t, strings.Replace(simpleYAML(1, up.Addr), "    address: \"{{listen}}\"\n",
		"    address: \"{{listen}}\"\n    http2: true\n", 1))
	cases := []hostileInput{
		// Host grammar (RFC 3986 authority, no userinfo).
		{name: "host_plain", method: "GET", path: "/", authority: "a.example:8080", status: 200},
		{name: "host_ipv6", method: "GET", path: "/", authority: "[::1]:80", status: 200},
		{name: "host_with_path", h2Status: -1, method: "GET", path: "/", authority: "evil.com/x@y", status: 400},
		{name: "host_userinfo", method: "GET", path: "/", authority: "user:pw@h", status: 400},
		{name: "host_space", h2Status: -1, method: "GET", path: "/", authority: "a b", status: 400},
		{name: "host_port_not_digits", method: "GET", path: "/", authority: "a:8o", status: 400},
		{name: "host_backslash", h2Status: -1, method: "GET", path: "/", authority: `a\b`, status: 400},
		{name: "host_bad_ip_literal", method: "GET", path: "/", authority: "[::1", status: 400},
		// Absolute-form: its authority replaces Host and is held to the
		// same rule (h1 only: h2 has no absolute-form).
		{name: "absolute_form_userinfo", h1Only: true, method: "GET", path: "http://user@evil/x", authority: "h", status: 400},
		{name: "absolute_form_bad_authority", h1Only: true, method: "GET", path: "http://a%zz/x", authority: "h", status: 400},
		{name: "absolute_form_ok", h1Only: true, method: "GET", path: "http://a.example:81/x", authority: "h", status: 200, upHost: "a.example:81"},
		// A fragment is not part of a request-target.
		{name: "fragment_in_target", method: "GET", path: "/a#b", authority: "h", status: 400},
		// Empty values are legal.
		{name: "empty_value", method: "GET", path: "/", authority: "h", headers: []string{"X-Empty", ""},
			status: 200, upHas: []string{"X-Empty", ""}},
		// An empty value, then a line starting with SP or HTAB: that is
		// obsolete line folding (RFC 9112 5.2), refused like any fold, even
		// though llhttp folds it silently after an empty value; an empty
		// value followed by an ordinary field is not (every empty value
		// answered 400 "obsolete line folding" before).
		{name: "empty_value_then_field", h1Only: true, method: "GET", authority: "h",
			h1Raw:  "GET / HTTP/1.1\r\nHost: h\r\nX-Empty:\r\nX-Next: 1\r\nX-Empty-Ows: \t \r\nX-Last: 2\r\n\r\n",
			status: 200, upHas: []string{"X-Empty", "", "X-Next", "1", "X-Empty-Ows", "", "X-Last", "2"}},
		{name: "obs_fold_after_empty_value_sp", h1Only: true, method: "GET", authority: "h",
			h1Raw: "GET / HTTP/1.1\r\nHost: h\r\nX-Empty:\r\n folded\r\n\r\n", status: 400},
		{name: "obs_fold_after_empty_value_htab", h1Only: true, method: "GET", authority: "h",
			h1Raw: "GET / HTTP/1.1\r\nHost: h\r\nX-Empty:\r\n\tfolded\r\n\r\n", status: 400},
		{name: "obs_fold_after_blank_value", h1Only: true, method: "GET", authority: "h",
			h1Raw: "GET / HTTP/1.1\r\nHost: h\r\nX-Empty: \t\r\n  folded\r\n\r\n", status: 400},
		// Fields the client's Connection names go before any filter or
		// route sees the request (h2 has no Connection: nghttp2 resets a
		// stream that carries one, RFC 9113 8.2.2).
		{name: "connection_named_fields", h2Status: -1, method: "GET", path: "/", authority: "h",
			headers: []string{"Connection", "x-internal, x-request-id", "X-Internal", "1", "X-Request-Id", "r1"},
			status:  200, upAbsent: []string{"X-Internal", "X-Request-Id", "Connection"}},
		// Trailers cannot frame, route or authenticate a request.
		{name: "forbidden_trailers", method: "POST", path: "/", authority: "h",
			trailers: []string{"Host", "evil", "Authorization", "Basic eA==", "Cookie", "a=b", "X-Ok", "1"},
			status:   200, upAbsent: []string{"Authorization", "Cookie"}, upHas: []string{"X-Ok", "1"},
			trailersAbsent: []string{"host"}},
		{name: "content_length_trailer", h2Status: -1, method: "POST", path: "/", authority: "h",
			trailers: []string{"Content-Length", "9", "X-Ok", "1"},
			status:   200, upAbsent: []string{"Content-Length"}, upHas: []string{"X-Ok", "1"}},
	}
	runHostileInputs(t, m.Addr("listen"), up, cases)
}

// runHostileInputs sends each row to addr over HTTP/1.1 and over h2c (raw
// frames), and checks the answer and what up received: nothing for a
// refused request; for one with a body, also that the upstream connection
// still frames requests where moe does (the next request arrives whole).
func runHostileInputs(t *testing.T, addr string, up *upstream, cases []hostileInput) {
	t.Helper()
	for _, tc := range cases {
		if !tc.h2Only {
			t.Run("h1/"+tc.name, func(t *testing.T) {
				before := len(up.Requests())
				c := dial(t, addr)
				br := bufio.NewReader(c)
				if _, err := c.Write([]byte(tc.h1())); err != nil {
					t.Fatal(err)
				}
				resp := readRawResponse(t, br, tc.method)
				if resp.Status != tc.status {
					t.Fatalf("status %d, want %d (%s)", resp.Status, tc.status, resp.Body)
				}
				checkHostileUpstream(t, up, before, tc, false)
				if tc.body != "" || tc.h1Raw != "" {
					checkUpstreamInSync(t, addr, up, before, tc.name)
				}
			})
		}
		if tc.h1Only {
			continue
		}
		t.Run("h2/"+tc.name, func(t *testing.T) {
			before := len(up.Requests())
			got, refused := tc.h2(t, addr)
			if tc.h2Status == -1 {
				if got != 0 || !refused {
					t.Fatalf("status %d (refused %v), want the stream reset by nghttp2", got, refused)
				}
				checkRefusedH2Upstream(t, up, before, tc)
			} else {
				want := tc.status
				if tc.h2Status != 0 {
					want = tc.h2Status
				}
				if got != want {
					t.Fatalf("status %d, want %d", got, want)
				}
				tc := tc
				tc.status = want
				checkHostileUpstream(t, up, before, tc, true)
			}
			if tc.data() != nil {
				checkUpstreamInSync(t, addr, up, before, tc.name)
			}
		})
	}
}

// checkRefusedH2Upstream: what a stream nghttp2 reset may have delivered.
// Without DATA, nothing: the head is refused before it is forwarded. With
// DATA, the head may have gone upstream before a later frame was refused;
// what the refused frames carried must not have, and the body never ended
// beyond what the client framed (upBodyMax).
func checkRefusedH2Upstream(t *testing.T, up *upstream, before int, tc hostileInput) {
	t.Helper()
	if tc.data() == nil {
		checkHostileUpstream(t, up, before, hostileInput{status: 400}, true)
		return
	}
	reqs := up.Requests()[before:]
	if len(reqs) > 1 {
		t.Fatalf("upstream got %d requests from one refused stream: %s %s, then %s %s",
			len(reqs), reqs[0].Method, reqs[0].Target, reqs[1].Method, reqs[1].Target)
	}
	for _, r := range reqs {
		for _, l := range r.Trailers {
			for i := 0; i+1 < len(tc.trailers); i += 2 {
				if strings.HasPrefix(strings.ToLower(l), strings.ToLower(tc.trailers[i])+":") {
					t.Fatalf("upstream got trailer %q from a refused stream", l)
				}
			}
		}
		if r.BodyEnd && tc.trailers == nil && string(r.Body) != tc.upBodyMax {
			t.Fatalf("upstream got a whole body %q from a refused stream (allowed: %q)", r.Body, tc.upBodyMax)
		}
	}
}

// checkUpstreamInSync: a plain request after a row with a body reaches the
// upstream whole and alone, and the row brought at most one request (from
// rowBefore on). An upstream connection that moe reused after it framed a
// body the client did not finish would read this request's head as the
// rest of that body; a body moe framed differently from the client would
// show up as a second request.
func checkUpstreamInSync(t *testing.T, addr string, up *upstream, rowBefore int, name string) {
	t.Helper()
	c := dial(t, addr)
	br := bufio.NewReader(c)
	target := "/in-sync/" + name
	fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: h\r\n\r\n", target)
	if r := readRawResponse(t, br, "GET"); r.Status != 200 {
		t.Fatalf("the request after the row: status %d, want 200 (%s)", r.Status, r.Body)
	}
	var row []string
	synced := 0
	for _, r := range up.Requests()[rowBefore:] {
		if r.Target == target && r.Method == "GET" && r.BodyLen <= 0 {
			synced++
		} else {
			row = append(row, r.Method+" "+r.Target)
		}
	}
	if synced != 1 || len(row) > 1 {
		t.Fatalf("upstream out of step: the row brought %v, and the request after it came %d times whole", row, synced)
	}
}

func checkHostileUpstream(t *testing.T, up *upstream, before int, tc hostileInput, h2 bool) {
	t.Helper()
	reqs := up.Requests()[before:]
	if tc.status >= 400 {
		if len(reqs) != 0 {
			t.Fatalf("refused request reached the upstream: %s %s", reqs[0].Method, reqs[0].Target)
		}
		return
	}
	if len(reqs) != 1 {
		t.Fatalf("upstream got %d requests, want 1", len(reqs))
	}
	r := reqs[0]
	want := tc.upHost
	if want == "" {
		want = tc.authority
	}
	if got := r.Header.Values("Host"); len(got) != 1 || got[0] != want {
		t.Fatalf("upstream Host %q, want just %q", got, want)
	}
	if tc.upTarget != "" && r.Target != tc.upTarget {
		t.Fatalf("upstream target %q, want %q", r.Target, tc.upTarget)
	}
	for i := 0; i+1 < len(tc.upOnly); i += 2 {
		if got := r.Header.Values(tc.upOnly[i]); len(got) != 1 || got[0] != tc.upOnly[i+1] {
			t.Fatalf("upstream %s %q, want just %q: %v", tc.upOnly[i], got, tc.upOnly[i+1], r.Lines)
		}
	}
	sent := tc.body
	if h2 && tc.h2Data != nil {
		sent = strings.Join(tc.h2Data, "")
	}
	if tc.trailers == nil && (sent != "" || r.BodyLen > 0) && (string(r.Body) != sent || !r.BodyEnd) {
		t.Fatalf("upstream body %q (ended %v), want %q", r.Body, r.BodyEnd, sent)
	}
	lines := strings.ToLower(strings.Join(append(append([]string{}, r.Lines...), r.Trailers...), "\n"))
	for _, n := range tc.upAbsent {
		if _, ok := r.Header[n]; ok {
			t.Fatalf("upstream got %s: %v", n, r.Lines)
		}
		if strings.Contains(lines, strings.ToLower(n)+":") {
			t.Fatalf("upstream got %s (head or trailers): %v", n, r.Lines)
		}
	}
	for _, n := range tc.trailersAbsent {
		for _, l := range r.Trailers {
			if strings.HasPrefix(strings.ToLower(l), n+":") {
				t.Fatalf("upstream got trailer %q", l)
			}
		}
	}
	for i := 0; i+1 < len(tc.upHas); i += 2 {
		want := strings.ToLower(tc.upHas[i]) + ":"
		if tc.upHas[i+1] != "" {
			want += " " + tc.upHas[i+1]
		}
		found := false
		for _, l := range strings.Split(lines, "\n") {
			found = found || strings.TrimRight(l, " ") == strings.ToLower(want)
		}
		if !found {
			t.Fatalf("upstream did not get %q: head %v, trailers %v", want, r.Lines, r.Trailers)
		}
	}
}

// TestH1FramingEdges: HTTP/1.0 with Transfer-Encoding is served, then the
// connection closes (RFC 9112 6.1: its framing is faulty); chunk
// extensions are bounded (they are read and dropped, and were unbounded).
func TestH1FramingEdges(t *testing.T) {
	t.Parallel()
	up := startEcho(t, "up")
	m := startMoe(t, simpleYAML(1, up.Addr))
	t.Run("http10_transfer_encoding_closes", func(t *testing.T) {
		c := dial(t, m.Addr("listen"))
		br := bufio.NewReader(c)
		fmt.Fprintf(c, "POST / HTTP/1.0\r\nHost: h\r\nConnection: keep-alive\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n")
		if r := readRawResponse(t, br, "POST"); r.Status != 200 {
			t.Fatalf("status %d", r.Status)
		}
		expectClosed(t, c, br, 5*time.Second)
	})
	t.Run("chunk_extensions_bounded", func(t *testing.T) {
		before := len(up.Requests())
		c := dial(t, m.Addr("listen"))
		br := bufio.NewReader(c)
		fmt.Fprintf(c, "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n3;ext=%s\r\nabc\r\n0\r\n\r\n", strings.Repeat("v", 20000))
		if r := readRawResponse(t, br, "POST"); r.Status != 400 {
			t.Fatalf("status %d, want 400", r.Status)
		}
		// The head may have gone upstream before the body; the body must
		// not have completed there.
		for _, r := range up.Requests()[before:] {
			if r.BodyLen == 3 {
				t.Fatalf("the upstream got the whole body")
			}
		}
	})
	// Empty extensions ("5;;;;..."): each ';' counts.
	t.Run("chunk_extensions_empty_bounded", func(t *testing.T) {
		c := dial(t, m.Addr("listen"))
		br := bufio.NewReader(c)
		fmt.Fprintf(c, "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n3%s\r\nabc\r\n0\r\n\r\n", strings.Repeat(";", 20000))
		if r := readRawResponse(t, br, "POST"); r.Status != 400 {
			t.Fatalf("status %d, want 400", r.Status)
		}
	})
	// The bound is per request, across chunks, and starts again with the
	// next request on the connection.
	t.Run("chunk_extensions_bounded_across_chunks", func(t *testing.T) {
		c := dial(t, m.Addr("listen"))
		br := bufio.NewReader(c)
		var b strings.Builder
		b.WriteString("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n")
		for i := 0; i < 1000; i++ { // 1000 x ";a=bbbbbbbbbbbbbbbb": about 19 KiB
			b.WriteString("1;a=bbbbbbbbbbbbbbbb\r\nx\r\n")
		}
		b.WriteString("0\r\n\r\n")
		io.WriteString(c, b.String())
		if r := readRawResponse(t, br, "POST"); r.Status != 400 {
			t.Fatalf("status %d, want 400", r.Status)
		}
		c2 := dial(t, m.Addr("listen"))
		br2 := bufio.NewReader(c2)
		for k := 0; k < 2; k++ { // 2 x 500 chunks: each request within the bound
			b.Reset()
			b.WriteString("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n")
			for i := 0; i < 500; i++ {
				b.WriteString("1;a=bbbbbbbbbbbbbbbb\r\nx\r\n")
			}
			b.WriteString("0\r\n\r\n")
			io.WriteString(c2, b.String())
			if r := readRawResponse(t, br2, "POST"); r.Status != 200 {
				t.Fatalf("request %d on the connection: status %d, want 200", k, r.Status)
			}
		}
	})
	// What llhttp skips without a callback (runs of spaces in the request
	// line and before a header value, leading zeros of a chunk size, spaces
	// before a trailer value) counts against a bound: each of these took
	// 100 MiB and answered 200. Each row sends up to 8 MiB of the filler in
	// the background; moe must answer with the status and close.
	for _, row := range []struct {
		name, pre string
		fill      byte
		post      string
		status    int
	}{
		{"url_spaces_bounded", "GET", ' ', "/ HTTP/1.1\r\nHost: h\r\n\r\n", 431},
		{"value_ows_bounded", "GET / HTTP/1.1\r\nHost: h\r\nX-A:", ' ', "v\r\n\r\n", 431},
		{"chunk_size_zeros_bounded", "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n", '0', "5\r\nhello\r\n0\r\n\r\n", 400},
		{"trailer_ows_bounded", "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\nX-T:", ' ', "v\r\n\r\n", 400},
	} {
		t.Run(row.name, func(t *testing.T) {
			before := len(up.Requests())
			c := dial(t, m.Addr("listen"))
			br := bufio.NewReader(c)
			go func() {
				io.WriteString(c, row.pre)
				blk := []byte(strings.Repeat(string(row.fill), 64<<10))
				for i := 0; i < 128; i++ {
					if _, err := c.Write(blk); err != nil {
						return
					}
				}
				io.WriteString(c, row.post)
			}()
			if r := readRawResponse(t, br, "POST"); r.Status != row.status {
				t.Fatalf("status %d, want %d: %s", r.Status, row.status, r.Body)
			}
			expectClosed(t, c, br, 5*time.Second)
			// (The chunk itself may have gone: a body streams. Its end must
			// not have: BodyLen alone was 5 either way.)
			for _, r := range up.Requests()[before:] {
				if r.BodyEnd {
					t.Fatalf("the upstream got the whole request, its end included")
				}
			}
		})
	}
	// A legitimate chunked upload whose head ends with an empty field and
	// whose body comes in a later write (a review found it refused with
	// "chunked framing too long": the head's end was misplaced and the
	// framing count wrapped).
	t.Run("empty_last_header_body_later_ok", func(t *testing.T) {
		c := dial(t, m.Addr("listen"))
		br := bufio.NewReader(c)
		io.WriteString(c, "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nX-Empty:\r\n\r\n")
		time.Sleep(100 * time.Millisecond)
		io.WriteString(c, "5")
		time.Sleep(100 * time.Millisecond)
		io.WriteString(c, "\r\nhello\r\n0\r\n\r\n")
		if r := readRawResponse(t, br, "POST"); r.Status != 200 {
			t.Fatalf("status %d, want 200: %s", r.Status, r.Body)
		}
	})
	// The same fold with the empty value's line and the fold in separate
	// reads (the check looks at the byte before the fold across reads), and
	// the legal counterpart: an empty value, then an ordinary field in the
	// next read.
	for _, row := range []struct {
		name, second string
		status       int
	}{
		{"obs_fold_after_empty_value_split_refused", " folded\r\n\r\n", 400},
		{"empty_value_then_field_split_ok", "X-Next: 1\r\n\r\n", 200},
	} {
		t.Run(row.name, func(t *testing.T) {
			before := len(up.Requests())
			c := dial(t, m.Addr("listen"))
			br := bufio.NewReader(c)
			io.WriteString(c, "GET / HTTP/1.1\r\nHost: h\r\nX-Empty:\r\n")
			time.Sleep(100 * time.Millisecond)
			io.WriteString(c, row.second)
			if r := readRawResponse(t, br, "GET"); r.Status != row.status {
				t.Fatalf("status %d, want %d: %s", r.Status, row.status, r.Body)
			}
			if n := len(up.Requests()[before:]); (row.status == 200) != (n == 1) || n > 1 {
				t.Fatalf("upstream got %d requests", n)
			}
		})
	}
	// Within the bounds: a few leading zeros, a generous run of spaces.
	t.Run("framing_whitespace_small_ok", func(t *testing.T) {
		c := dial(t, m.Addr("listen"))
		br := bufio.NewReader(c)
		fmt.Fprintf(c, "\r\nPOST / HTTP/1.1\r\nHost: h\r\nX-A:%sv\r\nTransfer-Encoding: chunked\r\n\r\n%s5\r\nhello\r\n0\r\nX-T: %st\r\n\r\n",
			strings.Repeat(" ", 1000), strings.Repeat("0", 20), strings.Repeat(" ", 100))
		if r := readRawResponse(t, br, "POST"); r.Status != 200 {
			t.Fatalf("status %d, want 200: %s", r.Status, r.Body)
		}
	})
	// (Debian's llhttp 8.1 refuses a second extension on one chunk line,
	// "3;a=b;c=d", with 400: one is what is checked here.)
	t.Run("chunk_extensions_small_ok", func(t *testing.T) {
		c := dial(t, m.Addr("listen"))
		br := bufio.NewReader(c)
		fmt.Fprintf(c, "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n3;a=b\r\nabc\r\n0\r\n\r\n")
		if r := readRawResponse(t, br, "POST"); r.Status != 200 {
			t.Fatalf("status %d, want 200: %s", r.Status, r.Body)
		}
	})
}

// TestGoFilterHeadersSurviveConnectionNames: a client's Connection cannot
// name away what a filter set (the fields it names go before filters run):
// not the headers filter's request_set, not traceid's generated id (the
// client's own id, named in Connection, is hop-by-hop and goes too), not
// extauth's copy_headers_from_auth. HTTP/1.1 only: h2 has no Connection
// (nghttp2 resets a stream that carries one).
func TestGoFilterHeadersSurviveConnectionNames(t *testing.T) {
	t.Parallel()
	requireGo(t)
	auth := startAuthServer(t, authHandler)
	up := startEcho(t, "up")
	m := startMoe(t, goFilterYAML(1, fmt.Sprintf(`      - name: traceid
        config: {header: x-request-id}
      - name: headers
        config: {request_set: {x-internal-auth: by-moe}}
      - name: extauth
        config:
          url: %q
          forward_headers: [authorization]
          copy_headers_from_auth: [x-user-id]`, auth.URL)), "up", up.Addr)
	for _, tc := range []struct {
		name   string
		client string // the client's own x-request-id ("" = none)
	}{{"no_client_id", ""}, {"client_id_named_in_connection", "from-client"}} {
		t.Run(tc.name, func(t *testing.T) {
			before := len(up.Requests())
			c := dial(t, m.Addr("listen"))
			br := bufio.NewReader(c)
			req := "GET / HTTP/1.1\r\nHost: h\r\nConnection: x-request-id, x-user-id, x-internal-auth, keep-alive\r\n" +
				"Authorization: Bearer good\r\nX-Internal-Auth: from-client\r\nX-User-Id: admin\r\n"
			if tc.client != "" {
				req += "X-Request-Id: " + tc.client + "\r\n"
			}
			io.WriteString(c, req+"\r\n")
			r := readRawResponse(t, br, "GET")
			if r.Status != 200 {
				t.Fatalf("status %d: %s", r.Status, r.Body)
			}
			reqs := up.Requests()[before:]
			if len(reqs) != 1 {
				t.Fatalf("upstream got %d requests", len(reqs))
			}
			h := reqs[0].Header
			if got := h.Values("X-Internal-Auth"); len(got) != 1 || got[0] != "by-moe" {
				t.Errorf("upstream X-Internal-Auth %q, want exactly the headers filter's by-moe", got)
			}
			ids := h.Values("X-Request-Id")
			if len(ids) != 1 || !hex32RE.MatchString(ids[0]) {
				t.Errorf("upstream X-Request-Id %q, want one 32-hex id generated by traceid", ids)
			} else if got := r.Header.Values("X-Request-Id"); len(got) != 1 || got[0] != ids[0] {
				t.Errorf("response X-Request-Id %q, want %q (the id sent upstream)", got, ids[0])
			}
			if got := h.Values("X-User-Id"); len(got) != 1 || got[0] != "alice" {
				t.Errorf("upstream X-User-Id %q, want exactly extauth's alice (copied from the auth answer)", got)
			}
			if got := h.Values("Connection"); len(got) != 0 && strings.Contains(strings.ToLower(strings.Join(got, ",")), "x-") {
				t.Errorf("upstream Connection %q names the client's fields", got)
			}
		})
	}
	if n := len(auth.Calls()); n != 2 {
		t.Errorf("auth service got %d calls, want 2 (one per request)", n)
	}
}
