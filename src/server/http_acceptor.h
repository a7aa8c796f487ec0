// The acceptor of moe's HTTP listeners (core/listener.h): every accepted
// socket starts as an HTTP/1 connection; on an `http2: true` listener one
// whose first bytes are the HTTP/2 preface switches to HTTP/2 (h2c, prior
// knowledge). The server layer owns the switch, so http1/ and http2/ never
// include each other. Set on each worker with Worker::set_acceptor.
#pragma once

#include "core/listener.h"

namespace moe {

class HttpAcceptor final : public ConnectionAcceptor {
 public:
  void on_accept(Worker& worker, int listener_index, ListenerShared* shared, int fd, const sockaddr* peer) override;
  void on_protocol_switch(Worker& worker, int listener_index, std::string_view protocol, int fd,
                          std::string_view peer_ip, std::string_view initial) override;
};

}  // namespace moe
