package api_test

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"moe/goext/api"
	"moe/goext/filtertest"
)

// The header overlay (raw fields, then fields added without a copy; or a
// full copy once a field of raw changed) must read like a plain list to
// which each Set/Add/Del is applied, in every event and in later calls (the
// response headers are kept after their call), and the ops must make moe's
// list the same.

type modelFilter struct{}

// model: Set removes every field of the name and appends one; Add appends;
// Del removes.
func modelApply(m filtertest.Headers, op int, name, value string) filtertest.Headers {
	del := func() filtertest.Headers {
		out := filtertest.Headers{}
		for _, f := range m {
			if f[0] != name {
				out = append(out, f)
			}
		}
		return out
	}
	switch op {
	case 0:
		return append(del(), [2]string{name, value})
	case 1:
		return append(slices.Clone(m), [2]string{name, value})
	default:
		return del()
	}
}

func readAll(h *api.Header) filtertest.Headers {
	out := filtertest.Headers{}
	h.Range(func(n, v string) bool {
		out = append(out, [2]string{n, v})
		return true
	})
	return out
}

func (f *modelFilter) check(where string, h *api.Header, want filtertest.Headers) {
	modelT.Helper()
	if got := readAll(h); !slices.Equal(got, want) {
		modelT.Fatalf("%s: Range %q, want %q", where, got, want)
	}
	if h.Len() != len(want) {
		modelT.Fatalf("%s: Len %d, want %d", where, h.Len(), len(want))
	}
	for _, n := range []string{"a", "b", "c", "d"} {
		if got, w := h.Values(n), want.Values(n); !slices.Equal(got, w) {
			modelT.Fatalf("%s: Values(%s) %q, want %q", where, n, got, w)
		}
		v, ok := h.Lookup(strings.ToUpper(n))
		if w := want.Values(n); ok != (len(w) > 0) || (ok && v != w[0]) {
			modelT.Fatalf("%s: Lookup(%s) %q %v, want %q", where, n, v, ok, w)
		}
	}
}

var modelRng *rand.Rand
var modelReq, modelResp filtertest.Headers

func (f *modelFilter) edit(where string, h *api.Header, m filtertest.Headers) filtertest.Headers {
	f.check(where+" before", h, m)
	for i := 0; i < modelRng.IntN(6); i++ {
		op, name := modelRng.IntN(3), string(rune('a'+modelRng.IntN(4)))
		value := fmt.Sprint(modelRng.IntN(100))
		if modelRng.IntN(4) == 0 {
			// Copy another field's value: a view of moe's memory.
			if v, ok := h.Lookup(string(rune('a' + modelRng.IntN(4)))); ok {
				value = v
			}
		}
		arg := name
		switch modelRng.IntN(6) {
		case 0:
			arg = strings.ToUpper(name)
		case 1: // ignored: a bad name or value
			arg = name + ":"
		case 2:
			if op != 2 {
				value = value + "\r\nx-evil: 1"
			}
		}
		switch op {
		case 0:
			h.Set(arg, value)
		case 1:
			h.Add(arg, value)
		default:
			h.Del(arg)
		}
		if arg == name+":" || strings.Contains(value, "\r") {
			f.check("after an ignored op", h, m)
			continue
		}
		m = modelApply(m, op, name, value)
		f.check(fmt.Sprintf("%s after op %d %s=%s", where, op, name, value), h, m)
	}
	return m
}

func (f *modelFilter) OnRequestHeaders(s *api.Stream, h *api.RequestHeaders, _ bool) api.Status {
	modelReq = f.edit("request", &h.Header, modelReq)
	return api.Continue
}

func (f *modelFilter) OnResponseHeaders(s *api.Stream, h *api.ResponseHeaders, _ bool) api.Status {
	f.check("request in the response call", &s.RequestHeaders().Header, modelReq)
	modelResp = f.edit("response", &h.Header, modelResp)
	return api.Continue
}

func (f *modelFilter) OnResponseBody(s *api.Stream, b *api.Body, _ bool) api.Status {
	f.check("response headers in a later call", &s.ResponseHeaders().Header, modelResp)
	return api.Continue
}

var modelT *testing.T

func init() {
	api.Register("model", func(json.RawMessage) (api.Factory, error) {
		return api.Shared(&modelFilter{}), nil
	})
}

func TestHeaderOverlayModel(t *testing.T) {
	c := chain(t, filtertest.Filter{Name: "model"}, filtertest.Filter{Name: "model"})
	for seed := uint64(0); seed < 300; seed++ {
		modelRng = rand.New(rand.NewPCG(seed, 1))
		modelT = t
		gen := func() filtertest.Headers {
			h := filtertest.Headers{}
			for i := 0; i < modelRng.IntN(5); i++ {
				h = append(h, [2]string{string(rune('a' + modelRng.IntN(4))), fmt.Sprint("r", i)})
			}
			return h
		}
		s := c.NewStream(t)
		modelReq = gen()
		s.RequestHeaders("GET", "/", modelReq, false)
		if !slices.Equal(s.Request.Headers, modelReq) {
			t.Fatalf("seed %d: moe's request %q, want %q", seed, s.Request.Headers, modelReq)
		}
		modelResp = gen()
		s.ResponseHeaders(200, modelResp, false)
		if !slices.Equal(s.Response.Headers, modelResp) {
			t.Fatalf("seed %d: moe's response %q, want %q", seed, s.Response.Headers, modelResp)
		}
		s.ResponseBody([]byte("x"), true)
		s.Done(200)
	}
}
