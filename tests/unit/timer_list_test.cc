// TimerWheel: arm, disarm, expiry order, re-arming from on_timeout, and the
// delays handed to the worker's single uv_timer. Time is a plain number
// here; loop_test.cc drives a wheel from a real uv_timer.
#include <catch2/catch.hpp>

#include <cstdint>
#include <functional>
#include <iterator>
#include <memory>
#include <string>
#include <vector>

#include "core/timer_list.h"

using moe::TimerNode;
using moe::TimerWheel;

namespace {

struct Clock {
  std::vector<uint64_t> delays;  // every schedule() call, in order
  static void schedule(void* ctx, uint64_t delay_ms) { static_cast<Clock*>(ctx)->delays.push_back(delay_ms); }
};

struct Node final : TimerNode {
  std::string name;
  std::vector<std::string>* fired;
  std::function<void(Node&)> then;
  Node(std::string n, std::vector<std::string>* log) : name(std::move(n)), fired(log) {}
  ~Node() = default;
  void on_timeout() override {
    fired->push_back(name);
    if (then) then(*this);
  }
};

}  // namespace

TEST_CASE("timer_list: a node fires once its duration has passed", "[timer]") {
  Clock clock;
  TimerWheel wheel(&Clock::schedule, &clock);
  std::vector<std::string> fired;
  Node a("a", &fired);
  CHECK_FALSE(a.armed());
  wheel.arm(&a, 100, 1000);
  CHECK(a.armed());
  CHECK(clock.delays == std::vector<uint64_t>{100});

  wheel.run(1099);  // early: nothing
  CHECK(fired.empty());
  CHECK(a.armed());
  wheel.run(1100);
  CHECK(fired == std::vector<std::string>{"a"});
  CHECK_FALSE(a.armed());
  wheel.run(5000);  // fires once only
  CHECK(fired.size() == 1);
}

TEST_CASE("timer_list: disarm before expiry", "[timer]") {
  Clock clock;
  TimerWheel wheel(&Clock::schedule, &clock);
  std::vector<std::string> fired;
  Node a("a", &fired), b("b", &fired), c("c", &fired);
  wheel.arm(&a, 50, 0);
  wheel.arm(&b, 50, 0);
  wheel.arm(&c, 50, 0);
  b.disarm();
  CHECK_FALSE(b.armed());
  b.disarm();  // idempotent
  a.disarm();  // head
  wheel.run(50);
  CHECK(fired == std::vector<std::string>{"c"});
  // Disarming everything leaves nothing to schedule.
  wheel.arm(&a, 10, 100);
  a.disarm();
  size_t calls = clock.delays.size();
  wheel.run(200);
  CHECK(fired.size() == 1);
  CHECK(clock.delays.size() == calls);
}

TEST_CASE("timer_list: arming with 0 disarms", "[timer]") {
  Clock clock;
  TimerWheel wheel(&Clock::schedule, &clock);
  std::vector<std::string> fired;
  Node a("a", &fired);
  wheel.arm(&a, 100, 0);
  wheel.arm(&a, 0, 10);
  CHECK_FALSE(a.armed());
  wheel.run(1000);
  CHECK(fired.empty());
}

TEST_CASE("timer_list: re-arming moves the deadline", "[timer]") {
  Clock clock;
  TimerWheel wheel(&Clock::schedule, &clock);
  std::vector<std::string> fired;
  Node a("a", &fired), b("b", &fired);
  wheel.arm(&a, 100, 0);
  wheel.arm(&b, 100, 10);
  wheel.arm(&a, 100, 50);  // activity: a now expires at 150, after b
  wheel.run(100);
  CHECK(fired.empty());
  wheel.run(110);
  CHECK(fired == std::vector<std::string>{"b"});
  wheel.run(149);
  CHECK(fired.size() == 1);
  wheel.run(150);
  CHECK(fired == std::vector<std::string>{"b", "a"});
}

TEST_CASE("timer_list: one duration expires in arming order", "[timer]") {
  Clock clock;
  TimerWheel wheel(&Clock::schedule, &clock);
  std::vector<std::string> fired;
  std::vector<std::unique_ptr<Node>> nodes;
  for (int i = 0; i < 20; i++) {
    nodes.push_back(std::make_unique<Node>(std::to_string(i), &fired));
    wheel.arm(nodes.back().get(), 1000, static_cast<uint64_t>(i * 10));
  }
  wheel.run(1095);  // 0..9 are due (deadlines 1000..1090)
  REQUIRE(fired.size() == 10);
  for (int i = 0; i < 10; i++) CHECK(fired[static_cast<size_t>(i)] == std::to_string(i));
  wheel.run(5000);
  REQUIRE(fired.size() == 20);
  for (int i = 0; i < 20; i++) CHECK(fired[static_cast<size_t>(i)] == std::to_string(i));
}

TEST_CASE("timer_list: many durations, each fires at its own deadline", "[timer]") {
  Clock clock;
  TimerWheel wheel(&Clock::schedule, &clock);
  std::vector<std::string> fired;
  const uint64_t durations[] = {60000, 10000, 15000, 1000, 250, 5000};
  std::vector<std::unique_ptr<Node>> nodes;
  for (uint64_t d : durations) {
    nodes.push_back(std::make_unique<Node>(std::to_string(d), &fired));
    wheel.arm(nodes.back().get(), d, 0);
  }
  // Step time through every deadline: exactly one node fires at each.
  const uint64_t sorted[] = {250, 1000, 5000, 10000, 15000, 60000};
  for (size_t i = 0; i < std::size(sorted); i++) {
    const uint64_t t = sorted[i];
    INFO(t);
    wheel.run(t - 1);
    CHECK(fired.size() == i);
    wheel.run(t);
    REQUIRE(fired.size() == i + 1);
    CHECK(fired.back() == std::to_string(t));
  }
  for (auto& n : nodes) CHECK_FALSE(n->armed());
}

TEST_CASE("timer_list: schedule gets the delay to the earliest deadline", "[timer]") {
  Clock clock;
  TimerWheel wheel(&Clock::schedule, &clock);
  std::vector<std::string> fired;
  Node idle("idle", &fired), hdr("hdr", &fired), conn("conn", &fired), route("route", &fired);

  wheel.arm(&idle, 60000, 1000);  // deadline 61000
  CHECK(clock.delays == std::vector<uint64_t>{60000});
  wheel.arm(&hdr, 10000, 1000);  // 11000: earlier, the uv_timer moves
  CHECK(clock.delays == std::vector<uint64_t>{60000, 10000});
  wheel.arm(&route, 15000, 2000);  // 17000: later, no call
  CHECK(clock.delays.size() == 2);
  wheel.arm(&conn, 1000, 3000);  // 4000: earlier
  CHECK(clock.delays.back() == 1000);
  CHECK(clock.delays.size() == 3);

  // The timer fires a little late; the rest is rescheduled from "now".
  wheel.run(4010);
  CHECK(fired == std::vector<std::string>{"conn"});
  CHECK(clock.delays.size() == 4);
  CHECK(clock.delays.back() == 11000 - 4010);

  // A disarmed head is noticed on the next run; the wheel skips it.
  hdr.disarm();
  wheel.run(11000);
  CHECK(fired.size() == 1);
  CHECK(clock.delays.back() == 17000 - 11000);

  wheel.run(17000);
  CHECK(fired.back() == "route");
  CHECK(clock.delays.back() == 61000 - 17000);
  wheel.run(61000);
  CHECK(fired.back() == "idle");
  const size_t calls = clock.delays.size();
  wheel.run(70000);  // nothing armed: the uv_timer is left alone
  CHECK(clock.delays.size() == calls);

  // Arming after everything expired schedules again.
  wheel.arm(&idle, 60000, 70000);
  CHECK(clock.delays.back() == 60000);
  CHECK(clock.delays.size() == calls + 1);
}

TEST_CASE("timer_list: a late run fires everything that is due", "[timer]") {
  Clock clock;
  TimerWheel wheel(&Clock::schedule, &clock);
  std::vector<std::string> fired;
  Node a("a", &fired), b("b", &fired);
  wheel.arm(&a, 100, 0);
  wheel.arm(&b, 200, 0);
  wheel.run(100);
  CHECK(clock.delays.back() == 100);  // b in 100 ms
  wheel.run(500);  // very late: b fires, nothing left
  CHECK(fired == std::vector<std::string>{"a", "b"});
}

TEST_CASE("timer_list: re-arm inside on_timeout", "[timer]") {
  Clock clock;
  TimerWheel wheel(&Clock::schedule, &clock);
  std::vector<std::string> fired;
  Node tick("tick", &fired);
  int remaining = 3;
  uint64_t now = 0;
  tick.then = [&](Node& n) {
    CHECK_FALSE(n.armed());  // unlinked before the callback
    if (--remaining > 0) wheel.arm(&n, 100, now);
  };
  wheel.arm(&tick, 100, now);
  for (now = 100; now <= 1000; now += 100) wheel.run(now);
  CHECK(fired.size() == 3);
  CHECK_FALSE(tick.armed());
  // Each re-arm inside a run asked for the full period again.
  CHECK(clock.delays == std::vector<uint64_t>{100, 100, 100});
}

TEST_CASE("timer_list: on_timeout may disarm or arm other nodes", "[timer]") {
  Clock clock;
  TimerWheel wheel(&Clock::schedule, &clock);
  std::vector<std::string> fired;
  Node a("a", &fired), b("b", &fired), c("c", &fired), d("d", &fired);
  wheel.arm(&a, 100, 0);
  wheel.arm(&b, 100, 0);  // also due at 100, but a cancels it
  wheel.arm(&c, 300, 0);
  a.then = [&](Node&) {
    b.disarm();
    c.disarm();
    wheel.arm(&d, 50, 100);
  };
  wheel.run(100);
  CHECK(fired == std::vector<std::string>{"a"});
  CHECK(d.armed());
  CHECK(clock.delays.back() == 50);
  wheel.run(150);
  CHECK(fired == std::vector<std::string>{"a", "d"});
  wheel.run(1000);
  CHECK(fired.size() == 2);
}

TEST_CASE("timer_list: a node may be destroyed in its own on_timeout", "[timer]") {
  Clock clock;
  TimerWheel wheel(&Clock::schedule, &clock);
  std::vector<std::string> fired;
  auto* owner = new Node("owner", &fired);
  Node other("other", &fired);
  owner->then = [](Node& n) { delete &n; };  // ASan would catch a later touch
  wheel.arm(owner, 100, 0);
  wheel.arm(&other, 100, 0);
  wheel.run(100);
  CHECK(fired == std::vector<std::string>{"owner", "other"});
}

TEST_CASE("timer_list: destroying an armed node unlinks it", "[timer]") {
  Clock clock;
  TimerWheel wheel(&Clock::schedule, &clock);
  std::vector<std::string> fired;
  Node keep("keep", &fired);
  {
    Node gone("gone", &fired);
    wheel.arm(&gone, 100, 0);
    wheel.arm(&keep, 100, 0);
  }
  wheel.run(100);
  CHECK(fired == std::vector<std::string>{"keep"});
}

TEST_CASE("timer_list: nodes may outlive the wheel", "[timer]") {
  std::vector<std::string> fired;
  Node a("a", &fired);
  {
    Clock clock;
    TimerWheel wheel(&Clock::schedule, &clock);
    wheel.arm(&a, 100, 0);
  }
  CHECK_FALSE(a.armed());
  a.disarm();
}
