// The real bridge: moe linked with goext/bridge built as a c-archive.
#include "goext/go_bridge.h"

#include <cstdlib>
#include <cstring>
#include <mutex>
#include <string_view>

#include "core/log.h"
#include "goext/go_worker.h"

// Exported by goext/bridge (cgo //export); see include/moe/goext_abi.h.
extern "C" {
int32_t moe_go_configure(int32_t gomaxprocs, int32_t gc_percent, int64_t memory_limit);
int32_t moe_go_set_async_procs(int32_t n);
char* moe_go_load_plugin(const char* path, uint32_t path_len);
char* moe_go_create_chain(uint32_t chain, const char* json, uint32_t json_len, uint32_t* events);
char* moe_go_validate_chain(const char* json, uint32_t json_len);
void moe_go_run_thread(void (*fn)(void*), void* arg);
int32_t moe_go_on_event(moe_event* ev);
int32_t moe_go_on_resume(moe_event* ev);
void moe_go_on_events(moe_event* evs, uint32_t n);
char* moe_go_runtime_json(void);
char* moe_go_metrics(void);
char* moe_go_secret_fields(const char* name, uint32_t name_len);
}

namespace moe::go {
namespace {

// Written once at startup, before any worker thread runs; read-only after.
constexpr int kMaxWorkers = 1024;
GoWorker* g_workers[kMaxWorkers];
bool g_any_chain = false;  // some listener has Go filters

std::string take(char* s) {
  if (!s) return {};
  std::string r(s);
  free(s);
  return r;
}

// Where a chain's error points: the filter the message names, else the
// first one.
config::ConfigError chain_error(const config::Listener& l, size_t li, const std::string& err) {
  size_t at = 0;
  for (size_t fi = 0; fi < l.filters.size(); fi++)
    if (err.find("\"" + l.filters[fi].name + "\"") != std::string::npos) {
      at = fi;
      break;
    }
  return {l.filters[at].mark, "listeners[" + std::to_string(li) + "].filters[" + std::to_string(at) + "]", err};
}

// The one walk over a config's chains for startup (and --validate) and
// SIGHUP: the spec each gets, and where its error points. build(li, json)
// returns Go's error message, empty when the chain was built.
template <class Build>
void each_chain(const config::Config& cfg, std::vector<config::ConfigError>& errors, Build build) {
  for (size_t li = 0; li < cfg.listeners.size(); li++) {
    const config::Listener& l = cfg.listeners[li];
    if (l.filters.empty()) continue;
    const std::string err = build(li, config::filter_chain_json(l));
    if (!err.empty()) errors.push_back(chain_error(l, li, err));
  }
}

}  // namespace

bool enabled() { return true; }

std::vector<config::ConfigError> start(const config::Config& cfg, int workers, std::vector<uint32_t>& chain_events) {
  std::vector<config::ConfigError> errors;
  // A P for every worker plus the async ones (docs/go-runtime.md).
  moe_go_configure(workers + cfg.go.async_procs, cfg.go.gc_percent, static_cast<int64_t>(cfg.go.memory_limit));
  moe_go_set_async_procs(cfg.go.async_procs);
  for (size_t i = 0; i < cfg.go.plugins.size(); i++) {
    const std::string& p = cfg.go.plugins[i];
    std::string err = take(moe_go_load_plugin(p.data(), static_cast<uint32_t>(p.size())));
    if (!err.empty()) errors.push_back({{cfg.source, 0, 0}, "go.plugins[" + std::to_string(i) + "]", err});
  }
  if (!errors.empty()) return errors;
  chain_events.assign(cfg.listeners.size(), 0);
  each_chain(cfg, errors, [&](size_t li, const std::string& json) {
    uint32_t events = 0;
    std::string err = take(moe_go_create_chain(static_cast<uint32_t>(li), json.data(), static_cast<uint32_t>(json.size()), &events));
    chain_events[li] = events;
    if (events) g_any_chain = true;
    return err;
  });
  return errors;
}

std::vector<config::ConfigError> validate(const config::Config& next, const config::Config& running) {
  std::vector<config::ConfigError> errors;
  if (next.go.plugins != running.go.plugins) {
    // A plugin is opened once per process and never unloaded: a changed
    // list cannot be checked (or applied) without a restart.
    errors.push_back({{next.source, 0, 0}, "go.plugins",
                      "the plugin list changed; plugins load only at startup, so the filters cannot be checked "
                      "here: run `moe --validate -c " + next.source + "` and restart to apply"});
    return errors;
  }
  each_chain(next, errors, [](size_t, const std::string& json) {
    return take(moe_go_validate_chain(json.data(), static_cast<uint32_t>(json.size())));
  });
  return errors;
}

void run_thread(void (*fn)(void*), void* arg) {
  // Workers that will never cross into Go do not enter it at all.
  if (g_any_chain) moe_go_run_thread(fn, arg);
  else fn(arg);
}

int32_t on_event(moe_event* ev) { return moe_go_on_event(ev); }
int32_t on_resume(moe_event* ev) { return moe_go_on_resume(ev); }
void on_events(moe_event* evs, uint32_t n) { moe_go_on_events(evs, n); }

void register_worker(int id, GoWorker* w) {
  if (id >= 0 && id < kMaxWorkers) g_workers[id] = w;
}

std::string runtime_json() {
  std::string s = take(moe_go_runtime_json());
  return s.empty() ? "{}\n" : s;
}

std::string metrics() { return take(moe_go_metrics()); }

std::vector<std::string> secret_fields(std::string_view filter) {
  std::string all = take(moe_go_secret_fields(filter.data(), static_cast<uint32_t>(filter.size())));
  std::vector<std::string> out;
  for (size_t pos = 0; pos < all.size();) {
    size_t nl = all.find('\n', pos);
    if (nl == std::string::npos) nl = all.size();
    if (nl > pos) out.push_back(all.substr(pos, nl - pos));
    pos = nl + 1;
  }
  return out;
}

}  // namespace moe::go

// ---- called from Go ----------------------------------------------------------------

extern "C" void moe_ops_grow(moe_ops* ops, uint32_t need) {
  uint32_t cap = ops->cap ? ops->cap : 4096;
  while (cap < need) cap *= 2;
  if (cap == ops->cap) return;
  ops->buf = static_cast<char*>(realloc(ops->buf, cap));
  ops->cap = cap;
}

// Go's way into moe's error log. (Here, with the other two: an object of
// moe_core that nothing in C++ calls would be left out of the link.)
extern "C" void moe_log(int32_t level, const char* msg, uint32_t len) {
  moe::log_numbered(level, "go", std::string_view(msg, len));
}

extern "C" void moe_post_resume(uint64_t handle) {
  const unsigned w = static_cast<unsigned>(handle >> 48);
  if (w < moe::go::kMaxWorkers && moe::go::g_workers[w]) moe::go::g_workers[w]->post_resume(handle);
}
