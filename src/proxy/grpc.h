// gRPC over moe: what a gRPC client must see when moe answers for the
// upstream (a local reply, an upstream failure, a timeout). gRPC clients
// read grpc-status, not the HTTP status: a bare 502 becomes "Unavailable:
// unexpected HTTP status code" at best. So a request whose content-type is
// application/grpc* gets, instead of moe's HTTP error, an HTTP 200
// "trailers-only" response (one HEADERS frame with END_STREAM) carrying
// grpc-status and grpc-message (the gRPC over HTTP/2 spec, PROTOCOL-HTTP2.md).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace moe::grpc {

// gRPC status codes used here (google.rpc.Code).
enum Code : int {
  kOk = 0,
  kCancelled = 1,
  kUnknown = 2,
  kDeadlineExceeded = 4,
  kPermissionDenied = 7,
  kResourceExhausted = 8,
  kInternal = 13,
  kUnimplemented = 12,
  kUnavailable = 14,
  kUnauthenticated = 16,
};

// content-type application/grpc, application/grpc+proto, ... (and
// grpc-web, whose errors are shaped the same way).
inline bool is_grpc(std::string_view content_type) {
  constexpr std::string_view k = "application/grpc";
  if (content_type.size() < k.size()) return false;
  for (size_t i = 0; i < k.size(); i++) {
    char c = content_type[i];
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c + ('a' - 'A'));
    if (c != k[i]) return false;
  }
  return content_type.size() == k.size() || content_type[k.size()] == '+' || content_type[k.size()] == ';' ||
         content_type[k.size()] == '-';
}

// The gRPC status for an HTTP status moe itself answers with. The gRPC
// spec's table (doc/http-grpc-status-mapping.md) for the statuses it lists,
// except where moe's status says more than a generic HTTP peer's: moe's 504
// and 408 mean a deadline ran out, 413 that a size limit was hit, 500 an
// internal fault (a filter panic).
int status_for_http(int http_status);

// grpc-message: percent-encoding of bytes outside 0x20..0x7e and of '%';
// a trailing newline (moe's reason texts end with one) is dropped.
std::string encode_message(std::string_view text);

// grpc-timeout ("1-8 digits" then H M S m u n) in milliseconds, rounded up;
// -1 when absent or malformed (then it is ignored, as the spec says).
int64_t parse_timeout_ms(std::string_view v);

}  // namespace moe::grpc
