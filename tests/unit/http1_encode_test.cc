// HTTP/1 heads and chunked framing, byte for byte.
#include <catch2/catch.hpp>

#include <string>

#include "http1/http1_encode.h"
#include "http/codec.h"

using namespace moe;

namespace {

void request_line(RequestHead& h, std::string_view method, std::string_view target) {
  h.method_view = h.headers.store(method);
  h.path_view = h.headers.store(target);
}

struct Encoded {
  std::string bytes;
  bool chunked = true;  // deliberately wrong, so each call must set them
  bool close = true;
};

Encoded response(const ResponseHead& h, int client_minor, bool add_close = false) {
  Encoded e;
  e.bytes = "prefix|";  // appends, never overwrites
  http1::write_response_head(e.bytes, h, client_minor, add_close, e.chunked, e.close);
  REQUIRE(e.bytes.substr(0, 7) == "prefix|");
  e.bytes.erase(0, 7);
  return e;
}

}  // namespace

TEST_CASE("http1_encode: request head with a known length", "[http1_encode]") {
  RequestHead h;
  request_line(h, "POST", "/upload?x=1");
  h.headers.add("Host", "example.com");
  h.headers.add("Content-Length", "5");
  h.has_body = true;
  h.content_length = 5;
  std::string out = "keep|";
  CHECK_FALSE(http1::write_request_head(out, h, "up:80"));
  CHECK(out ==
        "keep|POST /upload?x=1 HTTP/1.1\r\n"
        "host: example.com\r\n"
        "content-length: 5\r\n"
        "\r\n");
}

TEST_CASE("http1_encode: request head without a body", "[http1_encode]") {
  RequestHead h;
  request_line(h, "GET", "/");
  h.headers.add("host", "h");
  h.version_minor = 0;  // always sent as HTTP/1.1 upstream
  std::string out;
  CHECK_FALSE(http1::write_request_head(out, h, "up:80"));
  CHECK(out == "GET / HTTP/1.1\r\nhost: h\r\n\r\n");
}

TEST_CASE("http1_encode: a request without Host gets the upstream's address", "[http1_encode]") {
  RequestHead h;
  request_line(h, "GET", "/ten");
  h.version_minor = 0;  // an HTTP/1.0 client may send no Host
  h.headers.add("x-hostname", "not-it");
  h.headers.add("hos", "not-it-either");
  std::string out;
  CHECK_FALSE(http1::write_request_head(out, h, "10.0.0.7:8080"));
  CHECK(out == "GET /ten HTTP/1.1\r\nx-hostname: not-it\r\nhos: not-it-either\r\nhost: 10.0.0.7:8080\r\n\r\n");
}

TEST_CASE("http1_encode: request head with no headers at all gets a Host", "[http1_encode]") {
  RequestHead h;
  request_line(h, "OPTIONS", "*");
  std::string out;
  CHECK_FALSE(http1::write_request_head(out, h, "up:80"));
  CHECK(out == "OPTIONS * HTTP/1.1\r\nhost: up:80\r\n\r\n");
}

TEST_CASE("http1_encode: request body of unknown length goes chunked", "[http1_encode]") {
  RequestHead h;
  request_line(h, "PUT", "/obj");
  h.headers.add("Host", "h");
  h.has_body = true;
  h.content_length = -1;
  std::string out;
  CHECK(http1::write_request_head(out, h, "up:80"));
  CHECK(out == "PUT /obj HTTP/1.1\r\nhost: h\r\ntransfer-encoding: chunked\r\n\r\n");
}

TEST_CASE("http1_encode: CONNECT is never chunked; an Upgrade request's body is framed", "[http1_encode]") {
  SECTION("CONNECT") {
    RequestHead h;
    request_line(h, "CONNECT", "db.internal:5432");
    h.headers.add("Host", "db.internal:5432");
    h.is_connect = true;
    h.has_body = true;
    h.content_length = -1;
    std::string out;
    CHECK_FALSE(http1::write_request_head(out, h, "up:80"));
    CHECK(out == "CONNECT db.internal:5432 HTTP/1.1\r\nhost: db.internal:5432\r\n\r\n");
  }
  SECTION("upgrade without a body") {
    RequestHead h;
    request_line(h, "GET", "/ws");
    h.headers.add("Host", "h");
    h.headers.add("Connection", "Upgrade");
    h.headers.add("Upgrade", "websocket");
    h.upgrade = true;
    std::string out;
    CHECK_FALSE(http1::write_request_head(out, h, "up:80"));
    CHECK(out ==
          "GET /ws HTTP/1.1\r\nhost: h\r\nconnection: Upgrade\r\nupgrade: websocket\r\n\r\n");
  }
  SECTION("upgrade with a body of unknown length") {
    // Sent unframed, the body would be read by the upstream as its next
    // request (smuggling past the router).
    RequestHead h;
    request_line(h, "POST", "/ws");
    h.headers.add("Host", "h");
    h.headers.add("Connection", "Upgrade");
    h.headers.add("Upgrade", "websocket");
    h.upgrade = true;
    h.has_body = true;
    h.content_length = -1;
    std::string out;
    CHECK(http1::write_request_head(out, h, "up:80"));
    CHECK(out == "POST /ws HTTP/1.1\r\nhost: h\r\nconnection: Upgrade\r\nupgrade: websocket\r\n"
                 "transfer-encoding: chunked\r\n\r\n");
  }
}

TEST_CASE("http1_encode: 200 with a length to an HTTP/1.1 client", "[http1_encode]") {
  ResponseHead h;
  h.status = 200;
  h.headers.add("Content-Type", "text/plain");
  h.has_body = true;
  h.content_length = 12;
  Encoded e = response(h, 1);
  CHECK(e.bytes == "HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: 12\r\n\r\n");
  CHECK_FALSE(e.chunked);
  CHECK_FALSE(e.close);
}

TEST_CASE("http1_encode: an existing content-length is not repeated", "[http1_encode]") {
  ResponseHead h;
  h.status = 200;
  h.headers.add("Content-Length", "3");
  h.has_body = true;
  h.content_length = 3;
  Encoded e = response(h, 1);
  CHECK(e.bytes == "HTTP/1.1 200 OK\r\ncontent-length: 3\r\n\r\n");
}

TEST_CASE("http1_encode: body of unknown length", "[http1_encode]") {
  ResponseHead h;
  h.status = 200;
  h.has_body = true;
  h.content_length = -1;
  SECTION("HTTP/1.1 client: chunked") {
    Encoded e = response(h, 1);
    CHECK(e.bytes == "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n");
    CHECK(e.chunked);
    CHECK_FALSE(e.close);
  }
  SECTION("HTTP/1.0 client: delimited by closing the connection") {
    Encoded e = response(h, 0);
    CHECK(e.bytes == "HTTP/1.0 200 OK\r\nconnection: close\r\n\r\n");
    CHECK_FALSE(e.chunked);
    CHECK(e.close);
  }
}

TEST_CASE("http1_encode: HTTP/1.0 client with a length keeps the connection", "[http1_encode]") {
  ResponseHead h;
  h.status = 404;
  h.has_body = true;
  h.content_length = 9;
  Encoded e = response(h, 0);
  CHECK(e.bytes == "HTTP/1.0 404 Not Found\r\ncontent-length: 9\r\n\r\n");
  CHECK_FALSE(e.chunked);
  CHECK_FALSE(e.close);
}

TEST_CASE("http1_encode: a bodiless 200 says content-length: 0", "[http1_encode]") {
  ResponseHead h;
  h.status = 200;
  h.has_body = false;
  h.content_length = -1;
  CHECK(response(h, 1).bytes == "HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n");
  CHECK(response(h, 0).bytes == "HTTP/1.0 200 OK\r\ncontent-length: 0\r\n\r\n");
  CHECK_FALSE(response(h, 0).close);
  // ... unless the header is already there.
  h.headers.add("content-length", "0");
  CHECK(response(h, 1).bytes == "HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n");
}

TEST_CASE("http1_encode: content_length 0 is written", "[http1_encode]") {
  ResponseHead h;
  h.status = 201;
  h.has_body = false;
  h.content_length = 0;
  CHECK(response(h, 1).bytes == "HTTP/1.1 201 Created\r\ncontent-length: 0\r\n\r\n");
}

TEST_CASE("http1_encode: 204, 304 and 1xx carry no framing", "[http1_encode]") {
  for (int status : {204, 304, 100, 103}) {
    INFO(status);
    ResponseHead h;
    h.status = status;
    h.has_body = true;  // even if the upstream claimed one
    h.content_length = -1;
    Encoded e = response(h, 1);
    CHECK(e.bytes.find("content-length") == std::string::npos);
    CHECK(e.bytes.find("transfer-encoding") == std::string::npos);
    CHECK_FALSE(e.chunked);
    CHECK_FALSE(e.close);
  }
  ResponseHead h;
  h.status = 304;
  h.headers.add("ETag", "\"abc\"");
  h.content_length = 100;  // the length of the representation, not of this message
  CHECK(response(h, 1).bytes == "HTTP/1.1 304 Not Modified\r\netag: \"abc\"\r\n\r\n");
  h.status = 204;
  h.headers.clear();
  CHECK(response(h, 1).bytes == "HTTP/1.1 204 No Content\r\n\r\n");
  h.status = 100;
  CHECK(response(h, 1).bytes == "HTTP/1.1 100 Continue\r\n\r\n");
}

TEST_CASE("http1_encode: 101 Switching Protocols", "[http1_encode]") {
  ResponseHead h;
  h.status = 101;
  h.headers.add("Connection", "Upgrade");
  h.headers.add("Upgrade", "websocket");
  h.has_body = true;
  Encoded e = response(h, 1);
  CHECK(e.bytes == "HTTP/1.1 101 Switching Protocols\r\nconnection: Upgrade\r\nupgrade: websocket\r\n\r\n");
  CHECK_FALSE(e.chunked);
}

TEST_CASE("http1_encode: add_close", "[http1_encode]") {
  ResponseHead h;
  h.status = 503;
  h.has_body = true;
  h.content_length = 4;
  SECTION("adds connection: close") {
    Encoded e = response(h, 1, true);
    CHECK(e.bytes == "HTTP/1.1 503 Service Unavailable\r\ncontent-length: 4\r\nconnection: close\r\n\r\n");
    CHECK(e.close);
  }
  SECTION("an existing connection header is kept as is") {
    h.headers.add("Connection", "close");
    Encoded e = response(h, 1, true);
    CHECK(e.bytes == "HTTP/1.1 503 Service Unavailable\r\nconnection: close\r\ncontent-length: 4\r\n\r\n");
    CHECK(e.close);
  }
  SECTION("never on an interim response") {
    h.status = 100;
    Encoded e = response(h, 1, true);
    CHECK(e.bytes == "HTTP/1.1 100 Continue\r\n\r\n");
  }
}

TEST_CASE("http1_encode: reason phrases", "[http1_encode]") {
  CHECK(http1::reason_phrase(200) == "OK");
  CHECK(http1::reason_phrase(101) == "Switching Protocols");
  CHECK(http1::reason_phrase(304) == "Not Modified");
  CHECK(http1::reason_phrase(400) == "Bad Request");
  CHECK(http1::reason_phrase(413) == "Content Too Large");
  CHECK(http1::reason_phrase(431) == "Request Header Fields Too Large");
  CHECK(http1::reason_phrase(502) == "Bad Gateway");
  CHECK(http1::reason_phrase(504) == "Gateway Timeout");
  CHECK(http1::reason_phrase(505) == "HTTP Version Not Supported");
  CHECK(http1::reason_phrase(299) == "Unknown");
  CHECK(http1::reason_phrase(0) == "Unknown");

  ResponseHead h;
  h.status = 599;
  h.content_length = 0;
  CHECK(response(h, 1).bytes == "HTTP/1.1 599 Unknown\r\ncontent-length: 0\r\n\r\n");
}

TEST_CASE("http1_encode: chunks in hex", "[http1_encode]") {
  std::string out;
  http1::write_chunk(out, "hello", 5);
  CHECK(out == "5\r\nhello\r\n");
  out.clear();
  std::string big(300, 'x');
  http1::write_chunk(out, big.data(), big.size());
  CHECK(out == "12c\r\n" + big + "\r\n");
  out.clear();
  std::string k(0xABCDE, 'k');
  http1::write_chunk(out, k.data(), k.size());
  CHECK(out.substr(0, 7) == "abcde\r\n");
  CHECK(out.size() == 7 + k.size() + 2);
}

TEST_CASE("http1_encode: an empty chunk writes nothing", "[http1_encode]") {
  std::string out = "x";
  http1::write_chunk(out, "", 0);
  CHECK(out == "x");  // "0\r\n\r\n" would end the body
}

TEST_CASE("http1_encode: last chunk with and without trailers", "[http1_encode]") {
  std::string out;
  http1::write_last_chunk(out, nullptr);
  CHECK(out == "0\r\n\r\n");

  out.clear();
  HeaderMap empty;
  http1::write_last_chunk(out, &empty);
  CHECK(out == "0\r\n\r\n");

  out.clear();
  HeaderMap t;
  t.add("Grpc-Status", "0");
  t.add("X-Checksum", "abc");
  http1::write_chunk(out, "ab", 2);
  http1::write_last_chunk(out, &t);
  CHECK(out == "2\r\nab\r\n0\r\ngrpc-status: 0\r\nx-checksum: abc\r\n\r\n");
}
