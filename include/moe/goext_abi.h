/* The C ABI between moe's C++ data plane and its Go side (goext/).
 *
 * Plain C: included by C++ (src/goext/) and by cgo (goext/bridge). Nothing
 * here allocates; every pointer is owned by C++ unless a comment says
 * otherwise.
 *
 * The contract, in one paragraph: for each event of a stream (request
 * headers, a request body chunk, request trailers, the same three for the
 * response, and the end of the stream) the worker thread calls
 * moe_go_on_event() ONCE; the whole filter chain of the listener runs inside
 * that call. Go reads headers through the moe_header array (the array is
 * valid during the call only; the names and values it points at are C++
 * memory stable for the life of the stream) and records every change as an
 * op in ev->ops (C++ memory, applied by C++ after the call returns). Go calls
 * into C only to grow the ops buffer (moe_ops_grow) and, from goroutines, to
 * ask for a resume (moe_post_resume).
 */
#ifndef MOE_GOEXT_ABI_H
#define MOE_GOEXT_ABI_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Events. */
enum {
  MOE_EV_REQUEST_HEADERS = 1,
  MOE_EV_REQUEST_DATA = 2,
  MOE_EV_REQUEST_TRAILERS = 3,
  MOE_EV_RESPONSE_HEADERS = 4,
  MOE_EV_RESPONSE_DATA = 5,
  MOE_EV_RESPONSE_TRAILERS = 6,
  MOE_EV_DONE = 7 /* always the last event; Go frees the stream's state */
};

/* Which events a chain wants (bit 1 << MOE_EV_*), returned by
 * moe_go_create_chain: C++ skips the crossing for events no filter
 * implements. MOE_EV_DONE is wanted whenever any other bit is. */

/* What moe_go_on_event / moe_go_on_resume return. */
enum {
  MOE_CONTINUE = 0,         /* go on: forward the (modified) event */
  MOE_STOP_AND_BUFFER = 1,  /* buffer this direction's body until its end (or
                               the limit: 413 for requests, 500 for responses),
                               then deliver it as one DATA event with
                               end_stream=1; for a HEADERS event the headers
                               are held back too */
  MOE_PENDING = 2,          /* a goroutine is working; wait for moe_post_resume */
  MOE_LOCAL_REPLY = 3       /* the ops hold a LOCAL_REPLY: send it, end the stream */
};

/* moe_event.end_stream bits. */
enum { MOE_EVF_END = 1, MOE_EVF_REPLY = 2 };

/* One header: the same layout as moe::HeaderSpan. */
typedef struct moe_header {
  const char* name; /* lower-case */
  const char* value;
  uint32_t name_len;
  uint32_t value_len;
} moe_header;

/* The op buffer Go writes into. C++ owns buf (malloc'd); Go appends at len
 * and calls moe_ops_grow when cap is too small. */
typedef struct moe_ops {
  char* buf;
  uint32_t len;
  uint32_t cap;
} moe_ops;

/* An op is a 12-byte little-endian head then its bytes:
 *   uint8 code, uint8 target, uint16 zero, uint32 a_len, uint32 b_len,
 *   a bytes, b bytes.
 * target: which block the op changes. */
enum {
  MOE_TARGET_REQUEST_HEADERS = 0,
  MOE_TARGET_RESPONSE_HEADERS = 1,
  MOE_TARGET_REQUEST_TRAILERS = 2,
  MOE_TARGET_RESPONSE_TRAILERS = 3,
  MOE_TARGET_REQUEST_BODY = 4,
  MOE_TARGET_RESPONSE_BODY = 5,
  MOE_TARGET_LOCAL_REPLY = 6, /* headers of the local reply (ADD ops) */
  MOE_TARGET_STREAM = 7,      /* the stream itself (KV_SET) */
  MOE_TARGET_LATER_RESPONSE_HEADERS = 8 /* the final response head when it comes (upstream's
                                           or a local reply), before its hooks: SET, ADD,
                                           ADD_IF_ABSENT */
};
enum {
  MOE_OP_SET = 1,          /* a = name (lower-case), b = value: replace all values */
  MOE_OP_ADD = 2,          /* a = name, b = value */
  MOE_OP_DEL = 3,          /* a = name */
  MOE_OP_SET_METHOD = 4,   /* a = method */
  MOE_OP_SET_PATH = 5,     /* a = request-target */
  MOE_OP_SET_HOST = 6,     /* a = authority */
  MOE_OP_SET_STATUS = 7,   /* a = decimal status */
  MOE_OP_BODY_REPLACE = 8, /* a = the new bytes of the current chunk (or whole buffered body) */
  MOE_OP_BODY_APPEND = 9,  /* a = bytes */
  MOE_OP_BODY_PREPEND = 10,/* a = bytes */
  MOE_OP_BODY_DRAIN = 11,  /* a = decimal count of bytes dropped from the front */
  MOE_OP_LOCAL_REPLY = 12, /* a = decimal status, b = body; headers: earlier ADD ops on MOE_TARGET_LOCAL_REPLY */
  MOE_OP_KV_SET = 13,      /* a = key, b = value: per-stream value, visible to the access log */
  MOE_OP_LOG = 14,         /* a = decimal level (0 trace .. 4 error), b = message */
  MOE_OP_ADD_IF_ABSENT = 15 /* a = name, b = value: add unless a field of that name is there */
};

/* Read-only facts about the stream, set before the first event (the last
 * fields are refreshed before every event). */
typedef struct moe_stream_info {
  const char* listener; uint32_t listener_len;
  const char* route; uint32_t route_len;     /* "" when no route matched */
  const char* cluster; uint32_t cluster_len; /* "" for a direct response */
  const char* downstream_addr; uint32_t downstream_addr_len; /* client IP */
  const char* protocol; uint32_t protocol_len; /* "HTTP/1.1", "HTTP/2" */
  uint32_t worker;
  int64_t start_unix_ns;
  /* These two change over the stream; Go reads them again at each event. */
  const char* upstream_addr; uint32_t upstream_addr_len; /* "" until an upstream is picked */
  const char* request_id; uint32_t request_id_len;       /* x-request-id, "" when absent */
} moe_stream_info;

/* One event. C++ fills it on the worker's stack; valid during the call. */
typedef struct moe_event {
  uint64_t handle;   /* the stream: worker (16 bits) | generation (24) | slot (24); for resume */
  uint64_t go_state; /* Go's own per-stream state id; 0 on the first event, Go sets it */
  uint32_t chain;    /* the chain id given to moe_go_create_chain */
  uint32_t kind;     /* MOE_EV_* */
  /* Bit 0 (MOE_EVF_END): the event ends its direction. Bit 1
   * (MOE_EVF_REPLY): a RESPONSE_HEADERS event for a reply moe makes (a
   * filter's local reply, a direct response, moe's own error): the hooks'
   * statuses other than Continue are ignored there (a reply cannot wait,
   * buffer or be replaced), and the chain goes on to the next filter. */
  uint32_t end_stream;
  /* Headers or trailers of this event (HEADERS/TRAILERS kinds). */
  const moe_header* headers;
  uint32_t header_count;
  /* The request's headers as they are now, on EVERY event, so a response
   * hook can read them. The array is valid during the call only (C++ edits
   * the list between events); the names and values it points at live for
   * the stream. */
  const moe_header* request_headers;
  uint32_t request_header_count;
  /* Request line (request events) and status (response events). */
  const char* method; uint32_t method_len;
  const char* path; uint32_t path_len;
  const char* scheme; uint32_t scheme_len;
  int32_t status;
  /* Body bytes (DATA kinds): a view valid during the call only. */
  const char* body; uint32_t body_len;
  /* DONE: final status sent to the client (0 = none), and timings. */
  int32_t final_status;
  uint64_t bytes_received, bytes_sent;
  int64_t duration_ns, upstream_ns;
  const moe_stream_info* info;
  moe_ops* ops;
  /* The worker loop's clock (monotonic ms, cached once per loop
   * iteration): time for Go's per-crossing housekeeping without a
   * clock_gettime per crossing. */
  uint64_t now_ms;
  /* moe_go_on_events only, set by Go: the event's status (MOE_CONTINUE...)
   * and its ops, ops->buf[ops_begin, ops_end). */
  int32_t result;
  uint32_t ops_begin, ops_end;
} moe_event;

/* ---- implemented in Go (goext/bridge), called by C++ ---- */
/* Starts nothing (the runtime is already up); applies runtime settings.
 * Returns 0. */
/* int32_t moe_go_configure(int32_t gomaxprocs, int32_t gc_percent, int64_t memory_limit); */
/* Sizes api.CPU's slots (go.async_procs): CPU-bound goroutines take at most
 * that many Ps, leaving one per worker. Returns 0. */
/* int32_t moe_go_set_async_procs(int32_t n); */
/* Opens a Go plugin; returns NULL or a malloc'd error message. */
/* char* moe_go_load_plugin(const char* path, uint32_t path_len); */
/* Builds a chain from a JSON array [{"name","config","timeout_ms","on_error"}].
 * Returns NULL or a malloc'd error message naming the filter; sets *events
 * to the MOE_EV bitmask the chain wants. */
/* char* moe_go_create_chain(uint32_t chain, const char* json, uint32_t json_len, uint32_t* events); */
/* Builds a chain from the same JSON as moe_go_create_chain and discards it
 * (factories implementing io.Closer are closed): SIGHUP's check. Returns
 * NULL or a malloc'd error message naming the filter. */
/* char* moe_go_validate_chain(const char* json, uint32_t json_len); */
/* Runs fn(arg) on the calling thread from inside a Go->C call and returns
 * when it does. A worker runs its whole event loop this way: the crossings
 * it makes are then nested callbacks, which skip the runtime's per-callback
 * wait for package initialisation (a lock and unlock of one channel shared
 * by every worker: runtime.cgocallbackg1, when m.ncgo == 0). */
/* void moe_go_run_thread(void (*fn)(void*), void* arg); */
/* int32_t moe_go_on_event(moe_event* ev); */
/* A batch: the header events a worker queued during one loop iteration,
 * for streams of header-only chains, in one crossing (docs/go-runtime.md,
 * "Batched header events"). Every evs[i].ops is the same buffer; Go
 * appends each event's ops and sets result, ops_begin and ops_end. */
/* void moe_go_on_events(moe_event* evs, uint32_t n); */
/* Called on the worker after moe_post_resume: Go continues the chain after
 * the filter that returned PENDING (same event kind as then); ev->kind is
 * that kind; headers are the current arrays, with the ops returned along
 * with PENDING already applied. */
/* int32_t moe_go_on_resume(moe_event* ev); */
/* malloc'd JSON for GET /go (GOMAXPROCS, goroutines, GC, crossings, panics). */
/* char* moe_go_runtime_json(void); */
/* Prometheus text lines for the filters' metrics (malloc'd). */
/* char* moe_go_metrics(void); */
/* The config keys filter `name` marked secret (api.SecretFields), one per
 * line, malloc'd; NULL when none. For GET /config_dump. */
/* char* moe_go_secret_fields(const char* name, uint32_t name_len); */

/* ---- implemented in C++ (src/goext), called by Go ---- */
/* Grows ops->buf to at least `need` bytes of capacity. */
void moe_ops_grow(moe_ops* ops, uint32_t need);
/* From any goroutine: wake the worker to call moe_go_on_resume for `handle`.
 * A stream that ended meanwhile makes this a no-op. */
void moe_post_resume(uint64_t handle);
/* From any goroutine: write to moe's error log. level 0 trace .. 4 error. */
void moe_log(int32_t level, const char* msg, uint32_t len);

#ifdef __cplusplus
}
#endif

#endif /* MOE_GOEXT_ABI_H */
