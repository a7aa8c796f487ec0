// Error collection, map key checking and scalar converters shared by every
// section parser.
#include <algorithm>
#include <charconv>
#include <climits>

#include <filesystem>

#include "config/config_parse.h"

namespace moe::config {

std::string ConfigError::to_string() const {
  std::string out = mark.file;
  if (mark.line > 0) out += ":" + std::to_string(mark.line) + ":" + std::to_string(mark.col);
  out += ": ";
  // A YAML syntax error has no key; "file:3:5: : msg" would read badly.
  if (!key.empty()) out += key + ": ";
  out += message;
  return out;
}

}  // namespace moe::config

namespace moe::config::detail {

std::string Context::resolve_path(const std::string& p) const {
  std::filesystem::path f(p);
  if (f.is_relative() && !base_dir_.empty()) f = std::filesystem::path(base_dir_) / f;
  return f.lexically_normal().string();
}

Mark Context::mark(const YAML::Node& node) const {
  YAML::Mark m = node.Mark();
  if (m.is_null()) return Mark{file_, 0, 0};
  return Mark{file_, m.line + 1, m.column + 1};
}

void Context::error(const YAML::Node& at, const std::string& key, std::string message) {
  error(mark(at), key, std::move(message));
}

void Context::error(Mark at, const std::string& key, std::string message) {
  errors_.push_back(ConfigError{std::move(at), key, std::move(message)});
}

std::vector<ConfigError> Context::take_errors() {
  // Sections and the cross-reference pass report in their own order; a reader
  // wants the file's order. Stable, so errors at one spot keep their order.
  std::stable_sort(errors_.begin(), errors_.end(), [](const ConfigError& a, const ConfigError& b) {
    return std::pair(a.mark.line, a.mark.col) < std::pair(b.mark.line, b.mark.col);
  });
  return std::move(errors_);
}

Mark Context::mark_of(const std::string& key, const Mark& fallback) const {
  auto it = marks_.find(key);
  return it == marks_.end() ? fallback : it->second;
}

std::string child_key(const std::string& key, std::string_view name) {
  if (key.empty()) return std::string(name);
  std::string out = key;
  out += '.';
  out += name;
  return out;
}

std::string index_key(const std::string& key, size_t i) {
  return key + "[" + std::to_string(i) + "]";
}

std::string describe(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Null:
      return "null";
    case YAML::NodeType::Sequence:
      return "a list";
    case YAML::NodeType::Map:
      return "a map";
    case YAML::NodeType::Scalar:
      return "'" + node.Scalar() + "'";
    default:
      return "nothing";
  }
}

// MapView

MapView::MapView(Context& ctx, const YAML::Node& node, std::string key,
                 std::initializer_list<std::string_view> allowed)
    : ctx_(ctx), node_(node), key_(std::move(key)) {
  if (node.IsNull()) return;  // `limits:` with nothing under it = all defaults
  if (!node.IsMap()) {
    ctx_.error(node, key_, "expected a map, got " + describe(node));
    ok_ = false;
    return;
  }
  for (auto it = node.begin(); it != node.end(); ++it) {
    // Copies: it-> returns a proxy that dies at the end of the expression.
    const YAML::Node k = it->first;
    const YAML::Node v = it->second;
    if (!k.IsScalar()) {
      ctx_.error(k, key_, "map keys must be plain names, got " + describe(k));
      continue;
    }
    const std::string name = k.Scalar();
    std::string full = child_key(key_, name);
    if (std::find(allowed.begin(), allowed.end(), name) == allowed.end()) {
      std::string list;
      for (std::string_view a : allowed) {
        if (!list.empty()) list += ", ";
        list += a;
      }
      ctx_.error(k, full, "unknown key '" + name + "'; allowed: " + list);
      continue;
    }
    if (find(name)) {
      ctx_.error(k, full, "duplicate key '" + name + "'");
      continue;
    }
    ctx_.remember(full, ctx_.mark(v));
    entries_.push_back(Entry{name, v});
  }
}

const YAML::Node* MapView::find(std::string_view name) const {
  for (const Entry& e : entries_) {
    if (e.name == name) return &e.value;
  }
  return nullptr;
}

const YAML::Node* MapView::require(std::string_view name) {
  const YAML::Node* v = find(name);
  // A map that was not a map already has its error; don't pile on.
  if (!v && ok_) ctx_.error(node_, key_of(name), "missing required key '" + std::string(name) + "'");
  return v;
}

bool MapView::read_string(std::string_view name, std::string& out) {
  const YAML::Node* v = find(name);
  if (!v) return true;
  auto s = as_string(ctx_, *v, key_of(name));
  if (!s) return false;
  out = std::move(*s);
  return true;
}

bool MapView::read_bool(std::string_view name, bool& out) {
  const YAML::Node* v = find(name);
  if (!v) return true;
  auto b = as_bool(ctx_, *v, key_of(name));
  if (!b) return false;
  out = *b;
  return true;
}

bool MapView::read_int(std::string_view name, int& out, int min, int max) {
  const YAML::Node* v = find(name);
  if (!v) return true;
  auto n = as_int(ctx_, *v, key_of(name), min, max);
  if (!n) return false;
  out = static_cast<int>(*n);
  return true;
}

bool MapView::read_uint32(std::string_view name, uint32_t& out, uint32_t min) {
  const YAML::Node* v = find(name);
  if (!v) return true;
  auto n = as_int(ctx_, *v, key_of(name), min, UINT32_MAX);
  if (!n) return false;
  out = static_cast<uint32_t>(*n);
  return true;
}

bool MapView::read_duration(std::string_view name, Duration& out) {
  const YAML::Node* v = find(name);
  if (!v) return true;
  auto d = as_duration(ctx_, *v, key_of(name));
  if (!d) return false;
  out = *d;
  return true;
}

bool MapView::read_size(std::string_view name, uint64_t& out) {
  const YAML::Node* v = find(name);
  if (!v) return true;
  auto n = as_size(ctx_, *v, key_of(name));
  if (!n) return false;
  out = *n;
  return true;
}

// Scalar converters

std::optional<std::string> as_string(Context& ctx, const YAML::Node& node, const std::string& key) {
  if (!node.IsScalar()) {
    ctx.error(node, key, "expected a string, got " + describe(node));
    return std::nullopt;
  }
  return node.Scalar();
}

std::optional<bool> as_bool(Context& ctx, const YAML::Node& node, const std::string& key) {
  if (node.IsScalar()) {
    const std::string& s = node.Scalar();
    // YAML 1.2 core schema only: yes/no/on/off are strings, not booleans.
    if (s == "true" || s == "True" || s == "TRUE") return true;
    if (s == "false" || s == "False" || s == "FALSE") return false;
  }
  ctx.error(node, key, "expected true or false, got " + describe(node));
  return std::nullopt;
}

std::optional<int64_t> as_int(Context& ctx, const YAML::Node& node, const std::string& key,
                              int64_t min, int64_t max) {
  if (!node.IsScalar()) {
    ctx.error(node, key, "expected an integer, got " + describe(node));
    return std::nullopt;
  }
  const std::string& s = node.Scalar();
  int64_t v = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (s.empty() || ec == std::errc::invalid_argument || end != s.data() + s.size()) {
    ctx.error(node, key, "expected an integer, got " + describe(node));
    return std::nullopt;
  }
  if (ec == std::errc::result_out_of_range || v < min || v > max) {
    std::string range = max >= INT32_MAX
                            ? "must be at least " + std::to_string(min)
                            : "must be between " + std::to_string(min) + " and " + std::to_string(max);
    ctx.error(node, key, range + ", got " + s);
    return std::nullopt;
  }
  return v;
}

std::optional<Duration> as_duration(Context& ctx, const YAML::Node& node, const std::string& key) {
  if (node.IsScalar()) {
    if (auto d = parse_duration(node.Scalar())) return d;
  }
  ctx.error(node, key,
            "expected a duration like 250ms, 1s, 1.5s, 2m or 1h (or 0), got " + describe(node));
  return std::nullopt;
}

std::optional<uint64_t> as_size(Context& ctx, const YAML::Node& node, const std::string& key) {
  if (node.IsScalar()) {
    if (auto n = parse_size(node.Scalar())) return n;
  }
  ctx.error(node, key,
            "expected a size in bytes or with KiB, MiB or GiB (e.g. 64KiB), got " +
                describe(node));
  return std::nullopt;
}

std::optional<Address> as_address(Context& ctx, const YAML::Node& node, const std::string& key,
                                  bool allow_port_zero) {
  auto text = as_string(ctx, node, key);
  if (!text) return std::nullopt;
  Address addr;
  if (auto err = resolve_address(*text, addr)) {
    ctx.error(node, key, *err);
    return std::nullopt;
  }
  if (addr.port == 0 && !allow_port_zero) {
    ctx.error(node, key, "port 0 is only allowed for listeners, got '" + *text + "'");
    return std::nullopt;
  }
  return addr;
}

bool expect_list(Context& ctx, const YAML::Node& node, const std::string& key) {
  if (node.IsNull() || node.IsSequence()) return true;
  ctx.error(node, key, "expected a list, got " + describe(node));
  return false;
}

}  // namespace moe::config::detail
