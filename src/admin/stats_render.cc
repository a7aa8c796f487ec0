// Prometheus text exposition of the workers' stats, summed.
#include <fmt/format.h>

#include "admin/admin_server.h"
#include "core/worker.h"

namespace moe {
namespace {

using Workers = std::vector<std::unique_ptr<Worker>>;

// Label values come from config names; escape what the format requires.
std::string esc(std::string_view v) {
  std::string o;
  for (char c : v) {
    if (c == '\\' || c == '"') o.push_back('\\');
    if (c == '\n') { o += "\\n"; continue; }
    o.push_back(c);
  }
  return o;
}

template <typename F>
uint64_t sum(const Workers& ws, F f) {
  uint64_t n = 0;
  for (const auto& w : ws) n += get(f(w->stats()));
  return n;
}

void header(std::string& o, const char* name, const char* type, const char* help) {
  fmt::format_to(std::back_inserter(o), "# HELP {} {}\n# TYPE {} {}\n", name, help, name, type);
}

template <typename F>
void histogram(std::string& o, const Workers& ws, const char* name, const std::string& labels, F hist) {
  uint64_t cum = 0;
  for (size_t b = 0; b <= Histogram::kBounds.size(); b++) {
    cum += sum(ws, [&](const Stats& s) -> const Counter& { return hist(s).buckets[b]; });
    if (b < Histogram::kBounds.size())
      fmt::format_to(std::back_inserter(o), "{}_bucket{{{},le=\"{}\"}} {}\n", name, labels, Histogram::kBounds[b], cum);
    else
      fmt::format_to(std::back_inserter(o), "{}_bucket{{{},le=\"+Inf\"}} {}\n", name, labels, cum);
  }
  const uint64_t us = sum(ws, [&](const Stats& s) -> const Counter& { return hist(s).sum_us; });
  fmt::format_to(std::back_inserter(o), "{}_sum{{{}}} {:.6f}\n", name, labels, static_cast<double>(us) / 1e6);
  fmt::format_to(std::back_inserter(o), "{}_count{{{}}} {}\n", name, labels,
                 sum(ws, [&](const Stats& s) -> const Counter& { return hist(s).count; }));
}

const char* kClassNames[kStatusClasses] = {"none", "1xx", "2xx", "3xx", "4xx", "5xx"};

}  // namespace

std::string render_stats(const config::Config& cfg, const Workers& ws) {
  std::string o;
  auto out = [&o] { return std::back_inserter(o); };

  header(o, "moe_http_requests_total", "counter", "Requests by listener, route, cluster and status class.");
  size_t route_flat = 0;
  for (size_t li = 0; li < cfg.listeners.size(); li++) {
    const auto& l = cfg.listeners[li];
    for (size_t ri = 0; ri < l.routes.size(); ri++, route_flat++) {
      const auto& r = l.routes[ri];
      for (int c = 0; c < kStatusClasses; c++) {
        uint64_t n = sum(ws, [&](const Stats& s) -> const Counter& { return s.routes[route_flat]->requests[c]; });
        if (!n && c != 2) continue;
        fmt::format_to(out(), "moe_http_requests_total{{listener=\"{}\",route=\"{}\",cluster=\"{}\",status_class=\"{}\"}} {}\n",
                       esc(l.name), esc(r.name), esc(r.cluster), kClassNames[c], n);
      }
    }
    for (int c = 0; c < kStatusClasses; c++) {
      uint64_t n = sum(ws, [&](const Stats& s) -> const Counter& { return s.listeners[li]->no_route.requests[c]; });
      if (!n) continue;
      fmt::format_to(out(), "moe_http_requests_total{{listener=\"{}\",route=\"\",cluster=\"\",status_class=\"{}\"}} {}\n",
                     esc(l.name), kClassNames[c], n);
    }
  }

  struct ListenerMetric {
    const char* name;
    const char* type;
    const char* help;
    Counter ListenerStats::*field;
  };
  const ListenerMetric lms[] = {
      {"moe_downstream_connections_active", "gauge", "Open client connections.", &ListenerStats::connections_active},
      {"moe_downstream_connections_total", "counter", "Accepted client connections.", &ListenerStats::connections_total},
      {"moe_downstream_connections_rejected_total", "counter", "Connections closed at accept: max_connections.",
       &ListenerStats::connections_rejected},
      {"moe_downstream_bytes_received_total", "counter", "Request bytes (headers and body).", &ListenerStats::bytes_received},
      {"moe_downstream_bytes_sent_total", "counter", "Response bytes (headers and body).", &ListenerStats::bytes_sent},
      {"moe_downstream_protocol_errors_total", "counter", "Malformed requests answered by the codec.",
       &ListenerStats::protocol_errors},
      {"moe_downstream_tls_handshake_failures_total", "counter",
       "TLS handshakes that failed: no common version or cipher, bad records, plain HTTP to a TLS port.",
       &ListenerStats::tls_handshake_failures},
  };
  for (const auto& m : lms) {
    header(o, m.name, m.type, m.help);
    for (size_t li = 0; li < cfg.listeners.size(); li++)
      fmt::format_to(out(), "{}{{listener=\"{}\"}} {}\n", m.name, esc(cfg.listeners[li].name),
                     sum(ws, [&](const Stats& s) -> const Counter& { return (*s.listeners[li]).*m.field; }));
  }
  header(o, "moe_http_request_duration_seconds", "histogram", "Time from request start to the end of the response.");
  for (size_t li = 0; li < cfg.listeners.size(); li++)
    histogram(o, ws, "moe_http_request_duration_seconds", "listener=\"" + esc(cfg.listeners[li].name) + "\"",
              [&](const Stats& s) -> const Histogram& { return s.listeners[li]->request_duration; });

  struct ClusterMetric {
    const char* name;
    const char* type;
    const char* help;
    Counter ClusterStats::*field;
  };
  const ClusterMetric cms[] = {
      {"moe_upstream_connections_active", "gauge", "Upstream connections (all states).", &ClusterStats::connections_active},
      {"moe_upstream_connections_idle", "gauge", "Idle pooled upstream connections.", &ClusterStats::connections_idle},
      {"moe_upstream_pending_requests", "gauge", "Requests waiting for a connection.", &ClusterStats::pending},
      {"moe_upstream_overflow_total", "counter", "Requests refused with 503: pool full.", &ClusterStats::overflow},
      {"moe_upstream_stalled_shed_total", "counter",
       "Streams whose client took nothing for shed_stalled_after, reset to give their connection to a waiting request.",
       &ClusterStats::shed_stalled},
      {"moe_upstream_timeouts_total", "counter", "Requests that hit the route timeout.", &ClusterStats::timeouts},
      {"moe_upstream_resets_total", "counter", "Upstream connections reset during a request.", &ClusterStats::resets},
  };
  for (const auto& m : cms) {
    header(o, m.name, m.type, m.help);
    for (size_t ci = 0; ci < cfg.clusters.size(); ci++)
      fmt::format_to(out(), "{}{{cluster=\"{}\"}} {}\n", m.name, esc(cfg.clusters[ci].name),
                     sum(ws, [&](const Stats& s) -> const Counter& { return (*s.clusters[ci]).*m.field; }));
  }
  header(o, "moe_upstream_connect_failures_total", "counter", "Failed upstream connects by endpoint.");
  for (size_t ci = 0; ci < cfg.clusters.size(); ci++)
    for (size_t ei = 0; ei < cfg.clusters[ci].endpoints.size(); ei++)
      fmt::format_to(out(), "moe_upstream_connect_failures_total{{cluster=\"{}\",endpoint=\"{}\"}} {}\n",
                     esc(cfg.clusters[ci].name), esc(cfg.clusters[ci].endpoints[ei].text),
                     sum(ws, [&](const Stats& s) -> const Counter& { return s.endpoints[ci][ei]->connect_failures; }));
  header(o, "moe_upstream_request_duration_seconds", "histogram", "Time from upstream selection to the end of the response.");
  for (size_t ci = 0; ci < cfg.clusters.size(); ci++)
    histogram(o, ws, "moe_upstream_request_duration_seconds", "cluster=\"" + esc(cfg.clusters[ci].name) + "\"",
              [&](const Stats& s) -> const Histogram& { return s.clusters[ci]->upstream_duration; });
  header(o, "moe_workers", "gauge", "Worker threads.");
  fmt::format_to(out(), "moe_workers {}\n", ws.size());
  return o;
}

}  // namespace moe
