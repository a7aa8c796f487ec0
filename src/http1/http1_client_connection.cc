#include "http1/http1_client_connection.h"

#include <netinet/in.h>
#include <netinet/tcp.h>

#include "core/log.h"
#include "core/worker.h"
#include "http1/http1_encode.h"

namespace moe {
namespace {

Http1ClientConnection* self(llhttp_t* p) { return static_cast<Http1ClientConnection*>(p->data); }

// Free trampolines, nghttpx style: llhttp calls these, they call the object.
constexpr llhttp_settings_t kSettings = [] {
  llhttp_settings_t s{};
  s.on_message_begin = [](llhttp_t* p) { return self(p)->on_message_begin(); };
  s.on_status = [](llhttp_t* p, const char* at, size_t n) { return self(p)->on_status(at, n); };
  s.on_header_field = [](llhttp_t* p, const char* at, size_t n) { return self(p)->on_header_field(at, n); };
  s.on_header_value = [](llhttp_t* p, const char* at, size_t n) { return self(p)->on_header_value(at, n); };
  s.on_header_value_complete = [](llhttp_t* p) { return self(p)->on_header_value_complete(); };
  s.on_headers_complete = [](llhttp_t* p) { return self(p)->on_headers_complete(); };
  s.on_body = [](llhttp_t* p, const char* at, size_t n) { return self(p)->on_body(at, n); };
  s.on_chunk_header = [](llhttp_t* p) { return self(p)->on_chunk_header(); };
  s.on_message_complete = [](llhttp_t* p) { return self(p)->on_message_complete(); };
  return s;
}();

// Response headers a stream can hold, as a guard against an upstream that
// sends without end. (Requests are bounded by the listener's limits.)
constexpr size_t kMaxResponseHeaderBytes = 256 * 1024;
// Around the header bytes: a ": " and CRLF per field and the status line's
// spaces, with room to spare (account_wire).
constexpr uint64_t kMaxResponseHeadWire = 2 * kMaxResponseHeaderBytes;
// A chunk-size line is a few bytes; extensions are rare in responses.
constexpr uint64_t kMaxChunkFraming = 32 * 1024;
constexpr uint64_t kChunkFramingPerChunk = 32;

}  // namespace

Http1ClientConnection::Http1ClientConnection(UpstreamPoolCallbacks& pool, int endpoint)
    : TcpConnection(pool.worker()), UpstreamConnection(endpoint), pool_(pool) {
  llhttp_init(&parser_, HTTP_RESPONSE, &kSettings);
  parser_.data = this;
}

std::string_view Http1ClientConnection::endpoint() const {
  return pool_.config().endpoints[static_cast<size_t>(endpoint_)].text;
}

int Http1ClientConnection::connect(const sockaddr* addr) {
  const socklen_t len = addr->sa_family == AF_INET6 ? sizeof(sockaddr_in6) : sizeof(sockaddr_in);
  int rc = TcpConnection::connect(addr, len);
  if (rc != 0) return rc;
  worker_.timers().arm(this, static_cast<uint64_t>(pool_.config().connect_timeout.count()), worker_.now_ms());
  return 0;
}

void Http1ClientConnection::on_connected(int status) {
  disarm();
  if (status != 0) {
    fail(status, false);
    return;
  }
  state_ = State::active;
  start_reading();
  // The stream attached at connect time is told here; the pool needs nothing.
  if (stream_) stream_->on_upstream_ready(*this);
}

void Http1ClientConnection::attach(StreamEvents* s) {
  stream_ = s;
  requests_++;
  response_begun_ = false;
  distrust_ = false;
  in_trailers_ = false;
  chunked_out_ = false;
  disarm();  // idle timeout
  if (state_ == State::idle) state_ = State::active;
  add(pool_.endpoint_stats(endpoint_).requests_active);
}

// ---- UpstreamCodec ----------------------------------------------------------

void Http1ClientConnection::encode_headers(const RequestHead& head, bool end_stream) {
  expect_no_body_ = head.is_head;
  std::string& o = out();
  // Host for a request without one: a CONNECT's is its target (RFC 9112
  // 3.2), any other's the endpoint.
  chunked_out_ = http1::write_request_head(o, head, head.is_connect ? head.path() : endpoint());
  // Written while connecting, the head waits in out_ and leaves on connect.
  if (state_ != State::connecting) mark_dirty();
}

void Http1ClientConnection::encode_data(const char* p, size_t n, bool end_stream) {
  // out() is asked again after write_body, which may send or swap the
  // output buffer: no reference to it is held across the call.
  // A chunked request body stays chunked to its end, after a 101 too (the
  // stream sends tunnel payload only after the body's end): the upstream
  // reads the whole request in HTTP/1.1 before it switches.
  if (chunked_out_) {
    if (n) {
      http1::write_chunk_header(out(), n);
      write_body(p, n);
      out().append("\r\n", 2);
    }
    if (end_stream) {
      http1::write_last_chunk(out(), nullptr);
      chunked_out_ = false;  // what follows (tunnel payload) goes raw
    }
  } else if (n) {
    write_body(p, n);
  }
  if (state_ != State::connecting) mark_dirty();
}

void Http1ClientConnection::encode_trailers(const HeaderMap& trailers) {
  if (!chunked_out_) return;  // a sized body cannot carry trailers in HTTP/1.1
  std::string& o = out();
  http1::write_last_chunk(o, &trailers);
  chunked_out_ = false;
  if (state_ != State::connecting) mark_dirty();
}

void Http1ClientConnection::reset_stream() {
  // HTTP/1 cannot abandon a request in the middle: the connection goes.
  if (stream_) sub(pool_.endpoint_stats(endpoint_).requests_active);
  stream_ = nullptr;
  close();
}

void Http1ClientConnection::read_disable(bool disable) {
  read_disabled_ = disable;
  if (disable) stop_reading();
  else if (state_ == State::active) start_reading();
}

void Http1ClientConnection::on_drained() {
  if (stream_) stream_->on_upstream_drained();
}

// ---- reading ------------------------------------------------------------------

void Http1ClientConnection::on_data(const char* p, size_t n) {
  if (!stream_) {
    // Bytes on an idle connection: the upstream broke the protocol (or sent a
    // late response); the connection cannot be trusted again.
    close();
    return;
  }
  response_begun_ = true;
  if (upgraded_) {
    stream_->on_response_data(p, n);
    return;
  }
  message_done_ = false;
  llhttp_errno_t err = llhttp_execute(&parser_, p, n);
  if (err == HPE_PAUSED_UPGRADE) {
    // 101 or CONNECT 2xx: what follows the head is tunnel payload.
    const char* pos = llhttp_get_error_pos(&parser_);
    upgraded_ = true;
    if (stream_ && pos && pos < p + n) stream_->on_response_data(pos, static_cast<size_t>(p + n - pos));
    return;
  }
  if (err == HPE_PAUSED && message_done_) {
    const char* pos = llhttp_get_error_pos(&parser_);
    if ((pos && pos < p + n) || !keep_alive_) {
      // Bytes after the response we asked for: not reusable.
      finish_response();
      close();
      return;
    }
    llhttp_resume(&parser_);
    finish_response();
    return;
  }
  if (err != HPE_OK) {
    log_debug("upstream {}: bad response: {} ({})", endpoint(), llhttp_errno_name(err), llhttp_get_error_reason(&parser_));
    fail(UV_EPROTO, true);
    return;
  }
  if (stream_ && !account_wire(n)) fail(UV_EPROTO, true);
}

bool Http1ClientConnection::account_wire(size_t n) {
  // (http1/wire_count.h says what is counted and why.) Trailer spans are
  // not framing: their bytes so far, read once here rather than counted in
  // every header callback (two per field).
  static constexpr http1::WireCount::Limits kLimits{kMaxResponseHeadWire, kMaxChunkFraming, kChunkFramingPerChunk};
  switch (wire_.account(n, kLimits, parser_.flags & F_CHUNKED, in_trailers_ ? stream_->response_trailers().bytes() : 0)) {
    case http1::WireCount::Verdict::ok: return true;
    case http1::WireCount::Verdict::head_too_large:
      log_debug("upstream {}: response head too large (whitespace counts)", endpoint());
      return false;
    case http1::WireCount::Verdict::framing_too_long:
      log_debug("upstream {}: chunked framing too long (chunk-size lines)", endpoint());
      return false;
  }
  return true;
}

void Http1ClientConnection::on_read_error(int err) {
  if (state_ == State::idle || !stream_) {
    close();
    return;
  }
  if (err == UV_EOF && !upgraded_ && response_begun_) {
    // A response delimited by the end of the connection ends here
    // (on_message_complete tells the stream).
    message_done_ = false;
    if (llhttp_finish(&parser_) == HPE_OK && message_done_) {
      close();
      return;
    }
  }
  if (upgraded_ && err == UV_EOF) {
    StreamEvents* s = stream_;
    stream_ = nullptr;
    close();
    s->on_response_end();
    return;
  }
  fail(err, false);
}

void Http1ClientConnection::on_write_error(int err) { fail(err, false); }

void Http1ClientConnection::fail(int err, bool protocol_error) {
  StreamEvents* s = stream_;
  const bool connecting = state_ == State::connecting;
  if (connecting) pool_.on_connect_failed(*this, err);
  if (s) sub(pool_.endpoint_stats(endpoint_).requests_active);
  stream_ = nullptr;
  const bool begun = response_begun_;
  close();
  if (!s) return;
  UpstreamFailure why = connecting        ? UpstreamFailure::connect_failed
                        : protocol_error  ? UpstreamFailure::protocol_error
                        : begun           ? UpstreamFailure::reset_during_response
                                          : UpstreamFailure::reset_before_response;
  if (why != UpstreamFailure::connect_failed) add(pool_.stats().resets);
  s->on_upstream_failure(why, std::string(endpoint()) + ": " + uv_strerror(err), endpoint());
}

void Http1ClientConnection::on_timeout() {
  if (state_ == State::connecting) {
    fail(UV_ETIMEDOUT, false);
    return;
  }
  if (state_ == State::idle) close();
}

void Http1ClientConnection::finish_response() {
  // on_message_complete already told the stream; hand the connection back.
  if (closing()) return;
  state_ = State::idle;
  worker_.timers().arm(this, static_cast<uint64_t>(pool_.config().idle_timeout.count()), worker_.now_ms());
  read_disabled_ = false;
  start_reading();  // an idle connection still reads, to notice the upstream closing it
  pool_.on_capacity(*this);
}

void Http1ClientConnection::on_closed() {
  state_ = State::closed;
  pool_.on_closed(*this);
  TcpConnection::on_closed();
}

// ---- llhttp callbacks ------------------------------------------------------------

int Http1ClientConnection::on_message_begin() {
  ResponseHead& r = stream_->response();
  r.headers.clear();
  r.status = 0;
  r.content_length = -1;
  r.has_body = false;
  in_field_ = false;
  in_trailers_ = false;
  wire_.begin();  // (a final response after a 1xx starts again)
  return 0;
}

int Http1ClientConnection::on_status(const char*, size_t) { return 0; }

int Http1ClientConnection::on_header_field(const char* p, size_t n) {
  if (!stream_) return HPE_USER;  // trailers after the stream ended (on_body)
  HeaderMap& h = in_trailers_ ? stream_->response_trailers() : stream_->response().headers;
  if (!in_field_) {
    h.begin_name();
    in_field_ = true;
  }
  h.append_name(p, n);
  if (h.bytes() > kMaxResponseHeaderBytes) {
    llhttp_set_error_reason(&parser_, "response headers too large");
    return HPE_USER;
  }
  return 0;
}

int Http1ClientConnection::on_header_value(const char* p, size_t n) {
  if (!stream_) return HPE_USER;  // trailers after the stream ended (on_body)
  HeaderMap& h = in_trailers_ ? stream_->response_trailers() : stream_->response().headers;
  if (in_field_) {
    h.begin_value();
    in_field_ = false;
  }
  h.append_value(p, n);
  if (h.bytes() > kMaxResponseHeaderBytes) {
    llhttp_set_error_reason(&parser_, "response headers too large");
    return HPE_USER;
  }
  return 0;
}

int Http1ClientConnection::on_header_value_complete() {
  if (!stream_) return HPE_USER;  // trailers after the stream ended (on_body)
  HeaderMap& h = in_trailers_ ? stream_->response_trailers() : stream_->response().headers;
  if (in_field_) {  // empty value: no on_header_value call came
    h.begin_value();
    in_field_ = false;
  }
  h.commit();
  return 0;
}

int Http1ClientConnection::on_headers_complete() {
  wire_.head_ended();
  ResponseHead& r = stream_->response();
  r.status = parser_.status_code;
  r.version_major = parser_.http_major;
  r.version_minor = parser_.http_minor;
  const bool interim = r.status >= 100 && r.status < 200 && r.status != 101;
  const bool bodiless = interim || r.status == 204 || r.status == 304 || expect_no_body_;
  if ((interim || r.status == 204) && (parser_.flags & (F_CHUNKED | F_TRANSFER_ENCODING) ||
                                       (parser_.flags & F_CONTENT_LENGTH && parser_.content_length > 0))) {
    // A 1xx or 204 that announces a body (RFC 9110 forbids both): no body
    // is read (below), so whatever the upstream sends after the head is
    // not a response to trust, and the connection is not used again. The
    // field goes too: nghttp2 clients reset a 204 with a non-zero length.
    distrust_ = true;
    r.headers.remove("content-length");
  }
  if (!bodiless) {
    if (parser_.flags & F_CHUNKED) {
      r.has_body = true;
    } else if (parser_.flags & F_CONTENT_LENGTH) {
      r.content_length = static_cast<int64_t>(parser_.content_length);
      r.has_body = parser_.content_length > 0;
    } else {
      r.has_body = true;  // delimited by the end of the connection
    }
  } else if (expect_no_body_ && (parser_.flags & F_CONTENT_LENGTH)) {
    r.content_length = static_cast<int64_t>(parser_.content_length);  // HEAD: keep the length
  }
  if (interim) {
    stream_->on_response_headers(false);
    r.headers.clear();
    // No body, whatever the head says: bytes llhttp read as a 1xx body
    // would reach an HTTP/1 client raw, ahead of the final response's head
    // (response splitting by the upstream).
    return 1;
  }
  const bool tunnel = (r.status == 101) || (stream_->request().is_connect && r.status >= 200 && r.status < 300);
  // A tunnel from here on, before the stream hears of it: it may send the
  // tunnel bytes it held back from inside this callback (raw: they follow
  // the request body's end, encode_data).
  if (tunnel) upgraded_ = true;
  // Tell the stream before the body; end_stream when nothing can follow.
  stream_->on_response_headers(!r.has_body && !tunnel);
  if (!stream_) return HPE_USER;  // the stream ended inside the callback
  if (tunnel) {
    tunnel_response_ = true;
    return 2;  // no body; llhttp returns HPE_PAUSED_UPGRADE
  }
  // No body for HEAD, 204 and 304 whatever Content-Length says (RFC 9110
  // 6.4.1): llhttp must not wait for one either. It did for "204 +
  // Content-Length: 8", after the stream had been told the response was
  // complete; the "body" then reached a stream that had ended
  // (connection_fuzz). Bytes that follow are not a response: the idle
  // connection closes on them.
  return bodiless ? 1 : 0;
}

int Http1ClientConnection::on_body(const char* p, size_t n) {
  if (!stream_) return HPE_USER;
  wire_.span(n);
  stream_->on_response_data(p, n);
  // The stream ended inside the callback (a filter's local reply cut the
  // response): llhttp must not go on to the trailers in this read, which
  // belong to no stream (a null stream_ in on_header_field).
  return stream_ ? 0 : HPE_USER;
}

int Http1ClientConnection::on_chunk_header() {
  wire_.chunk();
  if (parser_.content_length == 0) in_trailers_ = true;  // the last chunk: trailers may follow
  return 0;
}

int Http1ClientConnection::on_message_complete() {
  if (!stream_) return HPE_PAUSED;
  if (tunnel_response_) return 0;  // the stream lives on as a tunnel
  const ResponseHead& r = stream_->response();
  if (r.status >= 100 && r.status < 200 && r.status != 101) return 0;  // the final response follows
  message_done_ = true;
  // "Connection: close" (or HTTP/1.0 without keep-alive): this response is
  // the connection's last; it must not go back to the pool.
  keep_alive_ = llhttp_should_keep_alive(&parser_) && !distrust_;
  StreamEvents* s = stream_;
  stream_ = nullptr;
  sub(pool_.endpoint_stats(endpoint_).requests_active);
  if (!s->response_complete()) {
    if (!s->response_trailers().empty()) s->on_response_trailers();
    else if (r.has_body) s->on_response_end();
  }
  // Pause so that the connection is handed back to the pool after
  // llhttp_execute returns, not from inside it.
  return HPE_PAUSED;
}

}  // namespace moe
