// Small helpers shared by the HTTP/2 server and client codecs.
#pragma once

#include <nghttp2/nghttp2.h>

#include <cstdint>
#include <string_view>

namespace moe::h2 {

inline std::string_view sv(const uint8_t* p, size_t n) { return {reinterpret_cast<const char*>(p), n}; }

inline nghttp2_nv make_nv(std::string_view name, std::string_view value) {
  // No NO_COPY flags: nghttp2 copies the pair when the frame is submitted.
  return {reinterpret_cast<uint8_t*>(const_cast<char*>(name.data())),
          reinterpret_cast<uint8_t*>(const_cast<char*>(value.data())), name.size(), value.size(),
          NGHTTP2_NV_FLAG_NONE};
}

// Connection-specific fields, forbidden in HTTP/2 (RFC 9113 8.2.2); "te" is
// allowed only as "te: trailers", which the codecs add themselves.
inline bool connection_specific(std::string_view name) {
  return name == "connection" || name == "keep-alive" || name == "proxy-connection" ||
         name == "transfer-encoding" || name == "upgrade" || name == "te";
}

}  // namespace moe::h2
