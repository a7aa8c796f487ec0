#include "core/tcp_connection.h"

#include "core/worker.h"

namespace moe {

// A write the kernel did not take at once: the bytes move here (no copy, the
// std::string is moved) and stay alive until libuv calls back.
struct TcpConnection::WriteReq {
  uv_write_t req;
  std::string data;
  TcpConnection* conn;
};

TcpConnection::TcpConnection(Worker& worker) : worker_(worker) {
  uv_tcp_init(worker_.loop(), &tcp_);
  tcp_.data = this;
}

TcpConnection::~TcpConnection() {
  if (out_.capacity()) worker_.give_buffer(std::move(out_));
}

int TcpConnection::open(int fd) { return uv_tcp_open(&tcp_, fd); }

void TcpConnection::on_alloc(uv_handle_t* h, size_t, uv_buf_t* buf) {
  auto* c = static_cast<TcpConnection*>(h->data);
  *buf = c->worker_.read_buffer();
}

void TcpConnection::on_read(uv_stream_t* s, ssize_t nread, const uv_buf_t*) {
  auto* c = static_cast<TcpConnection*>(s->data);
  if (nread > 0) {
    c->on_data(c->worker_.read_buffer().base, static_cast<size_t>(nread));
  } else if (nread < 0) {
    c->stop_reading();
    c->on_read_error(static_cast<int>(nread));
  }
}

void TcpConnection::start_reading() {
  if (reading_ || closing_) return;
  reading_ = true;
  uv_read_start(reinterpret_cast<uv_stream_t*>(&tcp_), on_alloc, on_read);
}

void TcpConnection::stop_reading() {
  if (!reading_) return;
  reading_ = false;
  if (!closing_) uv_read_stop(reinterpret_cast<uv_stream_t*>(&tcp_));
}

void TcpConnection::write(const char* p, size_t n) {
  if (closing_) return;
  if (out_.capacity() == 0) out_ = worker_.take_buffer();
  out_.append(p, n);
  mark_dirty();
}

void TcpConnection::mark_dirty() {
  if (dirty_ || closing_) return;
  dirty_ = true;
  worker_.add_dirty(this);
}

void TcpConnection::flush() {
  dirty_ = false;
  if (closing_ || inflight_) return;
  if (out_.empty()) {
    if (close_after_flush_) close();
    return;
  }
  const size_t before = pending_bytes();
  uv_buf_t b = uv_buf_init(out_.data(), static_cast<unsigned>(out_.size()));
  int n = uv_try_write(reinterpret_cast<uv_stream_t*>(&tcp_), &b, 1);
  if (n == static_cast<int>(out_.size())) {
    out_.clear();
    // An idle connection keeps no output memory.
    worker_.give_buffer(std::move(out_));
    out_ = std::string();
    if (close_after_flush_) { close(); return; }
    after_write_progress(before);
    return;
  }
  if (n < 0 && n != UV_EAGAIN) {
    on_write_error(n);
    return;
  }
  if (n > 0) out_.erase(0, static_cast<size_t>(n));
  auto* w = new WriteReq;
  w->data = std::move(out_);
  out_ = std::string();
  w->conn = this;
  inflight_ = true;
  inflight_bytes_ = static_cast<uint32_t>(w->data.size());
  uv_buf_t wb = uv_buf_init(w->data.data(), static_cast<unsigned>(w->data.size()));
  int rc = uv_write(&w->req, reinterpret_cast<uv_stream_t*>(&tcp_), &wb, 1, on_write_done);
  if (rc != 0) {
    inflight_ = false;
    inflight_bytes_ = 0;
    delete w;
    on_write_error(rc);
    return;
  }
  if (n > 0) after_write_progress(before);
}

void TcpConnection::on_write_done(uv_write_t* req, int status) {
  auto* w = reinterpret_cast<WriteReq*>(req);
  TcpConnection* c = w->conn;
  const size_t before = c->pending_bytes();
  c->inflight_ = false;
  c->inflight_bytes_ = 0;
  w->data.clear();
  c->worker_.give_buffer(std::move(w->data));
  delete w;
  if (c->closing_) return;  // the close callback runs after this one
  if (status < 0) {
    c->on_write_error(status);
    return;
  }
  if (!c->out_.empty() || c->close_after_flush_) c->mark_dirty();
  c->after_write_progress(before);
}

void TcpConnection::after_write_progress(size_t before) {
  if (before > kLowWatermark && pending_bytes() <= kLowWatermark) on_drained();
}

void TcpConnection::close_after_flush() {
  close_after_flush_ = true;
  stop_reading();
  mark_dirty();
}

void TcpConnection::close() {
  if (closing_) return;
  closing_ = true;
  reading_ = false;
  uv_close(reinterpret_cast<uv_handle_t*>(&tcp_), on_close_done);
}

void TcpConnection::on_close_done(uv_handle_t* h) {
  static_cast<TcpConnection*>(h->data)->on_closed();
}

}  // namespace moe
