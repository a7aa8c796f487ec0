#include "server/http_acceptor.h"

#include <unistd.h>

#include "http1/http1_server_connection.h"
#include "http2/h2_server_connection.h"

namespace moe {

void HttpAcceptor::on_accept(Worker& worker, int listener_index, ListenerShared* shared, int fd,
                             const sockaddr* peer) {
  Http1ServerConnection::accept(worker, listener_index, shared, fd, peer);
}

void HttpAcceptor::on_protocol_switch(Worker& worker, int listener_index, std::string_view protocol, int fd,
                                      std::string_view peer_ip, std::string_view initial) {
  if (protocol != "h2c") {  // no other switch exists
    if (fd >= 0) ::close(fd);
    return;
  }
  H2ServerConnection::adopt(worker, listener_index, fd, peer_ip, initial);
}

}  // namespace moe
