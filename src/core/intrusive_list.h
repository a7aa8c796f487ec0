// A doubly linked list threaded through its elements: O(1) insert and erase,
// 16 bytes per element, no allocation. Used for the connections of a worker
// and the idle connections of a pool. Thread: the owning worker.
#pragma once

#include <cstddef>

namespace moe {

struct ListLink {
  ListLink* prev = nullptr;
  ListLink* next = nullptr;
  bool linked() const { return prev != nullptr; }
};

template <typename T, ListLink T::*Link>
class IntrusiveList {
 public:
  IntrusiveList() { head_.prev = head_.next = &head_; }
  IntrusiveList(const IntrusiveList&) = delete;
  IntrusiveList& operator=(const IntrusiveList&) = delete;

  bool empty() const { return head_.next == &head_; }
  size_t size() const { return size_; }
  void push_front(T* t) { insert_after(&head_, &(t->*Link)); }
  void push_back(T* t) { insert_after(head_.prev, &(t->*Link)); }
  void erase(T* t) {
    ListLink* l = &(t->*Link);
    if (!l->linked()) return;
    l->prev->next = l->next;
    l->next->prev = l->prev;
    l->prev = l->next = nullptr;
    size_--;
  }
  T* front() const { return empty() ? nullptr : owner(head_.next); }
  T* pop_front() {
    T* t = front();
    if (t) erase(t);
    return t;
  }
  // Calls fn on each element; fn may erase the element it is given.
  template <typename Fn>
  void for_each(Fn fn) {
    for (ListLink* l = head_.next; l != &head_;) {
      ListLink* next = l->next;
      fn(owner(l));
      l = next;
    }
  }

 private:
  static T* owner(ListLink* l) {
    const size_t off = reinterpret_cast<size_t>(&(static_cast<T*>(nullptr)->*Link));
    return reinterpret_cast<T*>(reinterpret_cast<char*>(l) - off);
  }
  void insert_after(ListLink* pos, ListLink* l) {
    l->prev = pos;
    l->next = pos->next;
    pos->next->prev = l;
    pos->next = l;
    size_++;
  }
  ListLink head_;
  size_t size_ = 0;
};

}  // namespace moe
