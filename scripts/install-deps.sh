#!/usr/bin/env bash
# Installs the Debian packages moe builds, tests and benchmarks with, if any
# is missing. Non-interactive; needs root (or sudo) only when something is
# missing. nghttp2-proxy (nghttpx) and h2o are bench/run contenders only;
# the Debian packages' services are not needed (bench/run starts its own).
set -euo pipefail

PKGS=(
  build-essential cmake ninja-build pkg-config
  libuv1-dev libnghttp2-dev libre2-dev libyaml-cpp-dev libspdlog-dev libfmt-dev catch2 node-llhttp
  nginx haproxy wrk curl nghttp2-client valgrind clang libclang-rt-14-dev
  nghttp2-proxy h2o
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
command -v go >/dev/null || { echo "go (1.21 or later) is required on PATH" >&2; exit 1; }
