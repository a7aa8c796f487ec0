// libFuzzer harness: a whole client connection, h2c or HTTP/1.1, over a
// real TCP socket to a real moe Worker: the protocol sniff, the frame gate,
// nghttp2's server session and HPACK, llhttp, Stream, routing, limits,
// direct responses, and requests proxied to an upstream over HTTP/1.1 and
// HTTP/2 (the client codecs and the pools), together, as moe runs them.
// The other harnesses fuzz one parser each; this one fuzzes how they meet.
//
// One worker thread runs for the whole process with three listeners:
// "front" (h2c and HTTP/1.1, the fuzzed one), "hpack" (fuzzed too, with
// large header limits) and "up", moe's own upstream (direct responses, h1
// and h2c), so one loop serves both ends and no other process is needed;
// moe reaches "up" through a relay of the harness's (UpstreamTap, a thread
// of its own), which reads what moe forwards. The harness itself is a
// fuzzed upstream.
//
// An input is one control byte, then the client's bytes:
//   bit 0x40 clear: h2c. The harness sends the client preface itself and
//     the rest is frames, so mutations are not wasted on the preface;
//   bit 0x40 set: HTTP/1.1, the bytes as they are;
//   bit 0x80 set: wait until moe has been quiet for 3 ms before the
//     client's FIN, so proxied responses come back (without it the FIN
//     aborts what is in flight: both ways out are reached);
//   bit 0x20 set: the bytes are the upstream's instead. The client sends a
//     fixed GET routed to a cluster whose endpoint is the harness, which
//     accepts moe's connection and answers with the bytes (HTTP/1.1, or
//     h2c frames when bit 0x10 is set too), then sends its FIN: moe's
//     response parsing, framing and relaying to either client protocol;
//     with bit 0x08 too, over HTTP/1.1, the client's GET asks for a
//     WebSocket Upgrade and a second request follows it at once: moe must
//     not send that one upstream before the upstream has answered (an
//     oracle, checked on what the harness read before its answer);
//   bit 0x10 set without 0x20: the client connects to "hpack" instead of
//     "front": its header limits are 16 times front's (64 KiB), so a block
//     may decode to 128 KiB and the per-connection HPACK credit, not the
//     per-block cap, is what stops a bomb;
//   all the bits seed where the bytes are cut into up to 8 writes.
// Then: half-close, read until moe closes. Seeds:
// tests/fuzz/make_connection_seeds.py. CONN_FUZZ_DUMP=1 prints what moe
// answered (h2 frames, or the HTTP/1 bytes) to check that a new seed
// reaches what it means to; CONN_FUZZ_LOG=debug turns moe's log on.
//
// Besides crashes (ASan/UBSan, in the worker thread too), the harness
// checks what moe promises a client: after the client's FIN, moe closes
// the connection within 5 s, whatever the bytes were (no stream or
// connection is left hanging on a client that is gone); and HPACK
// expansion stays within its documented bound (docs/security.md, "HPACK
// bombs"; check_hpack_bound): the header bytes moe's nghttp2 session
// decoded for the connection (the listener's h2_header_bytes_decoded, name
// + value + 32 per field) against the bytes the harness sent and the
// HEADERS frames in them. And nothing reaches an upstream that the routes
// did not send there (check_routed): front's first route denies /private
// with a 403, and each request-target moe sends an upstream is read off
// the wire (by the tap on the way to "up", and from what the harness's own
// upstream was sent); one whose path starts with /private, as sent or as an
// upstream may read it (upstream_reading: escapes, backslashes, dot
// segments and "//" resolved here, not by moe's normaliser), is a finding.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cctype>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.h"
#include "core/listener.h"
#include "core/log.h"
#include "core/worker.h"
#include "http2/h2_client_connection.h"
#include "proxy/stream.h"
#include "server/http_acceptor.h"
#include "fuzz_socket.h"
#include "upstream_tap.h"
#include "spdlog/spdlog.h"

namespace {

using fuzz::drain_until_closed;
using fuzz::no_time_wait;
using fuzz::recv_some;
using fuzz::send_all;
using fuzz::send_cut;

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
// The clusters "up" and "up-h2" reach moe's "up" listener through the tap's
// two listeners (tap_h1, tap_h2). front's path_normalization is spelt out
// (the defaults): upstream_reading assumes it.
std::string config_text(uint16_t front, uint16_t hpack, uint16_t up, uint16_t fz, uint16_t tap_h1,
                        uint16_t tap_h2) {
  const std::string f = std::to_string(front), h = std::to_string(hpack), u = std::to_string(up),
                    z = std::to_string(fz), t1 = std::to_string(tap_h1), t2 = std::to_string(tap_h2);
  return "workers: 1\n"
         "log: {level: error, access_log: \"off\"}\n"
         "listeners:\n"
         "  - name: front\n"
         "    address: 127.0.0.1:" + f + "\n"
         "    http2: true\n"
         "    limits: {max_request_headers: 4KiB, max_headers: 32, max_request_body: 64KiB}\n"
         "    timeouts: {request_headers: 1s, idle: 2s}\n"
         "    path_normalization: {normalize: true, merge_slashes: true, escaped_slashes: reject}\n"
         "    routes:\n"
         "      - match: {prefix: /private}\n"
         "        direct_response: {status: 403, body: \"denied\"}\n"
         "      - match: {prefix: /fz1}\n"
         "        cluster: fz-h1\n"
         "        timeout: 1s\n"
         "      - match: {prefix: /fz2}\n"
         "        cluster: fz-h2\n"
         "        timeout: 1s\n"
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
         "  - name: hpack\n"
         "    address: 127.0.0.1:" + h + "\n"
         "    http2: true\n"
         "    limits: {max_request_headers: 64KiB, max_headers: 100}\n"
         "    timeouts: {request_headers: 1s, idle: 2s}\n"
         "    routes:\n"
         "      - match: {prefix: /}\n"
         "        direct_response: {status: 204}\n"
         "  - name: up\n"
         "    address: 127.0.0.1:" + u + "\n"
         "    http2: true\n"
         "    routes:\n"
         "      - match: {prefix: /}\n"
         "        direct_response: {status: 200, body: \"upstream\"}\n"
         "clusters:\n"
         "  - name: up\n"
         "    endpoints: [127.0.0.1:" + t1 + "]\n"
         "    protocol: http1\n"
         "  - name: up-h2\n"
         "    endpoints: [127.0.0.1:" + t2 + "]\n"
         "    protocol: h2c\n"
         "  - name: dead\n"
         "    endpoints: [127.0.0.1:1]\n"
         "    connect_timeout: 250ms\n"
         "  - name: fz-h1\n"
         "    endpoints: [127.0.0.1:" + z + "]\n"
         "    protocol: http1\n"
         "    connect_timeout: 250ms\n"
         "  - name: fz-h2\n"
         "    endpoints: [127.0.0.1:" + z + "]\n"
         "    protocol: h2c\n"
         "    connect_timeout: 250ms\n";
}

// The fuzzed listeners' indexes in the config (and in the worker's Stats).
constexpr int kFront = 0, kHpack = 1;

// The deny route's prefix (config_text): moe answers a request for it 403,
// however the client spells the path, and never sends it upstream.
constexpr std::string_view kDenied = "/private";

bool unreserved(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '.' || c == '_' || c == '~';
}

int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

bool starts_with_nocase(std::string_view s, std::string_view prefix) {
  if (s.size() < prefix.size()) return false;
  for (size_t i = 0; i < prefix.size(); i++)
    if (std::tolower(static_cast<unsigned char>(s[i])) != prefix[i]) return false;
  return true;
}

// The path an upstream may read in a request-target, worked out here, not
// by moe's normaliser (an oracle that reused the code under test could not
// find its bugs). An absolute-form target's path begins after its
// authority; the path ends at '?' or '#'; a %XX that encodes an unreserved
// character, '/' or '\' is decoded, once; '\' is '/'; then "." and ".."
// segments are resolved (".." never above the root) and empty segments
// dropped: after the dot segments (RFC 3986 5.2.4, as moe does: "/a//../b"
// is "/a/b"), or before them with `merge_first` (as nginx does: "/b").
// front's path_normalization (normalize, merge_slashes, escaped_slashes:
// reject) makes every path moe forwards one that both readings leave as it
// is, so for a correct moe they are the path itself. Case is kept (a
// case-insensitive upstream is not covered, docs/configuration.md). Empty
// for a target that is neither origin- nor absolute-form ("*", CONNECT's).
std::string upstream_reading(std::string_view target, bool merge_first) {
  std::string_view path = target;
  if (starts_with_nocase(path, "http://") || starts_with_nocase(path, "https://")) {
    const size_t authority = path.find("//") + 2;
    const size_t slash = path.find('/', authority);
    path = slash == std::string_view::npos ? "/" : path.substr(slash);
  }
  if (path.empty() || path[0] != '/') return {};
  path = path.substr(0, path.find_first_of("?#"));
  std::string decoded;
  for (size_t i = 0; i < path.size(); i++) {
    char c = path[i];
    if (c == '%' && i + 2 < path.size() && hex_digit(path[i + 1]) >= 0 && hex_digit(path[i + 2]) >= 0) {
      const char d = static_cast<char>(hex_digit(path[i + 1]) * 16 + hex_digit(path[i + 2]));
      if (unreserved(d) || d == '/' || d == '\\') {
        c = d;
        i += 2;
      }
    }
    decoded += c == '\\' ? '/' : c;
  }
  std::vector<std::string_view> segments;
  const std::string_view d = decoded;
  for (size_t at = 1; at <= d.size();) {
    size_t end = d.find('/', at);
    if (end == std::string_view::npos) end = d.size();
    const std::string_view seg = d.substr(at, end - at);
    at = end + 1;
    if (seg == "." || (merge_first && seg.empty())) continue;
    if (seg == "..") {
      if (!segments.empty()) segments.pop_back();
      continue;
    }
    segments.push_back(seg);
  }
  std::string out;
  for (std::string_view seg : segments)
    if (!seg.empty()) out.append("/").append(seg);
  return out.empty() ? "/" : out;
}

// A target for a finding's message: printable ASCII as it is, the rest as
// \xNN, cut at 200 bytes.
std::string printable(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size() && i < 200; i++) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c >= 0x20 && c < 0x7f) {
      out += static_cast<char>(c);
    } else {
      out += "\\x";
      out += "0123456789abcdef"[c >> 4];
      out += "0123456789abcdef"[c & 15];
    }
  }
  return out;
}

// The oracle for every request-target moe sent an upstream (the tap's, and
// the harness's own upstream's). The routes match the normalised path and
// moe forwards that path, so the bytes themselves must not start with the
// denied prefix (else the router, or what moe forwards in place of what it
// matched, is wrong); and neither may an upstream's reading of them (else
// the normaliser let a spelling of /private through as something else).
void check_routed(std::string_view target) {
  const std::string_view path = target.substr(0, target.find_first_of("?#"));
  if (path.substr(0, kDenied.size()) == kDenied) {
    fprintf(stderr, "connection_fuzz: \"%s\" reached an upstream: the deny route for %s should have answered it\n",
            printable(target).c_str(), std::string(kDenied).c_str());
    abort();
  }
  for (bool merge_first : {false, true}) {
    const std::string read = upstream_reading(target, merge_first);
    if (read.substr(0, kDenied.size()) == kDenied) {
      fprintf(stderr,
              "connection_fuzz: \"%s\" reached an upstream, which reads it as \"%s\" (%s): a spelling of %s "
              "went past the deny route\n",
              printable(target).c_str(), printable(read).c_str(),
              merge_first ? "slashes merged first" : "dot segments first", std::string(kDenied).c_str());
      abort();
    }
  }
}

// check_routed on the requests in `bytes`, all that moe sent on one
// connection to the harness's own upstream (h2c if it begins with the
// preface, else HTTP/1.1).
void check_forwarded(std::string_view bytes) {
  static constexpr std::string_view kPreface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
  const bool h2 = kPreface.substr(0, bytes.size()) == bytes.substr(0, kPreface.size());
  fuzz::ForwardedRequests requests(h2 ? fuzz::UpstreamProtocol::h2c : fuzz::UpstreamProtocol::http1, check_routed);
  requests.feed(bytes.data(), bytes.size());
}

// One request through each upstream cluster (up over HTTP/1.1, up-h2 over
// h2c), answered, before the first input: a request moe forwards for the
// first time in the process takes longer than the 3 ms of quiet the harness
// waits for, and the client's FIN then ends it before moe sent it on. So a
// seed or a finding run alone reaches the upstream (and the oracle) as it
// does in a long run, where the pools are warm.
void warm_up(const sockaddr_in& front) {
  for (const char* req : {"GET /warm HTTP/1.1\r\nHost: fuzz\r\nConnection: close\r\n\r\n",
                          "GET /h2/warm HTTP/1.1\r\nHost: fuzz\r\nConnection: close\r\n\r\n"}) {
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || fuzz::connect_to(fd, reinterpret_cast<const sockaddr*>(&front), sizeof front) != 0)
      fail("warm-up connect");
    no_time_wait(fd);
    std::string got;
    if (!send_all(fd, req, strlen(req)) || !drain_until_closed(fd, 5000, &got) || got.find(" 200 ") == std::string::npos)
      fail("warm-up request (the upstreams are not reached)");
    ::close(fd);
  }
}

struct Server {
  std::vector<std::unique_ptr<moe::ListenerShared>> shared;
  std::unique_ptr<fuzz::UpstreamTap> tap;
  std::unique_ptr<moe::Worker> worker;
  sockaddr_in front{}, hpack{};
  int fz = -1;  // the fuzzed upstream's listening socket (non-blocking; the harness accepts)
};

// Started once, on the first input; runs until the process exits (libFuzzer
// exits without returning, so the worker is never joined).
Server& server() {
  static Server* s = [] {
    auto* s = new Server;
    uint16_t front_port = 0, hpack_port = 0, up_port = 0, fz_port = 0;
    int front = listen_local(front_port), hpack = listen_local(hpack_port), up = listen_local(up_port);
    s->fz = listen_local(fz_port);
    s->tap = std::make_unique<fuzz::UpstreamTap>(up_port, check_routed);
    const uint16_t tap_h1 = s->tap->listen(fuzz::UpstreamProtocol::http1);
    const uint16_t tap_h2 = s->tap->listen(fuzz::UpstreamProtocol::h2c);
    s->tap->start();
    moe::config::LoadResult r = moe::config::load_config_text(
        config_text(front_port, hpack_port, up_port, fz_port, tap_h1, tap_h2), "connection_fuzz.yaml");
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
    for (int i = 0; i < 3; i++) s->shared.push_back(std::make_unique<moe::ListenerShared>());
    std::vector<moe::ListenerSocket> sockets{
        {kFront, front, s->shared[0].get()}, {kHpack, hpack, s->shared[1].get()}, {2, up, s->shared[2].get()}};
    s->worker = std::make_unique<moe::Worker>(0, r.config, std::move(sockets), nullptr);
    s->worker->set_streams(std::make_unique<moe::ProxyStreams>(*s->worker, nullptr));  // no Go in fuzz builds
    s->worker->set_acceptor(std::make_unique<moe::HttpAcceptor>());
    s->worker->start();
    s->front.sin_family = s->hpack.sin_family = AF_INET;
    s->front.sin_addr.s_addr = s->hpack.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    s->front.sin_port = htons(front_port);
    s->hpack.sin_port = htons(hpack_port);
    warm_up(s->front);
    return s;
  }();
  return *s;
}

// A literal HPACK field, not indexed, new name (RFC 7541 6.2.2); short
// names and values only.
void hpack_literal(std::string& b, std::string_view n, std::string_view v) {
  b += '\0';
  b += static_cast<char>(n.size());
  b += n;
  b += static_cast<char>(v.size());
  b += v;
}

void h2_frame(std::string& out, uint8_t type, uint8_t flags, uint32_t stream, std::string_view payload) {
  const uint32_t len = static_cast<uint32_t>(payload.size());
  const char hd[9] = {static_cast<char>(len >> 16), static_cast<char>(len >> 8), static_cast<char>(len),
                      static_cast<char>(type), static_cast<char>(flags), static_cast<char>(stream >> 24),
                      static_cast<char>(stream >> 16), static_cast<char>(stream >> 8), static_cast<char>(stream)};
  out.append(hd, 9);
  out.append(payload);
}

// Closes the connections moe made to the harness's own upstream that no one
// answered: requests a fuzzed client sent to /fz1 or /fz2, which wait in the
// listen queue until here (after each input), and moe's retries after an
// input ended. What moe had sent on them goes through the oracle first. The
// socket is non-blocking.
void drop_unanswered(int listen_fd) {
  for (int stale; (stale = ::accept4(listen_fd, nullptr, nullptr, SOCK_CLOEXEC)) >= 0;) {
    no_time_wait(stale);
    std::string sent;
    while (sent.size() < (1u << 20) && recv_some(stale, 0, &sent) == 1) {
    }
    check_forwarded(sent);
    ::close(stale);
  }
}

// Plays the fuzzed upstream: accepts moe's connection, takes what moe sends
// (its request, or its h2 preface, SETTINGS and HEADERS), answers with the
// input's bytes, sends its FIN and waits for moe to close. moe may try
// again on a new connection (a refused stream, a GOAWAY): as many as moe
// tries are answered the same way, so retries run out as they do against
// a broken upstream. No connection within 1 s is not a finding: moe may have
// answered the client itself.
void serve_upstream(int listen_fd, const char* p, size_t n, uint32_t seed, bool no_smuggling) {
  for (int conn = 0; conn <= moe::H2ClientStream::kMaxGoawayRetries; conn++) {
    pollfd pfd{listen_fd, POLLIN, 0};
    int ready;
    while ((ready = ::poll(&pfd, 1, conn == 0 ? 1000 : 5)) < 0 && errno == EINTR) {
    }
    if (ready <= 0) return;
    int u = ::accept4(listen_fd, nullptr, nullptr, SOCK_CLOEXEC);
    if (u < 0) return;
    no_time_wait(u);
    std::string before_answer;
    if (recv_some(u, 50, &before_answer) == 1)
      while (recv_some(u, 1, &before_answer) == 1) {
      }
    // Nothing after an Upgrade head goes upstream before the upstream
    // agreed to the tunnel: bytes read before any answer are moe's choice
    // alone, so this is exact.
    if (no_smuggling && before_answer.find("/smuggled") != std::string::npos)
      fail("moe sent the request behind an Upgrade head upstream before the upstream answered (smuggling)");
    check_forwarded(before_answer);
    send_cut(u, p, n, seed);
    ::shutdown(u, SHUT_WR);
    // moe closes its side on our FIN; if it has not within 2 s, close()'s
    // RST ends the connection (not a finding: the client side's check is
    // what moe promises).
    drain_until_closed(u, 2000, nullptr);
    ::close(u);
  }
}

// The HPACK-expansion bound (docs/security.md, "HPACK bombs"), from the
// outside: `sent` is every byte the client wrote (moe decoded at most
// that), `decoded` what the listener's h2_header_bytes_decoded grew by for
// the connection (name + value + 32 per field nghttp2 handed to moe). The
// numbers are the documented ones, not moe's constants, so a change to
// those is a change to this check. Per connection:
//   credit: max(1 MiB, 16 x max_request_headers) + 128 per byte received
//           + 4 KiB per header block;
//   blocks: per block, twice max_request_headers of names and values and
//           twice max_headers + 16 fields;
// whichever is less, plus the one field that crossed a limit (moe stops
// decoding after it): a table entry (at most the 4 KiB table) or a literal
// (Huffman-coded, at most 8/5 of its bytes, which were sent).
void check_hpack_bound(std::string_view sent, uint64_t decoded, const moe::config::Limits& lim) {
  static constexpr std::string_view kPreface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
  if (decoded == 0) return;
  if (sent.substr(0, kPreface.size()) != kPreface) {
    fprintf(stderr, "connection_fuzz: %llu header bytes decoded on a connection that never sent the h2 preface\n",
            static_cast<unsigned long long>(decoded));
    abort();
  }
  // The frames after the preface, as nghttp2 reads them: a HEADERS frame
  // counts once its type byte is there (an upper bound on the blocks moe
  // began).
  uint64_t blocks = 0;
  for (size_t at = kPreface.size(); at + 4 <= sent.size();) {
    auto b = [&](size_t i) { return static_cast<uint8_t>(sent[at + i]); };
    if (b(3) == 1) blocks++;
    at += 9 + (static_cast<size_t>(b(0)) << 16 | static_cast<size_t>(b(1)) << 8 | b(2));
  }
  const uint64_t received = sent.size();
  const uint64_t credit = std::max<uint64_t>(1 << 20, 16 * lim.max_request_headers) + 128 * received + 4096 * blocks;
  const uint64_t per_block = 2 * lim.max_request_headers + 32 * (2 * uint64_t{lim.max_headers} + 16);
  const uint64_t last_field = 4096 + 2 * received;
  const uint64_t bound = std::min(credit, blocks * per_block) + last_field;
  if (decoded > bound) {
    fprintf(stderr,
            "connection_fuzz: HPACK expansion over its bound: %llu header bytes decoded from %llu bytes received in "
            "%llu HEADERS frames (bound %llu: credit %llu, per-block cap %llu x %llu, plus %llu for the last field)\n",
            static_cast<unsigned long long>(decoded), static_cast<unsigned long long>(received),
            static_cast<unsigned long long>(blocks), static_cast<unsigned long long>(bound),
            static_cast<unsigned long long>(credit), static_cast<unsigned long long>(blocks),
            static_cast<unsigned long long>(per_block), static_cast<unsigned long long>(last_field));
    abort();
  }
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
  const uint8_t ctl = data[0];
  const bool h2 = !(ctl & 0x40);
  const bool fuzz_upstream = ctl & 0x20;
  const int listener = (ctl & 0x30) == 0x10 ? kHpack : kFront;
  const uint32_t seed = ctl * 2654435761u + 1;
  const char* p = reinterpret_cast<const char*>(data + 1);
  const size_t n = size - 1;

  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) fail("socket");
  // libFuzzer's SIGALRM (its -timeout watchdog) can interrupt a blocking
  // call: a connect then goes on in the background.
  const sockaddr_in& to = listener == kHpack ? s.hpack : s.front;
  moe::Counter& decoded = s.worker->stats().listeners[static_cast<size_t>(listener)]->h2_header_bytes_decoded;
  const uint64_t decoded_before = moe::get(decoded);
  if (int err = fuzz::connect_to(fd, reinterpret_cast<const sockaddr*>(&to), sizeof to); err != 0) {
    errno = err;
    fail("connect");
  }
  no_time_wait(fd);

  static constexpr char kPreface[] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
  std::string sent;  // every byte the client wrote, for the HPACK bound
  if (h2 && !send_all(fd, kPreface, sizeof kPreface - 1, &sent)) fail("send preface");
  if (!fuzz_upstream) {
    send_cut(fd, p, n, seed, &sent);
  } else {
    // A fixed GET to the fuzzed upstream (bit 0x10: its cluster speaks
    // h2c), which answers with the input.
    const std::string_view path = (ctl & 0x10) ? "/fz2" : "/fz1";
    std::string req;
    if (h2) {
      std::string block;
      hpack_literal(block, ":method", "GET");
      hpack_literal(block, ":scheme", "http");
      hpack_literal(block, ":authority", "fuzz");
      hpack_literal(block, ":path", path);
      h2_frame(req, 4, 0, 0, {});             // SETTINGS
      h2_frame(req, 1, 0x4 | 0x1, 1, block);  // HEADERS, END_HEADERS | END_STREAM
    } else {
      req.append("GET ").append(path).append(" HTTP/1.1\r\nHost: fuzz\r\n");
      if (ctl & 0x08)
        req.append("Upgrade: websocket\r\nConnection: Upgrade\r\n\r\nGET /fz1/smuggled HTTP/1.1\r\nHost: fuzz\r\n");
      req.append("\r\n");
    }
    // Connections left over from an earlier input (moe retrying a refused
    // stream on a new connection after that client had gone) would take
    // this input's answer: close them first.
    drop_unanswered(s.fz);
    if (!send_all(fd, req.data(), req.size(), &sent)) fail("send request");
    serve_upstream(s.fz, p, n, seed, !h2 && (ctl & 0x08));
  }

  // What moe answers is read and dropped (kept for CONN_FUZZ_DUMP).
  static const bool dump = getenv("CONN_FUZZ_DUMP") != nullptr;
  std::string got;
  std::string* keep = dump ? &got : nullptr;
  // The client's FIN ends the connection and everything in flight on it
  // (nghttp2 servers treat EOF as the client gone; moe resets the upstream
  // requests). With the control byte's top bit set (always, when the
  // upstream is fuzzed), the harness first waits until moe has been quiet
  // for 3 ms (at most ~300 reads), so proxied responses come back: the
  // fuzzer reaches both ways out.
  int open = 1;
  if ((ctl & 0x80) || fuzz_upstream)
    for (int reads = 0; reads < 300 && (open = recv_some(fd, 3, keep)) == 1; reads++) {
    }
  if (open >= 0) {
    ::shutdown(fd, SHUT_WR);
    if (!drain_until_closed(fd, 5000, keep)) fail("moe did not close the connection within 5 s of the client's FIN");
  }
  // moe has closed the connection (or reset it: open < 0), so it decodes
  // nothing more for it, and no other connection reaches this listener.
  check_hpack_bound(sent, moe::get(decoded) - decoded_before,
                    s.worker->config().listeners[static_cast<size_t>(listener)].limits);
  drop_unanswered(s.fz);
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
