// Counters and histograms, one set per worker.
//
// A worker is the only writer of its own Stats; the admin thread reads every
// worker's set and adds them up. Each cell is a std::atomic used with relaxed
// load + store (not fetch_add): on x86-64 that is a plain `add` to memory, no
// lock prefix, no shared cache line between workers, and still a defined read
// for the admin thread.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace moe {

using Counter = std::atomic<uint64_t>;

inline void add(Counter& c, uint64_t n = 1) {
  c.store(c.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
}
inline void sub(Counter& c, uint64_t n = 1) {
  c.store(c.load(std::memory_order_relaxed) - n, std::memory_order_relaxed);
}
inline uint64_t get(const Counter& c) { return c.load(std::memory_order_relaxed); }

// Latency histogram with fixed bucket bounds (seconds), Prometheus style.
struct Histogram {
  static constexpr std::array<double, 14> kBounds = {
      0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
  std::array<Counter, kBounds.size() + 1> buckets{};  // last = +Inf
  Counter sum_us{0};
  Counter count{0};
  void observe_us(uint64_t us);
};

// Status classes: index 0 = "no response" (reset before any status), 1..5 = 1xx..5xx.
constexpr int kStatusClasses = 6;
inline int status_class(int status) {
  return (status >= 100 && status < 600) ? status / 100 : 0;
}

struct RouteStats {
  std::array<Counter, kStatusClasses> requests{};
};

struct ListenerStats {
  Counter connections_active{0};
  Counter connections_total{0};
  Counter connections_rejected{0};  // over max_connections
  Counter bytes_received{0};
  Counter bytes_sent{0};
  Counter protocol_errors{0};  // malformed requests answered 4xx/5xx by the codec
  Counter tls_handshake_failures{0};  // TLS listeners: handshakes that failed (plain HTTP included)
  // HTTP/2 header fields nghttp2 decoded for clients on this listener, as
  // HPACK counts them (name + value + 32 each). Not on /stats: it is there
  // so that connection_fuzz can hold moe to its HPACK-expansion bound
  // (docs/security.md) from outside the connection; one add per field.
  Counter h2_header_bytes_decoded{0};
  RouteStats no_route;          // requests that matched no route (404) or failed before routing
  Histogram request_duration;
};

struct EndpointStats {
  Counter connect_failures{0};
  Counter connections_active{0};
  Counter requests_active{0};  // for least_request
};

struct ClusterStats {
  Counter connections_active{0};
  Counter connections_idle{0};
  Counter connect_failures{0};
  Counter pending{0};
  Counter overflow{0};  // 503: max_connections and max_pending full
  Counter shed_stalled{0};  // streams reset for a waiting request (shed_stalled_after)
  Counter timeouts{0};
  Counter resets{0};
  Histogram upstream_duration;
};

// One worker's stats, shaped by the config it was built from: vectors are
// indexed like config listeners, flattened routes and clusters.
struct Stats {
  std::vector<std::unique_ptr<ListenerStats>> listeners;
  std::vector<std::unique_ptr<RouteStats>> routes;  // flattened over listeners
  std::vector<std::unique_ptr<ClusterStats>> clusters;
  std::vector<std::vector<std::unique_ptr<EndpointStats>>> endpoints;  // [cluster][endpoint]
  Counter requests_total{0};
};

}  // namespace moe
