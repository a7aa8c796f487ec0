// A TCP connection owned by one worker: the libuv handle, reads through the
// worker's shared read buffer, and an output queue flushed once per loop
// iteration.
//
// Reads: libuv asks the worker for a buffer, the bytes are parsed inside
// on_data(), and nothing is kept unless the codec copies it. An idle
// connection therefore holds no read buffer.
//
// Writes: write() appends to `out_` and puts the connection on the worker's
// dirty list; the worker flushes every dirty connection from a uv_check
// handle after the I/O callbacks of the iteration, so pipelined responses,
// or headers and the first body bytes, go out in one syscall. The flush tries
// uv_try_write first; only what the kernel did not take is handed to
// uv_write, which owns its buffer until the callback.
//
// Backpressure: pending_bytes() is everything accepted but not yet written.
// Above kHighWatermark the peer codec stops reading its side; on_drained()
// fires when pending falls below kLowWatermark so it can read again.
//
// Lifetime: close() starts uv_close; on_closed() runs from the close callback
// (a later loop phase) and by default deletes the object.
// Thread: the owning worker only.
#pragma once

#include <uv.h>

#include <cstddef>
#include <string>

namespace moe {

class Worker;

class TcpConnection {
 public:
  static constexpr size_t kHighWatermark = 256 * 1024;
  static constexpr size_t kLowWatermark = 64 * 1024;

  explicit TcpConnection(Worker& worker);
  TcpConnection(const TcpConnection&) = delete;
  TcpConnection& operator=(const TcpConnection&) = delete;

  Worker& worker() const { return worker_; }
  uv_tcp_t* handle() { return &tcp_; }
  bool closing() const { return closing_; }
  bool reading() const { return reading_; }

  // Adopts an accepted socket (server side). Returns a libuv error or 0.
  int open(int fd);
  void start_reading();
  void stop_reading();

  void write(const char* p, size_t n);
  void write(std::string_view s) { write(s.data(), s.size()); }
  std::string& out() { return out_; }  // append directly, then call mark_dirty()
  void mark_dirty();
  size_t pending_bytes() const { return out_.size() + inflight_bytes_; }
  bool above_high_watermark() const { return pending_bytes() > kHighWatermark; }
  // Closes the connection once everything queued has been written.
  void close_after_flush();
  void close();

  // Called by the worker's flush pass.
  void flush();

 protected:
  virtual ~TcpConnection();
  // One read: `p` is valid only during the call.
  virtual void on_data(const char* p, size_t n) = 0;
  // nread < 0: UV_EOF or an error (ECONNRESET...).
  virtual void on_read_error(int err) = 0;
  virtual void on_write_error(int err) { close(); }
  virtual void on_drained() {}
  virtual void on_closed() { delete this; }

  Worker& worker_;
  uv_tcp_t tcp_;

 private:
  struct WriteReq;
  static void on_alloc(uv_handle_t* h, size_t suggested, uv_buf_t* buf);
  static void on_read(uv_stream_t* s, ssize_t nread, const uv_buf_t* buf);
  static void on_write_done(uv_write_t* req, int status);
  static void on_close_done(uv_handle_t* h);
  void after_write_progress(size_t before);

  std::string out_;
  uint32_t inflight_bytes_ = 0;
  bool inflight_ = false;
  bool dirty_ = false;
  bool reading_ = false;
  bool closing_ = false;
  bool close_after_flush_ = false;
  bool in_read_ = false;
};

}  // namespace moe
