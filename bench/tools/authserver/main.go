// Command authserver is the auth service of the "moe-extauth" contender in
// bench/run: the smallest thing moe's extauth filter can call. Every request
// (GET /check with the forwarded headers) gets 200 and an empty body, over
// keep-alive. Go standard library only; bench/run starts it with
// GOMAXPROCS=1, pinned to the load CPU like the upstream.
package main

import (
	"flag"
	"log"
	"net/http"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:18090", "address to listen on")
	flag.Parse()
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "0")
		w.WriteHeader(http.StatusOK)
	})
	srv := &http.Server{Addr: *listen, Handler: h}
	log.Fatal(srv.ListenAndServe())
}
