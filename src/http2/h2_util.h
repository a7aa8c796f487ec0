// Small helpers shared by the HTTP/2 server and client codecs.
#pragma once

#include <nghttp2/nghttp2.h>

#include <algorithm>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "http/headers.h"

namespace moe::h2 {

inline std::string_view sv(const uint8_t* p, size_t n) { return {reinterpret_cast<const char*>(p), n}; }

inline nghttp2_nv make_nv(std::string_view name, std::string_view value) {
  // No NO_COPY flags: nghttp2 copies the pair when the frame is submitted.
  return {reinterpret_cast<uint8_t*>(const_cast<char*>(name.data())),
          reinterpret_cast<uint8_t*>(const_cast<char*>(value.data())), name.size(), value.size(),
          NGHTTP2_NV_FLAG_NONE};
}

// HPACK and fields it should not keep in its dynamic table (RFC 7541
// 7.1.3). nghttp2 already sends `authorization` (and short cookies) as
// never indexed; moe adds `proxy-authorization`, so no hop keeps a
// credential in a table a compression side channel could probe. Ids that
// are new on every request (request and trace ids) are indexed once per
// connection, so that their name is in the table, then sent never indexed:
// a literal value after a name reference, without evicting the entries
// that do repeat. Measured on gRPC through the traceid filter (h2load -c16
// -m16): indexing every new x-request-id cost moe 14.4 us of CPU per
// request against 13.3 us this way (nghttp2 allocates each entry it
// inserts, and evicts one that repeats); the bytes are the same.
inline int unique_field(std::string_view name) {
  static constexpr std::string_view kNames[] = {
      "x-request-id", "traceparent",   "tracestate",    "x-b3-traceid",   "x-b3-spanid", "b3",
      "x-amzn-trace-id", "x-cloud-trace-context", "uber-trace-id", "grpc-trace-bin"};
  // Most fields start with none of these letters: one compare for them.
  if (name.empty() || std::string_view("xtbug").find(name[0]) == std::string_view::npos) return -1;
  for (size_t i = 0; i < std::size(kNames); i++)
    if (kNames[i] == name) return static_cast<int>(i);
  return -1;
}

// make_nv for a regular header field of a connection's HEADERS;
// `named`: the connection's bits of unique_field names indexed once.
inline nghttp2_nv make_field_nv(std::string_view name, std::string_view value, uint16_t& named) {
  nghttp2_nv nv = make_nv(name, value);
  if (name == "proxy-authorization") {
    nv.flags = NGHTTP2_NV_FLAG_NO_INDEX;
  } else if (const int u = unique_field(name); u >= 0) {
    if (named & (1u << u)) nv.flags = NGHTTP2_NV_FLAG_NO_INDEX;
    else named = static_cast<uint16_t>(named | (1u << u));
  }
  return nv;
}

// Connection-specific fields, forbidden in HTTP/2 (RFC 9113 8.2.2); "te" is
// allowed only as "te: trailers", which the codecs add themselves.
inline bool connection_specific(std::string_view name) {
  return name == "connection" || name == "keep-alive" || name == "proxy-connection" ||
         name == "transfer-encoding" || name == "upgrade" || name == "te";
}

// Trailer fields waiting to follow a stream's body (name, value).
using Trailers = std::vector<std::pair<std::string, std::string>>;

// Copies the fields of `in` that may go out as HTTP/2 trailers: no pseudo
// fields, none that drop(name) refuses (connection-specific, hop-by-hop).
template <typename Drop>
void collect_trailers(const HeaderMap& in, Drop drop, Trailers& out) {
  for (size_t i = 0; i < in.size(); i++) {
    const std::string_view n = in.name(i);
    if (n.empty() || n[0] == ':' || drop(n)) continue;
    out.emplace_back(n, in.value(i));
  }
}

// Both codecs' data-source callback: up to `max` of the `queued` body
// bytes go in the next DATA frame (written from the codec's buffer:
// NO_COPY); none yet and not the end: DEFERRED until resumed. With the last
// bytes, the trailers (if any) are submitted and the DATA frame does not
// end the stream. nva: the connection's scratch array for the trailers.
inline ssize_t read_body(nghttp2_session* session, int32_t id, size_t queued, bool end, const Trailers& trailers,
                         size_t max, uint32_t* flags, bool* deferred, std::vector<nghttp2_nv>& nva) {
  const size_t n = std::min(queued, max);
  if (n == 0 && !end) {
    *deferred = true;
    return NGHTTP2_ERR_DEFERRED;
  }
  *flags |= NGHTTP2_DATA_FLAG_NO_COPY;
  if (end && n == queued) {
    *flags |= NGHTTP2_DATA_FLAG_EOF;
    if (!trailers.empty()) {
      nva.clear();
      for (const auto& [k, v] : trailers) nva.push_back(make_nv(k, v));
      if (nghttp2_submit_trailer(session, id, nva.data(), nva.size()) == 0) *flags |= NGHTTP2_DATA_FLAG_NO_END_STREAM;
    }
  }
  return static_cast<ssize_t>(n);
}

// The callbacks both codecs handle with the same signature, as trampolines
// to Conn's members (send, header block, frames, DATA, stream close).
template <typename Conn>
void set_common_callbacks(nghttp2_session_callbacks* cb) {
  nghttp2_session_callbacks_set_send_callback(cb, [](nghttp2_session*, const uint8_t* data, size_t len, int, void* u) {
    return static_cast<Conn*>(u)->on_send(data, len);
  });
  nghttp2_session_callbacks_set_on_begin_headers_callback(
      cb, [](nghttp2_session*, const nghttp2_frame* f, void* u) { return static_cast<Conn*>(u)->on_begin_headers(f); });
  nghttp2_session_callbacks_set_on_header_callback(
      cb, [](nghttp2_session*, const nghttp2_frame* f, const uint8_t* name, size_t namelen, const uint8_t* value,
             size_t valuelen, uint8_t, void* u) {
        return static_cast<Conn*>(u)->on_header(f, sv(name, namelen), sv(value, valuelen));
      });
  nghttp2_session_callbacks_set_on_frame_recv_callback(
      cb, [](nghttp2_session*, const nghttp2_frame* f, void* u) { return static_cast<Conn*>(u)->on_frame_recv(f); });
  nghttp2_session_callbacks_set_on_data_chunk_recv_callback(
      cb, [](nghttp2_session*, uint8_t, int32_t id, const uint8_t* data, size_t len, void* u) {
        return static_cast<Conn*>(u)->on_data_chunk(id, data, len);
      });
  nghttp2_session_callbacks_set_on_stream_close_callback(
      cb, [](nghttp2_session*, int32_t id, uint32_t code, void* u) {
        return static_cast<Conn*>(u)->on_stream_close(id, code);
      });
}

}  // namespace moe::h2
