#include "proxy/stream.h"

#include <uv.h>

#include "core/access_log.h"
#include "core/tcp_connection.h"
#include "core/worker.h"
#include "proxy/cluster_pool.h"
#include "proxy/router.h"

namespace moe {
namespace {

inline uint64_t now_us() { return uv_hrtime() / 1000; }

// Connection-specific headers (RFC 9110 7.6.1). Proxy-Authorization and
// Proxy-Authenticate are left alone, as Envoy and nginx do.
constexpr std::string_view kHopByHop[] = {"connection", "keep-alive", "proxy-connection", "te",
                                          "trailer",    "transfer-encoding", "upgrade"};

}  // namespace

Stream::Stream(Worker& worker, DownstreamCodec& downstream, int listener_index)
    : worker_(worker), downstream_(downstream), listener_index_(listener_index), start_us_(now_us()) {}

Stream::~Stream() {
  // A stream destroyed without finishing (connection torn down) must not
  // leave pointers behind in a pool or an upstream codec.
  detach_upstream();
}

// ---- downstream events ----------------------------------------------------

void Stream::on_request_headers(bool end_stream) {
  request_headers_done_ = true;
  request_done_ = end_stream;
  bytes_received_ += request_.headers.bytes();
  route_and_forward();
}

void Stream::route_and_forward() {
  const config::Listener& lc = worker_.config().listeners[static_cast<size_t>(listener_index_)];
  route_index_ = match_route(lc, request_);
  if (route_index_ < 0) {
    send_local_reply(404, "no route matched\n");
    return;
  }
  route_ = &lc.routes[static_cast<size_t>(route_index_)];
  max_body_ = route_->max_request_body ? *route_->max_request_body : lc.limits.max_request_body;
  if (max_body_ && request_.content_length > 0 && static_cast<uint64_t>(request_.content_length) > max_body_) {
    send_local_reply(413, "request body too large\n", true);
    return;
  }
  if (route_->direct_response) {
    const config::DirectResponse& d = *route_->direct_response;
    response_.headers.clear();
    response_.status = d.status;
    for (const auto& h : d.headers) response_.headers.add(h.name, h.value);
    if (!response_.headers.has("content-type")) response_.headers.add("content-type", "text/plain");
    response_.content_length = static_cast<int64_t>(d.body.size());
    response_.has_body = !d.body.empty() && !request_.is_head;
    response_started_ = response_done_ = true;
    downstream_.encode_headers(response_, !response_.has_body);
    if (response_.has_body) downstream_.encode_data(d.body.data(), d.body.size(), true);
    bytes_sent_ += d.body.size();
    finish();
    return;
  }
  strip_hop_by_hop(request_, request_.upgrade);
  add_forwarding_headers();
  if (route_->prefix_rewrite && route_->match.prefix) {
    std::string_view path = request_.path();
    std::string rewritten = *route_->prefix_rewrite;
    rewritten.append(path.substr(route_->match.prefix->size()));
    request_.set_path(rewritten);
  }
  if (route_->timeout.count() > 0)
    worker_.timers().arm(this, static_cast<uint64_t>(route_->timeout.count()), worker_.now_ms());
  pool_ = &worker_.cluster(route_->cluster_index);
  pool_->acquire(this);  // may call on_upstream_ready / on_upstream_failure right away
}

void Stream::strip_hop_by_hop(MessageHead& head, bool keep_upgrade) {
  HeaderMap& h = head.headers;
  // Headers named in Connection are hop-by-hop too. Collect the names first:
  // removing entries while reading Connection values would shift the spans.
  std::string named;
  for (size_t i = 0; i < h.size(); i++) {
    if (h.name(i) != "connection") continue;
    named.append(h.value(i));
    named.push_back(',');
  }
  if (!named.empty()) {
    for (size_t i = h.size(); i-- > 0;) {
      std::string_view n = h.name(i);
      if (keep_upgrade && n == "upgrade") continue;
      if (n != "connection" && header_list_has(named, n)) h.remove_at(i);
    }
  }
  for (std::string_view n : kHopByHop) {
    if (keep_upgrade && n == "upgrade") continue;
    if (n == "te") {
      // "te: trailers" is end-to-end in practice (gRPC needs it); other TE
      // values are hop-by-hop.
      bool trailers = header_list_has(h.get("te"), "trailers");
      if (h.remove("te") && trailers) h.add("te", "trailers");
      continue;
    }
    h.remove(n);
  }
  if (keep_upgrade) h.add("connection", "upgrade");
}

void Stream::add_forwarding_headers() {
  HeaderMap& h = request_.headers;
  std::string_view ip = downstream_.peer_ip();
  bool found = false;
  std::string_view xff = h.get("x-forwarded-for", &found);
  if (found) {
    std::string v;
    v.reserve(xff.size() + 2 + ip.size());
    v.append(xff).append(", ").append(ip);
    h.set("x-forwarded-for", v);
  } else {
    h.add("x-forwarded-for", ip);
  }
  // Overwritten, not trusted from the client.
  h.set("x-forwarded-proto", "http");
}

void Stream::on_request_data(const char* p, size_t n) {
  bytes_received_ += n;
  request_body_bytes_ += n;
  if (max_body_ && request_body_bytes_ > max_body_ && !tunnel_) {
    if (!response_started_) {
      detach_upstream();
      send_local_reply(413, "request body too large\n", true);
    }
    return;
  }
  if (response_done_) return;  // e.g. a direct response: the rest of the body is dropped
  if (upstream_) {
    upstream_->encode_data(p, n, false);
    if (upstream_->above_high_watermark() && !downstream_read_disabled_) {
      downstream_read_disabled_ = true;
      downstream_.read_disable(true);
    }
    return;
  }
  // No upstream yet (connecting, pending): hold the bytes, bounded.
  pending_body_.append(p, n);
  if (pending_body_.size() > TcpConnection::kHighWatermark && !downstream_read_disabled_) {
    downstream_read_disabled_ = true;
    downstream_.read_disable(true);
  }
}

void Stream::on_request_trailers() {
  request_has_trailers_ = true;
  request_done_ = true;
  if (upstream_) upstream_->encode_trailers(request_trailers_);
  if (response_done_) finish();
}

void Stream::on_request_end() {
  request_done_ = true;
  if (upstream_ && request_.has_body) upstream_->encode_data(nullptr, 0, true);
  if (response_done_) finish();
}

void Stream::on_downstream_reset() {
  flag("DC");
  detach_upstream();
  finish();
}

void Stream::on_downstream_drained() {
  if (upstream_read_disabled_ && upstream_) {
    upstream_read_disabled_ = false;
    upstream_->read_disable(false);
  }
}

// ---- upstream -------------------------------------------------------------

void Stream::on_upstream_ready(UpstreamCodec& up) {
  upstream_ = &up;
  if (!upstream_start_us_) upstream_start_us_ = now_us();
  upstream_host_.assign(up.endpoint());
  const bool end = request_done_ && !request_.has_body;
  up.encode_headers(request_, end);
  if (!pending_body_.empty()) {
    up.encode_data(pending_body_.data(), pending_body_.size(), false);
    std::string().swap(pending_body_);
  }
  if (request_done_ && request_.has_body) {
    if (request_has_trailers_) up.encode_trailers(request_trailers_);
    else up.encode_data(nullptr, 0, true);
  }
  if (downstream_read_disabled_ && !up.above_high_watermark()) {
    downstream_read_disabled_ = false;
    downstream_.read_disable(false);
  }
}

void Stream::on_upstream_failure(UpstreamFailure why, std::string_view detail) {
  UpstreamCodec* up = upstream_;
  const bool was_reused = up && up->reused();
  upstream_ = nullptr;  // the codec is going away; do not reset it
  pool_ = nullptr;
  // A pooled connection the upstream had already closed: retry once on a
  // fresh one, if nothing of the response came back and the request can be
  // replayed (no body, so nothing was consumed).
  if (why == UpstreamFailure::reset_before_response && was_reused && !retried_ && !request_.has_body &&
      route_) {
    retried_ = true;
    pool_ = &worker_.cluster(route_->cluster_index);
    pool_->acquire(this);
    return;
  }
  switch (why) {
    case UpstreamFailure::connect_failed: flag("UF"); break;
    case UpstreamFailure::overflow: flag("UO"); break;
    case UpstreamFailure::protocol_error: flag("UP"); break;
    default: flag("UR"); break;
  }
  if (response_started_) {
    // Part of the response is out: it cannot be completed, so the client
    // must see the connection end rather than a truncated success.
    downstream_.reset_stream();
    finish();
    return;
  }
  const int status = why == UpstreamFailure::overflow ? 503 : 502;
  std::string body = status == 503 ? "upstream overflow: " : "upstream error: ";
  body.append(detail).push_back('\n');
  send_local_reply(status, body, !request_done_);
}

void Stream::on_response_headers(bool end_stream) {
  const int status = response_.status;
  if (status >= 100 && status < 200 && status != 101) {
    // Interim (100 Continue, 103): pass it on; the final response follows.
    downstream_.encode_headers(response_, false);
    return;
  }
  response_started_ = true;
  if ((status == 101 && request_.upgrade) || (request_.is_connect && status >= 200 && status < 300)) {
    tunnel_ = true;
    worker_.timers().arm(this, 0, 0);  // a tunnel lives as long as its peers do
  }
  strip_hop_by_hop(response_, tunnel_ && !request_.is_connect);
  bytes_sent_ += response_.headers.bytes();
  downstream_.encode_headers(response_, end_stream);
  if (end_stream) on_response_end();
}

void Stream::on_response_data(const char* p, size_t n) {
  bytes_sent_ += n;
  downstream_.encode_data(p, n, false);
  if (downstream_.above_high_watermark() && upstream_ && !upstream_read_disabled_) {
    upstream_read_disabled_ = true;
    upstream_->read_disable(true);
  }
}

void Stream::on_response_trailers() {
  downstream_.encode_trailers(response_trailers_);
  response_done_ = true;
  upstream_ = nullptr;
  pool_ = nullptr;
  finish();  // if the request is not complete, the downstream codec closes after this
}

void Stream::on_response_end() {
  if (!response_done_) {
    response_done_ = true;
    if (response_.has_body || tunnel_) downstream_.encode_data(nullptr, 0, true);
  }
  // The upstream codec releases itself to the pool after this returns.
  upstream_ = nullptr;
  pool_ = nullptr;
  finish();
}

void Stream::on_upstream_drained() {
  if (downstream_read_disabled_) {
    downstream_read_disabled_ = false;
    downstream_.read_disable(false);
  }
}

void Stream::on_timeout() {
  flag("UT");
  add(worker_.cluster(route_->cluster_index).stats().timeouts);
  detach_upstream();
  if (response_started_) {
    downstream_.reset_stream();
    finish();
    return;
  }
  send_local_reply(504, "upstream request timeout\n", !request_done_);
}

// ---- ending ---------------------------------------------------------------

void Stream::send_local_reply(int status, std::string_view body, bool close) {
  response_.headers.clear();
  response_.status = status;
  response_.headers.add("content-type", "text/plain");
  response_.content_length = static_cast<int64_t>(body.size());
  response_.has_body = !body.empty() && !request_.is_head;
  if (close) {
    close_connection_ = true;
    response_.headers.add("connection", "close");
  }
  response_started_ = response_done_ = true;
  downstream_.encode_headers(response_, !response_.has_body);
  if (response_.has_body) downstream_.encode_data(body.data(), body.size(), true);
  bytes_sent_ += body.size();
  finish();
}

void Stream::detach_upstream() {
  if (upstream_) {
    UpstreamCodec* up = upstream_;
    upstream_ = nullptr;
    up->reset_stream();
  }
  if (pool_) {
    pool_->cancel(this);
    pool_ = nullptr;
  }
}

void Stream::finish() {
  if (finished_) return;
  finished_ = true;
  disarm();
  detach_upstream();
  const uint64_t end = now_us();
  const uint64_t dur = end - start_us_;
  Stats& st = worker_.stats();
  const int sc = response_started_ ? status_class(response_.status) : 0;
  const int status = response_started_ ? response_.status : 0;
  add(st.requests_total);
  ListenerStats& ls = *st.listeners[static_cast<size_t>(listener_index_)];
  add(ls.bytes_received, bytes_received_);
  add(ls.bytes_sent, bytes_sent_);
  ls.request_duration.observe_us(dur);
  if (route_index_ >= 0) add(st.routes[static_cast<size_t>(worker_.route_base(listener_index_) + route_index_)]->requests[sc]);
  else add(ls.no_route.requests[sc]);
  int64_t upstream_us = -1;
  if (upstream_start_us_) {
    upstream_us = static_cast<int64_t>(end - upstream_start_us_);
    worker_.cluster(route_->cluster_index).stats().upstream_duration.observe_us(static_cast<uint64_t>(upstream_us));
  }
  if (AccessLog* log = worker_.access_log()) {
    const config::Listener& lc = worker_.config().listeners[static_cast<size_t>(listener_index_)];
    AccessRecord r;
    r.method = request_.method();
    r.path = request_.path();
    r.protocol = downstream_.protocol();
    r.status = status;
    r.bytes_received = bytes_received_;
    r.bytes_sent = bytes_sent_;
    r.duration_us = dur;
    r.upstream_us = upstream_us;
    r.upstream_host = upstream_host_;
    r.flags = flags_;
    r.listener = lc.name;
    if (route_) {
      r.route = route_->name;
      if (route_->cluster_index >= 0) r.cluster = route_->cluster;
    }
    r.request_id = request_.headers.get("x-request-id");
    log->log(worker_.id(), r);
  }
  downstream_.on_stream_complete();  // may destroy this stream: nothing after
}

}  // namespace moe
