// The filter chain runtime a worker's streams cross into, as proxy sees it.
//
// The Go bridge implements it (goext/go_worker.h, one per worker); proxy owns
// the interface so that Stream calls down into it, never up a layer
// (docs/design/architecture.md). What crosses is the C ABI of
// moe/goext_abi.h: Stream fills a moe_event (proxy/stream_crossing.cc), the
// runtime runs the listener's whole chain on it in one call, and Stream
// applies the ops the chain left in *ev.ops.
//
// Thread: the owning worker's. Lifetime: the worker's; a stream holds a
// plain pointer.
#pragma once

#include <cstdint>
#include <utility>
#include <vector>

#include "moe/goext_abi.h"

namespace moe {

class Stream;

class FilterRuntime {
 public:
  // The MOE_EV_* bitmask of the events listener `li`'s chain wants (0: no
  // chain; such a stream never calls the runtime). Plain data, read once
  // per stream.
  uint32_t chain_events(int li) const {
    const auto i = static_cast<size_t>(li);
    return i < chain_events_.size() ? chain_events_[i] : 0;
  }

  // One crossing for one event of one stream: points ev.ops at the
  // runtime's op buffer (emptied), runs the chain, returns the status (a
  // moe_status). `resume`: the event a Pending filter waited on, again,
  // after the resume Go posted. Stream applies the ops, then empties the
  // buffer: it is the worker's, shared by every stream's crossings.
  virtual int32_t cross(moe_event& ev, bool resume) = 0;
  // The handle the runtime knows `s` by (for resumes and the batch), from
  // its first crossing until unregister_stream (when it ends). A resume
  // arrives as Stream::on_go_resume.
  virtual uint64_t register_stream(Stream* s) = 0;
  virtual void unregister_stream(uint64_t handle) = 0;
  // Queues a registered stream's held header event for the batched crossing
  // before the loop sleeps, which calls it back: fill_batched_event,
  // take_go_state, on_go_batched (proxy/stream.h).
  virtual void batch(uint64_t handle) = 0;

 protected:
  explicit FilterRuntime(std::vector<uint32_t> chain_events) : chain_events_(std::move(chain_events)) {}
  ~FilterRuntime() = default;

 private:
  std::vector<uint32_t> chain_events_;
};

}  // namespace moe
