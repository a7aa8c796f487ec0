// A TCP connection owned by one worker: a non-blocking socket we read and
// write ourselves, watched by a uv_poll_t.
//
// Why not uv_tcp_t: an idle keep-alive connection should cost as little as
// possible (the goal is under 0.5 KiB each at 10,000 connections), and a
// uv_tcp_t is 248 bytes plus a heap uv_write_t per queued write; a uv_poll_t
// is 160 and we need nothing else. We also choose the syscalls: one read(2)
// per readiness event (more only if it filled the buffer), one send(2) per
// flush.
//
// Reads: bytes land in the worker's shared read buffer and are parsed inside
// on_data(); nothing is kept unless the codec copies it. An idle connection
// therefore holds no read buffer.
//
// Writes: write() appends to `out_` and puts the connection on the worker's
// dirty list; the worker flushes every dirty connection from a uv_check
// handle after the I/O callbacks of the iteration, so pipelined responses,
// or headers and the first body bytes, go out in one syscall. What the
// kernel does not take stays in out_ and goes when the socket is writable.
// out_ is a buffer from the worker's pool only while bytes wait: an idle
// connection holds a null pointer, not an empty string (8 bytes, not 32+4).
//
// Backpressure: pending_bytes() is everything accepted but not yet written.
// Above kHighWatermark the peer codec stops reading its side; on_drained()
// fires when pending falls below kLowWatermark so it can read again.
//
// Transport (transport/transport.h): null for plain TCP, where the
// syscalls below are made here; TLS puts its own in between (set_transport,
// before the first read). write_body's direct writev is plain TCP's only.
//
// Lifetime: close() stops polling and starts uv_close; on_closed() runs from
// the close callback (a later loop phase) and by default deletes the object.
// Thread: the owning worker only.
#pragma once

#include <sys/socket.h>
#include <uv.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "transport/transport.h"

namespace moe {

class Worker;

// Bytes queued for a socket, from the worker's pool (Worker::take_buffer)
// while they wait to be written.
struct OutBuffer {
  std::string data;
  size_t off = 0;  // bytes of data already written
};

class TcpConnection {
 public:
  static constexpr size_t kHighWatermark = 256 * 1024;
  static constexpr size_t kLowWatermark = 64 * 1024;
  // A server connection's lingering close ends after this long without
  // input from the peer (nginx's lingering_timeout is 5 s too), or after
  // Worker::kLingerTotalMs in all.
  static constexpr uint32_t kServerLingerMs = 5000;

  explicit TcpConnection(Worker& worker);
  TcpConnection(const TcpConnection&) = delete;
  TcpConnection& operator=(const TcpConnection&) = delete;

  Worker& worker() const { return worker_; }
  int fd() const { return fd_; }
  // A lingering connection (see close_flushed) counts as closing: its
  // codec is done with it.
  bool closing() const { return closing_ || lingering_; }
  bool reading() const { return reading_; }

  // Adopts a connected, non-blocking socket (an accepted one).
  int open(int fd);
  // Starts a non-blocking connect; on_connected() reports the result.
  // Returns 0 or a negative errno (then nothing was started).
  int connect(const sockaddr* addr, socklen_t len);
  void start_reading();
  void stop_reading();

  void write(const char* p, size_t n);
  void write(std::string_view s) { write(s.data(), s.size()); }
  // A body chunk: when it is big and the kernel is taking data, it goes out
  // now with whatever is queued before it, in one writev(2), with no copy;
  // only what the kernel does not take is copied into out_. Small chunks
  // are queued like write() so they share a syscall with their neighbours.
  void write_body(const char* p, size_t n);
  // Append directly, then call mark_dirty().
  std::string& out();
  void mark_dirty();
  size_t pending_bytes() const { return out_ ? out_->data.size() - out_->off : 0; }
  bool above_high_watermark() const { return pending_bytes() > kHighWatermark; }
  // Closes the connection once everything queued has been written.
  void close_after_flush();
  void close();
  // Hand-off (HTTP/1 -> HTTP/2 on the same socket): stops polling and closes
  // the poll handle like close(), but leaves the fd open and returns it for
  // a new owner to open(); on_closed() still runs as after close().
  // Returns -1 when already closing. The transport goes with the fd
  // (take_transport, before release_fd).
  int release_fd();
  void set_transport(std::unique_ptr<Transport> t) { transport_ = std::move(t); }
  std::unique_ptr<Transport> take_transport() { return std::move(transport_); }
  const Transport* transport() const { return transport_.get(); }

  // Called by the worker's flush pass.
  void flush();

 protected:
  virtual ~TcpConnection();
  // One read: `p` is valid only during the call.
  virtual void on_data(const char* p, size_t n) = 0;
  // UV_EOF or a negative errno (UV_ECONNRESET...).
  virtual void on_read_error(int err) = 0;
  virtual void on_write_error(int err) { close(); }
  virtual void on_connected(int status) {}
  virtual void on_drained() {}
  // Some bytes went out while the output was above kHighWatermark (the
  // peer reads, however slowly): send timeouts count from the last one.
  virtual void on_write_progress() {}
  virtual void on_closed() { delete this; }
  // Lingering close: after close_after_flush has sent everything, a server
  // connection half-closes and reads away what the peer still sends, for up
  // to this long without input (see close_flushed); 0 = close at once.
  virtual uint32_t linger_ms() const { return 0; }
  // The peer gets nothing more on this connection: the codec ends what it
  // still had going (streams waiting on an upstream, its timers). Called
  // when lingering starts; codecs call it from on_closed too, so it must be
  // safe to call twice.
  virtual void end_streams() {}

  Worker& worker_;

 private:
  static void on_poll(uv_poll_t* p, int status, int events);
  static void on_close_done(uv_handle_t* h);
  void update_poll();
  void do_read();
  void transport_read(const uv_buf_t& buf);  // do_read through transport_
  void do_write();
  void close_flushed();  // close_after_flush: output is out; linger or drain, then close
  void linger_read();    // lingering: read and discard; close at EOF
  void release_out();  // out_ back to the worker's pool

  // Every byte here is paid by every idle client connection (see the
  // memory budget in docs/design/data-path.md): 200 bytes with the vtable
  // pointer, worker_ and the transport pointer.
  uv_poll_t poll_;  // 160: libuv's handle, the price of using its loop
  OutBuffer* out_ = nullptr;  // queued bytes; null when there are none
  std::unique_ptr<Transport> transport_;  // null: plain TCP
  int fd_ = -1;
  uint8_t polled_ : 2 = 0;  // UV_READABLE | UV_WRITABLE as last given to libuv
  bool connecting_ : 1 = false;
  bool want_write_ : 1 = false;  // the kernel was full: wait for writable
  bool dirty_ : 1 = false;
  bool reading_ : 1 = false;
  bool closing_ : 1 = false;
  bool close_after_flush_ : 1 = false;
  bool lingering_ : 1 = false;  // half-closed, discarding input (Worker::linger)
  bool read_wants_write_ : 1 = false;  // the transport's read waits for room to write (a handshake)
};

}  // namespace moe
