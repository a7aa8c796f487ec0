// Command hello is an example moe Go filter built as a plugin: it registers
// the filter "hello", which adds "x-hello: world" to every response.
//
//	scripts/build-plugin.sh goext/examples/hello build/hello.so
//
// then in moe.yaml: go: {plugins: [build/hello.so]} and a filter {name: hello}.
package main

import (
	"encoding/json"

	"moe/goext/api"
)

func init() {
	api.Register("hello", func(json.RawMessage) (api.Factory, error) {
		return api.Shared(hello{}), nil
	})
}

type hello struct{}

var _ api.ResponseHeadersFilter = hello{}

func (hello) OnResponseHeaders(s *api.Stream, h *api.ResponseHeaders, endStream bool) api.Status {
	h.Set("x-hello", "world")
	return api.Continue
}

func main() {}
