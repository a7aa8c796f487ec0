// An HTTP/2 server connection over cleartext TCP (h2c, prior knowledge):
// nghttp2 server session, one stream (StreamEvents) per HTTP/2 stream.
//
// How a connection gets here: a listener with `http2: true` accepts every
// connection as HTTP/1 (Http1ServerConnection). When the first bytes are the
// client connection preface ("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"), that object
// gives its socket up (TcpConnection::release_fd) to the worker's acceptor
// (server/http_acceptor.h: the two codecs never include each other), which
// calls H2ServerConnection::adopt(): it opens the fd here and feeds the
// bytes already read (preface included: nghttp2 checks it) to the session.
//
// Input: on_data() -> nghttp2_session_mem_recv -> callbacks create an
// H2Stream per HEADERS and turn frames into Stream events. Output: the
// session writes into TcpConnection::out() through its send callbacks;
// send() runs at the end of each read and, deferred (Worker::defer), after
// stream commands, so nghttp2 is never re-entered from inside a Stream.
// While out() is above the high watermark the send callbacks say
// WOULDBLOCK; on_drained() resumes them.
//
// Flow control is backpressure: the session never sends WINDOW_UPDATE by
// itself (no_auto_window_update). The connection window is consumed as soon
// as DATA arrives; a stream's window only while its Stream reads
// (read_disable(false)): what arrives while it is disabled is consumed when
// it is enabled again. So a client faster than the upstream is held to one
// stream window per stream (64 KiB) beyond the Stream's own watermark.
//
// Lifetime: an H2Stream lives from its HEADERS until nghttp2 closes the
// stream (on_stream_close) or the connection closes; its Stream finishing
// first (on_stream_complete) only marks it. The connection deletes itself
// from on_closed(), or from a deferred send it scheduled.
// Thread: the owning worker.
#pragma once

#include <nghttp2/nghttp2.h>

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/intrusive_list.h"
#include "core/timer_list.h"
#include "core/worker.h"
#include "http/codec.h"
#include "http2/h2_frame_gate.h"
#include "http2/h2_util.h"
#include "transport/tcp_connection.h"

namespace moe {

class H2ServerConnection;

// One HTTP/2 stream: the DownstreamCodec its Stream talks to. Its timer is
// the send timeout while response bytes wait, then ends a late request
// (below).
class H2Stream final : public DownstreamCodec, public TimerNode {
 public:
  H2Stream(H2ServerConnection& conn, int32_t id);
  ~H2Stream();

  // DownstreamCodec
  void encode_headers(const ResponseHead& head, bool end_stream) override;
  void encode_data(const char* p, size_t n, bool end_stream) override;
  void encode_trailers(const HeaderMap& trailers) override;
  void reset_stream() override;
  void read_disable(bool disable) override;
  bool above_high_watermark() const override;
  void on_stream_complete() override;
  std::string_view protocol() const override { return "HTTP/2"; }
  bool trailers_ok() const override { return true; }
  std::string_view peer_ip() const override;
  uint64_t last_progress_ms() const override { return progress_ms_; }

  // The session's data source: how much of the queued body goes in the
  // next DATA frame (NGHTTP2_ERR_DEFERRED when none yet).
  ssize_t read_body(size_t max, uint32_t* flags);

  // TimerNode: the client did not end a request we had answered in time
  // (late_request_), or the response could not be sent for timeouts.send.
  void on_timeout() override;

  // The response is complete but the client is still sending (a direct
  // response, a 413, an upstream that answered early). The stream stays
  // open in nghttp2, so what the client sends is still checked (a
  // content-length that does not match, pseudo-headers in trailers, bad
  // padding get their RST_STREAM or GOAWAY), and its DATA is dropped. After
  // kLateRequestMs, or more than kLateBodyMax bytes dropped, the stream is
  // reset with NO_ERROR (RFC 9113 8.1).
  static constexpr uint64_t kLateRequestMs = 1000;
  static constexpr uint32_t kLateBodyMax = 64 * 1024;
  // A stream's watermark (above_high_watermark) is what the client's
  // windows let us send now, clamped to kMinBuffer ..
  // TcpConnection::kHighWatermark: a client that opens no window costs this
  // (and one upstream read) per stream, not the 256 KiB.
  static constexpr size_t kMinBuffer = 16 * 1024;

  ListLink link;  // in the connection's stream list

 private:
  friend class H2ServerConnection;
  bool live() const;  // the Stream exists and has not finished
  size_t queued() const { return body_.size() - body_off_; }
  size_t watermark() const;  // kMinBuffer .. kHighWatermark, from the client's windows
  void sent_progress();       // (re)arms or disarms the send timeout
  void end_late_request();  // RST_STREAM(NO_ERROR), see kLateRequestMs

  H2ServerConnection& conn_;
  int32_t id_;
  std::unique_ptr<StreamEvents> stream_;  // Worker::streams()
  // Response body bytes waiting for the client's flow-control window; the
  // session's data source reads them (no copy into nghttp2: send_data).
  std::string body_;
  size_t body_off_ = 0;
  // Trailers to send after the body (name, value pairs).
  h2::Trailers trailers_;
  size_t unconsumed_ = 0;      // request DATA bytes held back while read-disabled
  uint64_t progress_ms_ = 0;   // a DATA frame of the response went out (sent_progress)
  uint32_t header_bytes_ = 0;  // request header block, for max_request_headers
  uint32_t late_bytes_ = 0;    // request DATA dropped after the response ended
  std::string_view authority_;
  bool headers_too_large_ = false;
  bool too_many_headers_ = false;
  bool in_trailers_ = false;
  bool request_headers_done_ = false;  // Stream::on_request_headers was called
  bool response_submitted_ = false;    // final response HEADERS submitted
  bool data_provider_ = false;         // the response has a body (a data source)
  bool body_end_ = false;              // no body bytes after body_
  bool deferred_ = false;              // the data source said DEFERRED
  bool read_disabled_ = false;
  bool rst_submitted_ = false;
  bool late_request_ = false;          // answered, the client still sending (kLateRequestMs)
  bool closed_ = false;                // nghttp2 closed the stream
};

class H2ServerConnection final : public TcpConnection, public DownstreamConnection, public TimerNode {
 public:
  // Per-connection limit on RST_STREAM from the client (rapid reset,
  // CVE-2023-44487): more than this in one second ends the connection with
  // GOAWAY(ENHANCE_YOUR_CALM).
  static constexpr uint32_t kMaxResetsPerSecond = 200;
  static constexpr uint32_t kMaxConcurrentStreams = 100;
  static constexpr uint32_t kInitialWindow = 64 * 1024;
  static constexpr uint32_t kConnectionWindow = 1024 * 1024;
  // HPACK expansion (HPACK bombs: 1-byte references to a 4 KiB table entry).
  // A header block decoding to more than kBlockAbuseFactor times
  // max_request_headers (or max_headers fields) ends the connection with
  // GOAWAY(ENHANCE_YOUR_CALM) at once, before nghttp2 decodes the rest.
  // Across blocks, decoded header bytes (name + value + 32 per field) may
  // exceed kHpackRatio times the bytes received, plus kHpackBlockAllowance
  // per block, by at most the credit cap (max(kHpackCreditMin, 16 x
  // max_request_headers)). The allowance is the dynamic table's size: a
  // block referencing every entry once costs at most that, so no request
  // that does not repeat a table entry ever runs out.
  static constexpr uint32_t kBlockAbuseFactor = 2;
  static constexpr int64_t kHpackRatio = 128;
  static constexpr int64_t kHpackBlockAllowance = 4096;  // SETTINGS_HEADER_TABLE_SIZE, nghttp2's default
  static constexpr int64_t kHpackCreditMin = 1024 * 1024;

  // Takes over `fd` from an HTTP/1 connection that saw the preface.
  // `initial` holds every byte read so far (the preface first). On failure
  // the fd is closed.
  static void adopt(Worker& worker, int listener_index, int fd, std::unique_ptr<Transport> transport,
                    std::string_view peer_ip, std::string_view initial);

  // DownstreamConnection
  void start_drain() override;
  void force_close() override;

  // TimerNode: request-headers timeout (a header block left open), send
  // timeout (the socket took nothing while our output was at the high
  // watermark) or idle timeout (no stream).
  void on_timeout() override;

  // nghttp2 callbacks' targets (see the .cc for when each fires).
  int on_begin_headers(const nghttp2_frame* frame);
  int on_header(const nghttp2_frame* frame, std::string_view name, std::string_view value);
  int on_frame_recv(const nghttp2_frame* frame);
  int on_data_chunk(int32_t stream_id, const uint8_t* data, size_t len);
  int on_frame_send(const nghttp2_frame* frame);
  int on_stream_close(int32_t stream_id, uint32_t error_code);
  ssize_t on_send(const uint8_t* data, size_t len);
  int on_send_data(nghttp2_frame* frame, const uint8_t* framehd, size_t len, H2Stream* s);

  // From H2Stream.
  nghttp2_session* session() { return session_; }
  const std::string& peer_ip() const { return peer_ip_; }
  int listener_index() const { return listener_index_; }
  // Runs send() after the current callback (never re-enters nghttp2).
  void schedule_send();

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
  H2ServerConnection(Worker& worker, int listener_index, std::string_view peer_ip);
  ~H2ServerConnection() override;
  bool init_session();
  void send();
  void end_request_headers(H2Stream* s, bool end_stream);
  void reset_all_streams();
  void update_timer();
  void terminate(uint32_t error_code);
  int would_block();  // NGHTTP2_ERR_WOULDBLOCK, arming the send timeout
  int hpack_abuse(const char* why);
  H2Stream* stream_of(int32_t id);
  const config::Listener& cfg() const {
    return worker_.config().listeners[static_cast<size_t>(listener_index_)];
  }

  int listener_index_;
  std::string peer_ip_;
  nghttp2_session* session_ = nullptr;
  h2::FrameGate gate_;  // client stream-state rules nghttp2 leaves lax
  uint16_t hpack_named_ = 0;  // h2::unique_field names this connection's HPACK has indexed once
  std::vector<nghttp2_nv> nva_;  // H2Stream's scratch for HEADERS and trailers (capacity kept)
  friend class H2Stream;
  IntrusiveList<H2Stream, &H2Stream::link> streams_;
  enum class TimerKind : uint8_t { none, request_headers, send, idle };
  uint64_t reset_window_ms_ = 0;  // start of the current one-second RST window
  uint32_t resets_ = 0;           // RST_STREAM received in that window
  int32_t header_block_stream_ = 0;  // a HEADERS block is open (no END_HEADERS yet)
  uint64_t block_bytes_ = 0;         // decoded bytes of the current header block
  uint32_t block_fields_ = 0;        // and its fields
  int64_t hpack_credit_ = 0;         // decoded header bytes we still take (kHpackRatio)
  int64_t hpack_credit_cap_ = 0;
  TimerKind timer_ = TimerKind::none;
  bool send_scheduled_ = false;
  bool write_blocked_ = false;      // a send callback said WOULDBLOCK; on_drained clears it
  bool in_recv_ = false;            // inside nghttp2_session_mem_recv
  bool closed_ = false;             // on_closed ran; a deferred send deletes us
};

}  // namespace moe
