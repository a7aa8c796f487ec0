// Entry points: file or text to a validated Config, never throwing.
#include <yaml-cpp/depthguard.h>
#include <yaml-cpp/eventhandler.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <unordered_map>

#include "config/config_parse.h"

namespace moe::config {

namespace {

using detail::Context;
using detail::MapView;

void parse_document(Context& ctx, const YAML::Node& doc, Config& cfg) {
  MapView root(ctx, doc, "",
               {"workers", "drain_timeout", "admin", "log", "go", "listeners", "clusters"});
  if (!root.ok()) return;
  detail::parse_process_sections(ctx, root, cfg);
  // Clusters first so nothing depends on order; routes refer to them by name
  // and the cross-reference pass links them.
  if (const YAML::Node* n = root.find("clusters")) {
    detail::parse_clusters(ctx, *n, "clusters", cfg);
  }
  const YAML::Node* listeners = root.find("listeners");
  if (!listeners || (listeners->IsSequence() && listeners->size() == 0) || listeners->IsNull()) {
    Mark at = listeners ? ctx.mark(*listeners) : root.mark();
    if (at.line == 0) at = Mark{ctx.file(), 1, 1};
    ctx.error(at, "listeners", "at least one listener is required");
  } else {
    detail::parse_listeners(ctx, *listeners, "listeners", cfg);
  }
  detail::cross_reference(ctx, cfg);
}

}  // namespace

namespace {

// The pre-scan: one pass over the parser's events, before any tree is
// built, that refuses what would make the later walks explode.
//
// - Documents. yaml-cpp 0.7's LoadAll never returns on some invalid streams
//   (one that is just ",": each HandleNextDocument reports an empty document
//   without consuming the token; yaml-cpp issue #1040). A config is one
//   document; past kMaxYamlDocuments we give up.
// - Alias expansion. Each anchored node's expanded size (nodes, scalar
//   bytes, height) is known when it ends; each alias adds its anchor's size
//   to the document's total. Past kMaxAliasNodes / kMaxAliasBytes the scan
//   stops at that alias: a billion-laughs document fails after reading its
//   few hundred bytes, never after expanding them.
// - Cycles. An alias inside the node its anchor names ("&a [*a]") is
//   refused: yaml-cpp links it into a cycle.
// - Depth. Nesting past kMaxYamlDepth (counting what aliases bring in) is
//   refused with our own message; yaml-cpp's own guard (DepthGuard, ~500
//   levels) would say only "bad file", and moe's recursive walks must not
//   meet a deeper tree than the scan let through.
struct PrescanStop {
  YAML::Mark mark;
  std::string message;
};

struct Size {
  uint64_t nodes = 0;
  uint64_t bytes = 0;
  int height = 0;  // levels of maps/lists inside, this node included
};

uint64_t sat_add(uint64_t a, uint64_t b) { return a + b < a ? UINT64_MAX : a + b; }

class PrescanHandler : public YAML::EventHandler {
 public:
  int documents = 0;

  void OnDocumentStart(const YAML::Mark&) override {
    ++documents;
    anchors_.clear();
    stack_.clear();
    alias_nodes_ = alias_bytes_ = 0;
  }
  void OnDocumentEnd() override {}
  void OnNull(const YAML::Mark&, YAML::anchor_t anchor) override { leaf(anchor, Size{1, 0, 0}); }
  void OnScalar(const YAML::Mark&, const std::string&, YAML::anchor_t anchor, const std::string& value) override {
    leaf(anchor, Size{1, value.size(), 0});
  }
  void OnAlias(const YAML::Mark& mark, YAML::anchor_t anchor) override {
    auto it = anchors_.find(anchor);
    // The parser has already refused an anchor it never saw, and registers
    // each anchor when its node opens; this handler records it when the
    // node closes. An alias the parser knows and we do not is therefore
    // inside the very node it names: yaml-cpp would build a cycle, and
    // every walk over the tree (filter JSON, /config_dump) would never end.
    if (it == anchors_.end())
      throw PrescanStop{mark, "YAML alias inside the node its anchor names (a cycle: the tree would never end)"};
    const Size& s = it->second;
    alias_nodes_ = sat_add(alias_nodes_, s.nodes);
    alias_bytes_ = sat_add(alias_bytes_, s.bytes);
    if (alias_nodes_ > kMaxAliasNodes)
      throw PrescanStop{mark, "YAML alias expansion over " + std::to_string(kMaxAliasNodes) +
                                  " nodes (aliases repeat what their anchors hold; a config may add at most " +
                                  std::to_string(kMaxAliasNodes) + " nodes through them)"};
    if (alias_bytes_ > kMaxAliasBytes)
      throw PrescanStop{mark, "YAML alias expansion over " + std::to_string(kMaxAliasBytes) +
                                  " bytes of scalars (aliases repeat what their anchors hold)"};
    if (static_cast<int>(stack_.size()) + s.height > kMaxYamlDepth) throw too_deep(mark);
    add_to_parent(s);
  }
  void OnSequenceStart(const YAML::Mark& mark, const std::string&, YAML::anchor_t anchor,
                       YAML::EmitterStyle::value) override {
    open(mark, anchor);
  }
  void OnSequenceEnd() override { close(); }
  void OnMapStart(const YAML::Mark& mark, const std::string&, YAML::anchor_t anchor,
                  YAML::EmitterStyle::value) override {
    open(mark, anchor);
  }
  void OnMapEnd() override { close(); }

 private:
  struct Frame {
    YAML::anchor_t anchor;
    Size size;
  };

  static PrescanStop too_deep(const YAML::Mark& mark) {
    return PrescanStop{mark, "YAML nesting deeper than " + std::to_string(kMaxYamlDepth) +
                                 " levels of maps and lists (aliases included)"};
  }
  void open(const YAML::Mark& mark, YAML::anchor_t anchor) {
    if (static_cast<int>(stack_.size()) >= kMaxYamlDepth) throw too_deep(mark);
    stack_.push_back(Frame{anchor, Size{1, 0, 1}});
  }
  void close() {
    if (stack_.empty()) return;
    Frame f = stack_.back();
    stack_.pop_back();
    leaf(f.anchor, f.size);
  }
  void leaf(YAML::anchor_t anchor, const Size& s) {
    if (anchor != YAML::NullAnchor) anchors_[anchor] = s;
    add_to_parent(s);
  }
  void add_to_parent(const Size& s) {
    if (stack_.empty()) return;
    Size& p = stack_.back().size;
    p.nodes = sat_add(p.nodes, s.nodes);
    p.bytes = sat_add(p.bytes, s.bytes);
    p.height = std::max(p.height, s.height + 1);
  }

  std::unordered_map<YAML::anchor_t, Size> anchors_;
  std::vector<Frame> stack_;
  uint64_t alias_nodes_ = 0;
  uint64_t alias_bytes_ = 0;
};

// Nullopt when the text may go to LoadAll; else the one error to report.
// Syntax errors throw YAML::Exception, reported by the caller as LoadAll's
// would be.
std::optional<ConfigError> prescan(const std::string& text, const std::string& path) {
  std::istringstream in(text);
  YAML::Parser parser(in);
  PrescanHandler h;
  try {
    while (parser.HandleNextDocument(h)) {
      if (h.documents > kMaxYamlDocuments)
        return ConfigError{Mark{path, 1, 1}, "", "YAML syntax error: not a YAML mapping (the stream never ends a document)"};
    }
  } catch (const PrescanStop& stop) {
    return ConfigError{Mark{path, stop.mark.line + 1, stop.mark.column + 1}, "", stop.message};
  }
  return std::nullopt;
}

}  // namespace

LoadResult load_config_text(const std::string& text, const std::string& path) {
  std::error_code ec;
  std::filesystem::path dir = std::filesystem::path(path).parent_path();
  if (dir.empty()) dir = ".";
  // Absolute, so a plugin path does not depend on the cwd at the time it is
  // opened.
  auto abs = std::filesystem::absolute(dir, ec);
  std::string base_dir = ec ? dir.string() : abs.lexically_normal().string();
  Context ctx(path, base_dir);
  LoadResult result;
  auto cfg = std::make_shared<Config>();
  cfg->source = path;
  try {
    if (std::optional<ConfigError> e = prescan(text, path)) {
      result.errors.push_back(std::move(*e));
      return result;
    }
    std::vector<YAML::Node> docs = YAML::LoadAll(text);
    if (docs.size() > 1) {
      ctx.error(docs[1], "", "expected one YAML document, found " + std::to_string(docs.size()));
    }
    parse_document(ctx, docs.empty() ? YAML::Node() : docs[0], *cfg);
  } catch (const YAML::DeepRecursion& e) {
    // yaml-cpp's own guard (its message is just "bad file"); the pre-scan
    // normally stops such a document first.
    Mark at{path, 0, 0};
    if (!e.mark.is_null()) at = Mark{path, e.mark.line + 1, e.mark.column + 1};
    ctx.error(at, "", "YAML nesting too deep for the parser (at most " + std::to_string(kMaxYamlDepth) + " levels)");
  } catch (const YAML::Exception& e) {
    // Parse errors (and, defensively, anything yaml-cpp throws while we walk
    // the tree) become one error at the position yaml-cpp names.
    Mark at{path, 0, 0};
    if (!e.mark.is_null()) at = Mark{path, e.mark.line + 1, e.mark.column + 1};
    ctx.error(at, "", "YAML syntax error: " + e.msg);
  } catch (const std::exception& e) {
    ctx.error(Mark{path, 0, 0}, "", std::string("internal error while loading: ") + e.what());
  }
  result.errors = ctx.take_errors();
  if (result.errors.empty()) result.config = std::move(cfg);
  return result;
}

LoadResult load_config(const std::string& path) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) {
    LoadResult r;
    r.errors.push_back(ConfigError{Mark{path, 0, 0}, "", "is a directory, not a config file"});
    return r;
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    LoadResult r;
    r.errors.push_back(ConfigError{Mark{path, 0, 0}, "", std::string("cannot open: ") + std::strerror(errno)});
    return r;
  }
  std::ostringstream ss;
  ss << in.rdbuf();
  if (in.bad()) {
    LoadResult r;
    r.errors.push_back(ConfigError{Mark{path, 0, 0}, "", "cannot read file"});
    return r;
  }
  return load_config_text(ss.str(), path);
}

}  // namespace moe::config
