package integration

import (
	"strings"
	"testing"
)

// TestRouteMatching drives one listener whose routes are direct responses
// naming themselves, so the body says which route won.
func TestRouteMatching(t *testing.T) {
	t.Parallel()
	m := startMoe(t, yamlMain+`    routes:
      - name: first
        match: {prefix: /order/}
        direct_response: {status: 200, body: "first"}
      - name: second
        match: {prefix: /order/}
        direct_response: {status: 200, body: "second"}
      - name: host-exact
        match: {prefix: /h/, host: "api.example.com"}
        direct_response: {status: 200, body: "host-exact"}
      - name: host-wild
        match: {prefix: /h/, host: "*.example.com"}
        direct_response: {status: 200, body: "host-wild"}
      - name: path-exact
        match: {path: /exact}
        direct_response: {status: 200, body: "path-exact"}
      - name: regex
        match: {regex: "^/re/[0-9]+$"}
        direct_response: {status: 200, body: "regex"}
      - name: method-post
        match: {prefix: /m, method: POST}
        direct_response: {status: 200, body: "method-post"}
      - name: hdr-exact
        match: {prefix: /hdr, headers: [{name: x-exact, exact: "yes"}]}
        direct_response: {status: 200, body: "hdr-exact"}
      - name: hdr-prefix
        match: {prefix: /hdr, headers: [{name: x-prefix, prefix: "ab"}]}
        direct_response: {status: 200, body: "hdr-prefix"}
      - name: hdr-regex
        match: {prefix: /hdr, headers: [{name: x-regex, regex: "^v[0-9]+$"}]}
        direct_response: {status: 200, body: "hdr-regex"}
      - name: hdr-present
        match: {prefix: /hdr, headers: [{name: x-present, present: true}]}
        direct_response: {status: 200, body: "hdr-present"}
      - name: direct
        match: {path: /direct}
        direct_response:
          status: 418
          body: "short and stout\n"
          headers: {x-teapot: "yes", content-type: text/plain}
`)
	cases := []struct {
		name   string
		method string
		path   string
		hdr    []string
		status int
		body   string
	}{
		{"first_match_wins", "GET", "/order/x", nil, 200, "first"},
		{"host_exact", "GET", "/h/a", []string{"Host", "api.example.com"}, 200, "host-exact"},
		{"host_exact_port_ignored", "GET", "/h/a", []string{"Host", "api.example.com:8080"}, 200, "host-exact"},
		{"host_exact_case_insensitive", "GET", "/h/a", []string{"Host", "API.Example.COM"}, 200, "host-exact"},
		{"host_wildcard", "GET", "/h/a", []string{"Host", "www.example.com"}, 200, "host-wild"},
		{"host_wildcard_not_apex", "GET", "/h/a", []string{"Host", "example.com"}, 404, ""},
		{"host_other", "GET", "/h/a", []string{"Host", "example.org"}, 404, ""},
		{"path_exact", "GET", "/exact", nil, 200, "path-exact"},
		{"path_exact_not_prefix", "GET", "/exact/more", nil, 404, ""},
		{"regex_match", "GET", "/re/123", nil, 200, "regex"},
		{"regex_no_match", "GET", "/re/abc", nil, 404, ""},
		{"method_match", "POST", "/m", nil, 200, "method-post"},
		{"method_no_match", "GET", "/m", nil, 404, ""},
		{"header_exact", "GET", "/hdr", []string{"X-Exact", "yes"}, 200, "hdr-exact"},
		{"header_exact_wrong_value", "GET", "/hdr", []string{"X-Exact", "no"}, 404, ""},
		{"header_prefix", "GET", "/hdr", []string{"X-Prefix", "abc"}, 200, "hdr-prefix"},
		{"header_regex", "GET", "/hdr", []string{"X-Regex", "v42"}, 200, "hdr-regex"},
		{"header_regex_no_match", "GET", "/hdr", []string{"X-Regex", "x42"}, 404, ""},
		{"header_present", "GET", "/hdr", []string{"X-Present", "1"}, 200, "hdr-present"},
		{"no_route_404", "GET", "/nothing-here", nil, 404, ""},
	}
	c := newClient()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			st, _, body := httpDo(t, c, tc.method, m.URL(tc.path), nil, tc.hdr...)
			if st != tc.status {
				t.Fatalf("%s %s %v: status %d, want %d (body %q)", tc.method, tc.path, tc.hdr, st, tc.status, truncate(body, 200))
			}
			if tc.body != "" && string(body) != tc.body {
				t.Fatalf("%s %s %v: body %q, want %q (wrong route)", tc.method, tc.path, tc.hdr, body, tc.body)
			}
		})
	}
	t.Run("direct_response_status_body_headers", func(t *testing.T) {
		st, h, body := httpDo(t, c, "GET", m.URL("/direct"), nil)
		if st != 418 || string(body) != "short and stout\n" {
			t.Fatalf("got %d %q, want 418 %q", st, body, "short and stout\n")
		}
		if h.Get("X-Teapot") != "yes" || !strings.HasPrefix(h.Get("Content-Type"), "text/plain") {
			t.Fatalf("direct_response headers missing: %v", h)
		}
	})
}

// TestPrefixRewrite: the matched prefix is replaced before the request goes
// upstream; the query string is kept.
func TestPrefixRewrite(t *testing.T) {
	t.Parallel()
	up := startEcho(t, "up")
	m := startMoe(t, yamlMain+`    routes:
      - match: {prefix: /api/}
        cluster: up
        prefix_rewrite: /
      - match: {prefix: /old}
        cluster: up
        prefix_rewrite: /new
clusters:
  - name: up
    endpoints: ["{{up}}"]
`, "up", up.Addr)
	for _, tc := range []struct{ in, want string }{
		{"/api/users?x=1", "/users?x=1"},
		{"/api/", "/"},
		{"/old/thing", "/new/thing"},
		{"/oldish", "/newish"},
	} {
		st, _, body := httpGet(t, m.URL(tc.in))
		if st != 200 {
			t.Fatalf("GET %s: status %d", tc.in, st)
		}
		if e := decodeEcho(t, body); e.Target != tc.want {
			t.Errorf("GET %s: upstream saw %q, want %q", tc.in, e.Target, tc.want)
		}
	}
}

// TestRoundRobinTwoEndpoints: with lb round_robin (and one worker) requests
// alternate between the two endpoints.
func TestRoundRobinTwoEndpoints(t *testing.T) {
	t.Parallel()
	a := startEcho(t, "a")
	b := startEcho(t, "b")
	m := startMoe(t, yamlMain+`    routes:
      - match: {prefix: /}
        cluster: up
clusters:
  - name: up
    endpoints: ["{{a}}", "{{b}}"]
    lb: round_robin
`, "a", a.Addr, "b", b.Addr)
	c := newClient()
	var seq []string
	for i := 0; i < 10; i++ {
		st, h, _ := httpDo(t, c, "GET", m.URL("/rr"), nil)
		if st != 200 {
			t.Fatalf("request %d: status %d", i, st)
		}
		seq = append(seq, h.Get("X-Upstream"))
	}
	for i := 1; i < len(seq); i++ {
		if seq[i] == seq[i-1] {
			t.Fatalf("endpoints did not alternate: %v", seq)
		}
	}
	if a.Count() != 5 || b.Count() != 5 {
		t.Fatalf("a got %d, b got %d requests; want 5 and 5 (%v)", a.Count(), b.Count(), seq)
	}
}
