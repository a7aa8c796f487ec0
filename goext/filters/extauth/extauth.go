// Package extauth is the built-in filter "extauth": it asks an HTTP auth
// service about each request, from a goroutine (the stream is Pending
// meanwhile), in the ForwardAuth style.
//
//	config:
//	  url: http://127.0.0.1:9001/check   # required; GET with the headers below
//	  timeout: 2s                          # or a number of ms; default 2s
//	  forward_headers: [authorization, cookie]
//	  copy_headers_from_auth: [x-user-id]  # copied onto the request on 2xx; the client's own are always removed
//	  on_error: fail_closed                # service unreachable: 503 (fail_closed) or let it through (fail_open)
//
// The auth request also carries x-forwarded-method, x-forwarded-uri,
// x-forwarded-host and x-forwarded-for. A 2xx answer lets the request go on;
// any other status is returned to the client with the service's body and its
// content-type, www-authenticate, location and set-cookie headers.
//
// The headers in copy_headers_from_auth belong to the filter: whatever the
// client sent under those names is removed from the request before the auth
// call, whatever its answer (a 2xx without the header, a fail_open after an
// unreachable service), so the upstream only ever sees values the auth
// service set. That covers the spellings with '_' for '-' (x_user_id for
// x-user-id): CGI-style upstreams (PHP, WSGI, Rack) read both as
// HTTP_X_USER_ID. A name that is also in forward_headers still reaches the
// auth service as the client sent it.
package extauth

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"moe/goext/api"
)

func init() { api.Register("extauth", New) }

const maxAuthBody = 64 << 10

type config struct {
	URL                 string          `json:"url"`
	Timeout             json.RawMessage `json:"timeout"`
	ForwardHeaders      []string        `json:"forward_headers"`
	CopyHeadersFromAuth []string        `json:"copy_headers_from_auth"`
	OnError             string          `json:"on_error"`
}

type filter struct {
	url      string
	client   *http.Client
	forward  []string
	copy     []string
	copyKeys map[string]bool // copy's names with '_' read as '-'
	failOpen bool

	allowed, denied, failed *api.Counter
	latency                 *api.Histogram
}

// New is the filter's factory.
func New(raw json.RawMessage) (api.Factory, error) {
	var c config
	if err := api.DecodeConfig(raw, &c); err != nil {
		return nil, err
	}
	u, err := url.Parse(c.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("url must be an http:// or https:// URL, got %q", c.URL)
	}
	timeout, err := parseDuration(c.Timeout, 2*time.Second)
	if err != nil {
		return nil, fmt.Errorf("timeout: %v", err)
	}
	f := &filter{
		url: c.URL,
		client: &http.Client{
			Timeout: timeout,
			Transport: &http.Transport{
				MaxIdleConnsPerHost: 256,
				IdleConnTimeout:     90 * time.Second,
			},
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
		allowed: api.NewCounter("extauth", "allowed_total", "Requests the auth service allowed."),
		denied:  api.NewCounter("extauth", "denied_total", "Requests the auth service denied."),
		failed:  api.NewCounter("extauth", "errors_total", "Auth calls that failed (unreachable, timeout)."),
		latency: api.NewHistogram("extauth", "call_seconds", "Auth call latency.", nil),
	}
	for _, h := range c.ForwardHeaders {
		f.forward = append(f.forward, strings.ToLower(h))
	}
	f.copyKeys = map[string]bool{}
	for _, h := range c.CopyHeadersFromAuth {
		f.copy = append(f.copy, strings.ToLower(h))
		f.copyKeys[cgiKey(h)] = true
	}
	switch c.OnError {
	case "", "fail_closed":
	case "fail_open":
		f.failOpen = true
	default:
		return nil, fmt.Errorf("on_error must be fail_closed or fail_open, got %q", c.OnError)
	}
	return api.Shared(f), nil
}

// cgiKey is the CGI variable a header name becomes, as a header name:
// lower-case, '_' read as '-'.
func cgiKey(name string) string {
	return strings.ReplaceAll(strings.ToLower(name), "_", "-")
}

func parseDuration(raw json.RawMessage, def time.Duration) (time.Duration, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return def, nil
	}
	var ms float64
	if err := json.Unmarshal(raw, &ms); err == nil {
		return time.Duration(ms * float64(time.Millisecond)), nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return 0, fmt.Errorf("want a duration like \"500ms\" or a number of ms")
	}
	return time.ParseDuration(s)
}

var replyHeaders = []string{"content-type", "www-authenticate", "location", "set-cookie"}

func (f *filter) OnRequestHeaders(s *api.Stream, h *api.RequestHeaders, _ bool) api.Status {
	// Everything the goroutine needs is copied now: header views die with
	// the stream, and the goroutine may outlive it.
	out := make(http.Header, len(f.forward)+4)
	for _, name := range f.forward {
		for _, v := range h.Values(name) {
			out.Add(name, strings.Clone(v))
		}
	}
	out.Set("x-forwarded-method", strings.Clone(h.Method()))
	out.Set("x-forwarded-uri", strings.Clone(h.Path()))
	out.Set("x-forwarded-host", strings.Clone(h.Host()))
	if ip := s.Info().DownstreamAddr; ip != "" {
		out.Set("x-forwarded-for", strings.Clone(ip))
	}
	// The filter owns these names: a client-sent value must never reach the
	// upstream as if the auth service had set it (issue 12, item 3). They go
	// now, before Pending, so every later outcome (2xx without the header,
	// fail_open) starts from a request that no longer has them.
	for _, name := range f.copy {
		h.Del(name)
	}
	if len(f.copyKeys) > 0 {
		var alias []string
		h.Range(func(n, _ string) bool {
			if f.copyKeys[cgiKey(n)] {
				alias = append(alias, strings.Clone(n))
			}
			return true
		})
		for _, n := range alias {
			h.Del(n)
		}
	}
	ctx := s.Context()
	s.Go(func() {
		start := time.Now()
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, f.url, nil)
		if err != nil {
			f.fail(s, err)
			return
		}
		req.Header = out
		resp, err := f.client.Do(req)
		f.latency.Observe(time.Since(start).Seconds())
		if err != nil {
			f.fail(s, err)
			return
		}
		body, err := io.ReadAll(io.LimitReader(resp.Body, maxAuthBody))
		resp.Body.Close()
		if err != nil {
			f.fail(s, err)
			return
		}
		if resp.StatusCode >= 200 && resp.StatusCode < 300 {
			f.allowed.Inc()
			var set [][2]string
			for _, name := range f.copy {
				if vs := resp.Header.Values(name); len(vs) > 0 {
					set = append(set, [2]string{name, strings.Join(vs, ", ")})
				}
			}
			if len(set) == 0 {
				s.Resume()
				return
			}
			s.ResumeWith(func() {
				for _, kv := range set {
					h.Set(kv[0], kv[1])
				}
			})
			return
		}
		f.denied.Inc()
		var hs [][2]string
		for _, name := range replyHeaders {
			for _, v := range resp.Header.Values(name) {
				hs = append(hs, [2]string{name, v})
			}
		}
		s.SendLocalReply(resp.StatusCode, hs, body)
	})
	return api.Pending
}

func (f *filter) fail(s *api.Stream, err error) {
	f.failed.Inc()
	s.Log(api.LevelWarn, "auth call failed: "+err.Error())
	if f.failOpen {
		s.Resume()
		return
	}
	s.SendLocalReply(http.StatusServiceUnavailable, [][2]string{{"content-type", "text/plain"}},
		[]byte("auth service unavailable\n"))
}
