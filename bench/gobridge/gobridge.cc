// Go bridge micro-benchmarks (bench/gobridge, run by `bench/run --scenarios gobridge`).
//
// Links build/goext/libmoego.a (the same c-archive moe links) and drives its
// exports the way a moe worker does: a long-lived C++ thread calls
// moe_go_on_event() with a realistic moe_event (a few request headers, the
// request line, stream info, an ops buffer) for a chain built with
// moe_go_create_chain(). No socket, no parser: only the crossing and the
// chain's work are timed.
//
//   gobridge cross FILTERS REQUESTS RUNS     ns per crossing, REQUEST_HEADERS + DONE per request
//   gobridge count                           crossings per request for chains of 1, 3, 10 `headers`
//   gobridge lat SAMPLES GAP_US [PLUGIN.so]  latency of single crossings with GAP_US of C work
//                                            between them (the burner plugin loads the Go side)
//
// Each mode prints one JSON object per result line, prefixed with "RESULT ".
// Environment: GOBRIDGE_PROCS (GOMAXPROCS to configure; default 3 = 1 worker
// + 2 async_procs, moe's default design), GOBRIDGE_GC_PERCENT (default 100).
//
// Build (bench/run does this; no CMake target, bench/ is not part of the build):
//   g++ -std=c++20 -O2 -Iinclude -Isrc bench/gobridge/gobridge.cc build/goext/libmoego.a
//       -rdynamic -ldl -lpthread -o bench/work/bin/gobridge
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdarg>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include <time.h>

#include "moe/goext_abi.h"

extern "C" {
int32_t moe_go_configure(int32_t gomaxprocs, int32_t gc_percent, int64_t memory_limit);
char* moe_go_load_plugin(const char* path, uint32_t path_len);
char* moe_go_create_chain(uint32_t chain, const char* json, uint32_t json_len, uint32_t* events);
int32_t moe_go_on_event(moe_event* ev);
void moe_go_run_thread(void (*fn)(void*), void* arg);
int32_t moe_go_on_resume(moe_event* ev);
char* moe_go_runtime_json(void);
}

// ---- the three C functions the archive calls (moe's are in src/goext/go_bridge.cc) ----

extern "C" void moe_ops_grow(moe_ops* ops, uint32_t need) {
  uint32_t cap = ops->cap ? ops->cap : 4096;
  while (cap < need) cap *= 2;
  if (cap == ops->cap) return;
  ops->buf = static_cast<char*>(realloc(ops->buf, cap));
  ops->cap = cap;
}

static std::atomic<uint64_t> g_resumes{0};
extern "C" void moe_post_resume(uint64_t) { g_resumes.fetch_add(1, std::memory_order_relaxed); }

extern "C" void moe_log(int32_t level, const char* msg, uint32_t len) {
  if (level >= 3) fprintf(stderr, "[go %d] %.*s\n", level, static_cast<int>(len), msg);
}

// ---- helpers ----

static int64_t now_ns() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

static std::string take(char* p) {
  if (!p) return {};
  std::string s(p);
  free(p);
  return s;
}

static void die(const std::string& msg) {
  fprintf(stderr, "gobridge: %s\n", msg.c_str());
  exit(1);
}

// A number from GET /go's JSON ("crossings":123).
static uint64_t runtime_field(const char* key) {
  std::string j = take(moe_go_runtime_json());
  std::string k = std::string("\"") + key + "\":";
  size_t at = j.find(k);
  return at == std::string::npos ? 0 : strtoull(j.c_str() + at + k.size(), nullptr, 10);
}

static int env_int(const char* name, int def) {
  const char* v = getenv(name);
  return v && *v ? atoi(v) : def;
}

static void configure() {
  int procs = env_int("GOBRIDGE_PROCS", 3);
  moe_go_configure(procs, env_int("GOBRIDGE_GC_PERCENT", 100), 0);
}

// A chain of n `headers` filters, each setting one request and one response header.
static uint32_t make_chain(uint32_t id, int n) {
  std::string json = "[";
  for (int i = 0; i < n; i++) {
    if (i) json += ",";
    json += "{\"name\":\"headers\",\"config\":{\"request_set\":{\"x-bench-" + std::to_string(i) +
            "\":\"1\"},\"response_set\":{\"x-bench-" + std::to_string(i) +
            "\":\"1\"}},\"timeout_ms\":5000,\"on_error\":\"fail_closed\"}";
  }
  json += "]";
  uint32_t events = 0;
  std::string err = take(moe_go_create_chain(id, json.data(), static_cast<uint32_t>(json.size()), &events));
  if (!err.empty()) die("moe_go_create_chain: " + err);
  return events;
}

// What a worker has for one stream: the headers moe would pass for a small GET.
struct Hdr {
  const char* n;
  const char* v;
};
static const Hdr kReq[] = {{"host", "127.0.0.1:18081"},
                           {"user-agent", "wrk/4.2.0"},
                           {"accept", "*/*"},
                           {"accept-encoding", "gzip"},
                           {"x-forwarded-proto", "http"}};
static const Hdr kResp[] = {{"server", "nginx"},
                            {"date", "Thu, 27 Nov 2025 12:00:00 GMT"},
                            {"content-type", "text/plain"},
                            {"content-length", "2"},
                            {"connection", "keep-alive"}};

struct Sim {
  moe_header req[5], resp[5];
  moe_stream_info info{};
  moe_ops ops{};
  uint64_t next_slot = 1;
  uint64_t events_ = 0;
  uint64_t now_ms_ = 0;

  Sim() {
    auto fill = [](moe_header* out, const Hdr* in) {
      for (int i = 0; i < 5; i++)
        out[i] = {in[i].n, in[i].v, static_cast<uint32_t>(strlen(in[i].n)), static_cast<uint32_t>(strlen(in[i].v))};
    };
    fill(req, kReq);
    fill(resp, kResp);
    info.listener = "bench";
    info.listener_len = 5;
    info.route = "";
    info.cluster = "upstream";
    info.cluster_len = 8;
    info.downstream_addr = "127.0.0.1";
    info.downstream_addr_len = 9;
    info.protocol = "HTTP/1.1";
    info.protocol_len = 8;
    info.worker = 0;
    moe_ops_grow(&ops, 4096);
  }
  ~Sim() { free(ops.buf); }

  // handle: worker 0 | generation (24 bits) | slot (24 bits), as moe builds it.
  uint64_t new_handle() {
    uint64_t s = next_slot++;
    return ((s >> 24) & 0xffffff) << 24 | (s & 0xffffff);
  }

  int32_t event(uint64_t handle, uint64_t& go_state, uint32_t chain, uint32_t kind, bool end_stream) {
    moe_event ev{};
    ev.handle = handle;
    ev.go_state = go_state;
    ev.chain = chain;
    ev.kind = kind;
    ev.end_stream = end_stream;
    if (kind == MOE_EV_REQUEST_HEADERS) {
      ev.headers = req;
      ev.header_count = 5;
    } else if (kind == MOE_EV_RESPONSE_HEADERS) {
      ev.headers = resp;
      ev.header_count = 5;
    }
    ev.request_headers = req;
    ev.request_header_count = 5;
    ev.method = "GET";
    ev.method_len = 3;
    ev.path = "/";
    ev.path_len = 1;
    ev.scheme = "http";
    ev.scheme_len = 4;
    ev.status = kind >= MOE_EV_RESPONSE_HEADERS ? 200 : 0;
    if (kind == MOE_EV_RESPONSE_DATA) {
      ev.body = "ok";
      ev.body_len = 2;
    }
    if (kind == MOE_EV_DONE) {
      ev.final_status = 200;
      ev.bytes_received = 120;
      ev.bytes_sent = 150;
      ev.duration_ns = 50000;
      ev.upstream_ns = 40000;
    }
    // moe passes its loop's cached ms clock; refresh it every 64 events.
    if ((events_++ & 63) == 0) now_ms_ = static_cast<uint64_t>(now_ns() / 1000000);
    ev.now_ms = now_ms_;
    ev.info = &info;
    ops.len = 0;  // moe applies and then drops the ops after every call
    ev.ops = &ops;
    int32_t r = moe_go_on_event(&ev);
    go_state = ev.go_state;
    return r;
  }
};

// A worker thread as moe runs one: its body inside moe_go_run_thread, so its
// crossings are nested callbacks (goext_abi.h). GOBRIDGE_FLAT=1 calls the
// body directly instead (how moe ran workers before), for comparison.
template <typename Fn>
static std::thread worker_thread(Fn& body) {
  return std::thread([&body] {
    const char* flat = getenv("GOBRIDGE_FLAT");
    if (flat && *flat == '1') {
      body();
      return;
    }
    moe_go_run_thread([](void* b) { (*static_cast<Fn*>(b))(); }, &body);
  });
}

static void print_result(const std::string& json) {
  printf("RESULT %s\n", json.c_str());
  fflush(stdout);
}

static std::string fmt(const char* f, ...) __attribute__((format(printf, 1, 2)));
static std::string fmt(const char* f, ...) {
  char buf[1024];
  va_list ap;
  va_start(ap, f);
  vsnprintf(buf, sizeof buf, f, ap);
  va_end(ap);
  return buf;
}

// ---- cross: ns per crossing ----

static int cmd_cross(int filters, long requests, int runs) {
  configure();
  const uint32_t chain = 1;
  uint32_t events = make_chain(chain, filters);
  std::vector<double> per, floor;
  long bad = 0;
  auto body = [&] {
    Sim sim;
    auto one = [&] {
      uint64_t st = 0, h = sim.new_handle();
      if (sim.event(h, st, chain, MOE_EV_REQUEST_HEADERS, true) != MOE_CONTINUE) bad++;
      sim.event(h, st, chain, MOE_EV_DONE, true);
    };
    for (long i = 0; i < std::min(requests, 100000L); i++) one();  // warm-up: M bound, slots allocated
    for (int r = 0; r < runs; r++) {
      int64_t t0 = now_ns();
      for (long i = 0; i < requests; i++) one();
      per.push_back(static_cast<double>(now_ns() - t0) / (2.0 * requests));
      // The floor: DONE for a stream Go has no state for returns at once, so
      // this is the export's entry and exit (cgocallback, P, the stream
      // table lookup) without any chain work.
      t0 = now_ns();
      for (long i = 0; i < requests; i++) {
        uint64_t st = 0;
        sim.event(sim.new_handle(), st, chain, MOE_EV_DONE, true);
      }
      floor.push_back(static_cast<double>(now_ns() - t0) / static_cast<double>(requests));
    }
  };
  std::thread t = worker_thread(body);
  t.join();
  if (bad) die(fmt("%ld REQUEST_HEADERS events did not return MOE_CONTINUE", bad));
  std::vector<double> s = per, f = floor;
  std::sort(s.begin(), s.end());
  std::sort(f.begin(), f.end());
  std::string all, allf;
  for (double x : per) all += (all.empty() ? "" : ",") + fmt("%.1f", x);
  for (double x : floor) allf += (allf.empty() ? "" : ",") + fmt("%.1f", x);
  print_result(fmt("{\"mode\":\"cross\",\"filters\":%d,\"events_mask\":%u,\"requests\":%ld,\"runs\":%d,"
                   "\"gomaxprocs\":%d,\"median_ns\":%.1f,\"min_ns\":%.1f,\"max_ns\":%.1f,\"per_run\":[%s],"
                   "\"floor_median_ns\":%.1f,\"floor_per_run\":[%s]}",
                   filters, events, requests, runs, env_int("GOBRIDGE_PROCS", 3), s[s.size() / 2], s.front(),
                   s.back(), all.c_str(), f[f.size() / 2], allf.c_str()));
  return 0;
}

// ---- count: crossings per request for 1, 3, 10 filters ----

static int cmd_count() {
  configure();
  const int sizes[] = {1, 3, 10};
  uint32_t masks[3];
  for (int i = 0; i < 3; i++) masks[i] = make_chain(static_cast<uint32_t>(10 + i), sizes[i]);
  // A small GET's life in moe (src/proxy/stream.cc): request headers with
  // end_stream (no body), response headers, one response body chunk with
  // end_stream, end of stream. A crossing happens only for the kinds in the
  // chain's mask, and DONE only while Go still holds the stream's state
  // (go_state != 0: a header-only chain frees it at its last headers event).
  struct Step {
    uint32_t kind;
    bool end;
  };
  const Step life[] = {{MOE_EV_REQUEST_HEADERS, true},
                       {MOE_EV_RESPONSE_HEADERS, false},
                       {MOE_EV_RESPONSE_DATA, true},
                       {MOE_EV_DONE, true}};
  const long requests = 10000;
  std::string lines[3];
  auto body = [&] {
    Sim sim;
    for (int i = 0; i < 3; i++)  // warm-up: M bound, stream slots allocated
      for (int r = 0; r < 2000; r++) {
        uint64_t st = 0, h = sim.new_handle();
        for (const Step& s : life)
          if ((masks[i] & (1u << s.kind)) && (s.kind != MOE_EV_DONE || st))
            sim.event(h, st, static_cast<uint32_t>(10 + i), s.kind, s.end);
      }
    for (int i = 0; i < 3; i++) {
      uint32_t chain = static_cast<uint32_t>(10 + i);
      uint64_t go_before = runtime_field("crossings");
      long calls = 0, bad = 0;
      int64_t t0 = now_ns();
      for (long r = 0; r < requests; r++) {
        uint64_t st = 0, h = sim.new_handle();
        for (const Step& s : life) {
          if (!(masks[i] & (1u << s.kind)) || (s.kind == MOE_EV_DONE && !st)) continue;
          calls++;
          if (sim.event(h, st, chain, s.kind, s.end) != MOE_CONTINUE) bad++;
        }
      }
      int64_t took = now_ns() - t0;
      uint64_t go_calls = runtime_field("crossings") - go_before;
      // every filter must have set its response header: check the last request's ops
      std::string kinds;
      for (const Step& s : life)
        if (masks[i] & (1u << s.kind)) kinds += (kinds.empty() ? "" : "+") + std::to_string(s.kind);
      lines[i] = fmt("{\"mode\":\"count\",\"filters\":%d,\"events_mask\":%u,\"event_kinds\":\"%s\",\"requests\":%ld,"
                     "\"crossings\":%ld,\"go_counted\":%llu,\"per_request\":%.3f,\"ns_per_request\":%.1f,\"bad\":%ld}",
                     sizes[i], masks[i], kinds.c_str(), requests, calls, static_cast<unsigned long long>(go_calls),
                     static_cast<double>(calls) / requests, static_cast<double>(took) / requests, bad);
    }
  };
  std::thread t = worker_thread(body);
  t.join();
  for (auto& l : lines) print_result(l);
  return 0;
}

// ---- lat: single crossings with C work between them ----

static int cmd_lat(long samples, int gap_us, const char* plugin) {
  configure();
  std::string label = "idle";
  if (plugin && *plugin) {
    std::string err = take(moe_go_load_plugin(plugin, static_cast<uint32_t>(strlen(plugin))));
    if (!err.empty()) die("moe_go_load_plugin: " + err);
    const char* b = getenv("MOE_BENCH_BURN");
    label = b && *b ? b : "idle (burner plugin loaded, nothing started)";
  }
  const uint32_t chain = 1;
  make_chain(chain, 1);
  std::this_thread::sleep_for(std::chrono::milliseconds(300));  // let burners start
  std::vector<int64_t> lat;
  lat.reserve(static_cast<size_t>(samples));
  uint64_t gc_before = runtime_field("num_gc");
  int64_t wall0 = now_ns();
  auto body = [&] {
    Sim sim;
    for (int i = 0; i < 2000; i++) {  // warm-up
      uint64_t st = 0, h = sim.new_handle();
      sim.event(h, st, chain, MOE_EV_REQUEST_HEADERS, true);
      sim.event(h, st, chain, MOE_EV_DONE, true);
    }
    auto work = [&] {  // the worker's C side between events: parsing, I/O
      int64_t until = now_ns() + gap_us * 1000LL;
      while (now_ns() < until) {
      }
    };
    while (static_cast<long>(lat.size()) < samples) {
      uint64_t st = 0, h = sim.new_handle();
      work();
      int64_t a = now_ns();
      sim.event(h, st, chain, MOE_EV_REQUEST_HEADERS, true);
      int64_t b = now_ns();
      lat.push_back(b - a);
      work();
      a = now_ns();
      sim.event(h, st, chain, MOE_EV_DONE, true);
      b = now_ns();
      lat.push_back(b - a);
    }
  };
  std::thread t = worker_thread(body);
  t.join();
  double wall = static_cast<double>(now_ns() - wall0) / 1e9;
  uint64_t gcs = runtime_field("num_gc") - gc_before;
  std::vector<int64_t> s = lat;
  std::sort(s.begin(), s.end());
  auto q = [&](double p) { return s[std::min(s.size() - 1, static_cast<size_t>(p * static_cast<double>(s.size())))]; };
  long over1ms = std::count_if(s.begin(), s.end(), [](int64_t x) { return x > 1000000; });
  long over50us = std::count_if(s.begin(), s.end(), [](int64_t x) { return x > 50000; });
  print_result(fmt("{\"mode\":\"lat\",\"load\":\"%s\",\"samples\":%zu,\"gap_us\":%d,\"gomaxprocs\":%d,"
                   "\"p50_ns\":%lld,\"p99_ns\":%lld,\"p999_ns\":%lld,\"max_ns\":%lld,\"over_50us\":%ld,"
                   "\"over_1ms\":%ld,\"gc_cycles\":%llu,\"wall_s\":%.2f}",
                   label.c_str(), s.size(), gap_us, env_int("GOBRIDGE_PROCS", 3), static_cast<long long>(q(0.50)),
                   static_cast<long long>(q(0.99)), static_cast<long long>(q(0.999)), static_cast<long long>(s.back()),
                   over50us, over1ms, static_cast<unsigned long long>(gcs), wall));
  return 0;
}

int main(int argc, char** argv) {
  std::string mode = argc > 1 ? argv[1] : "";
  if (mode == "cross" && argc >= 5) return cmd_cross(atoi(argv[2]), atol(argv[3]), atoi(argv[4]));
  if (mode == "count") return cmd_count();
  if (mode == "lat" && argc >= 4) return cmd_lat(atol(argv[2]), atoi(argv[3]), argc > 4 ? argv[4] : nullptr);
  fprintf(stderr,
          "usage: gobridge cross FILTERS REQUESTS RUNS | count | lat SAMPLES GAP_US [PLUGIN.so]\n"
          "env: GOBRIDGE_PROCS (GOMAXPROCS, default 3), GOBRIDGE_GC_PERCENT (default 100),\n"
          "     MOE_BENCH_BURN (burner plugin: e.g. spin=2,gc=1)\n");
  return 2;
}
