package ratelimit_test

import (
	"fmt"
	"testing"
	"time"

	"moe/goext/api"
	"moe/goext/filters/ratelimit"
	"moe/goext/filtertest"
)

func TestLimitByHeader(t *testing.T) {
	c := filtertest.MustChain(t, filtertest.Filter{Name: "ratelimit",
		Config: map[string]any{"rate": 1, "burst": 2, "key": "header:X-Api-Key", "paths": []string{"/api/"}}})
	send := func(key, path string) *filtertest.Stream {
		s := c.NewStream(t)
		s.RequestHeaders("GET", path, filtertest.Headers{{"x-api-key", key}}, true)
		return s
	}
	for i := 0; i < 2; i++ {
		if s := send("k1", "/api/x"); s.LocalReplied() {
			t.Fatalf("request %d limited", i)
		}
	}
	s := send("k1", "/api/x")
	if !s.LocalReplied() || s.Reply.Status != 429 || s.Reply.Headers.Get("retry-after") != "1" {
		t.Fatalf("reply %+v", s.Reply)
	}
	if s := send("k2", "/api/x"); s.LocalReplied() {
		t.Fatal("another key limited")
	}
	if s := send("k1", "/other"); s.LocalReplied() {
		t.Fatal("path outside paths limited")
	}
}

func TestLimitByClientIP(t *testing.T) {
	c := filtertest.MustChain(t, filtertest.Filter{Name: "ratelimit", Config: `{"requests_per_second": 1, "burst": 1}`})
	s := c.NewStream(t)
	s.RequestHeaders("GET", "/", nil, true)
	s.Done(200) // the filter must have cloned the key: Done overwrites the view
	s = c.NewStream(t)
	if s.RequestHeaders("GET", "/", nil, true); s.Reply == nil || s.Reply.Status != 429 {
		t.Fatalf("second request from 127.0.0.1: %+v", s.Reply)
	}
	s = c.NewStream(t)
	s.Info.DownstreamAddr = "10.0.0.2"
	if st := s.RequestHeaders("GET", "/", nil, true); st != api.Continue {
		t.Fatal("other client limited")
	}
}

func TestBadConfig(t *testing.T) {
	for _, cfg := range []string{`{}`, `{"rate": 1, "key": "cookie"}`, `{"rate": -1}`, `{"rate": 1, "burst": 0.5}`} {
		if _, err := filtertest.NewChain(filtertest.Filter{Name: "ratelimit", Config: cfg}); err == nil {
			t.Errorf("%s accepted", cfg)
		}
	}
}

func TestLimiterBoundedAndRefills(t *testing.T) {
	l := ratelimit.NewLimiter(1000, 1, 640)
	for i := 0; i < 5000; i++ {
		l.Allow(fmt.Sprint("k", i))
	}
	if n := l.Len(); n > 640 {
		t.Fatalf("%d keys kept, bound 640", n)
	}
	if ok, _ := l.Allow("z"); !ok {
		t.Fatal("first")
	}
	ok, wait := l.Allow("z")
	if ok || wait <= 0 || wait > time.Millisecond {
		t.Fatalf("second: %v %v", ok, wait)
	}
	time.Sleep(2 * time.Millisecond)
	if ok, _ := l.Allow("z"); !ok {
		t.Fatal("no refill")
	}
}

func BenchmarkAllowParallel(b *testing.B) {
	l := ratelimit.NewLimiter(1e9, 1e9, 100000)
	keys := make([]string, 1024)
	for i := range keys {
		keys[i] = fmt.Sprint("10.0.", i/256, ".", i%256)
	}
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			l.Allow(keys[i&1023])
			i++
		}
	})
}
