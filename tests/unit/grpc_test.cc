// gRPC helpers (src/proxy/grpc.h): content-type detection, the HTTP to
// gRPC status table, grpc-message encoding, grpc-timeout parsing.
#include <catch2/catch.hpp>

#include "proxy/grpc.h"

namespace grpc = moe::grpc;

TEST_CASE("grpc content types", "[grpc]") {
  CHECK(grpc::is_grpc("application/grpc"));
  CHECK(grpc::is_grpc("application/grpc+proto"));
  CHECK(grpc::is_grpc("Application/GRPC+json"));
  CHECK(grpc::is_grpc("application/grpc-web+proto"));
  CHECK(grpc::is_grpc("application/grpc; charset=utf-8"));
  CHECK_FALSE(grpc::is_grpc(""));
  CHECK_FALSE(grpc::is_grpc("application/json"));
  CHECK_FALSE(grpc::is_grpc("application/grpcx"));
  CHECK_FALSE(grpc::is_grpc("application/grp"));
}

TEST_CASE("grpc status for moe's HTTP statuses", "[grpc]") {
  CHECK(grpc::status_for_http(502) == grpc::kUnavailable);
  CHECK(grpc::status_for_http(503) == grpc::kUnavailable);
  CHECK(grpc::status_for_http(429) == grpc::kUnavailable);
  CHECK(grpc::status_for_http(504) == grpc::kDeadlineExceeded);
  CHECK(grpc::status_for_http(404) == grpc::kUnimplemented);
  CHECK(grpc::status_for_http(403) == grpc::kPermissionDenied);
  CHECK(grpc::status_for_http(401) == grpc::kUnauthenticated);
  CHECK(grpc::status_for_http(413) == grpc::kResourceExhausted);
  CHECK(grpc::status_for_http(500) == grpc::kInternal);
  CHECK(grpc::status_for_http(418) == grpc::kUnknown);
}

TEST_CASE("grpc-message percent-encoding", "[grpc]") {
  CHECK(grpc::encode_message("upstream error: connection refused\n") == "upstream error: connection refused");
  CHECK(grpc::encode_message("100% gone") == "100%25 gone");
  CHECK(grpc::encode_message("caf\xc3\xa9\r\n") == "caf%C3%A9");
  CHECK(grpc::encode_message("a\tb") == "a%09b");
  CHECK(grpc::encode_message("") == "");
}

TEST_CASE("grpc-timeout", "[grpc]") {
  CHECK(grpc::parse_timeout_ms("250m") == 250);
  CHECK(grpc::parse_timeout_ms("2S") == 2000);
  CHECK(grpc::parse_timeout_ms("1M") == 60000);
  CHECK(grpc::parse_timeout_ms("1H") == 3600000);
  CHECK(grpc::parse_timeout_ms("1500u") == 2);
  CHECK(grpc::parse_timeout_ms("1n") == 1);
  CHECK(grpc::parse_timeout_ms("99999999m") == 99999999);
  CHECK(grpc::parse_timeout_ms("") == -1);
  CHECK(grpc::parse_timeout_ms("m") == -1);
  CHECK(grpc::parse_timeout_ms("123456789m") == -1);  // 9 digits
  CHECK(grpc::parse_timeout_ms("12x") == -1);
  CHECK(grpc::parse_timeout_ms("1 S") == -1);
}
