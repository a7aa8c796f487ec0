// An HTTP/1.1 client connection (llhttp in request mode): keep-alive,
// pipelining with in-order responses, chunked, Upgrade/CONNECT tunnels.
//
// One Stream at a time. Pipelined requests wait in the socket: when a request
// completes while its response is still in flight, parsing pauses
// (HPE_PAUSED), the unparsed rest of the read is kept in `leftover_` (the only
// bytes a connection ever keeps between reads) and reading stops until the
// response is done.
//
// Limits are enforced in the parser callbacks and reported through HPE_USER
// with a reason; every protocol error is answered with a 4xx/5xx and
// Connection: close, before anything reaches an upstream.
// Thread: the owning worker.
#pragma once

#include <llhttp.h>

#include <memory>
#include <string>

#include "core/listener.h"
#include "core/slab.h"
#include "core/tcp_connection.h"
#include "core/timer_list.h"
#include "core/worker.h"
#include "proxy/codec.h"

namespace moe {

class Stream;

class Http1ServerConnection final : public TcpConnection,
                                    public DownstreamCodec,
                                    public DownstreamConnection,
                                    public TimerNode {
 public:
  Http1ServerConnection(Worker& worker, int listener_index, ListenerShared* shared);
  void start();

  // From the worker's slab (core/slab.h): idle connections are what a
  // per-node proxy holds by the ten thousand.
  static void* operator new(size_t n) { return Slab<sizeof(Http1ServerConnection)>::alloc(); }
  static void operator delete(void* p) { Slab<sizeof(Http1ServerConnection)>::release(p); }

  // DownstreamCodec
  void encode_headers(const ResponseHead& head, bool end_stream) override;
  void encode_data(const char* p, size_t n, bool end_stream) override;
  void encode_trailers(const HeaderMap& trailers) override;
  void reset_stream() override;
  void read_disable(bool disable) override;
  bool above_high_watermark() const override { return TcpConnection::above_high_watermark(); }
  void on_stream_complete() override;
  std::string_view protocol() const override;
  std::string_view peer_ip() const override { return peer_ip_; }

  // DownstreamConnection
  void start_drain() override;
  void force_close() override;

  // TimerNode: request-headers timeout or idle timeout.
  void on_timeout() override;

  // llhttp trampolines' targets.
  int on_message_begin();
  int on_method(const char* p, size_t n);
  int on_url(const char* p, size_t n);
  int on_header_field(const char* p, size_t n);
  int on_header_value(const char* p, size_t n);
  int on_header_value_complete();
  int on_headers_complete();
  int on_body(const char* p, size_t n);
  int on_chunk_header();
  int on_message_complete();

 protected:
  // TcpConnection
  void on_data(const char* p, size_t n) override;
  void on_read_error(int err) override;
  void on_drained() override;
  void on_closed() override;

 private:
  // On an http2 listener, the first bytes when they are not the preface:
  // false when their first line is complete and is no HTTP/1.x request line.
  static bool looks_like_http1(std::string_view first);
  void parse(const char* p, size_t n);
  // The stream finished: recycle it; false when the connection closes instead.
  bool complete_stream();
  void after_stream();
  void protocol_error(int status, std::string_view reason);
  int limit_error(int status, const char* reason);
  void go_idle();
  void release_parser();

  // Derived, not stored: every byte here is paid per idle connection.
  const config::Listener& cfg() const { return worker_.config().listeners[static_cast<size_t>(listener_index_)]; }
  int listener_index_;
  llhttp_t* parser_ = nullptr;  // from the worker's pool while a request is read
  std::unique_ptr<Stream> stream_;
  std::unique_ptr<std::string> leftover_;  // unparsed pipelined bytes (see above); rare
  std::string peer_ip_;
  uint32_t header_bytes_ = 0;
  int error_status_ = 400;         // status to send for HPE_USER
  const char* user_reason_ = nullptr;  // set by limit_error: our own verdict
  uint8_t version_minor_ = 1;      // of the current request, for the response
  bool in_field_ = false;
  bool have_name_ = false;         // a header name began since the last value
  const char* read_begin_ = nullptr;  // start of the bytes being parsed
  char prev_byte_ = 0;             // last byte of the previous read
  bool in_trailers_ = false;
  bool chunked_out_ = false;       // response body framed as chunks
  bool close_after_response_ = false;
  bool tunnel_ = false;
  bool read_disabled_ = false;
  bool paused_ = false;            // parser paused at a message boundary
  bool draining_ = false;
  bool raw_request_ = false;       // after an Upgrade/CONNECT head: bytes go to the stream as-is
  bool after_stream_scheduled_ = false;
  bool closed_ = false;
  // HTTP/2 hand-off (listener http2: true): bytes of the client preface
  // matched so far; -1 once the connection is HTTP/1 (or http2 is off).
  int8_t h2_preface_ = -1;
};

}  // namespace moe
