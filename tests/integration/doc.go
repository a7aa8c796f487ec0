// Package integration holds moe's black-box integration tests: the real
// build/moe binary, real sockets, real upstreams (Go servers in this package
// and Debian nginx) and real clients (net/http, raw net.Conn, curl, grpc-go).
//
// The module uses the standard library only, except for the gRPC tests
// (grpc_test.go, grpc_harness_test.go): they use google.golang.org/grpc,
// whose client and server are the reference HTTP/2 gRPC implementation and
// ship the generated TestService stubs (interop/grpc_testing), so the tests
// exercise moe with a real gRPC stack and need no protoc step. `go test`
// fetches the pinned versions (go.mod, go.sum) from the module proxy.
//
// Run with `go test -count=1 -timeout 900s ./...` from this directory;
// MOE_BIN names the binary (default ../../build/moe). See docs/testing.md.
package integration
