// The frame gate: a frame-header scan of what an h2c client sends, run
// before nghttp2 sees the bytes, for the stream-state rules nghttp2 1.52
// deliberately leaves lax.
//
// Why: nghttp2 forgets a stream once it is closed (we run it with
// no_closed_streams, and it keeps no history without the RFC 7540 priority
// tree either), so a frame on a stream the *client* already ended is
// ignored instead of being the STREAM_CLOSED error RFC 9113 5.1 requires; a
// HEADERS on a stream id below one already used is ignored instead of being
// PROTOCOL_ERROR (5.1.1); and a PRIORITY frame on stream 0 or depending on
// itself (6.3, 5.3.1), or a zero WINDOW_UPDATE on a stream nghttp2 no longer
// tracks (6.9), passes. Being strict is safe exactly where the client
// cannot be racing us: it knows it sent END_STREAM or RST_STREAM, and it
// knows which ids it used. A frame on a stream *we* reset stays ignored, as
// RFC 9113 5.1 says it must be (the client may not have seen our RST yet).
//
// What it remembers: the last 64 client stream ids (a window of odd ids
// ending at the highest id opened) as two bitmaps, opened and ended by the
// client. Older ids fall out of the window and are left to nghttp2 (lax,
// never wrong). Every violation is answered as a connection error (GOAWAY):
// RFC 9113 5.4.1 lets an endpoint treat any stream error that way, and each
// of these is a client bug, not a race.
//
// Cost: a few compares per frame header, no allocation; the payload is
// never touched except the 4 or 5 bytes of WINDOW_UPDATE and PRIORITY.
// Thread: the owning worker (one gate per connection).
#pragma once

#include <cstddef>
#include <cstdint>

namespace moe::h2 {

class FrameGate {
 public:
  // Scans n bytes. Returns how many may go to nghttp2: n, or the offset of
  // the first frame that breaks a rule (then *error_code is the HTTP/2
  // error code for GOAWAY and *why a short reason; nothing after that
  // offset may be processed).
  size_t scan(const char* p, size_t n, uint32_t* error_code, const char** why);

 private:
  enum : uint8_t { kData = 0x0, kHeaders = 0x1, kPriority = 0x2, kRstStream = 0x3, kWindowUpdate = 0x8 };
  static constexpr uint32_t kPrefaceLen = 24;
  static constexpr uint32_t kWindow = 64;  // odd ids remembered

  // Frame-header rules; false = violation (code, why set).
  bool on_header(uint8_t type, uint8_t flags, uint32_t id, uint32_t length, uint32_t* code, const char** why);
  // Payload-prefix rules (PRIORITY, WINDOW_UPDATE) once need_ bytes arrived.
  bool on_payload_prefix(uint32_t* code, const char** why);
  // -1: below the window (unknown), else the bit index of odd id.
  int bit(uint32_t id) const;
  void open(uint32_t id);

  uint32_t preface_left_ = kPrefaceLen;  // the client magic, checked by nghttp2
  uint32_t payload_left_ = 0;            // bytes of the current frame still to skip
  uint8_t hdr_[9];
  uint8_t hdr_len_ = 0;  // bytes of a split frame header gathered
  uint8_t need_ = 0;     // payload-prefix bytes wanted (PRIORITY 5, WINDOW_UPDATE 4)
  uint8_t have_ = 0;
  uint8_t prefix_[5];
  uint8_t cur_type_ = 0;
  uint32_t cur_id_ = 0;
  uint32_t base_ = 1;     // lowest odd id in the window
  uint32_t max_id_ = 0;   // highest client stream id opened
  uint64_t opened_ = 0;   // bit i: stream base_ + 2i was opened by the client
  uint64_t ended_ = 0;    // bit i: the client sent END_STREAM or RST_STREAM on it
};

}  // namespace moe::h2
