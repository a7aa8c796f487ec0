// Config loading: values, defaults, units, and errors that point at the
// right file:line:col and key.
#include <arpa/inet.h>
#include <netinet/in.h>

#include <catch2/catch.hpp>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <string>

#include "config/config.h"

using namespace moe::config;
using namespace std::chrono_literals;

namespace {

// Raw strings below start with a newline for readability; drop it so line 1
// of the YAML is the first line after R"(.
LoadResult load(std::string text) {
  if (!text.empty() && text.front() == '\n') text.erase(0, 1);
  return load_config_text(text, "test.yaml");
}

const ConfigError* find_error(const LoadResult& r, const std::string& key) {
  for (const ConfigError& e : r.errors) {
    if (e.key == key) return &e;
  }
  return nullptr;
}

std::string all_errors(const LoadResult& r) {
  std::string out;
  for (const ConfigError& e : r.errors) out += e.to_string() + "\n";
  return out;
}

// One error at `key`, exactly at line:col, whose message contains `text`.
void require_error(const LoadResult& r, const std::string& key, int line, int col,
                   const std::string& text) {
  INFO(all_errors(r));
  REQUIRE(r.config == nullptr);
  const ConfigError* e = find_error(r, key);
  REQUIRE(e != nullptr);
  CHECK(e->mark.file == "test.yaml");
  CHECK(e->mark.line == line);
  CHECK(e->mark.col == col);
  CHECK(e->message.find(text) != std::string::npos);
}

const char* kMinimal = R"(
listeners:
  - name: a
    address: 127.0.0.1:0
    routes:
      - direct_response: {status: 200}
)";

}  // namespace

TEST_CASE("config: full example loads with expected values", "[config]") {
  LoadResult r = load(R"(
workers: 4
drain_timeout: 30s
admin:
  address: 127.0.0.1:9901
log:
  level: debug
  access_log: off
  access_log_format: json
go:
  plugins: [/opt/moe/auth.so]
  async_procs: 3
  gc_percent: 50
  memory_limit: 512MiB
listeners:
  - name: ingress
    address: 127.0.0.1:8080
    http2: true
    limits: {max_request_headers: 32KiB, max_headers: 50, max_connections: 1000, max_request_body: 1MiB}
    timeouts: {request_headers: 5s, idle: 2m, send: 3s}
    filters:
      - name: traceid
        config: {header: x-request-id}
        timeout: 250ms
        on_error: fail_open
    routes:
      - name: api
        match: {prefix: /api/, host: "*.Example.com", method: get,
                headers: [{name: X-Canary, exact: "1"}, {name: x-debug}]}
        cluster: backend
        timeout: 1.5s
        prefix_rewrite: /
        max_request_body: 64KiB
      - match: {path: /healthz}
        direct_response: {status: 200, body: "ok\n", headers: {Content-Type: text/plain}}
      - match: {regex: "^/v[0-9]+/"}
        cluster: backend
clusters:
  - name: backend
    endpoints: [127.0.0.1:9000, "[::1]:9001"]
    protocol: h2c
    lb: least_request
    connect_timeout: 2s
    idle_timeout: 30s
    max_connections: 64
    max_pending: 128
    shed_stalled_after: 500ms
)");
  INFO(all_errors(r));
  REQUIRE(r.errors.empty());
  REQUIRE(r.config);
  const Config& c = *r.config;
  CHECK(c.source == "test.yaml");
  CHECK(c.workers == 4);
  CHECK(c.drain_timeout == 30s);
  REQUIRE(c.admin.address);
  CHECK(c.admin.address->port == 9901);
  CHECK(c.log.level == "debug");
  CHECK(c.log.access_log == "off");
  CHECK(c.log.access_log_format == LogFormat::json);
  CHECK(c.go.plugins == std::vector<std::string>{"/opt/moe/auth.so"});
  CHECK(c.go.async_procs == 3);
  CHECK(c.go.gc_percent == 50);
  CHECK(c.go.memory_limit == 512ull << 20);

  REQUIRE(c.listeners.size() == 1);
  const Listener& l = c.listeners[0];
  CHECK(l.name == "ingress");
  CHECK(l.mark.line == 15);
  CHECK(l.address.host == "127.0.0.1");
  CHECK(l.address.port == 8080);
  CHECK(l.http2);
  CHECK(l.limits.max_request_headers == 32 * 1024);
  CHECK(l.limits.max_headers == 50);
  CHECK(l.limits.max_connections == 1000);
  CHECK(l.limits.max_request_body == 1 << 20);
  CHECK(l.timeouts.request_headers == 5s);
  CHECK(l.timeouts.idle == 2min);
  CHECK(l.timeouts.send == 3s);
  REQUIRE(l.filters.size() == 1);
  CHECK(l.filters[0].name == "traceid");
  CHECK(l.filters[0].config_json == R"({"header":"x-request-id"})");
  CHECK(l.filters[0].timeout == 250ms);
  CHECK(l.filters[0].on_error == FilterErrorMode::fail_open);

  REQUIRE(l.routes.size() == 3);
  const Route& api = l.routes[0];
  CHECK(api.name == "api");
  CHECK(api.match.prefix == "/api/");
  CHECK(api.match.host == "*.example.com");
  CHECK(api.match.method == "GET");
  REQUIRE(api.match.headers.size() == 2);
  CHECK(api.match.headers[0].name == "x-canary");
  CHECK(api.match.headers[0].kind == StringMatchKind::exact);
  CHECK(api.match.headers[0].value == "1");
  CHECK(api.match.headers[1].kind == StringMatchKind::present);
  CHECK(api.cluster == "backend");
  CHECK(api.cluster_index == 0);
  CHECK(api.timeout == 1500ms);
  CHECK(api.prefix_rewrite == "/");
  CHECK(api.max_request_body == 64u * 1024);
  CHECK_FALSE(api.direct_response);

  const Route& health = l.routes[1];
  CHECK(health.name == "ingress/1");
  CHECK(health.match.path == "/healthz");
  REQUIRE(health.direct_response);
  CHECK(health.direct_response->status == 200);
  CHECK(health.direct_response->body == "ok\n");
  REQUIRE(health.direct_response->headers.size() == 1);
  CHECK(health.direct_response->headers[0].name == "content-type");
  CHECK(health.direct_response->headers[0].value == "text/plain");
  CHECK(health.cluster_index == -1);

  const Route& re = l.routes[2];
  REQUIRE(re.match.regex);
  CHECK(re.match.regex_text == "^/v[0-9]+/");
  CHECK(RE2::PartialMatch("/v2/users", *re.match.regex));
  CHECK_FALSE(RE2::PartialMatch("/va/users", *re.match.regex));

  REQUIRE(c.clusters.size() == 1);
  const Cluster& cl = c.clusters[0];
  CHECK(cl.name == "backend");
  REQUIRE(cl.endpoints.size() == 2);
  CHECK(cl.endpoints[0].addr.ss_family == AF_INET);
  CHECK(cl.endpoints[1].addr.ss_family == AF_INET6);
  CHECK(cl.endpoints[1].host == "::1");
  CHECK(cl.endpoints[1].port == 9001);
  CHECK(cl.protocol == UpstreamProtocol::h2c);
  CHECK(cl.lb == LbPolicy::least_request);
  CHECK(cl.connect_timeout == 2s);
  CHECK(cl.idle_timeout == 30s);
  CHECK(cl.max_connections == 64);
  CHECK(cl.max_pending == 128);
  CHECK(cl.shed_stalled_after == 500ms);
}

TEST_CASE("config: defaults fill in what is not written", "[config]") {
  LoadResult r = load(kMinimal);
  INFO(all_errors(r));
  REQUIRE(r.config);
  const Config& c = *r.config;
  CHECK(c.workers == 0);
  CHECK(c.drain_timeout == 15s);
  CHECK_FALSE(c.admin.address);
  CHECK(c.log.level == "info");
  CHECK(c.log.access_log == "stdout");
  CHECK(c.go.async_procs == 2);
  CHECK(c.go.gc_percent == 100);
  const Listener& l = c.listeners[0];
  CHECK_FALSE(l.http2);
  CHECK(l.limits.max_request_headers == 60 * 1024);
  CHECK(l.limits.max_headers == 100);
  CHECK(l.timeouts.send == 30s);
  CHECK(l.timeouts.request_headers == 10s);
  CHECK(l.routes[0].name == "a/0");
  CHECK(l.routes[0].timeout == 15s);
  CHECK_FALSE(l.routes[0].max_request_body);
  CHECK(l.address.port == 0);
  CHECK(l.address.addr_len == sizeof(sockaddr_in));
}

TEST_CASE("config: parse_duration", "[config][units]") {
  struct Case {
    const char* text;
    std::optional<Duration> want;
  };
  const Case cases[] = {
      {"0", Duration{0}},          {"250ms", Duration{250}},   {"1s", Duration{1000}},
      {"2m", Duration{120000}},    {"1h", Duration{3600000}},  {"1.5s", Duration{1500}},
      {"0.25m", Duration{15000}},  {"0s", Duration{0}},        {"90s", Duration{90000}},
      {"", std::nullopt},          {"-1s", std::nullopt},      {"1", std::nullopt},
      {"10", std::nullopt},        {"1x", std::nullopt},       {"s", std::nullopt},
      {"1.s", std::nullopt},       {".5s", std::nullopt},      {"1 s", std::nullopt},
      {"1s ", std::nullopt},       {"1.0001s", std::nullopt},  {"1.5ms", std::nullopt},
      {"+1s", std::nullopt},       {"1d", std::nullopt},       {"1S", std::nullopt},
      {"99999999999999999999h", std::nullopt},                 {"1000001h", std::nullopt},
  };
  for (const Case& c : cases) {
    INFO(c.text);
    CHECK(parse_duration(c.text) == c.want);
  }
}

TEST_CASE("config: parse_size", "[config][units]") {
  struct Case {
    const char* text;
    std::optional<uint64_t> want;
  };
  const Case cases[] = {
      {"0", 0},
      {"512", 512},
      {"64KiB", 64 * 1024},
      {"1MiB", 1 << 20},
      {"1GiB", 1ull << 30},
      {"18446744073709551615", UINT64_MAX},
      {"18446744073709551616", std::nullopt},
      {"17179869184GiB", std::nullopt},
      {"", std::nullopt},
      {"-1", std::nullopt},
      {"1KB", std::nullopt},
      {"1k", std::nullopt},
      {"1 KiB", std::nullopt},
      {"KiB", std::nullopt},
      {"1.5MiB", std::nullopt},
      {"0x10", std::nullopt},
  };
  for (const Case& c : cases) {
    INFO(c.text);
    CHECK(parse_size(c.text) == c.want);
  }
}

TEST_CASE("config: format_duration round-trips", "[config][units]") {
  CHECK(format_duration(Duration{0}) == "0s");
  CHECK(format_duration(Duration{250}) == "250ms");
  CHECK(format_duration(Duration{1500}) == "1500ms");
  CHECK(format_duration(Duration{15000}) == "15s");
  CHECK(format_duration(Duration{120000}) == "2m");
  CHECK(format_duration(Duration{7200000}) == "2h");
  for (int64_t ms : {0, 1, 999, 1000, 61000, 3600000, 5400000}) {
    CHECK(parse_duration(format_duration(Duration{ms})) == Duration{ms});
  }
}

TEST_CASE("config: split_host_port", "[config][address]") {
  std::string host;
  uint16_t port = 1;
  CHECK_FALSE(split_host_port("127.0.0.1:8080", host, port));
  CHECK(host == "127.0.0.1");
  CHECK(port == 8080);
  CHECK_FALSE(split_host_port("[::1]:0", host, port));
  CHECK(host == "::1");
  CHECK(port == 0);
  CHECK_FALSE(split_host_port("app.local:65535", host, port));
  CHECK(host == "app.local");
  CHECK(port == 65535);
  for (const char* bad : {"", "localhost", ":80", "1.2.3.4:", "1.2.3.4:65536", "1.2.3.4:8x",
                          "::1:80", "[::1]", "[::1]80", "[::1:80", "[]:80", "h:-1"}) {
    INFO(bad);
    CHECK(split_host_port(bad, host, port));
  }
}

TEST_CASE("config: resolve_address fills the sockaddr", "[config][address]") {
  Address a;
  REQUIRE_FALSE(resolve_address("127.0.0.1:8080", a));
  CHECK(a.text == "127.0.0.1:8080");
  REQUIRE(a.addr.ss_family == AF_INET);
  REQUIRE(a.addr_len == sizeof(sockaddr_in));
  const auto* in4 = reinterpret_cast<const sockaddr_in*>(&a.addr);
  CHECK(ntohs(in4->sin_port) == 8080);
  CHECK(ntohl(in4->sin_addr.s_addr) == INADDR_LOOPBACK);

  REQUIRE_FALSE(resolve_address("[::1]:9", a));
  REQUIRE(a.addr.ss_family == AF_INET6);
  CHECK(a.addr_len == sizeof(sockaddr_in6));
  CHECK(ntohs(reinterpret_cast<const sockaddr_in6*>(&a.addr)->sin6_port) == 9);

  REQUIRE_FALSE(resolve_address("localhost:80", a));  // hostname path
  CHECK(a.host == "localhost");
  CHECK(a.addr_len > 0);

  auto err = resolve_address("no-such-host.invalid:80", a);
  REQUIRE(err);
  CHECK(err->find("cannot resolve 'no-such-host.invalid'") != std::string::npos);
}

TEST_CASE("config: ConfigError::to_string", "[config]") {
  ConfigError e{Mark{"moe.yaml", 3, 7}, "listeners[0].routes[1].cluster", "unknown cluster 'x'"};
  CHECK(e.to_string() == "moe.yaml:3:7: listeners[0].routes[1].cluster: unknown cluster 'x'");
  ConfigError syntax{Mark{"moe.yaml", 2, 1}, "", "YAML syntax error: x"};
  CHECK(syntax.to_string() == "moe.yaml:2:1: YAML syntax error: x");
}

TEST_CASE("config error: unknown top-level key", "[config][errors]") {
  LoadResult r = load(R"(
workers: 2
wrokers: 3
listeners:
  - name: a
    address: 127.0.0.1:0
    routes: [{direct_response: {status: 200}}]
)");
  require_error(r, "wrokers", 2, 1, "unknown key 'wrokers'; allowed: workers, drain_timeout");
  CHECK(r.errors.size() == 1);
  CHECK(r.errors[0].to_string().rfind("test.yaml:2:1: wrokers: unknown key 'wrokers'", 0) == 0);
}

TEST_CASE("config error: unknown nested key names the whole path", "[config][errors]") {
  LoadResult r = load(R"(
listeners:
  - name: a
    address: 127.0.0.1:0
    limits:
      max_headers: 10
      max_header: 10
    routes:
      - match: {prefix: /, hots: x}
        direct_response: {status: 200}
)");
  require_error(r, "listeners[0].limits.max_header", 6, 7,
                "allowed: max_request_headers, max_headers, max_connections, max_request_body");
  require_error(r, "listeners[0].routes[0].match.hots", 8, 28, "unknown key 'hots'");
}

TEST_CASE("config error: wrong types", "[config][errors]") {
  LoadResult r = load(R"(
workers: many
listeners:
  - name: a
    address: 127.0.0.1:0
    http2: yes
    limits: [1, 2]
    routes:
      - direct_response: {status: abc}
)");
  require_error(r, "workers", 1, 10, "expected 'auto' or a number");
  require_error(r, "listeners[0].http2", 5, 12, "expected true or false, got 'yes'");
  require_error(r, "listeners[0].limits", 6, 13, "expected a map, got a list");
  require_error(r, "listeners[0].routes[0].direct_response.status", 8, 35, "expected an integer");
}

TEST_CASE("config error: bad durations and sizes", "[config][errors]") {
  LoadResult r = load(R"(
drain_timeout: 15
listeners:
  - name: a
    address: 127.0.0.1:0
    timeouts: {idle: -5s}
    limits: {max_request_body: 10MB}
    routes:
      - direct_response: {status: 200}
        timeout: soon
)");
  require_error(r, "drain_timeout", 1, 16, "expected a duration like 250ms");
  require_error(r, "listeners[0].timeouts.idle", 5, 22, "got '-5s'");
  require_error(r, "listeners[0].limits.max_request_body", 6, 32, "expected a size");
  require_error(r, "listeners[0].routes[0].timeout", 9, 18, "got 'soon'");
  CHECK(r.errors.size() == 4);
}

TEST_CASE("config error: route names a cluster that does not exist", "[config][errors]") {
  LoadResult r = load(R"(
listeners:
  - name: a
    address: 127.0.0.1:0
    routes:
      - match: {prefix: /}
        cluster: backedn
clusters:
  - name: backend
    endpoints: [127.0.0.1:9000]
)");
  require_error(r, "listeners[0].routes[0].cluster", 6, 18,
                "unknown cluster 'backedn'; defined: backend");
}

TEST_CASE("config error: duplicate listener and cluster names", "[config][errors]") {
  LoadResult r = load(R"(
listeners:
  - name: edge
    address: 127.0.0.1:0
    routes: [{direct_response: {status: 200}}]
  - name: edge
    address: 127.0.0.1:0
    routes: [{direct_response: {status: 200}}]
clusters:
  - name: c
    endpoints: [127.0.0.1:1]
  - name: c
    endpoints: [127.0.0.1:2]
)");
  require_error(r, "listeners[1].name", 5, 11, "duplicate listener name 'edge'");
  require_error(r, "clusters[1].name", 11, 11, "duplicate cluster name 'c'");
  // Port 0 twice is fine: each bind gets its own port.
  CHECK(find_error(r, "listeners[1].address") == nullptr);
}

TEST_CASE("config error: duplicate listener addresses", "[config][errors]") {
  LoadResult r = load(R"(
admin: {address: "127.0.0.1:9901"}
listeners:
  - name: a
    address: 127.0.0.1:8080
    routes: [{direct_response: {status: 200}}]
  - name: b
    address: "127.0.0.1:8080"
    routes: [{direct_response: {status: 200}}]
  - name: c
    address: 127.0.0.1:9901
    routes: [{direct_response: {status: 200}}]
)");
  require_error(r, "listeners[1].address", 7, 14, "also used by listeners[0] ('a')");
  require_error(r, "listeners[2].address", 10, 14, "also the admin address");
}

TEST_CASE("config error: bad regex names the regex", "[config][errors]") {
  LoadResult r = load(R"(
listeners:
  - name: a
    address: 127.0.0.1:0
    routes:
      - match:
          regex: "/users/([0-9]+"
        direct_response: {status: 200}
      - match:
          headers:
            - {name: x-id, regex: "[z-a]"}
        direct_response: {status: 200}
)");
  require_error(r, "listeners[0].routes[0].match.regex", 6, 18, "invalid regex '/users/([0-9]+'");
  require_error(r, "listeners[0].routes[1].match.headers[0].regex", 10, 35,
                "invalid regex '[z-a]'");
}

TEST_CASE("config error: route action must be exactly one", "[config][errors]") {
  LoadResult r = load(R"(
listeners:
  - name: a
    address: 127.0.0.1:0
    routes:
      - match: {prefix: /}
        cluster: backend
        direct_response: {status: 200}
      - match: {prefix: /x}
clusters:
  - name: backend
    endpoints: [127.0.0.1:9000]
)");
  INFO(all_errors(r));
  REQUIRE(r.errors.size() == 2);
  CHECK(r.errors[0].key == "listeners[0].routes[0]");
  CHECK(r.errors[0].mark.line == 5);
  CHECK(r.errors[0].mark.col == 9);
  CHECK(r.errors[0].message.find("not both") != std::string::npos);
  CHECK(r.errors[1].key == "listeners[0].routes[1]");
  CHECK(r.errors[1].mark.line == 8);
  CHECK(r.errors[1].message == "set exactly one of 'cluster' or 'direct_response'");
}

TEST_CASE("config error: YAML syntax error has file:line:col", "[config][errors]") {
  LoadResult r = load(R"(
listeners:
  - name: a
    address: [127.0.0.1:0
    routes: []
)");
  REQUIRE(r.config == nullptr);
  REQUIRE(r.errors.size() == 1);
  CHECK(r.errors[0].key.empty());
  // yaml-cpp notices at the next ':' that the flow list was never closed.
  CHECK(r.errors[0].mark.line == 4);
  CHECK(r.errors[0].mark.col == 11);
  CHECK(r.errors[0].to_string() ==
        "test.yaml:4:11: YAML syntax error: end of sequence flow not found");

  LoadResult indent = load("workers: 2\n  bad: indent\n");
  REQUIRE(indent.errors.size() == 1);
  CHECK(indent.errors[0].mark.line == 2);
  CHECK(indent.errors[0].mark.col == 6);
  CHECK(indent.errors[0].message.find("YAML syntax error") == 0);
}

TEST_CASE("config error: all errors are collected, in file order", "[config][errors]") {
  LoadResult r = load(R"(
workers: -3
log: {level: loud}
listeners:
  - name: a
    address: 127.0.0.1
    routes:
      - cluster: nowhere
clusters:
  - name: c
    endpoints: []
    lb: fastest
)");
  INFO(all_errors(r));
  REQUIRE(r.errors.size() == 6);
  CHECK(r.errors[0].key == "workers");
  CHECK(r.errors[1].key == "log.level");
  CHECK(r.errors[1].message == "unknown value 'loud'; allowed: trace, debug, info, warn, error");
  CHECK(r.errors[2].key == "listeners[0].address");
  CHECK(r.errors[2].message.find("missing port") != std::string::npos);
  CHECK(r.errors[3].key == "listeners[0].routes[0].cluster");
  CHECK(r.errors[4].key == "clusters[0].endpoints");
  CHECK(r.errors[5].key == "clusters[0].lb");
  for (size_t i = 1; i < r.errors.size(); ++i) {
    CHECK(r.errors[i - 1].mark.line <= r.errors[i].mark.line);
  }
}

TEST_CASE("config error: missing required keys and empty lists", "[config][errors]") {
  LoadResult r = load(R"(
listeners:
  - address: 127.0.0.1:0
    filters:
      - config: {a: 1}
    routes: []
clusters:
  - name: c
)");
  require_error(r, "listeners[0].name", 2, 5, "missing required key 'name'");
  require_error(r, "listeners[0].filters[0].name", 4, 9, "missing required key 'name'");
  require_error(r, "listeners[0].routes", 5, 13, "at least one route");
  require_error(r, "clusters[0].endpoints", 7, 5, "missing required key 'endpoints'");

  LoadResult none = load("workers: auto\n");
  require_error(none, "listeners", 1, 1, "at least one listener is required");
}

TEST_CASE("config error: prefix_rewrite needs a cluster and match.prefix", "[config][errors]") {
  LoadResult r = load(R"(
listeners:
  - name: a
    address: 127.0.0.1:0
    routes:
      - match: {path: /x}
        cluster: c
        prefix_rewrite: /y
      - direct_response: {status: 404}
        prefix_rewrite: /z
clusters:
  - {name: c, endpoints: ["127.0.0.1:1"]}
)");
  require_error(r, "listeners[0].routes[0].prefix_rewrite", 7, 25, "needs 'match.prefix'");
  require_error(r, "listeners[0].routes[1].prefix_rewrite", 9, 25, "only allowed on a route with 'cluster'");
}

TEST_CASE("config error: headers, methods and hosts are validated", "[config][errors]") {
  LoadResult r = load(R"(
listeners:
  - name: a
    address: 127.0.0.1:0
    routes:
      - match:
          method: "GE T"
          host: "api.example.com:80"
          headers: [{name: "x id", present: true}, {name: x-a, exact: "1", prefix: "2"}]
        direct_response:
          status: 600
          headers: [{name: "bad:name", value: v}]
)");
  require_error(r, "listeners[0].routes[0].match.method", 6, 19, "not a valid HTTP method");
  require_error(r, "listeners[0].routes[0].match.host", 7, 17, "no port");
  require_error(r, "listeners[0].routes[0].match.headers[0].name", 8, 28, "not a valid HTTP header name");
  require_error(r, "listeners[0].routes[0].match.headers[1]", 8, 52, "at most one of");
  require_error(r, "listeners[0].routes[0].direct_response.status", 10, 19, "between 100 and 599");
  require_error(r, "listeners[0].routes[0].direct_response.headers[0].name", 11, 28,
                "not a valid HTTP header name");
}

TEST_CASE("config error: endpoints that cannot be used", "[config][errors]") {
  LoadResult r = load(R"(
listeners:
  - name: a
    address: 127.0.0.1:0
    routes: [{cluster: c}]
clusters:
  - name: c
    endpoints:
      - no-such-host.invalid:80
      - 127.0.0.1:0
    max_pending: 0
)");
  require_error(r, "clusters[0].endpoints[0]", 8, 9, "cannot resolve 'no-such-host.invalid'");
  require_error(r, "clusters[0].endpoints[1]", 9, 9, "port 0 is only allowed for listeners");
  require_error(r, "clusters[0].max_pending", 10, 18, "must be at least 1");
}

TEST_CASE("config error: duplicate YAML keys and non-list sections", "[config][errors]") {
  LoadResult r = load(R"(
log:
  level: info
  level: debug
listeners: ingress
clusters:
  - name: c
    endpoints: ["127.0.0.1:1"]
    name: d
)");
  require_error(r, "log.level", 3, 3, "duplicate key 'level'");
  require_error(r, "listeners", 4, 12, "expected a list, got 'ingress'");
  require_error(r, "clusters[0].name", 8, 5, "duplicate key 'name'");
}

TEST_CASE("config: workers auto or a number", "[config]") {
  auto with = [](const std::string& w) { return load("workers: " + w + "\n" + (kMinimal + 1)); };
  CHECK(with("auto").config->workers == 0);
  CHECK(with("8").config->workers == 8);
  require_error(with("0"), "workers", 1, 10, "between 1 and 1024");
  require_error(with("[1]"), "workers", 1, 10, "expected 'auto' or a number");
}

TEST_CASE("config: filter config becomes compact JSON", "[config][json]") {
  LoadResult r = load(R"(
listeners:
  - name: a
    address: 127.0.0.1:0
    filters:
      - name: f
        config:
          s: hello
          quoted_num: "42"
          num: 42
          neg: -1.5e3
          not_num: 0x1F
          yes_is_string: yes
          t: true
          n: null
          tilde: ~
          empty:
          quote: 'say "hi"\'
          list: [1, two, {three: 3}]
          "key with space": "tab\there"
      - name: g
    routes: [{direct_response: {status: 200}}]
)");
  INFO(all_errors(r));
  REQUIRE(r.config);
  const auto& f = r.config->listeners[0].filters;
  CHECK(f[0].config_json ==
        R"({"s":"hello","quoted_num":"42","num":42,"neg":-1.5e3,"not_num":"0x1F",)"
        R"("yes_is_string":"yes","t":true,"n":null,"tilde":null,"empty":null,)"
        R"("quote":"say \"hi\"\\","list":[1,"two",{"three":3}],"key with space":"tab\there"})");
  CHECK(f[1].config_json == "null");
  CHECK(f[1].timeout == 5s);
  CHECK(f[1].on_error == FilterErrorMode::fail_closed);
}

TEST_CASE("config: go plugins resolve relative to the config file", "[config]") {
  namespace fs = std::filesystem;
  fs::path dir = fs::temp_directory_path() / ("moe_config_test_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  fs::path file = dir / "moe.yaml";
  {
    std::ofstream out(file);
    out << "go:\n  plugins: [plugins/auth.so, /abs/x.so, ../y.so]\n" << (kMinimal + 1);
  }
  LoadResult r = load_config(file.string());
  INFO(all_errors(r));
  REQUIRE(r.config);
  const auto& p = r.config->go.plugins;
  REQUIRE(p.size() == 3);
  CHECK(p[0] == (dir / "plugins/auth.so").string());
  CHECK(p[1] == "/abs/x.so");
  CHECK(p[2] == (dir.parent_path() / "y.so").string());
  CHECK(r.config->source == file.string());
  fs::remove_all(dir);

  LoadResult missing = load_config((dir / "nope.yaml").string());
  REQUIRE(missing.errors.size() == 1);
  CHECK(missing.errors[0].message.find("cannot open") == 0);
}

TEST_CASE("config: direct_response headers as map or list", "[config]") {
  LoadResult r = load(R"(
listeners:
  - name: a
    address: 127.0.0.1:0
    routes:
      - match: {path: /a}
        direct_response: {status: 302, headers: {Location: /b, X-A: "1"}}
      - match: {path: /b}
        direct_response:
          status: 204
          headers:
            - {name: X-Trace, value: abc}
)");
  INFO(all_errors(r));
  REQUIRE(r.config);
  const auto& a = r.config->listeners[0].routes[0].direct_response->headers;
  REQUIRE(a.size() == 2);
  CHECK(a[0].name == "location");
  CHECK(a[0].value == "/b");
  CHECK(a[1].name == "x-a");
  const auto& b = r.config->listeners[0].routes[1].direct_response->headers;
  REQUIRE(b.size() == 1);
  CHECK(b[0].name == "x-trace");
  CHECK(b[0].value == "abc");
}

TEST_CASE("config: to_json dumps the effective config", "[config][json]") {
  LoadResult r = load(R"(
listeners:
  - name: a
    address: 127.0.0.1:0
    filters: [{name: f, config: {k: v}}]
    routes:
      - match: {prefix: /api}
        cluster: c
clusters:
  - {name: c, endpoints: ["127.0.0.1:9000"]}
)");
  INFO(all_errors(r));
  REQUIRE(r.config);
  std::string j = r.config->to_json();
  INFO(j);
  CHECK(j.rfind(R"({"source":"test.yaml","workers":"auto","drain_timeout":"15s",)", 0) == 0);
  CHECK(j.find(R"("admin":{"address":null,"allowed_hosts":[],"max_connections":64,"max_request_headers":16384,)"
               R"("timeouts":{"request_headers":"10s","idle":"1m"}})") != std::string::npos);
  CHECK(j.find(R"("max_request_headers":61440)") != std::string::npos);
  CHECK(j.find(R"("timeouts":{"request_headers":"10s","idle":"1m","send":"30s"})") != std::string::npos);
  CHECK(j.find(R"("config":{"k":"v"},"timeout":"5s","on_error":"fail_closed")") != std::string::npos);
  CHECK(j.find(R"("match":{"prefix":"/api"},"cluster":"c","timeout":"15s")") != std::string::npos);
  CHECK(j.find(R"("endpoints":["127.0.0.1:9000"],"protocol":"http1","lb":"round_robin")") !=
        std::string::npos);
  CHECK(j.back() == '}');
}

TEST_CASE("config: listeners[].path_normalization", "[config]") {
  {
    LoadResult r = load(kMinimal);
    REQUIRE(r.config);
    const PathNormalization& p = r.config->listeners[0].path_normalization;
    CHECK(p.normalize);
    CHECK(p.merge_slashes);
    CHECK(p.escaped_slashes == EscapedSlashes::reject);
    CHECK(r.config->to_json().find(R"("path_normalization":{"normalize":true,"merge_slashes":true,"escaped_slashes":"reject"})") !=
          std::string::npos);
  }
  for (auto [text, want] : {std::pair{"keep", EscapedSlashes::keep}, {"reject", EscapedSlashes::reject},
                            {"unescape_and_redirect", EscapedSlashes::unescape_and_redirect},
                            {"unescape_and_forward", EscapedSlashes::unescape_and_forward}}) {
    LoadResult r = load(std::string(R"(
listeners:
  - name: a
    address: 127.0.0.1:0
    path_normalization: {normalize: false, merge_slashes: false, escaped_slashes: )") + text + R"(}
    routes:
      - direct_response: {status: 200}
)");
    INFO(all_errors(r));
    REQUIRE(r.config);
    const PathNormalization& p = r.config->listeners[0].path_normalization;
    CHECK(!p.normalize);
    CHECK(!p.merge_slashes);
    CHECK(p.escaped_slashes == want);
  }
  require_error(load(R"(
listeners:
  - name: a
    address: 127.0.0.1:0
    path_normalization: {escaped_slashes: drop}
    routes:
      - direct_response: {status: 200}
)"),
                "listeners[0].path_normalization.escaped_slashes", 4, 43, "allowed: keep, reject");
  require_error(load(R"(
listeners:
  - name: a
    address: 127.0.0.1:0
    path_normalization: {merge: true}
    routes:
      - direct_response: {status: 200}
)"),
                "listeners[0].path_normalization.merge", 4, 26, "unknown key");
}

namespace {

// A listener with one filter whose config block starts on line 8, with
// its members indented for it.
constexpr std::string_view kFilterConfigHead =
    "listeners:\n"
    "  - name: a\n"
    "    address: 127.0.0.1:0\n"
    "    routes: [{direct_response: {status: 200}}]\n"
    "    filters:\n"
    "      - name: f\n"
    "        config:\n";

// A filter config with `levels` anchors, each a list of nine aliases of the
// one before (the first holds nine scalars): 9^levels nodes once expanded.
std::string alias_bomb(int levels) {
  std::string y(kFilterConfigHead);
  y += "          l0: &l0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n";
  for (int i = 1; i < levels; ++i) {
    std::string prev = "*l" + std::to_string(i - 1);
    y += "          l" + std::to_string(i) + ": &l" + std::to_string(i) + " [";
    for (int k = 0; k < 9; ++k) y += (k ? ", " : "") + prev;
    y += "]\n";
  }
  return y;
}

}  // namespace

TEST_CASE("config: a YAML alias bomb fails at the alias that passes the bound", "[config][errors][yaml]") {
  LoadResult r = load_config_text(alias_bomb(9), "bomb.yaml");  // 9^9 nodes expanded
  REQUIRE(r.config == nullptr);
  REQUIRE(r.errors.size() == 1);
  INFO(all_errors(r));
  const ConfigError& e = r.errors[0];
  CHECK(e.message.find("alias expansion over " + std::to_string(kMaxAliasNodes)) != std::string::npos);
  // Anchor li holds 1 + 9 x (li-1's) nodes (l4: 66,430); the aliases of
  // l1..l4 add 74,718 in all, and the first alias of l5 (line 13) passes
  // 100,000.
  CHECK(e.mark.file == "bomb.yaml");
  CHECK(e.mark.line == 13);
  CHECK(e.to_string().rfind("bomb.yaml:13:", 0) == 0);

  // A deeper bomb fails the same way, at the same line: the scan stops
  // there, it never expands the rest.
  LoadResult deeper = load_config_text(alias_bomb(40), "bomb.yaml");
  REQUIRE(deeper.errors.size() == 1);
  CHECK(deeper.errors[0].mark.line == 13);

  // Within the bound, aliases work and expand into the filter's JSON.
  LoadResult small = load_config_text(alias_bomb(3), "small.yaml");
  INFO(all_errors(small));
  REQUIRE(small.config);
  const std::string& json = small.config->listeners[0].filters[0].config_json;
  CHECK(json.size() > 9 * 9 * 9 * 6);
  CHECK(json.rfind(R"({"l0":["lol",)", 0) == 0);
}

TEST_CASE("config: an alias inside its own anchor's node is a clear error, not an endless walk",
          "[config][errors][yaml]") {
  // yaml-cpp registers an anchor when its node opens, so "*l1" inside
  // "&l1 [...]" links the list into itself; the JSON walk of a filter
  // config then never ended (config_fuzz found it, nine levels deep).
  for (const char* body : {"          l1: &l1 [a, *l1]\n",
                           "          l1: &l1 {x: {y: *l1}}\n",
                           "          l0: &l0 [a]\n          l1: &l0 [*l0]\n"}) {  // a redefined anchor too
    INFO(body);
    LoadResult r = load_config_text(std::string(kFilterConfigHead) + body, "cycle.yaml");
    REQUIRE(r.config == nullptr);
    REQUIRE(r.errors.size() == 1);
    CHECK(r.errors[0].message.find("a cycle") != std::string::npos);
    CHECK(r.errors[0].mark.line >= 8);
  }
  // An alias of an earlier, finished anchor is still fine.
  LoadResult ok = load_config_text(std::string(kFilterConfigHead) + "          l0: &l0 [a]\n          l1: [*l0, *l0]\n",
                                   "ok.yaml");
  INFO(all_errors(ok));
  CHECK(ok.config);
}

TEST_CASE("config: alias expansion is bounded in scalar bytes too", "[config][errors][yaml]") {
  // Few nodes, long scalars: 1 MiB repeated 17 times.
  std::string y(kFilterConfigHead);
  y += "          big: &big \"" + std::string(1 << 20, 'x') + "\"\n"
       "          copies: [";
  for (int k = 0; k < 17; ++k) y += (k ? ", " : "") + std::string("*big");
  y += "]\n";
  LoadResult r = load_config_text(y, "bytes.yaml");
  REQUIRE(r.errors.size() == 1);
  CHECK(r.errors[0].message.find("alias expansion over " + std::to_string(kMaxAliasBytes) + " bytes") !=
        std::string::npos);
  CHECK(r.errors[0].mark.line == 9);
}

TEST_CASE("config: deep nesting is a clear error, not a crash or 'bad file'", "[config][errors][yaml]") {
  for (int n : {101, 600, 10'000, 200'000}) {
    INFO(n);
    LoadResult r = load_config_text("a: " + std::string(n, '[') + std::string(n, ']') + "\n", "deep.yaml");
    REQUIRE(r.errors.size() == 1);
    CHECK(r.errors[0].message.find("nesting deeper than " + std::to_string(kMaxYamlDepth)) != std::string::npos);
    CHECK(r.errors[0].mark.line == 1);
    std::string block;  // block maps, one level per line
    for (int i = 0; i < std::min(n, 600); ++i) block += std::string(2 * i, ' ') + "k:\n";
    LoadResult b = load_config_text(block, "deep.yaml");
    REQUIRE(b.errors.size() == 1);
    CHECK(b.errors[0].message.find("nesting deeper than") != std::string::npos);
  }
  // Depth reached through aliases counts: each anchor nests the one before
  // 30 levels deeper.
  std::string chain = "a0: &a0 x\n";
  for (int i = 1; i < 8; ++i) {
    chain += "a" + std::to_string(i) + ": &a" + std::to_string(i) + " " + std::string(30, '[') + "*a" +
             std::to_string(i - 1) + std::string(30, ']') + "\n";
  }
  LoadResult c = load_config_text(chain, "chain.yaml");
  REQUIRE(c.errors.size() == 1);
  CHECK(c.errors[0].message.find("nesting deeper than") != std::string::npos);
  CHECK(c.errors[0].mark.line == 5);

  // Nesting within the bound is fine in a filter config.
  std::string ok =
      "listeners:\n"
      "  - name: a\n"
      "    address: 127.0.0.1:0\n"
      "    routes: [{direct_response: {status: 200}}]\n"
      "    filters:\n"
      "      - name: f\n"
      "        config: {x: " + std::string(80, '[') + std::string(80, ']') + "}\n";
  LoadResult okr = load_config_text(ok, "ok.yaml");
  INFO(all_errors(okr));
  REQUIRE(okr.config);
  CHECK(okr.config->listeners[0].filters[0].config_json == "{\"x\":" + std::string(80, '[') + std::string(80, ']') + "}");
}

TEST_CASE("config: admin limits, timeouts and allowed_hosts", "[config][admin]") {
  LoadResult r = load(R"(
admin:
  address: 127.0.0.1:0
  allowed_hosts: [Admin.Internal, "*"]
  max_connections: 8
  max_request_headers: 4KiB
  timeouts: {request_headers: 500ms, idle: 1s}
listeners:
  - name: a
    address: 127.0.0.1:0
    routes: [{direct_response: {status: 200}}]
)");
  INFO(all_errors(r));
  REQUIRE(r.config);
  const AdminConfig& a = r.config->admin;
  CHECK(a.allowed_hosts == std::vector<std::string>{"admin.internal", "*"});
  CHECK(a.max_connections == 8);
  CHECK(a.max_request_headers == 4096);
  CHECK(a.request_headers_timeout == 500ms);
  CHECK(a.idle_timeout == 1s);

  LoadResult d = load("listeners: [{name: a, address: 127.0.0.1:0, routes: [{direct_response: {status: 200}}]}]\n");
  REQUIRE(d.config);
  CHECK(d.config->admin.max_connections == 64);
  CHECK(d.config->admin.max_request_headers == 16384);
  CHECK(d.config->admin.request_headers_timeout == 10s);
  CHECK(d.config->admin.idle_timeout == 60s);

  LoadResult bad = load(R"(
admin:
  address: 127.0.0.1:0
  allowed_hosts: ["a b"]
  max_connections: 0
  max_request_headers: 100
  timeouts: {idle: 0s, bogus: 1s}
listeners:
  - name: a
    address: 127.0.0.1:0
    routes: [{direct_response: {status: 200}}]
)");
  INFO(all_errors(bad));
  CHECK(find_error(bad, "admin.allowed_hosts[0]"));
  CHECK(find_error(bad, "admin.max_connections"));
  CHECK(find_error(bad, "admin.max_request_headers"));
  CHECK(find_error(bad, "admin.timeouts.idle"));
  CHECK(find_error(bad, "admin.timeouts.bogus"));
}

TEST_CASE("config: looks_secret names", "[config][redact]") {
  for (const char* k : {"password", "db_password", "clientSecret", "client_secret", "api_key", "x-api-key", "apiKey",
                        "privateKey", "token", "access_token", "Authorization", "credentials", "cookie", "passwd",
                        "signing.key", "X-Auth-Token"}) {
    INFO(k);
    CHECK(looks_secret(k));
  }
  for (const char* k : {"key", "max_keys", "keys", "url", "forward_headers", "copy_headers_from_auth", "keyboard",
                        "monkey", "header", "tokens_per_second", "x-request-id", "authority"}) {
    INFO(k);
    CHECK_FALSE(looks_secret(k));
  }
}

TEST_CASE("config: redact_json hides values under secret keys at any depth", "[config][redact]") {
  auto secret = [](std::string_view k) { return looks_secret(k) || k == "custom"; };
  CHECK(redact_json(R"({"url":"http://x","password":"p","n":{"token":{"a":[1,2]},"k":[{"api_key":7}]},"custom":null})",
                    secret) ==
        R"({"url":"http://x","password":"[redacted]","n":{"token":"[redacted]","k":[{"api_key":"[redacted]"}]},"custom":"[redacted]"})");
  CHECK(redact_json(R"(["password",{"s":"a\"}b","secret":"x\"y,}"},true])", secret) ==
        R"(["password",{"s":"a\"}b","secret":"[redacted]"},true])");
  CHECK(redact_json("null", secret) == "null");
  CHECK(redact_json("{}", secret) == "{}");
}

TEST_CASE("config: to_json redacts filter configs and secret header values", "[config][redact][json]") {
  LoadResult r = load(R"(
listeners:
  - name: a
    address: 127.0.0.1:0
    filters:
      - name: f
        config: {user: bob, password: hunter2, extra: shown, mine: hidden}
    routes:
      - match: {headers: [{name: authorization, exact: "Bearer t0k3n"}, {name: x-env, exact: prod}]}
        direct_response: {status: 200, headers: {x-api-key: k3y, x-plain: p1}}
)");
  INFO(all_errors(r));
  REQUIRE(r.config);
  // The filter still gets the real values.
  CHECK(r.config->listeners[0].filters[0].config_json ==
        R"({"user":"bob","password":"hunter2","extra":"shown","mine":"hidden"})");
  std::string j = r.config->to_json([](std::string_view filter) {
    return filter == "f" ? std::vector<std::string>{"mine"} : std::vector<std::string>{};
  });
  INFO(j);
  CHECK(j.find(R"("config":{"user":"bob","password":"[redacted]","extra":"shown","mine":"[redacted]"})") !=
        std::string::npos);
  CHECK(j.find(R"({"name":"authorization","exact":"[redacted]"})") != std::string::npos);
  CHECK(j.find(R"({"name":"x-env","exact":"prod"})") != std::string::npos);
  CHECK(j.find(R"({"name":"x-api-key","value":"[redacted]"})") != std::string::npos);
  CHECK(j.find(R"({"name":"x-plain","value":"p1"})") != std::string::npos);
  for (const char* s : {"hunter2", "t0k3n", "k3y", "hidden"}) CHECK(j.find(s) == std::string::npos);
}

TEST_CASE("config: log.access_log_values", "[config][errors]") {
  const std::string head = "listeners:\n  - name: a\n    address: 127.0.0.1:0\n    routes: [{direct_response: {status: 200}}]\n";
  LoadResult ok = load(head + "log: {access_log_values: [user, tenant.id]}\n");
  INFO(all_errors(ok));
  REQUIRE(ok.config);
  CHECK(ok.config->log.access_log_values == std::vector<std::string>{"user", "tenant.id"});
  CHECK(ok.config->to_json().find(R"("access_log_values":["user","tenant.id"])") != std::string::npos);
  require_error(load(head + "log: {access_log_values: [user, user]}\n"), "log.access_log_values[1]", 5, 33,
                "listed twice");
  require_error(load(head + "log: {access_log_values: [\"a b\"]}\n"), "log.access_log_values[0]", 5, 27,
                "visible ASCII");
  require_error(load(head + "log: {access_log_values: [\"\"]}\n"), "log.access_log_values[0]", 5, 27, "visible ASCII");
  std::string many = "log: {access_log_values: [";
  for (int i = 0; i < 17; i++) many += (i ? ", k" : "k") + std::to_string(i);
  require_error(load(head + many + "]}\n"), "log.access_log_values", 5, 26, "at most 16");
  require_error(load(head + "log: {access_log_values: user}\n"), "log.access_log_values", 5, 26, "list");
}
