// Deadline lists: many timeouts for the price of one uv_timer per worker.
//
// Every timeout in moe has a duration fixed by config (idle 60s, request
// headers 10s, a route's 15s, a cluster's connect 1s). Entries with the same
// duration expire in the order they were armed, so a FIFO per duration is
// already sorted by deadline: arm = push back, disarm = unlink, expire = pop
// front. A TimerNode is 32 bytes inside its owner (vtable pointer, two links,
// the deadline); a uv_timer_t would be 152 per connection. The owning Worker
// runs one uv_timer at the earliest head.
//
// Thread: the worker that owns the lists; nothing here is thread-safe.
#pragma once

#include <cstdint>
#include <vector>

namespace moe {

class TimerList;

// The links of a list. Each list is circular around a sentinel link of its
// own, so a node unlinks itself without knowing which list it is in: no list
// pointer per node (a node is embedded in every idle connection).
struct TimerLink {
  TimerLink* prev = nullptr;  // null: not in a list
  TimerLink* next = nullptr;
};

// Embedded in any object that times out. on_timeout() runs on the worker
// loop after the node was unlinked; the owner may re-arm or destroy itself.
class TimerNode : private TimerLink {
 public:
  virtual void on_timeout() = 0;
  bool armed() const { return prev != nullptr; }
  void disarm();

 protected:
  ~TimerNode() { disarm(); }

 private:
  friend class TimerList;
  friend class TimerWheel;
  uint64_t deadline_ms_ = 0;
};

class TimerList {
 public:
  explicit TimerList(uint64_t duration_ms) : duration_ms_(duration_ms) { head_.prev = head_.next = &head_; }
  TimerList(const TimerList&) = delete;
  TimerList& operator=(const TimerList&) = delete;
  uint64_t duration_ms() const { return duration_ms_; }
  bool empty() const { return head_.next == &head_; }
  uint64_t head_deadline() const { return front()->deadline_ms_; }

 private:
  friend class TimerWheel;
  TimerNode* front() const { return static_cast<TimerNode*>(head_.next); }
  void push_back(TimerNode* n, uint64_t now_ms);
  TimerNode* pop_expired(uint64_t now_ms);

  uint64_t duration_ms_;
  TimerLink head_;  // sentinel: head_.next is the earliest deadline
};

// All the lists of one worker plus the single uv_timer that serves them.
class TimerWheel {
 public:
  // `schedule(ms_from_now)` (re)starts the worker's uv_timer.
  using ScheduleFn = void (*)(void* ctx, uint64_t delay_ms);
  TimerWheel(ScheduleFn schedule, void* ctx) : schedule_(schedule), ctx_(ctx) {}
  ~TimerWheel();

  // Arms `n` to fire after `duration_ms` (0 = never: the node is disarmed).
  void arm(TimerNode* n, uint64_t duration_ms, uint64_t now_ms);
  // Fires every expired node; called from the uv_timer callback.
  void run(uint64_t now_ms);

 private:
  TimerList* list_for(uint64_t duration_ms);
  void reschedule(uint64_t now_ms);

  ScheduleFn schedule_;
  void* ctx_;
  std::vector<TimerList*> lists_;  // few: one per distinct configured duration
  uint64_t scheduled_at_ = UINT64_MAX;  // deadline the uv_timer is set for
};

}  // namespace moe
