#include "transport/tcp_connection.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/uio.h>
#include <unistd.h>

#include "core/worker.h"

namespace moe {
namespace {

// A read that fills the buffer may have more behind it; read again, but not
// forever: other connections wait for this loop iteration.
constexpr int kReadsPerWakeup = 4;

}  // namespace

TcpConnection::TcpConnection(Worker& worker) : worker_(worker) { poll_.data = this; }

TcpConnection::~TcpConnection() { release_out(); }

int TcpConnection::open(int fd) {
  int rc = uv_poll_init_socket(worker_.loop(), &poll_, fd);
  if (rc == 0) fd_ = fd;
  poll_.data = this;
  return rc;
}

int TcpConnection::connect(const sockaddr* addr, socklen_t len) {
  int fd = ::socket(addr->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return -errno;
  int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  if (::connect(fd, addr, len) != 0 && errno != EINPROGRESS) {
    int e = -errno;
    ::close(fd);
    return e;
  }
  if (int rc = open(fd); rc != 0) {
    ::close(fd);
    fd_ = -1;
    return rc;
  }
  // Writable = connected (or failed: SO_ERROR tells).
  connecting_ = true;
  update_poll();
  return 0;
}

std::string& TcpConnection::out() {
  if (!out_) out_ = worker_.take_buffer();
  return out_->data;
}

void TcpConnection::release_out() {
  if (!out_) return;
  worker_.give_buffer(out_);
  out_ = nullptr;
}

void TcpConnection::update_poll() {
  if (closing_ || fd_ < 0) return;
  uint8_t want = 0;
  if (reading_) want |= UV_READABLE;
  if (connecting_ || want_write_) want |= UV_WRITABLE;
  if (want == polled_) return;
  polled_ = want;
  if (want) uv_poll_start(&poll_, want, on_poll);
  else uv_poll_stop(&poll_);
}

void TcpConnection::on_poll(uv_poll_t* p, int status, int events) {
  auto* c = static_cast<TcpConnection*>(p->data);
  if (c->closing_) return;
  if (status < 0) {
    // libuv reports POLLERR as UV_EBADF: the socket's own error says what
    // happened (ECONNREFUSED, ECONNRESET, ETIMEDOUT, ...).
    int err = 0;
    socklen_t len = sizeof err;
    if (::getsockopt(c->fd_, SOL_SOCKET, SO_ERROR, &err, &len) == 0 && err) status = -err;
    if (c->lingering_) {  // the codec is done with this connection
      c->close();
      return;
    }
    if (c->connecting_) {
      c->connecting_ = false;
      c->on_connected(status);
    } else {
      c->on_read_error(status);
    }
    return;
  }
  if (c->connecting_ && (events & UV_WRITABLE)) {
    int err = 0;
    socklen_t len = sizeof err;
    ::getsockopt(c->fd_, SOL_SOCKET, SO_ERROR, &err, &len);
    c->connecting_ = false;
    c->update_poll();
    c->on_connected(err ? -err : 0);
    return;
  }
  if (events & UV_WRITABLE) {
    if (c->read_wants_write_) {
      // A transport's read (a TLS handshake flight) waited for room.
      c->read_wants_write_ = false;
      if (c->pending_bytes() == 0 && c->want_write_) {
        c->want_write_ = false;
        c->update_poll();
      }
      if (c->reading_) c->do_read();
      if (c->closing_) return;
    }
    c->do_write();
    if (c->closing_) return;
  }
  if ((events & (UV_READABLE | UV_DISCONNECT)) && c->reading_) c->do_read();
}

void TcpConnection::do_read() {
  if (lingering_) {
    linger_read();
    return;
  }
  const uv_buf_t buf = worker_.read_buffer();
  if (transport_) {
    transport_read(buf);
    return;
  }
  for (int i = 0; i < kReadsPerWakeup && reading_ && !closing_; i++) {
    ssize_t n = ::read(fd_, buf.base, buf.len);
    if (n > 0) {
      on_data(buf.base, static_cast<size_t>(n));
      if (static_cast<size_t>(n) < buf.len) return;
      continue;
    }
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) return;
    const int err = n == 0 ? UV_EOF : -errno;
    stop_reading();
    on_read_error(err);
    return;
  }
}

void TcpConnection::transport_read(const uv_buf_t& buf) {
  for (int i = 0; i < kReadsPerWakeup && reading_ && !closing_; i++) {
    const ssize_t n = transport_->read(fd_, buf.base, buf.len);
    if (n > 0) {
      on_data(buf.base, static_cast<size_t>(n));
      // Bytes the transport holds (read ahead, decrypted) wake no poll.
      if (static_cast<size_t>(n) < buf.len && !(transport_ && transport_->has_pending())) return;
      continue;
    }
    if (n == Transport::kAgain) {
      if (transport_->wants_write()) {
        read_wants_write_ = true;
        if (!want_write_) {
          want_write_ = true;
          update_poll();
        }
      }
      return;
    }
    stop_reading();
    on_read_error(static_cast<int>(n));
    return;
  }
  // Out of turns with bytes still held: come back on the next iteration
  // (the socket may not be readable again to remind us).
  if (transport_ && transport_->has_pending() && reading_ && !closing_)
    worker_.defer([this] {
      if (!closing_ && reading_) do_read();
    });
}

void TcpConnection::start_reading() {
  if (reading_ || closing_) return;
  reading_ = true;
  update_poll();
}

void TcpConnection::stop_reading() {
  if (!reading_) return;
  reading_ = false;
  update_poll();
}

void TcpConnection::write(const char* p, size_t n) {
  if (closing()) return;
  out().append(p, n);
  mark_dirty();
}

void TcpConnection::write_body(const char* p, size_t n) {
  constexpr size_t kDirectWrite = 16 * 1024;
  if (closing()) return;
  if (n < kDirectWrite || connecting_ || want_write_ || fd_ < 0 || transport_) {
    write(p, n);
    return;
  }
  const size_t queued = pending_bytes();
  iovec iov[2];
  int cnt = 0;
  if (queued) iov[cnt++] = {out_->data.data() + out_->off, queued};
  iov[cnt++] = {const_cast<char*>(p), n};
  msghdr msg{};
  msg.msg_iov = iov;
  msg.msg_iovlen = static_cast<size_t>(cnt);
  ssize_t w = ::sendmsg(fd_, &msg, MSG_NOSIGNAL);
  if (w < 0) {
    if (errno != EAGAIN && errno != EINTR) {
      on_write_error(-errno);
      return;
    }
    w = 0;
  }
  size_t done = static_cast<size_t>(w);
  if (done >= queued) {
    // The queue went out; keep the unsent tail of the chunk.
    done -= queued;
    if (out_) {
      out_->data.clear();
      out_->off = 0;
    }
    if (done < n) out().append(p + done, n - done);
  } else {
    out_->off += done;
    out().append(p, n);
  }
  if (pending_bytes() == 0) {
    release_out();
    return;
  }
  // The kernel is full: wait for writable (the flush pass would find
  // nothing new to do).
  if (!want_write_) {
    want_write_ = true;
    update_poll();
  }
}

void TcpConnection::mark_dirty() {
  if (dirty_ || closing()) return;
  dirty_ = true;
  worker_.add_dirty(this);
}

void TcpConnection::flush() {
  dirty_ = false;
  if (closing_ || connecting_ || want_write_) return;  // the writable event will write
  do_write();
}

void TcpConnection::do_write() {
  if (pending_bytes() == 0) {
    // A buffer taken for nothing (an empty last write) goes back now: an
    // idle connection holds none.
    if (out_) release_out();
    if (close_after_flush_) close_flushed();
    return;
  }
  const size_t before = pending_bytes();
  ssize_t n;
  if (transport_) {
    n = transport_->write(fd_, out_->data.data() + out_->off, before);
    if (n < 0 && n != Transport::kAgain) {
      on_write_error(static_cast<int>(n));
      return;
    }
    if (n < 0) n = 0;
  } else {
    n = ::send(fd_, out_->data.data() + out_->off, before, MSG_NOSIGNAL);
    if (n < 0) {
      if (errno != EAGAIN && errno != EINTR) {
        on_write_error(-errno);
        return;
      }
      n = 0;
    }
  }
  out_->off += static_cast<size_t>(n);
  // Only a connection over the watermark pays the call (one compare else).
  if (n > 0 && before > kHighWatermark) on_write_progress();
  if (pending_bytes() == 0) {
    // All out: an idle connection keeps no output memory.
    release_out();
    if (want_write_) {
      want_write_ = false;
      update_poll();
    }
    if (close_after_flush_) {
      close_flushed();
      return;
    }
  } else {
    // The kernel is full: drop what went and wait for writable.
    if (out_->off > out_->data.size() / 2) {
      out_->data.erase(0, out_->off);
      out_->off = 0;
    }
    if (!want_write_) {
      want_write_ = true;
      update_poll();
    }
  }
  if (before > kLowWatermark && pending_bytes() <= kLowWatermark) on_drained();
}

void TcpConnection::close_after_flush() {
  if (lingering_) return;  // already past that: its cap must not restart
  close_after_flush_ = true;
  stop_reading();
  mark_dirty();
}

void TcpConnection::close_flushed() {
  // Everything we meant to send is in the kernel. Bytes the peer sent that
  // we stopped reading (a client still uploading after a 413, a PING after
  // its GOAWAY) would make close() send RST, and an RST can destroy our last
  // response before the peer has read it (a peer whose stack drops its
  // receive queue on RST, or the RST overtaking a lost segment's
  // retransmission).
  if (fd_ >= 0 && !closing_) {
    if (const uint32_t ms = linger_ms()) {
      // Lingering close, as nginx's lingering_close: FIN now, then read and
      // discard until the peer closes too (EOF), it is silent for `ms`, or
      // the worker's total cap runs out (Worker::linger). Only then close:
      // with nothing unread, close() sends FIN's companion, not RST.
      if (transport_) transport_->shutdown(fd_);
      ::shutdown(fd_, SHUT_WR);
      close_after_flush_ = false;
      lingering_ = true;
      worker_.linger(this, ms);
      end_streams();
      if (closing_) return;  // the codec closed it
      reading_ = true;
      update_poll();
      linger_read();  // what is already there (and EOF, often)
      return;
    }
    // Upstream connections: read away what is there (bounded), FIN, close.
    const uv_buf_t buf = worker_.read_buffer();
    for (int i = 0; i < 4; i++) {
      if (::recv(fd_, buf.base, buf.len, MSG_DONTWAIT) <= 0) break;
    }
    if (transport_) transport_->shutdown(fd_);
    ::shutdown(fd_, SHUT_WR);  // FIN after the data, before the close
  }
  close();
}

void TcpConnection::linger_read() {
  const uv_buf_t buf = worker_.read_buffer();
  size_t got = 0;
  for (int i = 0; i < kReadsPerWakeup; i++) {
    const ssize_t n = ::read(fd_, buf.base, buf.len);
    if (n > 0) {
      got += static_cast<size_t>(n);
      continue;
    }
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) break;
    close();  // EOF (the peer closed its side too) or an error: done
    return;
  }
  // Input keeps the linger alive (its idle timer restarts), up to the cap.
  if (got && !worker_.lingered(this)) close();
}

void TcpConnection::close() {
  if (closing_) return;
  closing_ = true;
  reading_ = false;
  if (lingering_) {
    lingering_ = false;
    worker_.unlinger(this);
  }
  if (fd_ < 0) {
    // Never opened: nothing for libuv to close.
    worker_.defer([this] { on_closed(); });
    return;
  }
  uv_poll_stop(&poll_);
  uv_close(reinterpret_cast<uv_handle_t*>(&poll_), on_close_done);
}

// Hand-off: close() without closing the fd (fd_ = -1 before the close
// callback, which closes only an fd it still owns).
int TcpConnection::release_fd() {
  if (closing_ || fd_ < 0) return -1;
  const int fd = fd_;
  close();
  fd_ = -1;
  return fd;
}

void TcpConnection::on_close_done(uv_handle_t* h) {
  auto* c = static_cast<TcpConnection*>(h->data);
  if (c->fd_ >= 0) ::close(c->fd_);
  c->fd_ = -1;
  c->on_closed();
}

}  // namespace moe
