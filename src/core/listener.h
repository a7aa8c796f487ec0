// Accepting connections on one worker's SO_REUSEPORT socket.
//
// We poll the listening fd ourselves (uv_poll_t + accept4) instead of using
// uv_listen so that we choose the policy: at most kAcceptsPerWakeup accepts
// per readiness event (a burst of connects cannot starve established
// connections), and on EMFILE/ENFILE we stop polling for a short pause
// instead of spinning on a socket that stays readable.
// Thread: the owning worker.
#pragma once

#include <sys/socket.h>
#include <uv.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

namespace moe {

class Worker;
class Transport;  // transport/transport.h: what carries the socket's bytes (TLS)

// Shared by the workers of one listener: the connection count behind
// max_connections. One atomic add per accept and per close, never per request.
struct ListenerShared {
  std::atomic<uint32_t> connections{0};
};

// What a listener does with each socket it accepts: the layers above decide
// (Worker::set_acceptor; server/http_acceptor.h makes an HTTP/1 connection,
// with a TLS transport on a tls: listener; a TCP proxy session later). The socket is
// non-blocking, TCP_NODELAY, and already counted (ListenerShared, the
// listener's connections_total/active): the connection un-counts it when it
// closes. Thread: the owning worker.
class ConnectionAcceptor {
 public:
  virtual ~ConnectionAcceptor() = default;
  // Takes `fd`: opens a connection on it, or closes it.
  virtual void on_accept(Worker& worker, int listener_index, ListenerShared* shared, int fd,
                         const sockaddr* peer) = 0;
  // A connection found that its socket speaks another protocol (`protocol`:
  // "h2", the HTTP/2 preface on an HTTP/1 connection) and gave the socket
  // up (TcpConnection::release_fd) with its transport (null: plain TCP):
  // `initial` is every byte read so far. Takes `fd` as on_accept does; the
  // new connection counts itself.
  virtual void on_protocol_switch(Worker& worker, int listener_index, std::string_view protocol, int fd,
                                  std::unique_ptr<Transport> transport, std::string_view peer_ip,
                                  std::string_view initial) = 0;
};

class Listener {
 public:
  static constexpr int kAcceptsPerWakeup = 64;

  Listener(Worker& worker, int listener_index, int fd, ListenerShared* shared);
  ~Listener();
  int start();
  // Stops accepting and closes the socket (drain).
  void close();
  int index() const { return index_; }

 private:
  static void on_poll(uv_poll_t* p, int status, int events);
  static void on_pause_done(uv_timer_t* t);
  void accept_some();

  Worker& worker_;
  int index_;
  int fd_;
  ListenerShared* shared_;
  uv_poll_t* poll_;    // heap: closed asynchronously
  uv_timer_t* pause_;  // EMFILE back-off
  bool closed_ = false;
};

// Creates a bound, listening, non-blocking TCP socket with SO_REUSEPORT.
// Returns the fd, or -errno with `err` describing the failure.
int make_listen_socket(const struct sockaddr* addr, socklen_t len, int backlog, std::string& err);

}  // namespace moe
