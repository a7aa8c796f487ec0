// Durations, sizes and small text helpers.
#include <cstdint>

#include "config/config_parse.h"

namespace moe::config {

namespace {

// Large enough for any sane timeout, small enough that adding it to a
// nanosecond clock reading cannot overflow int64.
constexpr uint64_t kMaxDurationMs = 1'000'000ULL * 3'600'000ULL;  // 1,000,000h

bool is_digit(char c) { return c >= '0' && c <= '9'; }

// Leading decimal digits of `s` into `out`; advances `i`. False on overflow
// or when there are none.
bool take_digits(std::string_view s, size_t& i, uint64_t& out, size_t& ndigits) {
  out = 0;
  ndigits = 0;
  while (i < s.size() && is_digit(s[i])) {
    if (__builtin_mul_overflow(out, 10, &out)) return false;
    if (__builtin_add_overflow(out, static_cast<uint64_t>(s[i] - '0'), &out)) return false;
    ++i;
    ++ndigits;
  }
  return ndigits > 0;
}

}  // namespace

std::optional<Duration> parse_duration(std::string_view text) {
  if (text == "0") return Duration{0};
  size_t i = 0;
  uint64_t whole = 0;
  size_t nwhole = 0;
  if (!take_digits(text, i, whole, nwhole)) return std::nullopt;
  uint64_t frac = 0;
  size_t nfrac = 0;
  if (i < text.size() && text[i] == '.') {
    ++i;
    if (!take_digits(text, i, frac, nfrac) || nfrac > 9) return std::nullopt;
  }
  std::string_view unit = text.substr(i);
  uint64_t unit_ms = 0;
  if (unit == "ms") {
    unit_ms = 1;
  } else if (unit == "s") {
    unit_ms = 1000;
  } else if (unit == "m") {
    unit_ms = 60'000;
  } else if (unit == "h") {
    unit_ms = 3'600'000;
  } else {
    return std::nullopt;  // no unit, an unknown one, or trailing garbage
  }
  uint64_t ms = 0;
  if (__builtin_mul_overflow(whole, unit_ms, &ms)) return std::nullopt;
  if (nfrac > 0) {
    uint64_t scale = 1;
    for (size_t k = 0; k < nfrac; ++k) scale *= 10;
    uint64_t part = 0;
    if (__builtin_mul_overflow(frac, unit_ms, &part)) return std::nullopt;
    // "1.0001s" would silently become 1s: refuse precision we cannot keep.
    if (part % scale != 0) return std::nullopt;
    if (__builtin_add_overflow(ms, part / scale, &ms)) return std::nullopt;
  }
  if (ms > kMaxDurationMs) return std::nullopt;
  return Duration{static_cast<int64_t>(ms)};
}

std::optional<uint64_t> parse_size(std::string_view text) {
  size_t i = 0;
  uint64_t n = 0;
  size_t ndigits = 0;
  if (!take_digits(text, i, n, ndigits)) return std::nullopt;
  std::string_view unit = text.substr(i);
  uint64_t mult = 0;
  if (unit.empty()) {
    mult = 1;
  } else if (unit == "KiB") {
    mult = 1ULL << 10;
  } else if (unit == "MiB") {
    mult = 1ULL << 20;
  } else if (unit == "GiB") {
    mult = 1ULL << 30;
  } else {
    return std::nullopt;
  }
  uint64_t out = 0;
  if (__builtin_mul_overflow(n, mult, &out)) return std::nullopt;
  return out;
}

std::string format_duration(Duration d) {
  int64_t ms = d.count();
  if (ms == 0) return "0s";
  if (ms % 3'600'000 == 0) return std::to_string(ms / 3'600'000) + "h";
  if (ms % 60'000 == 0) return std::to_string(ms / 60'000) + "m";
  if (ms % 1000 == 0) return std::to_string(ms / 1000) + "s";
  return std::to_string(ms) + "ms";
}

}  // namespace moe::config

namespace moe::config::detail {

bool is_http_token(std::string_view s) {
  if (s.empty()) return false;
  for (unsigned char c : s) {
    bool ok = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
    if (!ok) {
      switch (c) {
        case '!': case '#': case '$': case '%': case '&': case '\'': case '*':
        case '+': case '-': case '.': case '^': case '_': case '`': case '|': case '~':
          ok = true;
          break;
        default:
          break;
      }
    }
    if (!ok) return false;
  }
  return true;
}

std::string to_lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

std::string to_upper(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
  }
  return out;
}

}  // namespace moe::config::detail
