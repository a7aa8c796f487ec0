#include "http2/h2_server_connection.h"

#include <malloc.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>

#include "core/listener.h"
#include "core/log.h"
#include "http2/h2_util.h"

namespace moe {
namespace {

H2ServerConnection* self(void* user_data) { return static_cast<H2ServerConnection*>(user_data); }

using h2::make_nv;
using h2::make_field_nv;
using h2::sv;

// Connection-specific fields are forbidden in HTTP/2 (RFC 9113 8.2.2). The
// Stream already strips them from upstream responses; moe's own replies may
// still carry "connection: close".
using h2::connection_specific;

ssize_t data_read_cb(nghttp2_session*, int32_t, uint8_t*, size_t length, uint32_t* flags,
                     nghttp2_data_source* source, void*) {
  return static_cast<H2Stream*>(source->ptr)->read_body(length, flags);
}

// Large response buffers of streams that ended go back to the system.
// glibc keeps freed memory in the worker thread's arena (and raises its
// mmap threshold after the first large free, so later large buffers come
// from the arena too): 800 streams of zero-window clients left 53 MiB
// resident after the clients had gone. Once 8 MiB of large buffers were
// freed on this worker, malloc_trim(0) runs a second later (one call for
// a whole burst of closes; it returns every arena's free pages).
struct Trimmer final : TimerNode {
  static constexpr size_t kLarge = 16 * 1024;
  static constexpr size_t kTrimAfter = 8 * 1024 * 1024;
  size_t freed = 0;
  void on_timeout() override {
    freed = 0;
    malloc_trim(0);
  }
};
thread_local Trimmer trimmer;

void release(Worker& w, std::string& buf) {
  const size_t cap = buf.capacity();
  std::string().swap(buf);
  if (cap < Trimmer::kLarge) return;
  trimmer.freed += cap;
  if (trimmer.freed >= Trimmer::kTrimAfter && !trimmer.armed()) w.timers().arm(&trimmer, 1000, w.now_ms());
}

nghttp2_session_callbacks* make_callbacks() {
  nghttp2_session_callbacks* cb;
  if (nghttp2_session_callbacks_new(&cb) != 0) return nullptr;
  h2::set_common_callbacks<H2ServerConnection>(cb);
  nghttp2_session_callbacks_set_send_data_callback(
      cb, [](nghttp2_session*, nghttp2_frame* f, const uint8_t* hd, size_t len, nghttp2_data_source* src, void* u) {
        return self(u)->on_send_data(f, hd, len, static_cast<H2Stream*>(src->ptr));
      });
  nghttp2_session_callbacks_set_on_frame_send_callback(
      cb, [](nghttp2_session*, const nghttp2_frame* f, void* u) { return self(u)->on_frame_send(f); });
  return cb;
}

}  // namespace

// ---- H2Stream: the DownstreamCodec of one HTTP/2 stream ----------------------------

H2Stream::H2Stream(H2ServerConnection& conn, int32_t id)
    : conn_(conn), id_(id), stream_(conn.worker().streams().new_stream(*this, conn.listener_index())) {}

H2Stream::~H2Stream() { release(conn_.worker(), body_); }

bool H2Stream::live() const { return stream_ && !stream_->finished(); }

std::string_view H2Stream::peer_ip() const { return conn_.peer_ip(); }

void H2Stream::encode_headers(const ResponseHead& head, bool end_stream) {
  if (closed_ || rst_submitted_ || response_submitted_) return;
  char status[8];
  auto [end, ec] = std::to_chars(status, status + sizeof status, head.status);
  // The connection's scratch array: nghttp2 copies the fields at submit.
  std::vector<nghttp2_nv>& nva = conn_.nva_;
  nva.clear();
  nva.push_back(make_nv(":status", std::string_view(status, static_cast<size_t>(end - status))));
  for (size_t i = 0; i < head.headers.size(); i++) {
    std::string_view n = head.headers.name(i);
    if (n.empty() || n[0] == ':' || connection_specific(n)) continue;
    nva.push_back(make_field_nv(n, head.headers.value(i), conn_.hpack_named_));
  }
  const bool interim = head.status >= 100 && head.status < 200;
  char len[24];
  if (!interim && head.status != 204 && head.status != 304 && head.content_length >= 0 &&
      !head.headers.has("content-length")) {
    auto [lend, lec] = std::to_chars(len, len + sizeof len, head.content_length);
    nva.push_back(make_nv("content-length", std::string_view(len, static_cast<size_t>(lend - len))));
  }
  nghttp2_session* s = conn_.session();
  int rv;
  if (interim) {
    // 101 cannot be expressed in HTTP/2 (no Upgrade); other 1xx go out as
    // informational HEADERS before the final response.
    if (head.status == 101) {
      reset_stream();
      return;
    }
    rv = nghttp2_submit_headers(s, NGHTTP2_FLAG_NONE, id_, nullptr, nva.data(), nva.size(), nullptr);
  } else {
    response_submitted_ = true;
    if (end_stream) {
      body_end_ = true;
      rv = nghttp2_submit_response(s, id_, nva.data(), nva.size(), nullptr);
    } else {
      data_provider_ = true;
      nghttp2_data_provider prd;
      prd.source.ptr = this;
      prd.read_callback = data_read_cb;
      rv = nghttp2_submit_response(s, id_, nva.data(), nva.size(), &prd);
    }
  }
  if (rv != 0) {
    log_debug("h2 stream {}: submit response: {}", id_, nghttp2_strerror(rv));
    reset_stream();
    return;
  }
  conn_.schedule_send();
}

void H2Stream::encode_data(const char* p, size_t n, bool end_stream) {
  if (closed_ || rst_submitted_ || !data_provider_ || body_end_) return;
  // Drop what went out once it is most of the buffer (the data source reads
  // at body_off_, which is re-read at each send, so moving it is safe).
  if (body_off_ > 16 * 1024 && body_off_ * 2 >= body_.size()) {
    body_.erase(0, body_off_);
    body_off_ = 0;
  }
  body_.append(p, n);
  if (end_stream) body_end_ = true;
  if (!armed() && queued()) sent_progress();
  if (deferred_ && (n || body_end_)) {
    deferred_ = false;
    nghttp2_session_resume_data(conn_.session(), id_);
  }
  conn_.schedule_send();
}

void H2Stream::encode_trailers(const HeaderMap& trailers) {
  if (closed_ || rst_submitted_ || !data_provider_ || body_end_) return;
  h2::collect_trailers(trailers, connection_specific, trailers_);
  body_end_ = true;
  if (deferred_) {
    deferred_ = false;
    nghttp2_session_resume_data(conn_.session(), id_);
  }
  conn_.schedule_send();
}

ssize_t H2Stream::read_body(size_t max, uint32_t* flags) {
  // The bytes are written straight from body_ by on_send_data.
  return h2::read_body(conn_.session(), id_, queued(), body_end_, trailers_, max, flags, &deferred_, conn_.nva_);
}

void H2Stream::reset_stream() {
  if (closed_ || rst_submitted_) return;
  rst_submitted_ = true;
  nghttp2_submit_rst_stream(conn_.session(), NGHTTP2_FLAG_NONE, id_, NGHTTP2_INTERNAL_ERROR);
  conn_.schedule_send();
}

void H2Stream::end_late_request() {
  if (closed_ || rst_submitted_) return;
  rst_submitted_ = true;
  disarm();
  nghttp2_submit_rst_stream(conn_.session(), NGHTTP2_FLAG_NONE, id_, NGHTTP2_NO_ERROR);
  conn_.schedule_send();
}

void H2Stream::on_timeout() {
  if (late_request_) {
    end_late_request();
    return;
  }
  if (closed_ || rst_submitted_ || !queued()) return;
  // timeouts.send: the client has not let us send a byte of this stream
  // for that long (a shut window, or a socket it does not read). Reset it
  // and end the Stream now, so its upstream connection and buffer go even
  // if the RST_STREAM cannot leave yet.
  log_debug("h2 stream {} from {}: nothing sent for timeouts.send: RST_STREAM(CANCEL)", id_, conn_.peer_ip());
  rst_submitted_ = true;
  nghttp2_submit_rst_stream(conn_.session(), NGHTTP2_FLAG_NONE, id_, NGHTTP2_CANCEL);
  release(conn_.worker(), body_);
  body_off_ = 0;
  if (live() && request_headers_done_) stream_->on_downstream_reset();
  conn_.schedule_send();
}

void H2Stream::sent_progress() {
  progress_ms_ = conn_.worker().now_ms();
  const uint64_t ms = static_cast<uint64_t>(conn_.cfg().timeouts.send.count());
  if (queued() && ms) conn_.worker().timers().arm(this, ms, conn_.worker().now_ms());
  else disarm();
}

size_t H2Stream::watermark() const {
  nghttp2_session* s = conn_.session();
  const int32_t w = std::min(nghttp2_session_get_stream_remote_window_size(s, id_),
                             nghttp2_session_get_remote_window_size(s));
  return std::clamp<size_t>(w > 0 ? static_cast<size_t>(w) : 0, kMinBuffer, TcpConnection::kHighWatermark);
}

void H2Stream::read_disable(bool disable) {
  read_disabled_ = disable;
  if (!disable && unconsumed_ && !closed_) {
    // The upstream side took the bytes: open the client's window again.
    nghttp2_session_consume_stream(conn_.session(), id_, unconsumed_);
    unconsumed_ = 0;
    conn_.schedule_send();
  }
}

bool H2Stream::above_high_watermark() const {
  // The stream keeps what the client may take now (its windows), not a
  // fixed 256 KiB: a client with shut windows and many streams would make
  // us read every upstream into memory we cannot send.
  return conn_.pending_bytes() > TcpConnection::kHighWatermark || queued() > watermark();
}

void H2Stream::on_stream_complete() {
  // Called from inside Stream::finish(): the Stream (and its header arena)
  // stays until nghttp2 closes the stream; the response may still be
  // draining from body_.
  if (closed_) return;
  if (!response_submitted_ && !rst_submitted_) reset_stream();  // nothing else would end it
  conn_.schedule_send();
}

// ---- the connection ----------------------------------------------------------------

void H2ServerConnection::adopt(Worker& worker, int listener_index, int fd, std::unique_ptr<Transport> transport,
                               std::string_view peer_ip, std::string_view initial) {
  if (fd < 0) return;
  auto* c = new H2ServerConnection(worker, listener_index, peer_ip);
  if (c->open(fd) != 0) {
    ::close(fd);
    c->close();
    return;
  }
  c->set_transport(std::move(transport));
  if (!c->init_session()) {
    c->close();
    return;
  }
  c->update_timer();
  c->on_data(initial.data(), initial.size());
  if (c->closing()) return;
  c->start_reading();
  // Sniffed during a drain (start_drain read what was in the socket): the
  // requests read so far are served, then GOAWAY.
  if (worker.draining()) c->start_drain();
}

H2ServerConnection::H2ServerConnection(Worker& worker, int listener_index, std::string_view peer_ip)
    : TcpConnection(worker), listener_index_(listener_index), peer_ip_(peer_ip) {
  // The HTTP/1 connection that handed the socket over un-counts itself when
  // it closes; this object counts the same client from now on.
  worker.listener_shared(listener_index)->connections.fetch_add(1, std::memory_order_relaxed);
  add(worker.stats().listeners[static_cast<size_t>(listener_index)]->connections_active);
  worker.add_downstream(this);
}

H2ServerConnection::~H2ServerConnection() {
  if (session_) nghttp2_session_del(session_);
}

bool H2ServerConnection::init_session() {
  nghttp2_session_callbacks* cb = make_callbacks();
  if (!cb) return false;
  nghttp2_option* opt;
  if (nghttp2_option_new(&opt) != 0) {
    nghttp2_session_callbacks_del(cb);
    return false;
  }
  // WINDOW_UPDATE only as request bytes are taken (see the header).
  nghttp2_option_set_no_auto_window_update(opt, 1);
  // No RFC 7540 priority tree: closed streams need not be kept for it.
  nghttp2_option_set_no_closed_streams(opt, 1);
  // Floods of SETTINGS/PING (ACKs we would queue), oversized SETTINGS and
  // CONTINUATION floods end the session inside nghttp2; these are its
  // defaults, stated here so they are visible.
  nghttp2_option_set_max_outbound_ack(opt, 1000);
  nghttp2_option_set_max_settings(opt, 32);
  nghttp2_option_set_max_continuations(opt, 8);
  const int rv = nghttp2_session_server_new2(&session_, cb, this, opt);
  nghttp2_option_del(opt);
  nghttp2_session_callbacks_del(cb);
  if (rv != 0) {
    session_ = nullptr;
    return false;
  }
  const nghttp2_settings_entry iv[] = {
      {NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, kMaxConcurrentStreams},
      {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, kInitialWindow},
      {NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE,
       static_cast<uint32_t>(std::min<uint64_t>(cfg().limits.max_request_headers, UINT32_MAX))},
      {NGHTTP2_SETTINGS_NO_RFC7540_PRIORITIES, 1},
  };
  if (nghttp2_submit_settings(session_, NGHTTP2_FLAG_NONE, iv, std::size(iv)) != 0) return false;
  // The connection window only paces; per-stream windows are the
  // backpressure, so it is consumed at once and can be larger.
  nghttp2_session_set_local_window_size(session_, NGHTTP2_FLAG_NONE, 0, kConnectionWindow);
  hpack_credit_cap_ = static_cast<int64_t>(
      std::max<uint64_t>(kHpackCreditMin, 16 * std::min<uint64_t>(cfg().limits.max_request_headers, 1ull << 32)));
  hpack_credit_ = hpack_credit_cap_;
  return true;
}

H2Stream* H2ServerConnection::stream_of(int32_t id) {
  return static_cast<H2Stream*>(nghttp2_session_get_stream_user_data(session_, id));
}

// ---- reading ----------------------------------------------------------------------------

void H2ServerConnection::on_data(const char* p, size_t n) {
  // The gate first (h2_frame_gate.h): frames before a violating one are
  // processed, then the session ends with GOAWAY.
  uint32_t gate_error = 0;
  const char* why = nullptr;
  const size_t ok = gate_.scan(p, n, &gate_error, &why);
  // Every byte received lets the client make us decode kHpackRatio bytes of
  // header fields (on_header), up to the cap.
  hpack_credit_ = std::min(hpack_credit_cap_, hpack_credit_ + static_cast<int64_t>(ok) * kHpackRatio);
  in_recv_ = true;
  ssize_t rv = ok ? nghttp2_session_mem_recv(session_, reinterpret_cast<const uint8_t*>(p), ok) : 0;
  in_recv_ = false;
  if (closing()) return;
  if (rv >= 0 && ok < n) {
    add(worker_.stats().listeners[static_cast<size_t>(listener_index_)]->protocol_errors);
    log_debug("listener {}: h2 from {}: {}: GOAWAY({})", cfg().name, peer_ip_, why,
              nghttp2_http2_strerror(gate_error));
    stop_reading();
    terminate(gate_error);
    return;
  }
  if (rv < 0) {
    // Bad preface, a flood nghttp2 detected, or our own verdict (rapid
    // reset): nghttp2 has queued a GOAWAY where it could; send it and go.
    add(worker_.stats().listeners[static_cast<size_t>(listener_index_)]->protocol_errors);
    log_debug("listener {}: h2 from {}: {}", cfg().name, peer_ip_, nghttp2_strerror(static_cast<int>(rv)));
    send();
    close_after_flush();
    return;
  }
  send();
}

int H2ServerConnection::on_begin_headers(const nghttp2_frame* frame) {
  if (frame->hd.type != NGHTTP2_HEADERS) return 0;
  const int32_t id = frame->hd.stream_id;
  header_block_stream_ = id;
  block_bytes_ = 0;
  block_fields_ = 0;
  hpack_credit_ = std::min(hpack_credit_cap_, hpack_credit_ + kHpackBlockAllowance);
  if (frame->headers.cat == NGHTTP2_HCAT_REQUEST) {
    auto* s = new H2Stream(*this, id);
    streams_.push_back(s);
    nghttp2_session_set_stream_user_data(session_, id, s);
  } else if (H2Stream* s = stream_of(id)) {
    s->in_trailers_ = true;  // a second HEADERS on a request: trailers
  }
  update_timer();
  return 0;
}

int H2ServerConnection::on_header(const nghttp2_frame* frame, std::string_view name, std::string_view value) {
  if (frame->hd.type != NGHTTP2_HEADERS) return 0;
  // HPACK bombs: nghttp2 validates every field it decodes before it calls
  // us, and an indexed field of 1 byte can decode to 4 KiB. Counted per
  // block whatever the stream's state (trailers on a finished stream too).
  const config::Limits& lim = cfg().limits;
  block_bytes_ += name.size() + value.size();
  block_fields_++;
  hpack_credit_ -= static_cast<int64_t>(name.size() + value.size() + 32);
  add(worker_.stats().listeners[static_cast<size_t>(listener_index_)]->h2_header_bytes_decoded,
      name.size() + value.size() + 32);
  if (block_bytes_ > kBlockAbuseFactor * lim.max_request_headers)
    return hpack_abuse("a header block over twice max_request_headers");
  if (block_fields_ > kBlockAbuseFactor * lim.max_headers + 16)
    return hpack_abuse("a header block over twice max_headers fields");
  if (hpack_credit_ < 0) return hpack_abuse("header fields decoding to over 128 times the bytes received");
  H2Stream* s = stream_of(frame->hd.stream_id);
  if (!s || !s->live() || name.empty()) return 0;
  // Limits are checked here and answered at the end of the block (431), as
  // HTTP/1 does; nghttp2 keeps decoding so the HPACK state stays in sync
  // (up to the abuse limits above).
  s->header_bytes_ += static_cast<uint32_t>(name.size() + value.size());
  if (s->header_bytes_ > lim.max_request_headers) {
    s->headers_too_large_ = true;
    return 0;
  }
  if (s->headers_too_large_ || s->too_many_headers_) return 0;
  if (s->in_trailers_) {
    HeaderMap& t = s->stream_->request_trailers();
    if (t.size() >= lim.max_headers) s->too_many_headers_ = true;
    else if (name[0] != ':') t.add(name, value);
    return 0;
  }
  RequestHead& r = s->stream_->request();
  if (name[0] == ':') {
    // nghttp2 has checked the pseudo-headers (present once, before the rest).
    if (name == ":method") r.method_view = r.headers.store(value);
    else if (name == ":path") r.set_path(value);
    else if (name == ":authority") s->authority_ = r.headers.store(value);
    // :scheme: the upstream leg is plain HTTP/1.1 either way.
    return 0;
  }
  if (r.headers.size() >= lim.max_headers) {
    s->too_many_headers_ = true;
    return 0;
  }
  r.headers.add(name, value);
  return 0;
}

int H2ServerConnection::hpack_abuse(const char* why) {
  // The rest of the block is never decoded: the HPACK context is lost, so
  // the connection ends (RFC 9113 10.5.1: process the block or close).
  // (Counted once, in on_data's rv < 0 branch, where mem_recv's failure
  // lands.)
  log_warn("listener {}: h2 client {} sent {}: GOAWAY(ENHANCE_YOUR_CALM)", cfg().name, peer_ip_, why);
  nghttp2_session_terminate_session(session_, NGHTTP2_ENHANCE_YOUR_CALM);
  stop_reading();
  return NGHTTP2_ERR_CALLBACK_FAILURE;  // mem_recv returns now, nothing more decoded
}

void H2ServerConnection::end_request_headers(H2Stream* s, bool end_stream) {
  StreamEvents& st = *s->stream_;
  RequestHead& r = st.request();
  r.version_major = 2;
  r.version_minor = 0;
  ListenerStats& ls = *worker_.stats().listeners[static_cast<size_t>(listener_index_)];
  if (s->headers_too_large_ || s->too_many_headers_) {
    add(ls.protocol_errors);
    st.send_local_reply(431, s->too_many_headers_ ? "Request Header Fields Too Large: too many headers\n"
                                                  : "Request Header Fields Too Large: request headers too large\n");
    return;
  }
  if (r.method() == "CONNECT") {
    // Tunnels over HTTP/2 streams are not built (the upstream leg would be
    // a raw TCP connection).
    add(ls.protocol_errors);
    st.send_local_reply(501, "Not Implemented: CONNECT over HTTP/2\n");
    return;
  }
  // nghttp2 has refused controls and spaces in :path, not bytes above
  // 0x7e, and the path goes upstream in an HTTP/1.1 request line (moe's own
  // HTTP/1 listener answers such a target with 400 too). Found by
  // tests/fuzz/connection_fuzz.
  if (!valid_request_target(r.path())) {
    add(ls.protocol_errors);
    st.send_local_reply(400, "Bad Request: invalid character in :path\n");
    return;
  }
  // nghttp2 holds :path to "/..." (or "*" for OPTIONS) only when :scheme
  // is exactly "http" or "https" (RFC 9113 8.3.1 leaves other schemes
  // free). Any other form goes upstream as an HTTP/1.1 absolute-form or
  // authority-less target, which the upstream reads as another host or
  // path than the one routed: "http://internal/private" under :authority
  // public, with :scheme "foo" or "HTTP".
  if (r.path()[0] != '/' && !(r.path() == "*" && r.method() == "OPTIONS")) {
    add(ls.protocol_errors);
    st.send_local_reply(400, "Bad Request: :path is not an origin-form path\n");
    return;
  }
  // :authority is the target's authority (RFC 9113 8.3.1); the HTTP/1
  // upstream, the router and Go filters read it as Host.
  if (!s->authority_.empty()) r.headers.set("host", s->authority_);
  else if (!r.headers.has("host")) {
    add(ls.protocol_errors);
    st.send_local_reply(400, "Bad Request: missing :authority\n");
    return;
  }
  // nghttp2 lets userinfo ('@') through; the HTTP/1 listener's rule.
  if (!valid_authority(r.headers.get("host"))) {
    add(ls.protocol_errors);
    st.send_local_reply(400, "Bad Request: invalid :authority\n");
    return;
  }
  // HTTP/2 may split Cookie into several fields; HTTP/1 wants one
  // (RFC 9113 8.2.3).
  if (r.headers.count("cookie") > 1) {
    std::string joined;
    for (size_t i = 0; i < r.headers.size(); i++) {
      if (r.headers.name(i) != "cookie") continue;
      if (!joined.empty()) joined.append("; ");
      joined.append(r.headers.value(i));
    }
    r.headers.set("cookie", joined);
  }
  bool has_cl = false;
  std::string_view cl = r.headers.get("content-length", &has_cl);
  r.content_length = -1;
  if (has_cl) {
    // nghttp2 has checked that it is a number and will check the DATA
    // against it.
    int64_t v = 0;
    std::from_chars(cl.data(), cl.data() + cl.size(), v);
    r.content_length = v;
  }
  r.has_body = !end_stream;
  r.is_head = r.method() == "HEAD";
  r.keep_alive = true;
  s->request_headers_done_ = true;
  st.on_request_headers(end_stream);
}

int H2ServerConnection::on_frame_recv(const nghttp2_frame* frame) {
  const int32_t id = frame->hd.stream_id;
  switch (frame->hd.type) {
    case NGHTTP2_HEADERS: {
      if (header_block_stream_ == id) header_block_stream_ = 0;
      H2Stream* s = stream_of(id);
      if (s && s->live()) {
        const bool end = frame->hd.flags & NGHTTP2_FLAG_END_STREAM;
        if (frame->headers.cat == NGHTTP2_HCAT_REQUEST) end_request_headers(s, end);
        else if (s->in_trailers_ && s->request_headers_done_) s->stream_->on_request_trailers();
      }
      update_timer();
      break;
    }
    case NGHTTP2_DATA:
      if (frame->hd.flags & NGHTTP2_FLAG_END_STREAM) {
        H2Stream* s = stream_of(id);
        if (s && s->live() && s->request_headers_done_) s->stream_->on_request_end();
      }
      break;
    case NGHTTP2_RST_STREAM: {
      // Rapid reset (CVE-2023-44487): each HEADERS + RST_STREAM pair costs
      // us a Stream, a route and maybe an upstream connection, and never
      // counts against MAX_CONCURRENT_STREAMS.
      const uint64_t now = worker_.now_ms();
      if (now - reset_window_ms_ >= 1000) {
        reset_window_ms_ = now;
        resets_ = 0;
      }
      if (++resets_ > kMaxResetsPerSecond) {
        add(worker_.stats().listeners[static_cast<size_t>(listener_index_)]->protocol_errors);
        log_warn("listener {}: h2 client {} sent over {} RST_STREAM in a second: GOAWAY(ENHANCE_YOUR_CALM)",
                 cfg().name, peer_ip_, kMaxResetsPerSecond);
        nghttp2_session_terminate_session(session_, NGHTTP2_ENHANCE_YOUR_CALM);
        stop_reading();
        return NGHTTP2_ERR_CALLBACK_FAILURE;  // stop reading this input now
      }
      break;
    }
    default:
      break;
  }
  return 0;
}

int H2ServerConnection::on_data_chunk(int32_t stream_id, const uint8_t* data, size_t len) {
  // The connection window is not backpressure (see the header): consume it.
  nghttp2_session_consume_connection(session_, len);
  H2Stream* s = stream_of(stream_id);
  if (!s || !s->live() || !s->request_headers_done_) {
    nghttp2_session_consume_stream(session_, stream_id, len);  // dropped
    if (s && s->late_request_ && (s->late_bytes_ += static_cast<uint32_t>(len)) > H2Stream::kLateBodyMax)
      s->end_late_request();
    return 0;
  }
  s->stream_->on_request_data(reinterpret_cast<const char*>(data), len);
  if (s->read_disabled_ && s->live()) s->unconsumed_ += len;  // consumed at read_disable(false)
  else nghttp2_session_consume_stream(session_, stream_id, len);
  return 0;
}

// ---- writing ----------------------------------------------------------------------------

void H2ServerConnection::schedule_send() {
  // Inside mem_recv, on_data sends when it returns.
  if (send_scheduled_ || in_recv_ || closing()) return;
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

void H2ServerConnection::send() {
  if (closing() || !session_) return;
  const int rv = nghttp2_session_send(session_);
  if (rv != 0) {
    log_debug("listener {}: h2 to {}: {}", cfg().name, peer_ip_, nghttp2_strerror(rv));
    reset_all_streams();
    close();
    return;
  }
  if (pending_bytes()) mark_dirty();
  // Streams whose response bytes went out may read their upstream again.
  if (pending_bytes() <= kLowWatermark) {
    streams_.for_each([](H2Stream* s) {
      if (s->live() && (s->queued() <= H2Stream::kMinBuffer / 4 || s->queued() <= s->watermark() / 4))
        s->stream_->on_downstream_drained();
    });
  }
  if (!nghttp2_session_want_read(session_) && !nghttp2_session_want_write(session_)) {
    // GOAWAY exchanged and no stream left, or the session ended itself.
    close_after_flush();
    return;
  }
  update_timer();
}

ssize_t H2ServerConnection::on_send(const uint8_t* data, size_t len) {
  // Above the watermark nghttp2 keeps the frame; on_drained() resumes.
  if (pending_bytes() >= kHighWatermark) return would_block();
  out().append(reinterpret_cast<const char*>(data), len);
  return static_cast<ssize_t>(len);
}

int H2ServerConnection::would_block() {
  // The client does not read its socket: timeouts.send closes the
  // connection unless it drains (on_drained) before.
  if (!write_blocked_) {
    write_blocked_ = true;
    update_timer();
  }
  return NGHTTP2_ERR_WOULDBLOCK;
}

int H2ServerConnection::on_send_data(nghttp2_frame* frame, const uint8_t* framehd, size_t len, H2Stream* s) {
  if (pending_bytes() >= kHighWatermark) return would_block();
  // No padding is ever requested, so a DATA frame is the 9-byte header and
  // the body bytes: one copy, from the stream's buffer into out().
  std::string& o = out();
  o.append(reinterpret_cast<const char*>(framehd), 9);
  o.append(s->body_.data() + s->body_off_, len);
  s->body_off_ += len;
  if (s->body_off_ == s->body_.size()) {
    s->body_.clear();
    s->body_off_ = 0;
  }
  s->sent_progress();
  (void)frame;
  return 0;
}

int H2ServerConnection::on_frame_send(const nghttp2_frame* frame) {
  const int32_t id = frame->hd.stream_id;
  if ((frame->hd.type == NGHTTP2_HEADERS || frame->hd.type == NGHTTP2_DATA) &&
      (frame->hd.flags & NGHTTP2_FLAG_END_STREAM)) {
    // The response is complete but the client is still sending (a local
    // reply cut the request short). A RST_STREAM(NO_ERROR) now (RFC 9113
    // 8.1) would make nghttp2 forget the stream, and every protocol error
    // in what the client still sends would go unanswered (5.1: frames on a
    // stream we reset are ignored): keep it open for a while instead
    // (H2Stream::kLateRequestMs).
    H2Stream* s = stream_of(id);
    if (s && !s->live() && !s->rst_submitted_ && !nghttp2_session_get_stream_remote_close(session_, id)) {
      s->late_request_ = true;
      worker_.timers().arm(s, H2Stream::kLateRequestMs, worker_.now_ms());
    }
  }
  return 0;
}

int H2ServerConnection::on_stream_close(int32_t stream_id, uint32_t error_code) {
  // Called from inside mem_recv or session_send only, never from inside a
  // Stream: deleting the stream here is safe.
  H2Stream* s = stream_of(stream_id);
  if (header_block_stream_ == stream_id) header_block_stream_ = 0;
  if (!s) return 0;
  nghttp2_session_set_stream_user_data(session_, stream_id, nullptr);
  s->closed_ = true;
  // Reset by the client (or by us) before the response was done.
  if (s->live() && s->request_headers_done_) s->stream_->on_downstream_reset();
  streams_.erase(s);
  delete s;
  (void)error_code;
  update_timer();
  return 0;
}

void H2ServerConnection::on_drained() {
  if (write_blocked_) {
    write_blocked_ = false;
    update_timer();
  }
  schedule_send();
}

// ---- timers, drain, close -------------------------------------------------------------

void H2ServerConnection::on_write_progress() {
  // The client reads: timeouts.send counts from this write, not from when
  // the output went full (a slow reader frees kernel room in large steps).
  if (timer_ == TimerKind::send && !closing())
    worker_.timers().arm(this, static_cast<uint64_t>(cfg().timeouts.send.count()), worker_.now_ms());
}

void H2ServerConnection::update_timer() {
  if (closing()) return;
  TimerKind want = TimerKind::none;
  if (header_block_stream_) want = TimerKind::request_headers;
  else if (write_blocked_) want = TimerKind::send;
  else if (streams_.empty()) want = TimerKind::idle;
  if (want == timer_) return;
  timer_ = want;
  const config::Timeouts& t = cfg().timeouts;
  const uint64_t ms = want == TimerKind::request_headers ? static_cast<uint64_t>(t.request_headers.count())
                      : want == TimerKind::send          ? static_cast<uint64_t>(t.send.count())
                      : want == TimerKind::idle          ? static_cast<uint64_t>(t.idle.count())
                                                         : 0;
  worker_.timers().arm(this, ms, worker_.now_ms());  // 0 disarms
}

void H2ServerConnection::on_timeout() {
  // An open header block that did not finish in time (slowloris), or no
  // stream for the idle timeout.
  log_debug("listener {}: h2 from {}: {} timeout", cfg().name, peer_ip_,
            timer_ == TimerKind::request_headers ? "request headers"
            : timer_ == TimerKind::send          ? "send"
                                                 : "idle");
  if (timer_ == TimerKind::send) {
    // The client has read nothing for timeouts.send while our output was
    // full: a GOAWAY would not get through either.
    timer_ = TimerKind::none;
    force_close();
    return;
  }
  timer_ = TimerKind::none;
  terminate(NGHTTP2_NO_ERROR);
}

void H2ServerConnection::terminate(uint32_t error_code) {
  if (closing()) return;
  nghttp2_session_terminate_session(session_, error_code);
  send();
  close_after_flush();
}

void H2ServerConnection::start_drain() {
  if (closing()) return;
  if (streams_.empty() && !header_block_stream_) {
    terminate(NGHTTP2_NO_ERROR);
    return;
  }
  // Streams up to the last one we processed complete; the client retries
  // later ones elsewhere. The connection closes when they are done (send()).
  nghttp2_submit_goaway(session_, NGHTTP2_FLAG_NONE, nghttp2_session_get_last_proc_stream_id(session_),
                        NGHTTP2_NO_ERROR, nullptr, 0);
  send();
}

void H2ServerConnection::force_close() {
  reset_all_streams();
  close();
}

void H2ServerConnection::on_read_error(int err) {
  // The client is gone: nothing of the streams in flight can be delivered.
  reset_all_streams();
  close();
}

void H2ServerConnection::reset_all_streams() {
  streams_.for_each([this](H2Stream* s) {
    s->closed_ = true;
    if (session_) nghttp2_session_set_stream_user_data(session_, s->id_, nullptr);
    if (s->live() && s->request_headers_done_) s->stream_->on_downstream_reset();
    streams_.erase(s);
    delete s;
  });
}

void H2ServerConnection::end_streams() {
  // Also when lingering starts after GOAWAY (a flood, a protocol error, a
  // drain): the streams still open are reset then, not when the linger ends.
  disarm();
  reset_all_streams();
}

void H2ServerConnection::on_closed() {
  end_streams();
  worker_.remove_downstream(this);
  worker_.listener_shared(listener_index_)->connections.fetch_sub(1, std::memory_order_relaxed);
  sub(worker_.stats().listeners[static_cast<size_t>(listener_index_)]->connections_active);
  closed_ = true;
  if (!send_scheduled_) delete this;  // else the deferred send deletes it
}

}  // namespace moe
