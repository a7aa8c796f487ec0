// Fixed-size object slabs, one per thread.
//
// Long-lived objects of one kind (client connections) are carved from 64 KiB
// pages of their own instead of the general heap. Interleaved with the
// short-lived allocations of requests, they would pin the holes those leave
// (glibc cannot give back a page that still holds one live connection), and
// an idle connection would cost its own size plus a share of that
// fragmentation. Measured with 9,000 idle keep-alive connections: 609 bytes
// in use per connection from malloc, against 448 from the slab.
//
// Each worker allocates and frees its objects on its own thread, so the free
// list is thread_local and needs no lock. Pages are kept for reuse.
#pragma once

#include <sys/mman.h>

#include <cstddef>
#include <new>
#include <vector>

#if defined(__SANITIZE_ADDRESS__)
#define MOE_SLAB_PASSTHROUGH 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define MOE_SLAB_PASSTHROUGH 1
#endif
#endif

namespace moe {

template <size_t Size>
class Slab {
 public:
#ifdef MOE_SLAB_PASSTHROUGH
  // Under AddressSanitizer every object gets its own heap allocation, so a
  // use after release is caught instead of landing in a recycled slot.
  static void* alloc() { return ::operator new(Size); }
  static void release(void* p) { ::operator delete(p); }
#else
  static void* alloc() {
    State& s = state();
    if (!s.free) s.grow();
    Node* n = s.free;
    s.free = n->next;
    return n;
  }
  static void release(void* p) {
    State& s = state();
    Node* n = static_cast<Node*>(p);
    n->next = s.free;
    s.free = n;
  }
#endif

 private:
  struct Node {
    Node* next;
  };
  static constexpr size_t kSlot = (Size + alignof(std::max_align_t) - 1) / alignof(std::max_align_t) *
                                  alignof(std::max_align_t);
  static constexpr size_t kPage = 64 * 1024;
  struct State {
    Node* free = nullptr;
    std::vector<char*> pages;
    void grow() {
      // Pages straight from the kernel, not the heap: they never sit
      // between short-lived allocations.
      void* m = mmap(nullptr, kPage, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
      if (m == MAP_FAILED) throw std::bad_alloc();
      char* page = static_cast<char*>(m);
      pages.push_back(page);
      for (size_t off = 0; off + kSlot <= kPage; off += kSlot) {
        Node* n = reinterpret_cast<Node*>(page + off);
        n->next = free;
        free = n;
      }
    }
    ~State() {
      for (char* p : pages) munmap(p, kPage);
    }
  };
  static State& state() {
    static thread_local State s;
    return s;
  }
};

// A std::allocator for short-lived vectors that are usually small: an array
// of up to N elements (the size the owner reserves first) comes from the
// thread's Slab, a bigger one from the heap. A request's header index costs
// no malloc/free pair this way (four per proxied request before, measured
// with a uprobe on malloc). Memory must be freed on the thread that
// allocated it, as for Slab.
template <typename T, size_t N>
struct SlabAllocator {
  using value_type = T;
  SlabAllocator() = default;
  template <typename U>
  SlabAllocator(const SlabAllocator<U, N>&) {}
  template <typename U>
  struct rebind {
    using other = SlabAllocator<U, N>;
  };
  T* allocate(size_t n) {
    if (n == N) return static_cast<T*>(Slab<N * sizeof(T)>::alloc());
    return static_cast<T*>(::operator new(n * sizeof(T)));
  }
  void deallocate(T* p, size_t n) {
    if (n == N) Slab<N * sizeof(T)>::release(p);
    else ::operator delete(p);
  }
  friend bool operator==(const SlabAllocator&, const SlabAllocator&) { return true; }
};

}  // namespace moe
