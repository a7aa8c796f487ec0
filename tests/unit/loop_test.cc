// Loop tests, libuv style: a real uv_loop, callbacks counted, and every test
// ends with uv_loop_close() == 0 (no handle or request left behind).
//
// moe's Worker and TcpConnection need a whole Config and Server; these tests
// drive the loop-independent pieces (TimerWheel, HeaderMap, the HTTP/1
// encoder) with real libuv handles instead.
#include <catch2/catch.hpp>
#include <llhttp.h>
#include <uv.h>

#include <cstring>
#include <string>
#include <vector>

#include "core/timer_list.h"
#include "http1/http1_encode.h"
#include "http/codec.h"

using namespace moe;

namespace {

// Closes every handle still open, runs the loop until the close callbacks
// ran, and returns uv_loop_close()'s verdict.
int close_loop(uv_loop_t* loop) {
  uv_walk(
      loop, [](uv_handle_t* h, void*) {
        if (!uv_is_closing(h)) uv_close(h, nullptr);
      },
      nullptr);
  uv_run(loop, UV_RUN_DEFAULT);
  return uv_loop_close(loop);
}

// ---- TimerWheel on a uv_timer, the way a Worker runs it ------------------------------

struct WheelLoop {
  uv_loop_t loop;
  uv_timer_t timer;
  TimerWheel wheel{&WheelLoop::schedule, this};
  int schedules = 0;
  int runs = 0;

  WheelLoop() {
    REQUIRE(uv_loop_init(&loop) == 0);
    REQUIRE(uv_timer_init(&loop, &timer) == 0);
    timer.data = this;
  }
  uint64_t now() { return uv_now(&loop); }

  static void schedule(void* ctx, uint64_t delay_ms) {
    auto* self = static_cast<WheelLoop*>(ctx);
    self->schedules++;
    uv_timer_start(&self->timer, &WheelLoop::on_timer, delay_ms, 0);
  }
  static void on_timer(uv_timer_t* t) {
    auto* self = static_cast<WheelLoop*>(t->data);
    self->runs++;
    self->wheel.run(uv_now(t->loop));
  }
};

struct CountingNode : TimerNode {
  WheelLoop* wl;
  uint64_t duration;
  uint64_t armed_at = 0;
  int fired = 0;
  int rearm = 0;  // how many more times to re-arm from on_timeout
  std::vector<uint64_t>* order;
  CountingNode(WheelLoop* w, uint64_t d, std::vector<uint64_t>* o) : wl(w), duration(d), order(o) {}
  ~CountingNode() = default;
  void arm() {
    armed_at = wl->now();
    wl->wheel.arm(this, duration, armed_at);
  }
  void on_timeout() override {
    fired++;
    order->push_back(duration);
    // Never early: the loop clock has reached the deadline.
    CHECK(wl->now() >= armed_at + duration);
    if (rearm > 0) {
      rearm--;
      arm();
    }
  }
};

}  // namespace

TEST_CASE("loop: TimerWheel driven by one uv_timer", "[loop]") {
  WheelLoop wl;
  std::vector<uint64_t> order;
  CountingNode fast(&wl, 2, &order), mid(&wl, 60, &order), slow(&wl, 120, &order),
      cancelled(&wl, 10, &order);
  fast.rearm = 2;  // fires at ~2, ~4, ~6
  slow.arm();
  mid.arm();
  fast.arm();
  cancelled.arm();
  cancelled.disarm();

  REQUIRE(uv_run(&wl.loop, UV_RUN_DEFAULT) == 0);  // returns when nothing is armed

  CHECK(fast.fired == 3);
  CHECK(mid.fired == 1);
  CHECK(slow.fired == 1);
  CHECK(cancelled.fired == 0);
  CHECK(order == std::vector<uint64_t>{2, 2, 2, 60, 120});
  CHECK_FALSE(fast.armed());
  CHECK_FALSE(slow.armed());
  // One uv_timer serves all nodes: fast needs three runs (it re-arms after
  // each); mid and slow one each, or share one if the loop is late.
  CHECK(wl.runs >= 3);
  CHECK(wl.runs <= 5);
  CHECK(wl.schedules <= wl.runs + 4);
  CHECK(uv_is_active(reinterpret_cast<uv_handle_t*>(&wl.timer)) == 0);
  CHECK(close_loop(&wl.loop) == 0);
}

TEST_CASE("loop: a node destroyed in on_timeout, loop still clean", "[loop]") {
  WheelLoop wl;
  std::vector<uint64_t> order;
  struct SelfDeleting final : CountingNode {
    using CountingNode::CountingNode;
    void on_timeout() override {
      CountingNode::on_timeout();
      delete this;
    }
  };
  auto* a = new SelfDeleting(&wl, 3, &order);
  auto* b = new SelfDeleting(&wl, 3, &order);
  a->arm();
  b->arm();
  REQUIRE(uv_run(&wl.loop, UV_RUN_DEFAULT) == 0);
  CHECK(order == std::vector<uint64_t>{3, 3});
  CHECK(close_loop(&wl.loop) == 0);
}

// ---- HTTP/1 over a real TCP socket -----------------------------------------------------
//
// A tiny server on 127.0.0.1:0 parses one request with llhttp into a
// HeaderMap (as the server codec does) and answers with the moe encoder; a
// client sends the request in two writes and reads to EOF.

namespace {

struct Exchange {
  uv_loop_t loop;
  uv_tcp_t listener, server_conn, client;
  uv_connect_t connect_req;
  llhttp_t parser;
  llhttp_settings_t settings;
  RequestHead req;
  bool in_field = false;
  bool complete = false;
  std::string response_out;  // must outlive the write
  std::string client_in;
  int connections = 0, connects = 0, writes = 0, reads_eof = 0, closes = 0;
  char buf[256];  // small: the request arrives in several reads
  std::string part1, part2;
  uv_write_t w1, w2, w3;
};

Exchange* ex(uv_handle_t* h) { return static_cast<Exchange*>(h->data); }
Exchange* ex(llhttp_t* p) { return static_cast<Exchange*>(p->data); }

void on_close(uv_handle_t* h) { ex(h)->closes++; }

void alloc(uv_handle_t* h, size_t, uv_buf_t* b) {
  *b = uv_buf_init(ex(h)->buf, sizeof ex(h)->buf);
}

void setup_parser(Exchange& e) {
  llhttp_settings_init(&e.settings);
  e.settings.on_method = [](llhttp_t* p, const char* at, size_t n) {
    RequestHead& r = ex(p)->req;
    if (r.method_view.empty()) r.headers.begin_raw();
    r.headers.append_raw(at, n);
    r.method_view = r.headers.raw();
    return 0;
  };
  e.settings.on_url = [](llhttp_t* p, const char* at, size_t n) {
    RequestHead& r = ex(p)->req;
    if (r.path_view.empty()) r.headers.begin_raw();
    r.headers.append_raw(at, n);
    r.path_view = r.headers.raw();
    return 0;
  };
  e.settings.on_header_field = [](llhttp_t* p, const char* at, size_t n) {
    Exchange* x = ex(p);
    if (!x->in_field) {
      x->req.headers.begin_name();
      x->in_field = true;
    }
    x->req.headers.append_name(at, n);
    return 0;
  };
  e.settings.on_header_value = [](llhttp_t* p, const char* at, size_t n) {
    Exchange* x = ex(p);
    if (x->in_field) {
      x->req.headers.begin_value();
      x->in_field = false;
    }
    x->req.headers.append_value(at, n);
    return 0;
  };
  e.settings.on_header_value_complete = [](llhttp_t* p) {
    Exchange* x = ex(p);
    if (x->in_field) {
      x->req.headers.begin_value();
      x->in_field = false;
    }
    x->req.headers.commit();
    return 0;
  };
  e.settings.on_message_complete = [](llhttp_t* p) {
    ex(p)->complete = true;
    return 0;
  };
  llhttp_init(&e.parser, HTTP_REQUEST, &e.settings);
  e.parser.data = &e;
}

void respond(Exchange& e) {
  ResponseHead h;
  h.status = 200;
  h.headers.add("X-Method", e.req.method());
  h.headers.add("X-Path", e.req.path());
  h.headers.add("X-Host", e.req.authority());
  h.has_body = true;
  h.content_length = -1;
  bool chunked = false, close = false;
  http1::write_response_head(e.response_out, h, 1, true, chunked, close);
  CHECK(chunked);
  http1::write_chunk(e.response_out, "hello", 5);
  http1::write_last_chunk(e.response_out, nullptr);
  uv_buf_t b = uv_buf_init(e.response_out.data(), static_cast<unsigned>(e.response_out.size()));
  uv_write(&e.w3, reinterpret_cast<uv_stream_t*>(&e.server_conn), &b, 1, [](uv_write_t* w, int status) {
    Exchange* x = ex(reinterpret_cast<uv_handle_t*>(w->handle));
    CHECK(status == 0);
    x->writes++;
    uv_close(reinterpret_cast<uv_handle_t*>(&x->server_conn), on_close);
  });
}

void on_server_read(uv_stream_t* s, ssize_t n, const uv_buf_t* b) {
  Exchange& e = *ex(reinterpret_cast<uv_handle_t*>(s));
  if (n < 0) return;
  CHECK(llhttp_execute(&e.parser, b->base, static_cast<size_t>(n)) == HPE_OK);
  if (e.complete) {
    uv_read_stop(s);
    respond(e);
  }
}

void on_client_read(uv_stream_t* s, ssize_t n, const uv_buf_t* b) {
  Exchange& e = *ex(reinterpret_cast<uv_handle_t*>(s));
  if (n == UV_EOF) {
    e.reads_eof++;
    uv_close(reinterpret_cast<uv_handle_t*>(&e.client), on_close);
    uv_close(reinterpret_cast<uv_handle_t*>(&e.listener), on_close);
    return;
  }
  CHECK(n >= 0);
  if (n > 0) e.client_in.append(b->base, static_cast<size_t>(n));
}

}  // namespace

TEST_CASE("loop: one HTTP/1 exchange over TCP with moe's HeaderMap and encoder", "[loop]") {
  Exchange e;
  REQUIRE(uv_loop_init(&e.loop) == 0);
  e.loop.data = &e;
  setup_parser(e);
  for (uv_tcp_t* t : {&e.listener, &e.server_conn, &e.client}) {
    REQUIRE(uv_tcp_init(&e.loop, t) == 0);
    t->data = &e;
  }

  sockaddr_in addr;
  uv_ip4_addr("127.0.0.1", 0, &addr);
  REQUIRE(uv_tcp_bind(&e.listener, reinterpret_cast<const sockaddr*>(&addr), 0) == 0);
  REQUIRE(uv_listen(reinterpret_cast<uv_stream_t*>(&e.listener), 16, [](uv_stream_t* l, int status) {
            Exchange& x = *ex(reinterpret_cast<uv_handle_t*>(l));
            CHECK(status == 0);
            x.connections++;
            CHECK(uv_accept(l, reinterpret_cast<uv_stream_t*>(&x.server_conn)) == 0);
            uv_read_start(reinterpret_cast<uv_stream_t*>(&x.server_conn), alloc, on_server_read);
          }) == 0);
  sockaddr_storage bound;
  int len = sizeof bound;
  REQUIRE(uv_tcp_getsockname(&e.listener, reinterpret_cast<sockaddr*>(&bound), &len) == 0);

  // A long header so the request spans several 256-byte reads.
  e.part1 = "GET /api/items?id=7 HTTP/1.1\r\nHo";
  e.part2 = "st: Example.COM\r\nX-Long: " + std::string(700, 'L') + "\r\nAccept:  */* \r\n\r\n";
  e.connect_req.data = &e;
  REQUIRE(uv_tcp_connect(&e.connect_req, &e.client, reinterpret_cast<const sockaddr*>(&bound),
                         [](uv_connect_t* c, int status) {
                           Exchange& x = *static_cast<Exchange*>(c->data);
                           CHECK(status == 0);
                           x.connects++;
                           auto* s = reinterpret_cast<uv_stream_t*>(&x.client);
                           auto done = [](uv_write_t* w, int st) {
                             CHECK(st == 0);
                             ex(reinterpret_cast<uv_handle_t*>(w->handle))->writes++;
                           };
                           uv_buf_t b1 = uv_buf_init(x.part1.data(), static_cast<unsigned>(x.part1.size()));
                           uv_buf_t b2 = uv_buf_init(x.part2.data(), static_cast<unsigned>(x.part2.size()));
                           uv_write(&x.w1, s, &b1, 1, done);
                           uv_write(&x.w2, s, &b2, 1, done);
                           uv_read_start(s, alloc, on_client_read);
                         }) == 0);

  REQUIRE(uv_run(&e.loop, UV_RUN_DEFAULT) == 0);

  CHECK(e.connections == 1);
  CHECK(e.connects == 1);
  CHECK(e.writes == 3);
  CHECK(e.reads_eof == 1);
  CHECK(e.closes == 3);
  CHECK(e.req.method() == "GET");
  CHECK(e.req.path() == "/api/items?id=7");
  CHECK(e.req.authority() == "Example.COM");
  CHECK(e.req.headers.get("x-long") == std::string(700, 'L'));
  CHECK(e.req.headers.get("accept") == "*/*");
  CHECK(e.client_in ==
        "HTTP/1.1 200 OK\r\n"
        "x-method: GET\r\n"
        "x-path: /api/items?id=7\r\n"
        "x-host: Example.COM\r\n"
        "transfer-encoding: chunked\r\n"
        "connection: close\r\n"
        "\r\n"
        "5\r\nhello\r\n0\r\n\r\n");
  CHECK(close_loop(&e.loop) == 0);
}
