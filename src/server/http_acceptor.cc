#include "server/http_acceptor.h"

#include <sys/socket.h>
#include <unistd.h>

#include "core/log.h"
#include "http1/http1_server_connection.h"
#include "http2/h2_server_connection.h"

namespace moe {

void HttpAcceptor::on_accept(Worker& worker, int listener_index, ListenerShared* shared, int fd,
                             const sockaddr* peer) {
  std::unique_ptr<Transport> t;
  const size_t li = static_cast<size_t>(listener_index);
  if (li < tls_.size() && tls_[li]) {
    t = tls_[li]->accept(fd);
    if (!t) {
      // OpenSSL could not make an SSL (out of memory): the connection
      // still opens, so it is counted and un-counted as every other, and
      // sees EOF at once; no plaintext is ever read on a TLS port.
      log_error("TLS: cannot make a connection's SSL; closing it");
      ::shutdown(fd, SHUT_RDWR);
    }
  }
  Http1ServerConnection::accept(worker, listener_index, shared, fd, peer, std::move(t));
}

void HttpAcceptor::on_protocol_switch(Worker& worker, int listener_index, std::string_view protocol, int fd,
                                      std::unique_ptr<Transport> transport, std::string_view peer_ip,
                                      std::string_view initial) {
  if (protocol != "h2") {  // no other switch exists
    if (fd >= 0) ::close(fd);
    return;
  }
  H2ServerConnection::adopt(worker, listener_index, fd, std::move(transport), peer_ip, initial);
}

}  // namespace moe
