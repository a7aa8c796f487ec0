// A client's IP address as the kernel gave it (accept4), in binary: 17 bytes
// kept per connection instead of its text in a std::string (32 bytes, plus
// a heap block for IPv6 text longer than 15 characters). The text is made
// only when something needs it: X-Forwarded-For, Go's stream info, a log
// line. The port is not kept: nothing uses it.
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>

namespace moe {

struct PeerAddress {
  // Room for any IPv6 text, "ffff:...:255.255.255.255" and the NUL.
  static constexpr size_t kMaxText = INET6_ADDRSTRLEN;

  uint8_t bytes[16] = {};  // IPv4: the first 4
  uint8_t family = 0;      // 4, 6, or 0 (unknown: formats as "")

  void set(const sockaddr* sa) {
    if (sa->sa_family == AF_INET) {
      memcpy(bytes, &reinterpret_cast<const sockaddr_in*>(sa)->sin_addr, 4);
      family = 4;
    } else if (sa->sa_family == AF_INET6) {
      memcpy(bytes, &reinterpret_cast<const sockaddr_in6*>(sa)->sin6_addr, 16);
      family = 6;
    } else {
      family = 0;
    }
  }
  // Writes the text form into out[kMaxText]; returns its length.
  size_t format(char* out) const;
  // The text form by value, for a log line or a hand-off.
  struct Text {
    char buf[kMaxText];
    size_t len;
    std::string_view view() const { return {buf, len}; }
  };
  Text text() const {
    Text t;
    t.len = format(t.buf);
    return t;
  }
};

}  // namespace moe
