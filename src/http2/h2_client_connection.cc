#include "http2/h2_client_connection.h"

#include <netinet/in.h>

#include <algorithm>
#include <charconv>

#include "core/log.h"
#include "core/worker.h"
#include "http2/h2_util.h"

namespace moe {
namespace {

H2ClientConnection* self(void* user_data) { return static_cast<H2ClientConnection*>(user_data); }

using h2::make_nv;
using h2::make_field_nv;
using h2::sv;

// Connection-specific request fields (RFC 9113 8.2.2), plus host (carried
// as :authority) and te (sent as "te: trailers" only when asked).
bool not_forwarded(std::string_view name) { return h2::connection_specific(name) || name == "host"; }

ssize_t data_read_cb(nghttp2_session*, int32_t, uint8_t*, size_t length, uint32_t* flags,
                     nghttp2_data_source* source, void*) {
  return static_cast<H2ClientStream*>(source->ptr)->read_body(length, flags);
}

nghttp2_session_callbacks* make_callbacks() {
  nghttp2_session_callbacks* cb;
  if (nghttp2_session_callbacks_new(&cb) != 0) return nullptr;
  h2::set_common_callbacks<H2ClientConnection>(cb);
  nghttp2_session_callbacks_set_send_data_callback(
      cb, [](nghttp2_session*, nghttp2_frame*, const uint8_t* hd, size_t len, nghttp2_data_source* src, void* u) {
        return self(u)->on_send_data(hd, len, static_cast<H2ClientStream*>(src->ptr));
      });
  nghttp2_session_callbacks_set_on_frame_not_send_callback(
      cb, [](nghttp2_session*, const nghttp2_frame* f, int err, void* u) { return self(u)->on_frame_not_send(f, err); });
  return cb;
}

}  // namespace

// ---- H2ClientStream ------------------------------------------------------------------

H2ClientStream::H2ClientStream(H2ClientConnection& conn, StreamEvents* s, uint32_t seq)
    : conn_(&conn), stream_(s), seq_(seq) {}

std::string_view H2ClientStream::endpoint() const { return conn_->endpoint(); }

bool H2ClientStream::above_high_watermark() const {
  return queued() > TcpConnection::kHighWatermark || conn_->pending_bytes() > TcpConnection::kHighWatermark;
}

void H2ClientStream::encode_headers(const RequestHead& head, bool end_stream) {
  if (done_ || head_ready_) return;
  head_ready_ = true;
  head_ = &head;
  has_body_ = !end_stream;
  body_end_ = end_stream;
  submit();
}

bool H2ClientStream::submit() {
  if (!stream_ || !head_) return false;
  // Views into the request head: nghttp2 copies them into the HEADERS it
  // queues (no NO_COPY flags), so nothing is copied here, and the array is
  // the connection's scratch (no allocation once it has grown).
  const RequestHead& head = *head_;
  std::vector<nghttp2_nv>& nva = conn_->nva_;
  nva.clear();
  nva.push_back(make_nv(":method", head.method()));
  nva.push_back(make_nv(":scheme", "http"));
  const std::string_view authority = head.authority();
  nva.push_back(make_nv(":authority", authority.empty() ? std::string_view(conn_->endpoint()) : authority));
  const std::string_view path = head.path();
  nva.push_back(make_nv(":path", path.empty() ? "/" : path));
  for (size_t i = 0; i < head.headers.size(); i++) {
    const std::string_view n = head.headers.name(i);
    if (n.empty() || n[0] == ':' || not_forwarded(n)) continue;
    nva.push_back(make_field_nv(n, head.headers.value(i), conn_->hpack_named_));
  }
  if (head.te_trailers) nva.push_back(make_nv("te", "trailers"));
  nghttp2_data_provider prd;
  prd.source.ptr = this;
  prd.read_callback = data_read_cb;
  deferred_ = false;
  after_settings_ = conn_->settings_seen_;
  const int32_t id = nghttp2_submit_request(conn_->session(), nullptr, nva.data(), nva.size(),
                                            has_body_ ? &prd : nullptr, this);
  if (id < 0) {
    // Stream ids exhausted or a field nghttp2 refuses: the failure reaches
    // the Stream from the connection's next send (not from inside it).
    log_debug("upstream {}: h2 submit request: {}", conn_->endpoint(), nghttp2_strerror(id));
    id_ = -1;
    conn_->schedule_send();
    return false;
  }
  id_ = id;
  conn_->schedule_send();
  return true;
}

void H2ClientStream::encode_data(const char* p, size_t n, bool end_stream) {
  if (done_ || !has_body_ || body_end_) return;
  // Sent bytes are kept for a retry while the response has not begun and
  // the body is small; then they are dropped once most of the buffer went.
  if (body_off_ > 16 * 1024 && body_off_ * 2 >= body_.size() &&
      (response_begun_ || body_.size() + n > kRetryBodyLimit)) {
    body_.erase(0, body_off_);
    body_off_ = 0;
    body_dropped_ = true;
  }
  body_.append(p, n);
  if (end_stream) body_end_ = true;
  if (deferred_ && id_ > 0 && (n || body_end_)) {
    deferred_ = false;
    nghttp2_session_resume_data(conn_->session(), id_);
  }
  conn_->schedule_send();
}

void H2ClientStream::encode_trailers(const HeaderMap& trailers) {
  if (done_ || !has_body_ || body_end_) return;
  h2::collect_trailers(trailers, not_forwarded, trailers_);
  body_end_ = true;
  if (deferred_ && id_ > 0) {
    deferred_ = false;
    nghttp2_session_resume_data(conn_->session(), id_);
  }
  conn_->schedule_send();
}

ssize_t H2ClientStream::read_body(size_t max, uint32_t* flags) {
  // Trailers are kept after submission: a retry resubmits them.
  return h2::read_body(conn_->session(), id_, queued(), body_end_, trailers_, max, flags, &deferred_, conn_->nva_);
}

void H2ClientStream::reset_stream() {
  // The Stream abandons the request: forget it, cancel the HTTP/2 stream.
  if (done_) return;
  done_ = true;
  stream_ = nullptr;
  if (id_ > 0 && !rst_submitted_) {
    rst_submitted_ = true;
    nghttp2_submit_rst_stream(conn_->session(), NGHTTP2_FLAG_NONE, id_, NGHTTP2_CANCEL);
  }
  conn_->schedule_send();  // also deletes a stream that was never submitted
}

void H2ClientStream::read_disable(bool disable) {
  read_disabled_ = disable;
  if (!disable && unconsumed_ && id_ > 0) {
    conn_->consume(this, unconsumed_);
    unconsumed_ = 0;
  }
}

// ---- H2ClientConnection ----------------------------------------------------------------

H2ClientConnection::H2ClientConnection(UpstreamPoolCallbacks& pool, int endpoint)
    : TcpConnection(pool.worker()), UpstreamConnection(endpoint), pool_(pool) {
  nghttp2_session_callbacks* cb = make_callbacks();
  if (!cb) return;
  nghttp2_option* opt;
  if (nghttp2_option_new(&opt) != 0) {
    nghttp2_session_callbacks_del(cb);
    return;
  }
  nghttp2_option_set_no_auto_window_update(opt, 1);
  nghttp2_option_set_max_outbound_ack(opt, 1000);
  nghttp2_option_set_max_settings(opt, 32);
  const int rv = nghttp2_session_client_new2(&session_, cb, this, opt);
  nghttp2_option_del(opt);
  nghttp2_session_callbacks_del(cb);
  if (rv != 0) {
    session_ = nullptr;
    return;
  }
  const nghttp2_settings_entry iv[] = {
      {NGHTTP2_SETTINGS_ENABLE_PUSH, 0},
      {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, kInitialWindow},
  };
  nghttp2_submit_settings(session_, NGHTTP2_FLAG_NONE, iv, std::size(iv));
  nghttp2_session_set_local_window_size(session_, NGHTTP2_FLAG_NONE, 0, kConnectionWindow);
}

H2ClientConnection::~H2ClientConnection() {
  if (session_) nghttp2_session_del(session_);
}

std::string_view H2ClientConnection::endpoint() const {
  return pool_.config().endpoints[static_cast<size_t>(endpoint_)].text;
}

int H2ClientConnection::connect(const sockaddr* addr) {
  if (!session_) return UV_ENOMEM;
  const socklen_t len = addr->sa_family == AF_INET6 ? sizeof(sockaddr_in6) : sizeof(sockaddr_in);
  int rc = TcpConnection::connect(addr, len);
  if (rc != 0) return rc;
  worker_.timers().arm(this, static_cast<uint64_t>(pool_.config().connect_timeout.count()), worker_.now_ms());
  return 0;
}

bool H2ClientConnection::has_capacity() const {
  if (!usable()) return false;
  uint32_t max = kMaxStreamsPerConnection;
  const uint32_t remote =
      nghttp2_session_get_remote_settings(session_, NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS);
  max = std::min(max, remote);
  return streams_.size() < max;
}

void H2ClientConnection::attach(StreamEvents* s) {
  auto* hs = new H2ClientStream(*this, s, ++seq_);
  streams_.push_back(hs);
  add(pool_.endpoint_stats(endpoint_).requests_active);
  update_idle_timer();
  if (connected_) s->on_upstream_ready(*hs);
  else s->on_upstream_attached(*hs);
}

void H2ClientConnection::adopt(H2ClientStream* hs) {
  hs->conn_ = this;
  hs->seq_ = ++seq_;
  hs->id_ = 0;
  hs->body_off_ = 0;
  hs->deferred_ = false;
  hs->rst_submitted_ = false;
  hs->unconsumed_ = 0;
  streams_.push_back(hs);
  add(pool_.endpoint_stats(endpoint_).requests_active);
  update_idle_timer();
  if (hs->head_ready_) hs->submit();
}

void H2ClientConnection::on_connected(int status) {
  disarm();
  if (status != 0) {
    fail(status);
    return;
  }
  connected_ = true;
  start_reading();
  update_idle_timer();
  // Streams attached while connecting may send now.
  streams_.for_each([this](H2ClientStream* hs) {
    if (hs->stream_ && !hs->done_ && !hs->head_ready_) hs->stream_->on_upstream_ready(*hs);
  });
  send();
}

H2ClientStream* H2ClientConnection::stream_of(int32_t id) {
  if (id <= 0) return nullptr;
  if (auto* hs = static_cast<H2ClientStream*>(nghttp2_session_get_stream_user_data(session_, id))) return hs;
  H2ClientStream* found = nullptr;
  streams_.for_each([&](H2ClientStream* hs) {
    if (hs->id_ == id) found = hs;
  });
  return found;
}

void H2ClientConnection::consume(H2ClientStream* s, size_t n) {
  nghttp2_session_consume_stream(session_, s->id_, n);
  schedule_send();
}

// ---- reading ------------------------------------------------------------------------------

void H2ClientConnection::on_data(const char* p, size_t n) {
  in_recv_ = true;
  const ssize_t rv = nghttp2_session_mem_recv(session_, reinterpret_cast<const uint8_t*>(p), n);
  in_recv_ = false;
  if (closing()) return;
  if (rv < 0) {
    log_debug("upstream {}: h2: {}", endpoint(), nghttp2_strerror(static_cast<int>(rv)));
    nghttp2_session_send(session_);  // the GOAWAY nghttp2 queued, if any
    close_after_flush();
    goaway_ = true;
    fail_streams(UpstreamFailure::protocol_error, "HTTP/2 protocol error");
    return;
  }
  send();
}

int H2ClientConnection::on_begin_headers(const nghttp2_frame* frame) {
  if (frame->hd.type != NGHTTP2_HEADERS) return 0;
  H2ClientStream* hs = stream_of(frame->hd.stream_id);
  if (!hs || !hs->stream_ || hs->done_) return 0;
  if (hs->response_begun_) {
    hs->in_trailers_ = true;
    hs->stream_->response_trailers().clear();
  } else {
    ResponseHead& r = hs->stream_->response();
    r.headers.clear();
    r.status = 0;
    r.content_length = -1;
    r.has_body = false;
  }
  return 0;
}

int H2ClientConnection::on_header(const nghttp2_frame* frame, std::string_view name, std::string_view value) {
  if (frame->hd.type != NGHTTP2_HEADERS) return 0;
  H2ClientStream* hs = stream_of(frame->hd.stream_id);
  if (!hs || !hs->stream_ || hs->done_ || name.empty()) return 0;
  if (hs->in_trailers_) {
    if (name[0] != ':') hs->stream_->response_trailers().add(name, value);
    return 0;
  }
  ResponseHead& r = hs->stream_->response();
  if (name[0] == ':') {
    if (name == ":status") {
      int st = 0;
      std::from_chars(value.data(), value.data() + value.size(), st);
      r.status = st;
    }
    return 0;
  }
  r.headers.add(name, value);
  return 0;
}

int H2ClientConnection::on_frame_recv(const nghttp2_frame* frame) {
  const int32_t id = frame->hd.stream_id;
  const bool end = frame->hd.flags & NGHTTP2_FLAG_END_STREAM;
  switch (frame->hd.type) {
    case NGHTTP2_SETTINGS:
      if (!(frame->hd.flags & NGHTTP2_FLAG_ACK)) {
        settings_seen_ = true;
        pool_.on_capacity(*this);  // the limit may have grown
      }
      break;
    case NGHTTP2_RST_STREAM:
      if (H2ClientStream* hs = stream_of(id)) hs->peer_reset_ = true;
      break;
    case NGHTTP2_GOAWAY:
      // No new streams here; nghttp2 closes those above last_stream_id with
      // REFUSED_STREAM (retried in on_stream_close).
      goaway_ = true;
      log_debug("upstream {}: GOAWAY last_stream_id={} error={}", endpoint(), frame->goaway.last_stream_id,
                frame->goaway.error_code);
      break;
    case NGHTTP2_HEADERS: {
      H2ClientStream* hs = stream_of(id);
      if (!hs || !hs->stream_ || hs->done_) break;
      StreamEvents* s = hs->stream_;
      if (hs->in_trailers_) {
        hs->done_ = true;
        hs->stream_ = nullptr;
        s->on_response_trailers();
        break;
      }
      ResponseHead& r = s->response();
      r.version_major = 2;
      r.version_minor = 0;
      if (r.status >= 100 && r.status < 200) {
        s->on_response_headers(false);  // interim: the final response follows
        if (hs->stream_) r.headers.clear();
        break;
      }
      hs->response_begun_ = true;
      bool has_cl = false;
      std::string_view cl = r.headers.get("content-length", &has_cl);
      if (has_cl) {
        int64_t v = -1;
        std::from_chars(cl.data(), cl.data() + cl.size(), v);
        r.content_length = v;
      }
      r.has_body = !end && !s->request().is_head;
      if (end) {
        hs->done_ = true;
        hs->stream_ = nullptr;
      }
      s->on_response_headers(end);
      break;
    }
    case NGHTTP2_DATA: {
      if (!end) break;
      H2ClientStream* hs = stream_of(id);
      if (!hs || !hs->stream_ || hs->done_) break;
      StreamEvents* s = hs->stream_;
      hs->done_ = true;
      hs->stream_ = nullptr;
      s->on_response_end();
      break;
    }
    default:
      break;
  }
  if (frame->hd.type == NGHTTP2_HEADERS || frame->hd.type == NGHTTP2_DATA) {
    // The response is complete while the request is still going out: stop
    // sending it (RFC 9113 8.1).
    H2ClientStream* hs = stream_of(id);
    if (end && hs && hs->done_ && !hs->rst_submitted_ && !nghttp2_session_get_stream_local_close(session_, id)) {
      hs->rst_submitted_ = true;
      nghttp2_submit_rst_stream(session_, NGHTTP2_FLAG_NONE, id, NGHTTP2_NO_ERROR);
    }
  }
  return 0;
}

int H2ClientConnection::on_data_chunk(int32_t stream_id, const uint8_t* data, size_t len) {
  nghttp2_session_consume_connection(session_, len);
  H2ClientStream* hs = stream_of(stream_id);
  if (!hs || !hs->stream_ || hs->done_) {
    nghttp2_session_consume_stream(session_, stream_id, len);
    return 0;
  }
  hs->response_begun_ = true;
  hs->stream_->on_response_data(reinterpret_cast<const char*>(data), len);
  if (hs->read_disabled_ && hs->stream_) hs->unconsumed_ += len;
  else nghttp2_session_consume_stream(session_, stream_id, len);
  return 0;
}

int H2ClientConnection::on_frame_not_send(const nghttp2_frame* frame, int lib_error) {
  // A request HEADERS that could not go (GOAWAY received meanwhile, no
  // stream ids left): nothing reached the server, so it is retryable.
  if (frame->hd.type != NGHTTP2_HEADERS || frame->headers.cat != NGHTTP2_HCAT_REQUEST) return 0;
  log_debug("upstream {}: h2 request not sent: {}", endpoint(), nghttp2_strerror(lib_error));
  if (H2ClientStream* hs = stream_of(frame->hd.stream_id)) {
    nghttp2_session_set_stream_user_data(session_, frame->hd.stream_id, nullptr);
    hs->id_ = -2;  // stream_gone below must not touch nghttp2's stream
    stream_gone(hs, NGHTTP2_REFUSED_STREAM);
  }
  return 0;
}

int H2ClientConnection::on_stream_close(int32_t stream_id, uint32_t error_code) {
  if (H2ClientStream* hs = stream_of(stream_id)) stream_gone(hs, error_code);
  return 0;
}

void H2ClientConnection::stream_gone(H2ClientStream* hs, uint32_t error_code) {
  if (hs->id_ > 0) nghttp2_session_set_stream_user_data(session_, hs->id_, nullptr);
  streams_.erase(hs);
  StreamEvents* s = hs->done_ ? nullptr : hs->stream_;
  log_debug("upstream {}: h2 stream {} closed: {}{} rst={} after_settings={} resent={} retried={} goaway_retries={} open={}",
            endpoint(), hs->id_, nghttp2_http2_strerror(error_code), s ? " (stream live)" : "", hs->peer_reset_,
            hs->after_settings_, hs->resent_, hs->retried_, hs->goaway_retries_, streams_.size());
  if (s && error_code == NGHTTP2_REFUSED_STREAM && hs->peer_reset_ && !hs->after_settings_ && !hs->resent_ &&
      !hs->body_dropped_ && usable()) {
    // Refused by RST_STREAM, but submitted before the server's SETTINGS
    // arrived: sent over a MAX_CONCURRENT_STREAMS we could not know yet.
    // Resubmitted once on this connection, where nghttp2 now holds it until
    // the server's limit allows; not the stream's one retry.
    hs->resent_ = true;
    hs->peer_reset_ = false;
    sub(pool_.endpoint_stats(endpoint_).requests_active);  // adopt() counts it again
    adopt(hs);
    return;
  }
  if (s && error_code == NGHTTP2_REFUSED_STREAM && !hs->body_dropped_ && !hs->response_begun_ &&
      (hs->peer_reset_ ? !hs->retried_ : hs->goaway_retries_ < H2ClientStream::kMaxGoawayRetries)) {
    // Not processed by the server (RFC 9113 8.7): resubmit elsewhere, once
    // for RST_STREAM(REFUSED_STREAM), a few times for GOAWAY.
    if (hs->peer_reset_) hs->retried_ = true;
    else hs->goaway_retries_++;
    hs->peer_reset_ = false;
    sub(pool_.endpoint_stats(endpoint_).requests_active);  // adopt() counts it on the new connection
    if (pool_.retry_elsewhere(*hs, *this)) {
      update_idle_timer();
      pool_.on_capacity(*this);
      return;
    }
    add(pool_.endpoint_stats(endpoint_).requests_active);
  }
  const bool begun = hs->response_begun_;
  sub(pool_.endpoint_stats(endpoint_).requests_active);
  if (s) {
    // Told before the codec goes: on_upstream_failure still asks it reused().
    hs->done_ = true;
    hs->stream_ = nullptr;
    add(pool_.stats().resets);
    std::string detail(endpoint());
    detail.append(": HTTP/2 stream reset: ").append(nghttp2_http2_strerror(error_code));
    s->on_upstream_failure(begun ? UpstreamFailure::reset_during_response : UpstreamFailure::reset_before_response,
                           detail, endpoint());
  }
  delete hs;
  update_idle_timer();
  pool_.on_capacity(*this);
}

// ---- writing --------------------------------------------------------------------------------

void H2ClientConnection::schedule_send() {
  if (send_scheduled_ || in_recv_ || closing() || closed_) return;
  send_scheduled_ = true;
  worker_.defer([this] {
    send_scheduled_ = false;
    if (closed_) {
      delete this;
      return;
    }
    send();
  });
}

void H2ClientConnection::send() {
  if (closing() || !session_) return;
  // Streams the Stream abandoned before they were submitted, and submits
  // that failed: finished here, outside the Stream's call.
  streams_.for_each([this](H2ClientStream* hs) {
    if (hs->id_ == 0 && hs->done_) {
      streams_.erase(hs);
      sub(pool_.endpoint_stats(endpoint_).requests_active);
      delete hs;
    } else if (hs->id_ == -1) {
      hs->id_ = -2;
      stream_gone(hs, NGHTTP2_INTERNAL_ERROR);
    }
  });
  if (closing()) return;
  if (!connected_) {
    update_idle_timer();
    return;
  }
  const int rv = nghttp2_session_send(session_);
  if (rv != 0) {
    log_debug("upstream {}: h2 send: {}", endpoint(), nghttp2_strerror(rv));
    fail(UV_EPROTO);
    return;
  }
  if (pending_bytes()) mark_dirty();
  if (pending_bytes() <= kLowWatermark) {
    streams_.for_each([](H2ClientStream* hs) {
      if (hs->stream_ && !hs->done_ && hs->queued() <= kLowWatermark) hs->stream_->on_upstream_drained();
    });
  }
  if (goaway_ && streams_.empty()) {
    close_after_flush();
    return;
  }
  if (streams_.empty() && worker_.draining()) {
    shutdown();  // as HTTP/1 connections are not pooled while draining
    return;
  }
  if (!nghttp2_session_want_read(session_) && !nghttp2_session_want_write(session_)) {
    goaway_ = true;
    fail_streams(UpstreamFailure::reset_before_response, "HTTP/2 session ended");
    close_after_flush();
    return;
  }
  update_idle_timer();
}

ssize_t H2ClientConnection::on_send(const uint8_t* data, size_t len) {
  if (pending_bytes() >= kHighWatermark) return NGHTTP2_ERR_WOULDBLOCK;
  out().append(reinterpret_cast<const char*>(data), len);
  return static_cast<ssize_t>(len);
}

int H2ClientConnection::on_send_data(const uint8_t* framehd, size_t len, H2ClientStream* s) {
  if (pending_bytes() >= kHighWatermark) return NGHTTP2_ERR_WOULDBLOCK;
  std::string& o = out();
  o.append(reinterpret_cast<const char*>(framehd), 9);
  o.append(s->body_.data() + s->body_off_, len);
  s->body_off_ += len;
  return 0;
}

void H2ClientConnection::on_drained() { schedule_send(); }

// ---- failures, timers, close --------------------------------------------------------------

void H2ClientConnection::fail_streams(UpstreamFailure why, std::string_view detail) {
  streams_.for_each([&](H2ClientStream* hs) {
    streams_.erase(hs);
    if (hs->id_ > 0 && session_) nghttp2_session_set_stream_user_data(session_, hs->id_, nullptr);
    StreamEvents* s = hs->done_ ? nullptr : hs->stream_;
    const bool begun = hs->response_begun_;
    sub(pool_.endpoint_stats(endpoint_).requests_active);
    if (s) {
      hs->done_ = true;
      hs->stream_ = nullptr;
      UpstreamFailure w = why;
      if (w == UpstreamFailure::reset_before_response && begun) w = UpstreamFailure::reset_during_response;
      if (w != UpstreamFailure::connect_failed) add(pool_.stats().resets);
      s->on_upstream_failure(w, std::string(endpoint()) + ": " + std::string(detail), endpoint());
    }
    delete hs;
  });
}

void H2ClientConnection::fail(int err) {
  const bool connecting = !connected_;
  if (connecting) pool_.on_connect_failed(*this, err);
  goaway_ = true;  // nothing new goes here
  close();
  fail_streams(connecting ? UpstreamFailure::connect_failed : UpstreamFailure::reset_before_response,
               uv_strerror(err));
}

void H2ClientConnection::on_read_error(int err) { fail(err); }

void H2ClientConnection::on_write_error(int err) { fail(err); }

void H2ClientConnection::update_idle_timer() {
  if (closing() || closed_ || !connected_) return;
  const bool want = streams_.empty();
  if (want == idle_armed_) return;
  idle_armed_ = want;
  worker_.timers().arm(this, want ? static_cast<uint64_t>(pool_.config().idle_timeout.count()) : 0,
                       worker_.now_ms());
}

void H2ClientConnection::on_timeout() {
  if (!connected_) {
    fail(UV_ETIMEDOUT);
    return;
  }
  idle_armed_ = false;
  if (!streams_.empty()) return;
  shutdown();
}

void H2ClientConnection::shutdown() {
  if (closing() || closed_) return;
  goaway_ = true;  // no new stream here
  if (streams_.empty()) {
    if (connected_) {
      nghttp2_session_terminate_session(session_, NGHTTP2_NO_ERROR);
      nghttp2_session_send(session_);
      close_after_flush();
    } else {
      close();
    }
    return;
  }
  // Streams in flight (or waiting for the connect) complete; the connection
  // closes after the last (send()).
  if (connected_) nghttp2_submit_goaway(session_, NGHTTP2_FLAG_NONE, 0, NGHTTP2_NO_ERROR, nullptr, 0);
  schedule_send();
}

void H2ClientConnection::on_closed() {
  disarm();
  goaway_ = true;
  fail_streams(UpstreamFailure::reset_before_response, "connection closed");
  closed_ = true;
  pool_.on_closed(*this);
  if (!send_scheduled_) delete this;
}

}  // namespace moe
