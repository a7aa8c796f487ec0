// The admin listener: a small HTTP/1.1 server on the main thread's loop.
//   GET /ready        200 "ready" while serving, 503 "draining" after SIGTERM
//   GET /stats        Prometheus text: every worker's counters added up
//   GET /config_dump  the effective config as JSON, secrets redacted
//   GET /go           the Go runtime (GOMAXPROCS, goroutines, GC, crossings)
// HEAD answers the same headers without the body; so do the refusals (4xx)
// to a HEAD request.
//
// It has no authentication, so it defends itself like any listener
// (config::AdminConfig): a cap on connections, a request-line and header
// size limit (431; a target over 8 KiB: 414), a header timeout and an idle
// timeout, a Host check against DNS rebinding (403), and backpressure: a
// client that pipelines requests without reading the answers is not read
// from while more than 64 KiB of answers wait for it.
// Thread: the main thread.
#pragma once

#include <uv.h>

#include <functional>
#include <memory>
#include <string>
#include <unordered_set>
#include <vector>

#include "config/config.h"

namespace moe {

class Worker;
struct AdminConn;

class AdminServer {
 public:
  // `go_info` renders GET /go; `go_metrics` adds the Go filters' metrics to
  // GET /stats; `secret_fields` names the config fields a Go filter marked
  // secret (api.SecretFields), redacted in GET /config_dump (all from the
  // bridge, passed in by main; any may be empty).
  AdminServer(uv_loop_t* loop, std::shared_ptr<const config::Config> cfg,
              const std::vector<std::unique_ptr<Worker>>& workers, std::function<std::string()> go_info,
              std::function<std::string()> go_metrics, config::Config::SecretFields secret_fields = {});
  ~AdminServer();
  // Binds the configured address; returns a libuv error or 0, and sets
  // `bound` to the address bound ("127.0.0.1:9901", "[::1]:9901"). Warns
  // when the address is not a loopback one.
  int start(std::string& bound);
  void set_draining() { draining_ = true; }
  // Stops listening and closes every admin connection.
  void close();

  // Route a request path to a response: status, content type, body.
  struct Response {
    int status = 200;
    std::string content_type = "text/plain";
    std::string body;
  };
  Response handle(std::string_view method, std::string_view path) const;

  // Whether a request's Host header value may reach the endpoints: loopback
  // names and addresses, the admin address's host, `local_ip` (the address
  // the connection came in on) and admin.allowed_hosts. Port ignored.
  bool host_allowed(std::string_view host, std::string_view local_ip) const;

  const config::AdminConfig& config() const { return config_->admin; }
  // Connection bookkeeping for AdminConn.
  void forget(AdminConn* c) { conns_.erase(c); }

 private:
  static void on_connection(uv_stream_t* server, int status);

  uv_loop_t* loop_;
  std::shared_ptr<const config::Config> config_;
  const std::vector<std::unique_ptr<Worker>>& workers_;
  uv_tcp_t* server_ = nullptr;
  std::function<std::string()> go_info_;
  std::function<std::string()> go_metrics_;
  config::Config::SecretFields secret_fields_;
  std::unordered_set<AdminConn*> conns_;
  bool draining_ = false;
};

// Prometheus text for the sum of the workers' stats.
std::string render_stats(const config::Config& cfg, const std::vector<std::unique_ptr<Worker>>& workers);

}  // namespace moe
