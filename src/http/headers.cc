#include "http/headers.h"

#include <array>
#include <cstdint>
#include <cstring>

#include "core/slab.h"

namespace moe {
namespace {

inline char lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c + 32) : c; }
inline bool is_ows(char c) { return c == ' ' || c == '\t'; }

// dst[0..n) = src[0..n) with A-Z lower-cased, 8 bytes per step: a header
// name is 4 to 20 bytes, and the byte loop was ~6 instructions per byte
// (a third of HeaderMap::add under callgrind). Bytes >= 0x80 are left alone.
inline void lower_copy(char* dst, const char* src, size_t n) {
  constexpr uint64_t k7f = 0x7f7f7f7f7f7f7f7fULL, k80 = 0x8080808080808080ULL;
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    uint64_t w;
    memcpy(&w, src + i, 8);
    const uint64_t low7 = w & k7f;
    const uint64_t ge_a = low7 + 0x3f3f3f3f3f3f3f3fULL;  // bit 7 set where byte >= 'A'
    const uint64_t gt_z = low7 + 0x2525252525252525ULL;  // bit 7 set where byte > 'Z'
    const uint64_t upper = (ge_a ^ gt_z) & ~w & k80;       // ASCII and in A..Z
    w |= upper >> 2;                                       // 0x80 >> 2 = 0x20
    memcpy(dst + i, &w, 8);
  }
  for (; i < n; i++) dst[i] = lower(src[i]);
}

// Most requests fit in the first block: one allocation per header block.
constexpr size_t kFirstBlock = 1024;

}  // namespace

char* HeaderMap::alloc_block(size_t cap) {
  return cap == kFirstBlock ? static_cast<char*>(Slab<kFirstBlock>::alloc()) : new char[cap];
}

void HeaderMap::free_block(Block& b) {
  if (b.cap == kFirstBlock) Slab<kFirstBlock>::release(b.mem);
  else delete[] b.mem;
  b.mem = nullptr;
}

HeaderMap::~HeaderMap() {
  for (Block& b : blocks_) free_block(b);
}

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); i++)
    if (lower(a[i]) != lower(b[i])) return false;
  return true;
}

std::string_view trim_ows(std::string_view s) {
  while (!s.empty() && is_ows(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_ows(s.back())) s.remove_suffix(1);
  return s;
}

bool header_list_has(std::string_view list, std::string_view token) {
  return any_list_token(list, [&](std::string_view item) { return iequals(item, token); });
}

char* HeaderMap::reserve(size_t n) {
  if (!blocks_.empty()) {
    Block& b = blocks_.back();
    // The current token occupies [tok_, tok_ + tok_len_) at the end of b.
    if (b.used + n <= b.cap) return b.mem + b.used;
  }
  // Start a new block and carry the unfinished token over (nobody holds a
  // view of it yet). Committed bytes stay where they are.
  size_t cap = blocks_.empty() ? kFirstBlock : blocks_.back().cap * 2;
  while (cap < tok_len_ + n) cap *= 2;
  Block nb;
  nb.mem = alloc_block(cap);
  nb.cap = cap;
  if (tok_len_) memcpy(nb.mem, tok_, tok_len_);
  nb.used = tok_len_;
  // (When a value is carried, its name stays in the old block: both are
  // stable from here on.)
  if (!blocks_.empty()) blocks_.back().used -= tok_len_;
  tok_ = nb.mem;
  if (blocks_.capacity() == 0) blocks_.reserve(kFirstBlocks);  // from the slab
  blocks_.push_back(nb);
  return blocks_.back().mem + blocks_.back().used;
}

void HeaderMap::begin_raw() {
  tok_ = blocks_.empty() ? nullptr : blocks_.back().mem + blocks_.back().used;
  tok_len_ = 0;
}

char* HeaderMap::extend_token(size_t n) {
  char* dst = reserve(n);
  if (!tok_) tok_ = dst;
  blocks_.back().used += n;
  tok_len_ += static_cast<uint32_t>(n);
  bytes_ += n;
  return dst;
}

void HeaderMap::append_raw(const char* p, size_t n) { memcpy(extend_token(n), p, n); }

std::string_view HeaderMap::store(std::string_view s) {
  begin_raw();
  append_raw(s.data(), s.size());
  std::string_view v = raw();
  tok_ = nullptr;
  tok_len_ = 0;
  return v;
}

void HeaderMap::begin_name() {
  begin_raw();
  cur_name_ = nullptr;
}

// Lower-cases while copying: one pass over the bytes, no memcpy call (names
// are short: a call costs more than the loop).
void HeaderMap::append_name(const char* p, size_t n) { lower_copy(extend_token(n), p, n); }

void HeaderMap::begin_value() {
  // The name is complete: freeze it where it is and start the value.
  cur_name_ = tok_;
  cur_name_len_ = tok_len_;
  if (!cur_name_) cur_name_ = "";
  begin_raw();
}

void HeaderMap::append_value(const char* p, size_t n) { append_raw(p, n); }

void HeaderMap::commit() {
  const std::string_view v = trim_ows({tok_ ? tok_ : "", tok_len_});
  if (spans_.capacity() == 0) spans_.reserve(kFirstSpans);  // from the slab
  spans_.push_back(HeaderSpan{cur_name_ ? cur_name_ : "", v.data(), cur_name_len_, static_cast<uint32_t>(v.size())});
  tok_ = nullptr;
  tok_len_ = 0;
  cur_name_ = nullptr;
  cur_name_len_ = 0;
}

std::string_view HeaderMap::get(std::string_view lower_name, bool* found) const {
  for (const HeaderSpan& s : spans_) {
    if (std::string_view(s.name, s.name_len) == lower_name) {
      if (found) *found = true;
      return {s.value, s.value_len};
    }
  }
  if (found) *found = false;
  return {};
}

bool HeaderMap::has(std::string_view lower_name) const {
  bool found;
  get(lower_name, &found);
  return found;
}

int HeaderMap::count(std::string_view lower_name) const {
  int n = 0;
  for (const HeaderSpan& s : spans_)
    if (std::string_view(s.name, s.name_len) == lower_name) n++;
  return n;
}

// A whole field at once (filters' ops, forwarding headers): one reservation
// for name and value, not the parser's fragment-by-fragment path (which
// reserves, copies and updates the token twice and trims in commit): this
// path was ~400 instructions per field under callgrind.
void HeaderMap::add(std::string_view name, std::string_view value) {
  value = trim_ows(value);
  const size_t nn = name.size(), n = nn + value.size();
  // reserve() carries an unfinished token over to a new block; there is
  // none here (a field is never added in the middle of a parsed one).
  tok_ = nullptr;
  tok_len_ = 0;
  char* dst = reserve(n);
  lower_copy(dst, name.data(), nn);
  if (!value.empty()) memcpy(dst + nn, value.data(), value.size());
  blocks_.back().used += n;
  bytes_ += n;
  if (spans_.capacity() == 0) spans_.reserve(kFirstSpans);  // from the slab
  spans_.push_back(HeaderSpan{dst, dst + nn, static_cast<uint32_t>(nn), static_cast<uint32_t>(value.size())});
  cur_name_ = nullptr;
  cur_name_len_ = 0;
}

void HeaderMap::set(std::string_view lower_name, std::string_view value) {
  remove(lower_name);
  add(lower_name, value);
}

int HeaderMap::remove(std::string_view lower_name) {
  int n = 0;
  for (size_t i = spans_.size(); i-- > 0;) {
    if (name(i) == lower_name) {
      spans_.erase(spans_.begin() + static_cast<long>(i));
      n++;
    }
  }
  return n;
}

void HeaderMap::remove_at(size_t i) { spans_.erase(spans_.begin() + static_cast<long>(i)); }

void HeaderMap::clear() {
  spans_.clear();
  // Keep the first block for reuse; views into the old contents end here.
  while (blocks_.size() > 1) {
    free_block(blocks_.back());
    blocks_.pop_back();
  }
  if (!blocks_.empty()) blocks_[0].used = 0;
  tok_ = nullptr;
  tok_len_ = 0;
  cur_name_ = nullptr;
  cur_name_len_ = 0;
  bytes_ = 0;
}

namespace {

// The bytes of an RFC 3986 reg-name other than '%': unreserved and
// sub-delims. A table: one load per byte (a ctype call per byte cost ~14
// instructions per byte of every Host).
constexpr std::array<bool, 256> kRegName = [] {
  std::array<bool, 256> t{};
  for (int c = 'a'; c <= 'z'; c++) t[static_cast<size_t>(c)] = true;
  for (int c = 'A'; c <= 'Z'; c++) t[static_cast<size_t>(c)] = true;
  for (int c = '0'; c <= '9'; c++) t[static_cast<size_t>(c)] = true;
  for (char c : std::string_view("-._~!$&'()*+,;=")) t[static_cast<unsigned char>(c)] = true;
  return t;
}();

constexpr bool is_hex(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

}  // namespace

bool valid_authority(std::string_view a) {
  size_t i = 0;
  if (!a.empty() && a[0] == '[') {
    // IP-literal: IPv6 (hex, ':', '.' for an embedded IPv4). IPvFuture
    // ("v" 1*HEXDIG "." ...), which nobody sends, is refused.
    const size_t end = a.find(']');
    if (end == std::string_view::npos || end == 1) return false;
    for (i = 1; i < end; i++)
      if (!is_hex(a[i]) && a[i] != ':' && a[i] != '.') return false;
    i = end + 1;
  } else {
    for (; i < a.size(); i++) {
      const char c = a[i];
      if (kRegName[static_cast<unsigned char>(c)]) continue;
      if (c == ':') break;
      if (c != '%' || i + 2 >= a.size() || !is_hex(a[i + 1]) || !is_hex(a[i + 2])) return false;
      i += 2;
    }
  }
  if (i == a.size()) return true;
  if (a[i] != ':') return false;
  for (i++; i < a.size(); i++)
    if (a[i] < '0' || a[i] > '9') return false;
  return true;
}

bool forbidden_trailer(std::string_view n) {
  if (!n.empty() && n[0] == ':') return true;  // pseudo-fields
  if (is_hop_by_hop(n)) return true;
  switch (n.size()) {
    case 4: return n == "host";
    case 5: return n == "range";
    case 6: return n == "cookie" || n == "expect";
    case 10: return n == "set-cookie";
    case 12: return n == "content-type";
    case 13: return n == "authorization" || n == "content-range";
    case 14: return n == "content-length";
    case 16: return n == "content-encoding";
    case 19: return n == "proxy-authorization";
    default: return false;
  }
}

}  // namespace moe
