// What a Stream sees of the codecs on its two sides. HTTP/1 implements both
// today; HTTP/2 (server and client) implements the same two interfaces, so
// the stream, router, pools and Go filters never know the wire format.
//
// Events flow codec -> Stream (see stream.h: on_request_*, on_response_*);
// commands flow Stream -> codec through these interfaces. Every call happens
// on the worker that owns both.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "http/headers.h"

namespace moe {

class Stream;

// Framing is a property of the message, not of a header: codecs parse it on
// the way in and write their own on the way out (HTTP/1 Content-Length or
// chunked, HTTP/2 DATA frames).
struct MessageHead {
  HeaderMap headers;
  int64_t content_length = -1;  // -1 = unknown (chunked, h2 without it, read-to-EOF)
  bool has_body = false;        // false: the message ends with its headers
  uint8_t version_major = 1, version_minor = 1;
};

struct RequestHead : MessageHead {
  // Views into headers' arena (stable, see headers.h).
  std::string_view method_view;
  std::string_view path_view;  // request-target, query included
  std::string_view method() const { return method_view; }
  std::string_view path() const { return path_view; }
  void set_path(std::string_view p) { path_view = headers.store(p); }
  std::string_view authority() const { return headers.get("host"); }
  bool is_head = false;
  bool is_connect = false;
  bool upgrade = false;      // Upgrade requested (WebSocket...)
  bool keep_alive = true;    // the client wants the connection kept
  bool te_trailers = false;  // "TE: trailers" was sent (HTTP/2 upstreams forward it)
};

struct ResponseHead : MessageHead {
  int status = 0;
};

// The client side of a stream.
class DownstreamCodec {
 public:
  // 1xx responses may precede the final one (end_stream is then false).
  virtual void encode_headers(const ResponseHead& head, bool end_stream) = 0;
  virtual void encode_data(const char* p, size_t n, bool end_stream) = 0;
  virtual void encode_trailers(const HeaderMap& trailers) = 0;
  // The response cannot be completed: HTTP/1 closes the connection, HTTP/2
  // sends RST_STREAM.
  virtual void reset_stream() = 0;
  // Backpressure toward the client: stop/resume reading request bytes.
  virtual void read_disable(bool disable) = 0;
  virtual bool above_high_watermark() const = 0;
  // The stream is done with the codec (it may be recycled after this call).
  virtual void on_stream_complete() = 0;
  virtual std::string_view protocol() const = 0;  // "HTTP/1.1", "HTTP/2"
  virtual std::string_view peer_ip() const = 0;
  // Trailers can end any response here, whatever its framing (HTTP/2).
  virtual bool trailers_ok() const { return false; }

 protected:
  ~DownstreamCodec() = default;
};

// The upstream side, handed to the stream by a ClusterPool.
class UpstreamCodec {
 public:
  virtual void encode_headers(const RequestHead& head, bool end_stream) = 0;
  virtual void encode_data(const char* p, size_t n, bool end_stream) = 0;
  virtual void encode_trailers(const HeaderMap& trailers) = 0;
  // Abandon the stream: the connection is closed (HTTP/1) or the stream
  // reset (HTTP/2). The codec forgets the Stream.
  virtual void reset_stream() = 0;
  virtual void read_disable(bool disable) = 0;
  virtual bool above_high_watermark() const = 0;
  // True when the connection had carried a request before this one; a
  // failure before any response byte may then be retried on a fresh one.
  virtual bool reused() const = 0;
  virtual std::string_view endpoint() const = 0;  // "127.0.0.1:9000"

 protected:
  ~UpstreamCodec() = default;
};

}  // namespace moe
