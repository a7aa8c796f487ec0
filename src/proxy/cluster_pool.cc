#include "proxy/cluster_pool.h"

#include <uv.h>

#include <cstring>

#include "core/log.h"
#include "core/worker.h"
#include "http1/http1_client_connection.h"

namespace moe {

struct ClusterPool::Endpoint {
  const config::Address* addr;
  // Most recently used first: the warmest connection is reused, and the
  // coldest reach the idle timeout and close, so the pool shrinks by itself.
  IntrusiveList<Http1ClientConnection, &Http1ClientConnection::idle_link> idle;
};

ClusterPool::ClusterPool(Worker& worker, int index, const config::Cluster& cfg)
    : worker_(worker),
      index_(index),
      cfg_(cfg),
      stats_(*worker.stats().clusters[static_cast<size_t>(index)]),
      endpoint_stats_(worker.stats().endpoints[static_cast<size_t>(index)]),
      rng_(static_cast<unsigned>(uv_hrtime()) + static_cast<unsigned>(worker.id())) {
  for (const auto& a : cfg_.endpoints) {
    auto e = std::make_unique<Endpoint>();
    e->addr = &a;
    endpoints_.push_back(std::move(e));
  }
  // Workers start at different endpoints so that round robin spreads the
  // first requests of every worker.
  rr_next_ = static_cast<uint32_t>(worker.id());
}

ClusterPool::~ClusterPool() = default;

int ClusterPool::pick_endpoint() {
  const size_t n = endpoints_.size();
  if (n == 1) return 0;
  switch (cfg_.lb) {
    case config::LbPolicy::round_robin:
      return static_cast<int>(rr_next_++ % n);
    case config::LbPolicy::random:
      return static_cast<int>(rng_() % n);
    case config::LbPolicy::least_request: {
      // Power of two choices: two random endpoints, the less loaded wins.
      int a = static_cast<int>(rng_() % n), b = static_cast<int>(rng_() % n);
      return get(endpoint_stats(a).requests_active) <= get(endpoint_stats(b).requests_active) ? a : b;
    }
  }
  return 0;
}

void ClusterPool::acquire(Stream* s) {
  const int e = pick_endpoint();
  Endpoint& ep = *endpoints_[static_cast<size_t>(e)];
  if (Http1ClientConnection* c = ep.idle.pop_front()) {
    sub(stats_.connections_idle);
    c->attach(s);
    s->on_upstream_ready(*c);
    return;
  }
  // An idle connection to another endpoint beats opening a new one when the
  // pool is at its limit.
  if (connections_ < cfg_.max_connections) {
    connect(e, s);
    return;
  }
  for (auto& other : endpoints_) {
    if (Http1ClientConnection* c = other->idle.pop_front()) {
      sub(stats_.connections_idle);
      c->attach(s);
      s->on_upstream_ready(*c);
      return;
    }
  }
  if (pending_.size() < cfg_.max_pending) {
    pending_.push_back(s);
    add(stats_.pending);
    return;
  }
  add(stats_.overflow);
  s->on_upstream_failure(UpstreamFailure::overflow, "max_connections and max_pending reached");
}

void ClusterPool::cancel(Stream* s) {
  if (s->pending_link.linked()) {
    pending_.erase(s);
    sub(stats_.pending);
  }
}

void ClusterPool::connect(int e, Stream* s) {
  auto* c = new Http1ClientConnection(*this, e);
  connections_++;
  add(stats_.connections_active);
  add(endpoint_stats(e).connections_active);
  c->attach(s);
  s->on_upstream_attached(*c);
  const config::Address& a = *endpoints_[static_cast<size_t>(e)]->addr;
  int rc = c->connect(reinterpret_cast<const sockaddr*>(&a.addr));
  if (rc != 0) c->connect_failed(rc);
}

void ClusterPool::on_connected(Http1ClientConnection* c) {
  // The stream attached at connect time is told by the connection.
  (void)c;
}

void ClusterPool::on_connect_failed(Http1ClientConnection* c, int err) {
  add(stats_.connect_failures);
  add(endpoint_stats(c->endpoint_index()).connect_failures);
  log_debug("cluster {}: connect to {} failed: {}", cfg_.name, c->endpoint(), uv_strerror(err));
}

void ClusterPool::release(Http1ClientConnection* c) {
  if (Stream* s = pending_.pop_front()) {
    sub(stats_.pending);
    c->attach(s);
    s->on_upstream_ready(*c);
    return;
  }
  if (worker_.draining()) {
    c->close();
    return;
  }
  endpoints_[static_cast<size_t>(c->endpoint_index())]->idle.push_front(c);
  add(stats_.connections_idle);
}

void ClusterPool::on_closed(Http1ClientConnection* c) {
  if (c->idle_link.linked()) {
    endpoints_[static_cast<size_t>(c->endpoint_index())]->idle.erase(c);
    sub(stats_.connections_idle);
  }
  connections_--;
  sub(stats_.connections_active);
  sub(endpoint_stats(c->endpoint_index()).connections_active);
  // A slot opened: a waiting stream may now get a new connection.
  if (!pending_.empty() && connections_ < cfg_.max_connections && !worker_.draining()) {
    Stream* s = pending_.pop_front();
    sub(stats_.pending);
    connect(pick_endpoint(), s);
  }
}

void ClusterPool::close_idle() {
  for (auto& e : endpoints_) {
    while (Http1ClientConnection* c = e->idle.pop_front()) {
      sub(stats_.connections_idle);
      c->close();
    }
  }
}

}  // namespace moe
