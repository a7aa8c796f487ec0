package api

import (
	"encoding/json"
	"errors"
	"sync/atomic"
	"testing"
)

type closingFactory struct{ closed *atomic.Int32 }

type closingFilter struct{}

func (closingFilter) OnRequestHeaders(*Stream, *RequestHeaders, bool) Status { return Continue }

func (f closingFactory) NewFilter(*Stream) Filter { return closingFilter{} }
func (f closingFactory) Close() error             { f.closed.Add(1); return nil }

// validateChain builds and discards: a factory that is an io.Closer is
// closed; createChain keeps it open; a chain that fails on a later filter
// closes the factories it had built.
func TestValidateChainClosesDiscardedFactories(t *testing.T) {
	var closed atomic.Int32
	Register("test_closing", func(json.RawMessage) (Factory, error) { return closingFactory{&closed}, nil })
	Register("test_failing", func(json.RawMessage) (Factory, error) { return nil, errors.New("bad config") })
	one := []byte(`[{"name":"test_closing","config":null}]`)
	if err := validateChain(one); err != nil {
		t.Fatal(err)
	}
	if closed.Load() != 1 {
		t.Fatalf("validateChain: %d closes, want 1", closed.Load())
	}
	if _, err := createChain(7001, one); err != nil {
		t.Fatal(err)
	}
	if closed.Load() != 1 {
		t.Fatalf("createChain closed its factory (%d closes)", closed.Load())
	}
	two := []byte(`[{"name":"test_closing","config":null},{"name":"test_failing","config":null}]`)
	for _, build := range []func() error{
		func() error { return validateChain(two) },
		func() error { _, err := createChain(7002, two); return err },
	} {
		before := closed.Load()
		if err := build(); err == nil {
			t.Fatal("a chain with a failing factory was built")
		}
		if closed.Load() != before+1 {
			t.Fatalf("a failed chain left its first factory open (%d closes, want %d)", closed.Load(), before+1)
		}
	}
}
