// libFuzzer harness: arbitrary bytes from an h2c client through
// h2::FrameGate (src/http2/h2_frame_gate.h), the frame-header scan that runs
// before nghttp2.
//
// The first input byte is a seed for where the rest is cut into reads (up
// to 8 pieces, some of them inside a frame header or a PRIORITY /
// WINDOW_UPDATE payload prefix). The same bytes go through a second gate
// in one piece. Besides crashes (ASan/UBSan), the harness checks:
//   - scan() returns at most what it was given;
//   - the two gates agree: both find a violation or neither does, with the
//     same error code and reason, and the cut gate reports it no earlier
//     than the frame the whole gate stopped at, and at most 14 bytes (a
//     frame header plus a payload prefix) after that frame's start;
//   - bytes before the reported offset are never withheld: a clean scan
//     returns exactly its length.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "http2/h2_frame_gate.h"

namespace {

[[noreturn]] void fail(const char* what) {
  fprintf(stderr, "h2_frame_gate_fuzz: %s\n", what);
  abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  uint32_t seed = data[0] * 2654435761u + 1;
  const char* p = reinterpret_cast<const char*>(data + 1);
  const size_t n = size - 1;

  moe::h2::FrameGate whole;
  uint32_t whole_code = 0;
  const char* whole_why = nullptr;
  const size_t whole_ok = whole.scan(p, n, &whole_code, &whole_why);
  if (whole_ok > n) fail("whole: scan returned more than it was given");
  const bool whole_violation = whole_ok < n;
  if (whole_violation && !whole_why) fail("whole: a violation without a reason");

  moe::h2::FrameGate cut;
  size_t at = 0;
  bool cut_violation = false;
  uint32_t cut_code = 0;
  const char* cut_why = nullptr;
  size_t cut_abs = n;
  for (int piece = 0; at < n && !cut_violation; piece++) {
    size_t len = n - at;
    if (piece < 7) {
      seed = seed * 1103515245u + 12345u;
      len = std::min<size_t>(len, 1 + (seed >> 8) % 23);  // 1..23 bytes: inside headers and prefixes
    }
    const size_t ok = cut.scan(p + at, len, &cut_code, &cut_why);
    if (ok > len) fail("cut: scan returned more than it was given");
    if (ok < len) {
      cut_violation = true;
      cut_abs = at + ok;
      if (!cut_why) fail("cut: a violation without a reason");
    }
    at += len;
  }
  if (cut_violation != whole_violation) fail("the cut and the whole gate disagree on a violation");
  if (whole_violation) {
    if (cut_code != whole_code || strcmp(cut_why, whole_why) != 0) fail("the cut and the whole gate give different errors");
    if (cut_abs < whole_ok || cut_abs > whole_ok + 14) fail("the cut gate reports the violation at another frame");
  }
  return 0;
}
