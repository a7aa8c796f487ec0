// Command gogateway is the "native Go gateway" contender of the moe benchmark
// suite (bench/run): a plain net/http server in front of
// net/http/httputil.ReverseProxy, with one middleware that does what moe's
// built-in traceid filter does, so the two can be compared like for like:
//
//   - if the request has no x-request-id, set it to a random 128-bit hex id;
//   - copy the request's x-request-id onto the response.
//
// It is tuned the way a careful Go shop would run it: GOMAXPROCS=1 (one core,
// like every other contender), keep-alive to the upstream with a large idle
// pool, no compression, HTTP/1.1 to the upstream. Standard library only.
package main

import (
	"crypto/rand"
	"encoding/hex"
	"flag"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"runtime"
	"time"
)

const requestIDHeader = "X-Request-Id"

func newRequestID() string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		// crypto/rand does not fail on Linux; keep the request going anyway.
		return "00000000000000000000000000000000"
	}
	return hex.EncodeToString(b[:])
}

// withRequestID is the middleware: the Go equivalent of moe's traceid filter.
func withRequestID(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.Header.Get(requestIDHeader)
		if id == "" {
			id = newRequestID()
			r.Header.Set(requestIDHeader, id)
		}
		w.Header().Set(requestIDHeader, id)
		next.ServeHTTP(w, r)
	})
}

func main() {
	listen := flag.String("listen", "127.0.0.1:18085", "address to listen on")
	upstream := flag.String("upstream", "http://127.0.0.1:18080", "upstream base URL")
	flag.Parse()

	if os.Getenv("GOMAXPROCS") == "" {
		runtime.GOMAXPROCS(1)
	}

	target, err := url.Parse(*upstream)
	if err != nil {
		log.Fatalf("gogateway: bad -upstream %q: %v", *upstream, err)
	}

	transport := &http.Transport{
		Proxy: nil,
		DialContext: (&net.Dialer{
			Timeout:   5 * time.Second,
			KeepAlive: 30 * time.Second,
		}).DialContext,
		MaxIdleConns:          1024,
		MaxIdleConnsPerHost:   256,
		IdleConnTimeout:       90 * time.Second,
		DisableCompression:    true,
		ForceAttemptHTTP2:     false,
		ResponseHeaderTimeout: 30 * time.Second,
		WriteBufferSize:       32 << 10,
		ReadBufferSize:        32 << 10,
	}

	proxy := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(target)
			pr.Out.Host = pr.In.Host
		},
		Transport:     transport,
		FlushInterval: 0,
		ErrorLog:      log.New(io.Discard, "", 0),
	}

	srv := &http.Server{
		Addr:              *listen,
		Handler:           withRequestID(proxy),
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       300 * time.Second,
		ErrorLog:          log.New(io.Discard, "", 0),
	}
	log.Printf("gogateway: listening on %s, upstream %s, GOMAXPROCS=%d",
		*listen, target, runtime.GOMAXPROCS(0))
	if err := srv.ListenAndServe(); err != nil {
		log.Fatalf("gogateway: %v", err)
	}
}
