// The client side of the socket harnesses (connection_fuzz, admin_fuzz):
// connect, write cut into pieces, read with a bound, close without
// TIME_WAIT. Blocking calls tolerate EINTR from libFuzzer's SIGALRM
// watchdog (its -timeout).
#pragma once

#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <string>

namespace fuzz {

// connect(2) to `to`, finishing one that SIGALRM interrupted (it goes on in
// the background). 0, or the errno.
inline int connect_to(int fd, const sockaddr* to, socklen_t len) {
  if (::connect(fd, to, len) == 0) return 0;
  int err = errno;
  if (err == EINTR) {
    pollfd pfd{fd, POLLOUT, 0};
    while (::poll(&pfd, 1, 5000) < 0 && errno == EINTR) {
    }
    socklen_t l = sizeof err;
    getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &l);
  }
  return err;
}

// Waits up to `ms` for bytes: 1 = got some (appended to `keep` if given),
// 0 = nothing came, -1 = the peer closed or reset the connection.
inline int recv_some(int fd, int ms, std::string* keep) {
  pollfd pfd{fd, POLLIN, 0};
  const int ready = ::poll(&pfd, 1, ms);
  if (ready < 0 && errno == EINTR) return 1;
  if (ready == 0) return 0;
  char buf[16384];
  ssize_t r = ::recv(fd, buf, sizeof buf, MSG_DONTWAIT);
  if (r < 0 && (errno == EINTR || errno == EAGAIN)) return 1;
  if (r <= 0) return -1;
  if (keep) keep->append(buf, static_cast<size_t>(r));
  return 1;
}

// Every byte, or false once the peer has closed or reset the connection (a
// verdict, not a finding). What was written is appended to `sent`, if
// given. While a write would block, what the peer sends is read (into
// `got`, if given), so a peer that answers before it reads on cannot
// deadlock the harness.
inline bool send_all(int fd, const char* b, size_t len, std::string* sent = nullptr, std::string* got = nullptr) {
  while (len > 0) {
    ssize_t w = ::send(fd, b, len, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (w < 0 && errno == EINTR) continue;
    if (w < 0 && errno == EAGAIN) {
      pollfd pfd{fd, POLLIN | POLLOUT, 0};
      if (::poll(&pfd, 1, 1000) > 0 && (pfd.revents & (POLLIN | POLLHUP | POLLERR)) && !(pfd.revents & POLLOUT))
        if (recv_some(fd, 0, got) < 0) return false;
      continue;
    }
    if (w <= 0) return false;
    if (sent) sent->append(b, static_cast<size_t>(w));
    b += w;
    len -= static_cast<size_t>(w);
  }
  return true;
}

// The bytes in up to 8 writes, cut where `seed` says: the peer may read
// them in fewer pieces, or more.
inline bool send_cut(int fd, const char* p, size_t n, uint32_t seed, std::string* sent = nullptr,
                     std::string* got = nullptr) {
  for (int piece = 0; piece < 8 && n > 0; piece++) {
    seed = seed * 1103515245u + 12345u;
    const size_t len = piece == 7 ? n : std::min(n, static_cast<size_t>(1 + (seed >> 16) % 64));
    if (!send_all(fd, p, len, sent, got)) return false;
    p += len;
    n -= len;
  }
  return true;
}

// Reads (into `keep`, if given) until the peer closes or `ms` pass; true if
// it closed.
inline bool drain_until_closed(int fd, int ms, std::string* keep) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(ms);
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return false;
    if (recv_some(fd, static_cast<int>(left.count()), keep) < 0) return true;
  }
}

// Closed with an RST when done: no TIME_WAIT, so a long run does not use up
// the ephemeral ports.
inline void no_time_wait(int fd) {
  linger lg{1, 0};
  setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
}

}  // namespace fuzz
