// listeners[]: address, http2, limits, timeouts, path_normalization, filters. Routes are in
// config_route.cc.
#include "config/config_parse.h"

namespace moe::config::detail {

namespace {

void parse_limits(Context& ctx, const YAML::Node& node, const std::string& key, Limits& limits) {
  MapView m(ctx, node, key,
            {"max_request_headers", "max_headers", "max_connections", "max_request_body"});
  if (m.read_size("max_request_headers", limits.max_request_headers) &&
      limits.max_request_headers == 0) {
    ctx.error(*m.find("max_request_headers"), m.key_of("max_request_headers"),
              "must be greater than 0");
  }
  m.read_uint32("max_headers", limits.max_headers, 1);
  m.read_uint32("max_connections", limits.max_connections, 1);
  m.read_size("max_request_body", limits.max_request_body);
}

void parse_timeouts(Context& ctx, const YAML::Node& node, const std::string& key, Timeouts& t) {
  MapView m(ctx, node, key, {"request_headers", "idle", "send"});
  m.read_duration("request_headers", t.request_headers);
  m.read_duration("idle", t.idle);
  m.read_duration("send", t.send);
}

void parse_path_normalization(Context& ctx, const YAML::Node& node, const std::string& key,
                              PathNormalization& p) {
  MapView m(ctx, node, key, {"normalize", "merge_slashes", "escaped_slashes"});
  m.read_bool("normalize", p.normalize);
  m.read_bool("merge_slashes", p.merge_slashes);
  m.read_enum("escaped_slashes", p.escaped_slashes,
              {{"keep", EscapedSlashes::keep},
               {"reject", EscapedSlashes::reject},
               {"unescape_and_redirect", EscapedSlashes::unescape_and_redirect},
               {"unescape_and_forward", EscapedSlashes::unescape_and_forward}});
}

ListenerTls parse_tls(Context& ctx, const YAML::Node& node, const std::string& key) {
  ListenerTls t;
  t.mark = ctx.mark(node);
  MapView m(ctx, node, key, {"certificates", "client_certificates"});
  if (!m.ok()) return t;
  if (const YAML::Node* n = m.find("client_certificates")) {
    TlsClientVerify v;
    v.mark = ctx.mark(*n);
    MapView cm(ctx, *n, m.key_of("client_certificates"), {"ca", "match_sans"});
    if (cm.ok()) {
      if (const YAML::Node* c = cm.require("ca")) {
        if (auto s = as_string(ctx, *c, cm.key_of("ca"))) {
          if (s->empty()) ctx.error(*c, cm.key_of("ca"), "must not be empty");
          else v.ca = ctx.resolve_path(*s);
        }
      }
      if (const YAML::Node* l = cm.find("match_sans")) {
        const std::string lk = cm.key_of("match_sans");
        if (expect_list(ctx, *l, lk) && l->IsSequence()) {
          size_t i = 0;
          for (auto it = l->begin(); it != l->end(); ++it, ++i) {
            if (auto s = as_string(ctx, *it, index_key(lk, i))) {
              if (s->empty()) ctx.error(*it, index_key(lk, i), "must not be empty");
              else v.match_sans.push_back(*s);
            }
          }
        }
      }
    }
    t.client = std::move(v);
  }
  const YAML::Node* list = m.require("certificates");
  if (!list) return t;
  const std::string lkey = m.key_of("certificates");
  if (!expect_list(ctx, *list, lkey)) return t;
  if (!list->IsSequence() || list->size() == 0) {
    ctx.error(*list, lkey, "needs at least one certificate ({cert_chain: FILE, private_key: FILE})");
    return t;
  }
  size_t i = 0;
  for (auto it = list->begin(); it != list->end(); ++it, ++i) {
    TlsCertificate c;
    c.mark = ctx.mark(*it);
    MapView cm(ctx, *it, index_key(lkey, i), {"cert_chain", "private_key"});
    if (!cm.ok()) continue;
    for (auto [name, out] : {std::pair{"cert_chain", &c.cert_chain}, std::pair{"private_key", &c.private_key}}) {
      if (const YAML::Node* n = cm.require(name)) {
        if (auto s = as_string(ctx, *n, cm.key_of(name))) {
          if (s->empty()) ctx.error(*n, cm.key_of(name), "must not be empty");
          else *out = ctx.resolve_path(*s);
        }
      }
    }
    t.certificates.push_back(std::move(c));
  }
  return t;
}

Listener parse_listener(Context& ctx, const YAML::Node& node, const std::string& key) {
  Listener l;
  l.mark = ctx.mark(node);
  MapView m(ctx, node, key,
            {"name", "address", "http2", "tls", "limits", "timeouts", "path_normalization", "filters", "routes"});
  if (!m.ok()) return l;
  if (const YAML::Node* n = m.require("name")) {
    if (auto s = as_string(ctx, *n, m.key_of("name"))) {
      if (s->empty()) ctx.error(*n, m.key_of("name"), "must not be empty");
      l.name = *s;
    }
  }
  if (const YAML::Node* a = m.require("address")) {
    if (auto addr = as_address(ctx, *a, m.key_of("address"), /*allow_port_zero=*/true)) {
      l.address = std::move(*addr);
    }
  }
  m.read_bool("http2", l.http2);
  if (const YAML::Node* n = m.find("tls")) l.tls = parse_tls(ctx, *n, m.key_of("tls"));
  if (const YAML::Node* n = m.find("limits")) parse_limits(ctx, *n, m.key_of("limits"), l.limits);
  if (const YAML::Node* n = m.find("timeouts")) {
    parse_timeouts(ctx, *n, m.key_of("timeouts"), l.timeouts);
  }
  if (const YAML::Node* n = m.find("path_normalization")) {
    parse_path_normalization(ctx, *n, m.key_of("path_normalization"), l.path_normalization);
  }
  if (const YAML::Node* n = m.find("filters")) parse_filters(ctx, *n, m.key_of("filters"), l);
  const YAML::Node* routes = m.find("routes");
  if (!routes || routes->IsNull() || (routes->IsSequence() && routes->size() == 0)) {
    ctx.error(routes ? *routes : node, m.key_of("routes"), "a listener needs at least one route");
  } else {
    parse_routes(ctx, *routes, m.key_of("routes"), l);
  }
  return l;
}

FilterConfig parse_filter(Context& ctx, const YAML::Node& node, const std::string& key) {
  FilterConfig f;
  f.mark = ctx.mark(node);
  f.config_json = "null";
  MapView m(ctx, node, key, {"name", "config", "timeout", "on_error"});
  if (!m.ok()) return f;
  if (const YAML::Node* n = m.require("name")) {
    if (auto s = as_string(ctx, *n, m.key_of("name"))) {
      if (s->empty()) ctx.error(*n, m.key_of("name"), "must not be empty");
      f.name = *s;
    }
  }
  if (const YAML::Node* c = m.find("config")) {
    if (auto json = yaml_to_json(ctx, *c, m.key_of("config"))) f.config_json = std::move(*json);
  }
  m.read_duration("timeout", f.timeout);
  m.read_enum("on_error", f.on_error,
              {{"fail_closed", FilterErrorMode::fail_closed},
               {"fail_open", FilterErrorMode::fail_open}});
  return f;
}

}  // namespace

void parse_listeners(Context& ctx, const YAML::Node& node, const std::string& key, Config& cfg) {
  if (!expect_list(ctx, node, key) || !node.IsSequence()) return;
  size_t i = 0;
  for (auto it = node.begin(); it != node.end(); ++it, ++i) {
    // Pushed even when invalid, so listeners[i] in the config is item i of
    // the YAML list and the cross-reference pass can name it.
    cfg.listeners.push_back(parse_listener(ctx, *it, index_key(key, i)));
  }
}

void parse_filters(Context& ctx, const YAML::Node& node, const std::string& key, Listener& l) {
  if (!expect_list(ctx, node, key) || !node.IsSequence()) return;
  size_t i = 0;
  for (auto it = node.begin(); it != node.end(); ++it, ++i) {
    l.filters.push_back(parse_filter(ctx, *it, index_key(key, i)));
  }
}

}  // namespace moe::config::detail
