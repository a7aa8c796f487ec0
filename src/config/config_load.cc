// Entry points: file or text to a validated Config, never throwing.
#include <yaml-cpp/eventhandler.h>
#include <sstream>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

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

// yaml-cpp 0.7's LoadAll never returns on some invalid streams (one that is
// just ",": each HandleNextDocument reports an empty document without
// consuming the token; yaml-cpp issue #1040). Count documents with a no-op
// handler first and give up past a cap: a config is one document.
struct NoopHandler : YAML::EventHandler {
  void OnDocumentStart(const YAML::Mark&) override {}
  void OnDocumentEnd() override {}
  void OnNull(const YAML::Mark&, YAML::anchor_t) override {}
  void OnAlias(const YAML::Mark&, YAML::anchor_t) override {}
  void OnScalar(const YAML::Mark&, const std::string&, YAML::anchor_t, const std::string&) override {}
  void OnSequenceStart(const YAML::Mark&, const std::string&, YAML::anchor_t, YAML::EmitterStyle::value) override {}
  void OnSequenceEnd() override {}
  void OnMapStart(const YAML::Mark&, const std::string&, YAML::anchor_t, YAML::EmitterStyle::value) override {}
  void OnMapEnd() override {}
};

bool too_many_documents(const std::string& text) {
  std::istringstream in(text);
  YAML::Parser parser(in);
  NoopHandler h;
  for (int docs = 0; parser.HandleNextDocument(h);)
    if (++docs > 16) return true;
  return false;  // syntax errors throw and are reported by LoadAll below
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
    if (too_many_documents(text)) {
      ctx.error(Mark{path, 1, 1}, "", "YAML syntax error: not a YAML mapping (the stream never ends a document)");
      result.errors = ctx.take_errors();
      return result;
    }
    std::vector<YAML::Node> docs = YAML::LoadAll(text);
    if (docs.size() > 1) {
      ctx.error(docs[1], "", "expected one YAML document, found " + std::to_string(docs.size()));
    }
    parse_document(ctx, docs.empty() ? YAML::Node() : docs[0], *cfg);
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
