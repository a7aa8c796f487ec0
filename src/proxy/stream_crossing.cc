// Stream: its half of a crossing into the filter chain (the C ABI,
// moe/goext_abi.h). call_go fills a moe_event with views of the stream's
// heads, body chunk and fixed facts (fill_event, register_go), crosses
// through the worker's FilterRuntime (the Go bridge implements it:
// goext/go_worker.h) and applies the ops the chain recorded (apply_ops).
// Header events of header-only chains wait for the runtime's batch
// instead (batch_go, on_go_batched). How events wait while one is in Go,
// and go on after, is in proxy/stream_chain.cc.
//
// Nothing here knows the runtime is Go: this file includes no goext/.
#include <uv.h>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cstddef>
#include <cstring>

#include "core/log.h"
#include "core/worker.h"
#include "proxy/grpc.h"
#include "proxy/stream.h"

namespace moe {
namespace {

static_assert(sizeof(HeaderSpan) == sizeof(moe_header) && offsetof(HeaderSpan, name) == offsetof(moe_header, name) &&
                  offsetof(HeaderSpan, value) == offsetof(moe_header, value) &&
                  offsetof(HeaderSpan, name_len) == offsetof(moe_header, name_len) &&
                  offsetof(HeaderSpan, value_len) == offsetof(moe_header, value_len),
              "HeaderSpan must match moe_header: Go reads the span array in place");

uint64_t parse_u64(std::string_view s) {
  uint64_t v = 0;
  std::from_chars(s.data(), s.data() + s.size(), v);
  return v;
}

}  // namespace

// ---- a crossing, and the batch ---------------------------------------------

int32_t Stream::call_go(uint32_t kind, bool end_stream, std::string_view* chunk, bool resume) {
  moe_event ev{};
  fill_event(ev, kind, end_stream, chunk);
  const int32_t r = filters_->cross(ev, resume);
  go_state_ = ev.go_state;
  moe_ops& ops = *ev.ops;
  if (kind != MOE_EV_DONE && ops.len) apply_ops(chunk, ops, 0, ops.len);
  ops.len = 0;
  if (kind != MOE_EV_DONE && finished_) return MOE_LOCAL_REPLY;
  return r;
}

bool Stream::batch_go(uint32_t kind, bool end_stream) {
  // Chunks are views into the read buffer, valid during the callback only,
  // so only chains that see no body or trailers wait for the batch.
  constexpr uint32_t kBodyHooks = (1u << MOE_EV_REQUEST_DATA) | (1u << MOE_EV_REQUEST_TRAILERS) |
                                  (1u << MOE_EV_RESPONSE_DATA) | (1u << MOE_EV_RESPONSE_TRAILERS);
  if (go_events_ & kBodyHooks) return false;
  register_go();
  go_pending_ = kind;
  go_batched_ = true;
  go_batched_end_ = end_stream;
  filters_->batch(handle_);
  return true;
}

void Stream::fill_batched_event(moe_event& ev, moe_ops& ops) {
  fill_event(ev, go_pending_, go_batched_end_, nullptr);
  ev.ops = &ops;
}

void Stream::on_go_batched(const moe_event& ev, moe_ops& ops) {
  if (finished_ || !go_batched_) return;
  go_batched_ = false;
  const uint32_t kind = go_pending_;
  go_pending_ = 0;
  if (ev.ops_end > ev.ops_begin) apply_ops(nullptr, ops, ev.ops_begin, ev.ops_end);
  if (finished_ || ev.result == MOE_LOCAL_REPLY) return;
  if (ev.result == MOE_PENDING) {
    go_pending_ = kind;
    return;
  }
  continue_after_go(kind, ev.result);
}

void Stream::register_go() {
  if (!handle_) {
    handle_ = filters_->register_stream(this);
    const config::Listener& lc = listener_config();
    info_.listener = lc.name.data();
    info_.listener_len = static_cast<uint32_t>(lc.name.size());
    std::string_view ip = downstream_.peer_ip();
    info_.downstream_addr = ip.data();
    info_.downstream_addr_len = static_cast<uint32_t>(ip.size());
    std::string_view proto = downstream_.protocol();
    info_.protocol = proto.data();
    info_.protocol_len = static_cast<uint32_t>(proto.size());
    info_.worker = static_cast<uint32_t>(worker_.id());
    // Wall-clock start: the monotonic start plus this worker's offset
    // between the two clocks, read again at most once a second (two clock
    // reads per stream were visible in a traceid profile).
    thread_local uint64_t offset_at_ms = 0;
    thread_local int64_t unix_minus_mono_ns = 0;
    if (offset_at_ms == 0 || worker_.now_ms() - offset_at_ms >= 1000) {
      offset_at_ms = worker_.now_ms() | 1;
      unix_minus_mono_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(
                               std::chrono::system_clock::now().time_since_epoch())
                               .count() -
                           static_cast<int64_t>(uv_hrtime());
    }
    info_.start_unix_ns = unix_minus_mono_ns + static_cast<int64_t>(start_us_ * 1000);
  }
}

// ---- the event and the ops ------------------------------------------------

void Stream::fill_event(moe_event& ev, uint32_t kind, bool end_stream, std::string_view* chunk) {
  register_go();
  // The route can change when filters rewrite the request: refresh.
  if (route_) {
    info_.route = route_->name.data();
    info_.route_len = static_cast<uint32_t>(route_->name.size());
    info_.cluster = route_->cluster.data();
    info_.cluster_len = static_cast<uint32_t>(route_->cluster.size());
  } else {
    info_.route = info_.cluster = "";
    info_.route_len = info_.cluster_len = 0;
  }
  info_.upstream_addr = upstream_host_.data();
  info_.upstream_addr_len = static_cast<uint32_t>(upstream_host_.size());
  if (rid_stale_) {
    // Looked up again only after Go changed the request headers (a filter
    // such as traceid may have just set it); views into the arena stay valid.
    rid_stale_ = false;
    std::string_view rid = request_.headers.get("x-request-id");
    info_.request_id = rid.data();
    info_.request_id_len = static_cast<uint32_t>(rid.size());
  }
  ev.now_ms = worker_.now_ms();
  ev.handle = handle_;
  ev.go_state = go_state_;
  ev.chain = static_cast<uint32_t>(listener_index_);
  ev.kind = kind;
  // A reply's response-headers event says so: the chain ignores statuses
  // other than Continue on it (send_reply).
  ev.end_stream = (end_stream ? uint32_t{MOE_EVF_END} : 0u) | (replying_ ? uint32_t{MOE_EVF_REPLY} : 0u);
  const HeaderMap* hm = nullptr;
  switch (kind) {
    case MOE_EV_REQUEST_HEADERS: hm = &request_.headers; break;
    case MOE_EV_REQUEST_TRAILERS: hm = &request_trailers_; break;
    case MOE_EV_RESPONSE_HEADERS: hm = &response_.headers; break;
    case MOE_EV_RESPONSE_TRAILERS: hm = &response_trailers_; break;
    default: break;
  }
  if (hm) {
    ev.headers = reinterpret_cast<const moe_header*>(hm->spans().data());
    ev.header_count = static_cast<uint32_t>(hm->size());
  }
  ev.request_headers = reinterpret_cast<const moe_header*>(request_.headers.spans().data());
  ev.request_header_count = static_cast<uint32_t>(request_.headers.size());
  ev.method = request_.method().data();
  ev.method_len = static_cast<uint32_t>(request_.method().size());
  ev.path = request_.path().data();
  ev.path_len = static_cast<uint32_t>(request_.path().size());
  ev.scheme = "http";
  ev.scheme_len = 4;
  ev.status = response_.status;
  if (chunk) {
    ev.body = chunk->data();
    ev.body_len = static_cast<uint32_t>(chunk->size());
  }
  if (kind == MOE_EV_DONE) {
    ev.final_status = response_started_ ? response_.status : 0;
    ev.bytes_received = bytes_received_;
    ev.bytes_sent = bytes_sent_;
    // DONE comes from finish(), which read the clock once (end_us_).
    ev.duration_ns = static_cast<int64_t>((end_us_ - start_us_) * 1000);
    // 0 when no upstream was used (DoneInfo.UpstreamTime's godoc).
    ev.upstream_ns = upstream_start_us_ ? static_cast<int64_t>((end_us_ - upstream_start_us_) * 1000) : 0;
  }
  ev.info = &info_;
}

void Stream::apply_ops(std::string_view* chunk, const moe_ops& ops, uint32_t begin, uint32_t end_off) {
  const char* p = ops.buf + begin;
  const char* end = ops.buf + end_off;
  std::vector<config::HeaderValue> reply_headers;
  int reply_status = 0;
  std::string reply_body;
  bool reply = false;
  std::string body;  // the chunk being rewritten
  bool body_changed = false;
  while (p + 12 <= end) {
    const uint8_t code = static_cast<uint8_t>(p[0]);
    const uint8_t target = static_cast<uint8_t>(p[1]);
    uint32_t alen, blen;
    memcpy(&alen, p + 4, 4);
    memcpy(&blen, p + 8, 4);
    p += 12;
    if (p + alen + blen > end) break;
    std::string_view a(p, alen), b(p + alen, blen);
    p += alen + blen;
    HeaderMap* hm = nullptr;
    switch (target) {
      case MOE_TARGET_REQUEST_HEADERS: hm = &request_.headers; break;
      case MOE_TARGET_RESPONSE_HEADERS: hm = &response_.headers; break;
      case MOE_TARGET_REQUEST_TRAILERS: hm = &request_trailers_; break;
      case MOE_TARGET_RESPONSE_TRAILERS: hm = &response_trailers_; break;
      case MOE_TARGET_LATER_RESPONSE_HEADERS:
        // Kept for the final response head: after it has started, too late.
        if (!response_started_ && (code == MOE_OP_SET || code == MOE_OP_ADD || code == MOE_OP_ADD_IF_ABSENT)) {
          if (later_headers_.capacity() == 0) later_headers_.reserve(4);  // from the slab
          later_headers_.push_back({request_.headers.store(a), request_.headers.store(b), code});
        }
        continue;
      default: break;
    }
    if (target == MOE_TARGET_REQUEST_HEADERS) {
      rid_stale_ = true;
      // Route again only if the change can change the route: the host, or
      // any header when some route matches on headers (traceid's new id
      // does not make every request match the routes twice).
      if (a == "host" || listener_config().routes_match_headers) head_modified_ = true;
    }
    switch (code) {
      case MOE_OP_SET:
        if (hm) hm->set(a, b);
        break;
      case MOE_OP_ADD:
        if (target == MOE_TARGET_LOCAL_REPLY) reply_headers.push_back({std::string(a), std::string(b)});
        else if (hm) hm->add(a, b);
        break;
      case MOE_OP_DEL:
        if (hm) hm->remove(a);
        break;
      case MOE_OP_SET_METHOD:
        request_.method_view = request_.headers.store(a);
        head_modified_ = true;
        break;
      // The codecs' rules for a client's target and Host hold for a
      // filter's too (the Go SDK refuses the same, with a log for the
      // filter's author): one check for both, here.
      case MOE_OP_SET_PATH:
        if (!valid_request_target(a)) break;
        request_.set_path(a);
        head_modified_ = true;
        break;
      case MOE_OP_SET_HOST:
        if (!valid_authority(a)) break;
        request_.headers.set("host", a);
        head_modified_ = true;
        break;
      case MOE_OP_SET_STATUS:
        response_.status = static_cast<int>(parse_u64(a));
        break;
      case MOE_OP_BODY_REPLACE:
        body.assign(a);
        body_changed = true;
        break;
      case MOE_OP_BODY_APPEND:
        if (!body_changed && chunk) body.assign(*chunk);
        body.append(a);
        body_changed = true;
        break;
      case MOE_OP_BODY_PREPEND:
        if (!body_changed && chunk) body.assign(*chunk);
        body.insert(0, a);
        body_changed = true;
        break;
      case MOE_OP_BODY_DRAIN: {
        if (!body_changed && chunk) body.assign(*chunk);
        body.erase(0, std::min<size_t>(body.size(), parse_u64(a)));
        body_changed = true;
        break;
      }
      case MOE_OP_LOCAL_REPLY:
        reply = true;
        reply_status = static_cast<int>(parse_u64(a));
        reply_body.assign(b);
        break;
      case MOE_OP_KV_SET:
        set_log_value(a, b);
        break;
      case MOE_OP_LOG:
        log_numbered(static_cast<int>(parse_u64(a)), "go", b);
        break;
      default:
        break;
    }
  }
  if (body_changed && chunk) {
    scratch_ = std::move(body);
    *chunk = scratch_;
  }
  if (reply && !replying_) {
    if (reply_status < 100 || reply_status > 599) reply_status = 500;
    detach_upstream();
    if (response_started_ && !resp_held_) {
      abort_response(grpc::status_for_http(reply_status), "a filter answered after the response had started");
      return;
    }
    send_reply(reply_status, reply_body, reply_headers, !request_done_);
  }
}

void Stream::set_log_value(std::string_view key, std::string_view value) {
  // Only the keys log.access_log_values names are kept: a Set of any other
  // key costs this scan of a short list and nothing else. The array is
  // allocated at the first listed key a filter sets (one malloc for the
  // stream, none when no filter sets one).
  const std::vector<std::string>& names = worker_.config().log.access_log_values;
  for (size_t i = 0; i < names.size(); i++) {
    if (names[i] != key) continue;
    if (!log_values_) log_values_ = std::make_unique<std::string[]>(names.size());
    log_values_[i].assign(value);
    return;
  }
}

}  // namespace moe
