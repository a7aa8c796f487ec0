package api_test

import (
	"bytes"
	"encoding/json"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"moe/goext/api"
	"moe/goext/filtertest"
	"moe/goext/internal/abi"
	"moe/goext/internal/host"
)

// fn-backed test filters, registered once.

type reqFn func(s *api.Stream, h *api.RequestHeaders, end bool) api.Status

type reqFilter struct{ fn reqFn }

func (f reqFilter) OnRequestHeaders(s *api.Stream, h *api.RequestHeaders, end bool) api.Status {
	return f.fn(s, h, end)
}

var tests = map[string]reqFn{}

func init() {
	// "t" runs the reqFn named by its config (a JSON string).
	api.Register("t", func(cfg json.RawMessage) (api.Factory, error) {
		var name string
		if err := json.Unmarshal(cfg, &name); err != nil {
			return nil, err
		}
		return api.Shared(reqFilter{tests[name]}), nil
	})
	api.Register("bodyonly", func(json.RawMessage) (api.Factory, error) { return api.Shared(bodyFilter{}), nil })
	api.Register("badsig", func(json.RawMessage) (api.Factory, error) { return api.Shared(badSig{}), nil })
	api.Register("nohooks", func(json.RawMessage) (api.Factory, error) { return api.Shared(struct{}{}), nil })
	api.Register("failing", func(json.RawMessage) (api.Factory, error) { return nil, errString("bad config") })
	api.Register("buffer", func(json.RawMessage) (api.Factory, error) { return api.Shared(&bufferFilter{}), nil })
	api.Register("seen", func(json.RawMessage) (api.Factory, error) { return api.Shared(&seenFilter{}), nil })
	api.Register("done", func(json.RawMessage) (api.Factory, error) { return api.Shared(doneFilter{}), nil })
	api.Register("reqresp", func(json.RawMessage) (api.Factory, error) { return api.Shared(reqRespFilter{}), nil })
	api.Register("lateadd", func(json.RawMessage) (api.Factory, error) { return api.Shared(lateAddFilter{}), nil })
}

type errString string

func (e errString) Error() string { return string(e) }

type bodyFilter struct{}

func (bodyFilter) OnRequestBody(s *api.Stream, b *api.Body, end bool) api.Status {
	b.Prepend([]byte("<"))
	b.Append([]byte(">"))
	b.Drain(1)
	return api.Continue
}

type badSig struct{}

func (badSig) OnRequestHeaders(s *api.Stream, h *api.Header, end bool) api.Status {
	return api.Continue
}

// bufferFilter: StopAndBuffer on response headers, then upper-cases the whole body.
type bufferFilter struct{}

func (*bufferFilter) OnResponseHeaders(s *api.Stream, h *api.ResponseHeaders, end bool) api.Status {
	return api.StopAndBuffer
}

func (*bufferFilter) OnResponseBody(s *api.Stream, b *api.Body, end bool) api.Status {
	if !end {
		panic("bufferFilter: a chunk before the end")
	}
	b.Replace(bytes.ToUpper(b.Bytes()))
	return api.Continue
}

// seenFilter records, in the response, what it saw.
type seenFilter struct{}

func (*seenFilter) OnResponseHeaders(s *api.Stream, h *api.ResponseHeaders, end bool) api.Status {
	h.Set("x-seen-headers", "1")
	return api.Continue
}

func (*seenFilter) OnResponseBody(s *api.Stream, b *api.Body, end bool) api.Status {
	b.Append([]byte("|" + string(b.Bytes()) + "|"))
	return api.Continue
}

var doneCount atomic.Int32

type doneFilter struct{}

func (doneFilter) OnDone(s *api.Stream, d api.DoneInfo) { doneCount.Add(1) }

func chain(t *testing.T, fs ...filtertest.Filter) *filtertest.Chain {
	t.Helper()
	return filtertest.MustChain(t, fs...)
}

// reqRespFilter has a hook on each headers event and marks the response.
type reqRespFilter struct{}

func (reqRespFilter) OnRequestHeaders(*api.Stream, *api.RequestHeaders, bool) api.Status {
	return api.Continue
}

func (reqRespFilter) OnResponseHeaders(_ *api.Stream, h *api.ResponseHeaders, _ bool) api.Status {
	h.Set("x-resp", "1")
	return api.Continue
}

// lateAddFilter calls AddResponseHeader from its response hook: too late.
type lateAddFilter struct{}

func (lateAddFilter) OnResponseHeaders(s *api.Stream, h *api.ResponseHeaders, _ bool) api.Status {
	s.AddResponseHeader("x-late", "1", api.Append)
	h.Set("x-seen", "1")
	return api.Continue
}

func tf(name string, fn reqFn) filtertest.Filter {
	tests[name] = fn
	return filtertest.Filter{Name: "t", Config: `"` + name + `"`}
}

func TestEventsMask(t *testing.T) {
	c := chain(t, tf("noop", func(*api.Stream, *api.RequestHeaders, bool) api.Status { return api.Continue }))
	if want := uint32(1<<abi.EvRequestHeaders | 1<<abi.EvDone); c.Events() != want {
		t.Fatalf("events %b, want %b", c.Events(), want)
	}
	c = chain(t, filtertest.Filter{Name: "bodyonly"})
	if !c.Wants(abi.EvRequestData) || c.Wants(abi.EvRequestHeaders) || c.Wants(abi.EvResponseData) {
		t.Fatalf("events %b", c.Events())
	}
	c = chain(t, filtertest.Filter{Name: "done"})
	if c.Events() != 1<<abi.EvDone {
		t.Fatalf("events %b", c.Events())
	}
}

func TestChainErrors(t *testing.T) {
	for _, tc := range []struct {
		spec, want string
	}{
		{`[{"name":"nope"}]`, `filter "nope" is not registered (compiled-in: `},
		{`[{"name":"failing"}]`, `filter "failing": bad config`},
		{`[{"name":"badsig"}]`, `has the wrong signature for api.RequestHeadersFilter`},
		{`[{"name":"nohooks"}]`, `has none of the hook methods`},
		{`[{"name":"done","on_error":"maybe"}]`, `on_error must be`},
		{`[{"name":"done","bogus":1}]`, `unknown field "bogus"`},
		{`{}`, `filter chain JSON`},
	} {
		_, err := filtertest.FromJSON(tc.spec)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err %v, want %q", tc.spec, err, tc.want)
		}
	}
}

func TestDuplicateFromPlugin(t *testing.T) {
	host.E.BeginSource("/x/plug.so")
	api.Register("done", func(json.RawMessage) (api.Factory, error) { return nil, nil })
	api.Register("plugfilter", func(json.RawMessage) (api.Factory, error) { return api.Shared(doneFilter{}), nil })
	err := host.E.EndSource()
	if err == nil || !strings.Contains(err.Error(), `filter "done" from plugin /x/plug.so is already registered by a compiled-in package`) {
		t.Fatalf("err %v", err)
	}
	_, err = filtertest.FromJSON(`[{"name":"zzz"}]`)
	if err == nil || !strings.Contains(err.Error(), "plugins loaded: plugfilter (/x/plug.so)") {
		t.Fatalf("err %v", err)
	}
}

func TestOverlayAndKV(t *testing.T) {
	c := chain(t,
		tf("set", func(s *api.Stream, h *api.RequestHeaders, _ bool) api.Status {
			h.Set("X-A", "1")
			h.Add("x-a", "2")
			h.Del("x-drop")
			h.SetPath("/rewritten")
			h.SetPath("/with space") // a request line cannot carry these: ignored
			h.SetPath("/caf\xc3\xa9")
			h.SetPath("")
			h.SetPath("http://other.example/x") // absolute-form would override Host upstream
			h.SetPath("relative")
			h.SetMethod("GE T")
			h.SetHost("a\r\nx-evil: 1")
			s.Set("user", "alice")
			return api.Continue
		}),
		tf("see", func(s *api.Stream, h *api.RequestHeaders, _ bool) api.Status {
			if got := h.Values("x-a"); len(got) != 2 || got[0] != "1" || got[1] != "2" {
				t.Errorf("x-a = %q", got)
			}
			if h.Get("x-drop") != "" || h.Path() != "/rewritten" || h.Method() != "GET" || h.Get("HOST") != "example.com" {
				t.Errorf("overlay: drop=%q path=%q host=%q", h.Get("x-drop"), h.Path(), h.Get("host"))
			}
			if v, _ := s.Get("user"); v != "alice" {
				t.Errorf("kv user=%q", v)
			}
			if s.Info().Listener != "test" || s.Info().DownstreamAddr != "127.0.0.1" {
				t.Errorf("info %+v", s.Info())
			}
			return api.Continue
		}))
	s := c.NewStream(t)
	st := s.RequestHeaders("GET", "/", filtertest.Headers{{"host", "example.com"}, {"x-drop", "y"}, {"x-a", "0"}}, true)
	if st != api.Continue {
		t.Fatal(st)
	}
	if got := s.Request.Headers.Values("x-a"); len(got) != 2 || s.Request.Headers.Get("x-drop") != "" || s.Request.Path != "/rewritten" {
		t.Fatalf("request %+v", s.Request)
	}
	if s.KV["user"] != "alice" {
		t.Fatalf("kv %v", s.KV)
	}
	if s.Request.Method != "GET" {
		t.Fatalf("method %q", s.Request.Method)
	}
	logged := strings.Join(filtertest.Logs(), "\n")
	for _, want := range []string{`SetPath("/with space")`, `SetPath("/café")`, `SetPath("")`, `SetPath("http://other.example/x")`, `SetPath("relative")`, `SetMethod("GE T")`, `SetHost("a\r\nx-evil: 1")`} {
		if !strings.Contains(logged, ": "+want+": ") {
			t.Errorf("no refusal logged for %s in:\n%s", want, logged)
		}
	}
}

func TestSetMethodKeepsHeadAndConnect(t *testing.T) {
	c := chain(t, tf("m", func(s *api.Stream, h *api.RequestHeaders, _ bool) api.Status {
		if h.Method() == "HEAD" {
			h.SetMethod("GET") // the client expects a response without a body
		} else {
			h.SetMethod("HEAD")
			h.SetMethod("CONNECT")
			h.SetMethod("PURGE")
		}
		return api.Continue
	}))
	get := c.NewStream(t)
	get.RequestHeaders("GET", "/", filtertest.Headers{{"host", "a"}}, true)
	if get.Request.Method != "PURGE" {
		t.Fatalf("GET became %q, want PURGE (HEAD and CONNECT refused)", get.Request.Method)
	}
	head := c.NewStream(t)
	head.RequestHeaders("HEAD", "/", filtertest.Headers{{"host", "a"}}, true)
	if head.Request.Method != "HEAD" {
		t.Fatalf("HEAD became %q", head.Request.Method)
	}
	logged := strings.Join(filtertest.Logs(), "\n")
	for _, want := range []string{`SetMethod("HEAD") on a GET request`, `SetMethod("CONNECT") on a GET request`, `SetMethod("GET") on a HEAD request`} {
		if !strings.Contains(logged, want) {
			t.Errorf("no refusal logged for %s in:\n%s", want, logged)
		}
	}
}

func TestInvalidHeaderIgnored(t *testing.T) {
	c := chain(t, tf("inj", func(s *api.Stream, h *api.RequestHeaders, _ bool) api.Status {
		h.Set("x-a", "1\r\nx-evil: 1")
		h.Set("bad name", "1")
		return api.Continue
	}))
	s := c.NewStream(t)
	s.RequestHeaders("GET", "/", nil, true)
	if len(s.Ops) != 0 {
		t.Fatalf("ops %v", s.Ops)
	}
}

func TestBodyOps(t *testing.T) {
	c := chain(t, filtertest.Filter{Name: "bodyonly"})
	s := c.NewStream(t)
	s.RequestHeaders("POST", "/", nil, false)
	s.RequestBody([]byte("ab"), false)
	s.RequestBody([]byte("cd"), true)
	if string(s.Request.Body) != "ab>cd>" {
		t.Fatalf("body %q", s.Request.Body)
	}
}

func TestStopAndBufferFromHeaders(t *testing.T) {
	c := chain(t, filtertest.Filter{Name: "buffer"}, filtertest.Filter{Name: "seen"})
	s := c.NewStream(t)
	s.RequestHeaders("GET", "/", nil, true)
	if st := s.ResponseHeaders(200, filtertest.Headers{{"content-type", "text/plain"}}, false); st != api.StopAndBuffer {
		t.Fatal(st)
	}
	if s.Response.Headers.Get("x-seen-headers") != "" {
		t.Fatal("later filter ran before the body was buffered")
	}
	if st := s.ResponseBody([]byte("hello "), false); st != api.StopAndBuffer {
		t.Fatal(st)
	}
	if st := s.ResponseBody([]byte("world"), true); st != api.Continue {
		t.Fatal(st)
	}
	if s.Response.Headers.Get("x-seen-headers") != "1" || string(s.Response.Body) != "HELLO WORLD|HELLO WORLD|" {
		t.Fatalf("response %q %q", s.Response.Headers, s.Response.Body)
	}
}

func TestAsyncResume(t *testing.T) {
	c := chain(t,
		tf("async", func(s *api.Stream, h *api.RequestHeaders, _ bool) api.Status {
			s.Go(func() {
				time.Sleep(5 * time.Millisecond)
				s.ResumeWith(func() { h.Set("x-user", "bob") })
			})
			return api.Pending
		}),
		tf("after", func(s *api.Stream, h *api.RequestHeaders, _ bool) api.Status {
			if h.Get("x-user") != "bob" {
				t.Errorf("after: x-user=%q", h.Get("x-user"))
			}
			h.Set("x-after", "1")
			return api.Continue
		}))
	s := c.NewStream(t)
	if st := s.RequestHeaders("GET", "/", nil, true); st != api.Continue {
		t.Fatal(st)
	}
	if s.Request.Headers.Get("x-user") != "bob" || s.Request.Headers.Get("x-after") != "1" {
		t.Fatalf("headers %v", s.Request.Headers)
	}
}

func TestResumeBeforeHookReturns(t *testing.T) {
	c := chain(t,
		tf("fast", func(s *api.Stream, h *api.RequestHeaders, _ bool) api.Status {
			done := make(chan struct{})
			go func() { s.ResumeWith(func() { h.Set("x-fast", "1") }); close(done) }()
			<-done
			return api.Pending
		}))
	s := c.NewStream(t)
	if st := s.RequestHeaders("GET", "/", nil, true); st != api.Continue {
		t.Fatal(st)
	}
	if s.Request.Headers.Get("x-fast") != "1" {
		t.Fatalf("headers %v", s.Request.Headers)
	}
}

func TestAsyncLocalReplyGRPC(t *testing.T) {
	c := chain(t, tf("deny", func(s *api.Stream, h *api.RequestHeaders, _ bool) api.Status {
		go s.SendLocalReply(403, [][2]string{{"x-why", "no"}}, []byte("go away"))
		return api.Pending
	}))
	s := c.NewStream(t)
	if st := s.RequestHeaders("GET", "/", nil, true); st != api.LocalReply {
		t.Fatal(st)
	}
	if s.Reply.Status != 403 || string(s.Reply.Body) != "go away" || s.Reply.Headers.Get("x-why") != "no" {
		t.Fatalf("reply %+v", s.Reply)
	}
	// A gRPC request: the reply is recorded as the filter made it; moe
	// shapes it into grpc-status on the wire (src/proxy/grpc.h, covered by
	// the integration tests).
	s = c.NewStream(t)
	st := s.RequestHeaders("POST", "/pkg.Svc/M", filtertest.Headers{{"content-type", "application/grpc+proto"}}, false)
	if r := s.Reply; st != api.LocalReply || r == nil || r.Status != 403 || string(r.Body) != "go away" {
		t.Fatalf("grpc request: status %v, reply %+v", st, r)
	}
}

func TestTimeout(t *testing.T) {
	hang := func(s *api.Stream, h *api.RequestHeaders, _ bool) api.Status { return api.Pending }
	tests["hang"] = hang
	c := chain(t, filtertest.Filter{Name: "t", Config: `"hang"`, TimeoutMs: 20})
	s := c.NewStream(t)
	if st := s.RequestHeaders("GET", "/", nil, true); st != api.LocalReply || s.Reply.Status != 504 {
		t.Fatalf("%v %+v", st, s.Reply)
	}
	var ctxDone atomic.Bool
	tests["hangctx"] = func(s *api.Stream, h *api.RequestHeaders, _ bool) api.Status {
		ctx := s.Context()
		go func() { <-ctx.Done(); ctxDone.Store(true); s.Resume() /* too late: ignored */ }()
		return api.Pending
	}
	c = chain(t, filtertest.Filter{Name: "t", Config: `"hangctx"`, TimeoutMs: 20, OnError: "fail_open"},
		tf("mark", func(s *api.Stream, h *api.RequestHeaders, _ bool) api.Status {
			h.Set("x-mark", "1")
			return api.Continue
		}))
	s = c.NewStream(t)
	if st := s.RequestHeaders("GET", "/", nil, true); st != api.Continue || s.Request.Headers.Get("x-mark") != "1" {
		t.Fatalf("%v %v", st, s.Request.Headers)
	}
	time.Sleep(10 * time.Millisecond)
	if !ctxDone.Load() {
		t.Fatal("context not cancelled on timeout")
	}
}

func TestPanic(t *testing.T) {
	boom := func(s *api.Stream, h *api.RequestHeaders, _ bool) api.Status { panic("boom") }
	tests["boom"] = boom
	before := panicsOf(t, "t")
	c := chain(t, filtertest.Filter{Name: "t", Config: `"boom"`})
	s := c.NewStream(t)
	if st := s.RequestHeaders("GET", "/", nil, true); st != api.LocalReply || s.Reply.Status != 500 {
		t.Fatalf("%v %+v", st, s.Reply)
	}
	c = chain(t, filtertest.Filter{Name: "t", Config: `"boom"`, OnError: "fail_open"},
		tf("mark2", func(s *api.Stream, h *api.RequestHeaders, _ bool) api.Status {
			h.Set("x-mark", "1")
			return api.Continue
		}))
	s = c.NewStream(t)
	if st := s.RequestHeaders("GET", "/", nil, true); st != api.Continue || s.Request.Headers.Get("x-mark") != "1" {
		t.Fatalf("%v %v", st, s.Request.Headers)
	}
	if got := panicsOf(t, "t"); got != before+2 {
		t.Fatalf("moe_go_filter_panics_total{filter=\"t\"} went from %d to %d, want +2", before, got)
	}
	found := false
	for _, l := range filtertest.Logs() {
		found = found || strings.Contains(l, "panicked: boom") && strings.Contains(l, "goroutine")
	}
	if !found {
		t.Fatal("no stack logged")
	}
}

func TestDoneAndReuse(t *testing.T) {
	c := chain(t, filtertest.Filter{Name: "done"}, tf("noop2", func(*api.Stream, *api.RequestHeaders, bool) api.Status { return api.Continue }))
	before := doneCount.Load()
	for i := 0; i < 3; i++ {
		s := c.NewStream(t)
		s.RequestHeaders("GET", "/", nil, true)
		s.Done(200)
	}
	if doneCount.Load()-before != 3 {
		t.Fatalf("OnDone calls %d", doneCount.Load()-before)
	}
}

func TestOpsGrow(t *testing.T) {
	big := strings.Repeat("v", 100000)
	c := chain(t, tf("big", func(s *api.Stream, h *api.RequestHeaders, _ bool) api.Status {
		for i := 0; i < 5; i++ {
			h.Add("x-big", big)
		}
		return api.Continue
	}))
	s := c.NewStream(t)
	s.RequestHeaders("GET", "/", nil, true)
	if v := s.Request.Headers.Values("x-big"); len(v) != 5 || v[4] != big {
		t.Fatalf("got %d values", len(v))
	}
}

var metricsRuns int

func TestMetricsRender(t *testing.T) {
	// Metrics are process-wide: a fresh filter label per run keeps the
	// expected values exact under -count=N.
	metricsRuns++
	mf := "mf" + strconv.Itoa(metricsRuns)
	c := api.NewCounter(mf, "hits_total", "Hits.")
	c.Add(3)
	api.NewGauge(mf, "level", "Level.").Set(1.5)
	h := api.NewHistogram(mf, "lat_seconds", "Latency.", []float64{0.1, 1})
	h.Observe(0.05)
	h.Observe(2)
	if api.NewCounter(mf, "hits_total", "") != c {
		t.Fatal("NewCounter not idempotent")
	}
	m := string(host.E.Metrics())
	for _, want := range []string{
		"# TYPE moe_go_filter_hits_total counter\n",
		"moe_go_filter_hits_total{filter=\"" + mf + "\"} 3\n",
		"moe_go_filter_level{filter=\"" + mf + "\"} 1.5\n",
		"moe_go_filter_lat_seconds_bucket{filter=\"" + mf + "\",le=\"0.1\"} 1\n",
		"moe_go_filter_lat_seconds_bucket{filter=\"" + mf + "\",le=\"+Inf\"} 2\n",
		"moe_go_filter_lat_seconds_count{filter=\"" + mf + "\"} 2\n",
	} {
		if !strings.Contains(m, want) {
			t.Errorf("missing %q in\n%s", want, m)
		}
	}
	// The TYPE line heads its family: the samples come after it, before the
	// next family (other tests' filters may add samples in between).
	typeAt := strings.Index(m, "# TYPE moe_go_filter_hits_total counter\n")
	sampleAt := strings.Index(m, "moe_go_filter_hits_total{filter=\""+mf+"\"} 3\n")
	if typeAt < 0 || sampleAt < typeAt || strings.Contains(m[typeAt+1:sampleAt], "# TYPE") {
		t.Errorf("hits_total's sample is not in its TYPE line's family:\n%s", m)
	}
	var rj map[string]any
	if err := json.Unmarshal(host.E.RuntimeJSON("go-test"), &rj); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"gomaxprocs", "goroutines", "num_gc", "heap_alloc", "crossings", "panics", "go_version"} {
		if _, ok := rj[k]; !ok {
			t.Errorf("runtime json lacks %q: %v", k, rj)
		}
	}
}

// A header-only chain frees the stream's Go state at its last headers event
// (no DONE crossing); a chain with OnDone, a body hook or a goroutine on the
// stream keeps it until DONE.
func TestLastCrossingFreesState(t *testing.T) {
	noop := func(*api.Stream, *api.RequestHeaders, bool) api.Status { return api.Continue }
	// Request hooks only: freed after the request headers.
	s := chain(t, tf("lastreq", noop)).NewStream(t)
	s.RequestHeaders("GET", "/", nil, true)
	if s.HoldsGoState() {
		t.Fatal("request-headers-only chain still holds Go state after its only event")
	}
	// traceid puts its response id through AddResponseHeader: request
	// hook only, freed after the request headers, the id still arrives.
	s = chain(t, filtertest.Filter{Name: "traceid"}).NewStream(t)
	s.RequestHeaders("GET", "/", nil, true)
	if s.HoldsGoState() {
		t.Fatal("traceid chain holds its state after the request headers")
	}
	s.ResponseHeaders(200, nil, true)
	if s.Response.Headers.Get("x-request-id") == "" {
		t.Fatalf("response %v", s.Response.Headers)
	}
	// Request and response hooks: held after the request, freed after the
	// response headers.
	s = chain(t, filtertest.Filter{Name: "reqresp"}).NewStream(t)
	s.RequestHeaders("GET", "/", nil, true)
	if !s.HoldsGoState() {
		t.Fatal("a request+response chain freed its state before the response headers")
	}
	s.ResponseHeaders(200, nil, true)
	if s.HoldsGoState() || s.Response.Headers.Get("x-resp") != "1" {
		t.Fatalf("after the response headers: holds state %v, response %v", s.HoldsGoState(), s.Response.Headers)
	}
	// A body hook keeps it (request body may follow the response headers).
	s = chain(t, filtertest.Filter{Name: "reqresp"}, filtertest.Filter{Name: "bodyonly"}).NewStream(t)
	s.RequestHeaders("POST", "/", nil, false)
	s.ResponseHeaders(200, nil, false)
	if !s.HoldsGoState() {
		t.Fatal("a chain with a body hook freed its state at the response headers")
	}
	// A goroutine holding the stream keeps it.
	s = chain(t, tf("ctx", func(st *api.Stream, _ *api.RequestHeaders, _ bool) api.Status {
		_ = st.Context()
		return api.Continue
	})).NewStream(t)
	s.RequestHeaders("GET", "/", nil, true)
	if !s.HoldsGoState() {
		t.Fatal("a stream whose Context was taken freed its state before DONE")
	}
	s.Done(200)
}

// panicsOf reads moe_go_filter_panics_total for filter from the metrics
// (0 when absent), so a test can check its own increment.
func panicsOf(t *testing.T, filter string) int {
	t.Helper()
	prefix := `moe_go_filter_panics_total{filter="` + filter + `"} `
	for _, line := range strings.Split(string(host.E.Metrics()), "\n") {
		if v, ok := strings.CutPrefix(line, prefix); ok {
			n, err := strconv.Atoi(strings.TrimSpace(v))
			if err != nil {
				t.Fatalf("metric line %q: %v", line, err)
			}
			return n
		}
	}
	return 0
}

// CopyString: a copy (later changes to b don't show), usable as a header
// value, and each stream's strings are its own while it lives.
func TestCopyString(t *testing.T) {
	var got []string
	tests["copystring"] = func(s *api.Stream, h *api.RequestHeaders, end bool) api.Status {
		b := []byte("v-" + h.Path())
		v := s.CopyString(b)
		b[0] = 'X'
		big := s.CopyString(bytes.Repeat([]byte{'b'}, 1000)) // a new block
		h.Set("x-copy", v)
		got = append(got, v, big[:3])
		return api.Continue
	}
	c := filtertest.MustChain(t, filtertest.Filter{Name: "t", Config: `"copystring"`})
	s1, s2 := c.NewStream(t), c.NewStream(t)
	s1.RequestHeaders("GET", "/1", nil, true)
	s2.RequestHeaders("GET", "/2", nil, true)
	if s1.Request.Headers.Get("x-copy") != "v-/1" || s2.Request.Headers.Get("x-copy") != "v-/2" {
		t.Fatalf("headers %v %v", s1.Request.Headers, s2.Request.Headers)
	}
	if strings.Join(got, ",") != "v-/1,bbb,v-/2,bbb" {
		t.Fatalf("strings %q", got)
	}
}

// TestSetOpCodes: Set sends moe an append (OpAdd) for a name in none of
// the fields, so moe skips searching its list, and a replace (OpSet) for a
// name that is there, in moe's fields or added earlier in the call, after a
// Del of it, or after the overlay was materialized.
func TestSetOpCodes(t *testing.T) {
	c := chain(t, tf("set", func(s *api.Stream, h *api.RequestHeaders, _ bool) api.Status {
		h.Set("x-new", "1")  // absent: add
		h.Set("x-new", "2")  // added above: set
		h.Set("x-have", "3") // in moe's fields: set (and the overlay materializes)
		h.Set("x-new2", "4") // absent, overlay materialized: add
		h.Del("x-have")      // del
		h.Set("x-have", "5") // deleted: absent again: add
		h.Set("X-Have", "6") // set
		return api.Continue
	}))
	s := c.NewStream(t)
	s.RequestHeaders("GET", "/", filtertest.Headers{{"host", "h"}, {"x-have", "0"}}, true)
	var got []string
	for _, op := range s.Ops {
		switch op.Code {
		case abi.OpAdd:
			got = append(got, "add "+op.A+"="+op.B)
		case abi.OpSet:
			got = append(got, "set "+op.A+"="+op.B)
		case abi.OpDel:
			got = append(got, "del "+op.A)
		}
	}
	want := []string{"add x-new=1", "set x-new=2", "set x-have=3", "add x-new2=4", "del x-have", "add x-have=5", "set x-have=6"}
	if strings.Join(got, ", ") != strings.Join(want, ", ") {
		t.Fatalf("ops %q\nwant %q", got, want)
	}
	h := s.Request.Headers
	if h.Get("x-new") != "2" || h.Get("x-have") != "6" || h.Get("x-new2") != "4" || len(h.Values("x-have")) != 1 {
		t.Fatalf("request headers %v", h)
	}
}

// TestAddResponseHeader: the three actions on the final head (not on a 100),
// on a filter's local reply too, bad fields ignored, nothing once the
// response arrived.
func TestAddResponseHeader(t *testing.T) {
	add := func(s *api.Stream) {
		s.AddResponseHeader("X-Absent", "a", api.AddIfAbsent)
		s.AddResponseHeader("x-have", "b", api.AddIfAbsent)
		s.AddResponseHeader("x-list", "c", api.Append)
		s.AddResponseHeader("x-over", "d", api.Overwrite)
		s.AddResponseHeader("bad name", "e", api.Append)
		s.AddResponseHeader("x-bad", "f\r\nx-evil: 1", api.Append)
		s.AddResponseHeader("Content-Length", "5", api.Overwrite) // moe frames responses
		s.AddResponseHeader("connection", "close", api.Append)
	}
	c := chain(t, tf("later", func(s *api.Stream, _ *api.RequestHeaders, _ bool) api.Status {
		add(s)
		return api.Continue
	}))
	s := c.NewStream(t)
	s.RequestHeaders("GET", "/", nil, true)
	if s.HoldsGoState() {
		t.Fatal("a request-only chain holds state")
	}
	s.ResponseHeaders(100, nil, false)
	if len(s.Response.Headers) != 0 {
		t.Fatalf("interim response got %v", s.Response.Headers)
	}
	s.ResponseHeaders(200, filtertest.Headers{{"x-have", "0"}, {"x-list", "1"}, {"x-over", "2"}, {"x-over", "3"}}, true)
	want := "x-have=0 x-list=1 x-absent=a x-list=c x-over=d"
	var got []string
	for _, f := range s.Response.Headers {
		got = append(got, f[0]+"="+f[1])
	}
	if strings.Join(got, " ") != want {
		t.Fatalf("response %q\nwant %q", strings.Join(got, " "), want)
	}

	c = chain(t, tf("laterreply", func(s *api.Stream, _ *api.RequestHeaders, _ bool) api.Status {
		s.AddResponseHeader("x-id", "7", api.AddIfAbsent)
		s.SendLocalReply(403, [][2]string{{"x-reason", "no"}}, []byte("no\n"))
		return api.LocalReply
	}))
	s = c.NewStream(t)
	s.RequestHeaders("GET", "/", nil, true)
	if s.Reply == nil || s.Reply.Status != 403 || s.Reply.Headers.Get("x-id") != "7" || s.Reply.Headers.Get("x-reason") != "no" {
		t.Fatalf("reply %+v", s.Reply)
	}
}

// TestSetHostThenSetHost: SetHost changes "host" in moe without the
// overlay knowing; a later Set("host") must still replace it, not add a
// second Host (HTTP/1.0 requests may come without one).
func TestSetHostThenSetHost(t *testing.T) {
	c := chain(t, tf("hosts", func(s *api.Stream, h *api.RequestHeaders, _ bool) api.Status {
		h.SetHost("a.example")
		if h.Get("host") != "a.example" || h.Host() != "a.example" {
			t.Errorf("after SetHost: Get %q, Host %q", h.Get("host"), h.Host())
		}
		h.Set("host", "b.example")
		return api.Continue
	}))
	s := c.NewStream(t)
	s.RequestHeaders("GET", "/", nil, true)
	if got := s.Request.Headers.Values("host"); len(got) != 1 || got[0] != "b.example" {
		t.Fatalf("host %q, want [b.example]", got)
	}
}

// TestAddResponseHeaderAfterResponse: once the response has arrived the call
// does nothing (no op reaches moe).
func TestAddResponseHeaderAfterResponse(t *testing.T) {
	c := chain(t, filtertest.Filter{Name: "lateadd"})
	s := c.NewStream(t)
	s.RequestHeaders("GET", "/", nil, true)
	s.ResponseHeaders(200, nil, true)
	for _, op := range s.Ops {
		if op.Target == abi.TargetLaterResponseHeaders {
			t.Fatalf("op %v after the response arrived", op)
		}
	}
	if s.Response.Headers.Get("x-late") != "" || s.Response.Headers.Get("x-seen") != "1" {
		t.Fatalf("response %v", s.Response.Headers)
	}
}
