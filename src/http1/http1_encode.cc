#include "http1/http1_encode.h"

#include <charconv>

namespace moe::http1 {
namespace {

// Returns whether a field named `watch` was among them (one length
// compare per field for the others; names are never empty, so an empty
// `watch` finds nothing).
bool append_headers(std::string& out, const HeaderMap& h, std::string_view watch = {}) {
  bool seen = false;
  for (size_t i = 0; i < h.size(); i++) {
    const std::string_view n = h.name(i);
    seen = seen || (n.size() == watch.size() && n == watch);
    out.append(n);
    out.append(": ", 2);
    out.append(h.value(i));
    out.append("\r\n", 2);
  }
  return seen;
}

void append_uint(std::string& out, uint64_t v) {
  char buf[24];
  auto r = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, static_cast<size_t>(r.ptr - buf));
}

}  // namespace

std::string_view reason_phrase(int status) {
  switch (status) {
    case 100: return "Continue";
    case 101: return "Switching Protocols";
    case 103: return "Early Hints";
    case 200: return "OK";
    case 201: return "Created";
    case 202: return "Accepted";
    case 204: return "No Content";
    case 206: return "Partial Content";
    case 301: return "Moved Permanently";
    case 302: return "Found";
    case 304: return "Not Modified";
    case 307: return "Temporary Redirect";
    case 308: return "Permanent Redirect";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 413: return "Content Too Large";
    case 414: return "URI Too Long";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    case 505: return "HTTP Version Not Supported";
    default: return "Unknown";
  }
}

bool write_request_head(std::string& out, const RequestHead& h, std::string_view default_host) {
  out.append(h.method());
  out.push_back(' ');
  out.append(h.path());
  out.append(" HTTP/1.1\r\n", 11);
  if (!append_headers(out, h.headers, "host")) {
    // Every HTTP/1.1 request has a Host (RFC 9112 3.2); an HTTP/1.0 client
    // may send none, and a filter may remove it.
    out.append("host: ", 6);
    out.append(default_host);
    out.append("\r\n", 2);
  }
  bool chunked = false;
  // An Upgrade request's body is framed like any other (the tunnel starts
  // after it, if the upstream agrees); sent unframed, the upstream would
  // read it as the next request.
  if (h.has_body && h.content_length < 0 && !h.is_connect) {
    out.append("transfer-encoding: chunked\r\n");
    chunked = true;
  }
  out.append("\r\n", 2);
  return chunked;
}

void write_response_head(std::string& out, const ResponseHead& h, int client_minor, bool add_close,
                         bool& chunked, bool& close) {
  out.append(client_minor == 0 ? "HTTP/1.0 " : "HTTP/1.1 ");
  append_uint(out, static_cast<uint64_t>(h.status));
  out.push_back(' ');
  out.append(reason_phrase(h.status));
  out.append("\r\n", 2);
  append_headers(out, h.headers);
  chunked = false;
  close = add_close;
  const bool bodiless = (h.status >= 100 && h.status < 200) || h.status == 204 || h.status == 304;
  if (!bodiless && h.status != 101) {
    if (h.content_length >= 0) {
      if (!h.headers.has("content-length")) {
        out.append("content-length: ");
        append_uint(out, static_cast<uint64_t>(h.content_length));
        out.append("\r\n", 2);
      }
    } else if (h.has_body) {
      if (client_minor >= 1) {
        out.append("transfer-encoding: chunked\r\n");
        chunked = true;
      } else {
        close = true;  // HTTP/1.0: the end of the body is the end of the connection
      }
    } else if (!h.headers.has("content-length")) {
      out.append("content-length: 0\r\n");
    }
  }
  if (close && h.status >= 200 && !h.headers.has("connection")) out.append("connection: close\r\n");
  out.append("\r\n", 2);
}

void write_chunk(std::string& out, const char* p, size_t n) {
  if (n == 0) return;  // a zero-size chunk would end the body
  char buf[20];
  auto r = std::to_chars(buf, buf + sizeof buf, static_cast<uint64_t>(n), 16);
  out.append(buf, static_cast<size_t>(r.ptr - buf));
  out.append("\r\n", 2);
  out.append(p, n);
  out.append("\r\n", 2);
}

void write_chunk_header(std::string& out, size_t n) {
  char buf[20];
  auto r = std::to_chars(buf, buf + sizeof buf, static_cast<uint64_t>(n), 16);
  out.append(buf, static_cast<size_t>(r.ptr - buf));
  out.append("\r\n", 2);
}

void write_last_chunk(std::string& out, const HeaderMap* trailers) {
  out.append("0\r\n", 3);
  if (trailers) append_headers(out, *trailers);
  out.append("\r\n", 2);
}

}  // namespace moe::http1
