// The pass after all sections: names that must be unique, names that must
// refer to something, addresses that must not collide.
#include <cstring>
#include <map>

#include "config/config_parse.h"

namespace moe::config::detail {

namespace {

// Two addresses that would bind the same socket. Port 0 never collides: each
// bind gets its own ephemeral port.
bool same_bind(const Address& a, const Address& b) {
  if (a.addr_len == 0 || a.addr_len != b.addr_len || a.port == 0 || a.port != b.port) return false;
  return std::memcmp(&a.addr, &b.addr, a.addr_len) == 0;
}

void check_unique_names(Context& ctx, const Config& cfg) {
  std::map<std::string, size_t> listeners;
  for (size_t i = 0; i < cfg.listeners.size(); ++i) {
    const Listener& l = cfg.listeners[i];
    if (l.name.empty()) continue;  // already reported as missing
    auto [it, fresh] = listeners.emplace(l.name, i);
    if (!fresh) {
      std::string key = index_key("listeners", i) + ".name";
      ctx.error(ctx.mark_of(key, l.mark), key,
                "duplicate listener name '" + l.name + "' (also listeners[" +
                    std::to_string(it->second) + "])");
    }
    std::map<std::string, size_t> routes;
    for (size_t j = 0; j < l.routes.size(); ++j) {
      auto [rit, rfresh] = routes.emplace(l.routes[j].name, j);
      if (!rfresh) {
        std::string key = index_key(index_key("listeners", i) + ".routes", j) + ".name";
        ctx.error(ctx.mark_of(key, l.routes[j].mark), key,
                  "duplicate route name '" + l.routes[j].name + "' in listener '" + l.name +
                      "' (also routes[" + std::to_string(rit->second) + "])");
      }
    }
  }
  std::map<std::string, size_t> clusters;
  for (size_t i = 0; i < cfg.clusters.size(); ++i) {
    const Cluster& c = cfg.clusters[i];
    if (c.name.empty()) continue;
    auto [it, fresh] = clusters.emplace(c.name, i);
    if (!fresh) {
      std::string key = index_key("clusters", i) + ".name";
      ctx.error(ctx.mark_of(key, c.mark), key,
                "duplicate cluster name '" + c.name + "' (also clusters[" +
                    std::to_string(it->second) + "])");
    }
  }
}

void check_addresses(Context& ctx, const Config& cfg) {
  for (size_t i = 0; i < cfg.listeners.size(); ++i) {
    const Listener& l = cfg.listeners[i];
    std::string key = index_key("listeners", i) + ".address";
    for (size_t j = 0; j < i; ++j) {
      if (same_bind(l.address, cfg.listeners[j].address)) {
        ctx.error(ctx.mark_of(key, l.mark), key,
                  "address " + l.address.text + " is also used by listeners[" +
                      std::to_string(j) + "] ('" + cfg.listeners[j].name + "')");
        break;
      }
    }
    if (cfg.admin.address && same_bind(l.address, *cfg.admin.address)) {
      ctx.error(ctx.mark_of(key, l.mark), key,
                "address " + l.address.text + " is also the admin address");
    }
  }
}

void link_clusters(Context& ctx, Config& cfg) {
  std::map<std::string, int> index;
  for (size_t i = 0; i < cfg.clusters.size(); ++i) {
    index.emplace(cfg.clusters[i].name, static_cast<int>(i));  // first wins on duplicates
  }
  for (size_t i = 0; i < cfg.listeners.size(); ++i) {
    for (size_t j = 0; j < cfg.listeners[i].routes.size(); ++j) {
      Route& r = cfg.listeners[i].routes[j];
      if (r.cluster.empty() || r.direct_response) continue;
      auto it = index.find(r.cluster);
      if (it != index.end()) {
        r.cluster_index = it->second;
        continue;
      }
      std::string key = index_key(index_key("listeners", i) + ".routes", j) + ".cluster";
      std::string known;
      for (const Cluster& c : cfg.clusters) {
        if (!known.empty()) known += ", ";
        known += c.name;
      }
      ctx.error(ctx.mark_of(key, r.mark), key,
                "unknown cluster '" + r.cluster + "'; defined: " +
                    (known.empty() ? std::string("(none)") : known));
    }
  }
}

}  // namespace

void cross_reference(Context& ctx, Config& cfg) {
  check_unique_names(ctx, cfg);
  check_addresses(ctx, cfg);
  link_clusters(ctx, cfg);
}

}  // namespace moe::config::detail
