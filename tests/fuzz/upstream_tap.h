// connection_fuzz's view of what moe sends its upstreams: every request
// moe forwards passes through here on its way to moe's own "up" listener,
// and its request-target is handed to an oracle (the deny-route check in
// connection_fuzz.cc). The targets are read from the bytes on the wire by
// parsers of the harness's own (llhttp in request mode, nghttp2's HPACK
// inflater), not taken from moe's structures: what the oracle sees is what
// an upstream reads.
//
// Thread: UpstreamTap runs one thread of its own (started by start(), never
// joined, like connection_fuzz's worker); the oracle is called on it.
#pragma once

#include <llhttp.h>
#include <nghttp2/nghttp2.h>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace fuzz {

// Called with the request-target of each request head moe sent an
// upstream (the HTTP/1.1 request line's target, the h2 `:path`).
using TargetOracle = void (*)(std::string_view target);

enum class UpstreamProtocol : uint8_t { http1, h2c };

// The requests in one direction of one upstream connection, as moe writes
// them: fed every byte in order, calls the oracle once per request head.
// Bytes it cannot parse (they would be moe's bug, and the upstream's 400
// shows them, docs/fuzzing.md) end its parse of that connection. An
// HTTP/1.1 Upgrade request is followed by another request (the upstream in
// the harness never agrees to a tunnel); after CONNECT nothing more is read.
class ForwardedRequests {
 public:
  ForwardedRequests(UpstreamProtocol protocol, TargetOracle oracle);
  ~ForwardedRequests();
  ForwardedRequests(const ForwardedRequests&) = delete;
  ForwardedRequests& operator=(const ForwardedRequests&) = delete;

  void feed(const char* p, size_t n);

 private:
  void feed_h1(const char* p, size_t n);
  void feed_h2();
  void end_h2_block();

  // llhttp callbacks (parser.data = this)
  static int on_message_begin(llhttp_t* p);
  static int on_url(llhttp_t* p, const char* at, size_t n);
  static int on_headers_complete(llhttp_t* p);

  const UpstreamProtocol protocol_;
  const TargetOracle oracle_;
  bool dead_ = false;  // unparsable, or a tunnel: nothing more is read
  // HTTP/1.1
  llhttp_settings_t settings_{};
  llhttp_t parser_{};
  std::string url_;
  // h2c: bytes not yet parsed (a frame is parsed once it is whole), the
  // header block being gathered (HEADERS + CONTINUATION), the decoder.
  std::string in_;
  size_t preface_left_ = 24;
  std::string block_;
  nghttp2_hd_inflater* inflater_ = nullptr;
};

// A relay on 127.0.0.1: each connection accepted on a tap listener is
// relayed, both ways, to `to_port` on 127.0.0.1, and the bytes toward it
// are fed to a ForwardedRequests of the listener's protocol. EOF is passed
// on as a half-close, a reset or error as a close of both ends (SO_LINGER
// 0: an RST, and no TIME_WAIT).
class UpstreamTap {
 public:
  UpstreamTap(uint16_t to_port, TargetOracle oracle);
  ~UpstreamTap();  // only before start(): the thread, detached, uses the tap until the process exits
  // A new tap listener; returns its port. Before start().
  uint16_t listen(UpstreamProtocol protocol);
  void start();

 private:
  struct Conn;
  void run();
  void accept_from(int listen_fd, UpstreamProtocol protocol);

  const uint16_t to_port_;
  const TargetOracle oracle_;
  std::vector<std::pair<int, UpstreamProtocol>> listeners_;
  std::vector<std::unique_ptr<Conn>> conns_;
  std::thread thread_;
};

}  // namespace fuzz
