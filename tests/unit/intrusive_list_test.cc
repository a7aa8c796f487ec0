// IntrusiveList: push, erase, pop, and erasing during for_each.
#include <catch2/catch.hpp>

#include <vector>

#include "core/intrusive_list.h"

using moe::IntrusiveList;
using moe::ListLink;

namespace {

struct Conn {
  int id = 0;
  ListLink all;   // every connection
  ListLink idle;  // the idle ones: one element, two lists
  explicit Conn(int i) : id(i) {}
};

using AllList = IntrusiveList<Conn, &Conn::all>;
using IdleList = IntrusiveList<Conn, &Conn::idle>;

template <typename List>
std::vector<int> ids(List& l) {
  std::vector<int> out;
  l.for_each([&](Conn* c) { out.push_back(c->id); });
  return out;
}

}  // namespace

TEST_CASE("intrusive_list: empty", "[intrusive_list]") {
  AllList l;
  CHECK(l.empty());
  CHECK(l.size() == 0);
  CHECK(l.front() == nullptr);
  CHECK(l.pop_front() == nullptr);
  CHECK(ids(l).empty());
}

TEST_CASE("intrusive_list: push_back and push_front keep order", "[intrusive_list]") {
  Conn a(1), b(2), c(3);
  AllList l;
  l.push_back(&b);
  l.push_back(&c);
  l.push_front(&a);
  CHECK(l.size() == 3);
  CHECK_FALSE(l.empty());
  CHECK(l.front() == &a);
  CHECK(ids(l) == std::vector<int>{1, 2, 3});
  CHECK(a.all.linked());
  CHECK_FALSE(a.idle.linked());
  l.erase(&a);
  l.erase(&b);
  l.erase(&c);
}

TEST_CASE("intrusive_list: erase head, middle, tail; erase twice is a no-op", "[intrusive_list]") {
  Conn a(1), b(2), c(3), d(4);
  AllList l;
  for (Conn* x : {&a, &b, &c, &d}) l.push_back(x);
  l.erase(&b);
  CHECK_FALSE(b.all.linked());
  CHECK(ids(l) == std::vector<int>{1, 3, 4});
  l.erase(&b);
  CHECK(l.size() == 3);
  l.erase(&a);
  CHECK(ids(l) == std::vector<int>{3, 4});
  CHECK(l.front() == &c);
  l.erase(&d);
  CHECK(ids(l) == std::vector<int>{3});
  l.erase(&c);
  CHECK(l.empty());
  CHECK(l.size() == 0);
  // An erased element can be inserted again.
  l.push_back(&b);
  CHECK(ids(l) == std::vector<int>{2});
  l.erase(&b);
}

TEST_CASE("intrusive_list: pop_front drains in order", "[intrusive_list]") {
  std::vector<Conn> conns;
  for (int i = 0; i < 10; i++) conns.emplace_back(i);
  AllList l;
  for (Conn& c : conns) l.push_back(&c);
  for (int i = 0; i < 10; i++) {
    Conn* c = l.pop_front();
    REQUIRE(c != nullptr);
    CHECK(c->id == i);
    CHECK_FALSE(c->all.linked());
    CHECK(l.size() == static_cast<size_t>(9 - i));
  }
  CHECK(l.pop_front() == nullptr);
}

TEST_CASE("intrusive_list: one element on two lists", "[intrusive_list]") {
  Conn a(1), b(2), c(3);
  AllList all;
  IdleList idle;
  for (Conn* x : {&a, &b, &c}) all.push_back(x);
  idle.push_back(&c);
  idle.push_back(&a);
  CHECK(ids(all) == std::vector<int>{1, 2, 3});
  CHECK(ids(idle) == std::vector<int>{3, 1});
  idle.erase(&c);
  CHECK(ids(all) == std::vector<int>{1, 2, 3});  // untouched
  CHECK(ids(idle) == std::vector<int>{1});
  all.erase(&a);
  CHECK(ids(idle) == std::vector<int>{1});
  CHECK(ids(all) == std::vector<int>{2, 3});
  idle.erase(&a);
  all.erase(&b);
  all.erase(&c);
}

TEST_CASE("intrusive_list: for_each may erase the element it is given", "[intrusive_list]") {
  std::vector<Conn> conns;
  for (int i = 0; i < 8; i++) conns.emplace_back(i);
  AllList l;
  for (Conn& c : conns) l.push_back(&c);

  SECTION("erase the odd ones") {
    std::vector<int> seen;
    l.for_each([&](Conn* c) {
      seen.push_back(c->id);
      if (c->id % 2) l.erase(c);
    });
    CHECK(seen == std::vector<int>{0, 1, 2, 3, 4, 5, 6, 7});
    CHECK(ids(l) == std::vector<int>{0, 2, 4, 6});
    CHECK(l.size() == 4);
  }
  SECTION("erase every one (close all connections)") {
    int visited = 0;
    l.for_each([&](Conn* c) {
      visited++;
      l.erase(c);
    });
    CHECK(visited == 8);
    CHECK(l.empty());
  }
  SECTION("erase and re-push onto another list") {
    IdleList idle;
    l.for_each([&](Conn* c) {
      if (c->id < 3) {
        l.erase(c);
        idle.push_back(c);
      }
    });
    CHECK(ids(idle) == std::vector<int>{0, 1, 2});
    CHECK(ids(l) == std::vector<int>{3, 4, 5, 6, 7});
    idle.for_each([&](Conn* c) { idle.erase(c); });
  }
  l.for_each([&](Conn* c) { l.erase(c); });
  CHECK(l.empty());
}

TEST_CASE("intrusive_list: owner() finds the element from a non-first link", "[intrusive_list]") {
  // `idle` is not at offset 0: front() must subtract its offset.
  Conn a(42);
  IdleList idle;
  idle.push_back(&a);
  CHECK(idle.front() == &a);
  CHECK(idle.front()->id == 42);
  idle.erase(&a);
}
