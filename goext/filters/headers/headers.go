// Package headers is the built-in filter "headers": it adds, sets and
// removes request and response headers.
//
//	config:
//	  request_add:    {x-a: "1"}          # or [{name: x-a, value: "1"}, ...]
//	  request_set:    {x-b: "2"}
//	  request_remove: [x-c]
//	  response_add / response_set / response_remove: the same for responses
//
// Removes run first, then sets, then adds.
package headers

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sort"

	"moe/goext/api"
)

func init() { api.Register("headers", New) }

type config struct {
	RequestAdd     fields   `json:"request_add"`
	RequestSet     fields   `json:"request_set"`
	RequestRemove  []string `json:"request_remove"`
	ResponseAdd    fields   `json:"response_add"`
	ResponseSet    fields   `json:"response_set"`
	ResponseRemove []string `json:"response_remove"`
}

// fields accepts {name: value} or [{name, value}].
type fields [][2]string

func (f *fields) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) > 0 && b[0] == '[' {
		var l []struct{ Name, Value string }
		if err := json.Unmarshal(b, &l); err != nil {
			return err
		}
		for _, e := range l {
			*f = append(*f, [2]string{e.Name, e.Value})
		}
		return nil
	}
	var m map[string]string
	if err := json.Unmarshal(b, &m); err != nil {
		return fmt.Errorf("want {name: value} or [{name, value}]: %v", err)
	}
	for k, v := range m {
		*f = append(*f, [2]string{k, v})
	}
	sort.Slice(*f, func(i, j int) bool { return (*f)[i][0] < (*f)[j][0] })
	return nil
}

type ops struct {
	add, set fields
	remove   []string
}

func (o *ops) apply(h *api.Header) {
	for _, n := range o.remove {
		h.Del(n)
	}
	for _, f := range o.set {
		h.Set(f[0], f[1])
	}
	for _, f := range o.add {
		h.Add(f[0], f[1])
	}
}

func (o *ops) empty() bool { return len(o.add)+len(o.set)+len(o.remove) == 0 }

// Three types, so that the filter has only the hooks its config needs: moe
// calls Go only for the events a chain has hooks for, and a chain without
// response hooks lets responses through without waiting for Go
// (docs/go-filters.md, "What a filter costs").
type (
	reqFilter  struct{ req ops }  // request fields only (or nothing at all)
	respFilter struct{ resp ops } // response fields only
	filter     struct {           // both directions: the two hooks, embedded
		reqFilter
		respFilter
	}
)

// New is the filter's factory.
func New(raw json.RawMessage) (api.Factory, error) {
	var c config
	if err := api.DecodeConfig(raw, &c); err != nil {
		return nil, err
	}
	req := ops{c.RequestAdd, c.RequestSet, c.RequestRemove}
	resp := ops{c.ResponseAdd, c.ResponseSet, c.ResponseRemove}
	switch {
	case resp.empty():
		return api.Shared(&reqFilter{req}), nil
	case req.empty():
		return api.Shared(&respFilter{resp}), nil
	}
	return api.Shared(&filter{reqFilter{req}, respFilter{resp}}), nil
}

func (f *reqFilter) OnRequestHeaders(_ *api.Stream, h *api.RequestHeaders, _ bool) api.Status {
	f.req.apply(&h.Header)
	return api.Continue
}

func (f *respFilter) OnResponseHeaders(_ *api.Stream, h *api.ResponseHeaders, _ bool) api.Status {
	f.resp.apply(&h.Header)
	return api.Continue
}
