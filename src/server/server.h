// The process: config, logs, listening sockets, workers, admin and signals.
// Everything here runs on the main thread; the data path is in the workers.
#pragma once

#include <signal.h>

#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace moe {

struct ServerOptions {
  std::string config_path;
  int workers = -1;        // --workers; -1 = from the file
  std::string log_level;   // --log-level; empty = from the file
  std::function<std::string()> go_info;     // GET /go
  std::function<std::string()> go_metrics;  // Go filters' metrics, appended to GET /stats
  // Config keys Go filters marked secret, redacted in GET /config_dump.
  std::function<std::vector<std::string>(std::string_view filter)> secret_fields;
};

// The signals moe owns (TERM, INT, HUP, USR1, USR2).
sigset_t moe_signal_set();
// Blocks them in the calling thread (and every thread it starts later) and
// ignores SIGPIPE. main.cc calls it from a constructor that runs before the
// Go runtime's, so Go's threads inherit the mask too.
void block_signals();

// Runs until SIGTERM/SIGINT has drained every worker. Returns the exit code.
int run_server(const ServerOptions& opts);

}  // namespace moe
