#include "http1/http1_server_connection.h"

#include <charconv>
#include <cstring>

#include "core/log.h"
#include "http1/http1_encode.h"
#include "http2/h2_server_connection.h"
#include "proxy/stream.h"

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
  if (t[0] == '/') return true;
  if (t == "*") return m == HTTP_OPTIONS;
  if (t.substr(0, 7) == "http://" || t.substr(0, 8) == "https://") {
    size_t start = t.find("//") + 2;
    return start < t.size() && t[start] != '/';
  }
  return false;
}

}  // namespace

Http1ServerConnection::Http1ServerConnection(Worker& worker, int listener_index, ListenerShared* shared)
    : TcpConnection(worker), listener_index_(listener_index) {
  (void)shared;  // the worker finds it again at close (listener_shared)
}

void Http1ServerConnection::start() {
  sockaddr_storage ss;
  socklen_t len = sizeof ss;
  if (getpeername(fd(), reinterpret_cast<sockaddr*>(&ss), &len) == 0) {
    char buf[64] = {0};
    if (ss.ss_family == AF_INET6) uv_ip6_name(reinterpret_cast<sockaddr_in6*>(&ss), buf, sizeof buf);
    else uv_ip4_name(reinterpret_cast<sockaddr_in*>(&ss), buf, sizeof buf);
    peer_ip_ = buf;
  }
  worker_.add_downstream(this);
  if (cfg().http2) h2_preface_ = 0;
  // A client that connects and says nothing is held to the header timeout.
  worker_.timers().arm(this, static_cast<uint64_t>(cfg().timeouts.request_headers.count()), worker_.now_ms());
  start_reading();
}

std::string_view Http1ServerConnection::protocol() const {
  return version_minor_ == 0 ? "HTTP/1.0" : "HTTP/1.1";
}

// ---- reading and parsing ----------------------------------------------------------

void Http1ServerConnection::on_data(const char* p, size_t n) {
  // HTTP/2 prior knowledge: until the first request, look for the client
  // preface (maybe split across reads). On a match the socket moves to an
  // H2ServerConnection with every byte read so far, and this object closes.
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
                  cfg().name, peer_ip_);
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
      H2ServerConnection::adopt(worker_, listener_index_, release_fd(), peer_ip_, initial);
      return;
    }
  }
  if (raw_request_) {
    if (stream_ && !stream_->finished()) stream_->on_request_data(p, n);
    return;
  }
  if (paused_) {
    // The next pipelined request arrived while the previous response is in
    // flight: keep it unparsed and stop reading until that response is done.
    if (!leftover_) leftover_ = std::make_unique<std::string>();
    leftover_->append(p, n);
    stop_reading();
    return;
  }
  parse(p, n);
}

bool Http1ServerConnection::looks_like_http1(std::string_view first) {
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
  if (!parser_) {
    // A parser only while a request is being read: idle connections hold
    // none (llhttp_t is 96 bytes; the worker keeps a few spare).
    parser_ = worker_.take_parser();
    llhttp_init(parser_, HTTP_REQUEST, &kSettings);
    parser_->data = this;
  }
  read_begin_ = p;
  // Remembered for the obs-fold check of the next read's first fragment.
  struct SaveLast {
    Http1ServerConnection* c;
    char last;
    ~SaveLast() { c->prev_byte_ = last; c->read_begin_ = nullptr; }
  } save{this, n ? p[n - 1] : prev_byte_};
  while (n > 0 && !closing()) {
    llhttp_errno_t err = llhttp_execute(parser_, p, n);
    if (err == HPE_OK) {
      // Everything parsed and no request open: idle (timer, no parser).
      if (!stream_ && parser_->finish == HTTP_FINISH_SAFE) go_idle();
      return;
    }
    const char* pos = llhttp_get_error_pos(parser_);
    if (err == HPE_PAUSED) {
      // At a message boundary (on_message_complete paused the parser).
      n -= static_cast<size_t>(pos - p);
      p = pos;
      if (stream_ && !stream_->finished()) {
        paused_ = true;
        if (n) {
          leftover_ = std::make_unique<std::string>(p, n);
          stop_reading();
        }
        return;
      }
      if (!complete_stream()) return;
      llhttp_resume(parser_);
      if (n == 0) go_idle();
      continue;
    }
    if (err == HPE_PAUSED_UPGRADE) {
      // Upgrade/CONNECT head parsed: every later byte belongs to the tunnel,
      // forwarded as-is once (and if) the upstream agrees.
      raw_request_ = true;
      close_after_response_ = true;
      n -= static_cast<size_t>(pos - p);
      if (n && stream_ && !stream_->finished()) stream_->on_request_data(pos, n);
      return;
    }
    // A limit or check of ours (from any callback) carries its own status
    // and reason; everything else is llhttp's verdict.
    if (user_reason_) protocol_error(error_status_, user_reason_);
    else protocol_error(status_for(err, error_status_), llhttp_get_error_reason(parser_));
    return;
  }
}

void Http1ServerConnection::protocol_error(int status, std::string_view reason) {
  add(worker_.stats().listeners[static_cast<size_t>(listener_index_)]->protocol_errors);
  log_debug("listener {}: {} from {}: {}", cfg().name, status, peer_ip_, reason);
  std::string body(http1::reason_phrase(status));
  body.append(": ").append(reason).push_back('\n');
  if (stream_ && !stream_->finished()) {
    if (stream_->response_started()) {
      stream_->on_downstream_reset();
      close();
      return;
    }
    stream_->send_local_reply(status, body, true);
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
  // The client went away (FIN or RST) before its response was done: the
  // stream is abandoned, as nginx and Envoy do, so a pending filter or an
  // upstream request does not keep working for nobody.
  if (stream_ && !stream_->finished()) stream_->on_downstream_reset();
  close();
}

void Http1ServerConnection::read_disable(bool disable) {
  read_disabled_ = disable;
  if (disable) stop_reading();
  else if (!paused_ || !leftover_) start_reading();
}

void Http1ServerConnection::on_drained() {
  if (stream_ && !stream_->finished()) stream_->on_downstream_drained();
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
  const bool request_unfinished = !stream_->request_complete();
  const bool must_close = stream_->close_connection() || close_after_response_ || draining_ || request_unfinished;
  stream_.reset();
  if (must_close || closing()) {
    close_after_flush();
    return false;
  }
  return true;
}

void Http1ServerConnection::after_stream() {
  if (!stream_ || !stream_->finished() || closing()) return;
  if (!complete_stream()) return;
  if (paused_) {
    paused_ = false;
    llhttp_resume(parser_);
    if (leftover_) {
      std::unique_ptr<std::string> pending = std::move(leftover_);
      parse(pending->data(), pending->size());
      if (closing()) return;
      if (paused_) return;  // another request is in flight; reading stays stopped
    }
  }
  if (!stream_) go_idle();
  if (!read_disabled_) start_reading();
}

void Http1ServerConnection::go_idle() {
  leftover_.reset();
  release_parser();
  worker_.timers().arm(this, static_cast<uint64_t>(cfg().timeouts.idle.count()), worker_.now_ms());
}

void Http1ServerConnection::on_timeout() {
  if (stream_ && !stream_->finished()) {
    // Headers did not arrive in time (slowloris).
    stream_->send_local_reply(408, "request headers timeout\n", true);
    close_after_response_ = true;
    return;
  }
  close();  // idle keep-alive, or connected and never said anything
}

void Http1ServerConnection::start_drain() {
  draining_ = true;
  if (!stream_) close();
  else close_after_response_ = true;
}

void Http1ServerConnection::force_close() {
  if (stream_ && !stream_->finished()) stream_->on_downstream_reset();
  close();
}

void Http1ServerConnection::release_parser() {
  if (!parser_) return;
  worker_.give_parser(parser_);
  parser_ = nullptr;
}

void Http1ServerConnection::on_closed() {
  disarm();
  release_parser();
  if (stream_ && !stream_->finished()) stream_->on_downstream_reset();
  stream_.reset();
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
    if (version_minor_ == 0) return;  // HTTP/1.0 clients get no interim responses
    bool c1, c2;
    http1::write_response_head(o, head, 1, false, c1, c2);
    mark_dirty();
    return;
  }
  const bool add_close = close_after_response_ || draining_;
  bool close_delimited = false;
  http1::write_response_head(o, head, version_minor_, add_close, chunked_out_, close_delimited);
  if (close_delimited) close_after_response_ = true;
  if (head.status == 101 || (stream_ && stream_->request().is_connect && head.status < 300)) {
    tunnel_ = true;
    chunked_out_ = false;
  }
  mark_dirty();
}

void Http1ServerConnection::encode_data(const char* p, size_t n, bool end_stream) {
  std::string& o = out();
  if (chunked_out_ && n) {
    http1::write_chunk_header(o, n);
    write_body(p, n);
    out().append("\r\n", 2);
  } else if (n) {
    write_body(p, n);
  }
  if (chunked_out_ && end_stream) http1::write_last_chunk(out(), nullptr);
  mark_dirty();
  if (end_stream && tunnel_) close_after_flush();
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

int Http1ServerConnection::limit_error(int status, const char* reason) {
  error_status_ = status;
  user_reason_ = reason;
  llhttp_set_error_reason(parser_, reason);
  return HPE_USER;
}

int Http1ServerConnection::on_message_begin() {
  if (draining_) return limit_error(503, "shutting down");
  stream_ = std::make_unique<Stream>(worker_, *this, listener_index_);
  header_bytes_ = 0;
  in_field_ = false;
  in_trailers_ = false;
  chunked_out_ = false;
  tunnel_ = false;
  error_status_ = 400;
  user_reason_ = nullptr;
  worker_.timers().arm(this, static_cast<uint64_t>(cfg().timeouts.request_headers.count()), worker_.now_ms());
  return 0;
}

int Http1ServerConnection::on_method(const char* p, size_t n) {
  RequestHead& r = stream_->request();
  if (r.method_view.empty()) r.headers.begin_raw();
  r.headers.append_raw(p, n);
  r.method_view = r.headers.raw();
  header_bytes_ += static_cast<uint32_t>(n);
  return 0;
}

int Http1ServerConnection::on_url(const char* p, size_t n) {
  RequestHead& r = stream_->request();
  header_bytes_ += static_cast<uint32_t>(n);
  if (header_bytes_ > cfg().limits.max_request_headers) return limit_error(431, "request headers too large");
  if (r.path_view.empty()) r.headers.begin_raw();
  r.headers.append_raw(p, n);
  r.path_view = r.headers.raw();
  return 0;
}

int Http1ServerConnection::on_header_field(const char* p, size_t n) {
  HeaderMap& h = in_trailers_ ? stream_->request_trailers() : stream_->request().headers;
  header_bytes_ += static_cast<uint32_t>(n);
  if (header_bytes_ > cfg().limits.max_request_headers) return limit_error(431, "request headers too large");
  if (!in_field_) {
    if (h.size() >= cfg().limits.max_headers) return limit_error(431, "too many headers");
    h.begin_name();
    in_field_ = true;
  }
  if (n) have_name_ = true;
  h.append_name(p, n);
  return 0;
}

int Http1ServerConnection::on_header_value(const char* p, size_t n) {
  HeaderMap& h = in_trailers_ ? stream_->request_trailers() : stream_->request().headers;
  header_bytes_ += static_cast<uint32_t>(n);
  if (header_bytes_ > cfg().limits.max_request_headers) return limit_error(431, "request headers too large");
  // llhttp passes obs-fold (a line starting with SP/HT) through as part of
  // the value, CRLF included; RFC 9112 5.2 lets a proxy reject it, and
  // forwarding it is a smuggling vector.
  // llhttp ends the value span at the CRLF and starts a new one after the
  // fold, so a fold is a value fragment right after a line feed.
  const char before = p > read_begin_ ? p[-1] : prev_byte_;
  if (before == '\n') return limit_error(400, "obsolete line folding in a header value");
  if (in_field_) {
    h.begin_value();
    in_field_ = false;
  } else if (!have_name_) {
    return limit_error(400, "empty header name");
  }
  h.append_value(p, n);
  return 0;
}

int Http1ServerConnection::on_header_value_complete() {
  HeaderMap& h = in_trailers_ ? stream_->request_trailers() : stream_->request().headers;
  if (in_field_) {
    h.begin_value();
    in_field_ = false;
  }
  if (!have_name_) return limit_error(400, "empty header name");
  have_name_ = false;
  h.commit();
  return 0;
}

int Http1ServerConnection::on_headers_complete() {
  disarm();  // request-headers timeout
  RequestHead& r = stream_->request();
  if (parser_->http_major != 1 || parser_->http_minor > 1) return limit_error(505, "unsupported HTTP version");
  r.version_major = parser_->http_major;
  r.version_minor = parser_->http_minor;
  version_minor_ = parser_->http_minor;
  const auto method = static_cast<llhttp_method_t>(parser_->method);
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
  if (parser_->flags & F_CHUNKED) {
    r.has_body = true;
    r.content_length = -1;
  } else if (parser_->flags & F_CONTENT_LENGTH) {
    r.content_length = static_cast<int64_t>(parser_->content_length);
    r.has_body = parser_->content_length > 0;
  } else {
    r.has_body = false;
    r.content_length = -1;
  }
  r.upgrade = parser_->upgrade && !r.is_connect;
  r.keep_alive = llhttp_should_keep_alive(parser_);
  if (!r.keep_alive) close_after_response_ = true;
  const bool raw = r.upgrade || r.is_connect;
  stream_->on_request_headers(!r.has_body && !raw);
  return 0;
}

int Http1ServerConnection::on_body(const char* p, size_t n) {
  if (stream_ && !stream_->finished()) stream_->on_request_data(p, n);
  return 0;
}

int Http1ServerConnection::on_chunk_header() {
  if (parser_->content_length == 0) in_trailers_ = true;
  return 0;
}

int Http1ServerConnection::on_message_complete() {
  if (stream_ && !stream_->finished() && !stream_->request_complete()) {
    if (!stream_->request_trailers().empty()) stream_->on_request_trailers();
    else stream_->on_request_end();
  }
  if (parser_->upgrade) return 0;  // llhttp returns HPE_PAUSED_UPGRADE next
  return HPE_PAUSED;
}

}  // namespace moe
