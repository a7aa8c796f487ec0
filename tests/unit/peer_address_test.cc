// PeerAddress: the binary client address and its text form (X-Forwarded-For,
// Go's stream info, logs).
#include <arpa/inet.h>

#include <catch2/catch.hpp>
#include <string>

#include "core/peer_address.h"

using moe::PeerAddress;

namespace {

std::string text_of(int af, const char* ip) {
  PeerAddress a;
  if (af == AF_INET) {
    sockaddr_in sin{};
    sin.sin_family = AF_INET;
    REQUIRE(inet_pton(AF_INET, ip, &sin.sin_addr) == 1);
    a.set(reinterpret_cast<const sockaddr*>(&sin));
  } else {
    sockaddr_in6 sin6{};
    sin6.sin6_family = AF_INET6;
    REQUIRE(inet_pton(AF_INET6, ip, &sin6.sin6_addr) == 1);
    a.set(reinterpret_cast<const sockaddr*>(&sin6));
  }
  char out[PeerAddress::kMaxText];
  const size_t n = a.format(out);
  REQUIRE(out[n] == '\0');
  REQUIRE(a.text().view() == std::string_view(out, n));
  return std::string(out, n);
}

}  // namespace

TEST_CASE("PeerAddress formats IPv4 as inet_ntop does", "[peer]") {
  for (const char* ip : {"0.0.0.0", "127.0.0.1", "255.255.255.255", "10.0.100.9", "192.168.1.10", "1.20.199.200",
                         "99.100.9.10"})
    CHECK(text_of(AF_INET, ip) == ip);
  // Every byte value, in each position.
  for (unsigned v = 0; v < 256; v++) {
    const std::string b = std::to_string(v);
    const std::string ip = b + "." + b + ".0." + b;
    CHECK(text_of(AF_INET, ip.c_str()) == ip);
  }
}

TEST_CASE("PeerAddress formats IPv6 and unknown families", "[peer]") {
  CHECK(text_of(AF_INET6, "::1") == "::1");
  CHECK(text_of(AF_INET6, "2001:db8::42") == "2001:db8::42");
  PeerAddress unknown;
  char out[PeerAddress::kMaxText];
  CHECK(unknown.format(out) == 0);
  CHECK(out[0] == '\0');
}
