// Command testfilters is a Go plugin used only by moe's integration tests
// (tests/integration/go_*_test.go). The tests build it once per run with
// scripts/build-plugin.sh. It registers:
//
//	test_panic   panics in OnRequestHeaders when the request has x-panic
//	test_upper   buffers the whole request body (StopAndBuffer from the
//	             headers hook), upper-cases it and appends config "suffix";
//	             with config late: true the headers hook continues and the
//	             body hook buffers (resizing a body whose head is out)
//	test_reply   answers a local reply (config status, body; header
//	             x-reply-by: test_reply) when the request has x-deny
//	test_setpath SetPath to the request's x-set-path, when it has one
//	test_async   goes Pending and resumes from a goroutine (s.Go), setting
//	             x-async: resumed on the request; a request with x-gc runs
//	             runtime.GC() in that goroutine first
//	test_probe   sets x-probe: ran on every response it sees, and
//	             x-probe-no-request: 1 when its request hook did not run
//	             for that stream (the chain-semantics tests); OnDone stores
//	             DoneInfo.UpstreamTime in the gauge
//	             moe_go_filter_test_probe_upstream_ns
//	test_stall   sleeps x-stall-ms milliseconds in OnRequestHeaders, on the
//	             worker thread: it breaks the filter contract on purpose, for
//	             tests that need the worker busy while something else happens
//	test_slowbody goes Pending on every non-empty body chunk of both
//	             directions and resumes delay_ms (config) later, from a
//	             goroutine: later chunks arrive during its waits
//	test_upchunk upper-cases every body chunk of both directions as it
//	             streams (no buffering, no resizing)
//	chaincase    the chain-scenario table's filter, from the package the
//	             table's filtertest run uses too (moe/goext/filtertest/chaincases):
//	             TestGoChainTable
package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"time"

	"moe/goext/api"
	"moe/goext/filtertest/chaincases"
)

// test_panic

type panicFilter struct{}

var _ api.RequestHeadersFilter = panicFilter{}

func (panicFilter) OnRequestHeaders(s *api.Stream, h *api.RequestHeaders, _ bool) api.Status {
	if _, ok := h.Lookup("x-panic"); ok {
		panic("test_panic: the request asked for a panic")
	}
	return api.Continue
}

// test_upper

type upperFilter struct {
	suffix []byte
	late   bool
}

var (
	_ api.RequestHeadersFilter = (*upperFilter)(nil)
	_ api.RequestBodyFilter    = (*upperFilter)(nil)
)

func (f *upperFilter) OnRequestHeaders(s *api.Stream, h *api.RequestHeaders, endStream bool) api.Status {
	if endStream || f.late {
		return api.Continue
	}
	return api.StopAndBuffer
}

func (f *upperFilter) OnRequestBody(s *api.Stream, b *api.Body, endStream bool) api.Status {
	if !endStream {
		return api.StopAndBuffer
	}
	out := bytes.ToUpper(b.Bytes())
	out = append(out, f.suffix...)
	b.Replace(out)
	return api.Continue
}

// test_reply

type replyFilter struct {
	status int
	body   []byte
}

var _ api.RequestHeadersFilter = (*replyFilter)(nil)

func (f *replyFilter) OnRequestHeaders(s *api.Stream, h *api.RequestHeaders, _ bool) api.Status {
	if _, ok := h.Lookup("x-deny"); !ok {
		return api.Continue
	}
	s.SendLocalReply(f.status, [][2]string{
		{"content-type", "text/plain; charset=utf-8"},
		{"x-reply-by", "test_reply"},
		{"x-reply-path", h.Path()},
	}, f.body)
	return api.LocalReply
}

// test_setpath

type setPathFilter struct{}

var _ api.RequestHeadersFilter = setPathFilter{}

func (setPathFilter) OnRequestHeaders(s *api.Stream, h *api.RequestHeaders, _ bool) api.Status {
	if p, ok := h.Lookup("x-set-path"); ok {
		h.SetPath(p)
	}
	return api.Continue
}

// test_async

type asyncFilter struct{}

var _ api.RequestHeadersFilter = asyncFilter{}

func (asyncFilter) OnRequestHeaders(s *api.Stream, h *api.RequestHeaders, _ bool) api.Status {
	_, gc := h.Lookup("x-gc")
	s.Go(func() {
		if gc {
			runtime.GC()
		}
		s.ResumeWith(func() { h.Set("x-async", "resumed") })
	})
	return api.Pending
}

// test_slowbody

type slowBodyFilter struct{ delay time.Duration }

var (
	_ api.RequestBodyFilter  = (*slowBodyFilter)(nil)
	_ api.ResponseBodyFilter = (*slowBodyFilter)(nil)
)

func (f *slowBodyFilter) OnRequestBody(s *api.Stream, b *api.Body, _ bool) api.Status {
	return f.wait(s, b)
}

func (f *slowBodyFilter) OnResponseBody(s *api.Stream, b *api.Body, _ bool) api.Status {
	return f.wait(s, b)
}

func (f *slowBodyFilter) wait(s *api.Stream, b *api.Body) api.Status {
	if b.Len() == 0 {
		return api.Continue
	}
	s.Go(func() {
		time.Sleep(f.delay)
		s.Resume()
	})
	return api.Pending
}

// test_upchunk

type upChunkFilter struct{}

var (
	_ api.RequestBodyFilter  = upChunkFilter{}
	_ api.ResponseBodyFilter = upChunkFilter{}
)

func (upChunkFilter) OnRequestBody(s *api.Stream, b *api.Body, _ bool) api.Status {
	if b.Len() > 0 {
		b.Replace(bytes.ToUpper(b.Bytes()))
	}
	return api.Continue
}

func (upChunkFilter) OnResponseBody(s *api.Stream, b *api.Body, end bool) api.Status {
	return upChunkFilter{}.OnRequestBody(s, b, end)
}

// test_probe

type probeFilter struct{}

var (
	_ api.RequestHeadersFilter  = probeFilter{}
	_ api.ResponseHeadersFilter = probeFilter{}
	_ api.DoneFilter            = probeFilter{}

	probeUpstream = api.NewGauge("test_probe", "test_probe_upstream_ns", "DoneInfo.UpstreamTime of the last stream.")
)

func (probeFilter) OnDone(s *api.Stream, d api.DoneInfo) { probeUpstream.Set(float64(d.UpstreamTime)) }

func (probeFilter) OnRequestHeaders(s *api.Stream, h *api.RequestHeaders, _ bool) api.Status {
	s.Set("test_probe", "request")
	return api.Continue
}

func (probeFilter) OnResponseHeaders(s *api.Stream, h *api.ResponseHeaders, _ bool) api.Status {
	h.Set("x-probe", "ran")
	if _, ok := s.Get("test_probe"); !ok {
		h.Set("x-probe-no-request", "1")
	}
	return api.Continue
}

// test_stall

type stallFilter struct{}

var _ api.RequestHeadersFilter = stallFilter{}

func (stallFilter) OnRequestHeaders(s *api.Stream, h *api.RequestHeaders, _ bool) api.Status {
	if v, ok := h.Lookup("x-stall-ms"); ok {
		if ms, err := strconv.Atoi(v); err == nil && ms > 0 && ms <= 10000 {
			time.Sleep(time.Duration(ms) * time.Millisecond)
		}
	}
	return api.Continue
}

func init() {
	// For the plugin-failure test: a plugin whose init panics.
	if os.Getenv("MOE_TEST_PLUGIN_PANIC") != "" {
		panic("testfilters: MOE_TEST_PLUGIN_PANIC is set")
	}
	chaincases.Register()
	api.Register("test_probe", func(raw json.RawMessage) (api.Factory, error) {
		return api.Shared(probeFilter{}), nil
	})
	api.Register("test_stall", func(raw json.RawMessage) (api.Factory, error) {
		return api.Shared(stallFilter{}), nil
	})
	api.Register("test_panic", func(raw json.RawMessage) (api.Factory, error) {
		return api.Shared(panicFilter{}), nil
	})
	api.Register("test_upper", func(raw json.RawMessage) (api.Factory, error) {
		var c struct {
			Suffix string `json:"suffix"`
			Late   bool   `json:"late"`
		}
		if err := api.DecodeConfig(raw, &c); err != nil {
			return nil, err
		}
		return api.Shared(&upperFilter{suffix: []byte(c.Suffix), late: c.Late}), nil
	})
	api.Register("test_reply", func(raw json.RawMessage) (api.Factory, error) {
		c := struct {
			Status int    `json:"status"`
			Body   string `json:"body"`
		}{Status: 403, Body: "denied by test_reply\n"}
		if err := api.DecodeConfig(raw, &c); err != nil {
			return nil, err
		}
		if c.Status < 200 || c.Status > 599 {
			return nil, fmt.Errorf("status must be 200..599, got %d", c.Status)
		}
		return api.Shared(&replyFilter{status: c.Status, body: []byte(c.Body)}), nil
	})
	api.Register("test_setpath", func(raw json.RawMessage) (api.Factory, error) {
		return api.Shared(setPathFilter{}), nil
	})
	// /config_dump shows test_reply's body as "[redacted]" (TestAdminConfigDumpRedactsSecrets).
	api.SecretFields("test_reply", "body")
	api.Register("test_slowbody", func(raw json.RawMessage) (api.Factory, error) {
		var c struct {
			DelayMs int `json:"delay_ms"`
		}
		if err := json.Unmarshal(raw, &c); err != nil {
			return nil, err
		}
		return api.Shared(&slowBodyFilter{delay: time.Duration(c.DelayMs) * time.Millisecond}), nil
	})
	api.Register("test_upchunk", func(raw json.RawMessage) (api.Factory, error) {
		return api.Shared(upChunkFilter{}), nil
	})
	api.Register("test_async", func(raw json.RawMessage) (api.Factory, error) {
		return api.Shared(asyncFilter{}), nil
	})
}

func main() {}
