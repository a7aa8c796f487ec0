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
//
// Memory: idle keep-alive connections are what a proxy holds by the ten
// thousand, so an idle one keeps only what must outlive a request (288
// bytes, see the budget in docs/design/data-path.md). Everything that lives
// while a request is read or answered (the llhttp parser, the Stream, parse
// state, leftover bytes, the peer address as text) is in a Request, taken
// from a slab at the first byte of a request and given back when the
// connection is idle again.
// Thread: the owning worker.
#pragma once

#include <cstdint>
#include <string_view>

#include "core/listener.h"
#include "core/peer_address.h"
#include "core/slab.h"
#include "core/timer_list.h"
#include "core/worker.h"
#include "http/codec.h"
#include "transport/tcp_connection.h"

namespace moe {

class Http1ServerConnection final : public TcpConnection,
                                    public DownstreamCodec,
                                    public DownstreamConnection,
                                    public TimerNode {
 public:
  Http1ServerConnection(Worker& worker, int listener_index, ListenerShared* shared);
  ~Http1ServerConnection();
  // `peer`: the client's address from accept4.
  void start(const sockaddr* peer);
  // Opens a connection on an accepted `fd` and starts it (closes `fd` when
  // it cannot): what an HTTP listener's acceptor does.
  // `transport`: null for plain TCP (a TLS listener's acceptor makes one).
  static void accept(Worker& worker, int listener_index, ListenerShared* shared, int fd, const sockaddr* peer,
                     std::unique_ptr<Transport> transport = nullptr);

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
  std::string_view peer_ip() const override;
  uint64_t last_progress_ms() const override;

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
  int on_chunk_extension(size_t n);
  // Chunk-extension bytes a request may carry, all chunks together.
  static constexpr uint32_t kMaxChunkExtensions = 16 * 1024;
  // A request's bytes outside the spans llhttp reports (account_wire):
  // the head may be max_request_headers + 4 per header + this on the wire;
  // a chunked body's framing (size lines, extensions, CRLFs) at most
  // kMaxChunkFraming plus kChunkFramingPerChunk per chunk. Both are checked
  // per read, so they hold to within one read.
  static constexpr uint32_t kHeadFramingSlack = 4 * 1024;
  static constexpr uint32_t kMaxChunkFraming = kMaxChunkExtensions + 16 * 1024;
  static constexpr uint32_t kChunkFramingPerChunk = 32;
  int on_message_complete();

 protected:
  // TcpConnection
  void on_data(const char* p, size_t n) override;
  void on_read_error(int err) override;
  void on_drained() override;
  void on_write_progress() override;
  void on_closed() override;
  // A client may still be sending when we end the connection (a body after
  // a 413, frames after GOAWAY): linger rather than reset (TcpConnection).
  uint32_t linger_ms() const override { return kServerLingerMs; }
  void end_streams() override;

 private:
  struct Request;  // per-request state (the .cc); null while idle

  StreamEvents* stream() const;
  // On an http2 listener, the first bytes when they are not the preface:
  // false when their first line is complete and is no HTTP/1.x request line.
  static bool looks_like_http1(std::string_view first);
  void parse(const char* p, size_t n);
  // The stream finished: recycle it; false when the connection closes instead.
  bool complete_stream();
  void after_stream();
  void protocol_error(int status, std::string_view reason);
  int limit_error(int status, const char* reason);
  uint64_t max_head_wire() const;
  void account_wire(size_t n);
  void go_idle();
  void send_blocked();
  void release_request();

  // Derived, not stored: every byte below is paid per idle connection.
  const config::Listener& cfg() const { return worker_.config().listeners[static_cast<size_t>(listener_index_)]; }
  Request* req_ = nullptr;  // from a slab while a request is in progress
  // Every request needs it (X-Forwarded-For, Go's stream info) and only
  // accept4 gives it for free: asking getpeername(2) later would be a
  // syscall per request. 17 bytes in binary.
  PeerAddress peer_;
  // HTTP/2 hand-off (listener http2: true): bytes of the client preface
  // matched so far; -1 once the connection is HTTP/1 (or http2 is off).
  int8_t h2_preface_ = -1;
  // Flags as bits (two bytes). The first three describe the current
  // response; bits cost nothing here, so they stay out of Request.
  bool http10_ : 1 = false;               // the current request is HTTP/1.0 (for the response)
  bool chunked_out_ : 1 = false;          // response body framed as chunks
  bool tunnel_ : 1 = false;               // the response agreed to Upgrade/CONNECT
  bool close_after_response_ : 1 = false;
  bool read_disabled_ : 1 = false;
  bool paused_ : 1 = false;               // parser paused at a message boundary
  bool draining_ : 1 = false;
  bool raw_request_ : 1 = false;          // after an Upgrade/CONNECT head: bytes go to the stream as-is
  bool after_stream_scheduled_ : 1 = false;
  bool closed_ : 1 = false;
  bool send_blocked_ : 1 = false;         // output above the watermark: the timer is timeouts.send
  int listener_index_;  // which listener's config (limits, timeouts) and stats
};

// The budget of an idle keep-alive connection (docs/design/data-path.md):
// TcpConnection 200 (160 of it libuv's uv_poll_t, 8 the transport
// pointer), the DownstreamCodec vtable pointer 8, DownstreamConnection 24
// (vtable pointer, the worker's list links), TimerNode 32, and 32 here. A
// field added to any of them must fit, or this fails and the budget is
// revisited on purpose (the transport pointer was: 288 -> 296).
static_assert(sizeof(Http1ServerConnection) <= 296, "an idle HTTP/1 connection outgrew its memory budget");

}  // namespace moe
