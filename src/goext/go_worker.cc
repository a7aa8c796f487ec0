#include "goext/go_worker.h"

#include <cstdlib>

#include "goext/go_bridge.h"
#include "proxy/stream.h"

namespace moe {

GoWorker::GoWorker(Worker& worker, std::vector<uint32_t> chain_events)
    : FilterRuntime(std::move(chain_events)), worker_(worker) {}

GoWorker::~GoWorker() {
  // Grown by moe_ops_grow (go_bridge.cc) with realloc.
  free(ops_.buf);
  free(batch_ops_.buf);
}

void GoWorker::run_thread(void (*fn)(void*), void* arg) { go::run_thread(fn, arg); }

int32_t GoWorker::cross(moe_event& ev, bool resume) {
  ops_.len = 0;
  ev.ops = &ops_;
  return resume ? go::on_resume(&ev) : go::on_event(&ev);
}

void GoWorker::on_posted(std::span<const uint64_t> resumes) {
  for (uint64_t h : resumes)
    if (Stream* s = find_stream(h)) s->on_go_resume();
}

void GoWorker::run_batch() {
  // One crossing for every header event queued since the last batch
  // (docs/go-runtime.md, "Batched header events"), at most kMaxGoBatch
  // at a time so the event array and the op buffer stay small after a
  // burst (256 events already spread a crossing's fixed cost thin).
  // Streams that ended in the meantime are skipped.
  constexpr size_t kMaxGoBatch = 256;
  batch_running_.swap(batch_);
  batch_.clear();
  for (size_t next = 0; next < batch_running_.size();) {
    batch_events_.clear();
    for (; next < batch_running_.size() && batch_events_.size() < kMaxGoBatch; next++)
      if (Stream* s = find_stream(batch_running_[next]))
        s->fill_batched_event(batch_events_.emplace_back(), batch_ops_);
    if (batch_events_.empty()) break;  // every stream left had ended: no crossing at all
    batch_ops_.len = 0;
    go::on_events(batch_events_.data(), static_cast<uint32_t>(batch_events_.size()));
    // Every stream takes its Go state before any goes on: going on can end
    // other streams of the batch (a local reply that closes an HTTP/2
    // connection), and their DONE crossing must name the state Go has now.
    for (const moe_event& ev : batch_events_)
      if (Stream* s = find_stream(ev.handle)) s->take_go_state(ev);
    for (const moe_event& ev : batch_events_)
      if (Stream* s = find_stream(ev.handle)) s->on_go_batched(ev, batch_ops_);
    batch_ops_.len = 0;
  }
  batch_running_.clear();
}

Stream* GoWorker::find_stream(uint64_t handle) const {
  const uint32_t slot = static_cast<uint32_t>(handle & 0xffffff);
  const uint32_t gen = static_cast<uint32_t>((handle >> 24) & 0xffffff);
  if (slot >= stream_slots_.size() || stream_slots_[slot].generation != gen) return nullptr;
  return stream_slots_[slot].stream;
}

uint64_t GoWorker::register_stream(Stream* s) {
  uint32_t slot;
  if (!free_slots_.empty()) {
    slot = free_slots_.back();
    free_slots_.pop_back();
  } else {
    slot = static_cast<uint32_t>(stream_slots_.size());
    stream_slots_.emplace_back();
  }
  StreamSlot& e = stream_slots_[slot];
  e.stream = s;
  e.generation = (e.generation + 1) & 0xffffff;
  return (static_cast<uint64_t>(worker_.id()) << 48) | (static_cast<uint64_t>(e.generation) << 24) | slot;
}

void GoWorker::unregister_stream(uint64_t handle) {
  const uint32_t slot = static_cast<uint32_t>(handle & 0xffffff);
  if (slot >= stream_slots_.size() || !stream_slots_[slot].stream) return;
  stream_slots_[slot].stream = nullptr;
  free_slots_.push_back(slot);
}

}  // namespace moe
