#include "core/listener.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>

#include "core/log.h"
#include "core/worker.h"

namespace moe {

int make_listen_socket(const sockaddr* addr, socklen_t len, int backlog, std::string& err) {
  int fd = ::socket(addr->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    err = std::string("socket: ") + strerror(errno);
    return -errno;
  }
  int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  // Every worker binds its own socket to the same address; the kernel spreads
  // new connections across them (Debian's libuv 1.44 has no UV_TCP_REUSEPORT).
  if (::setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) != 0) {
    err = std::string("SO_REUSEPORT: ") + strerror(errno);
    int e = errno;
    ::close(fd);
    return -e;
  }
  if (::bind(fd, addr, len) != 0 || ::listen(fd, backlog) != 0) {
    err = strerror(errno);
    int e = errno;
    ::close(fd);
    return -e;
  }
  return fd;
}

Listener::Listener(Worker& worker, int listener_index, int fd, ListenerShared* shared)
    : worker_(worker), index_(listener_index), fd_(fd), shared_(shared) {
  poll_ = new uv_poll_t;
  pause_ = new uv_timer_t;
  uv_poll_init_socket(worker_.loop(), poll_, fd_);
  uv_timer_init(worker_.loop(), pause_);
  poll_->data = this;
  pause_->data = this;
}

Listener::~Listener() { close(); }

int Listener::start() { return uv_poll_start(poll_, UV_READABLE, on_poll); }

void Listener::close() {
  if (closed_) return;
  closed_ = true;
  uv_poll_stop(poll_);
  uv_timer_stop(pause_);
  uv_close(reinterpret_cast<uv_handle_t*>(poll_), [](uv_handle_t* h) { delete reinterpret_cast<uv_poll_t*>(h); });
  uv_close(reinterpret_cast<uv_handle_t*>(pause_), [](uv_handle_t* h) { delete reinterpret_cast<uv_timer_t*>(h); });
  ::close(fd_);
}

void Listener::on_poll(uv_poll_t* p, int status, int) {
  auto* l = static_cast<Listener*>(p->data);
  if (status == 0) l->accept_some();
}

void Listener::on_pause_done(uv_timer_t* t) {
  auto* l = static_cast<Listener*>(t->data);
  if (!l->closed_) uv_poll_start(l->poll_, UV_READABLE, on_poll);
}

void Listener::accept_some() {
  const auto& lc = worker_.config().listeners[static_cast<size_t>(index_)];
  ListenerStats& ls = *worker_.stats().listeners[static_cast<size_t>(index_)];
  for (int i = 0; i < kAcceptsPerWakeup; i++) {
    sockaddr_storage peer;
    socklen_t peer_len = sizeof peer;
    int fd = ::accept4(fd_, reinterpret_cast<sockaddr*>(&peer), &peer_len, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EAGAIN || errno == EINTR || errno == ECONNABORTED) return;
      if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
        // Out of descriptors: the socket stays readable, so pause instead of
        // spinning; established connections keep being served meanwhile.
        log_warn("listener {}: accept: {}; pausing accepts for 100ms", lc.name, strerror(errno));
        uv_poll_stop(poll_);
        uv_timer_start(pause_, on_pause_done, 100, 0);
      }
      return;
    }
    if (shared_->connections.fetch_add(1, std::memory_order_relaxed) >= lc.limits.max_connections) {
      shared_->connections.fetch_sub(1, std::memory_order_relaxed);
      add(ls.connections_rejected);
      ::close(fd);
      continue;
    }
    int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    add(ls.connections_total);
    add(ls.connections_active);
    worker_.acceptor().on_accept(worker_, index_, shared_, fd, reinterpret_cast<const sockaddr*>(&peer));
  }
}

}  // namespace moe
