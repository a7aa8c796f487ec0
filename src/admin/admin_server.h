// The admin listener: a small HTTP/1.1 server on the main thread's loop.
//   GET /ready        200 "ready" while serving, 503 "draining" after SIGTERM
//   GET /stats        Prometheus text: every worker's counters added up
//   GET /config_dump  the effective config as JSON
//   GET /go           the Go runtime (GOMAXPROCS, goroutines, GC, crossings)
// One request per connection at a time; responses are small and built in
// full. Thread: the main thread.
#pragma once

#include <uv.h>

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "config/config.h"

namespace moe {

class Worker;

class AdminServer {
 public:
  // `go_info` renders GET /go; `go_metrics` adds the Go filters' metrics to
  // GET /stats (both from the bridge, passed in by main).
  AdminServer(uv_loop_t* loop, std::shared_ptr<const config::Config> cfg,
              const std::vector<std::unique_ptr<Worker>>& workers, std::function<std::string()> go_info,
              std::function<std::string()> go_metrics);
  ~AdminServer();
  // Binds the configured address; returns a libuv error or 0.
  int start(std::string& bound);
  void set_draining() { draining_ = true; }
  void close();

  // Route a request path to a response: status, content type, body.
  struct Response {
    int status = 200;
    std::string content_type = "text/plain";
    std::string body;
  };
  Response handle(std::string_view method, std::string_view path) const;

 private:
  static void on_connection(uv_stream_t* server, int status);

  uv_loop_t* loop_;
  std::shared_ptr<const config::Config> config_;
  const std::vector<std::unique_ptr<Worker>>& workers_;
  uv_tcp_t* server_ = nullptr;
  std::function<std::string()> go_info_;
  std::function<std::string()> go_metrics_;
  bool draining_ = false;
};

// Prometheus text for the sum of the workers' stats.
std::string render_stats(const config::Config& cfg, const std::vector<std::unique_ptr<Worker>>& workers);

}  // namespace moe
