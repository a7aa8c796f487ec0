#include "core/timer_list.h"

#include <algorithm>

namespace moe {

void TimerNode::disarm() {
  if (!prev) return;
  prev->next = next;
  next->prev = prev;
  prev = next = nullptr;
}

void TimerList::push_back(TimerNode* n, uint64_t now_ms) {
  n->deadline_ms_ = now_ms + duration_ms_;
  TimerLink* l = n;
  l->next = &head_;
  l->prev = head_.prev;
  head_.prev->next = l;
  head_.prev = l;
}

TimerNode* TimerList::pop_expired(uint64_t now_ms) {
  if (empty() || front()->deadline_ms_ > now_ms) return nullptr;
  TimerNode* n = front();
  n->disarm();
  return n;
}

TimerWheel::~TimerWheel() {
  for (TimerList* l : lists_) {
    while (!l->empty()) l->front()->disarm();
    delete l;
  }
}

TimerList* TimerWheel::list_for(uint64_t duration_ms) {
  for (TimerList* l : lists_)
    if (l->duration_ms() == duration_ms) return l;
  lists_.push_back(new TimerList(duration_ms));
  return lists_.back();
}

void TimerWheel::arm(TimerNode* n, uint64_t duration_ms, uint64_t now_ms) {
  n->disarm();
  if (duration_ms == 0) return;
  list_for(duration_ms)->push_back(n, now_ms);
  if (n->deadline_ms_ < scheduled_at_) reschedule(now_ms);
}

void TimerWheel::run(uint64_t now_ms) {
  scheduled_at_ = UINT64_MAX;
  // Expire one node at a time: on_timeout() may arm or disarm other nodes.
  for (bool fired = true; fired;) {
    fired = false;
    for (size_t i = 0; i < lists_.size(); i++) {
      if (TimerNode* n = lists_[i]->pop_expired(now_ms)) {
        n->on_timeout();
        fired = true;
      }
    }
  }
  reschedule(now_ms);
}

void TimerWheel::reschedule(uint64_t now_ms) {
  uint64_t next = UINT64_MAX;
  for (TimerList* l : lists_)
    if (!l->empty()) next = std::min(next, l->head_deadline());
  if (next == UINT64_MAX || next == scheduled_at_) return;
  scheduled_at_ = next;
  schedule_(ctx_, next > now_ms ? next - now_ms : 0);
}

}  // namespace moe
