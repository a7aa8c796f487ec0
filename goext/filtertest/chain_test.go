package filtertest_test

import (
	"encoding/json"
	"testing"

	"moe/goext/api"
	"moe/goext/filtertest"
)

// Filters for the chain-semantics rows; the integration tests run the same
// rows through moe with the test plugin's test_reply and test_probe.
type ftReply struct{}

func (ftReply) OnRequestHeaders(s *api.Stream, h *api.RequestHeaders, _ bool) api.Status {
	if _, ok := h.Lookup("x-deny"); !ok {
		return api.Continue
	}
	s.SendLocalReply(403, nil, []byte("denied\n"))
	return api.LocalReply
}

type ftProbe struct{}

func (ftProbe) OnRequestHeaders(s *api.Stream, h *api.RequestHeaders, _ bool) api.Status {
	s.Set("ft_probe", "request")
	return api.Continue
}

func (ftProbe) OnResponseHeaders(s *api.Stream, h *api.ResponseHeaders, _ bool) api.Status {
	h.Set("x-probe", "ran")
	if _, ok := s.Get("ft_probe"); !ok {
		h.Set("x-probe-no-request", "1")
	}
	return api.Continue
}

func init() {
	api.Register("ft_reply", func(json.RawMessage) (api.Factory, error) { return api.Shared(ftReply{}), nil })
	api.Register("ft_probe", func(json.RawMessage) (api.Factory, error) { return api.Shared(ftProbe{}), nil })
}

// TestLocalReplyResponseHooksOnlyForReachedFilters: a local reply from the
// request side runs the response hooks of the filters the request reached
// (the replier and those before it), not of the ones after it.
func TestLocalReplyResponseHooksOnlyForReachedFilters(t *testing.T) {
	for _, tc := range []struct {
		name  string
		chain []string
		probe string
	}{
		{"reply_first", []string{"ft_reply", "ft_probe"}, ""},
		{"probe_first", []string{"ft_probe", "ft_reply"}, "ran"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var fs []filtertest.Filter
			for _, n := range tc.chain {
				fs = append(fs, filtertest.Filter{Name: n})
			}
			s := filtertest.MustChain(t, fs...).NewStream(t)
			if st := s.RequestHeaders("GET", "/x", filtertest.Headers{{"host", "a"}, {"x-deny", "1"}}, true); st != api.LocalReply {
				t.Fatalf("status %v, want LocalReply", st)
			}
			if s.Reply == nil || s.Reply.Status != 403 {
				t.Fatalf("reply %+v, want 403", s.Reply)
			}
			got := ""
			for _, h := range s.Reply.Headers {
				if h[0] == "x-probe-no-request" {
					t.Fatalf("a filter the request never reached ran its response hook: %v", s.Reply.Headers)
				}
				if h[0] == "x-probe" {
					got = h[1]
				}
			}
			if got != tc.probe {
				t.Fatalf("x-probe %q, want %q (reply headers %v)", got, tc.probe, s.Reply.Headers)
			}
		})
	}
}

type ftFraming struct{}

func (ftFraming) OnRequestHeaders(s *api.Stream, h *api.RequestHeaders, _ bool) api.Status {
	for _, n := range []string{"transfer-encoding", "Connection", "content-length", "te", "upgrade"} {
		h.Set(n, "x")
		h.Add(n, "y")
	}
	h.Set("x-fine", "1")
	return api.Continue
}

func init() {
	api.Register("ft_framing", func(json.RawMessage) (api.Factory, error) { return api.Shared(ftFraming{}), nil })
}

// TestFilterCannotSetFramingFields: a filter's transfer-encoding,
// connection, content-length... are refused (moe frames the message
// itself: they would reach the upstream beside moe's own, a CL+TE request).
func TestFilterCannotSetFramingFields(t *testing.T) {
	s := filtertest.MustChain(t, filtertest.Filter{Name: "ft_framing"}).NewStream(t)
	s.RequestHeaders("POST", "/", filtertest.Headers{{"host", "a"}}, false)
	for _, h := range s.Request.Headers {
		switch h[0] {
		case "transfer-encoding", "connection", "content-length", "te", "upgrade":
			t.Fatalf("a filter set %s: %v", h[0], s.Request.Headers)
		}
	}
	if s.Request.Headers.Get("x-fine") != "1" {
		t.Fatalf("x-fine missing: %v", s.Request.Headers)
	}
}

type ftDeny struct{}

func (ftDeny) OnRequestHeaders(s *api.Stream, h *api.RequestHeaders, _ bool) api.Status {
	s.SendLocalReply(403, [][2]string{{"content-length", "99"}, {"connection", "keep-alive"}}, []byte("no way\n"))
	return api.LocalReply
}

func init() {
	api.Register("ft_deny", func(json.RawMessage) (api.Factory, error) { return api.Shared(ftDeny{}), nil })
}

// TestLocalReplyShapedAsMoe: filtertest's reply is what moe's send_reply
// sends: framing fields dropped, text/plain for a body without a type, no
// body for HEAD, and the gRPC shape for an HTTP/2 gRPC request.
func TestLocalReplyShapedAsMoe(t *testing.T) {
	c := filtertest.MustChain(t, filtertest.Filter{Name: "ft_deny"})
	s := c.NewStream(t)
	s.RequestHeaders("GET", "/", filtertest.Headers{{"host", "a"}}, true)
	if r := s.Reply; r == nil || r.Status != 403 || string(r.Body) != "no way\n" || r.Headers.Get("content-type") != "text/plain" ||
		r.Headers.Get("content-length") != "" || r.Headers.Get("connection") != "" {
		t.Fatalf("reply %+v", s.Reply)
	}
	s = c.NewStream(t)
	s.RequestHeaders("HEAD", "/", filtertest.Headers{{"host", "a"}}, true)
	if r := s.Reply; r == nil || r.Status != 403 || len(r.Body) != 0 {
		t.Fatalf("HEAD reply %+v", s.Reply)
	}
	s = c.NewStream(t)
	s.Info.Protocol = "HTTP/2"
	s.RequestHeaders("POST", "/svc/M", filtertest.Headers{{"host", "a"}, {"content-type", "application/grpc"}}, true)
	if r := s.Reply; r == nil || r.Status != 200 || len(r.Body) != 0 || r.Headers.Get("content-type") != "application/grpc" ||
		r.Headers.Get("grpc-status") != "7" || r.Headers.Get("grpc-message") != "no way" {
		t.Fatalf("gRPC reply %+v", s.Reply)
	}
}
