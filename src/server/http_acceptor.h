// The acceptor of moe's HTTP listeners (core/listener.h): every accepted
// socket starts as an HTTP/1 connection; on an `http2: true` listener one
// whose first bytes are the HTTP/2 preface switches to HTTP/2 (h2c, prior
// knowledge; over TLS, after ALPN chose h2, the client's preface does the
// same). On a listener with `tls:` the connection gets a TLS transport
// first (transport/tls.h); the handshake runs in its first reads, under the
// listener's request-headers timeout. The server layer owns the switch, so
// http1/ and http2/ never include each other. Set on each worker with
// Worker::set_acceptor.
#pragma once

#include <memory>
#include <vector>

#include "core/listener.h"
#include "transport/tls.h"

namespace moe {

class HttpAcceptor final : public ConnectionAcceptor {
 public:
  // tls[i]: listener i's TLS context, null for plain TCP (shared by the
  // workers).
  explicit HttpAcceptor(std::vector<std::shared_ptr<TlsServerContext>> tls = {}) : tls_(std::move(tls)) {}
  void on_accept(Worker& worker, int listener_index, ListenerShared* shared, int fd, const sockaddr* peer) override;
  void on_protocol_switch(Worker& worker, int listener_index, std::string_view protocol, int fd,
                          std::unique_ptr<Transport> transport, std::string_view peer_ip,
                          std::string_view initial) override;

 private:
  std::vector<std::shared_ptr<TlsServerContext>> tls_;
};

}  // namespace moe
