// clusters[]: upstream endpoints and how to talk to them.
#include "config/config_parse.h"

namespace moe::config::detail {

namespace {

Cluster parse_cluster(Context& ctx, const YAML::Node& node, const std::string& key) {
  Cluster c;
  c.mark = ctx.mark(node);
  MapView m(ctx, node, key,
            {"name", "endpoints", "protocol", "lb", "connect_timeout", "idle_timeout",
             "max_connections", "max_pending", "shed_stalled_after"});
  if (!m.ok()) return c;
  if (const YAML::Node* n = m.require("name")) {
    if (auto s = as_string(ctx, *n, m.key_of("name"))) {
      if (s->empty()) ctx.error(*n, m.key_of("name"), "must not be empty");
      c.name = *s;
    }
  }
  if (const YAML::Node* list = m.require("endpoints")) {
    std::string ekey = m.key_of("endpoints");
    if (expect_list(ctx, *list, ekey)) {
      if (!list->IsSequence() || list->size() == 0) {
        ctx.error(*list, ekey, "needs at least one endpoint (\"host:port\")");
      } else {
        size_t i = 0;
        for (auto it = list->begin(); it != list->end(); ++it, ++i) {
          auto addr = as_address(ctx, *it, index_key(ekey, i), /*allow_port_zero=*/false);
          if (addr) c.endpoints.push_back(std::move(*addr));
        }
      }
    }
  }
  m.read_enum("protocol", c.protocol,
              {{"http1", UpstreamProtocol::http1}, {"h2c", UpstreamProtocol::h2c}});
  m.read_enum("lb", c.lb,
              {{"round_robin", LbPolicy::round_robin},
               {"least_request", LbPolicy::least_request},
               {"random", LbPolicy::random}});
  if (m.read_duration("connect_timeout", c.connect_timeout) && c.connect_timeout.count() == 0) {
    ctx.error(*m.find("connect_timeout"), m.key_of("connect_timeout"), "must be greater than 0");
  }
  m.read_duration("idle_timeout", c.idle_timeout);
  m.read_uint32("max_connections", c.max_connections, 1);
  m.read_uint32("max_pending", c.max_pending, 1);
  m.read_duration("shed_stalled_after", c.shed_stalled_after);
  return c;
}

}  // namespace

void parse_clusters(Context& ctx, const YAML::Node& node, const std::string& key, Config& cfg) {
  if (!expect_list(ctx, node, key) || !node.IsSequence()) return;
  size_t i = 0;
  for (auto it = node.begin(); it != node.end(); ++it, ++i) {
    cfg.clusters.push_back(parse_cluster(ctx, *it, index_key(key, i)));
  }
}

}  // namespace moe::config::detail
