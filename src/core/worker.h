// A worker: one thread, one uv_loop, its own listening sockets (SO_REUSEPORT)
// and everything its connections need (read buffer, buffer pool, timers,
// upstream pools, stats). Nothing here is shared with other workers; other
// threads talk to a worker only through post().
#pragma once

#include <uv.h>

#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "config/config.h"
#include "core/intrusive_list.h"
#include "core/stats.h"
#include "core/timer_list.h"

namespace moe {

class TcpConnection;
struct OutBuffer;
class Listener;
class ClusterPool;
class AccessLog;
class StreamFactory;  // http/codec.h
class ConnectionAcceptor;

// What drain needs from a downstream connection, whatever its codec.
class DownstreamConnection {
 public:
  ListLink worker_link;
  // Close now if idle; otherwise close after the streams in flight finish.
  virtual void start_drain() = 0;
  // The drain deadline passed.
  virtual void force_close() = 0;

 protected:
  ~DownstreamConnection() = default;
};

// The per-worker state of a layer above core that needs two moments of the
// loop: before it sleeps, and when another thread wakes it. (The Go bridge:
// its stream registry, the resumes goroutines post and the batched header
// crossing, goext/go_worker.h.) Set by the layer that starts the worker
// (Worker::set_extension), before start(); called on the worker's thread.
class WorkerExtension {
 public:
  virtual ~WorkerExtension() = default;
  // Runs fn(arg), the worker's loop, on the worker's thread, wrapped as the
  // extension needs (the Go bridge runs it from inside a Go->C call, so the
  // loop's crossings are nested callbacks). Default: fn(arg).
  virtual void run_thread(void (*fn)(void*), void* arg) { fn(arg); }
  // Before the loop sleeps, once per Worker::want_check since the last
  // call; before the deferred calls. What it queues (defer, want_check)
  // runs in the same pass.
  virtual void on_check() = 0;
  // The messages other threads posted (Worker::post_to_extension), in
  // order, after that wakeup's post() functions.
  virtual void on_posted(std::span<const uint64_t> msgs) = 0;
};

struct ListenerShared;

struct ListenerSocket {
  int listener_index;      // into Config::listeners
  int fd;                  // bound + listening, owned by the worker after start
  ListenerShared* shared;  // outlives the worker
};

class Worker {
 public:
  Worker(int id, std::shared_ptr<const config::Config> cfg, std::vector<ListenerSocket> sockets,
         AccessLog* access_log);
  ~Worker();

  // Starts the thread (which runs the loop until drained).
  void start();
  void join();
  // Runs `fn` on this worker's loop. Any thread.
  void post(std::function<void(Worker&)> fn);
  // Stop accepting, let in-flight streams finish, close idle connections;
  // connections still open after `deadline` are closed. Any thread.
  void drain(config::Duration deadline);

  int id() const { return id_; }
  uv_loop_t* loop() { return &loop_; }
  uint64_t now_ms() const { return uv_now(&loop_); }
  const config::Config& config() const { return *config_; }
  Stats& stats() { return stats_; }
  const Stats& stats() const { return stats_; }
  TimerWheel& timers() { return timers_; }
  AccessLog* access_log() { return access_log_; }
  ClusterPool& cluster(int index) { return *clusters_[static_cast<size_t>(index)]; }
  // Where this worker's server connections get the stream of each request
  // (the proxy's ProxyStreams, set by the server; a test may set a fake).
  // Set before start() when the worker has sockets.
  StreamFactory& streams() { return *streams_; }
  void set_streams(std::unique_ptr<StreamFactory> f);
  // What the listeners make of an accepted socket (core/listener.h). Set by
  // the layer that starts the worker, before start() when it has sockets.
  ConnectionAcceptor& acceptor() { return *acceptor_; }
  void set_acceptor(std::unique_ptr<ConnectionAcceptor> a);
  // Index of the first route of listener `li` in the flattened route stats.
  int route_base(int li) const { return route_base_[static_cast<size_t>(li)]; }
  bool draining() const { return draining_; }
  ListenerShared* listener_shared(int li) const;
  // True once the thread has left its loop (any thread may ask).
  bool done() const { return done_.load(std::memory_order_acquire); }

  // The shared read buffer (see TcpConnection).
  uv_buf_t read_buffer() { return uv_buf_init(read_buf_.get(), kReadBufferSize); }
  // Output buffers, recycled so steady traffic does not allocate. A taken
  // buffer is empty; give_buffer takes it back (or frees it).
  OutBuffer* take_buffer();
  void give_buffer(OutBuffer* b);
  void add_dirty(TcpConnection* c) { dirty_.push_back(c); }
  // Runs `fn` after the current callback, before the loop sleeps. Used to
  // leave a parser callback before starting work that re-enters a codec.
  void defer(std::function<void()> fn) { deferred_.push_back(std::move(fn)); }

  // The extension (above), or null. Owned; set before start().
  void set_extension(std::unique_ptr<WorkerExtension> e);
  WorkerExtension* extension() { return ext_.get(); }
  // Asks for extension()->on_check() before the loop sleeps: a store, cheap
  // enough for every event that queues work there.
  void want_check() { ext_check_ = true; }
  // Any thread: queues `msg` for extension()->on_posted on this worker's
  // loop. The lane for messages too frequent to allocate for (a std::function
  // in post() might): the Go bridge's resumes. One lock and one
  // uv_async_send, shared with post().
  void post_to_extension(uint64_t msg);

  // Lingering closes (TcpConnection::close_flushed). Rare, so the state
  // lives here, in a map, not in a field of every idle connection. linger
  // starts one that is closed after `idle_ms` without input; lingered says
  // the connection read more (restarts the idle timer; false once the total
  // cap, kLingerTotalMs, is used up: close it); unlinger forgets it (its
  // close()).
  static constexpr uint64_t kLingerTotalMs = 30'000;
  void linger(TcpConnection* c, uint32_t idle_ms);
  bool lingered(TcpConnection* c);
  void unlinger(TcpConnection* c);

  // Server connections register so drain can reach the idle ones.
  void add_downstream(DownstreamConnection* c);
  void remove_downstream(DownstreamConnection* c);
  size_t downstream_count() const { return downstreams_.size(); }

 private:
  static constexpr unsigned kReadBufferSize = 64 * 1024;
  void run();
  void on_check();
  void maybe_finish_drain();
  static void schedule_timer(void* ctx, uint64_t delay_ms);

  int id_;
  std::shared_ptr<const config::Config> config_;
  std::vector<ListenerSocket> sockets_;
  AccessLog* access_log_;
  uv_loop_t loop_;
  uv_check_t check_;
  uv_timer_t timer_;
  uv_timer_t drain_timer_;
  uv_async_t async_;
  std::mutex queue_mu_;  // control messages only; never on the request path
  std::vector<std::function<void(Worker&)>> queue_;
  std::vector<uint64_t> posted_;  // guarded by queue_mu_: for ext_
  std::thread thread_;
  std::unique_ptr<char[]> read_buf_;
  std::vector<std::unique_ptr<OutBuffer>> free_buffers_;
  std::vector<TcpConnection*> dirty_;
  std::vector<std::function<void()>> deferred_;
  std::vector<std::function<void()>> deferred_running_;
  TimerWheel timers_;
  struct Linger;
  std::unordered_map<TcpConnection*, std::unique_ptr<Linger>> lingering_;
  Stats stats_;
  std::vector<int> route_base_;
  std::vector<std::unique_ptr<Listener>> listeners_;
  std::vector<std::unique_ptr<ClusterPool>> clusters_;
  std::unique_ptr<StreamFactory> streams_;
  std::unique_ptr<ConnectionAcceptor> acceptor_;
  IntrusiveList<DownstreamConnection, &DownstreamConnection::worker_link> downstreams_;
  std::unique_ptr<WorkerExtension> ext_;
  bool ext_check_ = false;  // want_check() since ext_->on_check()
  bool draining_ = false;
  bool stopped_ = false;
  std::atomic<bool> done_{false};
};

}  // namespace moe
