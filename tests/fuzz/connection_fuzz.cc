// libFuzzer harness: a whole client connection, h2c or HTTP/1.1, over a
// real TCP socket to a real moe Worker: the protocol sniff, the frame gate,
// nghttp2's server session and HPACK, llhttp, Stream, routing, limits,
// direct responses, and requests proxied to an upstream over HTTP/1.1 and
// HTTP/2 (the client codecs and the pools), together, as moe runs them.
// The other harnesses fuzz one parser each; this one fuzzes how they meet.
//
// One worker thread runs for the whole process with two listeners: "front"
// (h2c and HTTP/1.1, the fuzzed one) and "up", moe's own upstream (direct
// responses, h1 and h2c), so one loop serves both ends and no other
// process is needed.
//
// An input is one control byte, then the client's bytes:
//   bit 0x40 clear: h2c. The harness sends the client preface itself and
//     the rest is frames, so mutations are not wasted on the preface;
//   bit 0x40 set: HTTP/1.1, the bytes as they are;
//   bit 0x80 set: wait until moe has been quiet for 3 ms before the
//     client's FIN, so proxied responses come back (without it the FIN
//     aborts what is in flight: both ways out are reached);
//   all the bits seed where the bytes are cut into up to 8 writes.
// Then: half-close, read until moe closes. Seeds:
// tests/fuzz/make_connection_seeds.py. CONN_FUZZ_DUMP=1 prints what moe
// answered (h2 frames, or the HTTP/1 bytes) to check that a new seed
// reaches what it means to; CONN_FUZZ_LOG=debug turns moe's log on.
//
// Besides crashes (ASan/UBSan, in the worker thread too), the harness
// checks what moe promises a client: after the client's FIN, moe closes
// the connection within 5 s, whatever the bytes were (no stream or
// connection is left hanging on a client that is gone).
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "config/config.h"
#include "core/listener.h"
#include "core/log.h"
#include "core/worker.h"
#include "spdlog/spdlog.h"

namespace {

[[noreturn]] void fail(const char* what) {
  fprintf(stderr, "connection_fuzz: %s (errno %d: %s)\n", what, errno, strerror(errno));
  abort();
}

// A listening socket on 127.0.0.1, a free port.
int listen_local(uint16_t& port) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  std::string err;
  int fd = moe::make_listen_socket(reinterpret_cast<sockaddr*>(&a), sizeof a, 1024, err);
  if (fd < 0) fail(err.c_str());
  socklen_t len = sizeof a;
  getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  port = ntohs(a.sin_port);
  return fd;
}

// The config: limits small enough for the fuzzer to cross them, timeouts
// short enough that a stalled stream ends within the 5 s a close may take.
std::string config_text(uint16_t front, uint16_t up) {
  const std::string f = std::to_string(front), u = std::to_string(up);
  return "workers: 1\n"
         "log: {level: error, access_log: \"off\"}\n"
         "listeners:\n"
         "  - name: front\n"
         "    address: 127.0.0.1:" + f + "\n"
         "    http2: true\n"
         "    limits: {max_request_headers: 4KiB, max_headers: 32, max_request_body: 64KiB}\n"
         "    timeouts: {request_headers: 1s, idle: 2s}\n"
         "    routes:\n"
         "      - match: {path: /d}\n"
         "        direct_response: {status: 200, headers: {x-d: \"1\"}, body: \"direct\"}\n"
         "      - match: {prefix: /h2}\n"
         "        cluster: up-h2\n"
         "        timeout: 1s\n"
         "      - match: {prefix: /dead}\n"
         "        cluster: dead\n"
         "        timeout: 1s\n"
         "      - match: {prefix: /small}\n"
         "        cluster: up\n"
         "        max_request_body: 8\n"
         "        timeout: 1s\n"
         "      - match: {method: POST}\n"
         "        cluster: up-h2\n"
         "        timeout: 1s\n"
         "      - match: {prefix: /}\n"
         "        cluster: up\n"
         "        timeout: 1s\n"
         "  - name: up\n"
         "    address: 127.0.0.1:" + u + "\n"
         "    http2: true\n"
         "    routes:\n"
         "      - match: {prefix: /}\n"
         "        direct_response: {status: 200, body: \"upstream\"}\n"
         "clusters:\n"
         "  - name: up\n"
         "    endpoints: [127.0.0.1:" + u + "]\n"
         "    protocol: http1\n"
         "  - name: up-h2\n"
         "    endpoints: [127.0.0.1:" + u + "]\n"
         "    protocol: h2c\n"
         "  - name: dead\n"
         "    endpoints: [127.0.0.1:1]\n"
         "    connect_timeout: 250ms\n";
}

struct Server {
  std::vector<std::unique_ptr<moe::ListenerShared>> shared;
  std::unique_ptr<moe::Worker> worker;
  sockaddr_in front{};
};

// Started once, on the first input; runs until the process exits (libFuzzer
// exits without returning, so the worker is never joined).
Server& server() {
  static Server* s = [] {
    auto* s = new Server;
    uint16_t front_port = 0, up_port = 0;
    int front = listen_local(front_port), up = listen_local(up_port);
    moe::config::LoadResult r = moe::config::load_config_text(config_text(front_port, up_port), "connection_fuzz.yaml");
    if (!r.errors.empty()) {
      for (const auto& e : r.errors) fprintf(stderr, "%s\n", e.to_string().c_str());
      fail("config");
    }
    // Refused upstreams, resets: expected by the thousand. CONN_FUZZ_LOG=debug
    // (or any level) shows them.
    const char* level = getenv("CONN_FUZZ_LOG");
    moe::init_logging(level ? level : "error");
    if (!level) spdlog::set_level(spdlog::level::off);
    spdlog::flush_on(spdlog::level::trace);
    for (int i = 0; i < 2; i++) s->shared.push_back(std::make_unique<moe::ListenerShared>());
    std::vector<moe::ListenerSocket> sockets{{0, front, s->shared[0].get()}, {1, up, s->shared[1].get()}};
    s->worker = std::make_unique<moe::Worker>(0, r.config, std::move(sockets), nullptr, std::vector<uint32_t>{});
    s->worker->start();
    s->front.sin_family = AF_INET;
    s->front.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    s->front.sin_port = htons(front_port);
    return s;
  }();
  return *s;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  Server& s = server();
  static const bool log_inputs = getenv("CONN_FUZZ_LOG") != nullptr;
  if (log_inputs) {  // which input the log lines that follow are about
    std::string hex;
    for (size_t i = 0; i < size; i++) hex += "0123456789abcdef"[data[i] >> 4], hex += "0123456789abcdef"[data[i] & 15];
    fprintf(stderr, "connection_fuzz: input %s\n", hex.c_str());
  }
  uint32_t seed = data[0] * 2654435761u + 1;
  const char* p = reinterpret_cast<const char*>(data + 1);
  size_t n = size - 1;

  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) fail("socket");
  // libFuzzer's SIGALRM (its -timeout watchdog) can interrupt a blocking
  // call: a connect then goes on in the background.
  if (::connect(fd, reinterpret_cast<const sockaddr*>(&s.front), sizeof s.front) != 0) {
    int err = errno;
    if (err == EINTR) {
      pollfd pfd{fd, POLLOUT, 0};
      while (::poll(&pfd, 1, 5000) < 0 && errno == EINTR) {
      }
      socklen_t len = sizeof err;
      getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
    }
    if (err != 0) {
      errno = err;
      fail("connect");
    }
  }
  // Closed with an RST at the end, after moe has closed its side: no
  // TIME_WAIT, so a long run does not use up the ephemeral ports.
  linger lg{1, 0};
  setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);

  const bool h2 = !(data[0] & 0x40);
  static constexpr char kPreface[] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
  auto send_all = [fd](const char* b, size_t len) {
    while (len > 0) {
      ssize_t w = ::send(fd, b, len, MSG_NOSIGNAL);
      if (w < 0 && errno == EINTR) continue;
      if (w <= 0) return false;
      b += w;
      len -= static_cast<size_t>(w);
    }
    return true;
  };
  if (h2 && !send_all(kPreface, sizeof kPreface - 1)) fail("send preface");
  // Up to 8 writes; moe may read them in fewer pieces, or more.
  for (int piece = 0; piece < 8 && n > 0; piece++) {
    seed = seed * 1103515245u + 12345u;
    size_t len = piece == 7 ? n : std::min(n, static_cast<size_t>(1 + (seed >> 16) % 64));
    if (!send_all(p, len)) break;  // moe closed or reset it: a verdict, not a finding
    p += len;
    n -= len;
  }
  // What moe answers is read and dropped (kept for CONN_FUZZ_DUMP). read_some
  // waits up to `ms`: 1 = got bytes, 0 = nothing came, -1 = moe closed or
  // reset the connection.
  static const bool dump = getenv("CONN_FUZZ_DUMP") != nullptr;
  std::string got;
  auto read_some = [&](int ms) {
    pollfd pfd{fd, POLLIN, 0};
    if (::poll(&pfd, 1, ms) == 0) return 0;
    char buf[16384];
    ssize_t r = ::recv(fd, buf, sizeof buf, MSG_DONTWAIT);
    if (r < 0 && (errno == EINTR || errno == EAGAIN)) return 1;
    if (r <= 0) return -1;
    if (dump) got.append(buf, static_cast<size_t>(r));
    return 1;
  };

  // The client's FIN ends the connection and everything in flight on it
  // (nghttp2 servers treat EOF as the client gone; moe resets the upstream
  // requests). With the seed byte's top bit set, the harness first waits
  // until moe has been quiet for 3 ms (at most ~300 reads), so proxied
  // responses come back: the fuzzer reaches both ways out.
  int open = 1;
  if (data[0] & 0x80)
    for (int reads = 0; reads < 300 && (open = read_some(3)) == 1; reads++) {
    }
  if (open >= 0) {
    ::shutdown(fd, SHUT_WR);
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    for (;;) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) fail("moe did not close the connection within 5 s of the client's FIN");
      if (read_some(static_cast<int>(left.count())) < 0) break;
    }
  }
  if (dump && !h2) fprintf(stderr, "%s\n", got.c_str());
  if (dump && h2) {
    for (size_t at = 0; at + 9 <= got.size();) {
      auto b = [&](size_t i) { return static_cast<uint8_t>(got[at + i]); };
      const uint32_t len = b(0) << 16 | b(1) << 8 | b(2);
      const uint32_t sid = (b(5) & 0x7fu) << 24 | b(6) << 16 | b(7) << 8 | b(8);
      fprintf(stderr, "frame type %u flags 0x%02x stream %u length %u", b(3), b(4), sid, len);
      if (b(3) == 7 && len >= 8 && at + 9 + len <= got.size())  // GOAWAY: error code, debug text
        fprintf(stderr, " error %u \"%.*s\"", b(13) << 24 | b(14) << 16 | b(15) << 8 | b(16),
                static_cast<int>(len - 8), got.data() + at + 17);
      if (b(3) == 3 && len == 4 && at + 13 <= got.size())  // RST_STREAM: error code
        fprintf(stderr, " error %u", b(9) << 24 | b(10) << 16 | b(11) << 8 | b(12));
      fprintf(stderr, "\n");
      at += 9 + len;
    }
  }
  ::close(fd);
  return 0;
}
