#!/usr/bin/env bash
# Installs the Debian packages moe builds, tests and benchmarks with, if any
# is missing. Non-interactive; needs root (or sudo) only when something is
# missing. nghttp2-proxy (nghttpx) and h2o are bench/run contenders only;
# the Debian packages' services are not needed (bench/run starts its own).
set -euo pipefail

PKGS=(
  build-essential cmake ninja-build pkg-config
  libuv1-dev libnghttp2-dev libre2-dev libyaml-cpp-dev libspdlog-dev libfmt-dev catch2 node-llhttp libssl-dev
  nginx haproxy wrk curl nghttp2-client valgrind clang libclang-rt-14-dev
  nghttp2-proxy h2o python3
)

missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "installing: ${missing[*]}"
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
# Go: the module files say go 1.26. When no go >= 1.21 is on PATH (Debian
# 12 ships 1.19), the toolchain comes from the Go module proxy as the
# module golang.org/toolchain (what `GOTOOLCHAIN` fetches on newer Go),
# verified against the SHA-256 pinned here, and is unpacked into
# MOE_GO_ROOT; the Makefile puts MOE_GO_ROOT/bin first on PATH. (Its bin/go
# is byte-identical to the official go1.26.8 release's.)
GO_WANT=1.26.8
GO_ZIP_SHA256_amd64=30c2b1bf7dcc88d3eb0a1364e47ddd9128edb3110a30e8a0ef61cd5856b31de7
MOE_GO_ROOT=${MOE_GO_ROOT:-$HOME/.cache/moe/go$GO_WANT}
go_ok() {  # a go >= 1.21 (it fetches newer toolchains by itself)
  local v
  v=$("$1" env GOVERSION 2>/dev/null) || return 1
  v=${v#go}
  local major=${v%%.*} rest=${v#*.}
  local minor=${rest%%.*}
  [ "$major" -gt 1 ] || { [ "$major" -eq 1 ] && [ "${minor%%[!0-9]*}" -ge 21 ]; }
}
if [ -x "$MOE_GO_ROOT/bin/go" ]; then
  :  # fetched before
elif command -v go >/dev/null && go_ok "$(command -v go)"; then
  :
else
  arch=$(dpkg --print-architecture)
  sum_var=GO_ZIP_SHA256_$arch
  if [ -z "${!sum_var:-}" ]; then
    echo "no Go >= 1.21 on PATH, and no pinned toolchain for $arch: install Go 1.21 or later" >&2
    exit 1
  fi
  proxy=${GOPROXY:-https://proxy.golang.org}
  proxy=${proxy%%,*}
  [ "$proxy" = direct ] || [ "$proxy" = off ] && proxy=https://proxy.golang.org
  mod="golang.org/toolchain@v0.0.1-go$GO_WANT.linux-$arch"
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  echo "no Go >= 1.21 on PATH: fetching $mod from $proxy"
  curl -fsSL -o "$tmp/go.zip" "$proxy/golang.org/toolchain/@v/v0.0.1-go$GO_WANT.linux-$arch.zip"
  echo "${!sum_var}  $tmp/go.zip" | sha256sum -c --quiet - || { echo "toolchain checksum mismatch" >&2; exit 1; }
  python3 -c 'import sys, zipfile; zipfile.ZipFile(sys.argv[1]).extractall(sys.argv[2])' "$tmp/go.zip" "$tmp/x"
  # Module zips keep no file modes: the go command sets them the same way
  # when it switches toolchains.
  chmod -R a+rX "$tmp/x"
  find "$tmp/x/$mod/bin" "$tmp/x/$mod/pkg/tool" -type f -exec chmod a+x {} +
  mkdir -p "$(dirname "$MOE_GO_ROOT")"
  rm -rf "$MOE_GO_ROOT"
  mv "$tmp/x/$mod" "$MOE_GO_ROOT"
  "$MOE_GO_ROOT/bin/go" version
fi
