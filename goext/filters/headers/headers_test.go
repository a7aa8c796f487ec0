package headers_test

import (
	"testing"

	_ "moe/goext/filters/headers"
	"moe/goext/filtertest"
	"moe/goext/internal/abi"
)

func TestHeaders(t *testing.T) {
	c := filtertest.MustChain(t, filtertest.Filter{Name: "headers", Config: `{
		"request_add": [{"name": "X-Add", "value": "1"}, {"name": "x-add", "value": "2"}],
		"request_set": {"x-set": "s"},
		"request_remove": ["x-secret"],
		"response_set": {"server": "moe"},
		"response_remove": ["x-powered-by"],
		"response_add": {"x-r": "r"}}`})
	s := c.NewStream(t)
	s.RequestHeaders("GET", "/", filtertest.Headers{{"x-secret", "1"}, {"x-set", "old"}, {"x-set", "old2"}}, true)
	h := s.Request.Headers
	if h.Get("x-secret") != "" || len(h.Values("x-set")) != 1 || h.Get("x-set") != "s" || len(h.Values("x-add")) != 2 {
		t.Fatalf("request %v", h)
	}
	s.ResponseHeaders(200, filtertest.Headers{{"server", "nginx"}, {"x-powered-by", "php"}}, true)
	r := s.Response.Headers
	if r.Get("server") != "moe" || r.Get("x-powered-by") != "" || r.Get("x-r") != "r" {
		t.Fatalf("response %v", r)
	}
}

func TestEmptyConfig(t *testing.T) {
	c := filtertest.MustChain(t, filtertest.Filter{Name: "headers"})
	s := c.NewStream(t)
	s.RequestHeaders("GET", "/", filtertest.Headers{{"a", "b"}}, true)
	if len(s.Ops) != 0 {
		t.Fatalf("ops %v", s.Ops)
	}
	if _, err := filtertest.NewChain(filtertest.Filter{Name: "headers", Config: `{"request_add": 5}`}); err == nil {
		t.Fatal("bad config accepted")
	}
}

// TestHooksFollowConfig: the filter has only the hooks its config needs,
// so a request-only config costs no response event and a response-only
// config no request event.
func TestHooksFollowConfig(t *testing.T) {
	for _, tc := range []struct {
		config    string
		req, resp bool
	}{
		{`{"request_set": {"x-a": "1"}}`, true, false},
		{`{"response_add": {"x-b": "2"}}`, false, true},
		{`{"request_remove": ["x-c"], "response_remove": ["x-d"]}`, true, true},
		{``, true, false},
	} {
		c := filtertest.MustChain(t, filtertest.Filter{Name: "headers", Config: tc.config})
		if got := c.Wants(abi.EvRequestHeaders); got != tc.req {
			t.Errorf("%s: request hook %v, want %v", tc.config, got, tc.req)
		}
		if got := c.Wants(abi.EvResponseHeaders); got != tc.resp {
			t.Errorf("%s: response hook %v, want %v", tc.config, got, tc.resp)
		}
	}
	// Response-only still changes responses, request-only requests.
	c := filtertest.MustChain(t, filtertest.Filter{Name: "headers", Config: `{"response_set": {"server": "moe"}}`})
	s := c.NewStream(t)
	s.RequestHeaders("GET", "/", nil, true)
	s.ResponseHeaders(200, filtertest.Headers{{"server", "nginx"}}, true)
	if got := s.Response.Headers.Values("server"); len(got) != 1 || got[0] != "moe" {
		t.Fatalf("server %q", got)
	}
}
