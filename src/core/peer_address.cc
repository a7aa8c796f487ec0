#include "core/peer_address.h"

#include <uv.h>

namespace moe {

size_t PeerAddress::format(char* out) const {
  // libuv's inet_ntop, as uv_ip4_name/uv_ip6_name (the text moe always gave).
  out[0] = '\0';
  if (family == 4) uv_inet_ntop(AF_INET, bytes, out, kMaxText);
  else if (family == 6) uv_inet_ntop(AF_INET6, bytes, out, kMaxText);
  return strlen(out);
}

}  // namespace moe
