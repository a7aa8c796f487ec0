#include "http2/h2_frame_gate.h"

#include <algorithm>
#include <cstring>

namespace moe::h2 {

namespace {

constexpr uint8_t kEndStream = 0x1;
constexpr uint32_t kProtocolError = 0x1;
constexpr uint32_t kStreamClosed = 0x5;

uint32_t be32(const uint8_t* p) {
  return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | uint32_t{p[3]};
}

}  // namespace

int FrameGate::bit(uint32_t id) const {
  if (id < base_) return -1;
  return static_cast<int>((id - base_) / 2);
}

void FrameGate::open(uint32_t id) {
  const uint32_t top = base_ + 2 * (kWindow - 1);
  if (id > top) {
    const uint32_t shift = (id - top) / 2;
    if (shift >= kWindow) {
      opened_ = ended_ = 0;
    } else {
      opened_ >>= shift;
      ended_ >>= shift;
    }
    base_ = id - 2 * (kWindow - 1);
  }
  opened_ |= uint64_t{1} << bit(id);
  max_id_ = id;
}

bool FrameGate::on_header(uint8_t type, uint8_t flags, uint32_t id, uint32_t length, uint32_t* code,
                          const char** why) {
  (void)length;
  // Stream 0, even ids and ids above max_id_ (idle streams) are nghttp2's
  // to judge; it does so correctly.
  const bool client_id = id != 0 && (id & 1) != 0;
  switch (type) {
    case kHeaders: {
      if (!client_id) return true;
      if (id > max_id_) {
        open(id);
        if (flags & kEndStream) ended_ |= uint64_t{1} << bit(id);
        return true;
      }
      const int b = bit(id);
      if (b < 0) return true;
      if (!((opened_ >> b) & 1)) {
        *code = kProtocolError;
        *why = "HEADERS opening a stream id lower than one already used";
        return false;
      }
      if ((ended_ >> b) & 1) {
        *code = kStreamClosed;
        *why = "HEADERS on a stream the client had already ended";
        return false;
      }
      if (flags & kEndStream) ended_ |= uint64_t{1} << b;  // trailers
      return true;
    }
    case kData: {
      if (!client_id || id > max_id_) return true;
      const int b = bit(id);
      if (b < 0) return true;
      if (!((opened_ >> b) & 1) || ((ended_ >> b) & 1)) {
        *code = kStreamClosed;
        *why = ((opened_ >> b) & 1) ? "DATA on a stream the client had already ended"
                                    : "DATA on a stream id the client skipped (closed)";
        return false;
      }
      if (flags & kEndStream) ended_ |= uint64_t{1} << b;
      return true;
    }
    case kRstStream: {
      if (!client_id || id > max_id_) return true;
      const int b = bit(id);
      if (b >= 0 && ((opened_ >> b) & 1)) ended_ |= uint64_t{1} << b;
      return true;
    }
    case kPriority:
      if (id == 0) {
        *code = kProtocolError;
        *why = "PRIORITY on stream 0";
        return false;
      }
      return true;
    default:
      return true;
  }
}

bool FrameGate::on_payload_prefix(uint32_t* code, const char** why) {
  const uint32_t v = be32(prefix_) & 0x7fffffffu;
  if (cur_type_ == kPriority && v == cur_id_) {
    *code = kProtocolError;
    *why = "PRIORITY: a stream cannot depend on itself";
    return false;
  }
  if (cur_type_ == kWindowUpdate && v == 0) {
    *code = kProtocolError;
    *why = "WINDOW_UPDATE with an increment of 0";
    return false;
  }
  return true;
}

size_t FrameGate::scan(const char* p, size_t n, uint32_t* error_code, const char** why) {
  const auto* u = reinterpret_cast<const uint8_t*>(p);
  size_t i = 0;
  if (preface_left_) {
    const size_t k = std::min<size_t>(n, preface_left_);
    preface_left_ -= static_cast<uint32_t>(k);
    i = k;
  }
  // Where the frame being scanned began in this chunk (0 if in an earlier
  // one: its first bytes have gone to nghttp2 already, which is harmless,
  // since the session ends right after).
  size_t frame_start = i;
  while (i < n) {
    if (need_) {
      const size_t k = std::min<size_t>(n - i, need_ - have_);
      std::memcpy(prefix_ + have_, u + i, k);
      have_ += static_cast<uint8_t>(k);
      i += k;
      payload_left_ -= static_cast<uint32_t>(k);
      if (have_ < need_) break;
      need_ = have_ = 0;
      if (!on_payload_prefix(error_code, why)) return frame_start;
      continue;
    }
    if (payload_left_) {
      const size_t k = std::min<size_t>(n - i, payload_left_);
      i += k;
      payload_left_ -= static_cast<uint32_t>(k);
      continue;
    }
    // A frame header: straight from the input when it is all there.
    const uint8_t* h;
    if (hdr_len_ == 0 && n - i >= 9) {
      frame_start = i;
      h = u + i;
      i += 9;
    } else {
      if (hdr_len_ == 0) frame_start = i;
      const size_t k = std::min<size_t>(n - i, 9u - hdr_len_);
      std::memcpy(hdr_ + hdr_len_, u + i, k);
      hdr_len_ += static_cast<uint8_t>(k);
      i += k;
      if (hdr_len_ < 9) break;
      hdr_len_ = 0;
      h = hdr_;
    }
    const uint32_t length = (uint32_t{h[0]} << 16) | (uint32_t{h[1]} << 8) | uint32_t{h[2]};
    const uint8_t type = h[3];
    const uint32_t id = be32(h + 5) & 0x7fffffffu;
    if (!on_header(type, h[4], id, length, error_code, why)) return frame_start;
    payload_left_ = length;
    cur_type_ = type;
    cur_id_ = id;
    if ((type == kPriority && length == 5) || (type == kWindowUpdate && length == 4)) {
      need_ = type == kPriority ? 5 : 4;
    }
  }
  return n;
}

}  // namespace moe::h2
