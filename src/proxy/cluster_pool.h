// One worker's view of a cluster: load balancing over its endpoints and a
// keep-alive pool of upstream connections per endpoint.
//
// acquire(stream) ends in exactly one of:
//   - an idle connection is handed over at once (stream->on_upstream_ready),
//   - a new connection is started and the stream waits for it,
//   - the stream waits in the pending queue (max_connections reached) until a
//     connection is released,
//   - stream->on_upstream_failure(overflow) when max_pending is full too.
// A stream that ends while waiting calls cancel().
// Thread: the owning worker; nothing is shared with other workers (each
// worker has its own connections, as nginx and Envoy do).
#pragma once

#include <cstdint>
#include <memory>
#include <random>
#include <vector>

#include "config/config.h"
#include "core/intrusive_list.h"
#include "core/stats.h"
#include "proxy/stream.h"

namespace moe {

class Worker;
class Http1ClientConnection;

class ClusterPool {
 public:
  ClusterPool(Worker& worker, int index, const config::Cluster& cfg);
  ~ClusterPool();

  void acquire(Stream* s);
  void cancel(Stream* s);

  // From connections.
  void on_connected(Http1ClientConnection* c);
  void on_connect_failed(Http1ClientConnection* c, int err);
  // The response finished; the connection can carry another request.
  void release(Http1ClientConnection* c);
  // The connection is gone (closed, failed, idle timeout).
  void on_closed(Http1ClientConnection* c);
  // Closes idle connections (drain).
  void close_idle();

  const config::Cluster& config() const { return cfg_; }
  ClusterStats& stats() { return stats_; }
  EndpointStats& endpoint_stats(int e) { return *endpoint_stats_[static_cast<size_t>(e)]; }
  int index() const { return index_; }
  Worker& worker() { return worker_; }

 private:
  struct Endpoint;
  int pick_endpoint();
  void connect(int endpoint, Stream* s);
  void serve_pending();

  Worker& worker_;
  int index_;
  const config::Cluster& cfg_;
  ClusterStats& stats_;
  std::vector<std::unique_ptr<EndpointStats>>& endpoint_stats_;
  std::vector<std::unique_ptr<Endpoint>> endpoints_;
  IntrusiveList<Stream, &Stream::pending_link> pending_;
  uint32_t connections_ = 0;  // all states, this worker
  uint32_t rr_next_ = 0;
  std::minstd_rand rng_;
};

}  // namespace moe
