// moe: command line and wiring. See docs/operations.md.
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "config/config.h"
#include "goext/go_bridge.h"
#include "server/server.h"
#include "transport/tls.h"

namespace {

// Priority 101 runs before the Go runtime's constructor in the c-archive
// (default priority), so every thread Go creates inherits the blocked mask
// and SIGPIPE is ignored from the first instruction on.
__attribute__((constructor(101))) void early_signals() { moe::block_signals(); }

void usage(FILE* f) {
  fprintf(f,
          "usage: moe -c FILE [--validate] [--workers N] [--log-level L]\n"
          "  -c, --config FILE   the YAML config (see docs/configuration.md)\n"
          "  --validate          check the config and exit 0 (valid) or 1 (errors on stderr)\n"
          "  --workers N         override `workers`\n"
          "  --log-level L       override `log.level`: trace debug info warn error\n");
}

}  // namespace

int main(int argc, char** argv) {
  moe::ServerOptions opts;
  bool validate = false;
  for (int i = 1; i < argc; i++) {
    std::string a = argv[i];
    auto value = [&](const char* name) -> const char* {
      if (i + 1 >= argc) {
        fprintf(stderr, "moe: %s needs a value\n", name);
        exit(2);
      }
      return argv[++i];
    };
    if (a == "-c" || a == "--config") opts.config_path = value("-c");
    else if (a == "--validate") validate = true;
    else if (a == "--workers") {
      char* end;
      long n = strtol(value("--workers"), &end, 10);
      if (*end || n < 1 || n > 1024) {
        fprintf(stderr, "moe: --workers: want a number from 1 to 1024\n");
        return 2;
      }
      opts.workers = static_cast<int>(n);
    } else if (a == "--log-level") opts.log_level = value("--log-level");
    else if (a == "-h" || a == "--help") {
      usage(stdout);
      return 0;
    } else {
      fprintf(stderr, "moe: unknown argument '%s'\n", a.c_str());
      usage(stderr);
      return 2;
    }
  }
  if (opts.config_path.empty()) {
    usage(stderr);
    return 2;
  }
  if (!opts.log_level.empty()) {
    static const char* levels[] = {"trace", "debug", "info", "warn", "error"};
    bool ok = false;
    for (const char* l : levels) ok = ok || opts.log_level == l;
    if (!ok) {
      fprintf(stderr, "moe: --log-level: want one of trace debug info warn error\n");
      return 2;
    }
  }
  if (validate) {
    moe::config::LoadResult r = moe::config::load_config(opts.config_path);
    for (const auto& e : r.errors) fprintf(stderr, "%s\n", e.to_string().c_str());
    if (!r.errors.empty()) return 1;
    // Certificates and keys are loaded as startup loads them.
    auto tls_errors = moe::build_tls_contexts(*r.config).errors;
    for (const auto& e : tls_errors) fprintf(stderr, "%s\n", e.to_string().c_str());
    if (!tls_errors.empty()) return 1;
    // Plugins and filter configs are checked the way startup does it: the
    // plugins are opened and every chain is built (factories validate).
    std::vector<uint32_t> chain_events;
    int workers = opts.workers > 0 ? opts.workers : (r.config->workers > 0 ? r.config->workers : 1);
    auto go_errors = moe::go::start(*r.config, workers, chain_events);
    for (const auto& e : go_errors) fprintf(stderr, "%s\n", e.to_string().c_str());
    if (!go_errors.empty()) return 1;
    printf("%s: ok\n", opts.config_path.c_str());
    return 0;
  }
  opts.go_info = moe::go_runtime_json;
  opts.go_metrics = moe::go::metrics;
  opts.secret_fields = moe::go::secret_fields;
  return moe::run_server(opts);
}
