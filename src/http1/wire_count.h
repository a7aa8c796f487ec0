// http1::WireCount: the bytes of an HTTP/1 message that llhttp consumes
// without handing them to a callback, bounded. One counter for both codecs
// (requests in Http1ServerConnection, responses in Http1ClientConnection).
//
// llhttp skips, with no callback, blank lines before a start line, runs of
// spaces in it and before a header value, and leading zeros of a chunk
// size: the spans the callbacks count stay small while the worker parses
// without end (100 MiB of zeros in one chunk-size line was taken). So the
// bytes a message consumed outside its spans are bounded here, once per
// read: a read is at most 64 KiB, so each bound holds to within one, and no
// offset is kept per span. In the head every byte read counts; in a chunked
// body, the bytes of the reads after the one that ended the head (llhttp
// does not say where in that read the head ended), less their body and
// trailer spans.
#pragma once

#include <cstddef>
#include <cstdint>

namespace moe::http1 {

class WireCount {
 public:
  enum class Verdict : uint8_t { ok, head_too_large, framing_too_long };

  // A message begins (and again for a final response after a 1xx).
  void begin() {
    phase_ = Phase::head;
    wire_ = 0;
  }
  void head_ended() { phase_ = Phase::head_ended; }
  // Body (or trailer) span bytes: not framing.
  void span(size_t n) { spans_ += n; }
  void chunk() { ++chunks_; }

  struct Limits {
    uint64_t head;        // the head on the wire
    uint64_t framing;     // a chunked body's framing, plus
    uint64_t per_chunk;   // this much per chunk
  };
  // After each read of n bytes of this message. `chunked`: its body is;
  // `other_spans`: span bytes not reported through span() (a codec that
  // counts its trailers elsewhere).
  Verdict account(size_t n, const Limits& l, bool chunked, uint64_t other_spans = 0) {
    switch (phase_) {
      case Phase::head:
        wire_ += n;
        return wire_ > l.head ? Verdict::head_too_large : Verdict::ok;
      case Phase::head_ended:
        phase_ = Phase::body;
        wire_ = spans_ = 0;
        chunks_ = 0;
        return Verdict::ok;
      case Phase::body:
        if (!chunked) return Verdict::ok;  // a sized body has no framing
        wire_ += n;
        return wire_ - spans_ - other_spans > l.framing + l.per_chunk * chunks_ ? Verdict::framing_too_long
                                                                                 : Verdict::ok;
    }
    return Verdict::ok;
  }

 private:
  enum class Phase : uint8_t { head, head_ended, body };
  uint64_t wire_ = 0;   // bytes of the counted reads
  uint64_t spans_ = 0;  // body and trailer span bytes of the counted reads
  uint32_t chunks_ = 0;  // chunks begun in the counted reads
  Phase phase_ = Phase::head;
};

}  // namespace moe::http1
