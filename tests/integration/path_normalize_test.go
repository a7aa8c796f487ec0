package integration

// Path normalisation (issue 12): a deny route for /private must hold
// whatever spelling of /private a client sends, over HTTP/1.1 (a raw
// connection, so the target is sent byte for byte) and h2c (raw frames,
// so :path is too); legitimate paths reach the upstream normalised.

import (
	"bufio"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/http2/hpack"
)

// pathResult is what one request got: the status, the Location header and
// what the upstream received for it ("" = nothing).
type pathResult struct {
	status   int
	location string
	upstream string
}

// sendPathH1 sends GET target on a fresh HTTP/1.1 connection.
func sendPathH1(t *testing.T, addr, target string, hdr ...string) (int, string) {
	t.Helper()
	c := dial(t, addr)
	defer c.Close()
	var extra strings.Builder
	for i := 0; i+1 < len(hdr); i += 2 {
		fmt.Fprintf(&extra, "%s: %s\r\n", hdr[i], hdr[i+1])
	}
	if _, err := fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: h\r\n%s\r\n", target, extra.String()); err != nil {
		t.Fatalf("write: %v", err)
	}
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	resp := readRawResponse(t, bufio.NewReader(c), "GET")
	return resp.Status, resp.Header.Get("Location")
}

// sendPathH2 sends GET :path target on stream 1 of a fresh h2c connection
// and decodes the response head.
func sendPathH2(t *testing.T, addr, target string) (int, string) {
	t.Helper()
	h := dialH2(t, addr)
	defer h.c.Close()
	h.get(1, target)
	status, location := 0, ""
	dec := hpack.NewDecoder(4096, func(f hpack.HeaderField) {
		switch f.Name {
		case ":status":
			fmt.Sscan(f.Value, &status)
		case "location":
			location = f.Value
		}
	})
	_, frames, err := h.readUntil(5*time.Second, func(f h2Frame, ex map[uint32]*h2Exchange) bool {
		if f.Type == frameHeaders && f.Stream == 1 {
			if _, err := dec.Write(f.Payload); err != nil {
				t.Fatalf("HPACK: %v", err)
			}
		}
		e := ex[1]
		return f.Type == frameGoaway || e != nil && (e.Ended || e.Reset != 0)
	})
	if err != nil {
		t.Fatalf("h2c %q: %v after %d frames", target, err, len(frames))
	}
	return status, location
}

// pathVia runs one request over proto ("h1" or "h2c") to the listener at
// addr and reports what the upstream saw of it.
func pathVia(t *testing.T, proto, addr string, up *upstream, target string) pathResult {
	t.Helper()
	before, beforeBytes := up.Count(), up.BytesIn()
	var r pathResult
	if proto == "h1" {
		r.status, r.location = sendPathH1(t, addr, target)
	} else {
		r.status, r.location = sendPathH2(t, addr, target)
	}
	// A request the upstream got is recorded before its response leaves.
	if reqs := up.Requests(); len(reqs) > before {
		r.upstream = reqs[len(reqs)-1].Target
		if len(reqs) > before+1 {
			t.Errorf("%s %q: the upstream got %d requests", proto, target, len(reqs)-before)
		}
	} else if up.BytesIn() != beforeBytes {
		t.Errorf("%s %q: the upstream read %d bytes that made no request", proto, target, up.BytesIn()-beforeBytes)
	}
	return r
}

const pathYAML = `workers: 1
admin: {address: "{{admin}}"}
log: {level: info, access_log: "off"}
listeners:
  - name: main          # the defaults
    address: "{{listen}}"
    http2: true
    routes: &routes
      - match: {prefix: /private}
        direct_response: {status: 403, body: "denied\n"}
      - match: {prefix: /}
        cluster: up
  - name: keep
    address: "{{listen2}}"
    http2: true
    path_normalization: {escaped_slashes: keep, merge_slashes: false}
    routes: *routes
  - name: forward
    address: "{{listen3}}"
    http2: true
    path_normalization: {escaped_slashes: unescape_and_forward}
    routes: *routes
  - name: redirect
    address: "{{listen4}}"
    http2: true
    path_normalization: {escaped_slashes: unescape_and_redirect}
    routes: *routes
  - name: redirect-unmerged
    address: "{{listen6}}"
    http2: true
    path_normalization: {escaped_slashes: unescape_and_redirect, merge_slashes: false}
    routes: *routes
  - name: off
    address: "{{listen5}}"
    http2: true
    path_normalization: {normalize: false, merge_slashes: false, escaped_slashes: keep}
    routes: *routes
clusters:
  - name: up
    endpoints: ["{{up}}"]
`

// TestPathNormalizationDenyRouteBypass: the hostile table. Every spelling
// of /private/secret.txt gets the deny route's 403 (or a 400 for escapes
// moe refuses) and the upstream receives nothing; the legitimate paths
// reach it normalised, the query byte for byte. Each case runs over
// HTTP/1.1 and h2c. The listener with normalisation off shows the same
// table reaching the upstream, so the upstream check can fail.
func TestPathNormalizationDenyRouteBypass(t *testing.T) {
	t.Parallel()
	up := startEcho(t, "up")
	m := startMoe(t, pathYAML, "up", up.Addr)

	denied := []string{
		"/private/secret.txt",
		"/public/../private/secret.txt",
		"/public/%2e%2e/private/secret.txt",
		"/public/%2E%2e/private/secret.txt",
		"/public/.%2e/private/secret.txt",
		"/public/%2e./private/secret.txt",
		"/%70rivate/secret.txt",
		"/%70%72%69%76%61%74%65/secret.txt",
		"/%2e/private/secret.txt",
		"//private/secret.txt",
		"///private//secret.txt",
		"/./private/secret.txt",
		"/../private/secret.txt",
		"/../../../../private/secret.txt",
		"/public/x/../../private/secret.txt",
		"/public/..//private/secret.txt",
		"/public\\..\\private\\secret.txt",
		"/\\private/secret.txt",
		"/%2e%2e\\%70rivate/./secret.txt?q=1",
	}
	rejected := []string{
		"/public%2F..%2Fprivate/secret.txt", // escaped slashes: reject by default
		"/public/..%2fprivate/secret.txt",
		"/public%5C..%5Cprivate/secret.txt",
		"/public/..%5cprivate/secret.txt",
		"/%zzprivate/secret.txt", // invalid escapes
		"/private%2",
		"/%u0070rivate/secret.txt",
		"/%00/../private/secret.txt", // encoded NUL
		"/public#/../private/secret.txt",
	}
	legit := []struct{ in, want string }{
		{"/public/secret.txt", "/public/secret.txt"},
		{"/public/./a/../b.txt?x=/../private&y=%2f", "/public/b.txt?x=/../private&y=%2f"},
		{"/%7Euser/%61%62c", "/~user/abc"},
		{"/a%3fb?c=d", "/a%3Fb?c=d"},
		{"/caf%c3%a9", "/caf%C3%A9"},
		{"/%252e%252e/private/secret.txt", "/%252e%252e/private/secret.txt"}, // decoded once, never twice
		{"/public/../../", "/"},
		{"/..", "/"},
		{"/public//x///y", "/public/x/y"},
		{"/.well-known/acme", "/.well-known/acme"},
		{"/public/..;/private/secret.txt", "/public/..;/private/secret.txt"}, // a segment "..;", not ".."
	}
	for _, proto := range []string{"h1", "h2c"} {
		addr := m.Addr("listen")
		for _, p := range denied {
			if r := pathVia(t, proto, addr, up, p); r.status != 403 || r.upstream != "" {
				t.Errorf("%s %q: status %d, upstream got %q; want 403 and nothing", proto, p, r.status, r.upstream)
			}
		}
		for _, p := range rejected {
			if r := pathVia(t, proto, addr, up, p); r.status != 400 || r.upstream != "" {
				t.Errorf("%s %q: status %d, upstream got %q; want 400 and nothing", proto, p, r.status, r.upstream)
			}
		}
		for _, c := range legit {
			if r := pathVia(t, proto, addr, up, c.in); r.status != 200 || r.upstream != c.want {
				t.Errorf("%s %q: status %d, upstream got %q; want 200 and %q", proto, c.in, r.status, r.upstream, c.want)
			}
		}
		if proto == "h1" {
			// absolute-form: the codec takes the path out of it first
			if r := pathVia(t, proto, addr, up, "http://h/public/../%70rivate/secret.txt"); r.status != 403 || r.upstream != "" {
				t.Errorf("h1 absolute-form: status %d, upstream got %q; want 403 and nothing", r.status, r.upstream)
			}
		}
		// The control: without normalisation these reach the upstream
		// as sent (the test's upstream check works).
		for _, p := range []string{"/public/../private/secret.txt", "/%70rivate/secret.txt", "//private/secret.txt"} {
			if r := pathVia(t, proto, m.Addr("listen5"), up, p); r.status != 200 || r.upstream != p {
				t.Errorf("control, normalisation off: %s %q: status %d, upstream got %q; want 200 and the path as sent", proto, p, r.status, r.upstream)
			}
		}
	}
}

// TestPathNormalizationEscapedSlashModes: keep, unescape_and_forward and
// unescape_and_redirect, and merge_slashes off, over HTTP/1.1 and h2c.
func TestPathNormalizationEscapedSlashModes(t *testing.T) {
	t.Parallel()
	up := startEcho(t, "up")
	m := startMoe(t, pathYAML, "up", up.Addr)
	cases := []struct {
		listener, in string
		want         pathResult
	}{
		// keep: an encoded slash is part of a segment; hex upper-cased
		{"listen2", "/public%2f..%2fprivate/secret.txt", pathResult{200, "", "/public%2F..%2Fprivate/secret.txt"}},
		{"listen2", "/a%5cb", pathResult{200, "", "/a%5Cb"}},
		{"listen2", "//private/secret.txt", pathResult{200, "", "//private/secret.txt"}}, // merge_slashes: false
		{"listen2", "/public/../private/secret.txt", pathResult{403, "", ""}},
		// unescape_and_forward: the slashes are slashes, then dots resolve
		{"listen3", "/public%2F..%2Fprivate/secret.txt", pathResult{403, "", ""}},
		{"listen3", "/public/..%5Cprivate/secret.txt", pathResult{403, "", ""}},
		{"listen3", "/a%2Fb?x=%2F", pathResult{200, "", "/a/b?x=%2F"}},
		// unescape_and_redirect: 307 to the normalised path, nothing upstream
		{"listen4", "/a%2Fb?x=%2F", pathResult{307, "/a/b?x=%2F", ""}},
		{"listen4", "/public%2F..%2Fprivate/secret.txt", pathResult{307, "/private/secret.txt", ""}},
		{"listen4", "/public/../a", pathResult{200, "", "/a"}}, // no escaped slash: no redirect
		// never a protocol-relative Location (an open redirect to evil.example)
		{"listen6", "/%2Fevil.example/x", pathResult{400, "", ""}},
		{"listen6", "/a%2Fb", pathResult{307, "/a/b", ""}},
	}
	for _, proto := range []string{"h1", "h2c"} {
		for _, c := range cases {
			if r := pathVia(t, proto, m.Addr(c.listener), up, c.in); r != c.want {
				t.Errorf("%s %s %q: got %+v, want %+v", proto, c.listener, c.in, r, c.want)
			}
		}
	}
}

// TestPathNormalizationConfigErrors: bad values name the file, line and key.
func TestPathNormalizationConfigErrors(t *testing.T) {
	t.Parallel()
	for _, c := range []struct{ yaml, want string }{
		{"    path_normalization: {escaped_slashes: drop}\n", "listeners[0].path_normalization.escaped_slashes: unknown value 'drop'; allowed: keep, reject, unescape_and_redirect, unescape_and_forward"},
		{"    path_normalization: {normalize: maybe}\n", "listeners[0].path_normalization.normalize"},
		{"    path_normalization: {merge: true}\n", "listeners[0].path_normalization.merge"},
		{"    path_normalization: on\n", "listeners[0].path_normalization"},
	} {
		dir := t.TempDir()
		cfg := dir + "/moe.yaml"
		text := "listeners:\n  - name: main\n    address: 127.0.0.1:0\n" + c.yaml +
			"    routes:\n      - match: {prefix: /}\n        direct_response: {status: 200}\n"
		if err := os.WriteFile(cfg, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		code, out, errOut := runCmd(t, 20*time.Second, moeBin(t), "--validate", "-c", cfg)
		if code != 1 || !strings.Contains(out+errOut, cfg+":4:") || !strings.Contains(out+errOut, c.want) {
			t.Errorf("%q: exit %d, output %q; want 1 and %q at %s:4", c.yaml, code, out+errOut, c.want, cfg)
		}
	}
}

// TestGoFilterSeesNormalizedPath: Header.Path() in a Go filter is the path
// the router matched (normalised), and a filter's SetPath is normalised
// and routed again: a SetPath that spells /private another way still meets
// the deny route.
func TestGoFilterSeesNormalizedPath(t *testing.T) {
	t.Parallel()
	requireGo(t)
	p := testPlugins(t)
	up := startEcho(t, "up")
	m := startMoe(t, `workers: 1
admin: {address: "{{admin}}"}
log: {level: info, access_log: "off"}
`+goYAMLPlugins(p.TestFilters)+`listeners:
  - name: main
    address: "{{listen}}"
    filters:
      - name: test_setpath
      - name: test_reply
    routes:
`+denyPrivateRoutes, "up", up.Addr)
	addr := m.Addr("listen")

	c := dial(t, addr)
	fmt.Fprint(c, "GET /public/%2e%2e/a/.//b?q=/../ HTTP/1.1\r\nHost: h\r\nX-Deny: 1\r\n\r\n")
	resp := readRawResponse(t, bufio.NewReader(c), "GET")
	if resp.Status != 403 || resp.Header.Get("X-Reply-By") != "test_reply" {
		t.Fatalf("x-deny: status %d, x-reply-by %q; want test_reply's 403", resp.Status, resp.Header.Get("X-Reply-By"))
	}
	if got := resp.Header.Get("X-Reply-Path"); got != "/a/b?q=/../" {
		t.Errorf("the filter saw Path() %q, want the normalised /a/b?q=/../", got)
	}

	for _, tc := range []struct {
		setPath  string
		status   int
		upstream string // "" = nothing
	}{
		{"/public/../private/secret.txt", 403, ""},
		{"/%70rivate/secret.txt", 403, ""},
		{"//private/secret.txt", 403, ""},
		{"/a%2fb", 400, ""},
		{"/x/%2e%2e/y//z?k=/../", 200, "/y/z?k=/../"},
	} {
		before := up.Count()
		st, _ := sendPathH1(t, addr, "/public/ok", "X-Set-Path", tc.setPath)
		got := ""
		if reqs := up.Requests(); len(reqs) > before {
			got = reqs[len(reqs)-1].Target
		}
		if st != tc.status || got != tc.upstream {
			t.Errorf("SetPath(%q): status %d, upstream got %q; want %d and %q", tc.setPath, st, got, tc.status, tc.upstream)
		}
	}
}
