// Package integration holds moe's black-box integration tests: the real
// build/moe binary, real sockets, real upstreams (Go servers in this package
// and Debian nginx) and real clients (net/http, raw net.Conn, curl).
//
// Run with `go test -count=1 -timeout 900s ./...` from this directory;
// MOE_BIN names the binary (default ../../build/moe). See docs/testing.md.
package integration
