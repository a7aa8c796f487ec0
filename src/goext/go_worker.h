// A worker's side of the Go bridge: the streams Go may resume, the resumes
// goroutines post, the batched crossing of header events, and the op buffer
// of the crossings.
//
// One per worker, made by the server (server/server.cc) before the worker
// starts, installed twice: as the worker's extension (core/worker.h: the
// loop calls it before it sleeps and when a resume woke it) and as the
// filter runtime its streams cross into (proxy/filter_runtime.h). The Worker
// owns it. Thread: the worker's, except post_resume.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "core/worker.h"
#include "moe/goext_abi.h"
#include "proxy/filter_runtime.h"

namespace moe {

class GoWorker final : public FilterRuntime, public WorkerExtension {
 public:
  // chain_events[i]: the MOE_EV bitmask of listener i's Go chain (go::start).
  GoWorker(Worker& worker, std::vector<uint32_t> chain_events);
  ~GoWorker() override;
  GoWorker(const GoWorker&) = delete;
  GoWorker& operator=(const GoWorker&) = delete;

  // Any thread (a goroutine, through moe_post_resume): the stream under
  // `handle` goes on (Stream::on_go_resume) on the worker's loop, unless it
  // has ended by then.
  void post_resume(uint64_t handle) { worker_.post_to_extension(handle); }
  // The stream registered under `handle`, or null if it has ended.
  Stream* find_stream(uint64_t handle) const;

  // FilterRuntime. A handle is worker (16 bits) | generation (24) | slot
  // (24): a stale handle (the stream ended, the slot was reused) does not
  // match the slot's generation and is ignored.
  int32_t cross(moe_event& ev, bool resume) override;
  uint64_t register_stream(Stream* s) override;
  void unregister_stream(uint64_t handle) override;
  void batch(uint64_t handle) override {
    batch_.push_back(handle);
    worker_.want_check();
  }

  // WorkerExtension.
  void run_thread(void (*fn)(void*), void* arg) override;  // inside Go (go::run_thread)
  void on_check() override { run_batch(); }
  void on_posted(std::span<const uint64_t> resumes) override;

 private:
  void run_batch();

  Worker& worker_;
  moe_ops ops_{};  // one crossing at a time per worker
  // The batch: handles queued this iteration, the events built for its
  // crossing, and the op buffer Go writes them into. The batch has its
  // own buffer because applying one stream's result can make synchronous
  // crossings (a local reply's response hooks, DONE) into ops_ while
  // the other streams' ops still wait to be applied.
  std::vector<uint64_t> batch_;
  std::vector<uint64_t> batch_running_;
  std::vector<moe_event> batch_events_;
  moe_ops batch_ops_{};
  struct StreamSlot {
    Stream* stream = nullptr;
    uint32_t generation = 0;
  };
  std::vector<StreamSlot> stream_slots_;
  std::vector<uint32_t> free_slots_;
};

}  // namespace moe
