#!/usr/bin/env bash
# build-plugin.sh DIR OUT.so: build the Go filter plugin in DIR (a module
# root: DIR/go.mod, package main) the one way moe can load it:
#   - the same Go toolchain as moe (the `go` on PATH, or $GO; GOTOOLCHAIN=local
#     so go.mod can't switch it);
#   - -trimpath, -buildmode=plugin, CGO_ENABLED=1, like moe's c-archive;
#   - a go.work that `use`s DIR and this moe's goext/, so goext is a main
#     module exactly as when moe was built (a `require`d or `replace`d goext
#     gets other file names and plugin.Open refuses it).
# The go.work is temporary (GOWORK=...): DIR is not modified.
#
# build-plugin.sh --test DIR [GO TEST ARGS...]: run the plugin's own tests
# (`go test ./...` in DIR, filtertest included) with the same go.work and
# toolchain, which a plugin module needs to resolve moe/goext.
# See docs/go-filters.md and docs/design/go-embedding-findings.md.
set -euo pipefail
mode=build
if [[ "${1:-}" == "--test" ]]; then
  mode=test
  shift
fi
if [[ $mode == build && $# -ne 2 ]] || [[ $mode == test && $# -lt 1 ]]; then
  echo "usage: $0 PLUGIN_DIR OUT.so | $0 --test PLUGIN_DIR [go test args...]" >&2
  exit 2
fi
GO=${GO:-go}
src=$(cd "$1" && pwd)
if [[ $mode == build ]]; then
  out=$(realpath -m "$2")
fi
shift
goext=$(cd "$(dirname "${BASH_SOURCE[0]}")/../goext" && pwd)
[[ -f "$src/go.mod" ]] || { echo "$0: $src has no go.mod (a plugin is its own module)" >&2; exit 2; }
[[ "$src" != "$goext" ]] || { echo "$0: $src is goext itself" >&2; exit 2; }

export GOTOOLCHAIN=local CGO_ENABLED=1
goversion=$("$GO" env GOVERSION)
work=$(mktemp -d "${TMPDIR:-/tmp}/moe-plugin.XXXXXX")
trap 'rm -rf "$work"' EXIT
cat > "$work/go.work" <<WORK
go ${goversion#go}

use (
	$src
	$goext
)
WORK
cd "$src"
if [[ $mode == test ]]; then
  echo "build-plugin: $goversion, go test in $src (goext: $goext)" >&2
  GOWORK="$work/go.work" "$GO" test "${@:-./...}"
  exit
fi
mkdir -p "$(dirname "$out")"
echo "build-plugin: $goversion, $src -> $out (goext: $goext)" >&2
GOWORK="$work/go.work" "$GO" build -trimpath -buildmode=plugin -o "$out" .
