// Package bodyrewrite is the built-in filter "bodyrewrite": string
// replacements in response bodies of chosen content types. The response is
// buffered whole (StopAndBuffer), so mind moe's response buffer limit; moe
// fixes Content-Length.
//
//	config:
//	  replacements: [{from: "http://internal", to: "https://example.com"}]
//	  content_types: [text/*, application/json]   # the default
//
// Compressed responses (a Content-Encoding other than identity) pass as they are.
package bodyrewrite

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"

	"moe/goext/api"
)

func init() { api.Register("bodyrewrite", New) }

type config struct {
	Replacements []struct {
		From string `json:"from"`
		To   string `json:"to"`
	} `json:"replacements"`
	ContentTypes []string `json:"content_types"`
}

type filter struct {
	from, to [][]byte
	types    []string // lower-case, "text/*" or exact
}

// New is the filter's factory.
func New(raw json.RawMessage) (api.Factory, error) {
	c := config{}
	if err := api.DecodeConfig(raw, &c); err != nil {
		return nil, err
	}
	if len(c.Replacements) == 0 {
		return nil, errors.New("replacements must not be empty")
	}
	f := &filter{}
	for _, r := range c.Replacements {
		if r.From == "" {
			return nil, errors.New("a replacement has an empty from")
		}
		f.from = append(f.from, []byte(r.From))
		f.to = append(f.to, []byte(r.To))
	}
	if c.ContentTypes == nil {
		c.ContentTypes = []string{"text/*", "application/json"}
	}
	for _, t := range c.ContentTypes {
		f.types = append(f.types, strings.ToLower(strings.TrimSpace(t)))
	}
	return api.Shared(f), nil
}

func (f *filter) matches(h *api.ResponseHeaders) bool {
	if enc := h.Get("content-encoding"); enc != "" && !strings.EqualFold(enc, "identity") {
		return false
	}
	ct := h.Get("content-type")
	if i := strings.IndexByte(ct, ';'); i >= 0 {
		ct = ct[:i]
	}
	ct = strings.ToLower(strings.TrimSpace(ct))
	if ct == "" {
		return false
	}
	for _, t := range f.types {
		if t == ct || strings.HasSuffix(t, "/*") && strings.HasPrefix(ct, t[:len(t)-1]) {
			return true
		}
	}
	return false
}

func (f *filter) OnResponseHeaders(_ *api.Stream, h *api.ResponseHeaders, endStream bool) api.Status {
	if endStream || !f.matches(h) {
		return api.Continue
	}
	return api.StopAndBuffer
}

func (f *filter) OnResponseBody(s *api.Stream, b *api.Body, endStream bool) api.Status {
	// Only a matching response was buffered; its whole body comes once, with
	// endStream. Other responses stream past.
	if !endStream {
		return api.Continue
	}
	if h := s.ResponseHeaders(); h == nil || !f.matches(h) {
		return api.Continue
	}
	out, changed := b.Bytes(), false
	for i := range f.from {
		if bytes.Contains(out, f.from[i]) {
			out, changed = bytes.ReplaceAll(out, f.from[i], f.to[i]), true
		}
	}
	if changed {
		b.Replace(out)
	}
	return api.Continue
}
