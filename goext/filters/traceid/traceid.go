// Package traceid is the built-in filter "traceid": it gives every request
// an id in a header (a random 128-bit hex value when the client sent none)
// and copies it onto the response.
//
//	config: {header: x-request-id}   # the default
package traceid

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strings"

	"moe/goext/api"
)

func init() { api.Register("traceid", New) }

type config struct {
	Header string `json:"header"`
}

// New is the filter's factory.
func New(raw json.RawMessage) (api.Factory, error) {
	c := config{Header: "x-request-id"}
	if err := api.DecodeConfig(raw, &c); err != nil {
		return nil, err
	}
	if c.Header == "" {
		return nil, fmt.Errorf("header must not be empty")
	}
	return api.Shared(&filter{header: strings.ToLower(c.Header)}), nil
}

type filter struct{ header string }

// One hook: the id goes onto the response through AddResponseHeader, so
// the response needs no Go hook and takes moe's path without Go (one
// event per request, not two). The upstream's own id, if it sends one,
// wins (AddIfAbsent), and moe's local replies (404, 502, ...) get the id
// too.
func (f *filter) OnRequestHeaders(s *api.Stream, h *api.RequestHeaders, _ bool) api.Status {
	id, ok := h.Lookup(f.header)
	if !ok {
		// The id goes from the stack to the stream's memory: no heap
		// allocation per request (NewID's string(b) was the only one).
		var b [32]byte
		putID(&b)
		id = s.CopyString(b[:])
		h.Set(f.header, id)
	}
	s.AddResponseHeader(f.header, id, api.AddIfAbsent)
	return api.Continue
}

// NewID is 32 lower-case hex digits from math/rand/v2's runtime source:
// per-thread state, no lock, no syscall (crypto/rand is not needed for an id
// that only has to be unique).
func NewID() string {
	var b [32]byte
	putID(&b)
	return string(b[:])
}

func putID(b *[32]byte) {
	putHex(b[:16], rand.Uint64())
	putHex(b[16:], rand.Uint64())
}

// hexPairs[2*v], hexPairs[2*v+1] are the two hex digits of byte v: a byte
// per step, not a nibble (half the loop of the digit-by-digit version).
var hexPairs = func() (t [512]byte) {
	const hex = "0123456789abcdef"
	for v := 0; v < 256; v++ {
		t[2*v], t[2*v+1] = hex[v>>4], hex[v&15]
	}
	return
}()

func putHex(dst []byte, v uint64) {
	_ = dst[15]
	for i := 14; i >= 0; i -= 2 {
		p := 2 * (v & 0xff)
		dst[i], dst[i+1] = hexPairs[p], hexPairs[p+1]
		v >>= 8
	}
}
