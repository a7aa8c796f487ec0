#include "proxy/grpc.h"

namespace moe::grpc {

int status_for_http(int http_status) {
  switch (http_status) {
    case 400: return kInternal;
    case 401: return kUnauthenticated;
    case 403: return kPermissionDenied;
    case 404: return kUnimplemented;
    case 408: return kDeadlineExceeded;
    case 413: return kResourceExhausted;
    case 429: return kUnavailable;
    case 431: return kResourceExhausted;
    case 500: return kInternal;
    case 502: return kUnavailable;
    case 503: return kUnavailable;
    case 504: return kDeadlineExceeded;
    default: return kUnknown;
  }
}

std::string encode_message(std::string_view text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.remove_suffix(1);
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(text.size());
  for (const char ch : text) {
    const auto c = static_cast<unsigned char>(ch);
    if (c < 0x20 || c > 0x7e || c == '%') {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 0xf]);
    } else {
      out.push_back(ch);
    }
  }
  return out;
}

int64_t parse_timeout_ms(std::string_view v) {
  if (v.size() < 2 || v.size() > 9) return -1;
  int64_t n = 0;
  for (size_t i = 0; i + 1 < v.size(); i++) {
    if (v[i] < '0' || v[i] > '9') return -1;
    n = n * 10 + (v[i] - '0');
  }
  switch (v.back()) {
    case 'H': return n * 3600 * 1000;
    case 'M': return n * 60 * 1000;
    case 'S': return n * 1000;
    case 'm': return n;
    case 'u': return (n + 999) / 1000;
    case 'n': return (n + 999999) / 1000000;
    default: return -1;
  }
}

}  // namespace moe::grpc
