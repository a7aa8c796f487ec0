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
class H2ClientConnection;
class H2ClientStream;

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

  // From HTTP/2 connections (protocol: h2c).
  void on_connect_failed(H2ClientConnection* c, int err);
  // Streams closed or SETTINGS arrived: c may take waiting streams.
  void h2_capacity(H2ClientConnection* c);
  // A refused stream of `from`, resubmitted on another connection (existing
  // with room, or new). False when none can take it.
  bool h2_retry(H2ClientStream* hs, H2ClientConnection* from);
  void h2_on_closed(H2ClientConnection* c);

  const config::Cluster& config() const { return cfg_; }
  ClusterStats& stats() { return stats_; }
  EndpointStats& endpoint_stats(int e) { return *endpoint_stats_[static_cast<size_t>(e)]; }
  int index() const { return index_; }
  Worker& worker() { return worker_; }

 private:
  // No connection can take s now: wait in pending_ (max_pending), else 503.
  void queue_or_overflow(Stream* s);
  struct Endpoint;
  int pick_endpoint();
  void connect(int endpoint, Stream* s);
  void serve_pending();
  void acquire_h2(Stream* s);
  H2ClientConnection* find_h2(int endpoint, const H2ClientConnection* exclude);
  H2ClientConnection* connect_h2(int endpoint);

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
