// The HTTP/1 and HTTP/2 server codecs against a fake stream: a real Worker and a real
// socket, but Worker::set_streams gives the codec a StreamEvents that only
// records what it is told and answers itself, no Stream, router or pool.
// What the codec calls, in which order, is then visible on its own
// (http/codec.h is the whole contract between the two).
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "config/config.h"
#include "core/listener.h"
#include "core/worker.h"
#include "http/codec.h"
#include "server/http_acceptor.h"

namespace {

using namespace moe;

// What every fake stream of one test saw, in order. The worker thread
// writes, the test thread reads.
struct EventLog {
  std::mutex mu;
  std::vector<std::string> events;
  void add(std::string e) {
    std::lock_guard lk(mu);
    events.push_back(std::move(e));
  }
  std::vector<std::string> get() {
    std::lock_guard lk(mu);
    return events;
  }
};

// Answers each request with 200 and "<method> <path> <body>" once the
// request is complete; ends as Stream::finish does (the facts, then
// on_stream_complete, which may destroy it).
class FakeStream final : public StreamEvents {
 public:
  FakeStream(DownstreamCodec& codec, EventLog& log) : codec_(codec), log_(log) {}

  void on_request_headers(bool end_stream) override {
    log_.add("headers " + std::string(request_.method()) + " " + std::string(request_.path()) +
             " host=" + std::string(request_.authority()) + (end_stream ? " end" : ""));
    if (end_stream) reply();
  }
  void on_request_data(const char* p, size_t n) override {
    log_.add("data " + std::string(p, n));
    body_.append(p, n);
  }
  void on_request_trailers() override { log_.add("trailers"); reply(); }
  void on_request_end() override {
    log_.add("end");
    reply();
  }
  void on_downstream_reset() override {
    log_.add("reset");
    done();
  }
  void on_downstream_drained() override {}
  void send_local_reply(int status, std::string_view body, bool close) override {
    log_.add("local_reply " + std::to_string(status));
    ResponseHead& h = response_;
    h.status = status;
    h.content_length = static_cast<int64_t>(body.size());
    h.has_body = !body.empty();
    close_connection_ = close;
    response_started_ = true;
    codec_.encode_headers(h, body.empty());
    if (!body.empty()) codec_.encode_data(body.data(), body.size(), true);
    done();
  }
  // No upstream side: a server codec never calls these.
  void on_upstream_attached(UpstreamCodec&) override { log_.add("upstream?"); }
  void on_upstream_ready(UpstreamCodec&) override { log_.add("upstream?"); }
  void on_upstream_failure(UpstreamFailure, std::string_view, std::string_view) override { log_.add("upstream?"); }
  void on_response_headers(bool) override { log_.add("upstream?"); }
  void on_response_data(const char*, size_t) override { log_.add("upstream?"); }
  void on_response_trailers() override { log_.add("upstream?"); }
  void on_response_end() override { log_.add("upstream?"); }
  void on_upstream_drained() override {}

 private:
  void reply() {
    request_done_ = true;
    const std::string body = std::string(request_.method()) + " " + std::string(request_.path()) + " " + body_;
    response_.status = 200;
    response_.headers.add("x-fake", "1");
    response_.content_length = static_cast<int64_t>(body.size());
    response_.has_body = true;
    response_started_ = true;
    codec_.encode_headers(response_, false);
    codec_.encode_data(body.data(), body.size(), true);
    done();
  }
  void done() {
    response_done_ = true;
    finished_ = true;
    codec_.on_stream_complete();  // may destroy this: nothing after
  }

  DownstreamCodec& codec_;
  EventLog& log_;
  std::string body_;
};

class FakeStreams final : public StreamFactory {
 public:
  explicit FakeStreams(EventLog& log) : log_(log) {}
  std::unique_ptr<StreamEvents> new_stream(DownstreamCodec& codec, int) override {
    return std::make_unique<FakeStream>(codec, log_);
  }

 private:
  EventLog& log_;
};

// One worker with one HTTP/1 listener on a free loopback port, its streams
// fakes. Drained and joined at the end of the test.
struct FakeServer {
  EventLog log;
  ListenerShared shared;
  std::unique_ptr<Worker> worker;
  sockaddr_in addr{};

  explicit FakeServer(bool http2 = false) {
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    std::string err;
    const int fd = make_listen_socket(reinterpret_cast<sockaddr*>(&addr), sizeof addr, 16, err);
    REQUIRE(fd >= 0);
    socklen_t len = sizeof addr;
    getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
    const std::string yaml = "workers: 1\n"
                             "log: {level: error, access_log: \"off\"}\n"
                             "listeners:\n"
                             "  - name: main\n"
                             "    address: 127.0.0.1:" + std::to_string(ntohs(addr.sin_port)) + "\n" +
                             (http2 ? "    http2: true\n" : "") +
                             "    routes:\n"
                             "      - match: {prefix: /}\n"
                             "        direct_response: {status: 204}\n";
    config::LoadResult r = config::load_config_text(yaml, "fake.yaml");
    REQUIRE(r.errors.empty());
    worker = std::make_unique<Worker>(0, r.config, std::vector<ListenerSocket>{{0, fd, &shared}}, nullptr);
    worker->set_streams(std::make_unique<FakeStreams>(log));
    worker->set_acceptor(std::make_unique<HttpAcceptor>());
    worker->start();
  }
  ~FakeServer() {
    worker->drain(std::chrono::milliseconds(500));
    worker->join();
  }

  // Connects, sends `bytes`, reads until `until` appears in the answer (or
  // `wait` passes, or moe closes); closes when `close_after`.
  std::string exchange(const std::string& bytes, const std::string& until, bool close_after = true,
                       std::chrono::milliseconds wait = std::chrono::seconds(5)) {
    const int c = ::socket(AF_INET, SOCK_STREAM, 0);
    REQUIRE(::connect(c, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
    REQUIRE(::send(c, bytes.data(), bytes.size(), 0) == static_cast<ssize_t>(bytes.size()));
    std::string got;
    const auto deadline = std::chrono::steady_clock::now() + wait;
    while (got.find(until) == std::string::npos && std::chrono::steady_clock::now() < deadline) {
      pollfd p{c, POLLIN, 0};
      if (::poll(&p, 1, 100) <= 0) continue;
      char buf[4096];
      const ssize_t n = ::recv(c, buf, sizeof buf, 0);
      if (n <= 0) break;
      got.append(buf, static_cast<size_t>(n));
    }
    if (close_after) ::close(c);
    else last_fd = c;
    return got;
  }
  int last_fd = -1;

  // Waits (up to 5 s) for the log to hold `n` events.
  std::vector<std::string> events(size_t n) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (log.get().size() < n && std::chrono::steady_clock::now() < deadline)
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    return log.get();
  }
};

}  // namespace

TEST_CASE("codec: HTTP/1 server codec against a fake stream, pipelined GET and POST", "[codec]") {
  FakeServer s;
  const std::string got = s.exchange(
      "GET /a HTTP/1.1\r\nHost: h\r\n\r\n"
      "POST /b HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\nxyz",
      "POST /b xyz");
  // Both answers, in order, framed by the codec from content_length.
  const size_t a = got.find("HTTP/1.1 200"), b = got.find("GET /a "), c = got.find("POST /b xyz");
  REQUIRE(a != std::string::npos);
  REQUIRE(b != std::string::npos);
  REQUIRE(c != std::string::npos);
  CHECK(b < c);
  CHECK(got.find("x-fake: 1\r\n") != std::string::npos);
  CHECK(got.find("content-length: 7\r\n") != std::string::npos);
  CHECK(s.events(4) == std::vector<std::string>{"headers GET /a host=h end", "headers POST /b host=h",
                                                  "data xyz", "end"});
}

TEST_CASE("codec: HTTP/1 server codec against a fake stream, client gone mid-body", "[codec]") {
  FakeServer s;
  // 3 of the 10 body bytes, no answer expected; then the client goes.
  s.exchange("POST /c HTTP/1.1\r\nHost: h\r\nContent-Length: 10\r\n\r\nabc", "HTTP/", false,
             std::chrono::milliseconds(200));
  ::close(s.last_fd);
  const auto ev = s.events(3);
  REQUIRE(ev.size() >= 3);
  CHECK(ev[0] == "headers POST /c host=h");
  CHECK(ev[1] == "data abc");
  CHECK(ev[2] == "reset");
}

TEST_CASE("codec: HTTP/1 server codec against a fake stream, an unknown version is a local reply", "[codec]") {
  FakeServer s;
  const std::string got = s.exchange("GET / HTTP/9.9\r\n\r\n", "\r\n\r\n");
  CHECK(got.rfind("HTTP/1.1 505", 0) == 0);  // the codec picks the status
  const auto ev = s.events(1);
  REQUIRE(!ev.empty());
  CHECK(ev.back() == "local_reply 505");
}

namespace {

void h2_frame(std::string& out, uint8_t type, uint8_t flags, uint32_t stream, const std::string& payload) {
  const uint32_t len = static_cast<uint32_t>(payload.size());
  const char hd[9] = {static_cast<char>(len >> 16), static_cast<char>(len >> 8), static_cast<char>(len),
                      static_cast<char>(type), static_cast<char>(flags), static_cast<char>(stream >> 24),
                      static_cast<char>(stream >> 16), static_cast<char>(stream >> 8), static_cast<char>(stream)};
  out.append(hd, 9);
  out += payload;
}

// A literal HPACK field without indexing, new name (RFC 7541 6.2.2).
void hpack_literal(std::string& b, const std::string& n, const std::string& v) {
  b += '\0';
  b += static_cast<char>(n.size());
  b += n;
  b += static_cast<char>(v.size());
  b += v;
}

}  // namespace

TEST_CASE("codec: HTTP/2 server codec against a fake stream, prior knowledge GET and POST", "[codec]") {
  FakeServer s(true);
  std::string out = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
  h2_frame(out, 0x4, 0, 0, "");  // SETTINGS
  std::string get, post;
  hpack_literal(get, ":method", "GET");
  hpack_literal(get, ":scheme", "http");
  hpack_literal(get, ":path", "/x");
  hpack_literal(get, ":authority", "h");
  h2_frame(out, 0x1, 0x4 | 0x1, 1, get);  // HEADERS, END_HEADERS | END_STREAM
  hpack_literal(post, ":method", "POST");
  hpack_literal(post, ":scheme", "http");
  hpack_literal(post, ":path", "/y");
  hpack_literal(post, ":authority", "h");
  h2_frame(out, 0x1, 0x4, 3, post);      // HEADERS, END_HEADERS
  h2_frame(out, 0x0, 0x1, 3, "pq");      // DATA, END_STREAM
  // The bodies travel as DATA payload, so they show in the raw bytes.
  const std::string got = s.exchange(out, "POST /y pq");
  CHECK(got.find("GET /x ") != std::string::npos);
  CHECK(got.find("POST /y pq") != std::string::npos);
  CHECK(s.events(4) == std::vector<std::string>{"headers GET /x host=h end", "headers POST /y host=h", "data pq",
                                                  "end"});
}
