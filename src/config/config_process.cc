// Process-wide sections: workers, drain_timeout, admin, log, go.
#include <algorithm>
#include <filesystem>

#include "config/config_parse.h"

namespace moe::config::detail {

namespace {

constexpr int kMaxWorkers = 1024;

void parse_workers(Context& ctx, const YAML::Node& node, Config& cfg) {
  if (node.IsScalar() && node.Scalar() == "auto") {
    cfg.workers = 0;
    return;
  }
  const bool digits = node.IsScalar() && !node.Scalar().empty() &&
                      node.Scalar().find_first_not_of("0123456789-") == std::string::npos;
  if (!digits) {
    ctx.error(node, "workers", "expected 'auto' or a number of workers, got " + describe(node));
    return;
  }
  if (auto n = as_int(ctx, node, "workers", 1, kMaxWorkers)) cfg.workers = static_cast<int>(*n);
}

void parse_admin(Context& ctx, const YAML::Node& node, AdminConfig& admin) {
  MapView m(ctx, node, "admin",
            {"address", "allowed_hosts", "max_connections", "max_request_headers", "timeouts"});
  if (const YAML::Node* a = m.find("address")) {
    admin.address = as_address(ctx, *a, m.key_of("address"), /*allow_port_zero=*/true);
  }
  if (const YAML::Node* list = m.find("allowed_hosts")) {
    std::string key = m.key_of("allowed_hosts");
    if (expect_list(ctx, *list, key) && list->IsSequence()) {
      size_t i = 0;
      for (auto it = list->begin(); it != list->end(); ++it, ++i) {
        const YAML::Node item = *it;
        auto host = as_string(ctx, item, index_key(key, i));
        if (!host) continue;
        if (host->empty() || host->find_first_of(" \t/") != std::string::npos) {
          ctx.error(item, index_key(key, i), "want a host name or address without a port, or \"*\"");
          continue;
        }
        admin.allowed_hosts.push_back(to_lower(*host));
      }
    }
  }
  m.read_uint32("max_connections", admin.max_connections, 1);
  m.read_size("max_request_headers", admin.max_request_headers);
  if (admin.max_request_headers < 1024) {
    ctx.error(*m.find("max_request_headers"), m.key_of("max_request_headers"), "must be at least 1KiB");
  }
  if (const YAML::Node* t = m.find("timeouts")) {
    MapView tm(ctx, *t, m.key_of("timeouts"), {"request_headers", "idle"});
    tm.read_duration("request_headers", admin.request_headers_timeout);
    tm.read_duration("idle", admin.idle_timeout);
    if (admin.request_headers_timeout.count() <= 0)
      ctx.error(*tm.find("request_headers"), tm.key_of("request_headers"), "must be more than 0s");
    if (admin.idle_timeout.count() <= 0) ctx.error(*tm.find("idle"), tm.key_of("idle"), "must be more than 0s");
  }
}

void parse_log(Context& ctx, const YAML::Node& node, LogConfig& log) {
  MapView m(ctx, node, "log", {"level", "access_log", "access_log_format", "access_log_values"});
  m.read_enum<std::string>("level", log.level,
                           {{"trace", "trace"},
                            {"debug", "debug"},
                            {"info", "info"},
                            {"warn", "warn"},
                            {"error", "error"}});
  if (const YAML::Node* a = m.find("access_log")) {
    if (auto s = as_string(ctx, *a, m.key_of("access_log"))) {
      if (s->empty()) {
        ctx.error(*a, m.key_of("access_log"), "must be stdout, off or a file path");
      } else {
        log.access_log = *s;
      }
    }
  }
  m.read_enum("access_log_format", log.access_log_format,
              {{"text", LogFormat::text}, {"json", LogFormat::json}});
  if (const YAML::Node* list = m.find("access_log_values")) {
    const std::string key = m.key_of("access_log_values");
    if (expect_list(ctx, *list, key) && list->IsSequence()) {
      if (list->size() > kMaxAccessLogValues)
        ctx.error(*list, key, "at most " + std::to_string(kMaxAccessLogValues) + " values");
      size_t i = 0;
      for (auto it = list->begin(); it != list->end(); ++it, ++i) {
        const YAML::Node item = *it;
        auto name = as_string(ctx, item, index_key(key, i));
        if (!name) continue;
        const bool ok = !name->empty() && name->size() <= 64 &&
                        std::all_of(name->begin(), name->end(), [](unsigned char c) { return c > 0x20 && c < 0x7f && c != '"'; });
        if (!ok) {
          ctx.error(item, index_key(key, i), "a Stream.Set key: 1 to 64 visible ASCII characters, no '\"'");
        } else if (std::find(log.access_log_values.begin(), log.access_log_values.end(), *name) !=
                   log.access_log_values.end()) {
          ctx.error(item, index_key(key, i), "\"" + *name + "\" is listed twice");
        } else {
          log.access_log_values.push_back(*name);
        }
      }
    }
  }
}

void parse_go(Context& ctx, const YAML::Node& node, GoConfig& go) {
  MapView m(ctx, node, "go", {"plugins", "async_procs", "gc_percent", "memory_limit"});
  if (const YAML::Node* list = m.find("plugins")) {
    std::string key = m.key_of("plugins");
    if (expect_list(ctx, *list, key) && list->IsSequence()) {
      size_t i = 0;
      for (auto it = list->begin(); it != list->end(); ++it, ++i) {
        const YAML::Node item = *it;
        auto path = as_string(ctx, item, index_key(key, i));
        if (!path) continue;
        if (path->empty()) {
          ctx.error(item, index_key(key, i), "empty plugin path");
          continue;
        }
        go.plugins.push_back(ctx.resolve_path(*path));
      }
    }
  }
  m.read_int("async_procs", go.async_procs, 0, 1024);
  if (const YAML::Node* g = m.find("gc_percent")) {
    // Go's GOGC=off; -1 is what debug.SetGCPercent takes for it.
    if (g->IsScalar() && g->Scalar() == "off") {
      go.gc_percent = -1;
    } else if (auto n = as_int(ctx, *g, m.key_of("gc_percent"), -1, 1'000'000)) {
      go.gc_percent = static_cast<int>(*n);
    }
  }
  m.read_size("memory_limit", go.memory_limit);
}

}  // namespace

void parse_process_sections(Context& ctx, MapView& root, Config& cfg) {
  if (const YAML::Node* n = root.find("workers")) parse_workers(ctx, *n, cfg);
  root.read_duration("drain_timeout", cfg.drain_timeout);
  if (const YAML::Node* n = root.find("admin")) parse_admin(ctx, *n, cfg.admin);
  if (const YAML::Node* n = root.find("log")) parse_log(ctx, *n, cfg.log);
  if (const YAML::Node* n = root.find("go")) parse_go(ctx, *n, cfg.go);
}

}  // namespace moe::config::detail
