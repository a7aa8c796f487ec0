// JSON out: filter `config:` subtrees for Go, and Config::to_json() for
// GET /config_dump.
#include <cstdio>

#include "config/config_parse.h"

namespace moe::config::detail {

std::string json_quote(std::string_view s) {
  std::string out;
  out.reserve(s.size() + 2);
  out += '"';
  for (unsigned char c : s) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (c < 0x20 || c == 0x7f) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", c);
          out += buf;
        } else {
          out += static_cast<char>(c);  // UTF-8 passes through
        }
    }
  }
  out += '"';
  return out;
}

namespace {

// A plain (unquoted) YAML scalar that reads as a JSON number.
bool is_json_number(std::string_view s) {
  size_t i = 0;
  auto digits = [&] {
    size_t start = i;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9') ++i;
    return i > start;
  };
  if (i < s.size() && s[i] == '-') ++i;
  if (i < s.size() && s[i] == '0') {
    ++i;
  } else if (!digits()) {
    return false;
  }
  if (i < s.size() && s[i] == '.') {
    ++i;
    if (!digits()) return false;
  }
  if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
    ++i;
    if (i < s.size() && (s[i] == '+' || s[i] == '-')) ++i;
    if (!digits()) return false;
  }
  return i == s.size();
}

std::string scalar_to_json(const YAML::Node& node) {
  const std::string& s = node.Scalar();
  // "?" = plain scalar. Quoted ("!") or explicitly tagged scalars stay strings.
  if (node.Tag() == "?") {
    if (s == "true" || s == "True" || s == "TRUE") return "true";
    if (s == "false" || s == "False" || s == "FALSE") return "false";
    if (s == "null" || s == "Null" || s == "NULL" || s == "~") return "null";
    if (is_json_number(s)) return s;
  }
  return json_quote(s);
}

bool append_json(Context& ctx, const YAML::Node& node, const std::string& key, std::string& out) {
  switch (node.Type()) {
    case YAML::NodeType::Scalar:
      out += scalar_to_json(node);
      return true;
    case YAML::NodeType::Sequence: {
      out += '[';
      size_t i = 0;
      bool ok = true;
      for (auto it = node.begin(); it != node.end(); ++it, ++i) {
        if (i) out += ',';
        ok &= append_json(ctx, *it, index_key(key, i), out);
      }
      out += ']';
      return ok;
    }
    case YAML::NodeType::Map: {
      out += '{';
      bool first = true;
      bool ok = true;
      for (auto it = node.begin(); it != node.end(); ++it) {
        const YAML::Node k = it->first;  // copies: it-> yields a short-lived proxy
        const YAML::Node v = it->second;
        if (!k.IsScalar()) {
          ctx.error(k, key, "map keys must be strings, got " + describe(k));
          ok = false;
          continue;
        }
        if (!first) out += ',';
        first = false;
        out += json_quote(k.Scalar());
        out += ':';
        ok &= append_json(ctx, v, child_key(key, k.Scalar()), out);
      }
      out += '}';
      return ok;
    }
    default:
      out += "null";
      return true;
  }
}

// Compact JSON, commas handled for the caller.
class JsonOut {
 public:
  JsonOut& open(char c) {
    sep();
    s_ += c;
    comma_ = false;
    return *this;
  }
  JsonOut& close(char c) {
    s_ += c;
    comma_ = true;
    return *this;
  }
  JsonOut& key(std::string_view k) {
    sep();
    s_ += json_quote(k);
    s_ += ':';
    comma_ = false;
    return *this;
  }
  JsonOut& str(std::string_view v) { return raw(json_quote(v)); }
  JsonOut& num(int64_t v) { return raw(std::to_string(v)); }
  JsonOut& unum(uint64_t v) { return raw(std::to_string(v)); }
  JsonOut& boolean(bool v) { return raw(v ? "true" : "false"); }
  JsonOut& null() { return raw("null"); }
  JsonOut& dur(Duration d) { return str(format_duration(d)); }
  JsonOut& raw(std::string_view v) {
    sep();
    s_ += v;
    comma_ = true;
    return *this;
  }
  std::string take() { return std::move(s_); }

 private:
  void sep() {
    if (comma_) s_ += ',';
  }
  std::string s_;
  bool comma_ = false;
};

void write_address(JsonOut& j, const Address& a) { j.str(a.text); }

const char* kind_name(StringMatchKind k) {
  switch (k) {
    case StringMatchKind::exact: return "exact";
    case StringMatchKind::prefix: return "prefix";
    case StringMatchKind::regex: return "regex";
    case StringMatchKind::present: return "present";
  }
  return "present";
}

const std::string& shown(const std::string& header, const std::string& value) {
  static const std::string redacted = "[redacted]";
  return looks_secret(header) ? redacted : value;
}

void write_route(JsonOut& j, const Route& r) {
  j.open('{');
  j.key("name").str(r.name);
  j.key("match").open('{');
  if (r.match.prefix) j.key("prefix").str(*r.match.prefix);
  if (r.match.path) j.key("path").str(*r.match.path);
  if (r.match.regex_text) j.key("regex").str(*r.match.regex_text);
  if (!r.match.host.empty()) j.key("host").str(r.match.host);
  if (!r.match.method.empty()) j.key("method").str(r.match.method);
  if (!r.match.headers.empty()) {
    j.key("headers").open('[');
    for (const HeaderMatch& h : r.match.headers) {
      j.open('{').key("name").str(h.name);
      if (h.kind == StringMatchKind::present) {
        j.key("present").boolean(true);
      } else {
        j.key(kind_name(h.kind)).str(shown(h.name, h.value));
      }
      j.close('}');
    }
    j.close(']');
  }
  j.close('}');
  if (r.direct_response) {
    const DirectResponse& d = *r.direct_response;
    j.key("direct_response").open('{');
    j.key("status").num(d.status).key("body").str(d.body);
    j.key("headers").open('[');
    for (const HeaderValue& h : d.headers) {
      j.open('{').key("name").str(h.name).key("value").str(shown(h.name, h.value)).close('}');
    }
    j.close(']').close('}');
  } else {
    j.key("cluster").str(r.cluster);
    if (r.prefix_rewrite) j.key("prefix_rewrite").str(*r.prefix_rewrite);
  }
  j.key("timeout").dur(r.timeout);
  j.key("max_request_body");
  if (r.max_request_body) {
    j.unum(*r.max_request_body);
  } else {
    j.null();
  }
  j.close('}');
}

const char* escaped_slashes_name(EscapedSlashes e) {
  switch (e) {
    case EscapedSlashes::keep: return "keep";
    case EscapedSlashes::reject: return "reject";
    case EscapedSlashes::unescape_and_redirect: return "unescape_and_redirect";
    case EscapedSlashes::unescape_and_forward: return "unescape_and_forward";
  }
  return "reject";
}

void write_listener(JsonOut& j, const Listener& l, const Config::SecretFields& secret_fields) {
  j.open('{');
  j.key("name").str(l.name);
  j.key("address");
  write_address(j, l.address);
  j.key("http2").boolean(l.http2);
  if (l.tls) {
    // File names only: a key's contents never leave the process.
    j.key("tls").open('{');
    j.key("certificates").open('[');
    for (const TlsCertificate& c : l.tls->certificates) {
      j.open('{');
      j.key("cert_chain").str(c.cert_chain);
      j.key("private_key").str(c.private_key);
      j.close('}');
    }
    j.close(']');
    if (l.tls->client) {
      j.key("client_certificates").open('{');
      j.key("ca").str(l.tls->client->ca);
      j.key("match_sans").open('[');
      for (const std::string& s : l.tls->client->match_sans) j.str(s);
      j.close(']');
      j.close('}');
    }
    j.close('}');
  }
  j.key("limits").open('{');
  j.key("max_request_headers").unum(l.limits.max_request_headers);
  j.key("max_headers").unum(l.limits.max_headers);
  j.key("max_connections").unum(l.limits.max_connections);
  j.key("max_request_body").unum(l.limits.max_request_body);
  j.close('}');
  j.key("timeouts").open('{');
  j.key("request_headers").dur(l.timeouts.request_headers);
  j.key("idle").dur(l.timeouts.idle);
  j.key("send").dur(l.timeouts.send);
  j.close('}');
  j.key("path_normalization").open('{');
  j.key("normalize").boolean(l.path_normalization.normalize);
  j.key("merge_slashes").boolean(l.path_normalization.merge_slashes);
  j.key("escaped_slashes").str(escaped_slashes_name(l.path_normalization.escaped_slashes));
  j.close('}');
  j.key("filters").open('[');
  for (const FilterConfig& f : l.filters) {
    j.open('{');
    j.key("name").str(f.name);
    std::vector<std::string> extra;
    if (secret_fields) extra = secret_fields(f.name);
    auto secret = [&extra](std::string_view key) {
      if (looks_secret(key)) return true;
      for (const std::string& e : extra)
        if (e == key) return true;
      return false;
    };
    j.key("config").raw(f.config_json.empty() ? "null" : redact_json(f.config_json, secret));
    j.key("timeout").dur(f.timeout);
    j.key("on_error").str(f.on_error == FilterErrorMode::fail_open ? "fail_open" : "fail_closed");
    j.close('}');
  }
  j.close(']');
  j.key("routes").open('[');
  for (const Route& r : l.routes) write_route(j, r);
  j.close(']');
  j.close('}');
}

const char* lb_name(LbPolicy p) {
  switch (p) {
    case LbPolicy::round_robin: return "round_robin";
    case LbPolicy::least_request: return "least_request";
    case LbPolicy::random: return "random";
  }
  return "round_robin";
}

void write_cluster(JsonOut& j, const Cluster& c) {
  j.open('{');
  j.key("name").str(c.name);
  j.key("endpoints").open('[');
  for (const Address& a : c.endpoints) write_address(j, a);
  j.close(']');
  j.key("protocol").str(c.protocol == UpstreamProtocol::h2c ? "h2c" : "http1");
  j.key("lb").str(lb_name(c.lb));
  j.key("connect_timeout").dur(c.connect_timeout);
  j.key("idle_timeout").dur(c.idle_timeout);
  j.key("max_connections").unum(c.max_connections);
  j.key("max_pending").unum(c.max_pending);
  j.key("shed_stalled_after").dur(c.shed_stalled_after);
  j.close('}');
}

}  // namespace

std::optional<std::string> yaml_to_json(Context& ctx, const YAML::Node& node, const std::string& key) {
  std::string out;
  if (!append_json(ctx, node, key, out)) return std::nullopt;
  return out;
}

}  // namespace moe::config::detail

namespace moe::config {

namespace {

// Words of a name: split at '_', '-', '.', ' ' and at a lower-to-upper change.
std::vector<std::string> words(std::string_view name) {
  std::vector<std::string> out(1);
  for (size_t i = 0; i < name.size(); ++i) {
    char c = name[i];
    if (c == '_' || c == '-' || c == '.' || c == ' ') {
      if (!out.back().empty()) out.emplace_back();
      continue;
    }
    bool upper = c >= 'A' && c <= 'Z';
    if (upper && i > 0 && name[i - 1] >= 'a' && name[i - 1] <= 'z' && !out.back().empty()) out.emplace_back();
    out.back() += upper ? static_cast<char>(c - 'A' + 'a') : c;
  }
  if (out.back().empty()) out.pop_back();
  return out;
}

// Parses one JSON value of compact JSON at j[i]; appends it to out unless
// out is null. Returns the index after it. Input is moe's own output
// (yaml_to_json), so it is well-formed; a malformed tail is copied as is.
size_t copy_json_value(std::string_view j, size_t i, std::string* out,
                       const std::function<bool(std::string_view)>& secret) {
  auto emit = [&](size_t from, size_t to) {
    if (out) out->append(j.substr(from, to - from));
  };
  auto string_end = [&](size_t k) {  // k at the opening quote
    for (++k; k < j.size(); ++k) {
      if (j[k] == '\\') {
        ++k;
      } else if (j[k] == '"') {
        return k + 1;
      }
    }
    return j.size();
  };
  if (i >= j.size()) return i;
  char c = j[i];
  if (c == '"') {
    size_t e = string_end(i);
    emit(i, e);
    return e;
  }
  if (c == '[' || c == '{') {
    const char close = c == '[' ? ']' : '}';
    emit(i, i + 1);
    ++i;
    while (i < j.size() && j[i] != close) {
      if (j[i] == ',') {
        emit(i, i + 1);
        ++i;
        continue;
      }
      if (c == '{') {
        size_t ke = string_end(i);
        std::string_view key = j.substr(i + 1, ke >= i + 2 ? ke - i - 2 : 0);
        emit(i, ke);
        i = ke;
        if (i < j.size() && j[i] == ':') {
          emit(i, i + 1);
          ++i;
        }
        if (secret(key)) {
          if (out) *out += "\"[redacted]\"";
          i = copy_json_value(j, i, nullptr, secret);
          continue;
        }
      }
      size_t next = copy_json_value(j, i, out, secret);
      if (next == i) {  // malformed: copy the rest
        emit(i, j.size());
        return j.size();
      }
      i = next;
    }
    if (i < j.size()) {
      emit(i, i + 1);
      ++i;
    }
    return i;
  }
  size_t e = i;  // number, true, false, null
  while (e < j.size() && j[e] != ',' && j[e] != ']' && j[e] != '}') ++e;
  emit(i, e);
  return e;
}

}  // namespace

bool looks_secret(std::string_view name) {
  static constexpr std::string_view kWords[] = {"password", "passwd",        "pwd",    "secret",    "token",
                                                "credential", "credentials", "authorization", "cookie",
                                                "passphrase", "signature"};
  std::vector<std::string> w = words(name);
  for (const std::string& x : w)
    for (std::string_view k : kWords)
      if (x == k) return true;
  return w.size() >= 2 && w.back() == "key";
}

std::string redact_json(std::string_view json, const std::function<bool(std::string_view key)>& secret) {
  std::string out;
  out.reserve(json.size());
  copy_json_value(json, 0, &out, secret);
  return out;
}

std::string Config::to_json(const SecretFields& secret_fields) const {
  detail::JsonOut j;
  j.open('{');
  j.key("source").str(source);
  j.key("workers");
  if (workers == 0) {
    j.str("auto");
  } else {
    j.num(workers);
  }
  j.key("drain_timeout").dur(drain_timeout);
  j.key("admin").open('{').key("address");
  if (admin.address) {
    detail::write_address(j, *admin.address);
  } else {
    j.null();
  }
  j.key("allowed_hosts").open('[');
  for (const std::string& h : admin.allowed_hosts) j.str(h);
  j.close(']');
  j.key("max_connections").unum(admin.max_connections);
  j.key("max_request_headers").unum(admin.max_request_headers);
  j.key("timeouts").open('{');
  j.key("request_headers").dur(admin.request_headers_timeout);
  j.key("idle").dur(admin.idle_timeout);
  j.close('}');
  j.close('}');
  j.key("log").open('{');
  j.key("level").str(log.level);
  j.key("access_log").str(log.access_log);
  j.key("access_log_format").str(log.access_log_format == LogFormat::json ? "json" : "text");
  j.key("access_log_values").open('[');
  for (const std::string& v : log.access_log_values) j.str(v);
  j.close(']');
  j.close('}');
  j.key("go").open('{');
  j.key("plugins").open('[');
  for (const std::string& p : go.plugins) j.str(p);
  j.close(']');
  j.key("async_procs").num(go.async_procs);
  j.key("gc_percent").num(go.gc_percent);
  j.key("memory_limit").unum(go.memory_limit);
  j.close('}');
  j.key("listeners").open('[');
  for (const Listener& l : listeners) detail::write_listener(j, l, secret_fields);
  j.close(']');
  j.key("clusters").open('[');
  for (const Cluster& c : clusters) detail::write_cluster(j, c);
  j.close(']');
  j.close('}');
  return j.take();
}

std::string filter_chain_json(const Listener& l) {
  detail::JsonOut j;
  j.open('[');
  for (const FilterConfig& f : l.filters) {
    j.open('{');
    j.key("name").str(f.name);
    j.key("config").raw(f.config_json);  // written by yaml_to_json: well-formed
    j.key("timeout_ms").num(f.timeout.count());
    j.key("on_error").str(f.on_error == FilterErrorMode::fail_open ? "fail_open" : "fail_closed");
    j.close('}');
  }
  j.close(']');
  return j.take();
}

}  // namespace moe::config
