// h2::make_field_nv: which header fields HPACK may index.
#include <catch2/catch.hpp>

#include "http2/h2_util.h"

using moe::h2::make_field_nv;

TEST_CASE("proxy credentials are never indexed", "[h2][hpack]") {
  uint16_t named = 0;
  for (int i = 0; i < 3; i++)
    CHECK(make_field_nv("proxy-authorization", "Basic xyz", named).flags == NGHTTP2_NV_FLAG_NO_INDEX);
  // authorization: nghttp2's deflater never indexes it by itself.
  CHECK(make_field_nv("authorization", "Bearer abc", named).flags == NGHTTP2_NV_FLAG_NONE);
  CHECK(named == 0);
}

TEST_CASE("per-request ids are indexed once per connection, then never", "[h2][hpack]") {
  uint16_t named = 0;
  CHECK(make_field_nv("x-request-id", "a", named).flags == NGHTTP2_NV_FLAG_NONE);
  CHECK(make_field_nv("x-request-id", "b", named).flags == NGHTTP2_NV_FLAG_NO_INDEX);
  CHECK(make_field_nv("traceparent", "00-1-2-01", named).flags == NGHTTP2_NV_FLAG_NONE);
  CHECK(make_field_nv("traceparent", "00-3-4-01", named).flags == NGHTTP2_NV_FLAG_NO_INDEX);
  CHECK(make_field_nv("x-request-id", "c", named).flags == NGHTTP2_NV_FLAG_NO_INDEX);
  uint16_t other_connection = 0;
  CHECK(make_field_nv("x-request-id", "d", other_connection).flags == NGHTTP2_NV_FLAG_NONE);
}

TEST_CASE("other fields are left to nghttp2", "[h2][hpack]") {
  uint16_t named = 0;
  for (const char* n : {"content-type", "grpc-status", "x-request-idx", "x-request", "server", "cookie"})
    CHECK(make_field_nv(n, "v", named).flags == NGHTTP2_NV_FLAG_NONE);
  CHECK(named == 0);
}
