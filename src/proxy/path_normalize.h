// The request path a listener's routes match, the Go filters see and the
// upstream receives: the client's request-target, normalised (issue 12).
//
// Routes compare bytes. Without this, "/public/../private/x",
// "/%70rivate/x" and "//private/x" all miss a deny route for "/private"
// and reach an upstream that reads each of them as "/private/x". So every
// request-target (HTTP/1.1 request line, h2 :path, a Go filter's SetPath)
// goes through normalize_path() once, before match_route(), and what it
// returns replaces the target: the router, Go's Header.Path(), the access
// log and the upstream all see the same bytes. Like Envoy's normalize_path,
// merge_slashes and path_with_escaped_slashes_action (docs/configuration.md,
// "path_normalization"; docs/security.md).
//
// The output is a fixed point: normalising it again changes nothing (no
// dot segment, no "//" when merging, no escape of an unreserved character
// or a slash), so an upstream that normalises again reads what the routes
// matched.
//
// Only the path is touched: a query ("?..." up to the end) is kept byte for
// byte. A target that does not start with "/" (OPTIONS "*", a CONNECT
// authority) is left alone.
//
// Thread: any; the returned view points at a thread-local buffer, valid until
// the next call on the same thread (the caller stores it at once).
#pragma once

#include <string_view>

#include "config/config.h"

namespace moe {

struct PathVerdict {
  enum class Kind : uint8_t {
    unchanged,  // the target is already normal: keep the view (the common case)
    changed,    // replace the target with `target`
    redirect,   // escaped slashes were unescaped and the listener redirects: 307 to `target`
    reject,     // 400, `reason` says why
  };
  Kind kind = Kind::unchanged;
  std::string_view target;  // changed, redirect: the new request-target (path + query)
  std::string_view reason;  // reject: a sentence for the 400 body (static storage)
};

// The common case, on its own: true when normalize_path() would answer
// `unchanged` without looking further (one scan, no copy). Callers on the
// hot path test this first.
bool path_is_normal(std::string_view target, const config::PathNormalization& cfg);

// `target` is the request-target, query included. Cost: the common case
// (no '%', '\\' or '#', no "//", no "." or ".." segment) is one scan of the
// path with no allocation and no copy, and answers `unchanged`. Otherwise
// the path is rewritten once into the thread-local buffer (linear time,
// no allocation once the buffer has grown to the longest path seen).
PathVerdict normalize_path(std::string_view target, const config::PathNormalization& cfg);

// normalize_path without the path_is_normal() shortcut: the full rewrite,
// whatever the path. For the fuzzer, which checks that the shortcut never
// says "normal" for a path the rewrite would change.
PathVerdict normalize_path_slow(std::string_view target, const config::PathNormalization& cfg);

}  // namespace moe
