#include "proxy/path_normalize.h"

#include <array>
#include <cstring>
#include <string>

namespace moe {
namespace {

using config::EscapedSlashes;
using Kind = PathVerdict::Kind;

PathVerdict reject(std::string_view why) { return {Kind::reject, {}, why}; }

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// RFC 3986 2.3: an escape of one of these is decoded (6.2.2.2).
bool is_unreserved(unsigned char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '.' ||
         c == '_' || c == '~';
}

// "/." or "/.." at s[i] (s[i] == '/') ending its segment.
bool dot_segment_at(std::string_view s, size_t i) {
  auto ends = [&](size_t k) { return k == s.size() || s[k] == '/' || s[k] == '?'; };
  if (i + 1 >= s.size() || s[i + 1] != '.') return false;
  return ends(i + 2) || (s[i + 2] == '.' && ends(i + 3));
}

// The common case, as one scan: false when no step below could change the
// target or reject it. Conservative (a "//" with merge_slashes off, a
// '%' before a character that stays encoded): the slow path then finds
// nothing to change and answers `unchanged` as well.
// The bytes the scan stops at; the rest cost a load and a test each.
constexpr auto kStop = [] {
  std::array<bool, 256> t{};
  for (unsigned char c : {'%', '\\', '#', '/', '?'}) t[c] = true;
  return t;
}();

bool needs_work(std::string_view t, bool normalize) {
  for (size_t i = 0; i < t.size(); i++) {
    if (!kStop[static_cast<unsigned char>(t[i])]) continue;
    switch (t[i]) {
      case '%':
      case '\\':
      case '#': return true;
      case '/':
        if (i + 1 < t.size() && t[i + 1] == '/') return true;
        if (dot_segment_at(t, i)) return true;
        break;
      case '?':
        // The query is not ours; only a fragment after it is refused.
        return normalize && t.find('#', i + 1) != std::string_view::npos;
      default: break;
    }
  }
  return false;
}

// RFC 3986 5.2.4 on s[0, n) (s[0] == '/'), in place; returns the new
// length. The output is built as a run of "/segment" pieces; ".." drops
// the last one, so "/.." and "/a/../.." end at "/" and never above it.
// Each byte is moved and dropped at most once: linear.
size_t remove_dot_segments(char* s, size_t n) {
  size_t r = 0, w = 0;
  while (r < n) {
    size_t e = r + 1;
    while (e < n && s[e] != '/') e++;
    const size_t len = e - r - 1;
    const bool last = e == n;
    if (len == 1 && s[r + 1] == '.') {
      if (last) s[w++] = '/';  // "/a/." is "/a/"
    } else if (len == 2 && s[r + 1] == '.' && s[r + 2] == '.') {
      while (w > 0 && s[--w] != '/') {
      }
      if (last) s[w++] = '/';  // "/a/b/.." is "/a/"
    } else {
      memmove(s + w, s + r, e - r);
      w += e - r;
    }
    r = e;
  }
  if (w == 0) s[w++] = '/';
  return w;
}

size_t merge_slashes(char* s, size_t n) {
  size_t w = 0;
  for (size_t r = 0; r < n; r++) {
    if (s[r] == '/' && w > 0 && s[w - 1] == '/') continue;
    s[w++] = s[r];
  }
  return w;
}

void append_escape(std::string& out, unsigned char v) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  out.push_back('%');
  out.push_back(kHex[v >> 4]);
  out.push_back(kHex[v & 15]);
}

}  // namespace

bool path_is_normal(std::string_view target, const config::PathNormalization& cfg) {
  if (!cfg.normalize && !cfg.merge_slashes && cfg.escaped_slashes == EscapedSlashes::keep) return true;
  if (target.empty() || target[0] != '/') return true;  // "*", a CONNECT authority
  return !needs_work(target, cfg.normalize);
}

PathVerdict normalize_path(std::string_view target, const config::PathNormalization& cfg) {
  if (path_is_normal(target, cfg)) return {};
  return normalize_path_slow(target, cfg);
}

PathVerdict normalize_path_slow(std::string_view target, const config::PathNormalization& cfg) {
  if (target.empty() || target[0] != '/') return {};  // "*", a CONNECT authority
  const bool normalize = cfg.normalize;
  const EscapedSlashes esc = cfg.escaped_slashes;

  // Slow path: something may change. The path goes into `out` once, with
  // escapes and backslashes resolved; dot segments and slashes are then
  // reduced in place (the output is never longer than the input).
  const size_t q = target.find('?');
  const std::string_view path = target.substr(0, q);
  const std::string_view query = q == std::string_view::npos ? std::string_view() : target.substr(q);
  if (normalize && target.find('#') != std::string_view::npos) return reject("fragment in request target");
  thread_local std::string out;
  out.clear();
  out.reserve(target.size());
  bool unescaped = false;
  for (size_t i = 0; i < path.size(); i++) {
    const char c = path[i];
    if (c == '\\' && normalize) {
      // Not a URI character (RFC 3986 2); browsers (WHATWG URL), Envoy and
      // Windows servers read it as "/", so it is one here too.
      out.push_back('/');
      continue;
    }
    if (c != '%') {
      out.push_back(c);
      continue;
    }
    const int hi = i + 2 < path.size() ? hex_value(path[i + 1]) : -1;
    const int lo = hi >= 0 ? hex_value(path[i + 2]) : -1;
    if (lo < 0) {
      // "%", "%2", "%zz": decoders disagree on these (kept, dropped, or
      // IIS's "%u002e"), so an upstream could read anything into them.
      if (normalize) return reject("invalid percent-encoding in path");
      out.push_back(c);
      continue;
    }
    const auto v = static_cast<unsigned char>(hi * 16 + lo);
    if (v == '/' || v == '\\') {
      switch (esc) {
        case EscapedSlashes::keep:
          break;
        case EscapedSlashes::reject: return reject("encoded slash or backslash (%2F, %5C) in path");
        case EscapedSlashes::unescape_and_redirect:
        case EscapedSlashes::unescape_and_forward:
          out.push_back(v == '\\' && normalize ? '/' : static_cast<char>(v));
          unescaped = true;
          i += 2;
          continue;
      }
    }
    if (!normalize) {
      out.append(path.substr(i, 3));
    } else if (v == 0) {
      return reject("encoded NUL (%00) in path");
    } else if (is_unreserved(v)) {
      out.push_back(static_cast<char>(v));  // "%7E" is "~", "%2e" is "."
    } else {
      append_escape(out, v);  // "%2f" is "%2F" (RFC 3986 6.2.2.1)
    }
    i += 2;
  }
  size_t n = out.size();
  if (normalize) n = remove_dot_segments(out.data(), n);
  if (cfg.merge_slashes) n = merge_slashes(out.data(), n);
  out.resize(n);
  out.append(query);
  if (out == target) return {};
  const bool redirect = unescaped && esc == EscapedSlashes::unescape_and_redirect;
  // "//host" or "/\host" in a Location is a protocol-relative URL that
  // browsers follow to another host (an open redirect built from
  // "/%2Fevil.example" without merge_slashes, or "/%5Cevil" without
  // normalize, which leaves the backslash).
  if (redirect && out.size() > 1 && (out[1] == '/' || out[1] == '\\'))
    return reject("an unescaped slash would redirect to another host");
  return {redirect ? Kind::redirect : Kind::changed, out, {}};
}

}  // namespace moe
