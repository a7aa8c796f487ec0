// listeners[].routes[]: match, action (cluster | direct_response), limits.
#include "config/config_parse.h"

namespace moe::config::detail {

namespace {

std::shared_ptr<const re2::RE2> compile_regex(Context& ctx, const YAML::Node& at,
                                              const std::string& key, const std::string& text) {
  RE2::Options opts;
  opts.set_log_errors(false);
  auto re = std::make_shared<const re2::RE2>(text, opts);
  if (!re->ok()) {
    ctx.error(at, key, "invalid regex '" + text + "': " + re->error() + " (RE2 syntax)");
    return nullptr;
  }
  return re;
}

bool valid_header_value(std::string_view v) {
  for (unsigned char c : v) {
    if (c == '\r' || c == '\n' || c == '\0') return false;
  }
  return true;
}

// A header name: a token, stored lower-case (HTTP/2 requires it and the
// matcher compares lower-case names).
std::optional<std::string> header_name(Context& ctx, const YAML::Node& node, const std::string& key) {
  auto s = as_string(ctx, node, key);
  if (!s) return std::nullopt;
  if (!is_http_token(*s)) {
    ctx.error(node, key, "'" + *s + "' is not a valid HTTP header name");
    return std::nullopt;
  }
  return to_lower(*s);
}

std::optional<std::string> path_value(Context& ctx, const YAML::Node& node, const std::string& key) {
  auto s = as_string(ctx, node, key);
  if (!s) return std::nullopt;
  if (s->empty() || s->front() != '/') {
    ctx.error(node, key, "must start with '/', got '" + *s + "'");
    return std::nullopt;
  }
  return s;
}

HeaderMatch parse_header_match(Context& ctx, const YAML::Node& node, const std::string& key) {
  HeaderMatch h;
  MapView m(ctx, node, key, {"name", "exact", "prefix", "regex", "present"});
  if (!m.ok()) return h;
  if (const YAML::Node* n = m.require("name")) {
    if (auto name = header_name(ctx, *n, m.key_of("name"))) h.name = *name;
  }
  int kinds = m.has("exact") + m.has("prefix") + m.has("regex") + m.has("present");
  if (kinds > 1) {
    ctx.error(node, key, "set at most one of 'exact', 'prefix', 'regex', 'present'");
    return h;
  }
  if (const YAML::Node* v = m.find("exact")) {
    h.kind = StringMatchKind::exact;
    if (auto s = as_string(ctx, *v, m.key_of("exact"))) h.value = *s;
  } else if (const YAML::Node* v = m.find("prefix")) {
    h.kind = StringMatchKind::prefix;
    if (auto s = as_string(ctx, *v, m.key_of("prefix"))) h.value = *s;
  } else if (const YAML::Node* v = m.find("regex")) {
    h.kind = StringMatchKind::regex;
    if (auto s = as_string(ctx, *v, m.key_of("regex"))) {
      h.value = *s;
      h.regex = compile_regex(ctx, *v, m.key_of("regex"), *s);
    }
  } else if (const YAML::Node* v = m.find("present")) {
    h.kind = StringMatchKind::present;
    auto b = as_bool(ctx, *v, m.key_of("present"));
    if (b && !*b) {
      ctx.error(*v, m.key_of("present"), "only 'present: true' is supported");
    }
  }
  return h;
}

void parse_host(Context& ctx, const YAML::Node& node, const std::string& key, std::string& out) {
  auto s = as_string(ctx, node, key);
  if (!s) return;
  std::string host = to_lower(*s);
  std::string_view rest = host;
  if (rest.starts_with("*.")) rest.remove_prefix(2);
  bool ok = !rest.empty();
  for (char c : rest) {
    bool good = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.' ||
                c == '_';
    if (!good) ok = false;
  }
  if (!ok) {
    ctx.error(node, key,
              "expected a host name like 'api.example.com' or '*.example.com' (no port), got '" +
                  *s + "'");
    return;
  }
  out = std::move(host);
}

void parse_match(Context& ctx, const YAML::Node& node, const std::string& key, RouteMatch& match) {
  MapView m(ctx, node, key, {"prefix", "path", "regex", "host", "method", "headers"});
  if (!m.ok()) return;
  int paths = m.has("prefix") + m.has("path") + m.has("regex");
  if (paths > 1) {
    ctx.error(node, key, "set at most one of 'prefix', 'path', 'regex'");
  }
  if (const YAML::Node* v = m.find("prefix")) match.prefix = path_value(ctx, *v, m.key_of("prefix"));
  if (const YAML::Node* v = m.find("path")) match.path = path_value(ctx, *v, m.key_of("path"));
  if (const YAML::Node* v = m.find("regex")) {
    if (auto s = as_string(ctx, *v, m.key_of("regex"))) {
      match.regex_text = *s;
      match.regex = compile_regex(ctx, *v, m.key_of("regex"), *s);
    }
  }
  if (const YAML::Node* v = m.find("host")) parse_host(ctx, *v, m.key_of("host"), match.host);
  if (const YAML::Node* v = m.find("method")) {
    if (auto s = as_string(ctx, *v, m.key_of("method"))) {
      if (!is_http_token(*s)) {
        ctx.error(*v, m.key_of("method"), "'" + *s + "' is not a valid HTTP method");
      } else {
        match.method = to_upper(*s);
      }
    }
  }
  if (const YAML::Node* list = m.find("headers")) {
    std::string hkey = m.key_of("headers");
    if (expect_list(ctx, *list, hkey) && list->IsSequence()) {
      size_t i = 0;
      for (auto it = list->begin(); it != list->end(); ++it, ++i) {
        match.headers.push_back(parse_header_match(ctx, *it, index_key(hkey, i)));
      }
    }
  }
}

std::optional<HeaderValue> parse_response_header(Context& ctx, const YAML::Node& name_node,
                                                 const YAML::Node& value_node,
                                                 const std::string& key) {
  auto name = header_name(ctx, name_node, key);
  auto value = as_string(ctx, value_node, key);
  if (!name || !value) return std::nullopt;
  if (!valid_header_value(*value)) {
    ctx.error(value_node, key, "header value must not contain CR, LF or NUL");
    return std::nullopt;
  }
  return HeaderValue{*name, *value};
}

void parse_response_headers(Context& ctx, const YAML::Node& node, const std::string& key,
                            std::vector<HeaderValue>& out) {
  if (node.IsNull()) return;
  if (node.IsMap()) {  // {content-type: text/plain}
    for (auto it = node.begin(); it != node.end(); ++it) {
      const YAML::Node name = it->first;  // copies: it-> yields a short-lived proxy
      const YAML::Node value = it->second;
      std::string k = name.IsScalar() ? child_key(key, name.Scalar()) : key;
      if (auto h = parse_response_header(ctx, name, value, k)) out.push_back(*h);
    }
    return;
  }
  if (node.IsSequence()) {  // [{name: content-type, value: text/plain}]
    size_t i = 0;
    for (auto it = node.begin(); it != node.end(); ++it, ++i) {
      std::string k = index_key(key, i);
      MapView m(ctx, *it, k, {"name", "value"});
      if (!m.ok()) continue;
      const YAML::Node* n = m.require("name");
      const YAML::Node* v = m.require("value");
      if (!n || !v) continue;
      auto name = header_name(ctx, *n, m.key_of("name"));
      auto value = as_string(ctx, *v, m.key_of("value"));
      if (!name || !value) continue;
      if (!valid_header_value(*value)) {
        ctx.error(*v, m.key_of("value"), "header value must not contain CR, LF or NUL");
        continue;
      }
      out.push_back(HeaderValue{*name, *value});
    }
    return;
  }
  ctx.error(node, key, "expected a map of name: value or a list of {name, value}, got " +
                           describe(node));
}

DirectResponse parse_direct_response(Context& ctx, const YAML::Node& node, const std::string& key) {
  DirectResponse r;
  MapView m(ctx, node, key, {"status", "body", "headers"});
  if (!m.ok()) return r;
  m.read_int("status", r.status, 100, 599);
  if (const YAML::Node* b = m.find("body")) {
    if (auto s = as_string(ctx, *b, m.key_of("body"))) r.body = *s;
    if (!r.body.empty() && (r.status < 200 || r.status == 204 || r.status == 304)) {
      ctx.error(*b, m.key_of("body"), "a " + std::to_string(r.status) + " response cannot have a body");
    }
  }
  if (const YAML::Node* h = m.find("headers")) {
    parse_response_headers(ctx, *h, m.key_of("headers"), r.headers);
  }
  return r;
}

Route parse_route(Context& ctx, const YAML::Node& node, const std::string& key,
                  const std::string& default_name) {
  Route r;
  r.name = default_name;
  r.mark = ctx.mark(node);
  MapView m(ctx, node, key,
            {"name", "match", "cluster", "direct_response", "timeout", "prefix_rewrite",
             "max_request_body"});
  if (!m.ok()) return r;
  if (const YAML::Node* n = m.find("name")) {
    if (auto s = as_string(ctx, *n, m.key_of("name"))) {
      if (s->empty()) {
        ctx.error(*n, m.key_of("name"), "must not be empty");
      } else {
        r.name = *s;
      }
    }
  }
  if (const YAML::Node* n = m.find("match")) parse_match(ctx, *n, m.key_of("match"), r.match);

  const YAML::Node* cluster = m.find("cluster");
  const YAML::Node* direct = m.find("direct_response");
  if ((cluster != nullptr) == (direct != nullptr)) {
    ctx.error(node, key,
              cluster ? "set exactly one of 'cluster' or 'direct_response', not both"
                      : "set exactly one of 'cluster' or 'direct_response'");
  }
  if (cluster) {
    if (auto s = as_string(ctx, *cluster, m.key_of("cluster"))) {
      if (s->empty()) ctx.error(*cluster, m.key_of("cluster"), "must name a cluster");
      r.cluster = *s;
    }
  }
  if (direct) r.direct_response = parse_direct_response(ctx, *direct, m.key_of("direct_response"));

  m.read_duration("timeout", r.timeout);
  if (const YAML::Node* p = m.find("prefix_rewrite")) {
    std::string pkey = m.key_of("prefix_rewrite");
    if (auto s = as_string(ctx, *p, pkey)) {
      if (!cluster) {
        ctx.error(*p, pkey, "only allowed on a route with 'cluster'");
      } else if (!m.has("match") || !r.match.prefix) {
        ctx.error(*p, pkey, "needs 'match.prefix' (the part it replaces)");
      } else {
        r.prefix_rewrite = *s;
      }
    }
  }
  if (m.has("max_request_body")) {
    uint64_t v = 0;
    if (m.read_size("max_request_body", v)) r.max_request_body = v;
  }
  return r;
}

}  // namespace

void parse_routes(Context& ctx, const YAML::Node& node, const std::string& key, Listener& l) {
  if (!expect_list(ctx, node, key) || !node.IsSequence()) return;
  size_t i = 0;
  for (auto it = node.begin(); it != node.end(); ++it, ++i) {
    std::string default_name = l.name + "/" + std::to_string(i);
    l.routes.push_back(parse_route(ctx, *it, index_key(key, i), default_name));
    if (!l.routes.back().match.headers.empty()) l.routes_match_headers = true;
  }
}

}  // namespace moe::config::detail
