package api_test

import (
	"encoding/json"
	"testing"
	"time"

	"moe/goext/api"
	"moe/goext/filtertest"
)

// Regression: Go kept the moe_header array of the request headers from the
// request-headers event and read it in later events, after moe had edited
// (and reallocated) its list. moe now sends the request headers on every
// call and filtertest poisons each array when its call returns.

// echoFilter copies what s.RequestHeaders() says in its later hooks onto the
// response (x-echo-*) or into the stream's values.
type echoFilter struct{ reqHook bool }

func (f *echoFilter) OnRequestHeaders(s *api.Stream, h *api.RequestHeaders, _ bool) api.Status {
	if f.reqHook {
		h.Set("x-set-by-go", "v1") // an overlay made in this call
		h.Del("x-drop-by-go")
	}
	return api.Continue
}

func (f *echoFilter) OnResponseHeaders(s *api.Stream, h *api.ResponseHeaders, _ bool) api.Status {
	rq := s.RequestHeaders()
	if rq == nil {
		h.Set("x-echo-nil", "1")
		return api.Continue
	}
	for _, n := range []string{"x-request-id", "x-set-by-go", "x-drop-by-go", "connection", "x-forwarded-for"} {
		if v, ok := rq.Lookup(n); ok {
			h.Set("x-echo-"+n, v)
		}
	}
	h.Set("x-echo-line", rq.Method()+" "+rq.Path())
	h.Set("x-echo-len", itoa(rq.Len()))
	return api.Continue
}

func (f *echoFilter) OnResponseBody(s *api.Stream, b *api.Body, end bool) api.Status {
	// The response headers came in an earlier call too.
	b.Append([]byte("|ct=" + s.ResponseHeaders().Get("content-type") + "|id=" + s.RequestHeaders().Get("x-request-id")))
	return api.Continue
}

func (f *echoFilter) OnDone(s *api.Stream, _ api.DoneInfo) {
	doneSeen <- s.RequestHeaders().Get("x-request-id") + "," + s.ResponseHeaders().Get("content-type")
}

var doneSeen = make(chan string, 16)

func itoa(n int) string {
	b, _ := json.Marshal(n)
	return string(b)
}

func init() {
	api.Register("echo", func(cfg json.RawMessage) (api.Factory, error) {
		var c struct {
			ReqHook bool `json:"req_hook"`
		}
		if err := json.Unmarshal(cfg, &c); err != nil {
			return nil, err
		}
		if c.ReqHook {
			return api.Shared(&echoFilter{reqHook: true}), nil
		}
		return api.Shared(&echoOnly{}), nil
	})
}

// echoOnly is echoFilter without a request-headers hook.
type echoOnly struct{ e echoFilter }

func (f *echoOnly) OnResponseHeaders(s *api.Stream, h *api.ResponseHeaders, end bool) api.Status {
	return f.e.OnResponseHeaders(s, h, end)
}
func (f *echoOnly) OnResponseBody(s *api.Stream, b *api.Body, end bool) api.Status {
	return f.e.OnResponseBody(s, b, end)
}
func (f *echoOnly) OnDone(s *api.Stream, d api.DoneInfo) { f.e.OnDone(s, d) }

// moeEdits stands for what moe does to the request between the
// request-headers call and the response: strip hop-by-hop headers (entries
// shift) and add x-forwarded-for (the list grows: a new array).
func moeEdits(s *filtertest.Stream) {
	s.Request.Headers = append(filtertest.Headers{}, s.Request.Headers...)
	out := s.Request.Headers[:0]
	for _, f := range s.Request.Headers {
		if f[0] != "connection" {
			out = append(out, f)
		}
	}
	s.Request.Headers = append(out, [2]string{"x-forwarded-for", "10.0.0.1"})
}

func TestRequestHeadersInLaterEvents(t *testing.T) {
	for _, reqHook := range []bool{true, false} {
		name := "without-request-hook"
		if reqHook {
			name = "with-request-hook"
		}
		t.Run(name, func(t *testing.T) {
			c := chain(t, filtertest.Filter{Name: "echo", Config: map[string]bool{"req_hook": reqHook}})
			if c.Wants(1) != reqHook {
				t.Fatalf("wants request headers: %v", c.Wants(1))
			}
			s := c.NewStream(t)
			s.RequestHeaders("POST", "/a?b", filtertest.Headers{
				{"connection", "keep-alive"}, {"x-request-id", "rid-1"}, {"x-drop-by-go", "x"}, {"host", "h"},
			}, false)
			s.RequestBody([]byte("req"), true)
			moeEdits(s)
			s.ResponseHeaders(200, filtertest.Headers{{"content-type", "text/plain"}}, false)
			r := s.Response.Headers
			if r.Get("x-echo-nil") != "" {
				t.Fatal("RequestHeaders() is nil in a response hook")
			}
			if got := r.Get("x-echo-x-request-id"); got != "rid-1" {
				t.Errorf("x-request-id seen as %q, want rid-1 (response: %v)", got, r)
			}
			if got := r.Get("x-echo-connection"); got != "" {
				t.Errorf("sees connection=%q, which moe stripped", got)
			}
			if got := r.Get("x-echo-x-forwarded-for"); got != "10.0.0.1" {
				t.Errorf("x-forwarded-for seen as %q, want moe's 10.0.0.1", got)
			}
			if got := r.Get("x-echo-line"); got != "POST /a?b" {
				t.Errorf("request line %q", got)
			}
			wantSet, wantLen := "", "4" // x-request-id, x-drop-by-go, host, x-forwarded-for
			if reqHook {
				wantSet, wantLen = "v1", "4" // x-request-id, host, x-set-by-go, x-forwarded-for
				if got := r.Get("x-echo-x-drop-by-go"); got != "" {
					t.Errorf("sees x-drop-by-go=%q, deleted by Go", got)
				}
			}
			if got := r.Get("x-echo-x-set-by-go"); got != wantSet {
				t.Errorf("x-set-by-go seen as %q, want %q", got, wantSet)
			}
			if got := r.Get("x-echo-len"); got != wantLen {
				t.Errorf("Len() = %s, want %s (request %v)", got, wantLen, s.Request.Headers)
			}
			s.ResponseBody([]byte("body"), true)
			if got, want := string(s.Response.Body), "body|ct=text/plain|id=rid-1"; got != want {
				t.Errorf("response body %q, want %q", got, want)
			}
			s.Done(200)
			select {
			case got := <-doneSeen:
				if got != "rid-1,text/plain" {
					t.Errorf("OnDone saw %q", got)
				}
			case <-time.After(time.Second):
				t.Fatal("no OnDone")
			}
		})
	}
}

// After Pending, moe applies the ops returned with it and calls again with
// its (possibly moved) arrays: the chain resumes on those.
func TestRequestHeadersAfterResume(t *testing.T) {
	c := chain(t,
		tf("pend-set", func(s *api.Stream, h *api.RequestHeaders, _ bool) api.Status {
			h.Set("x-before", "1")
			s.Go(func() { s.ResumeWith(func() { h.Set("x-in-resume", h.Get("x-before")) }) })
			return api.Pending
		}),
		tf("pend-after", func(s *api.Stream, h *api.RequestHeaders, _ bool) api.Status {
			if h.Get("x-before") != "1" || h.Get("x-in-resume") != "1" || s.RequestHeaders().Get("a") != "b" {
				t.Errorf("after resume: %q %q", h.Get("x-before"), h.Get("x-in-resume"))
			}
			return api.Continue
		}))
	s := c.NewStream(t)
	if st := s.RequestHeaders("GET", "/", filtertest.Headers{{"a", "b"}}, true); st != api.Continue {
		t.Fatal(st)
	}
	if s.Request.Headers.Get("x-before") != "1" || s.Request.Headers.Get("x-in-resume") != "1" {
		t.Fatalf("request %v", s.Request.Headers)
	}
}
