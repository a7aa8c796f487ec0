#include "http1/http1_server_connection.h"

#include <llhttp.h>
#include <sys/socket.h>

#include <charconv>
#include <cstring>
#include <memory>
#include <string>

#include "core/log.h"
#include "http/headers.h"
#include "http1/http1_encode.h"
#include "http1/wire_count.h"

namespace moe {
namespace {

Http1ServerConnection* self(llhttp_t* p) { return static_cast<Http1ServerConnection*>(p->data); }

constexpr llhttp_settings_t kSettings = [] {
  llhttp_settings_t s{};
  s.on_message_begin = [](llhttp_t* p) { return self(p)->on_message_begin(); };
  s.on_method = [](llhttp_t* p, const char* at, size_t n) { return self(p)->on_method(at, n); };
  s.on_url = [](llhttp_t* p, const char* at, size_t n) { return self(p)->on_url(at, n); };
  s.on_header_field = [](llhttp_t* p, const char* at, size_t n) { return self(p)->on_header_field(at, n); };
  s.on_header_value = [](llhttp_t* p, const char* at, size_t n) { return self(p)->on_header_value(at, n); };
  s.on_header_value_complete = [](llhttp_t* p) { return self(p)->on_header_value_complete(); };
  s.on_headers_complete = [](llhttp_t* p) { return self(p)->on_headers_complete(); };
  s.on_body = [](llhttp_t* p, const char* at, size_t n) { return self(p)->on_body(at, n); };
  s.on_chunk_header = [](llhttp_t* p) { return self(p)->on_chunk_header(); };
  s.on_chunk_extension_name = [](llhttp_t* p, const char*, size_t n) { return self(p)->on_chunk_extension(n); };
  s.on_chunk_extension_value = [](llhttp_t* p, const char*, size_t n) { return self(p)->on_chunk_extension(n); };
  s.on_message_complete = [](llhttp_t* p) { return self(p)->on_message_complete(); };
  return s;
}();

int status_for(llhttp_errno_t err, int user_status) {
  switch (err) {
    case HPE_USER: return user_status;
    case HPE_INVALID_VERSION: return 505;
    default: return 400;
  }
}

// origin-form "/x", absolute-form "http://h/x", authority-form (CONNECT),
// asterisk-form "*" (OPTIONS). llhttp has already rejected bytes that cannot
// appear in a target.
bool valid_target(std::string_view t, llhttp_method_t m) {
  if (t.empty()) return false;
  if (m == HTTP_CONNECT) return t.find('/') == std::string_view::npos && t.find(':') != std::string_view::npos;
  if (t.find('#') != std::string_view::npos) return false;  // a fragment is not part of a target
  if (t[0] == '/') return true;
  if (t == "*") return m == HTTP_OPTIONS;
  if (t.substr(0, 7) == "http://" || t.substr(0, 8) == "https://") {
    size_t start = t.find("//") + 2;
    return start < t.size() && t[start] != '/';
  }
  return false;
}

// "h2c" in any Upgrade field line: an upstream that joins the lines
// (RFC 9110 5.3) reads "websocket, h2c" from two of them.
bool asks_for_h2c(const HeaderMap& h) {
  for (size_t i = 0; i < h.size(); i++)
    if (h.name(i) == "upgrade" && header_list_has(h.value(i), "h2c")) return true;
  return false;
}

// The last byte of p[0..n) that is not SP or HT; `otherwise` when none is.
char last_non_blank(const char* p, size_t n, char otherwise) {
  while (n && (p[n - 1] == ' ' || p[n - 1] == '\t')) n--;
  return n ? p[n - 1] : otherwise;
}

}  // namespace

// What lives only while a request is read or answered. Taken at the first
// byte of a request (parse), given back when the connection is idle again
// (go_idle) or closes; pipelined requests reuse it.
struct Http1ServerConnection::Request {
  // From the worker thread's slab, like Stream: no malloc per request.
  static void* operator new(size_t) { return Slab<sizeof(Request)>::alloc(); }
  static void operator delete(void* p) { Slab<sizeof(Request)>::release(p); }

  llhttp_t parser;
  std::unique_ptr<StreamEvents> stream;  // Worker::streams()
  std::unique_ptr<std::string> leftover;  // unparsed pipelined bytes (see the header); rare
  const char* user_reason = nullptr;      // set by limit_error: our own verdict
  const char* read_begin = nullptr;       // start of the bytes being parsed
  uint32_t header_bytes = 0;              // request line, names, values (the spans)
  uint32_t chunk_ext_bytes = 0;           // of the whole request
  http1::WireCount wire;                  // what llhttp consumes outside the spans (account_wire)
  int error_status = 400;                 // status to send for HPE_USER
  uint64_t progress_ms = 0;               // last write while the output was full (last_progress_ms)
  char prev_byte = 0;                     // last non-blank byte of earlier reads
  bool in_field = false;
  bool have_name = false;                 // a header name began since the last value
  bool in_trailers = false;
  // peer_ip() as text, made at the first call: the view stays valid while
  // the stream lives (Go's stream info points at it).
  uint8_t peer_len = 0;
  char peer_text[PeerAddress::kMaxText];
};

void Http1ServerConnection::accept(Worker& worker, int listener_index, ListenerShared* shared, int fd,
                                   const sockaddr* peer, std::unique_ptr<Transport> transport) {
  auto* c = new Http1ServerConnection(worker, listener_index, shared);
  if (c->open(fd) != 0) {
    ::close(fd);
    c->close();
    return;
  }
  c->set_transport(std::move(transport));
  c->start(peer);
}

Http1ServerConnection::Http1ServerConnection(Worker& worker, int listener_index, ListenerShared* shared)
    : TcpConnection(worker), listener_index_(listener_index) {
  (void)shared;  // the worker finds it again at close (listener_shared)
}

Http1ServerConnection::~Http1ServerConnection() { release_request(); }

void Http1ServerConnection::start(const sockaddr* peer) {
  peer_.set(peer);
  worker_.add_downstream(this);
  if (cfg().http2) h2_preface_ = 0;
  // A client that connects and says nothing is held to the header timeout.
  worker_.timers().arm(this, static_cast<uint64_t>(cfg().timeouts.request_headers.count()), worker_.now_ms());
  start_reading();
}

std::string_view Http1ServerConnection::protocol() const { return http10_ ? "HTTP/1.0" : "HTTP/1.1"; }

std::string_view Http1ServerConnection::peer_ip() const {
  // Asked by the stream, so a request is in progress.
  if (!req_) return {};
  if (!req_->peer_len) req_->peer_len = static_cast<uint8_t>(peer_.format(req_->peer_text));
  return {req_->peer_text, req_->peer_len};
}

uint64_t Http1ServerConnection::last_progress_ms() const { return req_ ? req_->progress_ms : 0; }

StreamEvents* Http1ServerConnection::stream() const { return req_ ? req_->stream.get() : nullptr; }

// ---- reading and parsing ----------------------------------------------------------

void Http1ServerConnection::on_data(const char* p, size_t n) {
  // HTTP/2 prior knowledge: until the first request, look for the client
  // preface (maybe split across reads). On a match the socket moves to an
  // HTTP/2 connection (the acceptor's on_protocol_switch) with every byte
  // read so far, and this object closes.
  if (h2_preface_ >= 0) {
    static constexpr std::string_view kPreface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
    const size_t have = static_cast<size_t>(h2_preface_);
    const size_t m = std::min(n, kPreface.size() - have);
    if (std::string_view(p, m) != kPreface.substr(have, m)) {
      h2_preface_ = -1;  // HTTP/1 after all: the bytes held back are parsed first
      if (have == 0 && !looks_like_http1(std::string_view(p, n))) {
        // Neither the HTTP/2 preface nor an HTTP/1.x request line: a client
        // that speaks neither cannot read an HTTP/1.1 400, and an h2 client
        // with a broken preface must see the connection close (RFC 9113
        // 3.4). Close without answering.
        add(worker_.stats().listeners[static_cast<size_t>(listener_index_)]->protocol_errors);
        log_debug("listener {}: from {}: neither an HTTP/1.x request line nor the HTTP/2 preface; closing",
                  cfg().name, peer_.text().view());
        close();
        return;
      }
      if (have) parse(kPreface.data(), have);
      if (closing()) return;
    } else if (have + m < kPreface.size()) {
      h2_preface_ = static_cast<int8_t>(have + m);
      return;
    } else {
      std::string initial(kPreface);
      initial.append(p + m, n - m);
      const PeerAddress::Text ip = peer_.text();
      std::unique_ptr<Transport> t = take_transport();
      worker_.acceptor().on_protocol_switch(worker_, listener_index_, "h2", release_fd(), std::move(t), ip.view(),
                                            initial);
      return;
    }
  }
  if (raw_request_) {
    if (StreamEvents* s = stream(); s && !s->finished()) s->on_request_data(p, n);
    return;
  }
  if (paused_) {
    // The next pipelined request arrived while the previous response is in
    // flight: keep it unparsed and stop reading until that response is done.
    if (!req_->leftover) req_->leftover = std::make_unique<std::string>();
    req_->leftover->append(p, n);
    stop_reading();
    return;
  }
  parse(p, n);
}

bool Http1ServerConnection::looks_like_http1(std::string_view first) {
  // Empty lines before a request line are allowed (RFC 9112 2.2).
  while (!first.empty() && (first.front() == '\r' || first.front() == '\n')) first.remove_prefix(1);
  // Only a complete first line is judged; a partial one goes to llhttp.
  const size_t eol = first.find('\n');
  if (eol == std::string_view::npos) return true;
  std::string_view line = first.substr(0, eol);
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  // "... HTTP/d.d": the version is what makes it HTTP/1 (llhttp answers
  // 505 to a well-formed version it does not speak).
  if (line.size() < 9) return false;
  const std::string_view v = line.substr(line.size() - 9);
  return v[0] == ' ' && v.substr(1, 5) == "HTTP/" && v[6] >= '0' && v[6] <= '9' && v[7] == '.' && v[8] >= '0' &&
         v[8] <= '9';
}

void Http1ServerConnection::parse(const char* p, size_t n) {
  if (!req_) {
    // A parser (and the rest of Request) only while a request is in
    // progress: idle connections hold none.
    req_ = new Request;
    llhttp_init(&req_->parser, HTTP_REQUEST, &kSettings);
    req_->parser.data = this;
  }
  llhttp_t* parser = &req_->parser;
  req_->read_begin = p;
  // The last byte other than SP/HT, remembered for the obs-fold check of
  // the next read's first fragment
  // (unless the connection went idle: the next request starts afresh).
  struct SaveLast {
    Http1ServerConnection* c;
    char last;
    ~SaveLast() {
      if (!c->req_) return;
      c->req_->prev_byte = last;
      c->req_->read_begin = nullptr;
    }
  } save{this, last_non_blank(p, n, req_->prev_byte)};
  const bool was_idle = !stream();
  bool served = false;
  while (n > 0 && !closing()) {
    llhttp_errno_t err = llhttp_execute(parser, p, n);
    if (err == HPE_OK) {
      if (!stream() && parser->finish == HTTP_FINISH_SAFE) {
        // Everything parsed and no request open: only blank lines (RFC
        // 9112 2.2 lets them precede a request line). Idle, but the timer
        // running since the last request (or the connect) goes on: a
        // client sending CRLFs forever is closed when it ends.
        if (was_idle && !served) release_request();
        else go_idle();
        return;
      }
      account_wire(n);
      return;
    }
    const char* pos = llhttp_get_error_pos(parser);
    if (err == HPE_PAUSED) {
      // At a message boundary (on_message_complete paused the parser).
      n -= static_cast<size_t>(pos - p);
      p = pos;
      served = true;
      req_->wire.begin();  // the next request's bytes start here
      if (StreamEvents* s = stream(); s && !s->finished()) {
        paused_ = true;
        if (n) {
          req_->leftover = std::make_unique<std::string>(p, n);
          stop_reading();
        }
        return;
      }
      if (!complete_stream()) return;
      llhttp_resume(parser);
      if (n == 0) go_idle();
      continue;
    }
    if (err == HPE_PAUSED_UPGRADE) {
      // Upgrade/CONNECT head parsed: every later byte belongs to the tunnel,
      // forwarded as-is once (and if) the upstream agrees.
      raw_request_ = true;
      close_after_response_ = true;
      n -= static_cast<size_t>(pos - p);
      if (StreamEvents* s = stream(); n && s && !s->finished()) s->on_request_data(pos, n);
      return;
    }
    // A limit or check of ours (from any callback) carries its own status
    // and reason; everything else is llhttp's verdict.
    if (req_->user_reason) protocol_error(req_->error_status, req_->user_reason);
    else protocol_error(status_for(err, req_->error_status), llhttp_get_error_reason(parser));
    return;
  }
}

void Http1ServerConnection::protocol_error(int status, std::string_view reason) {
  add(worker_.stats().listeners[static_cast<size_t>(listener_index_)]->protocol_errors);
  log_debug("listener {}: {} from {}: {}", cfg().name, status, peer_.text().view(), reason);
  std::string body(http1::reason_phrase(status));
  body.append(": ").append(reason).push_back('\n');
  if (StreamEvents* s = stream(); s && !s->finished()) {
    if (s->response_started()) {
      s->on_downstream_reset();
      close();
      return;
    }
    s->send_local_reply(status, body, true);
  } else {
    // No stream to speak for (error between requests): answer directly.
    ResponseHead h;
    h.status = status;
    h.content_length = static_cast<int64_t>(body.size());
    h.has_body = true;
    h.headers.add("content-type", "text/plain");
    bool chunked, close;
    http1::write_response_head(out(), h, 1, true, chunked, close);
    out().append(body);
  }
  close_after_response_ = true;
  close_after_flush();
}

void Http1ServerConnection::on_read_error(int err) {
  if (transport() && transport()->handshake_failed())
    add(worker_.stats().listeners[static_cast<size_t>(listener_index_)]->tls_handshake_failures);
  // The client went away (FIN or RST) before its response was done: the
  // stream is abandoned, as nginx and Envoy do, so a pending filter or an
  // upstream request does not keep working for nobody.
  if (StreamEvents* s = stream(); s && !s->finished()) s->on_downstream_reset();
  close();
}

void Http1ServerConnection::read_disable(bool disable) {
  read_disabled_ = disable;
  if (disable) stop_reading();
  else if (!paused_ || !req_->leftover) start_reading();
}

void Http1ServerConnection::on_drained() {
  if (send_blocked_) {
    send_blocked_ = false;
    disarm();
  }
  if (StreamEvents* s = stream(); s && !s->finished()) s->on_downstream_drained();
}

// ---- the end of a stream -------------------------------------------------------------

void Http1ServerConnection::on_stream_complete() {
  // Called from inside Stream::finish(), possibly deep in a parser callback
  // of this or an upstream connection: the stream is recycled afterwards.
  if (after_stream_scheduled_) return;
  after_stream_scheduled_ = true;
  worker_.defer([this] {
    after_stream_scheduled_ = false;
    if (closed_) {
      delete this;
      return;
    }
    after_stream();
  });
}

bool Http1ServerConnection::complete_stream() {
  StreamEvents* s = stream();
  const bool request_unfinished = !s->request_complete();
  const bool must_close = s->close_connection() || close_after_response_ || draining_ || request_unfinished;
  req_->stream.reset();
  if (must_close || closing()) {
    close_after_flush();
    return false;
  }
  return true;
}

void Http1ServerConnection::after_stream() {
  StreamEvents* s = stream();
  if (!s || !s->finished() || closing()) return;
  if (!complete_stream()) return;
  if (paused_) {
    paused_ = false;
    llhttp_resume(&req_->parser);
    if (req_->leftover) {
      std::unique_ptr<std::string> pending = std::move(req_->leftover);
      parse(pending->data(), pending->size());
      if (closing()) return;
      if (paused_) return;  // another request is in flight; reading stays stopped
    }
  }
  if (!stream()) go_idle();
  if (!read_disabled_) start_reading();
}

void Http1ServerConnection::go_idle() {
  release_request();
  send_blocked_ = false;  // the idle timer governs from here
  worker_.timers().arm(this, static_cast<uint64_t>(cfg().timeouts.idle.count()), worker_.now_ms());
}

void Http1ServerConnection::on_timeout() {
  if (send_blocked_) {
    // The client read too little for timeouts.send to bring our output
    // below the low watermark: the response cannot finish; the stream's
    // upstream request is ended with it.
    log_debug("listener {}: HTTP/1 from {}: output full for timeouts.send: closing", cfg().name, peer_.text().view());
    send_blocked_ = false;
    force_close();
    return;
  }
  if (StreamEvents* s = stream(); s && !s->finished()) {
    // Headers did not arrive in time (slowloris).
    s->send_local_reply(408, "request headers timeout\n", true);
    close_after_response_ = true;
    return;
  }
  close();  // idle keep-alive, or connected and never said anything
}

void Http1ServerConnection::start_drain() {
  draining_ = true;
  close_after_response_ = true;
  if (stream()) return;  // closes after its response
  // An idle connection may hold the client's next request in its socket
  // buffer already, sent before the client could know: closed now, that
  // request would get an EOF, and HTTP/1 gives the client no way to tell
  // whether it ran. It is read and answered (with Connection: close) by
  // the poll that is already armed; only an empty socket closes now. (A
  // request still on the wire races the close, as with any idle close.)
  char byte;
  if (::recv(fd(), &byte, 1, MSG_PEEK | MSG_DONTWAIT) > 0) return;
  close();
}

void Http1ServerConnection::force_close() {
  if (StreamEvents* s = stream(); s && !s->finished()) s->on_downstream_reset();
  close();
}

void Http1ServerConnection::release_request() {
  delete req_;
  req_ = nullptr;
}

void Http1ServerConnection::end_streams() {
  disarm();
  if (StreamEvents* s = stream(); s && !s->finished()) s->on_downstream_reset();
}

void Http1ServerConnection::on_closed() {
  end_streams();
  if (req_) req_->stream.reset();
  release_request();
  worker_.remove_downstream(this);
  worker_.listener_shared(listener_index_)->connections.fetch_sub(1, std::memory_order_relaxed);
  sub(worker_.stats().listeners[static_cast<size_t>(listener_index_)]->connections_active);
  closed_ = true;
  if (!after_stream_scheduled_) delete this;  // else the deferred task deletes it
}

// ---- encoding --------------------------------------------------------------------------

void Http1ServerConnection::encode_headers(const ResponseHead& head, bool end_stream) {
  std::string& o = out();
  if (head.status >= 100 && head.status < 200 && head.status != 101) {
    if (http10_) return;  // HTTP/1.0 clients get no interim responses
    bool c1, c2;
    http1::write_response_head(o, head, 1, false, c1, c2);
    mark_dirty();
    return;
  }
  const bool add_close = close_after_response_ || draining_;
  bool close_delimited = false;
  bool chunked = false;
  http1::write_response_head(o, head, http10_ ? 0 : 1, add_close, chunked, close_delimited);
  chunked_out_ = chunked;
  if (close_delimited) close_after_response_ = true;
  StreamEvents* s = stream();
  if (head.status == 101 || (s && s->request().is_connect && head.status < 300)) {
    tunnel_ = true;
    chunked_out_ = false;
  }
  mark_dirty();
}

void Http1ServerConnection::encode_data(const char* p, size_t n, bool end_stream) {
  // out() is asked again after write_body, which may send or swap the
  // output buffer: no reference to it is held across the call.
  if (chunked_out_ && n) {
    http1::write_chunk_header(out(), n);
    write_body(p, n);
    out().append("\r\n", 2);
  } else if (n) {
    write_body(p, n);
  }
  if (chunked_out_ && end_stream) http1::write_last_chunk(out(), nullptr);
  mark_dirty();
  if (end_stream && tunnel_) close_after_flush();
  // The stream stops reading upstream above the watermark; a client that
  // then never reads would hold both connections for ever.
  if (!send_blocked_ && above_high_watermark()) send_blocked();
}

void Http1ServerConnection::on_write_progress() {
  // The client reads: timeouts.send counts from this write (a slow reader
  // behind a big kernel send buffer frees room only in large steps).
  if (req_) req_->progress_ms = worker_.now_ms();
  if (send_blocked_ && !closing())
    worker_.timers().arm(this, static_cast<uint64_t>(cfg().timeouts.send.count()), worker_.now_ms());
}

void Http1ServerConnection::send_blocked() {
  // timeouts.send: the output must drain below the low watermark
  // (on_drained) within it, or the connection is closed. The timer is free:
  // the request-headers one was disarmed at the head, and the idle one is
  // armed only once the stream is done (go_idle, which takes over).
  const uint64_t ms = static_cast<uint64_t>(cfg().timeouts.send.count());
  if (!ms) return;
  send_blocked_ = true;
  worker_.timers().arm(this, ms, worker_.now_ms());
}

void Http1ServerConnection::encode_trailers(const HeaderMap& trailers) {
  if (!chunked_out_) return;  // sized or close-delimited: no place for trailers
  std::string& o = out();
  http1::write_last_chunk(o, &trailers);
  mark_dirty();
}

void Http1ServerConnection::reset_stream() {
  // What was sent stays sent; the missing rest shows as a closed connection.
  close_after_response_ = true;
  close_after_flush();
}

// ---- llhttp callbacks ---------------------------------------------------------------

// The callbacks run inside parse(), so req_ is set.

int Http1ServerConnection::limit_error(int status, const char* reason) {
  req_->error_status = status;
  req_->user_reason = reason;
  llhttp_set_error_reason(&req_->parser, reason);
  return HPE_USER;
}

uint64_t Http1ServerConnection::max_head_wire() const {
  // The spans may fill max_request_headers; around them a ": " and a CRLF
  // per field, the request line's spaces and a few blank lines are normal.
  return uint64_t{cfg().limits.max_request_headers} + 4ull * cfg().limits.max_headers + kHeadFramingSlack;
}

void Http1ServerConnection::account_wire(size_t n) {
  // (http1/wire_count.h says what is counted and why.)
  Request& q = *req_;
  const http1::WireCount::Limits limits{max_head_wire(), kMaxChunkFraming, kChunkFramingPerChunk};
  switch (q.wire.account(n, limits, q.parser.flags & F_CHUNKED)) {
    case http1::WireCount::Verdict::ok: return;
    case http1::WireCount::Verdict::head_too_large:
      protocol_error(431, "request head too large (whitespace and blank lines count)");
      return;
    case http1::WireCount::Verdict::framing_too_long:
      protocol_error(400, "chunked framing too long (chunk-size lines)");
      return;
  }
}

int Http1ServerConnection::on_message_begin() {
  // While draining, a request is parsed only when it was in the socket at
  // the drain (start_drain) or in the same read as the last: it is served,
  // and the connection closes after it.
  Request& q = *req_;
  q.stream = worker_.streams().new_stream(*this, listener_index_);
  q.header_bytes = 0;
  q.chunk_ext_bytes = 0;
  q.in_field = false;
  q.in_trailers = false;
  chunked_out_ = false;
  tunnel_ = false;
  q.error_status = 400;
  q.user_reason = nullptr;
  send_blocked_ = false;  // the header timer takes the slot; the next response re-arms send
  worker_.timers().arm(this, static_cast<uint64_t>(cfg().timeouts.request_headers.count()), worker_.now_ms());
  return 0;
}

int Http1ServerConnection::on_method(const char* p, size_t n) {
  RequestHead& r = req_->stream->request();
  if (r.method_view.empty()) r.headers.begin_raw();
  r.headers.append_raw(p, n);
  r.method_view = r.headers.raw();
  req_->header_bytes += static_cast<uint32_t>(n);
  return 0;
}

int Http1ServerConnection::on_url(const char* p, size_t n) {
  RequestHead& r = req_->stream->request();
  req_->header_bytes += static_cast<uint32_t>(n);
  if (req_->header_bytes > cfg().limits.max_request_headers) return limit_error(431, "request headers too large");
  if (r.path_view.empty()) r.headers.begin_raw();
  r.headers.append_raw(p, n);
  r.path_view = r.headers.raw();
  return 0;
}

int Http1ServerConnection::on_header_field(const char* p, size_t n) {
  Request& q = *req_;
  HeaderMap& h = q.in_trailers ? q.stream->request_trailers() : q.stream->request().headers;
  q.header_bytes += static_cast<uint32_t>(n);
  if (q.header_bytes > cfg().limits.max_request_headers) return limit_error(431, "request headers too large");
  if (!q.in_field) {
    if (h.size() >= cfg().limits.max_headers) return limit_error(431, "too many headers");
    h.begin_name();
    q.in_field = true;
  }
  if (n) q.have_name = true;
  h.append_name(p, n);
  if (q.in_trailers) q.wire.span(n);
  return 0;
}

int Http1ServerConnection::on_header_value(const char* p, size_t n) {
  Request& q = *req_;
  HeaderMap& h = q.in_trailers ? q.stream->request_trailers() : q.stream->request().headers;
  q.header_bytes += static_cast<uint32_t>(n);
  if (q.header_bytes > cfg().limits.max_request_headers) return limit_error(431, "request headers too large");
  // llhttp passes obs-fold (a line starting with SP/HT) through as part of
  // the value, CRLF included; RFC 9112 5.2 lets a proxy reject it, and
  // forwarding it is a smuggling vector.
  // llhttp ends the value span at the CRLF and starts a new one after the
  // fold, so a fold is a value fragment right after a line feed.
  // After an empty value ("X-A:\r\n b") llhttp folds silently and starts
  // the span after the fold's whitespace, so the byte before that
  // whitespace is looked at. An empty value alone ("X-Empty:") comes as a
  // zero-length span placed after the line's CRLF: it is no fold, and legal.
  const char* b = p;
  while (b > q.read_begin && (b[-1] == ' ' || b[-1] == '\t')) b--;
  const char before = b > q.read_begin ? b[-1] : q.prev_byte;
  if (n && before == '\n') return limit_error(400, "obsolete line folding in a header value");
  if (q.in_field) {
    h.begin_value();
    q.in_field = false;
  } else if (!q.have_name) {
    return limit_error(400, "empty header name");
  }
  h.append_value(p, n);
  if (q.in_trailers) q.wire.span(n);
  return 0;
}

int Http1ServerConnection::on_header_value_complete() {
  Request& q = *req_;
  HeaderMap& h = q.in_trailers ? q.stream->request_trailers() : q.stream->request().headers;
  if (q.in_field) {
    h.begin_value();
    q.in_field = false;
  }
  if (!q.have_name) return limit_error(400, "empty header name");
  q.have_name = false;
  h.commit();
  return 0;
}

int Http1ServerConnection::on_headers_complete() {
  req_->wire.head_ended();
  disarm();  // request-headers timeout
  RequestHead& r = req_->stream->request();
  const llhttp_t* parser = &req_->parser;
  if (parser->http_major != 1 || parser->http_minor > 1) return limit_error(505, "unsupported HTTP version");
  r.version_major = parser->http_major;
  r.version_minor = parser->http_minor;
  http10_ = parser->http_minor == 0;
  const auto method = static_cast<llhttp_method_t>(parser->method);
  r.is_head = method == HTTP_HEAD;
  r.is_connect = method == HTTP_CONNECT;
  const int hosts = r.headers.count("host");
  if (hosts > 1) return limit_error(400, "multiple Host headers");
  if (hosts == 0 && r.version_minor == 1) return limit_error(400, "missing Host header");
  if (!valid_target(r.path(), method)) return limit_error(400, "invalid request target");
  if (r.path()[0] == 'h') {
    // absolute-form: the authority in the target wins over Host (RFC 9112 3.2.2).
    std::string_view t = r.path();
    size_t start = t.find("//") + 2;
    size_t slash = t.find('/', start);
    std::string_view authority = t.substr(start, slash == std::string_view::npos ? t.npos : slash - start);
    std::string path = slash == std::string_view::npos ? std::string("/") : std::string(t.substr(slash));
    r.headers.set("host", authority);
    r.set_path(path);
  }
  if (!valid_authority(r.headers.get("host"))) return limit_error(400, "invalid Host");
  if (parser->flags & F_CHUNKED) {
    r.has_body = true;
    r.content_length = -1;
  } else if (parser->flags & F_CONTENT_LENGTH) {
    r.content_length = static_cast<int64_t>(parser->content_length);
    r.has_body = parser->content_length > 0;
  } else {
    r.has_body = false;
    r.content_length = -1;
  }
  r.upgrade = parser->upgrade && !r.is_connect;
  if (r.upgrade && asks_for_h2c(r.headers)) {
    // moe speaks h2c itself (prior knowledge) or not at all. Passed on, an
    // upstream that speaks h2c would switch, and the client would talk
    // HTTP/2 to it past every route and filter (h2c smuggling). The request
    // goes on as a plain one: Upgrade is stripped as hop-by-hop,
    // HTTP2-Settings here (Connection need not name it), and llhttp, told
    // here, parses what follows as the next request.
    r.upgrade = false;
    r.headers.remove("http2-settings");
    req_->parser.upgrade = 0;
  }
  r.keep_alive = llhttp_should_keep_alive(parser);
  // HTTP/1.0 has no Transfer-Encoding: its framing is faulty, and the
  // connection closes after this message (RFC 9112 6.1).
  if (http10_ && (parser->flags & F_TRANSFER_ENCODING)) r.keep_alive = false;
  if (!r.keep_alive) close_after_response_ = true;
  const bool raw = r.upgrade || r.is_connect;
  req_->stream->on_request_headers(!r.has_body && !raw);
  return 0;
}

int Http1ServerConnection::on_body(const char* p, size_t n) {
  req_->wire.span(n);
  if (StreamEvents* s = stream(); s && !s->finished()) s->on_request_data(p, n);
  return 0;
}

int Http1ServerConnection::on_chunk_extension(size_t n) {
  // Chunk extensions are read and dropped; unbounded, a client could keep
  // the worker parsing one chunk line forever (82 GiB in 15 s was seen).
  // Each span also costs its ';' or '=': "5;;;;..." gives llhttp a
  // zero-length name per ';', which must count too.
  req_->chunk_ext_bytes += static_cast<uint32_t>(n) + 1;
  if (req_->chunk_ext_bytes > kMaxChunkExtensions) return limit_error(400, "chunk extensions too long");
  return 0;
}

int Http1ServerConnection::on_chunk_header() {
  req_->wire.chunk();
  if (req_->parser.content_length == 0) req_->in_trailers = true;
  return 0;
}

int Http1ServerConnection::on_message_complete() {
  if (StreamEvents* s = stream(); s && !s->finished() && !s->request_complete()) {
    if (!s->request_trailers().empty()) s->on_request_trailers();
    else s->on_request_end();
  }
  if (req_->parser.upgrade) return 0;  // llhttp returns HPE_PAUSED_UPGRADE next
  return HPE_PAUSED;
}

}  // namespace moe
