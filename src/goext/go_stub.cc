// Built when moe is linked without the Go runtime (MOE_WITH_GO=OFF, used by
// the sanitizer build): the data plane runs with no Go filters.
#include "goext/go_bridge.h"

namespace moe::go {

bool enabled() { return false; }

std::vector<config::ConfigError> start(const config::Config& cfg, int, std::vector<uint32_t>& chain_events) {
  std::vector<config::ConfigError> errors;
  chain_events.assign(cfg.listeners.size(), 0);
  for (size_t i = 0; i < cfg.listeners.size(); i++) {
    const auto& l = cfg.listeners[i];
    if (l.filters.empty()) continue;
    errors.push_back({l.filters[0].mark, "listeners[" + std::to_string(i) + "].filters",
                      "this moe was built without Go (MOE_WITH_GO=OFF): Go filters are not available"});
  }
  if (!cfg.go.plugins.empty())
    errors.push_back({{cfg.source, 0, 0}, "go.plugins", "this moe was built without Go (MOE_WITH_GO=OFF)"});
  return errors;
}

std::vector<config::ConfigError> validate(const config::Config& next, const config::Config&) {
  std::vector<uint32_t> events;
  return start(next, 0, events);  // the same "built without Go" errors
}

void run_thread(void (*fn)(void*), void* arg) { fn(arg); }
int32_t on_event(moe_event*) { return MOE_CONTINUE; }
int32_t on_resume(moe_event*) { return MOE_CONTINUE; }
void on_events(moe_event* evs, uint32_t n) {
  for (uint32_t i = 0; i < n; i++) evs[i].result = MOE_CONTINUE;
}
void register_worker(int, GoWorker*) {}
std::string runtime_json() { return "{\"enabled\":false}\n"; }
std::string metrics() { return {}; }
std::vector<std::string> secret_fields(std::string_view) { return {}; }

}  // namespace moe::go
