// The seam between the codecs (http1/, http2/) and the proxy (proxy/): the
// codec-neutral message heads and the interfaces both ways.
//
//   proxy -> codec: DownstreamCodec (the client side of a stream) and
//     UpstreamCodec (its upstream side): commands, encode_* and friends.
//   codec -> proxy: StreamEvents (what a server or client codec calls on the
//     stream it carries: on_request_*, on_response_*, on_upstream_*),
//     StreamFactory (where a server connection gets the stream of a new
//     request) and UpstreamPoolCallbacks (what a client connection tells the
//     pool that owns it, the same few calls for HTTP/1 and HTTP/2).
//
// The codecs include this file, never proxy/: the proxy's Stream and
// ClusterPool implement the codec -> proxy interfaces, and a codec test can
// give fakes. The calls are virtual once per event (a head, a body chunk, a
// read), never per byte; what a codec reads often (the heads it fills, a few
// facts about the stream) is plain data in the base classes.
// Thread: every call happens on the worker that owns both sides.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string_view>
#include <vector>

#include "config/config.h"
#include "core/stats.h"
#include "http/headers.h"

namespace moe {

class Worker;

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
  // When (the worker's now_ms) the client last took bytes of this response
  // while they were waiting for it; 0 when it never did. The pool reads it
  // only while it has requests waiting (ClusterPool::shed_stalled), so the
  // codecs keep a store per write, nothing more.
  virtual uint64_t last_progress_ms() const = 0;

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

// Why a stream ended early; the access log prints the short code.
enum class UpstreamFailure {
  connect_failed,  // UF: refused, unreachable, connect timeout -> 502
  overflow,        // UO: max_connections and max_pending full -> 503
  reset_before_response,  // UR -> 502
  reset_during_response,  // UR: the client connection is closed
  protocol_error,  // UP: unparsable response -> 502
};

// What a codec sees of the stream it carries and calls on it. The server
// codec fills the request head and trailers and reads the response through
// DownstreamCodec's encode_*; the client codec fills the response head and
// trailers. The facts below the heads are set by the stream only.
//
// Ownership: the server codec owns the stream (StreamFactory); the client
// codec holds a plain pointer that it forgets when the stream resets it
// (UpstreamCodec::reset_stream) or when it reports the end (on_response_end,
// on_upstream_failure).
class StreamEvents {
 public:
  virtual ~StreamEvents() = default;

  RequestHead& request() { return request_; }
  ResponseHead& response() { return response_; }
  HeaderMap& request_trailers() { return request_trailers_; }
  HeaderMap& response_trailers() { return response_trailers_; }

  bool request_complete() const { return request_done_; }
  bool response_complete() const { return response_done_; }
  bool response_started() const { return response_started_; }
  // The response said the connection must close (a local reply with close;
  // an upstream's Connection: close is hop-by-hop and ignored).
  bool close_connection() const { return close_connection_; }
  // The stream is done: the codec sends it nothing more.
  bool finished() const { return finished_; }

  // ---- from the server codec (downstream) ----
  virtual void on_request_headers(bool end_stream) = 0;
  virtual void on_request_data(const char* p, size_t n) = 0;
  virtual void on_request_trailers() = 0;
  virtual void on_request_end() = 0;
  virtual void on_downstream_reset() = 0;
  virtual void on_downstream_drained() = 0;
  // A reply made by moe (errors, direct_response): status, content-type
  // text/plain, the body. Closes the connection after it when `close`.
  virtual void send_local_reply(int status, std::string_view body, bool close = false) = 0;

  // ---- from the client codec (upstream) ----
  // attached: a new connection is dedicated to this stream and connecting
  // (the stream can abandon it through reset_stream); ready: send the request.
  virtual void on_upstream_attached(UpstreamCodec& upstream) = 0;
  virtual void on_upstream_ready(UpstreamCodec& upstream) = 0;
  // `endpoint`: the endpoint that failed (its config text, stable), for the
  // access log; empty when none was picked (overflow). The codec has
  // forgotten the stream before this call.
  virtual void on_upstream_failure(UpstreamFailure why, std::string_view detail, std::string_view endpoint = {}) = 0;
  // 1xx heads come here too (end_stream false); the final head follows.
  virtual void on_response_headers(bool end_stream) = 0;
  virtual void on_response_data(const char* p, size_t n) = 0;
  virtual void on_response_trailers() = 0;
  virtual void on_response_end() = 0;
  virtual void on_upstream_drained() = 0;

 protected:
  RequestHead request_;
  ResponseHead response_;
  HeaderMap request_trailers_;
  HeaderMap response_trailers_;
  bool request_done_ = false;
  bool response_started_ = false;
  bool response_done_ = false;
  bool close_connection_ = false;
  bool finished_ = false;
};

// Where a server connection gets the stream of each new request: the
// proxy's Stream (the worker's wiring), a fake in a codec test.
class StreamFactory {
 public:
  virtual ~StreamFactory() = default;
  // A request began on `codec`, a connection of listener `listener_index`.
  virtual std::unique_ptr<StreamEvents> new_stream(DownstreamCodec& codec, int listener_index) = 0;
};

// What the pool sees of any client connection, whatever its protocol.
class UpstreamConnection {
 public:
  int endpoint_index() const { return endpoint_; }  // into the cluster's endpoints

 protected:
  explicit UpstreamConnection(int endpoint) : endpoint_(endpoint) {}
  ~UpstreamConnection() = default;
  const int endpoint_;
};

// What a client connection calls on the pool that owns it: one set for
// HTTP/1 and HTTP/2 (h2o's httpclient shape: the connection reports, the
// pool decides). The config and counters are plain data. The pool hands a
// stream to a connection (its attach); the connection tells the stream
// (StreamEvents::on_upstream_*), then the pool, in this order.
class UpstreamPoolCallbacks {
 public:
  Worker& worker() const { return worker_; }
  const config::Cluster& config() const { return cfg_; }
  ClusterStats& stats() const { return stats_; }
  EndpointStats& endpoint_stats(int e) const { return *endpoint_stats_[static_cast<size_t>(e)]; }

  // The connect failed (refused, unreachable, timeout): counted and logged.
  // The connection then fails its streams and closes (on_closed follows).
  virtual void on_connect_failed(UpstreamConnection& c, int err) = 0;
  // c can take a stream now: an HTTP/1 response finished and the
  // connection is reusable; HTTP/2 streams closed or SETTINGS raised the
  // limit. Never called from inside a codec callback that a stream event
  // is still running in.
  virtual void on_capacity(UpstreamConnection& c) = 0;
  // c is gone (closed, failed, idle timeout); its slot may open another.
  virtual void on_closed(UpstreamConnection& c) = 0;
  // HTTP/2: `stream` was refused by `from` (REFUSED_STREAM, or left
  // unprocessed by GOAWAY) before any response byte; resubmit it on another
  // connection. False when none can take it (the stream then fails).
  virtual bool retry_elsewhere(UpstreamCodec& stream, UpstreamConnection& from) = 0;

 protected:
  UpstreamPoolCallbacks(Worker& worker, const config::Cluster& cfg, ClusterStats& stats,
                        std::vector<std::unique_ptr<EndpointStats>>& endpoint_stats)
      : worker_(worker), cfg_(cfg), stats_(stats), endpoint_stats_(endpoint_stats) {}
  ~UpstreamPoolCallbacks() = default;

  Worker& worker_;
  const config::Cluster& cfg_;
  ClusterStats& stats_;
  std::vector<std::unique_ptr<EndpointStats>>& endpoint_stats_;
};

}  // namespace moe
