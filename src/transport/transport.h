// What carries a connection's bytes between its socket and its codec.
//
// Plain TCP has no Transport object: TcpConnection makes the read(2) and
// send(2) calls itself, and a connection pays one predictable branch
// (`transport_ == nullptr`) for the seam. A Transport (TLS: transport/tls.h)
// owns the socket's bytes instead: read() returns plaintext, write() takes
// plaintext, and the handshake happens inside them, before the first byte
// of plaintext comes out. The codecs above never know which they have.
//
// Thread: the owning worker, like the connection.
#pragma once

#include <sys/types.h>

#include <cerrno>
#include <cstddef>
#include <cstdint>

namespace moe {

class Transport {
 public:
  // read() and write() results other than a byte count.
  static constexpr ssize_t kAgain = -EAGAIN;  // nothing now: wait for the socket (see wants_write)

  virtual ~Transport() = default;
  // Plaintext from the socket into buf: > 0 bytes; kAgain; UV_EOF when the
  // peer closed; another negative value for an error (the connection is
  // done: a failed handshake, a bad record, a socket error).
  virtual ssize_t read(int fd, char* buf, size_t cap) = 0;
  // Plaintext from p to the socket: the bytes taken (>= 0; fewer than n
  // when the socket is full), or a negative error as read's.
  virtual ssize_t write(int fd, const char* p, size_t n) = 0;
  // Bytes read() could return without the socket being readable (already
  // decrypted, or read ahead): the caller reads again before waiting.
  virtual bool has_pending() const = 0;
  // The last read() or write() returned kAgain because the socket was
  // full (a handshake flight or an alert): poll for writable, then call
  // read() again.
  virtual bool wants_write() const = 0;
  // Before the connection's FIN: tells the peer the stream ends here (TLS
  // close_notify), without blocking.
  virtual void shutdown(int fd) = 0;
  // The error that ended the connection ended its handshake (counted by
  // the codec that saw it: moe_downstream_tls_handshake_failures_total).
  virtual bool handshake_failed() const = 0;
};

}  // namespace moe
