// Header blocks: bytes in a stable arena plus an index of (name, value)
// views into it.
//
// The codec copies each header exactly once, from the shared per-worker read
// buffer into the stream's arena (the read buffer is reused by the next read,
// so a view into it cannot outlive the read callback). After that every user
// (router, Go filters, encoders) reads views into the arena.
//
// Stability: bytes in the arena never move once a header is committed. When
// a block is full, a new block is started; only the header being parsed
// (not yet visible to anyone) is carried over. So a std::string_view of a
// name or value stays valid until the HeaderMap is cleared or destroyed, for
// the life of the stream. This is the lifetime promised to Go filters (see
// docs/go-filters.md). The index (spans) may reallocate; keep views, not
// span pointers.
//
// Names are stored lower-case (HTTP/2 requires it; HTTP/1 is case-blind).
// Thread: the owning worker.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/slab.h"

namespace moe {

// Layout shared with Go (include/moe/goext_abi.h mirrors it).
struct HeaderSpan {
  const char* name;
  const char* value;
  uint32_t name_len, value_len;
};

class HeaderMap {
 public:
  HeaderMap() = default;
  ~HeaderMap();
  HeaderMap(const HeaderMap&) = delete;
  HeaderMap& operator=(const HeaderMap&) = delete;

  size_t size() const { return spans_.size(); }
  bool empty() const { return spans_.empty(); }
  std::string_view name(size_t i) const { return {spans_[i].name, spans_[i].name_len}; }
  std::string_view value(size_t i) const { return {spans_[i].value, spans_[i].value_len}; }
  // Bytes stored (names, values and raw pieces), for limits and stats.
  size_t bytes() const { return bytes_; }

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
  // Removes every field whose (lower-case) name drop(name) accepts, in one
  // pass; returns how many went.
  template <typename Drop>
  size_t remove_if(Drop drop) {
    return std::erase_if(spans_, [&](const HeaderSpan& s) { return drop(std::string_view(s.name, s.name_len)); });
  }

  // Incremental building used by the HTTP/1 parser: the current name, then
  // value, arrive in fragments; commit() makes the pair visible.
  void begin_name();
  void append_name(const char* p, size_t n);  // lower-cases
  void begin_value();
  void append_value(const char* p, size_t n);
  void commit();  // trims optional whitespace of the value, appends the span

  // Free-standing bytes in the same arena (request target, method). Pieces
  // of one token may arrive in fragments: begin_raw() then append_raw().
  void begin_raw();
  void append_raw(const char* p, size_t n);
  std::string_view raw() const { return {tok_, tok_len_}; }
  // Stores a whole string and returns a stable view of it.
  std::string_view store(std::string_view s);

  void clear();

  // The index starts with room for this many fields, from the thread's
  // slab: one allocation for a typical message, and no malloc.
  static constexpr size_t kFirstSpans = 16;
  using Spans = std::vector<HeaderSpan, SlabAllocator<HeaderSpan, kFirstSpans>>;
  const Spans& spans() const { return spans_; }

 private:
  char* reserve(size_t n);  // room for n more bytes of the current token
  char* extend_token(size_t n);  // the current token grows by n bytes: where to write them

  // The first block of every map has the same size and comes from the
  // thread's slab (one per worker), so a request's headers cost no malloc
  // in steady state; bigger blocks come from the heap.
  struct Block {
    char* mem = nullptr;
    size_t cap = 0;
    size_t used = 0;
  };
  static char* alloc_block(size_t cap);
  static void free_block(Block& b);
  static constexpr size_t kFirstBlocks = 4;
  std::vector<Block, SlabAllocator<Block, kFirstBlocks>> blocks_;
  Spans spans_;
  // The token being built: it may move to a new block until committed.
  char* tok_ = nullptr;
  uint32_t tok_len_ = 0;
  const char* cur_name_ = nullptr;
  uint32_t cur_name_len_ = 0;
  size_t bytes_ = 0;
};

bool iequals(std::string_view a, std::string_view b);
// s without optional whitespace (SP, HTAB) at either end.
std::string_view trim_ows(std::string_view s);
// Calls fn(item) for each trimmed item (empty ones too) of a comma-separated
// header value until fn returns true; returns whether one did.
template <typename Fn>
bool any_list_token(std::string_view list, Fn fn) {
  while (!list.empty()) {
    const size_t comma = list.find(',');
    const std::string_view item = trim_ows(list.substr(0, comma));
    if (fn(item)) return true;
    if (comma == std::string_view::npos) break;
    list.remove_prefix(comma + 1);
  }
  return false;
}
// True when `list` (a comma-separated header value) has `token`, case-blind.
bool header_list_has(std::string_view list, std::string_view token);

// A request-target an HTTP/1.1 request line can carry: not empty, visible
// ASCII only (RFC 9112 3.2; what llhttp's strict mode accepts), and no
// fragment: '#' is not part of a request-target (RFC 9112 3.2), and passed
// on, the upstream and moe's router could disagree on where the path ends.
// HTTP/2 lets more through (bytes above 0x7e), and every target moe takes
// from it goes upstream in a request line.
inline bool valid_request_target(std::string_view t) {
  if (t.empty()) return false;
  for (char c : t)
    if (static_cast<unsigned char>(c) - 0x21u > 0x7e - 0x21u || c == '#') return false;
  return true;
}

// A Host (or :authority) value moe forwards: RFC 3986 authority without
// userinfo, i.e. host [":" port] with host an IP-literal "[...]", an IPv4
// address or a reg-name (unreserved, pct-encoded, sub-delims). Empty is
// legal (RFC 9112 3.2). "evil.com/x@y" or "user:pw@h" are not: the router
// and an upstream would read different hosts from them. One scan, no copy.
bool valid_authority(std::string_view a);

// Connection-specific headers (RFC 9110 7.6.1). Proxy-Authorization and
// Proxy-Authenticate are left alone, as Envoy and nginx do.
// Switched on the length first: most names have none of these lengths and
// cost one compare (this runs for every field of every request and
// response).
inline bool is_hop_by_hop(std::string_view n) {
  switch (n.size()) {
    case 2: return n == "te";
    case 7: return n == "trailer" || n == "upgrade";
    case 10: return n == "connection" || n == "keep-alive";
    case 16: return n == "proxy-connection";
    case 17: return n == "transfer-encoding";
    default: return false;
  }
}

// A trailer field moe drops: one that frames the message, routes it,
// authenticates it or says how to read its content (RFC 9110 6.5.1), and
// the hop-by-hop ones. Filters ran on the head; an upstream that merged a
// trailer "host" or "authorization" into the head would act on what no
// route or filter saw.
bool forbidden_trailer(std::string_view lower_name);

}  // namespace moe
