#include "upstream_tap.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace fuzz {

namespace {

constexpr std::string_view kPreface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
constexpr uint8_t kHeaders = 1, kContinuation = 9;
constexpr uint8_t kEndHeaders = 0x4, kPadded = 0x8, kPriority = 0x20;

[[noreturn]] void fail(const char* what) {
  fprintf(stderr, "connection_fuzz: upstream tap: %s (errno %d: %s)\n", what, errno, strerror(errno));
  abort();
}

void no_time_wait(int fd) {
  linger lg{1, 0};
  setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
}

sockaddr_in loopback(uint16_t port) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(port);
  return a;
}

}  // namespace

ForwardedRequests::ForwardedRequests(UpstreamProtocol protocol, TargetOracle oracle)
    : protocol_(protocol), oracle_(oracle) {
  if (protocol_ == UpstreamProtocol::http1) {
    llhttp_settings_init(&settings_);
    settings_.on_message_begin = on_message_begin;
    settings_.on_url = on_url;
    settings_.on_headers_complete = on_headers_complete;
    llhttp_init(&parser_, HTTP_REQUEST, &settings_);
    parser_.data = this;
  } else if (nghttp2_hd_inflate_new(&inflater_) != 0) {
    fail("nghttp2_hd_inflate_new");
  }
}

ForwardedRequests::~ForwardedRequests() {
  if (inflater_) nghttp2_hd_inflate_del(inflater_);
}

void ForwardedRequests::feed(const char* p, size_t n) {
  if (dead_ || n == 0) return;
  if (protocol_ == UpstreamProtocol::http1) return feed_h1(p, n);
  in_.append(p, n);
  feed_h2();
}

int ForwardedRequests::on_message_begin(llhttp_t* p) {
  static_cast<ForwardedRequests*>(p->data)->url_.clear();
  return 0;
}

int ForwardedRequests::on_url(llhttp_t* p, const char* at, size_t n) {
  static_cast<ForwardedRequests*>(p->data)->url_.append(at, n);
  return 0;
}

int ForwardedRequests::on_headers_complete(llhttp_t* p) {
  auto* self = static_cast<ForwardedRequests*>(p->data);
  if (p->method != HTTP_CONNECT) self->oracle_(self->url_);
  return 0;
}

void ForwardedRequests::feed_h1(const char* p, size_t n) {
  while (n > 0) {
    const llhttp_errno_t err = llhttp_execute(&parser_, p, n);
    if (err == HPE_OK) return;
    if (err != HPE_PAUSED_UPGRADE || parser_.method == HTTP_CONNECT) {
      dead_ = true;
      return;
    }
    // Upgrade asked for: moe's "up" answers it with a 200 (no tunnel), so
    // what moe sends next on the connection is another request.
    const char* at = llhttp_get_error_pos(&parser_);
    llhttp_resume_after_upgrade(&parser_);
    n -= static_cast<size_t>(at - p);
    p = at;
  }
}

void ForwardedRequests::feed_h2() {
  size_t at = 0;
  if (preface_left_ > 0) {
    const size_t k = std::min(preface_left_, in_.size());
    if (in_.compare(0, k, kPreface.substr(kPreface.size() - preface_left_, k)) != 0) {
      dead_ = true;
      return;
    }
    preface_left_ -= k;
    at = k;
  }
  while (!dead_ && at + 9 <= in_.size()) {
    auto b = [&](size_t i) { return static_cast<uint8_t>(in_[at + i]); };
    const size_t len = static_cast<size_t>(b(0)) << 16 | static_cast<size_t>(b(1)) << 8 | b(2);
    if (at + 9 + len > in_.size()) break;
    const uint8_t type = b(3), flags = b(4);
    std::string_view payload(in_.data() + at + 9, len);
    at += 9 + len;
    if (type == kHeaders) {
      size_t skip = 0, pad = 0;
      if (flags & kPadded) {
        if (payload.empty()) return void(dead_ = true);
        pad = static_cast<uint8_t>(payload[0]);
        skip = 1;
      }
      if (flags & kPriority) skip += 5;
      if (skip + pad > payload.size()) return void(dead_ = true);
      block_.assign(payload.substr(skip, payload.size() - skip - pad));
    } else if (type == kContinuation) {
      block_.append(payload);
    } else {
      continue;
    }
    if (flags & kEndHeaders) end_h2_block();
  }
  in_.erase(0, at);
}

// Every block is decoded, trailers too, so the decoder's dynamic table
// follows the encoder's.
void ForwardedRequests::end_h2_block() {
  auto* in = reinterpret_cast<uint8_t*>(block_.data());
  size_t left = block_.size();
  for (;;) {
    nghttp2_nv nv;
    int flags = 0;
    const ssize_t rv = nghttp2_hd_inflate_hd2(inflater_, &nv, &flags, in, left, 1);
    if (rv < 0) return void(dead_ = true);
    in += rv;
    left -= static_cast<size_t>(rv);
    if ((flags & NGHTTP2_HD_INFLATE_EMIT) &&
        std::string_view(reinterpret_cast<const char*>(nv.name), nv.namelen) == ":path")
      oracle_(std::string_view(reinterpret_cast<const char*>(nv.value), nv.valuelen));
    if (flags & NGHTTP2_HD_INFLATE_FINAL) break;
    if (!(flags & NGHTTP2_HD_INFLATE_EMIT) && left == 0) break;
  }
  nghttp2_hd_inflate_end_headers(inflater_);
  block_.clear();
}

// One relayed connection: `down` is moe's (its upstream connection), `up`
// the one to moe's "up" listener.
struct UpstreamTap::Conn {
  struct End {
    int fd = -1;
    bool eof = false;      // read EOF from this end
    bool shut = false;     // sent it our FIN (its peer's EOF, passed on)
    std::string pending;   // bytes for this end, not yet written
  };
  End down, up;
  ForwardedRequests requests;
  bool closed = false;
  Conn(UpstreamProtocol protocol, TargetOracle oracle) : requests(protocol, oracle) {}
};

UpstreamTap::UpstreamTap(uint16_t to_port, TargetOracle oracle) : to_port_(to_port), oracle_(oracle) {}

UpstreamTap::~UpstreamTap() = default;

uint16_t UpstreamTap::listen(UpstreamProtocol protocol) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) fail("socket");
  sockaddr_in a = loopback(0);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || ::listen(fd, 1024) != 0) fail("bind/listen");
  socklen_t len = sizeof a;
  getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  listeners_.emplace_back(fd, protocol);
  return ntohs(a.sin_port);
}

void UpstreamTap::start() {
  thread_ = std::thread([this] { run(); });
  thread_.detach();
}

void UpstreamTap::accept_from(int listen_fd, UpstreamProtocol protocol) {
  for (;;) {
    int d = ::accept4(listen_fd, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
    if (d < 0) return;
    // Non-blocking connect: moe's worker accepts it on its loop; until it
    // is established, writes wait (EAGAIN) and a failure closes both.
    int u = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (u < 0) fail("socket");
    no_time_wait(d);
    no_time_wait(u);
    sockaddr_in to = loopback(to_port_);
    if (::connect(u, reinterpret_cast<sockaddr*>(&to), sizeof to) != 0 && errno != EINPROGRESS) {
      ::close(d);
      ::close(u);
      continue;
    }
    auto c = std::make_unique<Conn>(protocol, oracle_);
    c->down.fd = d;
    c->up.fd = u;
    conns_.push_back(std::move(c));
  }
}

void UpstreamTap::run() {
  std::vector<pollfd> pfds;
  char buf[65536];
  for (;;) {
    pfds.clear();
    for (auto& [fd, protocol] : listeners_) pfds.push_back({fd, POLLIN, 0});
    for (auto& c : conns_) {
      // Read an end only when what it sent before has been written on.
      // An end done both ways (its EOF read, ours sent) is left out: poll
      // would report its POLLHUP on every round.
      auto entry = [](const Conn::End& self, const Conn::End& other) {
        short e = 0;
        if (!self.eof && other.pending.empty()) e |= POLLIN;
        if (!self.pending.empty()) e |= POLLOUT;
        return pollfd{self.eof && self.shut ? -1 : self.fd, e, 0};
      };
      pfds.push_back(entry(c->down, c->up));
      pfds.push_back(entry(c->up, c->down));
    }
    if (::poll(pfds.data(), pfds.size(), -1) < 0) {
      if (errno == EINTR) continue;
      fail("poll");
    }
    size_t i = 0;
    for (; i < listeners_.size(); i++)
      if (pfds[i].revents & POLLIN) accept_from(listeners_[i].first, listeners_[i].second);
    const size_t polled = (pfds.size() - listeners_.size()) / 2;  // accepted ones come next round
    for (size_t k = 0; k < polled; k++) {
      Conn& c = *conns_[k];
      const short rev[2] = {pfds[i + 2 * k].revents, pfds[i + 2 * k + 1].revents};
      Conn::End* ends[2] = {&c.down, &c.up};
      for (int side = 0; side < 2 && !c.closed; side++) {
        Conn::End& self = *ends[side];
        Conn::End& other = *ends[1 - side];
        if (rev[side] & (POLLIN | POLLHUP | POLLERR)) {
          if (!self.eof && other.pending.empty()) {
            const ssize_t r = ::recv(self.fd, buf, sizeof buf, 0);
            if (r > 0) {
              if (side == 0) c.requests.feed(buf, static_cast<size_t>(r));
              other.pending.append(buf, static_cast<size_t>(r));
            } else if (r == 0) {
              self.eof = true;
            } else if (errno != EAGAIN && errno != EINTR) {
              c.closed = true;
            }
          } else if (rev[side] & POLLERR) {
            c.closed = true;
          }
        }
        if (c.closed) break;
        // Write what is waiting for the other end now (most often all of
        // it), and pass an EOF on once nothing is left before it.
        if (!other.pending.empty()) {
          const ssize_t w = ::send(other.fd, other.pending.data(), other.pending.size(), MSG_NOSIGNAL);
          if (w > 0) {
            other.pending.erase(0, static_cast<size_t>(w));
          } else if (w < 0 && errno != EAGAIN && errno != EINTR) {
            c.closed = true;
            break;
          }
        }
        if (self.eof && other.pending.empty() && !other.shut) {
          ::shutdown(other.fd, SHUT_WR);
          other.shut = true;
        }
      }
      if (c.down.eof && c.up.eof && c.down.shut && c.up.shut) c.closed = true;
    }
    for (size_t k = 0; k < conns_.size();) {
      if (!conns_[k]->closed) {
        k++;
        continue;
      }
      ::close(conns_[k]->down.fd);
      ::close(conns_[k]->up.fd);
      conns_[k] = std::move(conns_.back());
      conns_.pop_back();
    }
  }
}

}  // namespace fuzz
