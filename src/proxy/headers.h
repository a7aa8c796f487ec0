// Header blocks: one arena of bytes plus an index of (name, value) spans.
//
// The codec copies each header exactly once, from the shared per-worker read
// buffer into the stream's arena (the read buffer is reused by the next read,
// so a view into it cannot outlive the read callback). After that every user
// (router, filters in Go, encoders) reads views into the arena. Spans are
// offsets, not pointers, so the arena may grow while headers arrive; once the
// block is complete it does not move again until the stream ends, which is
// the lifetime Go filters are promised for header views.
//
// Names are stored lower-case (HTTP/2 requires it; HTTP/1 is case-blind).
// Thread: the owning worker.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace moe {

struct HeaderSpan {
  uint32_t name_off, name_len, value_off, value_len;
};

class HeaderMap {
 public:
  size_t size() const { return spans_.size(); }
  bool empty() const { return spans_.empty(); }
  std::string_view name(size_t i) const { return view(spans_[i].name_off, spans_[i].name_len); }
  std::string_view value(size_t i) const { return view(spans_[i].value_off, spans_[i].value_len); }
  size_t bytes() const { return arena_.size(); }

  // First value of `lower_name`, or empty view with found=false.
  std::string_view get(std::string_view lower_name, bool* found = nullptr) const;
  bool has(std::string_view lower_name) const;
  int count(std::string_view lower_name) const;

  // Appends; the name is lower-cased on the way in.
  void add(std::string_view name, std::string_view value);
  // Replaces every value of `lower_name` with one (or adds it).
  void set(std::string_view lower_name, std::string_view value);
  // Removes every entry named `lower_name`; returns how many.
  int remove(std::string_view lower_name);
  void remove_at(size_t i);

  // Incremental building used by the HTTP/1 parser: pieces of the current
  // name or value arrive in fragments.
  void begin_name() { cur_.name_off = static_cast<uint32_t>(arena_.size()); cur_.name_len = 0; }
  void append_name(const char* p, size_t n);  // lower-cases
  void begin_value() { cur_.value_off = static_cast<uint32_t>(arena_.size()); cur_.value_len = 0; }
  void append_value(const char* p, size_t n) { arena_.append(p, n); cur_.value_len += static_cast<uint32_t>(n); }
  void commit();  // trims optional whitespace of the value, appends the span

  // Free-standing bytes in the same arena (request target, method, reason).
  uint32_t append_raw(std::string_view s) {
    uint32_t off = static_cast<uint32_t>(arena_.size());
    arena_.append(s);
    return off;
  }
  std::string_view view(uint32_t off, uint32_t len) const { return {arena_.data() + off, len}; }

  void clear() { arena_.clear(); spans_.clear(); }
  // Gives memory back (idle streams hold none).
  void release() { std::string().swap(arena_); std::vector<HeaderSpan>().swap(spans_); }

  const std::vector<HeaderSpan>& spans() const { return spans_; }
  const char* arena_data() const { return arena_.data(); }

 private:
  std::string arena_;
  std::vector<HeaderSpan> spans_;
  HeaderSpan cur_{};
};

bool iequals(std::string_view a, std::string_view b);
// True when `list` (a comma-separated header value) has `token`, case-blind.
bool header_list_has(std::string_view list, std::string_view token);

}  // namespace moe
