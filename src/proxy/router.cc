#include "proxy/router.h"

#include "http/headers.h"

namespace moe {
namespace {

bool host_matches(const std::string& pattern, std::string_view host) {
  if (pattern.empty()) return true;
  if (pattern.size() > 2 && pattern[0] == '*' && pattern[1] == '.') {
    // "*.example.com" matches "a.example.com" but not "example.com".
    std::string_view suffix = std::string_view(pattern).substr(1);
    return host.size() > suffix.size() && iequals(host.substr(host.size() - suffix.size()), suffix);
  }
  return iequals(pattern, host);
}

bool string_matches(config::StringMatchKind kind, const std::string& want, const re2::RE2* re,
                    std::string_view have) {
  switch (kind) {
    case config::StringMatchKind::exact: return have == want;
    case config::StringMatchKind::prefix: return have.substr(0, want.size()) == want;
    case config::StringMatchKind::regex: return RE2::FullMatch(have, *re);
    case config::StringMatchKind::present: return true;
  }
  return false;
}

bool headers_match(const std::vector<config::HeaderMatch>& wanted, const HeaderMap& headers) {
  for (const auto& m : wanted) {
    bool ok = false;
    for (size_t i = 0; i < headers.size() && !ok; i++) {
      if (headers.name(i) != m.name) continue;
      ok = string_matches(m.kind, m.value, m.regex.get(), headers.value(i));
    }
    if (!ok) return false;
  }
  return true;
}

}  // namespace

std::string_view path_only(std::string_view target) {
  size_t q = target.find_first_of("?#");
  return q == std::string_view::npos ? target : target.substr(0, q);
}

std::string_view host_only(std::string_view authority) {
  if (!authority.empty() && authority.front() == '[') {
    size_t end = authority.find(']');
    return end == std::string_view::npos ? authority : authority.substr(0, end + 1);
  }
  size_t colon = authority.rfind(':');
  return colon == std::string_view::npos ? authority : authority.substr(0, colon);
}

int match_route(const config::Listener& listener, const RequestHead& req) {
  const std::string_view path = path_only(req.path());
  std::string_view host = host_only(req.authority());
  // "internal.example." is the fully qualified spelling of
  // "internal.example", and upstreams such as nginx serve it as the same
  // virtual host: a host route that missed it would let the client past a
  // route denying that host.
  if (host.size() > 1 && host.back() == '.') host.remove_suffix(1);
  const std::string_view method = req.method();
  for (size_t i = 0; i < listener.routes.size(); i++) {
    const config::RouteMatch& m = listener.routes[i].match;
    if (m.prefix && path.substr(0, m.prefix->size()) != *m.prefix) continue;
    if (m.path && path != *m.path) continue;
    if (m.regex && !RE2::FullMatch(path, *m.regex)) continue;
    if (!m.method.empty() && method != m.method) continue;
    if (!host_matches(m.host, host)) continue;
    if (!m.headers.empty() && !headers_match(m.headers, req.headers)) continue;
    return static_cast<int>(i);
  }
  return -1;
}

}  // namespace moe
