package main

import (
	"testing"

	"moe/goext/filtertest"
)

// Run with: scripts/build-plugin.sh --test goext/examples/hello
// (a plugin's own module needs this moe's goext in a go.work).
func TestHelloAddsHeader(t *testing.T) {
	s := filtertest.MustChain(t, filtertest.Filter{Name: "hello"}).NewStream(t)
	s.RequestHeaders("GET", "/", filtertest.Headers{{"host", "a"}}, true)
	s.ResponseHeaders(200, filtertest.Headers{{"content-type", "text/plain"}}, true)
	if got := s.Response.Headers.Get("x-hello"); got != "world" {
		t.Fatalf("x-hello %q, want world", got)
	}
}
