// The C++ side of the Go bridge, as the rest of moe sees it.
//
// With the Go runtime linked in (MOE_WITH_GO, go_bridge.cc) this configures
// the runtime, loads plugins, builds one filter chain per listener and makes
// the crossings. Without it (go_stub.cc, the sanitizer build) there are no
// Go filters and a config that names any is refused.
//
// Threads: start() and the JSON/metrics functions on the main thread;
// on_event()/on_resume()/on_events() on worker threads (GoWorker, the
// worker's side of the bridge: goext/go_worker.h); moe_post_resume from any
// goroutine.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.h"
#include "moe/goext_abi.h"

namespace moe {

class GoWorker;

namespace go {

bool enabled();

// Applies the `go:` settings for `workers` workers, loads the plugins and
// creates a chain for every listener with filters. chain_events[i] is the
// MOE_EV bitmask listener i's chain wants (0 = no chain). Returns the errors
// (each naming file:line:col and the key) or an empty list.
std::vector<config::ConfigError> start(const config::Config& cfg, int workers,
                                       std::vector<uint32_t>& chain_events);

// Runs fn(arg) (a worker's loop) on the calling thread, from inside a Go->C
// call when Go is linked in, so the crossings it makes are nested callbacks
// and cheaper (goext_abi.h, moe_go_run_thread). Without Go: fn(arg).
// Builds every chain of `next` as start() would and discards them (SIGHUP's
// check of the filter configs; the running chains are untouched). `running`
// is the config the process started with: a changed go.plugins list is an
// error (plugins load only at startup).
std::vector<config::ConfigError> validate(const config::Config& next, const config::Config& running);

void run_thread(void (*fn)(void*), void* arg);

int32_t on_event(moe_event* ev);
int32_t on_resume(moe_event* ev);
// One crossing for n events of independent streams (a worker's batch):
// sets each event's result, go_state and ops range.
void on_events(moe_event* evs, uint32_t n);

// Each worker's GoWorker registers so moe_post_resume can find it by
// handle. Main thread, before the workers start.
void register_worker(int id, GoWorker* w);

std::string runtime_json();
std::string metrics();
// The config keys a Go filter marked secret (api.SecretFields); main thread.
std::vector<std::string> secret_fields(std::string_view filter);

}  // namespace go

// JSON for GET /go.
inline std::string go_runtime_json() { return go::runtime_json(); }

}  // namespace moe
