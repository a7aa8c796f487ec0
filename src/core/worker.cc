#include "core/worker.h"

#include <unistd.h>

#include <cstdlib>

#include "core/listener.h"
#include "core/log.h"
#include "transport/tcp_connection.h"
#include "proxy/cluster_pool.h"

namespace moe {

// One lingering close: its idle timer, and when it began (for the cap).
struct Worker::Linger final : TimerNode {
  TcpConnection* conn;
  uint64_t started_ms;
  uint32_t idle_ms;
  Linger(TcpConnection* c, uint64_t now, uint32_t ms) : conn(c), started_ms(now), idle_ms(ms) {}
  // close() calls unlinger, which destroys this node: nothing after it.
  void on_timeout() override { conn->close(); }
};

Worker::Worker(int id, std::shared_ptr<const config::Config> cfg, std::vector<ListenerSocket> sockets,
               AccessLog* access_log)
    : id_(id),
      config_(std::move(cfg)),
      sockets_(std::move(sockets)),
      access_log_(access_log),
      read_buf_(new char[kReadBufferSize]),
      timers_(&Worker::schedule_timer, this) {
  uv_loop_init(&loop_);
  uv_check_init(&loop_, &check_);
  check_.data = this;
  uv_check_start(&check_, [](uv_check_t* h) { static_cast<Worker*>(h->data)->on_check(); });
  uv_unref(reinterpret_cast<uv_handle_t*>(&check_));
  uv_timer_init(&loop_, &timer_);
  timer_.data = this;
  uv_timer_init(&loop_, &drain_timer_);
  drain_timer_.data = this;
  uv_async_init(&loop_, &async_, [](uv_async_t* a) {
    auto* w = static_cast<Worker*>(a->data);
    std::vector<std::function<void(Worker&)>> q;
    std::vector<uint64_t> posted;
    {
      std::lock_guard lk(w->queue_mu_);
      q.swap(w->queue_);
      posted.swap(w->posted_);
    }
    for (auto& fn : q) fn(*w);
    if (!posted.empty() && w->ext_) w->ext_->on_posted(posted);
    w->on_check();
  });
  async_.data = this;

  // Stats shaped like the config.
  for (const auto& l : config_->listeners) {
    route_base_.push_back(static_cast<int>(stats_.routes.size()));
    stats_.listeners.push_back(std::make_unique<ListenerStats>());
    for (size_t i = 0; i < l.routes.size(); i++) stats_.routes.push_back(std::make_unique<RouteStats>());
  }
  for (const auto& c : config_->clusters) {
    stats_.clusters.push_back(std::make_unique<ClusterStats>());
    stats_.endpoints.emplace_back();
    for (size_t i = 0; i < c.endpoints.size(); i++) stats_.endpoints.back().push_back(std::make_unique<EndpointStats>());
  }
  for (size_t i = 0; i < config_->clusters.size(); i++)
    clusters_.push_back(std::make_unique<ClusterPool>(*this, static_cast<int>(i), config_->clusters[i]));
}

Worker::~Worker() {
  listeners_.clear();
  clusters_.clear();
  ext_.reset();  // after everything that can end a stream it knows
  uv_loop_close(&loop_);
}

void Worker::set_streams(std::unique_ptr<StreamFactory> f) { streams_ = std::move(f); }
void Worker::set_acceptor(std::unique_ptr<ConnectionAcceptor> a) { acceptor_ = std::move(a); }
void Worker::set_extension(std::unique_ptr<WorkerExtension> e) { ext_ = std::move(e); }

void Worker::start() {
  thread_ = std::thread([this] {
    auto run = [](void* w) { static_cast<Worker*>(w)->run(); };
    if (ext_) ext_->run_thread(run, this);
    else run(this);
  });
}

void Worker::join() {
  if (thread_.joinable()) thread_.join();
}

void Worker::post(std::function<void(Worker&)> fn) {
  {
    std::lock_guard lk(queue_mu_);
    queue_.push_back(std::move(fn));
  }
  uv_async_send(&async_);
}

void Worker::schedule_timer(void* ctx, uint64_t delay_ms) {
  auto* w = static_cast<Worker*>(ctx);
  uv_timer_start(&w->timer_, [](uv_timer_t* t) {
    auto* w = static_cast<Worker*>(t->data);
    uv_update_time(&w->loop_);
    w->timers_.run(w->now_ms());
    w->on_check();
  }, delay_ms, 0);
  uv_unref(reinterpret_cast<uv_handle_t*>(&w->timer_));
}

void Worker::run() {
  if (!sockets_.empty() && (!acceptor_ || !streams_)) {
    log_error("worker {}: listening sockets but no acceptor or streams (Worker::set_acceptor, set_streams)", id_);
    std::abort();
  }
  for (const ListenerSocket& s : sockets_) {
    auto l = std::make_unique<Listener>(*this, s.listener_index, s.fd, s.shared);
    if (int rc = l->start(); rc != 0)
      log_error("worker {}: listener {}: {}", id_, config_->listeners[static_cast<size_t>(s.listener_index)].name, uv_strerror(rc));
    listeners_.push_back(std::move(l));
  }
  uv_run(&loop_, UV_RUN_DEFAULT);
  // Close every remaining handle so the loop can be closed cleanly. A close
  // callback may open a handle of its own (a pool retrying a stream on a new
  // connection while the last ones close): repeat until none is left, else
  // uv_loop_close fails and the loop's memory leaks.
  for (int round = 0; round < 16; round++) {
    bool any = false;
    uv_walk(&loop_, [](uv_handle_t* h, void* any) {
      *static_cast<bool*>(any) = true;
      if (!uv_is_closing(h)) uv_close(h, nullptr);
    }, &any);
    if (!any) break;
    uv_run(&loop_, UV_RUN_DEFAULT);
  }
  done_.store(true, std::memory_order_release);
}

OutBuffer* Worker::take_buffer() {
  if (free_buffers_.empty()) {
    // Most heads are a few hundred bytes; bodies grow it as needed.
    auto* b = new OutBuffer;
    b->data.reserve(512);
    return b;
  }
  OutBuffer* b = free_buffers_.back().release();
  free_buffers_.pop_back();
  return b;
}

void Worker::give_buffer(OutBuffer* b) {
  // Keep a bounded number of modest buffers; big ones (a burst of body
  // bytes) go back to the allocator.
  if (free_buffers_.size() < 64 && b->data.capacity() <= 64 * 1024) {
    b->data.clear();
    b->off = 0;
    free_buffers_.emplace_back(b);
  } else {
    delete b;
  }
}

void Worker::on_check() {
  // The extension's work (Go's batched crossing) and deferred work first:
  // they may queue writes, and each may queue more of the other.
  while (ext_check_ || !deferred_.empty()) {
    if (ext_check_) {
      ext_check_ = false;
      ext_->on_check();
    }
    if (!deferred_.empty()) {
      // Swapped with a second vector, so both keep their capacity.
      deferred_running_.swap(deferred_);
      for (auto& fn : deferred_running_) fn();
      deferred_running_.clear();
    }
  }
  // One flush per dirty connection per loop iteration.
  for (size_t i = 0; i < dirty_.size(); i++) dirty_[i]->flush();
  dirty_.clear();
  // A flush can complete work that defers more (rare): run it now rather
  // than after the loop sleeps.
  if (!deferred_.empty() || ext_check_) on_check();
  if (draining_) maybe_finish_drain();
}

void Worker::post_to_extension(uint64_t msg) {
  {
    std::lock_guard lk(queue_mu_);
    posted_.push_back(msg);
  }
  uv_async_send(&async_);
}

ListenerShared* Worker::listener_shared(int li) const {
  for (const ListenerSocket& s : sockets_)
    if (s.listener_index == li) return s.shared;
  return nullptr;
}

void Worker::linger(TcpConnection* c, uint32_t idle_ms) {
  // A rare path (a close with the peer still talking, or every close of a
  // connection the server ends): one allocation here is fine.
  auto& l = lingering_[c];
  l = std::make_unique<Linger>(c, now_ms(), idle_ms);
  timers_.arm(l.get(), idle_ms, now_ms());
}

bool Worker::lingered(TcpConnection* c) {
  auto it = lingering_.find(c);
  if (it == lingering_.end()) return false;
  Linger& l = *it->second;
  const uint64_t now = now_ms();
  if (now - l.started_ms >= kLingerTotalMs) return false;
  timers_.arm(&l, l.idle_ms, now);
  return true;
}

void Worker::unlinger(TcpConnection* c) { lingering_.erase(c); }

void Worker::add_downstream(DownstreamConnection* c) { downstreams_.push_back(c); }
void Worker::remove_downstream(DownstreamConnection* c) {
  downstreams_.erase(c);
  if (draining_) maybe_finish_drain();  // the last close callback ends the loop
}

void Worker::drain(config::Duration deadline) {
  post([deadline](Worker& w) {
    if (w.draining_) return;
    w.draining_ = true;
    for (auto& l : w.listeners_) l->close();
    w.downstreams_.for_each([](DownstreamConnection* c) { c->start_drain(); });
    // Lingering closes are a courtesy to clients still talking; a drain
    // ends them now (close() takes each out of the map).
    while (!w.lingering_.empty()) w.lingering_.begin()->first->close();
    for (auto& c : w.clusters_) c->close_idle();
    uv_timer_start(&w.drain_timer_, [](uv_timer_t* t) {
      auto* w = static_cast<Worker*>(t->data);
      log_warn("worker {}: drain timeout: closing {} connections", w->id_, w->downstreams_.size());
      w->downstreams_.for_each([](DownstreamConnection* c) { c->force_close(); });
      w->on_check();
    }, static_cast<uint64_t>(deadline.count()), 0);
    w.maybe_finish_drain();
  });
}

void Worker::maybe_finish_drain() {
  if (stopped_ || !downstreams_.empty()) return;
  stopped_ = true;
  for (auto& c : clusters_) c->close_idle();
  uv_timer_stop(&drain_timer_);
  uv_stop(&loop_);
}

}  // namespace moe
