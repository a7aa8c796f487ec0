package traceid_test

import (
	"regexp"
	"testing"

	. "moe/goext/filters/traceid"
	"moe/goext/filtertest"
	"moe/goext/internal/abi"
)

var hex32 = regexp.MustCompile(`^[0-9a-f]{32}$`)

func TestGeneratesAndCopies(t *testing.T) {
	c := filtertest.MustChain(t, filtertest.Filter{Name: "traceid"})
	if c.Wants(2) || c.Wants(5) {
		t.Fatal("traceid must not ask for body events")
	}
	s := c.NewStream(t)
	s.RequestHeaders("GET", "/", filtertest.Headers{{"host", "a"}}, true)
	id := s.Request.Headers.Get("x-request-id")
	if !hex32.MatchString(id) {
		t.Fatalf("id %q", id)
	}
	s.ResponseHeaders(200, nil, true)
	if s.Response.Headers.Get("x-request-id") != id {
		t.Fatalf("response id %q, want %q", s.Response.Headers.Get("x-request-id"), id)
	}
	s2 := c.NewStream(t)
	s2.RequestHeaders("GET", "/", nil, true)
	if s2.Request.Headers.Get("x-request-id") == id {
		t.Fatal("same id twice")
	}
}

func TestKeepsClientIDCustomHeader(t *testing.T) {
	c := filtertest.MustChain(t, filtertest.Filter{Name: "traceid", Config: map[string]any{"header": "X-Trace"}})
	s := c.NewStream(t)
	s.RequestHeaders("GET", "/", filtertest.Headers{{"x-trace", "abc"}}, true)
	if s.Request.Headers.Get("x-trace") != "abc" || len(s.Request.Headers.Values("x-trace")) != 1 {
		t.Fatalf("changed a present id: %v", s.Request.Headers)
	}
	// The only op: the client's id for the response, the upstream's winning.
	if len(s.Ops) != 1 || s.Ops[0].Target != abi.TargetLaterResponseHeaders || s.Ops[0].Code != abi.OpAddIfAbsent ||
		s.Ops[0].A != "x-trace" || s.Ops[0].B != "abc" {
		t.Fatalf("ops %v, want only AddResponseHeader(x-trace, abc, AddIfAbsent)", s.Ops)
	}
	s.ResponseHeaders(200, filtertest.Headers{{"content-type", "text/plain"}}, true)
	if s.Response.Headers.Get("x-trace") != "abc" {
		t.Fatalf("response %v", s.Response.Headers)
	}
	if _, err := filtertest.NewChain(filtertest.Filter{Name: "traceid", Config: map[string]any{"hdr": "x"}}); err == nil {
		t.Fatal("unknown config key accepted")
	}
}

func BenchmarkNewID(b *testing.B) {
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			_ = NewID()
		}
	})
}

func TestUpstreamIDWinsAndLocalRepliesGetTheID(t *testing.T) {
	c := filtertest.MustChain(t, filtertest.Filter{Name: "traceid"})
	s := c.NewStream(t)
	s.RequestHeaders("GET", "/", filtertest.Headers{{"x-request-id", "client"}}, true)
	s.ResponseHeaders(200, filtertest.Headers{{"x-request-id", "upstream"}}, true)
	if got := s.Response.Headers.Values("x-request-id"); len(got) != 1 || got[0] != "upstream" {
		t.Fatalf("response ids %q, want the upstream's only", got)
	}
	s = c.NewStream(t)
	s.RequestHeaders("GET", "/", nil, true)
	id := s.Request.Headers.Get("x-request-id")
	s.ResponseHeaders(502, filtertest.Headers{{"content-type", "text/plain"}}, true)
	if got := s.Response.Headers.Get("x-request-id"); got != id {
		t.Fatalf("502 id %q, want %q", got, id)
	}
}
