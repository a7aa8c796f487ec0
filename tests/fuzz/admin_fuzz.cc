// libFuzzer harness: the admin listener (src/admin/admin_server.cc) over a
// real TCP socket, as a client that has no authentication sees it.
//
// One thread runs an AdminServer on its own loop for the whole process, as
// the main thread does in moe, with one Worker beside it (never started:
// /stats reads its counters). Per input: connect, send the bytes in up to 8
// writes, half-close, read until the server closes.
//
// An input is one control byte, then the client's bytes:
//   bit 0x80 set: wait until the server has been quiet for 3 ms before the
//     client's FIN (the answers to pipelined requests come back first;
//     without it the FIN meets requests still being answered);
//   bit 0x40 set: a small receive buffer on the client socket; with bits
//     0x20 and 0x10 too, the client reads nothing for 50 ms after its last
//     write (a client slow to read), and the server's end of the
//     connection gets a 16 KiB send buffer (found in this process's fds;
//     on loopback Linux grows it to 4 MiB, more than a run can fill), so
//     the answers to pipelined requests back up into the server's write
//     queue: its backpressure (it stops parsing, and resumes as the client
//     reads);
//   all the bits seed where the bytes are cut.
// While it sends, the client reads only when its writes would block (a
// client that does not read until it is done, unless it must).
//
// Findings besides ASan/UBSan (in the server's thread too):
//   - the server does not close the connection within 2 s of the client's
//     FIN, or of the last byte it sent after it (answers to requests sent
//     before the FIN may take longer), or within 8 s in all; its own
//     timeouts are longer than 2 s, so they do not hide a server that
//     ignores the FIN;
//   - what it sent is not a sequence of well-formed HTTP/1.1 responses: a
//     status line "HTTP/1.1 NNN reason", header lines with token names and
//     values without CR, LF or NUL, one Content-Length and exactly that many
//     body bytes (none for a HEAD request, whatever the status), nothing
//     after a "connection: close" response, and "connection: close" on the
//     answer to a request that did not ask to keep the connection. Only
//     the last response may be cut short (the server may close on the
//     client's FIN with answers still queued, or reset a connection it
//     stopped reading). Which answer is for which request comes from the
//     harness's own llhttp over the same bytes.
// ADMIN_FUZZ_DUMP=1 prints what the server answered; ADMIN_FUZZ_LOG=debug
// turns moe's log on.
#include <arpa/inet.h>
#include <dirent.h>
#include <llhttp.h>
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
#include <string_view>
#include <thread>
#include <vector>

#include "admin/admin_server.h"
#include "config/config.h"
#include "core/log.h"
#include "core/worker.h"
#include "fuzz_socket.h"
#include "spdlog/spdlog.h"

namespace {

using fuzz::no_time_wait;
using fuzz::recv_some;
using fuzz::send_cut;

[[noreturn]] void fail(const char* what) {
  fprintf(stderr, "admin_fuzz: %s (errno %d: %s)\n", what, errno, strerror(errno));
  abort();
}

std::string g_got;  // what the server sent for the current input (printed on a finding)

[[noreturn]] void finding(const std::string& what) {
  fprintf(stderr, "admin_fuzz: %s\nadmin_fuzz: the server sent %zu bytes:\n%.*s\n", what.c_str(), g_got.size(),
          static_cast<int>(std::min<size_t>(g_got.size(), 4096)), g_got.data());
  abort();
}

// Limits as shipped (the 8 KiB target cap is below max_request_headers, so
// 414 and 431 are both reachable); timeouts longer than the 2 s of quiet
// the harness allows after the FIN, so a server that only closes when a
// timer fires is a finding, and short enough that a run does not stall.
// The listener is never bound: the worker is not started.
constexpr char kConfig[] =
    "workers: 1\n"
    "log: {level: error, access_log: \"off\"}\n"
    "admin:\n"
    "  address: 127.0.0.1:0\n"
    "  allowed_hosts: [admin.test]\n"
    "  max_connections: 8\n"
    "  timeouts: {request_headers: 3s, idle: 4s}\n"
    "listeners:\n"
    "  - name: main\n"
    "    address: 127.0.0.1:1\n"
    "    routes:\n"
    "      - match: {prefix: /}\n"
    "        direct_response: {status: 200, body: \"ok\"}\n";

struct Admin {
  uv_loop_t loop;
  std::vector<std::unique_ptr<moe::Worker>> workers;
  std::unique_ptr<moe::AdminServer> server;
  sockaddr_in addr{};
};

// Started once, on the first input; its thread runs until the process exits.
Admin& admin() {
  static Admin* a = [] {
    auto* a = new Admin;
    moe::config::LoadResult r = moe::config::load_config_text(kConfig, "admin_fuzz.yaml");
    if (!r.errors.empty()) {
      for (const auto& e : r.errors) fprintf(stderr, "%s\n", e.to_string().c_str());
      fail("config");
    }
    const char* level = getenv("ADMIN_FUZZ_LOG");
    moe::init_logging(level ? level : "error");
    if (!level) spdlog::set_level(spdlog::level::off);
    spdlog::flush_on(spdlog::level::trace);
    a->workers.push_back(std::make_unique<moe::Worker>(0, r.config, std::vector<moe::ListenerSocket>{}, nullptr));
    uv_loop_init(&a->loop);
    a->server = std::make_unique<moe::AdminServer>(&a->loop, r.config, a->workers, nullptr, nullptr);
    std::string bound;
    if (int rc = a->server->start(bound); rc != 0) fail(uv_strerror(rc));
    const size_t colon = bound.rfind(':');
    a->addr.sin_family = AF_INET;
    a->addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a->addr.sin_port = htons(static_cast<uint16_t>(atoi(bound.c_str() + colon + 1)));
    std::thread([a] { uv_run(&a->loop, UV_RUN_DEFAULT); }).detach();
    return a;
  }();
  return *a;
}

// ---- the client ---------------------------------------------------------------------------

// ---- what the client asked --------------------------------------------------------------

// The requests in the bytes, as llhttp (strict, like the admin server's)
// reads them: the method once known, and whether the request ended and
// asked to keep the connection.
struct Request {
  int method = -1;
  bool complete = false;
  bool keep_alive = true;
};

std::vector<Request> parse_requests(const char* p, size_t n) {
  std::vector<Request> out;
  static constexpr llhttp_settings_t kSettings = [] {
    llhttp_settings_t s{};
    s.on_message_begin = [](llhttp_t* h) {
      static_cast<std::vector<Request>*>(h->data)->emplace_back();
      return 0;
    };
    s.on_method_complete = [](llhttp_t* h) {
      static_cast<std::vector<Request>*>(h->data)->back().method = llhttp_get_method(h);
      return 0;
    };
    s.on_message_complete = [](llhttp_t* h) {
      Request& r = static_cast<std::vector<Request>*>(h->data)->back();
      r.complete = true;
      r.keep_alive = llhttp_should_keep_alive(h);
      return 0;
    };
    return s;
  }();
  llhttp_t parser;
  llhttp_init(&parser, HTTP_REQUEST, &kSettings);
  parser.data = &out;
  llhttp_execute(&parser, p, n);
  return out;
}

// ---- what the server answered -----------------------------------------------------------

bool is_tchar(unsigned char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
         (c && strchr("!#$%&'*+-.^_`|~", c));
}

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); i++)
    if (tolower(static_cast<unsigned char>(a[i])) != tolower(static_cast<unsigned char>(b[i]))) return false;
  return true;
}

// Checks `got` against the requests (see the top of the file).
void check_responses(std::string_view got, const std::vector<Request>& reqs) {
  static constexpr std::string_view kVersion = "HTTP/1.1 ";
  size_t at = 0;
  for (size_t idx = 0; at < got.size(); idx++) {
    const std::string_view rest = got.substr(at);
    const std::string r = "response " + std::to_string(idx) + " (byte " + std::to_string(at) + "): ";
    // A cut-short head is fine at the very end, if it is one.
    if (rest.size() < kVersion.size() ? kVersion.substr(0, rest.size()) != rest : rest.substr(0, kVersion.size()) != kVersion)
      finding(r + "does not start with \"HTTP/1.1 \"" +
              (idx > 0 && idx - 1 < reqs.size() && reqs[idx - 1].method == HTTP_HEAD
                   ? " (the one before it answered a HEAD request: a body after its head?)"
                   : ""));
    const size_t end = rest.find("\r\n\r\n");
    if (end == std::string_view::npos) return;  // cut short: the last one
    const std::string_view head = rest.substr(0, end + 2);
    size_t eol = head.find("\r\n");
    const std::string_view status_line = head.substr(0, eol);
    if (status_line.size() < 13 || !isdigit(static_cast<unsigned char>(status_line[9])) ||
        !isdigit(static_cast<unsigned char>(status_line[10])) || !isdigit(static_cast<unsigned char>(status_line[11])) ||
        status_line[9] < '1' || status_line[9] > '5' || status_line[12] != ' ')
      finding(r + "a bad status line");
    for (char c : status_line.substr(13))
      if (c != '\t' && (static_cast<unsigned char>(c) < 0x20 || c == 0x7f)) finding(r + "a control byte in the reason phrase");
    const int status = atoi(std::string(status_line.substr(9, 3)).c_str());
    int lengths = 0;
    uint64_t length = 0;
    bool close = false;
    for (size_t line = eol + 2; line < head.size();) {
      eol = head.find("\r\n", line);
      const std::string_view h = head.substr(line, eol - line);
      line = eol + 2;
      const size_t colon = h.find(':');
      if (colon == 0 || colon == std::string_view::npos) finding(r + "a header line without a name and a colon");
      for (char c : h.substr(0, colon))
        if (!is_tchar(static_cast<unsigned char>(c))) finding(r + "a header name that is not a token");
      std::string_view v = h.substr(colon + 1);
      for (char c : v)
        if (c == '\0' || c == '\r' || c == '\n') finding(r + "NUL, CR or LF in a header value");
      while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) v.remove_prefix(1);
      while (!v.empty() && (v.back() == ' ' || v.back() == '\t')) v.remove_suffix(1);
      const std::string_view name = h.substr(0, colon);
      if (iequals(name, "content-length")) {
        lengths++;
        if (v.empty() || v.size() > 15 || v.find_first_not_of("0123456789") != std::string_view::npos)
          finding(r + "a Content-Length that is not a number");
        length = strtoull(std::string(v).c_str(), nullptr, 10);
      } else if (iequals(name, "transfer-encoding")) {
        finding(r + "Transfer-Encoding (the admin server frames with Content-Length)");
      } else if (iequals(name, "connection") && iequals(v, "close")) {
        close = true;
      }
    }
    if (lengths != 1) finding(r + "not exactly one Content-Length");
    const bool no_body = (idx < reqs.size() && reqs[idx].method == HTTP_HEAD) || status < 200 || status == 204 ||
                         status == 304;
    const size_t whole = end + 4 + (no_body ? 0 : length);
    if (idx < reqs.size() && reqs[idx].complete && !reqs[idx].keep_alive && !close)
      finding(r + "no \"connection: close\" on the answer to a request that did not keep the connection");
    if (idx >= reqs.size() && !close) finding(r + "an answer to no request that does not close the connection");
    if (whole > rest.size()) return;  // cut short: the last one
    at += whole;
    if (close && at != got.size())
      finding(r + "bytes after a \"connection: close\" response" +
              (idx < reqs.size() && reqs[idx].method == HTTP_HEAD ? " to a HEAD request (a body?)" : ""));
  }
}

// The server's end of `client` (an fd of this process whose peer is the
// client's address) gets a small send buffer, which also stops Linux from
// growing it. Waits up to 100 ms for the server to accept.
void shrink_server_send_buffer(int client) {
  sockaddr_in me{};
  socklen_t len = sizeof me;
  if (getsockname(client, reinterpret_cast<sockaddr*>(&me), &len) != 0) return;
  for (int tries = 0; tries < 100; tries++) {
    if (DIR* d = opendir("/proc/self/fd")) {
      bool found = false;
      while (dirent* e = readdir(d)) {
        const int fd = atoi(e->d_name);
        sockaddr_in peer{};
        socklen_t plen = sizeof peer;
        if (fd == client || fd <= 2 || getpeername(fd, reinterpret_cast<sockaddr*>(&peer), &plen) != 0) continue;
        if (peer.sin_family != AF_INET || peer.sin_port != me.sin_port || peer.sin_addr.s_addr != me.sin_addr.s_addr)
          continue;
        int small = 16384;
        setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &small, sizeof small);
        found = true;
      }
      closedir(d);
      if (found) return;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
}


}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  Admin& a = admin();
  const uint8_t ctl = data[0];
  const uint32_t seed = ctl * 2654435761u + 1;
  const char* p = reinterpret_cast<const char*>(data + 1);
  const size_t n = size - 1;

  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) fail("socket");
  if (ctl & 0x40) {
    int small = 4096;
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
  }
  if (int err = fuzz::connect_to(fd, reinterpret_cast<const sockaddr*>(&a.addr), sizeof a.addr); err != 0) {
    errno = err;
    fail("connect");
  }
  no_time_wait(fd);
  if ((ctl & 0x70) == 0x70) shrink_server_send_buffer(fd);

  g_got.clear();
  int open = send_cut(fd, p, n, seed, nullptr, &g_got) ? 1 : -1;
  if ((ctl & 0x70) == 0x70 && open == 1) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  if ((ctl & 0x80) && open == 1)
    for (int reads = 0; reads < 300 && (open = recv_some(fd, 3, &g_got)) == 1; reads++) {
    }
  if (open >= 0) {
    ::shutdown(fd, SHUT_WR);
    // Answers to requests sent before the FIN may still be on their way
    // (pipelined /stats under ASan: seconds): the server is given 2 s
    // from the FIN or from the last byte it sent, 8 s in all.
    using Clock = std::chrono::steady_clock;
    const auto fin = Clock::now();
    auto last = fin;
    for (int got;;) {
      const auto deadline = std::min(last + std::chrono::seconds(2), fin + std::chrono::seconds(8));
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
      if (left.count() <= 0)
        finding(deadline == fin + std::chrono::seconds(8)
                    ? "the server still had not closed the connection 8 s after the client's FIN"
                    : "the server did not close the connection within 2 s of the client's FIN or its last byte");
      if ((got = recv_some(fd, static_cast<int>(left.count()), &g_got)) < 0) break;
      if (got > 0) last = Clock::now();
    }
  } else {
    while (recv_some(fd, 0, &g_got) == 1) {  // whatever came before the close
    }
  }
  ::close(fd);
  static const bool dump = getenv("ADMIN_FUZZ_DUMP") != nullptr;
  if (dump) fprintf(stderr, "admin_fuzz: %zu bytes:\n%s\n", g_got.size(), g_got.c_str());
  check_responses(g_got, parse_requests(p, n));
  return 0;
}
