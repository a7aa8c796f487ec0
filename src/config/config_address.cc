// "host:port" text to a resolved socket address.
#include <netdb.h>
#include <netinet/in.h>

#include <cstring>

#include "config/config.h"

namespace moe::config {

namespace {

// Runs getaddrinfo with `flags`; on success copies one result into `out`,
// preferring IPv4: "localhost" often lists ::1 first, and an upstream that
// listens on 127.0.0.1 only is far more common than one on ::1 only.
int lookup(const std::string& host, uint16_t port, int flags, Address& out) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = flags | AI_NUMERICSERV;
  std::string service = std::to_string(port);
  addrinfo* res = nullptr;
  int rc = getaddrinfo(host.c_str(), service.c_str(), &hints, &res);
  if (rc != 0) return rc;
  const addrinfo* pick = nullptr;
  for (const addrinfo* ai = res; ai; ai = ai->ai_next) {
    if (ai->ai_addrlen > sizeof(sockaddr_storage)) continue;
    if (ai->ai_family == AF_INET) {
      pick = ai;
      break;
    }
    if (!pick && ai->ai_family == AF_INET6) pick = ai;
  }
  if (!pick) {
    freeaddrinfo(res);
    return EAI_FAMILY;
  }
  out.addr = sockaddr_storage{};
  std::memcpy(&out.addr, pick->ai_addr, pick->ai_addrlen);
  out.addr_len = pick->ai_addrlen;
  freeaddrinfo(res);
  return 0;
}

}  // namespace

std::optional<std::string> split_host_port(std::string_view text, std::string& host,
                                           uint16_t& port) {
  if (text.empty()) return "empty address; expected host:port";
  std::string_view h;
  std::string_view p;
  if (text.front() == '[') {
    size_t close = text.find(']');
    if (close == std::string_view::npos) return "missing ']' in '" + std::string(text) + "'";
    h = text.substr(1, close - 1);
    std::string_view rest = text.substr(close + 1);
    if (rest.empty() || rest.front() != ':') {
      return "missing port in '" + std::string(text) + "'; expected [v6]:port";
    }
    p = rest.substr(1);
  } else {
    size_t colon = text.rfind(':');
    if (colon == std::string_view::npos) {
      return "missing port in '" + std::string(text) + "'; expected host:port";
    }
    h = text.substr(0, colon);
    p = text.substr(colon + 1);
    if (h.find(':') != std::string_view::npos) {
      return "IPv6 addresses need brackets, e.g. [::1]:8080; got '" + std::string(text) + "'";
    }
  }
  if (h.empty()) {
    return "missing host in '" + std::string(text) + "'; use 0.0.0.0:PORT or [::]:PORT for all";
  }
  if (p.empty() || p.size() > 5) return "bad port in '" + std::string(text) + "'; expected 0-65535";
  uint32_t n = 0;
  for (char c : p) {
    if (c < '0' || c > '9') return "bad port in '" + std::string(text) + "'; expected 0-65535";
    n = n * 10 + static_cast<uint32_t>(c - '0');
  }
  if (n > 65535) return "bad port in '" + std::string(text) + "'; expected 0-65535";
  host = std::string(h);
  port = static_cast<uint16_t>(n);
  return std::nullopt;
}

std::optional<std::string> resolve_address(std::string_view text, Address& out) {
  Address a;
  a.text = std::string(text);
  if (auto err = split_host_port(text, a.host, a.port)) return err;
  // Numeric first: no DNS, no surprises, and the common case.
  int rc = lookup(a.host, a.port, AI_NUMERICHOST, a);
  if (rc == EAI_NONAME) rc = lookup(a.host, a.port, 0, a);
  if (rc != 0) return "cannot resolve '" + a.host + "': " + gai_strerror(rc);
  out = std::move(a);
  return std::nullopt;
}

}  // namespace moe::config
