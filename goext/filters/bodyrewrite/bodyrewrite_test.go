package bodyrewrite_test

import (
	"testing"

	"moe/goext/api"
	_ "moe/goext/filters/bodyrewrite"
	"moe/goext/filtertest"
)

func chain(t *testing.T) *filtertest.Chain {
	return filtertest.MustChain(t, filtertest.Filter{Name: "bodyrewrite",
		Config: `{"replacements": [{"from": "http://internal", "to": "https://example.com"}, {"from": "foo", "to": "bar"}]}`})
}

func TestRewritesWholeBody(t *testing.T) {
	s := chain(t).NewStream(t)
	s.RequestHeaders("GET", "/", nil, true)
	if st := s.ResponseHeaders(200, filtertest.Headers{{"content-type", "text/html; charset=utf-8"}}, false); st != api.StopAndBuffer {
		t.Fatal(st)
	}
	// "http://internal" split across chunks still matches: the body is whole.
	s.ResponseBody([]byte("see http://inte"), false)
	s.ResponseBody([]byte("rnal/foo"), true)
	if got := string(s.Response.Body); got != "see https://example.com/bar" {
		t.Fatalf("body %q", got)
	}
}

func TestSkipsOtherTypesAndCompressed(t *testing.T) {
	for _, h := range []filtertest.Headers{
		{{"content-type", "image/png"}},
		{{"content-type", "application/json"}, {"content-encoding", "gzip"}},
		{},
	} {
		s := chain(t).NewStream(t)
		s.RequestHeaders("GET", "/", nil, true)
		if st := s.ResponseHeaders(200, h, false); st != api.Continue {
			t.Fatalf("%v: %v", h, st)
		}
		s.ResponseBody([]byte("foo"), false)
		s.ResponseBody([]byte("foo"), true)
		if string(s.Response.Body) != "foofoo" {
			t.Fatalf("%v: body %q", h, s.Response.Body)
		}
	}
}

func TestJSONAndEmptyBody(t *testing.T) {
	s := chain(t).NewStream(t)
	s.RequestHeaders("GET", "/", nil, true)
	s.ResponseHeaders(200, filtertest.Headers{{"content-type", "application/json"}}, false)
	s.ResponseBody(nil, true)
	if len(s.Response.Body) != 0 {
		t.Fatalf("body %q", s.Response.Body)
	}
}
