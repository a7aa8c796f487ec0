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
	info := &abi.StreamInfo{}
	info.Listener, info.ListenerLen = str("ingress")
	ops := &abi.Ops{}
	buf := make([]byte, 4096)
	ops.Buf, ops.Cap = &buf[0], uint32(len(buf))
	ev := &abi.Event{}
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
