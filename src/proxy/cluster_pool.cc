#include "proxy/cluster_pool.h"

#include <uv.h>

#include <cassert>
#include <cstring>

#include "core/log.h"
#include "core/worker.h"
#include "http1/http1_client_connection.h"
#include "http2/h2_client_connection.h"

namespace moe {

struct ClusterPool::Endpoint {
  const config::Address* addr;
  // Most recently used first: the warmest connection is reused, and the
  // coldest reach the idle timeout and close, so the pool shrinks by itself.
  IntrusiveList<Http1ClientConnection, &Http1ClientConnection::idle_link> idle;
  // protocol: h2c: every connection of the endpoint (connecting, active,
  // idle, draining); streams are multiplexed on them.
  IntrusiveList<H2ClientConnection, &H2ClientConnection::pool_link> h2;
};

ClusterPool::ClusterPool(Worker& worker, int index, const config::Cluster& cfg)
    : UpstreamPoolCallbacks(worker, cfg, *worker.stats().clusters[static_cast<size_t>(index)],
                            worker.stats().endpoints[static_cast<size_t>(index)]),
      index_(index),
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
  if (cfg_.protocol == config::UpstreamProtocol::h2c) {
    acquire_h2(s);
    return;
  }
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
  queue_or_overflow(s);
}

void ClusterPool::queue_or_overflow(Stream* s) {
  if (pending_.size() < cfg_.max_pending) {
    pending_.push_back(s);
    add(stats_.pending);
    if (!stalled_.empty()) shed_soon();
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
  stalled_.erase(s);
}

void ClusterPool::stalled(Stream* s) {
  if (!cfg_.shed_stalled_after.count() || s->stalled_link.linked()) return;
  stalled_.push_back(s);
  if (!pending_.empty() && !armed())
    worker_.timers().arm(this, static_cast<uint64_t>(cfg_.shed_stalled_after.count()), worker_.now_ms());
}

void ClusterPool::unstalled(Stream* s) { stalled_.erase(s); }

void ClusterPool::shed_soon() {
  if (shed_deferred_ || !cfg_.shed_stalled_after.count()) return;
  shed_deferred_ = true;
  // The pool lives as long as its worker's loop, which runs every deferred
  // call before it ends.
  worker_.defer([this] {
    shed_deferred_ = false;
    shed_stalled();
  });
}

void ClusterPool::shed_stalled() {
  const uint64_t after = static_cast<uint64_t>(cfg_.shed_stalled_after.count());
  if (!after) return;
  const uint64_t now = worker_.now_ms();
  // Pick first, then reset: a reset runs the stream's end, which takes it
  // off the lists (cancel) and gives its connection to the queue. A victim
  // is off every list before its reset (pop_front).
  IntrusiveList<Stream, &Stream::stalled_link> victims;
  const size_t want = pending_.size();
  stalled_.for_each([&](Stream* s) {
    if (victims.size() < want && s->stalled_since_ms() + after <= now) {
      stalled_.erase(s);
      victims.push_back(s);
    }
  });
  while (Stream* v = victims.pop_front()) {
    add(stats_.shed_stalled);
    log_debug("cluster {}: a stream whose client took nothing for {} ms gives its connection to a waiting request",
              cfg_.name, now - v->stalled_since_ms());
    v->shed_stalled();
  }
  if (!pending_.empty() && !stalled_.empty()) worker_.timers().arm(this, after, now);
  else disarm();
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
  if (rc != 0) connect_failed_later(c, rc);
}

template <class Connection>
void ClusterPool::connect_failed_later(Connection* c, int err) {
  // A connect that failed before it started (no route, bad address) is
  // reported as an asynchronous one is: from a deferred call, after acquire
  // (or the on_closed that opened the connection) has returned. Reported
  // from inside, the stream's failure path could retry into acquire while
  // acquire runs, or end the stream under a caller that still uses it
  // (h2_on_closed reads s->pending_link after acquire_h2). The connection
  // lives until then: its close is deferred too, and after this call.
  worker_.defer([c, err] { c->connect_failed(err); });
}

// ---- UpstreamPoolCallbacks: the connections of either protocol ------------------
// The cluster's protocol says which kind of connection `c` is.

void ClusterPool::on_connect_failed(UpstreamConnection& c, int err) {
  add(stats_.connect_failures);
  add(endpoint_stats(c.endpoint_index()).connect_failures);
  log_debug("cluster {}: connect to {} failed: {}", cfg_.name,
            endpoints_[static_cast<size_t>(c.endpoint_index())]->addr->text, uv_strerror(err));
}

void ClusterPool::on_capacity(UpstreamConnection& c) {
  if (cfg_.protocol == config::UpstreamProtocol::h2c) h2_capacity(&static_cast<H2ClientConnection&>(c));
  else release(&static_cast<Http1ClientConnection&>(c));
}

void ClusterPool::on_closed(UpstreamConnection& c) {
  if (cfg_.protocol == config::UpstreamProtocol::h2c) h2_on_closed(&static_cast<H2ClientConnection&>(c));
  else h1_on_closed(&static_cast<Http1ClientConnection&>(c));
}

bool ClusterPool::retry_elsewhere(UpstreamCodec& stream, UpstreamConnection& from) {
  assert(cfg_.protocol == config::UpstreamProtocol::h2c);
  return h2_retry(&static_cast<H2ClientStream&>(stream), &static_cast<H2ClientConnection&>(from));
}

// ---- protocol: http1 -------------------------------------------------------------

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

void ClusterPool::h1_on_closed(Http1ClientConnection* c) {
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
    // HTTP/2: GOAWAY; a connection closes when its streams are done.
    e->h2.for_each([](H2ClientConnection* c) { c->shutdown(); });
    while (Http1ClientConnection* c = e->idle.pop_front()) {
      sub(stats_.connections_idle);
      c->close();
    }
  }
}

// ---- protocol: h2c --------------------------------------------------------------

H2ClientConnection* ClusterPool::find_h2(int e, const H2ClientConnection* exclude) {
  H2ClientConnection* found = nullptr;
  // The first with room: streams fill one connection before the next opens.
  endpoints_[static_cast<size_t>(e)]->h2.for_each([&](H2ClientConnection* c) {
    if (!found && c != exclude && c->has_capacity()) found = c;
  });
  return found;
}

H2ClientConnection* ClusterPool::connect_h2(int e) {
  auto* c = new H2ClientConnection(*this, e);
  connections_++;
  add(stats_.connections_active);
  add(endpoint_stats(e).connections_active);
  endpoints_[static_cast<size_t>(e)]->h2.push_back(c);
  return c;
}

void ClusterPool::acquire_h2(Stream* s) {
  const int e = pick_endpoint();
  if (H2ClientConnection* c = find_h2(e, nullptr)) {
    c->attach(s);
    return;
  }
  if (connections_ < cfg_.max_connections) {
    H2ClientConnection* c = connect_h2(e);
    c->attach(s);  // on_upstream_attached: the stream can abandon it
    const config::Address& a = *endpoints_[static_cast<size_t>(e)]->addr;
    int rc = c->connect(reinterpret_cast<const sockaddr*>(&a.addr));
    if (rc != 0) connect_failed_later(c, rc);
    return;
  }
  for (size_t i = 0; i < endpoints_.size(); i++) {
    if (H2ClientConnection* c = find_h2(static_cast<int>(i), nullptr)) {
      c->attach(s);
      return;
    }
  }
  queue_or_overflow(s);
}

void ClusterPool::h2_capacity(H2ClientConnection* c) {
  while (!pending_.empty() && c->has_capacity()) {
    Stream* s = pending_.pop_front();
    sub(stats_.pending);
    c->attach(s);
  }
}

bool ClusterPool::h2_retry(H2ClientStream* hs, H2ClientConnection* from) {
  const int e = from->endpoint_index();
  H2ClientConnection* c = find_h2(e, from);
  if (!c) {
    for (size_t i = 0; i < endpoints_.size() && !c; i++) c = find_h2(static_cast<int>(i), from);
  }
  if (!c) {
    if (connections_ >= cfg_.max_connections) return false;
    c = connect_h2(e);
    const config::Address& a = *endpoints_[static_cast<size_t>(e)]->addr;
    c->adopt(hs);
    int rc = c->connect(reinterpret_cast<const sockaddr*>(&a.addr));
    if (rc != 0) connect_failed_later(c, rc);  // the caller is inside nghttp2
    return true;
  }
  c->adopt(hs);
  return true;
}

void ClusterPool::h2_on_closed(H2ClientConnection* c) {
  if (c->pool_link.linked()) endpoints_[static_cast<size_t>(c->endpoint_index())]->h2.erase(c);
  connections_--;
  sub(stats_.connections_active);
  sub(endpoint_stats(c->endpoint_index()).connections_active);
  // Room for a new connection: the first waiting stream opens it (others
  // follow as it fills, or as other connections free streams).
  while (!pending_.empty()) {
    Stream* s = pending_.pop_front();
    sub(stats_.pending);
    acquire_h2(s);
    if (s->pending_link.linked()) break;  // went back to the queue
  }
}

}  // namespace moe
