// HeaderMap: lookups, lower-cased names, OWS trimming, incremental building
// from fragments, and the stability promise (views never move once
// committed, however many blocks the arena grows by).
#include <catch2/catch.hpp>

#include <cctype>
#include <string>
#include <string_view>
#include <vector>

#include "http/headers.h"

using moe::HeaderMap;

namespace {

// Feeds `s` in pieces of `step` bytes, as llhttp would across reads.
template <typename Fn>
void in_pieces(std::string_view s, size_t step, Fn fn) {
  for (size_t i = 0; i < s.size(); i += step) {
    std::string_view piece = s.substr(i, step);
    fn(piece.data(), piece.size());
  }
}

void add_fragmented(HeaderMap& h, std::string_view name, std::string_view value, size_t step) {
  h.begin_name();
  in_pieces(name, step, [&](const char* p, size_t n) { h.append_name(p, n); });
  h.begin_value();
  in_pieces(value, step, [&](const char* p, size_t n) { h.append_value(p, n); });
  h.commit();
}

}  // namespace

TEST_CASE("headers: add, get, has, count", "[headers]") {
  HeaderMap h;
  CHECK(h.empty());
  h.add("Host", "example.com");
  h.add("Accept", "text/html");
  h.add("accept", "application/json");
  REQUIRE(h.size() == 3);
  CHECK_FALSE(h.empty());

  bool found = false;
  CHECK(h.get("host", &found) == "example.com");
  CHECK(found);
  CHECK(h.get("accept") == "text/html");  // the first value
  CHECK(h.count("accept") == 2);
  CHECK(h.count("host") == 1);
  CHECK(h.has("accept"));

  CHECK(h.get("missing", &found).empty());
  CHECK_FALSE(found);
  CHECK_FALSE(h.has("missing"));
  CHECK(h.count("missing") == 0);
  // Lookups take lower-case names: the stored names are lower-case.
  CHECK_FALSE(h.has("Host"));
}

TEST_CASE("headers: names are stored lower-case, values untouched", "[headers]") {
  HeaderMap h;
  h.add("X-Request-ID", "AbC-123");
  h.add("CONTENT-TYPE", "Text/Plain");
  CHECK(h.name(0) == "x-request-id");
  CHECK(h.value(0) == "AbC-123");
  CHECK(h.name(1) == "content-type");
  CHECK(h.value(1) == "Text/Plain");
  // Only ASCII letters are folded.
  h.add("X-\xC3\x84-1_~", "v");
  CHECK(h.name(2) == "x-\xC3\x84-1_~");
}

TEST_CASE("headers: every byte value folds like tolower on ASCII, in every word position", "[headers]") {
  // Names are lower-cased 8 bytes at a time, then byte by byte: each of
  // the 256 byte values at each of the 8 positions of a word, and in the
  // tail, through both add() and the parser's append_name().
  for (size_t len : {1, 7, 8, 9, 16, 19}) {
    for (size_t pos = 0; pos < len; pos++) {
      for (int b = 0; b < 256; b++) {
        std::string name(len, 'Q');
        name[pos] = static_cast<char>(b);
        std::string want;
        for (char c : name) want += (c >= 'A' && c <= 'Z') ? static_cast<char>(c + 32) : c;
        HeaderMap h;
        h.add(name, "v");
        h.begin_name();
        h.append_name(name.data(), name.size());
        h.begin_value();
        h.append_value("w", 1);
        h.commit();
        REQUIRE(h.name(0) == want);
        REQUIRE(h.name(1) == want);
      }
    }
  }
}

TEST_CASE("headers: add trims optional whitespace around the value like the parser", "[headers]") {
  HeaderMap h;
  h.add("a", " \t x y \t ");
  h.add("b", "   ");
  CHECK(h.value(0) == "x y");
  CHECK(h.value(1).empty());
  CHECK(h.bytes() == 1 + 3 + 1);
}

TEST_CASE("headers: an empty value is found", "[headers]") {
  HeaderMap h;
  h.add("x-empty", "");
  bool found = false;
  CHECK(h.get("x-empty", &found).empty());
  CHECK(found);
  CHECK(h.has("x-empty"));
}

TEST_CASE("headers: set replaces every value or adds", "[headers]") {
  HeaderMap h;
  h.add("a", "1");
  h.add("b", "2");
  h.add("a", "3");
  h.set("a", "9");
  REQUIRE(h.size() == 2);
  CHECK(h.count("a") == 1);
  CHECK(h.get("a") == "9");
  CHECK(h.name(0) == "b");  // the others keep their order
  h.set("c", "new");
  CHECK(h.get("c") == "new");
  CHECK(h.size() == 3);
}

TEST_CASE("headers: remove and remove_at", "[headers]") {
  HeaderMap h;
  h.add("a", "1");
  h.add("b", "2");
  h.add("a", "3");
  h.add("c", "4");
  CHECK(h.remove("a") == 2);
  CHECK(h.remove("a") == 0);
  REQUIRE(h.size() == 2);
  CHECK(h.name(0) == "b");
  CHECK(h.name(1) == "c");
  h.remove_at(0);
  REQUIRE(h.size() == 1);
  CHECK(h.name(0) == "c");
  CHECK(h.value(0) == "4");
  h.remove_at(0);
  CHECK(h.empty());
}

TEST_CASE("headers: remove_if drops every match in one pass, keeping order and views", "[headers]") {
  HeaderMap h;
  for (const char* n : {"keep-1", "drop", "keep-2", "drop", "drop-too", "keep-3"}) h.add(n, n);
  const std::string_view v = h.value(5);  // a view taken before the removal
  CHECK(h.remove_if([](std::string_view n) { return n.starts_with("drop"); }) == 3);
  REQUIRE(h.size() == 3);
  CHECK(h.name(0) == "keep-1");
  CHECK(h.name(1) == "keep-2");
  CHECK(h.name(2) == "keep-3");
  CHECK(v == "keep-3");
  CHECK(h.remove_if([](std::string_view) { return false; }) == 0);
  CHECK(h.size() == 3);
}

TEST_CASE("headers: commit trims optional whitespace around the value", "[headers]") {
  HeaderMap h;
  h.add("a", "  \t value with  inner  spaces \t ");
  h.add("b", " \t \t");
  h.add("c", "x");
  h.add("d", "\tx");
  CHECK(h.value(0) == "value with  inner  spaces");
  CHECK(h.value(1).empty());
  CHECK(h.value(2) == "x");
  CHECK(h.value(3) == "x");
}

TEST_CASE("headers: incremental building from one-byte fragments", "[headers]") {
  HeaderMap h;
  add_fragmented(h, "Content-Type", " text/plain; charset=utf-8 ", 1);
  add_fragmented(h, "X-Long", std::string(3000, 'v'), 7);  // spills the first block
  add_fragmented(h, "HOST", "example.com", 3);
  REQUIRE(h.size() == 3);
  CHECK(h.name(0) == "content-type");
  CHECK(h.value(0) == "text/plain; charset=utf-8");
  CHECK(h.name(1) == "x-long");
  CHECK(h.value(1) == std::string(3000, 'v'));
  CHECK(h.get("host") == "example.com");
}

TEST_CASE("headers: fragmented value split around whitespace is trimmed", "[headers]") {
  HeaderMap h;
  h.begin_name();
  h.append_name("X-", 2);
  h.append_name("A", 1);
  h.begin_value();
  h.append_value(" ", 1);
  h.append_value(" v", 2);
  h.append_value("al ", 3);
  h.append_value("\t", 1);
  h.commit();
  CHECK(h.name(0) == "x-a");
  CHECK(h.value(0) == "val");
}

TEST_CASE("headers: a value without any fragment commits empty", "[headers]") {
  HeaderMap h;
  h.begin_name();
  h.append_name("X-Empty", 7);
  h.begin_value();
  h.commit();
  REQUIRE(h.size() == 1);
  CHECK(h.name(0) == "x-empty");
  CHECK(h.value(0).empty());
}

TEST_CASE("headers: views stay valid and unchanged as the arena grows", "[headers]") {
  HeaderMap h;
  h.add("Host", "first.example.com");
  const std::string_view first_name = h.name(0);
  const std::string_view first_value = h.value(0);
  const char* const first_data = first_value.data();

  // A raw token (request target) and a stored string before the growth.
  h.begin_raw();
  h.append_raw("/path", 5);
  h.append_raw("?q=1", 4);
  const std::string_view target = h.raw();
  const std::string_view stored = h.store("stored-early");

  // Record every committed view as we go; after each addition, every view
  // taken so far must still read the same bytes.
  std::vector<std::string_view> names, values;
  std::vector<std::string> want_names, want_values;
  const size_t start_bytes = h.bytes();
  for (int i = 0; i < 400; i++) {
    std::string name = "X-Header-" + std::to_string(i);
    std::string value(static_cast<size_t>(10 + (i * 37) % 300), static_cast<char>('a' + i % 26));
    // Fragments so that the half-built name or value straddles block ends.
    add_fragmented(h, name, value, static_cast<size_t>(1 + i % 13));
    names.push_back(h.name(h.size() - 1));
    values.push_back(h.value(h.size() - 1));
    for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    want_names.push_back(name);
    want_values.push_back(value);
  }
  // Several doublings of the 1 KiB first block.
  REQUIRE(h.bytes() - start_bytes > 60000);

  CHECK(first_name == "host");
  CHECK(first_value == "first.example.com");
  CHECK(h.value(0).data() == first_data);  // not moved, not copied
  CHECK(target == "/path?q=1");
  CHECK(stored == "stored-early");
  for (size_t i = 0; i < names.size(); i++) {
    INFO("header " << i);
    REQUIRE(names[i] == want_names[i]);
    REQUIRE(values[i] == want_values[i]);
    REQUIRE(h.name(i + 1).data() == names[i].data());
    REQUIRE(h.value(i + 1).data() == values[i].data());
  }
  // spans() mirrors name()/value().
  REQUIRE(h.spans().size() == h.size());
  CHECK(std::string_view(h.spans()[0].name, h.spans()[0].name_len) == "host");
}

TEST_CASE("headers: removing does not invalidate other views", "[headers]") {
  HeaderMap h;
  for (int i = 0; i < 50; i++) h.add("x-" + std::to_string(i), std::string(100, 'z'));
  std::string_view keep = h.value(49);
  h.remove("x-0");
  h.set("x-1", "replaced");
  for (int i = 0; i < 50; i++) h.add("y-" + std::to_string(i), std::string(200, 'y'));
  CHECK(keep == std::string(100, 'z'));
  CHECK(h.get("x-49").data() == keep.data());
}

TEST_CASE("headers: a token larger than a whole block", "[headers]") {
  HeaderMap h;
  h.add("a", "small");
  std::string_view a = h.value(0);
  std::string big(10000, 'B');
  add_fragmented(h, "big", big, 4096);
  std::string huge_name(5000, 'N');
  h.add(huge_name, "v");
  CHECK(a == "small");
  CHECK(h.get("big") == big);
  CHECK(h.name(2) == std::string(5000, 'n'));
  CHECK(h.value(2) == "v");
}

TEST_CASE("headers: store returns stable views", "[headers]") {
  HeaderMap h;
  std::vector<std::string_view> views;
  for (int i = 0; i < 300; i++) views.push_back(h.store(std::string(static_cast<size_t>(i), 'S') + "#" + std::to_string(i)));
  for (int i = 0; i < 300; i++) {
    INFO(i);
    REQUIRE(views[static_cast<size_t>(i)] == std::string(static_cast<size_t>(i), 'S') + "#" + std::to_string(i));
  }
  CHECK(h.store("").empty());
  CHECK(h.empty());  // stored strings are not headers
}

TEST_CASE("headers: raw tokens and headers interleave like a request line", "[headers]") {
  HeaderMap h;
  h.begin_raw();
  h.append_raw("GE", 2);
  h.append_raw("T", 1);
  std::string_view method = h.raw();
  h.begin_raw();
  h.append_raw("/a", 2);
  h.append_raw("/b", 2);
  std::string_view path = h.raw();
  add_fragmented(h, "Host", "h", 1);
  CHECK(method == "GET");
  CHECK(path == "/a/b");
  CHECK(h.size() == 1);
  CHECK(h.get("host") == "h");
}

TEST_CASE("headers: clear empties and the map is reusable", "[headers]") {
  HeaderMap h;
  for (int i = 0; i < 100; i++) h.add("X-" + std::to_string(i), std::string(100, 'q'));
  CHECK(h.bytes() > 0);
  h.clear();
  CHECK(h.empty());
  CHECK(h.size() == 0);
  CHECK(h.bytes() == 0);
  CHECK_FALSE(h.has("x-1"));

  // Reuse: several rounds, each growing past the first block again.
  for (int round = 0; round < 3; round++) {
    std::vector<std::string_view> vals;
    for (int i = 0; i < 60; i++) {
      add_fragmented(h, "Round-" + std::to_string(round), std::string(100, static_cast<char>('a' + i % 26)), 9);
      vals.push_back(h.value(h.size() - 1));
    }
    for (int i = 0; i < 60; i++) REQUIRE(vals[static_cast<size_t>(i)] == std::string(100, static_cast<char>('a' + i % 26)));
    CHECK(h.count("round-" + std::to_string(round)) == 60);
    CHECK(h.bytes() == 60 * (7 + 100));
    h.clear();
  }
  h.add("after", "clear");
  CHECK(h.get("after") == "clear");
  CHECK(h.size() == 1);
}

TEST_CASE("headers: bytes counts names, values and raw pieces", "[headers]") {
  HeaderMap h;
  h.add("ab", "cde");
  CHECK(h.bytes() == 5);
  h.store("xyz");
  CHECK(h.bytes() == 8);
}

TEST_CASE("headers: iequals", "[headers]") {
  using moe::iequals;
  CHECK(iequals("", ""));
  CHECK(iequals("Content-Length", "content-length"));
  CHECK(iequals("KEEP-alive", "keep-ALIVE"));
  CHECK_FALSE(iequals("close", "closed"));
  CHECK_FALSE(iequals("a", "b"));
  CHECK_FALSE(iequals("a", ""));
  // '@' and '`' are 0x20 apart like 'A'/'a' but are not letters.
  CHECK_FALSE(iequals("@", "`"));
  CHECK_FALSE(iequals("[", "{"));
}

TEST_CASE("headers: header_list_has", "[headers]") {
  using moe::header_list_has;
  CHECK(header_list_has("close", "close"));
  CHECK(header_list_has("keep-alive, Upgrade", "upgrade"));
  CHECK(header_list_has("  gzip ,\tchunked\t", "chunked"));
  CHECK(header_list_has("a,,b", "b"));
  CHECK(header_list_has("TRAILERS", "trailers"));
  CHECK_FALSE(header_list_has("", "close"));
  CHECK_FALSE(header_list_has("closed", "close"));
  CHECK_FALSE(header_list_has("keep-alive", "alive"));
  CHECK_FALSE(header_list_has("a b", "a"));
  CHECK_FALSE(header_list_has("gzip, chunked", "gzip, chunked"));
  // An empty token matches an empty list item.
  CHECK(header_list_has("a, ,b", ""));
}

TEST_CASE("headers: valid_request_target", "[headers]") {
  using moe::valid_request_target;
  CHECK(valid_request_target("/"));
  CHECK(valid_request_target("*"));
  CHECK(valid_request_target("/a/b?c=d&e=%20~!$'()*+,;=:@[]{}|^`\\\"<>"));
  // No fragment: '#' is not part of a request-target.
  CHECK_FALSE(valid_request_target("/a#b"));
  CHECK_FALSE(valid_request_target("/a?q#"));
  CHECK(valid_request_target(std::string_view("\x21\x7e", 2)));
  CHECK_FALSE(valid_request_target(""));
  CHECK_FALSE(valid_request_target("/a b"));
  CHECK_FALSE(valid_request_target("/a\tb"));
  CHECK_FALSE(valid_request_target("/a\x7f"));
  CHECK_FALSE(valid_request_target("/caf\xc3\xa9"));
  CHECK_FALSE(valid_request_target(std::string_view("/a\0b", 4)));
  CHECK_FALSE(valid_request_target("/a\r\nx: y"));
}

TEST_CASE("headers: valid_authority", "[headers]") {
  using moe::valid_authority;
  for (const char* ok : {"", "a", "a.example:8080", "a-b_c~d.e", "127.0.0.1", "127.0.0.1:80", "[::1]", "[::1]:443",
                         "[::ffff:1.2.3.4]", "h:", "a%41b", "!$&'()*+,;="})
    CHECK(valid_authority(ok));
  for (const char* bad : {"evil.com/x@y", "user:pw@h", "a b", "a:8o", "a\\b", "[::1", "[]", "[::1]x", "[v1.x]", "a%4",
                          "a%zz", "a?b", "a#b", "h:80:80", "\x7f", "caf\xc3\xa9"})
    CHECK_FALSE(valid_authority(bad));
}

TEST_CASE("headers: forbidden_trailer", "[headers]") {
  using moe::forbidden_trailer;
  for (const char* n : {"content-length", "transfer-encoding", "host", "authorization", "proxy-authorization", "cookie",
                        "set-cookie", "content-type", "content-encoding", "content-range", "range", "expect", "te",
                        "trailer", "upgrade", "connection", "keep-alive", "proxy-connection", ":path", ":status"})
    CHECK(forbidden_trailer(n));
  for (const char* n : {"grpc-status", "grpc-message", "x-checksum", "server-timing", "etag", "x"})
    CHECK_FALSE(forbidden_trailer(n));
}
