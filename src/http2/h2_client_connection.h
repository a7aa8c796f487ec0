// An HTTP/2 connection to an upstream endpoint over cleartext TCP (h2c,
// prior knowledge), owned by a pool (UpstreamPoolCallbacks, http/codec.h) of
// a `protocol: h2c` cluster: nghttp2 client session, many streams
// multiplexed, one H2ClientStream (the UpstreamCodec a stream talks to) per
// request.
//
// Input: on_data() -> nghttp2_session_mem_recv -> callbacks turn response
// frames into Stream events. Output: the session writes into
// TcpConnection::out() through its send callbacks; send() runs at the end of
// each read and, deferred (Worker::defer), after stream commands, so nghttp2
// is never re-entered from inside a Stream (the server side's pattern).
//
// Flow control is backpressure, as on the server side: the connection window
// is consumed as DATA arrives, a stream's window only while its Stream reads
// (read_disable(false)).
//
// Capacity: the pool puts new streams on a connection while it has fewer
// open streams than the server's SETTINGS_MAX_CONCURRENT_STREAMS (capped at
// kMaxStreamsPerConnection; the cap also applies before SETTINGS arrive).
// GOAWAY: the connection takes no new streams; nghttp2 closes the streams
// above last_stream_id with REFUSED_STREAM and they are resubmitted on
// another connection (up to kMaxGoawayRetries). RST_STREAM(REFUSED_STREAM):
// retried once on another connection; if the stream was submitted before the
// server's SETTINGS arrived, it is first resent once on the same connection
// (nghttp2 now holds it to the server's limit). A retry keeps the
// H2ClientStream (the request head and the body sent so far are kept until
// the response begins, up to kRetryBodyLimit) and moves it.
//
// Lifetime: an H2ClientStream lives from attach until nghttp2 closes its
// stream (or the connection closes); its Stream resetting it first only
// forgets the Stream. The connection deletes itself from on_closed(), or from
// a deferred send it scheduled.
// Thread: the owning worker.
#pragma once

#include <nghttp2/nghttp2.h>

#include <string>
#include <string_view>
#include <vector>

#include "core/intrusive_list.h"
#include "core/timer_list.h"
#include "http/codec.h"
#include "http2/h2_util.h"
#include "transport/tcp_connection.h"

namespace moe {

class H2ClientConnection;

class H2ClientStream final : public UpstreamCodec {
 public:
  // Request body bytes kept for a retry after REFUSED_STREAM; beyond this
  // the sent bytes are dropped and the stream is not retried.
  static constexpr size_t kRetryBodyLimit = 64 * 1024;
  // A stream left unprocessed by GOAWAY (or never sent because of one) is
  // resubmitted up to this many times; a server that ends connections after
  // a few streams can refuse a stream on several connections in a row.
  static constexpr uint8_t kMaxGoawayRetries = 16;

  H2ClientStream(H2ClientConnection& conn, StreamEvents* s, uint32_t seq);

  // UpstreamCodec
  void encode_headers(const RequestHead& head, bool end_stream) override;
  void encode_data(const char* p, size_t n, bool end_stream) override;
  void encode_trailers(const HeaderMap& trailers) override;
  void reset_stream() override;
  void read_disable(bool disable) override;
  bool above_high_watermark() const override;
  bool reused() const override { return seq_ > 1; }
  std::string_view endpoint() const override;

  ssize_t read_body(size_t max, uint32_t* flags);
  ListLink link;  // in the connection's stream list

 private:
  friend class H2ClientConnection;
  size_t queued() const { return body_.size() - body_off_; }
  bool submit();  // submits HEADERS (+ data provider) on conn_'s session

  H2ClientConnection* conn_;
  StreamEvents* stream_;  // null once the Stream is gone
  uint32_t seq_;    // 1 = the connection's first stream
  int32_t id_ = 0;  // 0 = not submitted yet
  // The Stream's request head, read again by a resubmission: it lives as
  // long as the Stream, and nothing resubmits once the Stream is gone.
  const RequestHead* head_ = nullptr;
  h2::Trailers trailers_;
  std::string body_;
  size_t body_off_ = 0;
  size_t unconsumed_ = 0;
  bool head_ready_ = false;   // encode_headers ran
  bool has_body_ = false;     // a data provider
  bool body_end_ = false;
  bool deferred_ = false;
  bool body_dropped_ = false;  // sent bytes were dropped: no retry
  bool retried_ = false;       // RST_STREAM(REFUSED_STREAM) retry used
  bool peer_reset_ = false;    // the server sent RST_STREAM
  bool after_settings_ = false;  // submitted once the server's limits were known
  bool resent_ = false;          // resubmitted after a refusal before SETTINGS
  uint8_t goaway_retries_ = 0; // resubmissions of streams a GOAWAY left unprocessed
  bool response_begun_ = false;
  bool in_trailers_ = false;
  bool read_disabled_ = false;
  bool done_ = false;         // response complete or reset: Stream forgotten
  bool rst_submitted_ = false;
  bool interim_ = false;
};

class H2ClientConnection final : public TcpConnection, public UpstreamConnection, public TimerNode {
 public:
  static constexpr uint32_t kMaxStreamsPerConnection = 100;
  static constexpr uint32_t kInitialWindow = 256 * 1024;
  static constexpr uint32_t kConnectionWindow = 4 * 1024 * 1024;

  H2ClientConnection(UpstreamPoolCallbacks& pool, int endpoint);
  int connect(const struct sockaddr* addr);
  // A connect that failed before it started.
  void connect_failed(int err) { fail(err); }

  // New stream for `s` (the pool checked has_capacity()). Tells the Stream:
  // on_upstream_ready when connected, else on_upstream_attached.
  void attach(StreamEvents* s);
  // A refused stream from another connection, resubmitted here.
  void adopt(H2ClientStream* hs);
  bool has_capacity() const;
  bool usable() const { return !goaway_ && !closing() && !closed_ && session_; }
  bool connected() const { return connected_; }
  size_t active_streams() const { return streams_.size(); }
  std::string_view endpoint() const;
  nghttp2_session* session() { return session_; }
  void schedule_send();
  void shutdown();  // drain: GOAWAY, close when streams are done

  ListLink pool_link;  // in the pool's list of h2 connections of the endpoint

  void on_timeout() override;

  // nghttp2 callbacks' targets.
  int on_header(const nghttp2_frame* frame, std::string_view name, std::string_view value);
  int on_begin_headers(const nghttp2_frame* frame);
  int on_frame_recv(const nghttp2_frame* frame);
  int on_data_chunk(int32_t stream_id, const uint8_t* data, size_t len);
  int on_stream_close(int32_t stream_id, uint32_t error_code);
  int on_frame_not_send(const nghttp2_frame* frame, int lib_error);
  ssize_t on_send(const uint8_t* data, size_t len);
  int on_send_data(const uint8_t* framehd, size_t len, H2ClientStream* s);

  // From H2ClientStream.
  void consume(H2ClientStream* s, size_t n);

 protected:
  void on_data(const char* p, size_t n) override;
  void on_read_error(int err) override;
  void on_write_error(int err) override;
  void on_connected(int status) override;
  void on_drained() override;
  void on_closed() override;

 private:
  ~H2ClientConnection() override;
  friend class H2ClientStream;
  uint16_t hpack_named_ = 0;  // h2::unique_field names this connection's HPACK has indexed once
  std::vector<nghttp2_nv> nva_;  // H2ClientStream::submit's scratch (capacity kept)
  void send();
  void fail(int err);
  void fail_streams(UpstreamFailure why, std::string_view detail);
  void stream_gone(H2ClientStream* s, uint32_t error_code);
  void update_idle_timer();
  H2ClientStream* stream_of(int32_t id);

  UpstreamPoolCallbacks& pool_;
  nghttp2_session* session_ = nullptr;
  IntrusiveList<H2ClientStream, &H2ClientStream::link> streams_;
  uint32_t seq_ = 0;
  bool connected_ = false;
  bool goaway_ = false;
  bool settings_seen_ = false;  // the server's first SETTINGS arrived
  bool in_recv_ = false;
  bool send_scheduled_ = false;
  bool closed_ = false;
  bool idle_armed_ = false;
};

}  // namespace moe
