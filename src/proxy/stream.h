// One request/response exchange, whatever the codecs on either side.
//
// The life of a request, in the order the methods below are called:
//   downstream codec: on_request_headers -> route (direct response or
//   cluster) -> ClusterPool::acquire -> on_upstream_ready -> request head and
//   body forwarded -> upstream codec: on_response_headers / data / trailers /
//   end -> encoded to the client -> finish(): stats, access log, the
//   downstream codec recycles the stream.
// Faults end the stream from either side: on_downstream_reset (client gone),
// on_upstream_failure (connect refused, overflow, reset before or during the
// response), on_timeout (route timeout).
//
// Backpressure: when the side a stream writes to is above its high
// watermark, the stream stops reading the other side, and resumes on
// *_drained. Request bytes that arrive before an upstream connection exists
// wait in pending_body_, bounded by the same watermark.
//
// Go filters: when the listener has a chain, each event the chain wants is
// one crossing (call_go, into the worker's FilterRuntime: the Go bridge);
// the ops Go recorded are applied before the event goes on
// (proxy/stream_crossing.cc). One event of a stream is in Go at a time: while a filter is
// Pending, the events of both directions that come after it wait (in order,
// bounded) until Go posts a resume, which the worker delivers to
// on_go_resume(); then every filter sees them (proxy/stream_chain.cc).
// StopAndBuffer holds a direction's body (and, at headers, its headers)
// until the end, then hands the whole body to Go once.
//
// Ownership: the downstream codec owns the Stream. The upstream codec and the
// pool hold plain pointers that the stream clears (detach_upstream, cancel)
// before it completes. Thread: the owning worker.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "config/config.h"
#include "core/intrusive_list.h"
#include "core/slab.h"
#include "core/timer_list.h"
#include "moe/goext_abi.h"
#include "http/codec.h"
#include "proxy/filter_runtime.h"

namespace moe {

class Worker;
class ClusterPool;

// StreamEvents (http/codec.h): what the codecs call; the heads, trailers
// and the facts they read (finished, request_complete...) live there.
class Stream final : public StreamEvents, public TimerNode {
 public:
  // `filters`: the worker's filter runtime, or null (no chain anywhere).
  Stream(Worker& worker, DownstreamCodec& downstream, int listener_index, FilterRuntime* filters);
  ~Stream() override;

  // One per request: from the worker thread's slab, not malloc.
  static void* operator new(size_t) { return Slab<sizeof(Stream)>::alloc(); }
  static void operator delete(void* p) { Slab<sizeof(Stream)>::release(p); }

  // StreamEvents: downstream events.
  void on_request_headers(bool end_stream) override;
  void on_request_data(const char* p, size_t n) override;
  void on_request_trailers() override;
  void on_request_end() override;
  void on_downstream_reset() override;
  void on_downstream_drained() override;
  void send_local_reply(int status, std::string_view body, bool close = false) override;

  // StreamEvents: from the pool and the upstream codec.
  void on_upstream_attached(UpstreamCodec& upstream) override { upstream_ = &upstream; }
  void on_upstream_ready(UpstreamCodec& upstream) override;
  void on_upstream_failure(UpstreamFailure why, std::string_view detail, std::string_view endpoint = {}) override;
  void on_response_headers(bool end_stream) override;
  void on_response_data(const char* p, size_t n) override;
  void on_response_trailers() override;
  void on_response_end() override;
  void on_upstream_drained() override;

  bool tunnel() const { return tunnel_; }
  bool retried() const { return retried_; }

  // TimerNode: the route timeout.
  void on_timeout() override;

  // The filter runtime found this stream for a resume Go posted.
  void on_go_resume();
  // The runtime's batch crossing (FilterRuntime::batch; GoWorker::run_batch):
  // the queued header event, the Go state Go returned with it, then its
  // status and ops.
  void fill_batched_event(moe_event& ev, moe_ops& ops);
  void take_go_state(const moe_event& ev) { go_state_ = ev.go_state; }
  void on_go_batched(const moe_event& ev, moe_ops& ops);

  ListLink pending_link;  // in ClusterPool's pending queue
  // In ClusterPool's stalled list while upstream reading is off because the
  // client does not take the response (encode_response_data).
  ListLink stalled_link;
  // Since when the client has taken none of the response: the later of the
  // stall's start and the codec's last progress.
  uint64_t stalled_since_ms() const;
  // The pool needs the connection for a request that waits
  // (ClusterPool::shed_stalled): the response is cut, the upstream goes.
  void shed_stalled();

 private:
  void route_and_forward();
  // The Go chain's side of both bodies (proxy/stream_chain.cc says how
  // events wait while one is in Go). show_*_data: one DATA event; false
  // when the stream went another way (Pending, a reply, an error).
  bool show_request_data(std::string_view chunk, bool end);
  void request_data_passed(int32_t r, std::string_view chunk);
  // A body hook changed a sized request body's size: fine while the head is
  // held (fixed when it goes), fatal once it is committed. False if fatal.
  bool request_body_resized();
  // Shows the request events that waited for the chain, then lets the head
  // and the end go once every hook has passed them.
  void pump_request();
  void release_request_head();
  void request_end_ready();  // the end goes upstream now, or when the upstream is ready
  void send_request_end();
  bool show_response_data(std::string_view chunk, bool end);
  void response_data_passed(int32_t r, std::string_view chunk, bool end);
  void pump_response();
  void release_response_head();
  void end_response();
  void forward_request_data(const char* p, size_t n);
  // Tunnel payload (CONNECT data, bytes after an Upgrade request): held in
  // tunnel_early_ until the upstream agrees and the request's own body has
  // passed the chain and gone (open_tunnel), then forwarded.
  void on_tunnel_data(const char* p, size_t n);
  bool tunnel_open() const { return tunnel_ && req_end_ready_; }
  // Backpressure on the client: stop / start reading it (once each).
  void pause_downstream();
  void resume_downstream();
  void open_tunnel();
  void encode_response_headers(bool end_stream);
  void encode_response_data(const char* p, size_t n, bool end_stream);
  void resume_upstream_read();  // undoes the read_disable of on_response_data / encode_response_data
  // One crossing. Applies the ops; returns the status (MOE_LOCAL_REPLY when
  // the ops ended the stream). `chunk` (DATA kinds) may be replaced.
  int32_t call_go(uint32_t kind, bool end_stream, std::string_view* chunk, bool resume = false);
  void fill_event(moe_event& ev, uint32_t kind, bool end_stream, std::string_view* chunk);
  void register_go();  // the handle and the fixed stream info, on the first crossing
  void apply_ops(std::string_view* chunk, const moe_ops& ops, uint32_t begin, uint32_t end);
  // A header event of a header-only chain goes into the runtime's batch
  // instead of crossing now; the direction waits as for Pending. False
  // when the chain has body or trailer hooks (their chunks are views into
  // the read buffer, valid only now) or the stream is replying.
  bool batch_go(uint32_t kind, bool end_stream);
  // After Go answered an event late (a resume, the batch): go on.
  void continue_after_go(uint32_t kind, int32_t r);
  bool wants(uint32_t kind) const { return go_events_ & (1u << kind); }
  // Headers: a direct response's (from the config) or a filter's local reply's.
  void send_reply(int status, std::string_view body, std::span<const config::HeaderValue> headers, bool close);
  // Removes hop-by-hop fields and the ones a Connection field names (Upgrade
  // stays when keep_upgrade); callers add "connection: upgrade" themselves.
  void strip_hop_by_hop(MessageHead& head, bool keep_upgrade);
  const config::Listener& listener_config() const;
  void match(const config::Listener& lc);  // route_index_ and route_ for the request as it is now
  // The listener's path_normalization on a request path that is not already
  // normal (path_is_normal), before match(); false when that answered the
  // request (400, or a 307 unless after_filter).
  bool normalize_request_path(const config::Listener& lc, bool after_filter);
  // The response is partly out and cannot be completed: gRPC over HTTP/2
  // ends with grpc-status `grpc_code` in trailers, anything else is reset.
  void abort_response(int grpc_code, std::string_view why);
  // A Go filter resized a sized request body after its head was committed.
  void body_size_changed();
  // The request cannot go on: the upstream goes; the client gets `status`
  // with `reply` (a line), or the response is cut when its head is out.
  void fail_request(int status, int grpc_code, std::string_view reply);
  void add_forwarding_headers();
  void detach_upstream();
  // The upstream is done with the stream (its end, or its failure): off the
  // pool's lists, pool_ cleared. (detach_upstream: the stream lets go first.)
  void leave_pool();
  void finish();
  void flag(const char* code) { flags_ = code; }

  Worker& worker_;
  FilterRuntime* filters_;
  DownstreamCodec& downstream_;
  UpstreamCodec* upstream_ = nullptr;  // attached (maybe still connecting)
  bool upstream_ready_ = false;         // the request head went out on upstream_
  ClusterPool* pool_ = nullptr;  // set while waiting in a pending queue or attached
  int listener_index_;
  int route_index_ = -1;  // within the listener
  const config::Route* route_ = nullptr;

  std::string pending_body_;  // request bytes past the chain, waiting for the upstream
  // A body a filter asked to see whole (StopAndBuffer) is held up to this
  // when the route sets no max_request_body.
  static constexpr size_t kDefaultBufferLimit = 8 * 1024 * 1024;
  std::string tunnel_early_;  // tunnel payload before the upstream's 101 / 2xx
  std::string_view received_path_;  // the path as the client sent it (arena view)
  // Stream.Set values of the keys log.access_log_values names, in its
  // order; null until a filter sets one (set_log_value).
  std::unique_ptr<std::string[]> log_values_;
  void set_log_value(std::string_view key, std::string_view value);

  uint64_t start_us_;
  uint64_t upstream_start_us_ = 0;
  uint64_t end_us_ = 0;  // set by finish(): the DONE event's timings
  uint64_t bytes_received_ = 0;
  uint64_t bytes_sent_ = 0;
  uint64_t request_body_bytes_ = 0;
  uint64_t stall_start_ms_ = 0;  // while stalled_link is linked
  uint64_t max_body_ = 0;
  std::string_view upstream_host_;  // the endpoint text in the config: stable
  const char* flags_ = "-";

  bool request_headers_done_ = false;
  bool request_has_trailers_ = false;
  bool tunnel_ = false;
  bool retried_ = false;
  bool downstream_read_disabled_ = false;
  bool upstream_read_disabled_ = false;

  // Go filter state (all idle when the listener has no chain).
  uint32_t go_events_ = 0;
  uint64_t go_state_ = 0;
  uint64_t handle_ = 0;
  uint32_t go_pending_ = 0;         // the MOE_EV_* a filter is Pending on, or that waits in the batch
  bool go_batched_ = false;         // go_pending_ waits in the runtime's batch, not for a resume
  bool go_batched_end_ = false;     // end_stream of the batched event
  bool req_buffering_ = false;      // StopAndBuffer on the request: req_unseen_ collects the body
  bool req_end_shown_ = false;      // the body hooks saw end_stream
  bool req_trailers_held_ = false;  // trailers came; their hooks have not run yet
  bool req_held_ = false;           // request not yet routed/forwarded (filters)
  bool req_resized_ = false;        // a body hook resized a sized body while the head was held
  bool req_whole_ = false;          // the body went to the chain whole while the head was held
  bool req_end_ready_ = false;      // every request event has passed the chain: the end may go upstream
  bool go_chunk_end_ = false;       // end_stream of the DATA event in go_chunk_
  bool resp_buffering_ = false;     // StopAndBuffer on the response: resp_body_ collects the body
  bool resp_held_ = false;          // response headers not yet sent (filters)
  bool resp_headers_queued_ = false;  // the headers came while an event was in Go: not shown yet
  bool resp_headers_end_ = false;     // their end_stream
  bool resp_whole_ = false;         // the body went to the chain whole while the head was held
  bool resp_end_held_ = false;      // the upstream's response is complete
  bool resp_end_shown_ = false;     // the body hooks saw end_stream
  bool resp_trailers_held_ = false;  // trailers came: they go out after the body
  bool resp_trailers_shown_ = false;  // their hooks ran
  bool head_modified_ = false;      // a filter changed method/path/host/headers: route again
  bool grpc_ = false;               // an HTTP/2 request with content-type application/grpc*
  bool rid_stale_ = true;           // info_.request_id needs a lookup before the next crossing
  bool replying_ = false;           // send_reply is running the response hooks
  std::string req_unseen_;          // request body bytes no body hook has seen (or buffered)
  std::string go_chunk_;            // the DATA chunk a filter is Pending on (shown again on resume)
  std::string resp_body_;           // response bytes not through the chain yet (held, buffered), or
                                    // the whole body past it for a head held since its hooks (resp_whole_)
  std::string scratch_;             // a chunk rewritten by body ops
  // Response headers filters asked for before the response came
  // (MOE_TARGET_LATER_RESPONSE_HEADERS): put on the final response head,
  // the upstream's or a local reply's, before its hooks. The strings are in
  // the request's arena (stable for the stream); the array is from the
  // thread's slab, so the usual one or two cost no malloc.
  struct LaterHeader {
    std::string_view name, value;
    uint8_t op;
  };
  std::vector<LaterHeader, SlabAllocator<LaterHeader, 4>> later_headers_;
  void apply_later_headers();
  moe_stream_info info_{};
};

// The StreamFactory (http/codec.h) of the proxy: a Stream for every request
// a server connection reads. The server sets one on each worker
// (Worker::set_streams) with that worker's filter runtime (or null).
class ProxyStreams final : public StreamFactory {
 public:
  ProxyStreams(Worker& w, FilterRuntime* filters) : worker_(w), filters_(filters) {}
  std::unique_ptr<StreamEvents> new_stream(DownstreamCodec& codec, int listener_index) override {
    return std::make_unique<Stream>(worker_, codec, listener_index, filters_);
  }

 private:
  Worker& worker_;
  FilterRuntime* filters_;
};

}  // namespace moe
