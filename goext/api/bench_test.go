package api_test

import (
	"testing"
	"unsafe"

	_ "moe/goext/filters/headers"
	_ "moe/goext/filters/traceid"
	"moe/goext/filtertest"
	"moe/goext/internal/abi"
	"moe/goext/internal/host"
)

// The engine without cgo: one stream = REQUEST_HEADERS + DONE, as the C
// harness does it. Shows allocations per stream.
func benchChain(b *testing.B, spec string) {
	c, err := filtertest.FromJSON(spec)
	if err != nil {
		b.Fatal(err)
	}
	_ = c
	id := uint32(0)
	// FromJSON used a fresh id; rebuild under a known one.
	id = 1<<31 + uint32(len(spec))
	if _, err := host.E.CreateChain(id, []byte(spec)); err != nil {
		b.Fatal(err)
	}
	str := func(s string) (*byte, uint32) { return unsafe.StringData(s), uint32(len(s)) }
	hs := []abi.Header{}
	for _, kv := range [][2]string{{"host", "example.com"}, {"user-agent", "curl/8"}, {"accept", "*/*"}, {"x-remove-me", "1"}} {
		var h abi.Header
		h.Name, h.NameLen = str(kv[0])
		h.Value, h.ValueLen = str(kv[1])
		hs = append(hs, h)
	}
	info, ops, ev := benchEventParts()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		*ev = abi.Event{Handle: 4000<<48 | uint64(i&0xffffff), Chain: id, Kind: abi.EvRequestHeaders, EndStream: 1,
			Headers: &hs[0], HeaderCount: uint32(len(hs)), Info: info, Ops: ops}
		ev.Method, ev.MethodLen = str("GET")
		ev.Path, ev.PathLen = str("/")
		ops.Len = 0
		host.E.OnEvent(ev)
		ev.Kind = abi.EvDone
		host.E.OnEvent(ev)
	}
}

func BenchmarkStream0Filters(b *testing.B) { benchChain(b, `[]`) }
func BenchmarkStream1Headers(b *testing.B) { benchChain(b, `[{"name":"headers"}]`) }
func BenchmarkStream10Headers(b *testing.B) {
	benchChain(b, `[{"name":"headers"},{"name":"headers"},{"name":"headers"},{"name":"headers"},{"name":"headers"},{"name":"headers"},{"name":"headers"},{"name":"headers"},{"name":"headers"},{"name":"headers"}]`)
}
func BenchmarkStreamTraceidHeaders(b *testing.B) {
	benchChain(b, `[{"name":"traceid"},{"name":"headers","config":{"request_set":{"x-via":"moe"}}}]`)
}

// One whole request as moe makes it for a header-only chain: the
// request-headers event, then the response-headers event (whose request
// array carries what the first event's ops added), then DONE only if Go
// kept the stream's state (a chain without OnDone frees it at its last
// event). wantReqOp checks, once, that the chain did change the request.
func benchRequest(b *testing.B, spec string) {
	id := 1<<31 + 1<<20 + uint32(len(spec))
	if _, err := host.E.CreateChain(id, []byte(spec)); err != nil {
		b.Fatal(err)
	}
	str := func(s string) (*byte, uint32) { return unsafe.StringData(s), uint32(len(s)) }
	arr := func(kvs ...[2]string) []abi.Header {
		hs := make([]abi.Header, len(kvs))
		for i, kv := range kvs {
			hs[i].Name, hs[i].NameLen = str(kv[0])
			hs[i].Value, hs[i].ValueLen = str(kv[1])
		}
		return hs
	}
	req := [][2]string{{"host", "127.0.0.1:8080"}, {"user-agent", "wrk"}, {"x-forwarded-for", "127.0.0.1"}, {"x-forwarded-proto", "http"}}
	reqIn := arr(req...)
	// The request array of the second event: moe applied the first one's ops.
	reqNow := arr(append(req, [2]string{"x-request-id", "0123456789abcdef0123456789abcdef"}, [2]string{"x-via", "moe"})...)
	resp := arr([2]string{"server", "nginx"}, [2]string{"date", "Mon, 01 Jan 2024 00:00:00 GMT"},
		[2]string{"content-type", "text/plain"}, [2]string{"content-length", "2"}, [2]string{"connection", "keep-alive"})
	info, ops, ev := benchEventParts()
	run := func(i int) (reqOps, respOps uint32) {
		h := 4001<<48 | uint64(i&0xffffff)
		*ev = abi.Event{Handle: h, Chain: id, Kind: abi.EvRequestHeaders, EndStream: 1,
			Headers: &reqIn[0], HeaderCount: uint32(len(reqIn)), RequestHeaders: &reqIn[0], RequestHeaderCount: uint32(len(reqIn)),
			Info: info, Ops: ops, NowMs: uint64(i >> 10)}
		ev.Method, ev.MethodLen = str("GET")
		ev.Path, ev.PathLen = str("/")
		ev.Scheme, ev.SchemeLen = str("http")
		ops.Len = 0
		host.E.OnEvent(ev)
		reqOps = ops.Len
		gs := ev.GoState
		*ev = abi.Event{Handle: h, GoState: gs, Chain: id, Kind: abi.EvResponseHeaders,
			Headers: &resp[0], HeaderCount: uint32(len(resp)), RequestHeaders: &reqNow[0], RequestHeaderCount: uint32(len(reqNow)),
			Status: 200, Info: info, Ops: ops, NowMs: uint64(i >> 10)}
		ops.Len = 0
		host.E.OnEvent(ev)
		respOps = ops.Len
		if ev.GoState != 0 {
			ev.Kind = abi.EvDone
			ops.Len = 0
			host.E.OnEvent(ev)
		}
		return
	}
	if r, s := run(0); r == 0 || s == 0 {
		b.Fatalf("the chain made no change: %d bytes of request ops, %d of response ops", r, s)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		run(i)
	}
}

// traceid alone: the proxy's header-only benchmark chain.
func BenchmarkRequestTraceid(b *testing.B) { benchRequest(b, `[{"name":"traceid"}]`) }

func BenchmarkRequestTraceidHeaders(b *testing.B) {
	benchRequest(b, `[{"name":"traceid"},{"name":"headers","config":{"request_set":{"x-via":"moe"},"response_set":{"x-served-by":"moe"}}}]`)
}

// benchEventParts: the stream info, a 4 KiB op buffer and an event, as a
// worker holds them.
func benchEventParts() (*abi.StreamInfo, *abi.Ops, *abi.Event) {
	info := &abi.StreamInfo{}
	info.Listener, info.ListenerLen = unsafe.StringData("ingress"), uint32(len("ingress"))
	buf := make([]byte, 4096)
	return info, &abi.Ops{Buf: &buf[0], Cap: uint32(len(buf))}, &abi.Event{}
}
