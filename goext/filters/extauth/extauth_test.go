package extauth_test

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"moe/goext/api"
	_ "moe/goext/filters/extauth"
	"moe/goext/filtertest"
)

func authServer(t *testing.T) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.Header.Get("authorization") {
		case "Bearer good":
			if r.Header.Get("x-forwarded-uri") != "/api/x?y=1" || r.Header.Get("x-forwarded-method") != "POST" {
				w.WriteHeader(500)
				return
			}
			w.Header().Set("x-user-id", "42")
			w.WriteHeader(204)
		case "Bearer nouser": // allowed, but the answer names no user
			w.WriteHeader(204)
		case "Bearer slow":
			time.Sleep(500 * time.Millisecond)
		default:
			w.Header().Set("www-authenticate", `Bearer realm="moe"`)
			w.Header().Set("content-type", "text/plain")
			w.WriteHeader(401)
			w.Write([]byte("who are you?\n"))
		}
	}))
	t.Cleanup(srv.Close)
	return srv
}

func chain(t *testing.T, url string, extra map[string]any) *filtertest.Chain {
	cfg := map[string]any{"url": url, "forward_headers": []string{"Authorization"},
		"copy_headers_from_auth": []string{"x-user-id"}, "timeout": "100ms"}
	for k, v := range extra {
		cfg[k] = v
	}
	return filtertest.MustChain(t, filtertest.Filter{Name: "extauth", Config: cfg})
}

func TestAllowCopiesHeaders(t *testing.T) {
	srv := authServer(t)
	s := chain(t, srv.URL, nil).NewStream(t)
	st := s.RequestHeaders("POST", "/api/x?y=1", filtertest.Headers{{"authorization", "Bearer good"}, {"x-user-id", "spoofed"}}, false)
	if st != api.Continue {
		t.Fatalf("%v %+v", st, s.Reply)
	}
	if got := s.Request.Headers.Values("x-user-id"); len(got) != 1 || got[0] != "42" {
		t.Fatalf("x-user-id %q", got)
	}
}

// The client's own copies of the headers the filter copies from the auth
// answer never reach the upstream: not when the 2xx answer lacks the
// header, not when the call fails open (issue 12, item 3).
func TestClientCopyHeadersRemoved(t *testing.T) {
	srv := authServer(t)
	spoof := filtertest.Headers{{"x-user-id", "admin"}, {"X-User-Id", "root"}}

	s := chain(t, srv.URL, nil).NewStream(t)
	st := s.RequestHeaders("POST", "/api/x?y=1", append(filtertest.Headers{{"authorization", "Bearer nouser"}}, spoof...), false)
	if st != api.Continue {
		t.Fatalf("2xx without x-user-id: %v %+v", st, s.Reply)
	}
	if got := s.Request.Headers.Values("x-user-id"); len(got) != 0 {
		t.Errorf("2xx without x-user-id: upstream gets the client's x-user-id %q", got)
	}

	down := httptest.NewServer(http.NotFoundHandler())
	down.Close()
	s = chain(t, down.URL, map[string]any{"on_error": "fail_open"}).NewStream(t)
	if st := s.RequestHeaders("GET", "/", spoof, true); st != api.Continue {
		t.Fatalf("fail_open: %v", st)
	}
	if got := s.Request.Headers.Values("x-user-id"); len(got) != 0 {
		t.Errorf("fail_open: upstream gets the client's x-user-id %q", got)
	}

	// '_' for '-' is the same CGI variable (HTTP_X_USER_ID) to PHP, WSGI
	// and Rack upstreams, and goes too; other names stay.
	s = chain(t, srv.URL, nil).NewStream(t)
	alias := filtertest.Headers{{"authorization", "Bearer nouser"}, {"x_user_id", "admin"}, {"X-User_Id", "root"}, {"x-user-idx", "1"}}
	if st := s.RequestHeaders("GET", "/", alias, true); st != api.Continue {
		t.Fatalf("underscores: %v %+v", st, s.Reply)
	}
	for _, n := range []string{"x_user_id", "x-user_id"} {
		if got := s.Request.Headers.Values(n); len(got) != 0 {
			t.Errorf("underscores: upstream gets the client's %s %q", n, got)
		}
	}
	if got := s.Request.Headers.Values("x-user-idx"); len(got) != 1 {
		t.Errorf("x-user-idx %q, want it kept", got)
	}

	// A copied name that is also forwarded reaches the auth service as the
	// client sent it, and the upstream only sees the answer's value.
	var seen string
	echo := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen = r.Header.Get("x-user-id")
		w.Header().Set("x-user-id", "42")
		w.WriteHeader(200)
	}))
	defer echo.Close()
	s = chain(t, echo.URL, map[string]any{"forward_headers": []string{"x-user-id"}}).NewStream(t)
	if st := s.RequestHeaders("GET", "/", spoof[:1], true); st != api.Continue {
		t.Fatalf("forwarded and copied: %v", st)
	}
	if seen != "admin" {
		t.Errorf("auth service saw x-user-id %q, want the client's admin", seen)
	}
	if got := s.Request.Headers.Values("x-user-id"); len(got) != 1 || got[0] != "42" {
		t.Errorf("forwarded and copied: upstream x-user-id %q, want [42]", got)
	}
}

func TestDenyReturnsAuthAnswer(t *testing.T) {
	srv := authServer(t)
	s := chain(t, srv.URL, nil).NewStream(t)
	if st := s.RequestHeaders("GET", "/", filtertest.Headers{{"authorization", "Bearer bad"}}, true); st != api.LocalReply {
		t.Fatal(st)
	}
	r := s.Reply
	if r.Status != 401 || string(r.Body) != "who are you?\n" || r.Headers.Get("www-authenticate") != `Bearer realm="moe"` {
		t.Fatalf("reply %+v", r)
	}
}

func TestServiceDown(t *testing.T) {
	srv := authServer(t)
	url := srv.URL
	srv.Close()
	s := chain(t, url, nil).NewStream(t)
	if s.RequestHeaders("GET", "/", nil, true); s.Reply == nil || s.Reply.Status != 503 {
		t.Fatalf("reply %+v", s.Reply)
	}
	s = chain(t, url, map[string]any{"on_error": "fail_open"}).NewStream(t)
	if st := s.RequestHeaders("GET", "/", nil, true); st != api.Continue {
		t.Fatalf("fail_open: %v", st)
	}
}

func TestAuthTimeout(t *testing.T) {
	srv := authServer(t)
	s := chain(t, srv.URL, nil).NewStream(t)
	start := time.Now()
	s.RequestHeaders("GET", "/", filtertest.Headers{{"authorization", "Bearer slow"}}, true)
	if s.Reply == nil || s.Reply.Status != 503 || time.Since(start) > 400*time.Millisecond {
		t.Fatalf("reply %+v after %v", s.Reply, time.Since(start))
	}
}

func TestBadConfig(t *testing.T) {
	for _, cfg := range []string{`{}`, `{"url": "ftp://x"}`, `{"url": "http://x", "timeout": "soon"}`, `{"url": "http://x", "on_error": "x"}`} {
		if _, err := filtertest.NewChain(filtertest.Filter{Name: "extauth", Config: cfg}); err == nil {
			t.Errorf("%s accepted", cfg)
		}
	}
}
