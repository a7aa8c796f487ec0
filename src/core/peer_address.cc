#include "core/peer_address.h"

#include <uv.h>

namespace moe {

size_t PeerAddress::format(char* out) const {
  if (family == 4) {
    // Dotted decimal by hand: uv_inet_ntop formats IPv4 with snprintf, and
    // every proxied request needs the text (X-Forwarded-For): vfprintf was
    // 0.7% of the worker's profile under wrk.
    char* p = out;
    for (int i = 0; i < 4; i++) {
      unsigned v = bytes[i];
      if (v >= 100) *p++ = static_cast<char>('0' + v / 100);
      if (v >= 10) *p++ = static_cast<char>('0' + v / 10 % 10);
      *p++ = static_cast<char>('0' + v % 10);
      *p++ = i < 3 ? '.' : '\0';
    }
    return static_cast<size_t>(p - out - 1);
  }
  // libuv's inet_ntop, as uv_ip6_name (the text moe always gave).
  out[0] = '\0';
  if (family == 6) uv_inet_ntop(AF_INET6, bytes, out, kMaxText);
  return strlen(out);
}

}  // namespace moe
