// libFuzzer harness: arbitrary request-targets through normalize_path
// (src/proxy/path_normalize.h) under every configuration. The first input
// byte picks the configuration (normalize, merge_slashes, escaped_slashes);
// the rest, after a leading "/", is the target. The normaliser's source is
// compiled into the harness, so the fuzzer sees its branches. Besides
// crashes (ASan/UBSan), the harness checks:
//   - when path_is_normal() says so, the full rewrite (normalize_path_slow)
//     answers `unchanged` (the other way round it may be conservative);
//   - a redirect never has a protocol-relative target ("//h", "/\\h");
//   - a new target is not longer than the old one, starts with "/", and
//     keeps the query (from the first '?') byte for byte;
//   - a new target is a fixed point: normalising it again changes nothing;
//   - with normalize on, no dot segment, no backslash and no escape of an
//     unreserved character is left in the path, and with merge_slashes no
//     "//".
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "proxy/path_normalize.h"

namespace {

[[noreturn]] void fail(const char* what, const std::string& in, std::string_view out) {
  fprintf(stderr, "path_normalize_fuzz: %s\n  in:  %s\n  out: %.*s\n", what, in.c_str(), static_cast<int>(out.size()),
          out.data());
  abort();
}

bool unreserved_escape(std::string_view p, size_t i) {
  auto hex = [](char c) {
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
  };
  if (i + 2 >= p.size() || hex(p[i + 1]) < 0 || hex(p[i + 2]) < 0) return false;
  const int v = hex(p[i + 1]) * 16 + hex(p[i + 2]);
  return (v >= 'a' && v <= 'z') || (v >= 'A' && v <= 'Z') || (v >= '0' && v <= '9') || v == '-' || v == '.' ||
         v == '_' || v == '~';
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  moe::config::PathNormalization cfg;
  cfg.normalize = data[0] & 1;
  cfg.merge_slashes = data[0] & 2;
  cfg.escaped_slashes = static_cast<moe::config::EscapedSlashes>((data[0] >> 2) & 3);
  std::string in = "/";
  in.append(reinterpret_cast<const char*>(data + 1), size - 1);

  const moe::PathVerdict v = moe::normalize_path(in, cfg);
  using Kind = moe::PathVerdict::Kind;
  // The shortcut against the full rewrite (normalize_path calls the
  // shortcut first, so comparing against its answer would prove nothing).
  if (moe::path_is_normal(in, cfg) && moe::normalize_path_slow(in, cfg).kind != Kind::unchanged)
    fail("path_is_normal said normal", in, "");
  if (v.kind == Kind::redirect && v.target.size() > 1 && (v.target[1] == '/' || v.target[1] == '\\'))
    fail("a redirect to another host (protocol-relative Location)", in, v.target);
  if (v.kind == Kind::unchanged) return 0;
  if (v.kind == Kind::reject) {
    if (v.reason.empty()) fail("a rejection without a reason", in, "");
    return 0;
  }
  const std::string out(v.target);  // the verdict's view is reused by the next call
  if (out.size() > in.size()) fail("the target grew", in, out);
  if (out.empty() || out[0] != '/') fail("the target does not start with /", in, out);
  const size_t qi = in.find('?'), qo = out.find('?');
  if ((qi == std::string::npos) != (qo == std::string::npos) ||
      (qi != std::string::npos && in.compare(qi, std::string::npos, out, qo, std::string::npos) != 0)) {
    fail("the query changed", in, out);
  }
  const std::string_view path = std::string_view(out).substr(0, qo);
  if (cfg.normalize) {
    for (size_t i = 0; i < path.size(); i++) {
      if (path[i] == '\\') fail("a backslash is left", in, out);
      if (path[i] == '%' && unreserved_escape(path, i)) fail("an escaped unreserved character is left", in, out);
      if (path[i] == '/' && i + 1 < path.size() && path[i + 1] == '.') {
        const size_t e = path.find('/', i + 1);
        const std::string_view seg = path.substr(i + 1, e == std::string_view::npos ? e : e - i - 1);
        if (seg == "." || seg == "..") fail("a dot segment is left", in, out);
      }
    }
  }
  if (cfg.merge_slashes && path.find("//") != std::string_view::npos) fail("a // is left", in, out);
  if (moe::normalize_path(out, cfg).kind != Kind::unchanged) fail("not a fixed point", in, out);
  return 0;
}
