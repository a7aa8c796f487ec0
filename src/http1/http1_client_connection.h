// An HTTP/1.1 connection to an upstream endpoint (llhttp in response mode),
// owned by a pool (UpstreamPoolCallbacks, http/codec.h). It carries one stream at a time; between streams it
// sits idle in the pool, still reading so that a close by the upstream is
// noticed at once.
// Thread: the owning worker.
#pragma once

#include <llhttp.h>

#include <string>

#include "core/intrusive_list.h"
#include "core/timer_list.h"
#include "http/codec.h"
#include "http1/wire_count.h"
#include "transport/tcp_connection.h"

namespace moe {

class Http1ClientConnection final : public TcpConnection,
                                    public UpstreamCodec,
                                    public UpstreamConnection,
                                    public TimerNode {
 public:
  enum class State { connecting, idle, active, closed };

  Http1ClientConnection(UpstreamPoolCallbacks& pool, int endpoint);
  // Starts the non-blocking connect; the pool hears back.
  int connect(const struct sockaddr* addr);
  void attach(StreamEvents* s);
  State state() const { return state_; }
  // A connect that failed before it started (bad address...).
  void connect_failed(int err) { fail(err, false); }
  ListLink idle_link;  // in the pool's idle list of its endpoint

  // UpstreamCodec
  void encode_headers(const RequestHead& head, bool end_stream) override;
  void encode_data(const char* p, size_t n, bool end_stream) override;
  void encode_trailers(const HeaderMap& trailers) override;
  void reset_stream() override;
  void read_disable(bool disable) override;
  bool above_high_watermark() const override { return TcpConnection::above_high_watermark(); }
  bool reused() const override { return requests_ > 1; }
  std::string_view endpoint() const override;

  // TimerNode: connect timeout or idle timeout, depending on state.
  void on_timeout() override;

  // llhttp trampolines' targets.
  int on_message_begin();
  int on_status(const char* p, size_t n);
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
  void on_write_error(int err) override;
  void on_drained() override;
  void on_connected(int status) override;
  void on_closed() override;

 private:
  void fail(int err, bool protocol_error);
  void finish_response();
  // What llhttp consumes without a callback (runs of spaces in the status
  // line and before header values, leading zeros of chunk sizes) is bounded
  // per read, as on the server side (Http1ServerConnection::account_wire):
  // false when the response broke a bound.
  bool account_wire(size_t n);

  UpstreamPoolCallbacks& pool_;
  State state_ = State::connecting;
  StreamEvents* stream_ = nullptr;
  llhttp_t parser_;
  uint32_t requests_ = 0;
  http1::WireCount wire_;  // of the response being read (account_wire)
  bool chunked_out_ = false;      // request body framed as chunks
  bool in_field_ = false;         // parser is inside a header name
  bool in_trailers_ = false;
  bool response_begun_ = false;   // any response byte arrived for this stream
  bool message_done_ = false;     // on_message_complete seen in this execute
  bool upgraded_ = false;         // raw tunnel
  bool tunnel_response_ = false;  // the response head agreed to a tunnel
  bool expect_no_body_ = false;   // HEAD
  bool read_disabled_ = false;
  bool keep_alive_ = true;        // the last response allows reuse
  bool distrust_ = false;         // a 1xx or 204 announced a body: never reuse
};

}  // namespace moe
