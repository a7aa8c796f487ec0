// libFuzzer harness: arbitrary bytes through llhttp in request mode (strict,
// as moe builds it) with the callback shapes of Http1ServerConnection, each
// message built into a moe::HeaderMap from fragments.
//
// The first input byte chooses where the rest is split into two reads, so
// names, values and targets arrive in pieces. Pipelined messages are parsed
// one by one: on_message_complete pauses, the harness checks the message and
// resumes, as the server does.
//
// Besides crashes (ASan), the harness checks what moe relies on:
//   - every view (method, target, names, values) still reads the bytes it
//     read when committed, after all later growth of the arena;
//   - names are lower-case and non-empty, values have no surrounding OWS,
//     and no name or value carries CR, LF or NUL (strict mode must reject
//     them before they reach a HeaderMap).
#include <llhttp.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "http/codec.h"
#include "http/headers.h"

namespace {

constexpr uint32_t kMaxHeaderBytes = 60 * 1024;  // config::Limits defaults
constexpr uint32_t kMaxHeaders = 100;

[[noreturn]] void fail(const char* what) {
  fprintf(stderr, "http1_request_fuzz: %s\n", what);
  abort();
}

struct Committed {
  std::string_view name, value;
  std::string name_copy, value_copy;
};

struct Parser {
  llhttp_t p;
  std::unique_ptr<moe::RequestHead> req = std::make_unique<moe::RequestHead>();
  moe::HeaderMap trailers;
  std::vector<Committed> committed;
  bool in_field = false, have_name = false, in_trailers = false;
  uint32_t header_bytes = 0;
  const char* read_begin = nullptr;
  char prev_byte = 0;
  int messages = 0;

  moe::HeaderMap& map() { return in_trailers ? trailers : req->headers; }
  int limit() { return HPE_USER; }
  void check_message();
};

Parser* self(llhttp_t* p) { return static_cast<Parser*>(p->data); }

int on_message_begin(llhttp_t* p) {
  Parser* s = self(p);
  s->req = std::make_unique<moe::RequestHead>();  // a new Stream per message
  s->trailers.clear();
  s->committed.clear();
  s->header_bytes = 0;
  s->in_field = s->in_trailers = false;
  return 0;
}

int on_method(llhttp_t* p, const char* at, size_t n) {
  moe::RequestHead& r = *self(p)->req;
  if (r.method_view.empty()) r.headers.begin_raw();
  r.headers.append_raw(at, n);
  r.method_view = r.headers.raw();
  self(p)->header_bytes += static_cast<uint32_t>(n);
  return 0;
}

int on_url(llhttp_t* p, const char* at, size_t n) {
  Parser* s = self(p);
  s->header_bytes += static_cast<uint32_t>(n);
  if (s->header_bytes > kMaxHeaderBytes) return s->limit();
  moe::RequestHead& r = *s->req;
  if (r.path_view.empty()) r.headers.begin_raw();
  r.headers.append_raw(at, n);
  r.path_view = r.headers.raw();
  return 0;
}

int on_header_field(llhttp_t* p, const char* at, size_t n) {
  Parser* s = self(p);
  s->header_bytes += static_cast<uint32_t>(n);
  if (s->header_bytes > kMaxHeaderBytes) return s->limit();
  moe::HeaderMap& h = s->map();
  if (!s->in_field) {
    if (h.size() >= kMaxHeaders) return s->limit();
    h.begin_name();
    s->in_field = true;
  }
  if (n) s->have_name = true;
  h.append_name(at, n);
  return 0;
}

int on_header_value(llhttp_t* p, const char* at, size_t n) {
  Parser* s = self(p);
  s->header_bytes += static_cast<uint32_t>(n);
  if (s->header_bytes > kMaxHeaderBytes) return s->limit();
  const char before = at > s->read_begin ? at[-1] : s->prev_byte;
  if (before == '\n') return s->limit();  // obs-fold
  moe::HeaderMap& h = s->map();
  if (s->in_field) {
    h.begin_value();
    s->in_field = false;
  } else if (!s->have_name) {
    return s->limit();
  }
  h.append_value(at, n);
  return 0;
}

int on_header_value_complete(llhttp_t* p) {
  Parser* s = self(p);
  moe::HeaderMap& h = s->map();
  if (s->in_field) {
    h.begin_value();
    s->in_field = false;
  }
  if (!s->have_name) return s->limit();
  s->have_name = false;
  h.commit();
  const size_t i = h.size() - 1;
  s->committed.push_back({h.name(i), h.value(i), std::string(h.name(i)), std::string(h.value(i))});
  return 0;
}

int on_headers_complete(llhttp_t* p) {
  Parser* s = self(p);
  moe::RequestHead& r = *s->req;
  // As Http1ServerConnection::on_headers_complete: llhttp accepts an
  // HTTP/0.9 request line ("GET /x\r\n", even "CONNECT \n" with an empty
  // target) and reports version 0.9; moe answers 505.
  if (p->http_major != 1 || p->http_minor > 1) return s->limit();
  if (r.path().empty()) return s->limit();  // valid_target()
  r.is_connect = p->method == HTTP_CONNECT;
  r.content_length = (p->flags & F_CONTENT_LENGTH) ? static_cast<int64_t>(p->content_length) : -1;
  // The absolute-form rewrite: set() and store() copy into the same arena.
  std::string_view t = r.path();
  if (t.substr(0, 7) == "http://") {
    size_t slash = t.find('/', 7);
    std::string_view authority = t.substr(7, slash == std::string_view::npos ? t.npos : slash - 7);
    std::string path = slash == std::string_view::npos ? std::string("/") : std::string(t.substr(slash));
    r.headers.set("host", authority);
    r.set_path(path);
    if (r.headers.get("host") != authority) fail("host rewrite lost bytes");
    if (r.path() != path) fail("set_path lost bytes");
  }
  return 0;
}

int on_chunk_header(llhttp_t* p) {
  if (p->content_length == 0) self(p)->in_trailers = true;
  return 0;
}

bool has_ctl(std::string_view s) {
  for (char c : s)
    if (c == '\r' || c == '\n' || c == '\0') return true;
  return false;
}

void Parser::check_message() {
  for (const Committed& c : committed) {
    if (c.name != c.name_copy || c.value != c.value_copy) fail("a committed view changed");
    if (c.name.empty()) fail("empty header name committed");
    for (char ch : c.name)
      if (ch >= 'A' && ch <= 'Z') fail("upper-case header name");
    if (!c.value.empty() && (c.value.front() == ' ' || c.value.front() == '\t' ||
                             c.value.back() == ' ' || c.value.back() == '\t'))
      fail("value not trimmed");
    if (has_ctl(c.name) || has_ctl(c.value)) fail("CR/LF/NUL inside a header");
  }
  if (req->method().empty() || req->path().empty()) fail("message without method or target");
  if (has_ctl(req->method()) || has_ctl(req->path())) fail("CR/LF/NUL in the request line");
  messages++;
}

int on_message_complete(llhttp_t* p) {
  self(p)->check_message();
  if (p->upgrade) return 0;
  return HPE_PAUSED;
}

constexpr llhttp_settings_t kSettings = [] {
  llhttp_settings_t s{};
  s.on_message_begin = on_message_begin;
  s.on_method = on_method;
  s.on_url = on_url;
  s.on_header_field = on_header_field;
  s.on_header_value = on_header_value;
  s.on_header_value_complete = on_header_value_complete;
  s.on_headers_complete = on_headers_complete;
  s.on_chunk_header = on_chunk_header;
  s.on_message_complete = on_message_complete;
  return s;
}();

// One read, the way Http1ServerConnection::parse() loops over it. Returns
// false once the connection would be closed.
bool parse(Parser& s, const char* p, size_t n) {
  s.read_begin = p;
  const char last = n ? p[n - 1] : s.prev_byte;
  bool open = true;
  while (n > 0) {
    llhttp_errno_t err = llhttp_execute(&s.p, p, n);
    if (err == HPE_OK) break;
    const char* pos = llhttp_get_error_pos(&s.p);
    if (pos < p || pos > p + n) fail("error position outside the read");
    if (err == HPE_PAUSED) {
      n -= static_cast<size_t>(pos - p);
      p = pos;
      llhttp_resume(&s.p);
      continue;
    }
    open = false;  // upgrade/CONNECT tunnel or an error: no more HTTP here
    break;
  }
  s.prev_byte = last;
  s.read_begin = nullptr;
  return open;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const size_t split = size > 1 ? data[0] % size : 0;
  // Heap copies of each read, sized exactly, so ASan sees any overread and
  // the first read is gone (as the shared read buffer would be) when the
  // second is parsed.
  std::string_view input(reinterpret_cast<const char*>(data) + 1, size - 1);
  const size_t cut = split < input.size() ? split : input.size();

  Parser s;
  llhttp_init(&s.p, HTTP_REQUEST, &kSettings);
  s.p.data = &s;

  char* first = static_cast<char*>(malloc(cut ? cut : 1));
  memcpy(first, input.data(), cut);
  bool open = parse(s, first, cut);
  // Scribble over the first read: nothing may still point into it.
  memset(first, 0xA5, cut);
  free(first);
  if (open && input.size() > cut) {
    const size_t rest = input.size() - cut;
    char* second = static_cast<char*>(malloc(rest));
    memcpy(second, input.data() + cut, rest);
    parse(s, second, rest);
    free(second);
  }
  // Whatever message is half-built: its committed views are still intact.
  for (const Committed& c : s.committed)
    if (c.name != c.name_copy || c.value != c.value_copy) fail("a committed view changed");
  return 0;
}
