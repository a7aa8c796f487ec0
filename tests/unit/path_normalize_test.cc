// normalize_path: dot segments (RFC 3986 5.2.4 and the 5.4 examples),
// percent-encoding, escaped slashes in each mode, merged slashes,
// backslashes, fragments, targets that are not paths, long inputs; every
// changed output is a fixed point.
#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "config/config.h"
#include "proxy/path_normalize.h"

using namespace moe;
using config::EscapedSlashes;
using Kind = PathVerdict::Kind;

namespace {

config::PathNormalization cfg(bool normalize = true, bool merge = true,
                              EscapedSlashes esc = EscapedSlashes::reject) {
  config::PathNormalization c;
  c.normalize = normalize;
  c.merge_slashes = merge;
  c.escaped_slashes = esc;
  return c;
}

constexpr const char* kReject = "<400>";

// What the listener forwards for `in`: the new target, `in` itself when it
// is unchanged, "<400>" when rejected, "<307>" + target for a redirect.
std::string run(std::string_view in, const config::PathNormalization& c) {
  const PathVerdict v = normalize_path(in, c);
  switch (v.kind) {
    case Kind::unchanged: return std::string(in);
    case Kind::changed: return std::string(v.target);
    case Kind::redirect: return "<307>" + std::string(v.target);
    case Kind::reject:
      CHECK(!v.reason.empty());
      return kReject;
  }
  return "?";
}

struct Case {
  std::string in, want;
};

void check_table(const std::vector<Case>& table, const config::PathNormalization& c) {
  for (const Case& k : table) {
    INFO("input: " << k.in);
    const std::string got = run(k.in, c);
    CHECK(got == k.want);
    if (got == k.in) CHECK(normalize_path(k.in, c).kind == Kind::unchanged);
    // A normal path is a fixed point: normalising it again changes nothing.
    if (got != kReject && got.rfind("<307>", 0) != 0) {
      INFO("again: " << got);
      CHECK(normalize_path(got, c).kind == Kind::unchanged);
    }
  }
}

}  // namespace

TEST_CASE("normalize_path: RFC 3986 5.4 examples, merged with the base path /b/c/d;p") {
  // RFC 3986 5.4.1 and 5.4.2 against base "http://a/b/c/d;p?q": the
  // reference merged with the base path (5.2.3), then remove_dot_segments.
  auto merged = [](std::string ref) { return ref[0] == '/' ? ref : "/b/c/" + ref; };
  const std::vector<std::pair<std::string, std::string>> rfc = {
      {"g", "/b/c/g"},
      {"./g", "/b/c/g"},
      {"g/", "/b/c/g/"},
      {"/g", "/g"},
      {";x", "/b/c/;x"},
      {"g;x", "/b/c/g;x"},
      {"g?y", "/b/c/g?y"},
      {".", "/b/c/"},
      {"./", "/b/c/"},
      {"..", "/b/"},
      {"../", "/b/"},
      {"../g", "/b/g"},
      {"../..", "/"},
      {"../../", "/"},
      {"../../g", "/g"},
      // 5.4.2, abnormal
      {"../../../g", "/g"},
      {"../../../../g", "/g"},
      {"/./g", "/g"},
      {"/../g", "/g"},
      {"g.", "/b/c/g."},
      {".g", "/b/c/.g"},
      {"g..", "/b/c/g.."},
      {"..g", "/b/c/..g"},
      {"./../g", "/b/g"},
      {"./g/.", "/b/c/g/"},
      {"g/./h", "/b/c/g/h"},
      {"g/../h", "/b/c/h"},
      {"g;x=1/./y", "/b/c/g;x=1/y"},
      {"g;x=1/../y", "/b/c/y"},
      {"g?y/./x", "/b/c/g?y/./x"},  // the query is not a path
      {"g?y/../x", "/b/c/g?y/../x"},
  };
  std::vector<Case> table;
  for (const auto& [ref, want] : rfc) table.push_back({merged(ref), want});
  // 5.2.4's own walk-through.
  table.push_back({"/a/b/c/./../../g", "/a/g"});
  SECTION("merge_slashes on") { check_table(table, cfg()); }
  SECTION("merge_slashes off") { check_table(table, cfg(true, false)); }
}

TEST_CASE("normalize_path: nothing climbs above the root") {
  check_table(
      {
          {"/..", "/"},
          {"/../", "/"},
          {"/.", "/"},
          {"/./", "/"},
          {"/a/..", "/"},
          {"/a/../..", "/"},
          {"/../../../etc/passwd", "/etc/passwd"},
          {"/%2e%2e", "/"},
          {"/%2e%2e/%2E%2e/x", "/x"},
          {"/..?x=1", "/?x=1"},
          {"/.?x", "/?x"},
      },
      cfg());
}

TEST_CASE("normalize_path: the common case is left alone") {
  for (std::string_view in : {"/", "/index.html", "/api/v1/users?id=7&x=/../", "/.well-known/acme", "/a/.b/..c/c..",
                              "/a.b/c.d.", "/~user/-_.", "/a;b=c/d", "*", "example.com:443", "/a?%zz&b=/../"}) {
    INFO(in);
    CHECK(normalize_path(in, cfg()).kind == Kind::unchanged);
  }
}

TEST_CASE("normalize_path: percent-encoding") {
  check_table(
      {
          // unreserved characters are decoded, so they cannot hide a route
          {"/%70rivate/secret.txt", "/private/secret.txt"},
          {"/%41%62%7e%7E%2d%5f%2E", "/Ab~~-_."},
          {"/public/%2e%2e/private/secret.txt", "/private/secret.txt"},
          {"/public/%2e%2E/private", "/private"},
          {"/public/.%2e/private", "/private"},
          {"/public/%2e./private", "/private"},
          {"/%2e/x", "/x"},
          // everything else stays encoded, hex in upper case
          {"/a%3fb", "/a%3Fb"},  // an encoded '?' must not start a query
          {"/a%23b", "/a%23b"},  // an encoded '#' is not a fragment
          {"/a%20b", "/a%20b"},
          {"/caf%c3%a9", "/caf%C3%A9"},
          {"/a%25", "/a%25"},
          {"/%252e%252e/private", "/%252e%252e/private"},  // decoded once, not twice
          {"/a%01", "/a%01"},
          // invalid or dangerous escapes are refused
          {"/a%", kReject},
          {"/a%2", kReject},
          {"/a%2?x", kReject},
          {"/a%zz", kReject},
          {"/a%2g", kReject},
          {"/a%g2", kReject},
          {"/%u002e%u002e/private", kReject},  // IIS's %u form
          {"/%00", kReject},
          {"/a%00b", kReject},
          // the query is untouched
          {"/a?x=%2f&y=%zz&z=/../", "/a?x=%2f&y=%zz&z=/../"},
          {"/%41?%41", "/A?%41"},
      },
      cfg());
}

TEST_CASE("normalize_path: escaped slashes in each mode") {
  SECTION("reject (the default)") {
    check_table({{"/a%2fb", kReject}, {"/a%2Fb", kReject}, {"/a%5cb", kReject}, {"/a%5C", kReject},
                 {"/public/..%2fprivate", kReject}, {"/a?x=%2F", "/a?x=%2F"}},
                cfg());
  }
  SECTION("keep") {
    check_table({{"/a%2fb", "/a%2Fb"},
                 {"/a%5cb", "/a%5Cb"},
                 {"/public/..%2Fprivate", "/public/..%2Fprivate"},  // one segment, not a dot segment
                 {"/a/%2e%2e%2fb", "/a/..%2Fb"}},
                cfg(true, true, EscapedSlashes::keep));
  }
  SECTION("unescape_and_forward") {
    check_table({{"/a%2fb", "/a/b"},
                 {"/a%5cb", "/a/b"},  // then a backslash, which is a slash
                 {"/public/..%2Fprivate/x", "/private/x"},
                 {"/public%2F%2F..%2F%2Fprivate", "/public/private"},  // ".." drops the empty segment
                 {"/a%2F", "/a/"}},
                cfg(true, true, EscapedSlashes::unescape_and_forward));
  }
  SECTION("unescape_and_redirect") {
    const auto c = cfg(true, true, EscapedSlashes::unescape_and_redirect);
    CHECK(run("/a%2fb?q=1", c) == "<307>/a/b?q=1");
    CHECK(run("/public/..%2Fprivate", c) == "<307>/private");
    // no escaped slash: normalised and forwarded, no redirect
    CHECK(run("/public/../private", c) == "/private");
    CHECK(run("/a", c) == "/a");
    // Never a protocol-relative Location ("//host", "/\\host": browsers
    // go to another host): refused instead.
    CHECK(run("/%2Fevil.example", cfg(true, false, EscapedSlashes::unescape_and_redirect)) == kReject);
    CHECK(run("/%5Cevil.example", cfg(false, true, EscapedSlashes::unescape_and_redirect)) == kReject);
    CHECK(run("/%2F%2Fevil.example", cfg(true, true, EscapedSlashes::unescape_and_redirect)) == "<307>/evil.example");
  }
}

TEST_CASE("normalize_path: slashes") {
  SECTION("merged") {
    check_table({{"//private/secret.txt", "/private/secret.txt"},
                 {"/a///b//", "/a/b/"},
                 {"//", "/"},
                 {"///..//x", "/x"},
                 // dot segments first, as RFC 3986 and Envoy: ".." drops the empty segment
                 {"/a//../b", "/a/b"},
                 {"/a?b//c", "/a?b//c"}},
                cfg());
  }
  SECTION("kept") {
    check_table({{"//private", "//private"}, {"/a//b", "/a//b"}, {"/a//../b", "/a/b"}, {"//..", "/"}},
                cfg(true, false));
  }
}

TEST_CASE("normalize_path: backslashes, fragments and mixed") {
  check_table(
      {
          {"/public\\..\\private\\secret.txt", "/private/secret.txt"},
          {"/\\private", "/private"},
          {"/a\\b", "/a/b"},
          {"/a?b\\c", "/a?b\\c"},
          {"/a#b", kReject},
          {"/a?b#c", kReject},
          {"/#", kReject},
          {"/public/./..//%2E%2e\\private/./secret.txt?q=/../", "/private/secret.txt?q=/../"},
          {"/%2e%2e\\%2e%2e//%70rivate/./%73ecret.txt", "/private/secret.txt"},
      },
      cfg());
}

TEST_CASE("normalize_path: normalize off keeps the path but still applies the other two") {
  check_table({{"/a/../b", "/a/../b"}, {"/%70", "/%70"}, {"/a%zz", "/a%zz"}, {"/a\\b", "/a\\b"},
               {"/a#b", "/a#b"}, {"//a//b", "/a/b"}, {"/a%2fb", kReject}},
              cfg(false, true));
  check_table({{"/a%2fb", "/a/b"}, {"/a%5cb", "/a\\b"}, {"/a%2f..", "/a/.."}},
              cfg(false, false, EscapedSlashes::unescape_and_forward));
  // Everything off: not even a scan.
  CHECK(run("/a/../%2f//b", cfg(false, false, EscapedSlashes::keep)) == "/a/../%2f//b");
}

TEST_CASE("normalize_path: long inputs stay linear and bounded") {
  std::string plain;
  for (int i = 0; i < 32768; i++) plain += "/a";
  CHECK(normalize_path(plain, cfg()).kind == Kind::unchanged);

  std::string climb;
  for (int i = 0; i < 20000; i++) climb += "/..";
  CHECK(run(climb + "/x", cfg()) == "/x");
  CHECK(run(climb, cfg()) == "/");

  std::string deep = plain;
  for (int i = 0; i < 32768; i++) deep += "/..";
  CHECK(run(deep + "/y", cfg()) == "/y");

  CHECK(run(std::string(60000, '/'), cfg()) == "/");
  CHECK(run(std::string(60000, '/'), cfg(true, false)) == std::string(60000, '/'));

  std::string enc = "/";
  for (int i = 0; i < 20000; i++) enc += "%41";
  CHECK(run(enc, cfg()) == "/" + std::string(20000, 'A'));
  CHECK(run(enc + "%", cfg()) == kReject);
}
