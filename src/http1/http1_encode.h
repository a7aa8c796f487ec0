// Writing HTTP/1.1 message heads and chunked framing straight into a
// connection's output buffer (one append per piece, no temporary strings).
#pragma once

#include <string>
#include <string_view>

#include "http/codec.h"

namespace moe::http1 {

std::string_view reason_phrase(int status);

// "METHOD target HTTP/1.1\r\n" + headers. Adds "host: <default_host>" when
// the request has no Host (an HTTP/1.0 client's; the caller passes the
// upstream's address as configured, what nginx's proxy_pass sends and what
// moe's HTTP/2 client puts in :authority), and "transfer-encoding: chunked"
// when the body has no length. Returns true when the body is chunked.
bool write_request_head(std::string& out, const RequestHead& h, std::string_view default_host);
// "HTTP/1.x status reason\r\n" + headers, framing chosen for a client that
// speaks HTTP/1.<client_minor>. Sets `chunked`, and `close` when the body
// must be delimited by closing the connection (HTTP/1.0 client, no length).
void write_response_head(std::string& out, const ResponseHead& h, int client_minor, bool add_close,
                         bool& chunked, bool& close);
void write_chunk(std::string& out, const char* p, size_t n);
// "<hex size>\r\n": the body and its "\r\n" follow separately.
void write_chunk_header(std::string& out, size_t n);
void write_last_chunk(std::string& out, const HeaderMap* trailers);

}  // namespace moe::http1
