// Typed, validated, immutable configuration.
//
// load_config() turns a YAML file into a Config or a list of errors, each
// naming file:line:col and the key. A Config is built once on the main thread
// and then shared read-only (std::shared_ptr<const Config>) with every worker:
// nothing in it changes after load_config() returns. A reload builds a new one.
#pragma once

#include <sys/socket.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <re2/re2.h>
#include <string>
#include <string_view>
#include <vector>

namespace moe::config {

using Duration = std::chrono::milliseconds;

// Where a value came from, for error messages that point at YAML.
struct Mark {
  std::string file;
  int line = 0;  // 1-based; 0 = unknown
  int col = 0;   // 1-based
};

struct ConfigError {
  Mark mark;
  std::string key;      // dotted path, e.g. "listeners[0].routes[2].cluster"
  std::string message;  // what is wrong and, where possible, what is allowed
  // "file:line:col: key: message"
  std::string to_string() const;
};

// A resolved socket address plus the text it came from.
struct Address {
  std::string text;  // as written: "127.0.0.1:8080", "app.local:9000"
  std::string host;
  uint16_t port = 0;
  sockaddr_storage addr{};  // resolved at load time (hostnames via getaddrinfo)
  socklen_t addr_len = 0;
};

// The admin listener gets the limits of any listener (docs/operations.md,
// "Admin endpoints"): it has no authentication, so what reaches it must be
// cheap to refuse.
struct AdminConfig {
  std::optional<Address> address;  // absent = no admin listener
  // Host header values accepted besides loopback names and addresses and the
  // address the connection came in on (DNS rebinding); lower-case, no port.
  // "*" accepts any.
  std::vector<std::string> allowed_hosts;
  uint32_t max_connections = 64;             // more are accepted and closed at once
  uint64_t max_request_headers = 16 * 1024;  // request line + headers: 431 (a target over 8 KiB: 414)
  Duration request_headers_timeout = std::chrono::seconds(10);  // first byte (or accept) to end of headers
  Duration idle_timeout = std::chrono::seconds(60);             // between requests; a response the client does not read
};

enum class LogFormat { text, json };

struct LogConfig {
  std::string level = "info";       // trace debug info warn error
  std::string access_log = "stdout";  // stdout | off | file path
  LogFormat access_log_format = LogFormat::text;
  // Stream.Set keys written on every access-log line (text: one quoted
  // field each after the fixed ones; json: "values": {key: value|null}).
  std::vector<std::string> access_log_values;
};
inline constexpr size_t kMaxAccessLogValues = 16;

struct GoConfig {
  std::vector<std::string> plugins;  // paths, resolved relative to the config file
  int async_procs = 2;
  int gc_percent = 100;
  uint64_t memory_limit = 0;  // bytes; 0 = none
};

struct Limits {
  uint64_t max_request_headers = 60 * 1024;  // bytes of request line + headers
  uint32_t max_headers = 100;
  uint32_t max_connections = 100000;
  uint64_t max_request_body = 0;  // bytes; 0 = unlimited (a route may override)
};

struct Timeouts {
  Duration request_headers{10000};  // slowloris guard: first byte to end of headers
  Duration idle{60000};             // keep-alive connection with no stream
  Duration send{30000};             // HTTP/2: a stream whose response cannot be sent (client window shut)
};

enum class StringMatchKind { exact, prefix, regex, present };

struct HeaderMatch {
  std::string name;  // lower-case
  StringMatchKind kind = StringMatchKind::present;
  std::string value;
  std::shared_ptr<const re2::RE2> regex;  // set when kind == regex (full match)
};

struct RouteMatch {
  // Exactly one of prefix / path / regex may be set; none = match every path.
  std::optional<std::string> prefix;
  std::optional<std::string> path;
  std::optional<std::string> regex_text;
  // RE2: linear time, no recursion, so a client-chosen path cannot blow the
  // stack or the CPU (std::regex recurses per character). Full match.
  std::shared_ptr<const re2::RE2> regex;
  // Host: "" = any; "api.example.com" exact (case-insensitive, port ignored);
  // "*.example.com" suffix (matches "a.example.com", not "example.com").
  std::string host;
  std::string method;  // "" = any; else exact, upper-case
  std::vector<HeaderMatch> headers;
};

struct HeaderValue {
  std::string name;
  std::string value;
};

struct DirectResponse {
  int status = 200;
  std::string body;
  std::vector<HeaderValue> headers;
};

struct Route {
  std::string name;  // from `name:` or "<listener>/<index>"
  Mark mark;
  RouteMatch match;
  // Action: exactly one of cluster / direct_response.
  std::string cluster;
  int cluster_index = -1;  // index into Config::clusters, set by cross-ref pass
  std::optional<std::string> prefix_rewrite;
  std::optional<DirectResponse> direct_response;
  Duration timeout{15000};  // whole request; 0 = none
  std::optional<uint64_t> max_request_body;  // overrides listener limit; 0 = unlimited
};

enum class FilterErrorMode { fail_closed, fail_open };

struct FilterConfig {
  std::string name;
  Mark mark;
  std::string config_json;  // the `config:` subtree as JSON ("null" when absent)
  Duration timeout{5000};   // async timeout
  FilterErrorMode on_error = FilterErrorMode::fail_closed;
};

// What a listener does to a request's path before the routes see it
// (proxy/path_normalize.h; docs/configuration.md, "path_normalization").
enum class EscapedSlashes { keep, reject, unescape_and_redirect, unescape_and_forward };

struct PathNormalization {
  // RFC 3986: remove_dot_segments, decode %-encoded unreserved characters,
  // upper-case the hex of the other escapes; a backslash becomes "/"; an invalid
  // escape, %00 or a fragment is rejected (400).
  bool normalize = true;
  bool merge_slashes = true;  // "//" becomes "/" (after normalize)
  // %2F and %5C (either case).
  EscapedSlashes escaped_slashes = EscapedSlashes::reject;
};

// listeners[].tls: TLS termination (transport/tls.h builds it; the files
// are read there, at startup, --validate and SIGHUP).
struct TlsCertificate {
  Mark mark;
  std::string cert_chain;   // PEM: the leaf, then its intermediates; absolute
  std::string private_key;  // PEM; absolute
};

// listeners[].tls.client_certificates: mTLS. Every client must present a
// certificate that chains to `ca`; with match_sans, its leaf must carry one
// of those names (URI SANs such as SPIFFE IDs, or DNS SANs), exactly.
struct TlsClientVerify {
  Mark mark;
  std::string ca;  // PEM bundle; absolute
  std::vector<std::string> match_sans;
};

struct ListenerTls {
  Mark mark;
  std::optional<TlsClientVerify> client;
  // The first is the default (a client without SNI, or a name no
  // certificate has); the others are chosen by SNI from their names.
  std::vector<TlsCertificate> certificates;
};

struct Listener {
  std::string name;
  Mark mark;
  Address address;
  bool http2 = false;
  std::optional<ListenerTls> tls;
  Limits limits;
  Timeouts timeouts;
  PathNormalization path_normalization;
  std::vector<FilterConfig> filters;
  std::vector<Route> routes;
  // Some route matches on request headers: a filter's header change can
  // change the route (otherwise only method, path and host can).
  bool routes_match_headers = false;
};

enum class UpstreamProtocol { http1, h2c };
enum class LbPolicy { round_robin, least_request, random };

struct Cluster {
  std::string name;
  Mark mark;
  std::vector<Address> endpoints;
  UpstreamProtocol protocol = UpstreamProtocol::http1;
  LbPolicy lb = LbPolicy::round_robin;
  Duration connect_timeout{1000};
  Duration idle_timeout{60000};  // pooled upstream connection with no stream
  uint32_t max_connections = 1024;  // per worker
  uint32_t max_pending = 1024;      // per worker: streams waiting for a connection
  // While requests wait for a connection, a stream whose client has taken
  // none of its response for this long gives its connection up (reset).
  // 0: never.
  Duration shed_stalled_after{2000};
};

struct Config {
  std::string source;   // path of the file it was loaded from
  int workers = 0;      // 0 = auto (CPU cores)
  Duration drain_timeout{15000};
  AdminConfig admin;
  LogConfig log;
  GoConfig go;
  std::vector<Listener> listeners;
  std::vector<Cluster> clusters;

  // The effective config as JSON, for GET /config_dump, with secrets
  // redacted: the value of every filter-config member whose key
  // looks_secret() or is one of secret_fields(filter name) (the names a Go
  // filter registered with api.SecretFields), and the value of route header
  // matches and direct_response headers whose name looks_secret(), become
  // "[redacted]".
  using SecretFields = std::function<std::vector<std::string>(std::string_view filter)>;
  std::string to_json(const SecretFields& secret_fields = {}) const;
};

struct LoadResult {
  std::shared_ptr<const Config> config;  // null when errors is not empty
  std::vector<ConfigError> errors;
};

// What a YAML document may cost before it is built into a tree (a
// pre-scan of its events refuses it first, file:line:col of the offending
// alias or collection). Aliases share nodes in yaml-cpp's tree, but every
// walk of the tree (the typed parse, a filter config's conversion to JSON)
// expands them: a billion-laughs document of 649 bytes expands to 10^8
// nodes. Generous for any real config; see docs/configuration.md.
inline constexpr uint64_t kMaxAliasNodes = 100'000;       // nodes added by aliases, whole document
inline constexpr uint64_t kMaxAliasBytes = 16ull << 20;   // scalar bytes added by aliases
inline constexpr int kMaxYamlDepth = 100;                 // nested maps/lists, aliases expanded
inline constexpr int kMaxYamlDocuments = 16;

// Parses and validates; resolves hostnames. Never throws. The one entry
// point for startup, --validate and SIGHUP, so all three refuse the same
// files the same way as far as the config goes. (All three then check the
// Go filter configs: startup and --validate through go::start, SIGHUP
// through go::validate, which builds each chain and discards it.)
LoadResult load_config(const std::string& path);
// Same, from text already in memory (`path` is used only in messages).
LoadResult load_config_text(const std::string& text, const std::string& path);

// Unit parsing shared with the command line: "250ms", "1s", "2m", "1h";
// "64KiB", "1MiB", "512", "1GiB". Return nullopt on bad input.
std::optional<Duration> parse_duration(std::string_view text);
std::optional<uint64_t> parse_size(std::string_view text);

// A config key or header name that names a secret: split into words at
// '_', '-', '.' and lower-to-upper case changes, some word is password,
// passwd, pwd, secret, token, credential(s), authorization, cookie,
// passphrase or signature, or the last word is "key" after another word
// (api_key, x-api-key, privateKey; not a bare "key", not "max_keys").
bool looks_secret(std::string_view name);

// Compact JSON (as yaml_to_json writes it) with the value of every object
// member for whose key secret(key) is true replaced by "[redacted]".
std::string redact_json(std::string_view json, const std::function<bool(std::string_view key)>& secret);

// "host:port" or "[v6]:port"; port 0 allowed (ephemeral, for tests).
// Returns nullopt on success (host without brackets), else what is wrong.
std::optional<std::string> split_host_port(std::string_view text, std::string& host, uint16_t& port);

// split_host_port() plus resolution: numeric hosts first, else getaddrinfo
// (blocking; main thread only), preferring an IPv4 result. Fills every field
// of `out`. Returns nullopt on success, else what is wrong.
std::optional<std::string> resolve_address(std::string_view text, Address& out);

// The inverse of parse_duration, in the largest exact unit: "15s", "250ms",
// "2m", "1h", "0s".
std::string format_duration(Duration d);

// The JSON spec of a listener's Go filter chain, as goext's createChain
// reads it: [{"name", "config", "timeout_ms", "on_error"}, ...]. One writer
// for startup, --validate and SIGHUP.
std::string filter_chain_json(const Listener& l);

}  // namespace moe::config
