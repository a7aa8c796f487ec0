#!/usr/bin/env bash
# go-embed-probe.sh: reproduce, from scratch in a temp dir, the key facts behind
# docs/design/go-embedding-findings.md:
#   1. a Go c-archive linked into a g++ host with -rdynamic can plugin.Open a
#      -buildmode=plugin .so whose init() registers into a shared "api" package;
#   2. without -rdynamic the process aborts with "runtime: no plugin module data";
#   3. what a mismatch (api changed, -trimpath differs, file missing) reports;
#   4. crossing cost of a C++ thread calling an exported Go func (ptr,int)->int.
# Usage: scripts/go-embed-probe.sh [--keep]   (needs go, g++; no network)
set -euo pipefail
KEEP=${1:-}
T=$(mktemp -d /tmp/go-embed-probe.XXXXXX)
[[ "$KEEP" == --keep ]] || trap 'rm -rf "$T"' EXIT
cd "$T"
mkdir -p api bridge plug
cat > go.mod <<'EOF'
module example.com/probe

go 1.26
EOF
cat > api/api.go <<'EOF'
package api

import "sync"

type Filter func([]byte) int

var (
	mu sync.Mutex
	m  = map[string]Filter{}
)

func Register(name string, f Filter) { mu.Lock(); m[name] = f; mu.Unlock() }
func Lookup(name string) Filter      { mu.Lock(); defer mu.Unlock(); return m[name] }
EOF
cat > plug/plug.go <<'EOF'
package main

import "example.com/probe/api"

func init() {
	api.Register("count-upper", func(b []byte) int {
		n := 0
		for _, c := range b {
			if c >= 'A' && c <= 'Z' {
				n++
			}
		}
		return n
	})
}

func main() {}
EOF
cat > bridge/main.go <<'EOF'
package main

import "C"

import (
	"plugin"
	"unsafe"

	"example.com/probe/api"
)

//export GoOpenPlugin
func GoOpenPlugin(path *C.char) *C.char {
	if _, err := plugin.Open(C.GoString(path)); err != nil {
		return C.CString(err.Error())
	}
	return nil
}

//export GoCall
func GoCall(name *C.char, p *C.char, n C.int) C.int {
	f := api.Lookup(C.GoString(name))
	if f == nil {
		return -1
	}
	return C.int(f(unsafe.Slice((*byte)(unsafe.Pointer(p)), int(n))))
}

//export GoCross
func GoCross(p *C.char, n C.int) C.int { return n + 1 }

func main() {}
EOF
cat > host.cc <<'EOF'
#include "libbridge.h"
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <thread>
int main(int argc, char** argv) {
  for (int i = 1; i < argc; i++) {
    char* err = GoOpenPlugin(argv[i]);
    if (err) { printf("plugin.Open error: %s\n", err); free(err); return 2; }
  }
  char name[] = "count-upper", data[] = "Hello World FROM moe";
  printf("count-upper(\"%s\") = %d\n", data, GoCall(name, data, (int)strlen(data)));
  std::thread([] {  // a C++-created thread, like a moe worker
    char b[8] = "x"; long N = 10000000; int acc = 0;
    GoCross(b, 1);
    auto a = std::chrono::steady_clock::now();
    for (long i = 0; i < N; i++) acc += GoCross(b, (int)(i & 7));
    asm volatile("" ::"r"(acc));
    double ns = std::chrono::duration<double, std::nano>(std::chrono::steady_clock::now() - a).count() / N;
    printf("crossing: %.1f ns/call (10M calls, one C++ thread)\n", ns);
  }).join();
}
EOF
step() { printf '\n### %s\n' "$*"; }
step "go version: $(go version)"
step "build bridge: go build -trimpath -buildmode=c-archive"
go build -trimpath -buildmode=c-archive -o libbridge.a ./bridge
step "link host: g++ ... libbridge.a -rdynamic -lpthread -ldl"
g++ -std=c++20 -O2 -o host host.cc libbridge.a -rdynamic -lpthread -ldl
step "build plugin: go build -trimpath -buildmode=plugin"
go build -trimpath -buildmode=plugin -o plug.so ./plug
step "run (expect success)"
./host ./plug.so

step "missing file"
./host ./nope.so || true
step "plugin built WITHOUT -trimpath (host has it)"
go build -buildmode=plugin -o plug-notrim.so ./plug
./host ./plug-notrim.so || true
step "plugin built against a changed api package"
cp api/api.go api.go.orig
echo 'func Extra() int { return 1 }' >> api/api.go
go build -trimpath -buildmode=plugin -o plug-api2.so ./plug
cp api.go.orig api/api.go
./host ./plug-api2.so || true
step "host linked WITHOUT -rdynamic (expect fatal error + abort, exit 134)"
g++ -std=c++20 -O2 -o host-nordyn host.cc libbridge.a -lpthread -ldl
set +e; ./host-nordyn ./plug.so 2>&1 | head -3; echo "exit status: ${PIPESTATUS[0]}"; set -e
if [[ "$KEEP" == --keep ]]; then echo "kept: $T"; fi
