// Route matching: every match kind, first match wins, -1 when nothing
// matches; path_only and host_only.
#include <catch2/catch.hpp>

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "config/config.h"
#include "http/codec.h"
#include "proxy/router.h"

using namespace moe;

namespace {

// A request as the HTTP/1 codec leaves it: method and target in the arena.
struct Req {
  RequestHead head;
  Req(std::string_view method, std::string_view target, std::string_view host = "",
      std::vector<std::pair<std::string, std::string>> headers = {}) {
    head.method_view = head.headers.store(method);
    head.path_view = head.headers.store(target);
    if (!host.empty()) head.headers.add("Host", host);
    for (auto& [n, v] : headers) head.headers.add(n, v);
  }
};

config::Route route(config::RouteMatch m) {
  config::Route r;
  r.match = std::move(m);
  return r;
}

config::RouteMatch prefix(std::string p) {
  config::RouteMatch m;
  m.prefix = std::move(p);
  return m;
}

config::RouteMatch exact_path(std::string p) {
  config::RouteMatch m;
  m.path = std::move(p);
  return m;
}

config::RouteMatch regex(std::string re) {
  config::RouteMatch m;
  m.regex_text = re;
  m.regex = std::make_shared<const re2::RE2>(re);
  return m;
}

config::HeaderMatch header(std::string name, config::StringMatchKind kind, std::string value = "") {
  config::HeaderMatch h;
  h.name = std::move(name);
  h.kind = kind;
  h.value = value;
  if (kind == config::StringMatchKind::regex) h.regex = std::make_shared<const re2::RE2>(value);
  return h;
}

int match(const config::Listener& l, const Req& r) { return match_route(l, r.head); }

config::Listener one_route(config::RouteMatch m) {
  config::Listener l;
  l.routes.push_back(route(std::move(m)));
  return l;
}

}  // namespace

TEST_CASE("router: path_only strips query and fragment", "[router]") {
  CHECK(path_only("/a/b") == "/a/b");
  CHECK(path_only("/a/b?x=1&y=2") == "/a/b");
  CHECK(path_only("/a#frag") == "/a");
  CHECK(path_only("/a?q#f") == "/a");
  CHECK(path_only("?only") == "");
  CHECK(path_only("") == "");
  CHECK(path_only("*") == "*");
}

TEST_CASE("router: host_only strips the port", "[router]") {
  CHECK(host_only("example.com") == "example.com");
  CHECK(host_only("example.com:8080") == "example.com");
  CHECK(host_only("127.0.0.1:80") == "127.0.0.1");
  CHECK(host_only("[::1]:8080") == "[::1]");
  CHECK(host_only("[::1]") == "[::1]");
  CHECK(host_only("") == "");
}

TEST_CASE("router: no routes, or none matching, gives -1", "[router]") {
  config::Listener empty;
  CHECK(match(empty, Req("GET", "/", "h")) == -1);
  config::Listener l = one_route(prefix("/api/"));
  CHECK(match(l, Req("GET", "/other", "h")) == -1);
}

TEST_CASE("router: an empty match matches everything", "[router]") {
  config::Listener l = one_route({});
  CHECK(match(l, Req("GET", "/", "h")) == 0);
  CHECK(match(l, Req("DELETE", "/x/y?z", "")) == 0);
  CHECK(match(l, Req("OPTIONS", "*", "any.host:1")) == 0);
}

TEST_CASE("router: prefix", "[router]") {
  config::Listener l = one_route(prefix("/api/"));
  CHECK(match(l, Req("GET", "/api/", "h")) == 0);
  CHECK(match(l, Req("GET", "/api/users?id=1", "h")) == 0);
  CHECK(match(l, Req("GET", "/api", "h")) == -1);
  CHECK(match(l, Req("GET", "/API/users", "h")) == -1);  // case-sensitive
  CHECK(match(l, Req("GET", "/v1/api/", "h")) == -1);
  // The query is not part of the path.
  CHECK(match(l, Req("GET", "/x?/api/", "h")) == -1);
}

TEST_CASE("router: exact path ignores the query", "[router]") {
  config::Listener l = one_route(exact_path("/healthz"));
  CHECK(match(l, Req("GET", "/healthz", "h")) == 0);
  CHECK(match(l, Req("GET", "/healthz?verbose=1", "h")) == 0);
  CHECK(match(l, Req("GET", "/healthz#top", "h")) == 0);
  CHECK(match(l, Req("GET", "/healthz/", "h")) == -1);
  CHECK(match(l, Req("GET", "/healthzz", "h")) == -1);
  CHECK(match(l, Req("GET", "/health", "h")) == -1);
}

TEST_CASE("router: regex must match the whole path", "[router]") {
  config::Listener l = one_route(regex("/v[0-9]+/.*"));
  CHECK(match(l, Req("GET", "/v1/users", "h")) == 0);
  CHECK(match(l, Req("GET", "/v42/?q=/v1/", "h")) == 0);
  CHECK(match(l, Req("GET", "/vx/users", "h")) == -1);
  CHECK(match(l, Req("GET", "/api/v1/users", "h")) == -1);  // regex_match, not search
  CHECK(match(l, Req("GET", "/x?/v1/a", "h")) == -1);       // query ignored
}

TEST_CASE("router: method is exact", "[router]") {
  config::RouteMatch m;
  m.method = "POST";
  config::Listener l = one_route(m);
  CHECK(match(l, Req("POST", "/", "h")) == 0);
  CHECK(match(l, Req("GET", "/", "h")) == -1);
  CHECK(match(l, Req("POSTX", "/", "h")) == -1);
}

TEST_CASE("router: host exact is case-insensitive and ignores the port", "[router]") {
  config::RouteMatch m;
  m.host = "api.example.com";
  config::Listener l = one_route(m);
  CHECK(match(l, Req("GET", "/", "api.example.com")) == 0);
  CHECK(match(l, Req("GET", "/", "API.Example.COM")) == 0);
  CHECK(match(l, Req("GET", "/", "api.example.com:8443")) == 0);
  CHECK(match(l, Req("GET", "/", "www.example.com")) == -1);
  CHECK(match(l, Req("GET", "/", "api.example.com.evil")) == -1);
  // The fully qualified spelling names the same host.
  CHECK(match(l, Req("GET", "/", "api.example.com.")) == 0);
  CHECK(match(l, Req("GET", "/", "API.example.com.:443")) == 0);
  CHECK(match(l, Req("GET", "/", "api.example.com..")) == -1);
  CHECK(match(l, Req("GET", "/", "")) == -1);  // no Host header
}

TEST_CASE("router: host wildcard matches subdomains only", "[router]") {
  config::RouteMatch m;
  m.host = "*.example.com";
  config::Listener l = one_route(m);
  CHECK(match(l, Req("GET", "/", "a.example.com")) == 0);
  CHECK(match(l, Req("GET", "/", "a.b.EXAMPLE.com:80")) == 0);
  CHECK(match(l, Req("GET", "/", "a.example.com.")) == 0);
  CHECK(match(l, Req("GET", "/", "example.com.")) == -1);
  CHECK(match(l, Req("GET", "/", "example.com")) == -1);
  CHECK(match(l, Req("GET", "/", ".example.com")) == -1 );
  CHECK(match(l, Req("GET", "/", "badexample.com")) == -1);
  CHECK(match(l, Req("GET", "/", "a.example.org")) == -1);
}

TEST_CASE("router: IPv6 host literal", "[router]") {
  config::RouteMatch m;
  m.host = "[::1]";
  config::Listener l = one_route(m);
  CHECK(match(l, Req("GET", "/", "[::1]:8080")) == 0);
  CHECK(match(l, Req("GET", "/", "[::1]")) == 0);
  CHECK(match(l, Req("GET", "/", "[::2]:8080")) == -1);
}

TEST_CASE("router: header matches", "[router]") {
  using K = config::StringMatchKind;
  SECTION("exact") {
    config::RouteMatch m;
    m.headers.push_back(header("x-canary", K::exact, "1"));
    config::Listener l = one_route(m);
    CHECK(match(l, Req("GET", "/", "h", {{"X-Canary", "1"}})) == 0);
    CHECK(match(l, Req("GET", "/", "h", {{"x-canary", " 1 "}})) == 0);  // OWS trimmed
    CHECK(match(l, Req("GET", "/", "h", {{"x-canary", "10"}})) == -1);
    CHECK(match(l, Req("GET", "/", "h")) == -1);
    // Any of several values may match.
    CHECK(match(l, Req("GET", "/", "h", {{"x-canary", "0"}, {"x-canary", "1"}})) == 0);
  }
  SECTION("prefix") {
    config::RouteMatch m;
    m.headers.push_back(header("user-agent", K::prefix, "curl/"));
    config::Listener l = one_route(m);
    CHECK(match(l, Req("GET", "/", "h", {{"User-Agent", "curl/8.0"}})) == 0);
    CHECK(match(l, Req("GET", "/", "h", {{"User-Agent", "curl/"}})) == 0);
    CHECK(match(l, Req("GET", "/", "h", {{"User-Agent", "Curl/8.0"}})) == -1);
    CHECK(match(l, Req("GET", "/", "h", {{"User-Agent", "curl"}})) == -1);
  }
  SECTION("regex") {
    config::RouteMatch m;
    m.headers.push_back(header("x-version", K::regex, "v[0-9]+"));
    config::Listener l = one_route(m);
    CHECK(match(l, Req("GET", "/", "h", {{"x-version", "v12"}})) == 0);
    CHECK(match(l, Req("GET", "/", "h", {{"x-version", "v12b"}})) == -1);
    CHECK(match(l, Req("GET", "/", "h", {{"x-version", "xv1"}})) == -1);
  }
  SECTION("present") {
    config::RouteMatch m;
    m.headers.push_back(header("x-debug", K::present));
    config::Listener l = one_route(m);
    CHECK(match(l, Req("GET", "/", "h", {{"X-Debug", ""}})) == 0);
    CHECK(match(l, Req("GET", "/", "h", {{"X-Debug", "anything"}})) == 0);
    CHECK(match(l, Req("GET", "/", "h", {{"X-Debugger", "1"}})) == -1);
    CHECK(match(l, Req("GET", "/", "h")) == -1);
  }
  SECTION("all listed headers must match") {
    config::RouteMatch m;
    m.headers.push_back(header("a", K::exact, "1"));
    m.headers.push_back(header("b", K::present));
    config::Listener l = one_route(m);
    CHECK(match(l, Req("GET", "/", "h", {{"a", "1"}, {"b", "x"}})) == 0);
    CHECK(match(l, Req("GET", "/", "h", {{"a", "1"}})) == -1);
    CHECK(match(l, Req("GET", "/", "h", {{"b", "x"}})) == -1);
  }
}

TEST_CASE("router: every condition of a route must hold", "[router]") {
  config::RouteMatch m = prefix("/api/");
  m.method = "GET";
  m.host = "*.example.com";
  m.headers.push_back(header("x-canary", config::StringMatchKind::exact, "1"));
  config::Listener l = one_route(m);
  CHECK(match(l, Req("GET", "/api/x", "a.example.com", {{"x-canary", "1"}})) == 0);
  CHECK(match(l, Req("PUT", "/api/x", "a.example.com", {{"x-canary", "1"}})) == -1);
  CHECK(match(l, Req("GET", "/apx/x", "a.example.com", {{"x-canary", "1"}})) == -1);
  CHECK(match(l, Req("GET", "/api/x", "example.com", {{"x-canary", "1"}})) == -1);
  CHECK(match(l, Req("GET", "/api/x", "a.example.com", {{"x-canary", "2"}})) == -1);
}

TEST_CASE("router: first match wins, in config order", "[router]") {
  config::Listener l;
  l.routes.push_back(route(exact_path("/api/health")));  // 0
  l.routes.push_back(route(prefix("/api/")));            // 1
  l.routes.push_back(route(prefix("/api/v2/")));         // 2: shadowed by 1
  l.routes.push_back(route({}));                         // 3: catch-all
  l.routes.push_back(route(prefix("/")));                // 4: never reached
  CHECK(match(l, Req("GET", "/api/health", "h")) == 0);
  CHECK(match(l, Req("GET", "/api/health?x", "h")) == 0);
  CHECK(match(l, Req("GET", "/api/health/", "h")) == 1);
  CHECK(match(l, Req("GET", "/api/v2/x", "h")) == 1);
  CHECK(match(l, Req("GET", "/", "h")) == 3);
  CHECK(match(l, Req("GET", "/other", "h")) == 3);
}

TEST_CASE("router: routes loaded from YAML", "[router]") {
  config::LoadResult r = config::load_config_text(R"(listeners:
  - name: ingress
    address: 127.0.0.1:0
    routes:
      - match: {prefix: /api/, host: "*.Example.com", method: get,
                headers: [{name: X-Canary, exact: "1"}, {name: X-Debug, present: true}]}
        direct_response: {status: 200}
      - match: {path: /healthz}
        direct_response: {status: 200}
      - match: {regex: "^/v[0-9]+/.*"}
        direct_response: {status: 200}
      - match: {host: API.example.com}
        direct_response: {status: 200}
      - match: {headers: [{name: User-Agent, prefix: "curl/"}, {name: x-v, regex: "[a-c]+"}]}
        direct_response: {status: 200}
)",
                                                        "router.yaml");
  std::string errors;
  for (const auto& e : r.errors) errors += e.to_string() + "\n";
  INFO(errors);
  REQUIRE(r.config);
  const config::Listener& l = r.config->listeners.at(0);
  REQUIRE(l.routes.size() == 5);

  CHECK(match(l, Req("GET", "/api/a", "x.example.com", {{"x-canary", "1"}, {"x-debug", ""}})) == 0);
  // "method: get" is stored upper-case; request methods are case-sensitive.
  CHECK(match(l, Req("get", "/api/a", "x.example.com", {{"x-canary", "1"}, {"x-debug", ""}})) == -1);
  CHECK(match(l, Req("GET", "/api/a", "x.example.com", {{"x-canary", "1"}})) == -1);
  CHECK(match(l, Req("GET", "/healthz?x=1", "any")) == 1);
  CHECK(match(l, Req("GET", "/v3/things", "any")) == 2);
  CHECK(match(l, Req("GET", "/", "api.EXAMPLE.com:9000")) == 3);
  CHECK(match(l, Req("GET", "/", "other", {{"user-agent", "curl/8"}, {"x-v", "abca"}})) == 4);
  CHECK(match(l, Req("GET", "/", "other", {{"user-agent", "curl/8"}, {"x-v", "abcd"}})) == -1);
  CHECK(match(l, Req("GET", "/", "other")) == -1);
}
