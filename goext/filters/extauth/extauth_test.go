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
