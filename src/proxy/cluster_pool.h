// One worker's view of a cluster: load balancing over its endpoints and a
// keep-alive pool of upstream connections per endpoint.
//
// acquire(stream) ends in exactly one of:
//   - an idle connection is handed over at once (stream->on_upstream_ready),
//   - a new connection is started and the stream waits for it,
//   - the stream waits in the pending queue (max_connections reached) until a
//     connection is released,
//   - stream->on_upstream_failure(overflow) when max_pending is full too.
// While streams wait, the connections of streams whose clients take none of
// their responses are taken back (shed_stalled): a client that opens its
// windows to nobody (HTTP/2 with SETTINGS_INITIAL_WINDOW_SIZE 0) or reads
// no byte would otherwise hold max_connections until timeouts.send, and
// every other request of the cluster would wait for it.
// A stream that ends while waiting calls cancel(). A connect that fails at
// once is told to the stream from a deferred call, as a slow failure is,
// never from inside acquire: the stream's retry cannot re-enter acquire, and
// no caller of acquire sees its stream end under it. (Overflow is told at
// once; it never retries.)
// The connections talk back through UpstreamPoolCallbacks (http/codec.h),
// one set for both protocols.
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
#include "http/codec.h"
#include "proxy/stream.h"

namespace moe {

class Worker;
class Http1ClientConnection;
class H2ClientConnection;
class H2ClientStream;

class ClusterPool final : public UpstreamPoolCallbacks, public TimerNode {
 public:
  ClusterPool(Worker& worker, int index, const config::Cluster& cfg);
  ~ClusterPool();

  void acquire(Stream* s);
  void cancel(Stream* s);  // also takes s off the stalled list
  // s (attached) stopped reading its upstream because its client does not
  // take the response / reads it again.
  void stalled(Stream* s);
  void unstalled(Stream* s);

  // Closes idle connections (drain).
  void close_idle();

  int index() const { return index_; }

  // UpstreamPoolCallbacks
  void on_connect_failed(UpstreamConnection& c, int err) override;
  void on_capacity(UpstreamConnection& c) override;
  void on_closed(UpstreamConnection& c) override;
  bool retry_elsewhere(UpstreamCodec& stream, UpstreamConnection& from) override;

 private:
  // No connection can take s now: wait in pending_ (max_pending), else 503.
  void queue_or_overflow(Stream* s);
  // Resets the streams stalled for shed_stalled_after, the oldest first, at
  // most one per waiting stream: each frees a connection (HTTP/1: it
  // closes; h2c: a stream slot) that goes to the queue's front. Runs from a
  // deferred call when a stream starts waiting (not inside acquire: the
  // victims' ends would run under the acquiring stream) and from the timer
  // while streams still wait.
  void shed_stalled();
  void shed_soon();
  void on_timeout() override { shed_stalled(); }
  struct Endpoint;
  int pick_endpoint();
  void connect(int endpoint, Stream* s);
  // A connect that failed synchronously, told from a deferred call.
  template <class Connection>
  void connect_failed_later(Connection* c, int err);
  // protocol: http1. The response finished; the connection can carry
  // another request. / The connection is gone.
  void release(Http1ClientConnection* c);
  void h1_on_closed(Http1ClientConnection* c);
  // protocol: h2c. Streams closed or SETTINGS arrived: c may take waiting
  // streams. / A refused stream of `from`, resubmitted on another connection
  // (existing with room, or new). / The connection is gone.
  void h2_capacity(H2ClientConnection* c);
  bool h2_retry(H2ClientStream* hs, H2ClientConnection* from);
  void h2_on_closed(H2ClientConnection* c);
  void acquire_h2(Stream* s);
  H2ClientConnection* find_h2(int endpoint, const H2ClientConnection* exclude);
  H2ClientConnection* connect_h2(int endpoint);

  int index_;
  std::vector<std::unique_ptr<Endpoint>> endpoints_;
  IntrusiveList<Stream, &Stream::pending_link> pending_;
  IntrusiveList<Stream, &Stream::stalled_link> stalled_;  // in stall order
  bool shed_deferred_ = false;
  uint32_t connections_ = 0;  // all states, this worker
  uint32_t rr_next_ = 0;
  std::minstd_rand rng_;
};

}  // namespace moe
