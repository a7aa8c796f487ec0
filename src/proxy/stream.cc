#include "proxy/stream.h"

#include <uv.h>

#include <algorithm>
#include <cassert>
#include <charconv>
#include <chrono>
#include <cstring>

#include "core/access_log.h"
#include "core/log.h"
#include "transport/tcp_connection.h"
#include "core/worker.h"
#include "proxy/grpc.h"
#include "proxy/cluster_pool.h"
#include "proxy/path_normalize.h"
#include "proxy/router.h"

namespace moe {
namespace {

inline uint64_t now_us() { return uv_hrtime() / 1000; }

}  // namespace

Stream::Stream(Worker& worker, DownstreamCodec& downstream, int listener_index, FilterRuntime* filters)
    : worker_(worker),
      filters_(filters),
      downstream_(downstream),
      listener_index_(listener_index),
      start_us_(now_us()),
      go_events_(filters ? filters->chain_events(listener_index) : 0) {}

Stream::~Stream() {
  // A stream destroyed without finishing (connection torn down) must not
  // leave pointers behind in a pool, an upstream codec or the resume table.
  detach_upstream();
  assert(!stalled_link.linked() && !pending_link.linked());  // every path that clears pool_ unlinks first
  if (handle_) filters_->unregister_stream(handle_);
}

// ---- downstream events ----------------------------------------------------

void Stream::on_request_headers(bool end_stream) {
  request_headers_done_ = true;
  request_done_ = end_stream;
  bytes_received_ += request_.headers.bytes();
  // Hop-by-hop fields, and those the client's Connection names, go before
  // any filter or route sees the request: stripped later, a client's
  // "Connection: x-user-id" would remove what a filter set.
  strip_hop_by_hop(request_, request_.upgrade);
  const config::Listener& lc = listener_config();
  // gRPC (proxy/grpc.h) rides on HTTP/2 only: HTTP/1 requests skip the
  // header lookup.
  grpc_ = request_.version_major == 2 && grpc::is_grpc(request_.headers.get("content-type"));
  received_path_ = request_.path();  // for the access log: a normalised or rewritten path gets a new view
  // The common path is one scan, here; the rest is out of line.
  if (!path_is_normal(request_.path(), lc.path_normalization) && !normalize_request_path(lc, false)) return;
  match(lc);
  if (wants(MOE_EV_REQUEST_HEADERS)) {
    req_held_ = true;
    if (batch_go(MOE_EV_REQUEST_HEADERS, end_stream)) return;  // goes on in on_go_batched
    const int32_t r = call_go(MOE_EV_REQUEST_HEADERS, end_stream, nullptr);
    if (finished_ || r == MOE_LOCAL_REPLY) return;
    if (r == MOE_PENDING) {
      go_pending_ = MOE_EV_REQUEST_HEADERS;
      return;
    }
    if (r == MOE_STOP_AND_BUFFER && !request_done_) {
      req_buffering_ = true;
      return;
    }
    req_held_ = false;
  }
  route_and_forward();
}

const config::Listener& Stream::listener_config() const {
  return worker_.config().listeners[static_cast<size_t>(listener_index_)];
}

void Stream::match(const config::Listener& lc) {
  route_index_ = match_route(lc, request_);
  route_ = route_index_ >= 0 ? &lc.routes[static_cast<size_t>(route_index_)] : nullptr;
}

// Routes, Go filters and the upstream all see the normalised path
// (proxy/path_normalize.h). Called when path_is_normal() said no.
bool Stream::normalize_request_path(const config::Listener& lc, bool after_filter) {
  const PathVerdict v = normalize_path(request_.path(), lc.path_normalization);
  switch (v.kind) {
    case PathVerdict::Kind::unchanged: return true;
    case PathVerdict::Kind::reject: {
      std::string body = "Bad Request: ";
      body.append(v.reason).append("\n");
      send_local_reply(400, body);
      return false;
    }
    case PathVerdict::Kind::redirect:
      // After a filter's SetPath the path is the filter's, not the client's.
      if (!after_filter) {
        const config::HeaderValue location[] = {{"location", std::string(v.target)}};
        send_reply(307, {}, location, false);
        return false;
      }
      [[fallthrough]];
    case PathVerdict::Kind::changed: request_.set_path(v.target); return true;
  }
  return true;
}

void Stream::route_and_forward() {
  const config::Listener& lc = listener_config();
  if (head_modified_) {
    if (!path_is_normal(request_.path(), lc.path_normalization) && !normalize_request_path(lc, true)) return;
    match(lc);
  }
  if (!route_) {
    send_local_reply(404, "no route matched\n");
    return;
  }
  max_body_ = route_->max_request_body ? *route_->max_request_body : lc.limits.max_request_body;
  // The limit of the final route (a filter's SetPath may have re-matched:
  // set here, not at the first match, or a body bound for a route with a
  // larger limit got the first route's 413). The body as sized now (a
  // buffered one, as the filters left it), and
  // the bytes the client sent: a chunked body with trailers stays unsized.
  if (max_body_ && ((request_.content_length > 0 && static_cast<uint64_t>(request_.content_length) > max_body_) ||
                    request_body_bytes_ > max_body_)) {
    send_local_reply(413, "request body too large\n", true);
    return;
  }
  if (route_->direct_response) {
    const config::DirectResponse& d = *route_->direct_response;
    send_reply(d.status, d.body, d.headers, false);  // the config's fields, not copies
    return;
  }
  if (request_.upgrade) request_.headers.add("connection", "upgrade");
  add_forwarding_headers();
  if (route_->prefix_rewrite && route_->match.prefix) {
    std::string_view path = request_.path();
    std::string rewritten = *route_->prefix_rewrite;
    rewritten.append(path.substr(route_->match.prefix->size()));
    request_.set_path(rewritten);
  }
  int64_t timeout_ms = route_->timeout.count();
  if (grpc_) {
    // The client's deadline, when shorter: past it nobody waits for the
    // answer, so the upstream call is cancelled and the client told
    // DEADLINE_EXCEEDED (clients that enforce it themselves reset first).
    const int64_t t = grpc::parse_timeout_ms(request_.headers.get("grpc-timeout"));
    if (t > 0 && (timeout_ms <= 0 || t < timeout_ms)) timeout_ms = t;
  }
  if (timeout_ms > 0) worker_.timers().arm(this, static_cast<uint64_t>(timeout_ms), worker_.now_ms());
  pool_ = &worker_.cluster(route_->cluster_index);
  pool_->acquire(this);  // may call on_upstream_ready / on_upstream_failure right away
}

void Stream::strip_hop_by_hop(MessageHead& head, bool keep_upgrade) {
  HeaderMap& h = head.headers;
  // TE is hop-by-hop; "trailers" in it is remembered for an HTTP/2 upstream
  // codec, which sends "te: trailers" itself (gRPC needs it).
  if (&head == &request_) request_.te_trailers = header_list_has(h.get("te"), "trailers");
  // Headers named in Connection are hop-by-hop too. Its tokens are views
  // into the arena, which removing spans does not move, so they can be held
  // while entries go (no copy). They are split once here, not once per
  // field; past kMaxTokens (rare, or abuse) the lists are scanned per field
  // instead, so every field a Connection value names still goes.
  constexpr size_t kMaxTokens = 8;
  std::string_view named[kMaxTokens];
  size_t n_named = 0;
  constexpr size_t kMaxConnectionHeaders = 8;  // more is abuse: the rest are ignored
  std::string_view lists[kMaxConnectionHeaders];
  size_t n_lists = 0;
  bool overflow = false;
  for (size_t i = 0; i < h.size() && n_lists < kMaxConnectionHeaders; i++) {
    if (h.name(i) != "connection") continue;
    lists[n_lists++] = h.value(i);
    any_list_token(h.value(i), [&](std::string_view tok) {
      if (tok.empty()) return false;
      if (n_named == kMaxTokens) return overflow = true;
      named[n_named++] = tok;
      return false;
    });
  }
  // One pass over the fields for both lists.
  h.remove_if([&](std::string_view n) {
    if (keep_upgrade && n == "upgrade") return false;
    if (is_hop_by_hop(n)) return true;
    for (size_t k = 0; k < n_named; k++)
      if (iequals(named[k], n)) return true;
    if (overflow)
      for (size_t k = 0; k < n_lists; k++)
        if (header_list_has(lists[k], n)) return true;
    return false;
  });
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
  h.set("x-forwarded-proto", listener_config().tls ? "https" : "http");
}

void Stream::on_tunnel_data(const char* p, size_t n) {
  if (response_done_) return;  // the upstream refused the tunnel and answered
  if (tunnel_open()) {
    forward_request_data(p, n);
    return;
  }
  // Nothing after an Upgrade or CONNECT head goes upstream before the
  // upstream has agreed to the tunnel (101, or 2xx to CONNECT): an upstream
  // that answers normally would read these bytes as its next request, which
  // no route and no filter saw (request smuggling). They wait here, bounded:
  // past the watermark the client is not read (open_tunnel resumes it). If
  // the answer is not a tunnel, they are dropped with the connection. An
  // upstream may agree before the request's body has passed the filters
  // (a 101 right after the head): they wait for that body too, which
  // goes first (request_end_ready).
  tunnel_early_.append(p, n);
  if (tunnel_early_.size() > TcpConnection::kHighWatermark) pause_downstream();
}

void Stream::pause_downstream() {
  if (downstream_read_disabled_) return;
  downstream_read_disabled_ = true;
  downstream_.read_disable(true);
}

void Stream::resume_downstream() {
  if (!downstream_read_disabled_) return;
  // Held tunnel bytes keep the client paused until the upstream agrees
  // (open_tunnel), whatever else drained.
  if (!tunnel_open() && tunnel_early_.size() > TcpConnection::kHighWatermark) return;
  // So do body bytes waiting for a Pending filter (not a buffering one: it
  // needs the whole body, bounded by its own limit).
  if (!req_buffering_ && req_unseen_.size() > TcpConnection::kHighWatermark) return;
  // And an upstream that is not taking bytes (on_upstream_drained resumes).
  if (upstream_ && upstream_->above_high_watermark()) return;
  downstream_read_disabled_ = false;
  downstream_.read_disable(false);
}

void Stream::open_tunnel() {
  if (!tunnel_open()) return;  // request_end_ready opens it, after the body
  if (!tunnel_early_.empty() && upstream_) {
    upstream_->encode_data(tunnel_early_.data(), tunnel_early_.size(), false);
    std::string().swap(tunnel_early_);
  }
  if (upstream_) resume_downstream();
}

void Stream::on_downstream_reset() {
  flag("DC");
  detach_upstream();
  finish();
}

void Stream::on_downstream_drained() { resume_upstream_read(); }

// ---- upstream -------------------------------------------------------------

void Stream::on_upstream_ready(UpstreamCodec& up) {
  upstream_ = &up;
  upstream_ready_ = true;
  if (!upstream_start_us_) upstream_start_us_ = now_us();
  upstream_host_ = up.endpoint();
  const bool end = request_done_ && !request_.has_body;
  up.encode_headers(request_, end);
  // pending_body_ holds only bytes every body hook has passed (the chain's
  // own bytes wait in req_unseen_ / go_chunk_), so they go now, and the end
  // once the chain has passed it (pump_request).
  if (!pending_body_.empty()) {
    up.encode_data(pending_body_.data(), pending_body_.size(), false);
    std::string().swap(pending_body_);
  }
  if (req_end_ready_) send_request_end();
  resume_downstream();
}

void Stream::on_upstream_failure(UpstreamFailure why, std::string_view detail, std::string_view endpoint) {
  if (!endpoint.empty()) upstream_host_ = endpoint;  // UF lines name the endpoint that failed
  UpstreamCodec* up = upstream_;
  const bool was_reused = up && upstream_ready_ && up->reused();
  upstream_ = nullptr;  // the codec is going away; do not reset it
  upstream_ready_ = false;
  leave_pool();
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
  if (response_started_ && !resp_held_) {
    // Part of the response is out: it cannot be completed, so the client
    // must see the connection end rather than a truncated success.
    abort_response(grpc::kUnavailable, "upstream connection lost mid-response");
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
  const bool upgraded = tunnel_ && !request_.is_connect;
  strip_hop_by_hop(response_, upgraded);
  if (upgraded) response_.headers.add("connection", "upgrade");
  if (!later_headers_.empty()) apply_later_headers();
  if (wants(MOE_EV_RESPONSE_HEADERS) && !tunnel_) {
    resp_held_ = true;
    // Held (a request event of this stream is in Go, the batch, or
    // Pending): a response that ends here (204, 304, HEAD, Content-Length:
    // 0) is over for the upstream codec, which releases its stream or
    // connection when this returns; on_response_end lets go of it now, so
    // that ending the stream later cannot reset a connection that serves
    // another stream by then.
    if (go_pending_) {
      // One event of a stream is in Go at a time: this one runs when the
      // filter that is Pending resumes (pump_response).
      resp_headers_queued_ = true;
      resp_headers_end_ = end_stream;
      if (end_stream) on_response_end();
      return;
    }
    if (batch_go(MOE_EV_RESPONSE_HEADERS, end_stream)) {  // goes on in on_go_batched
      if (end_stream) on_response_end();
      return;
    }
    const int32_t r = call_go(MOE_EV_RESPONSE_HEADERS, end_stream, nullptr);
    if (finished_ || r == MOE_LOCAL_REPLY) return;
    if (r == MOE_PENDING) {
      go_pending_ = MOE_EV_RESPONSE_HEADERS;
      if (end_stream) on_response_end();
      return;
    }
    if (r == MOE_STOP_AND_BUFFER && !end_stream) {
      resp_buffering_ = true;
      return;
    }
    resp_held_ = false;
  }
  encode_response_headers(end_stream);
  if (tunnel_) open_tunnel();
  if (end_stream) on_response_end();
}

void Stream::apply_later_headers() {
  for (const LaterHeader& h : later_headers_) {
    switch (h.op) {
      case MOE_OP_SET: response_.headers.set(h.name, h.value); break;
      case MOE_OP_ADD: response_.headers.add(h.name, h.value); break;
      default:  // MOE_OP_ADD_IF_ABSENT
        if (!response_.headers.has(h.name)) response_.headers.add(h.name, h.value);
        break;
    }
  }
}

void Stream::encode_response_headers(bool end_stream) {
  bytes_sent_ += response_.headers.bytes();
  downstream_.encode_headers(response_, end_stream);
}

void Stream::encode_response_data(const char* p, size_t n, bool end_stream) {
  downstream_.encode_data(p, n, end_stream);
  if (downstream_.above_high_watermark() && upstream_ && !upstream_read_disabled_) {
    upstream_read_disabled_ = true;
    upstream_->read_disable(true);
    // The client is not taking the response. If that lasts while other
    // requests wait for a connection, the pool takes this one back.
    if (pool_ && !end_stream) {
      stall_start_ms_ = worker_.now_ms();
      pool_->stalled(this);
    }
  }
}

void Stream::resume_upstream_read() {
  if (upstream_read_disabled_ && upstream_) {
    upstream_read_disabled_ = false;
    upstream_->read_disable(false);
  }
  if (stalled_link.linked()) pool_->unstalled(this);
}

uint64_t Stream::stalled_since_ms() const { return std::max(stall_start_ms_, downstream_.last_progress_ms()); }

void Stream::shed_stalled() {
  flag("DS");
  abort_response(14 /* UNAVAILABLE */, "the client took no response bytes while requests waited for its connection");
}

void Stream::on_upstream_drained() {
  resume_downstream();
}

void Stream::on_timeout() {
  flag("UT");
  if (route_ && route_->cluster_index >= 0) add(worker_.cluster(route_->cluster_index).stats().timeouts);
  detach_upstream();
  if (response_started_ && !resp_held_) {
    abort_response(grpc::kDeadlineExceeded, "upstream request timeout");
    return;
  }
  send_local_reply(504, "upstream request timeout\n", !request_done_);
}

// ---- ending ---------------------------------------------------------------

void Stream::send_local_reply(int status, std::string_view body, bool close) {
  send_reply(status, body, {}, close);
}

void Stream::abort_response(int grpc_code, std::string_view why) {
  if (grpc_ && downstream_.trailers_ok() && !response_done_) {
    // A gRPC client reads the status from the trailers: end the stream with
    // one instead of a reset it would report as INTERNAL. A message cut in
    // the middle still fails on the client's side (short read).
    response_trailers_.clear();
    response_trailers_.add("grpc-status", std::to_string(grpc_code));
    response_trailers_.add("grpc-message", why);
    response_done_ = true;
    downstream_.encode_trailers(response_trailers_);
    finish();
    return;
  }
  downstream_.reset_stream();
  finish();
}

void Stream::send_reply(int status, std::string_view body, std::span<const config::HeaderValue> headers,
                        bool close) {
  response_.headers.clear();
  // A gRPC request gets moe's error as a gRPC status (proxy/grpc.h):
  // HTTP 200, trailers-only. A filter's reply that sets grpc-status itself
  // keeps it; 2xx replies (a direct response that answers for a method)
  // pass as they are.
  const bool grpc_reply = grpc_ && status >= 300;
  bool has_type = false;
  bool has_grpc_status = false;
  for (const config::HeaderValue& h : headers) {
    const std::string_view n = h.name;
    if (iequals(n, "content-length") || iequals(n, "transfer-encoding") || iequals(n, "connection")) continue;
    if (grpc_reply && iequals(n, "content-type")) continue;
    has_type = has_type || iequals(n, "content-type");
    has_grpc_status = has_grpc_status || iequals(n, "grpc-status");
    response_.headers.add(n, h.value);
  }
  if (grpc_reply) {
    // grpc-web clients read the status the same way, from their own type.
    const std::string_view req_type = request_.headers.get("content-type");
    response_.headers.add("content-type",
                          req_type.starts_with("application/grpc-web") ? req_type : "application/grpc");
    if (!has_grpc_status) {
      response_.headers.add("grpc-status", std::to_string(grpc::status_for_http(status)));
      if (!body.empty()) response_.headers.add("grpc-message", grpc::encode_message(body));
    }
    status = 200;
    body = {};
    has_type = true;
  }
  response_.status = status;
  if (!has_type && !body.empty()) response_.headers.add("content-type", "text/plain");
  response_.content_length = static_cast<int64_t>(body.size());
  response_.has_body = !body.empty() && !request_.is_head;
  if (close) {
    close_connection_ = true;
    response_.headers.add("connection", "close");
  }
  if (!later_headers_.empty()) apply_later_headers();
  response_started_ = response_done_ = true;
  resp_held_ = resp_buffering_ = false;
  // moe's own replies (direct responses, 404, 413, 5xx, a filter's local
  // reply) pass through the response-headers hooks too, as Envoy's encoder
  // filters do: traceid tags a 502 with its request id. Header ops apply; a
  // hook that answers with another local reply (or Pending) is ignored here,
  // so a reply cannot loop.
  if (wants(MOE_EV_RESPONSE_HEADERS) && !replying_) {
    replying_ = true;
    call_go(MOE_EV_RESPONSE_HEADERS, !response_.has_body, nullptr);
    replying_ = false;
  }
  downstream_.encode_headers(response_, !response_.has_body);
  if (response_.has_body) downstream_.encode_data(body.data(), body.size(), true);
  bytes_sent_ += body.size();
  finish();
}

void Stream::detach_upstream() {
  if (upstream_) {
    UpstreamCodec* up = upstream_;
    upstream_ = nullptr;
    upstream_ready_ = false;
    up->reset_stream();
  }
  if (pool_) pool_->cancel(this);
  pool_ = nullptr;
}

void Stream::leave_pool() {
  if (stalled_link.linked()) pool_->unstalled(this);
  pool_ = nullptr;
}

void Stream::finish() {
  if (finished_) return;
  finished_ = true;
  disarm();
  detach_upstream();
  const uint64_t end = end_us_ = now_us();
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
  if (upstream_start_us_ && route_ && route_->cluster_index >= 0) {
    upstream_us = static_cast<int64_t>(end - upstream_start_us_);
    worker_.cluster(route_->cluster_index).stats().upstream_duration.observe_us(static_cast<uint64_t>(upstream_us));
  }
  // The done hook: Go frees the stream's state.
  if (go_state_) call_go(MOE_EV_DONE, true, nullptr);
  if (handle_) {
    filters_->unregister_stream(handle_);
    handle_ = 0;
  }
  if (AccessLog* log = worker_.access_log()) {
    const config::Listener& lc = listener_config();
    AccessRecord r;
    r.method = request_.method();
    r.path = received_path_.empty() ? request_.path() : received_path_;
    if (!upstream_host_.empty()) r.upstream_path = request_.path();  // an endpoint was tried
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
    r.user_agent = request_.headers.get("user-agent");
    r.values = log_values_.get();
    log->log(worker_.id(), r);
  }
  downstream_.on_stream_complete();  // may destroy this stream: nothing after
}

}  // namespace moe
