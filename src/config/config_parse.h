// Private to src/config: the pieces the section parsers share.
//
// A load runs on one thread with one Context. Section parsers never stop at
// the first problem: they report through the Context and keep going, so a
// single run shows every error in the file. Nothing here throws; yaml-cpp
// nodes are only read through MapView and the as_* converters, which never
// touch an undefined node.
#pragma once

#include <yaml-cpp/yaml.h>

#include <initializer_list>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "config/config.h"

namespace moe::config::detail {

// Errors and source positions for one load.
class Context {
 public:
  Context(std::string file, std::string base_dir)
      : file_(std::move(file)), base_dir_(std::move(base_dir)) {}

  const std::string& file() const { return file_; }
  // Directory of the config file ("" when it has none); relative paths in the
  // config are resolved against it.
  const std::string& base_dir() const { return base_dir_; }
  // A path from the file: a relative one is relative to the config file's
  // directory (plugins, certificates), then normalised.
  std::string resolve_path(const std::string& p) const;

  Mark mark(const YAML::Node& node) const;
  void error(const YAML::Node& at, const std::string& key, std::string message);
  void error(Mark at, const std::string& key, std::string message);
  size_t error_count() const { return errors_.size(); }
  std::vector<ConfigError> take_errors();

  // Where each key's value was written, so the cross-reference pass can
  // point at e.g. "listeners[1].name" rather than at the whole listener.
  void remember(const std::string& key, Mark mark) { marks_[key] = std::move(mark); }
  Mark mark_of(const std::string& key, const Mark& fallback) const;

 private:
  std::string file_;
  std::string base_dir_;
  std::vector<ConfigError> errors_;
  std::map<std::string, Mark> marks_;
};

// "key" + "." + name, or just name at the root.
std::string child_key(const std::string& key, std::string_view name);
// "key[i]"
std::string index_key(const std::string& key, size_t i);

// One YAML map checked against its allowed keys. Construction reports a
// node that is not a map (null counts as an empty map), unknown keys (at the
// key itself) and duplicate keys.
class MapView {
 public:
  MapView(Context& ctx, const YAML::Node& node, std::string key,
          std::initializer_list<std::string_view> allowed);

  bool ok() const { return ok_; }
  const YAML::Node& node() const { return node_; }
  const std::string& key() const { return key_; }
  std::string key_of(std::string_view name) const { return child_key(key_, name); }
  Mark mark() const { return ctx_.mark(node_); }

  bool has(std::string_view name) const { return find(name) != nullptr; }
  // The value of `name`, or nullptr when absent.
  const YAML::Node* find(std::string_view name) const;
  // Like find(), but reports "missing required key" at the map.
  const YAML::Node* require(std::string_view name);

  // Typed readers. Absent key: `out` keeps its default, returns true.
  // Bad value: reports at the value, leaves `out`, returns false.
  bool read_string(std::string_view name, std::string& out);
  bool read_bool(std::string_view name, bool& out);
  bool read_int(std::string_view name, int& out, int min, int max);
  bool read_uint32(std::string_view name, uint32_t& out, uint32_t min);
  bool read_duration(std::string_view name, Duration& out);
  bool read_size(std::string_view name, uint64_t& out);
  template <class E>
  bool read_enum(std::string_view name, E& out,
                 std::initializer_list<std::pair<std::string_view, E>> values);

 private:
  struct Entry {
    std::string name;
    YAML::Node value;
  };
  Context& ctx_;
  YAML::Node node_;
  std::string key_;
  std::vector<Entry> entries_;
  bool ok_ = true;
};

// Converters for one scalar node. Each reports at `node` under `key` and
// returns nullopt when the value is the wrong type or out of range.
std::string describe(const YAML::Node& node);  // "a list", "null", "'abc'"
std::optional<std::string> as_string(Context& ctx, const YAML::Node& node, const std::string& key);
std::optional<bool> as_bool(Context& ctx, const YAML::Node& node, const std::string& key);
std::optional<int64_t> as_int(Context& ctx, const YAML::Node& node, const std::string& key,
                              int64_t min, int64_t max);
std::optional<Duration> as_duration(Context& ctx, const YAML::Node& node, const std::string& key);
std::optional<uint64_t> as_size(Context& ctx, const YAML::Node& node, const std::string& key);
// allow_port_zero: listeners may bind port 0; upstream endpoints may not.
std::optional<Address> as_address(Context& ctx, const YAML::Node& node, const std::string& key,
                                  bool allow_port_zero);
// Reports anything that is not a list (null counts as an empty list).
bool expect_list(Context& ctx, const YAML::Node& node, const std::string& key);

// RFC 9110 token (header names, methods).
bool is_http_token(std::string_view s);
std::string to_lower(std::string_view s);
std::string to_upper(std::string_view s);

// JSON text helpers (config_json.cc).
std::string json_quote(std::string_view s);
// Any YAML subtree as compact JSON; reports non-scalar map keys.
std::optional<std::string> yaml_to_json(Context& ctx, const YAML::Node& node, const std::string& key);

// Sections. Each parses one part of the document into `cfg`, reporting
// every problem it finds.
void parse_process_sections(Context& ctx, MapView& root, Config& cfg);  // workers .. go
void parse_listeners(Context& ctx, const YAML::Node& node, const std::string& key, Config& cfg);
void parse_filters(Context& ctx, const YAML::Node& node, const std::string& key, Listener& l);
void parse_routes(Context& ctx, const YAML::Node& node, const std::string& key, Listener& l);
void parse_clusters(Context& ctx, const YAML::Node& node, const std::string& key, Config& cfg);
// After all sections: names that refer to each other, uniqueness.
void cross_reference(Context& ctx, Config& cfg);

template <class E>
bool MapView::read_enum(std::string_view name, E& out,
                        std::initializer_list<std::pair<std::string_view, E>> values) {
  const YAML::Node* v = find(name);
  if (!v) return true;
  std::string key = key_of(name);
  auto s = as_string(ctx_, *v, key);
  if (!s) return false;
  std::string allowed;
  for (const auto& [text, value] : values) {
    if (*s == text) {
      out = value;
      return true;
    }
    if (!allowed.empty()) allowed += ", ";
    allowed += text;
  }
  ctx_.error(*v, key, "unknown value '" + *s + "'; allowed: " + allowed);
  return false;
}

}  // namespace moe::config::detail
