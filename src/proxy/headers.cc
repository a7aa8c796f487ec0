#include "proxy/headers.h"

namespace moe {
namespace {

inline char lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c + 32) : c; }

inline bool is_ows(char c) { return c == ' ' || c == '\t'; }

}  // namespace

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); i++)
    if (lower(a[i]) != lower(b[i])) return false;
  return true;
}

bool header_list_has(std::string_view list, std::string_view token) {
  size_t i = 0;
  while (i < list.size()) {
    size_t j = list.find(',', i);
    if (j == std::string_view::npos) j = list.size();
    std::string_view item = list.substr(i, j - i);
    while (!item.empty() && is_ows(item.front())) item.remove_prefix(1);
    while (!item.empty() && is_ows(item.back())) item.remove_suffix(1);
    if (iequals(item, token)) return true;
    i = j + 1;
  }
  return false;
}

std::string_view HeaderMap::get(std::string_view lower_name, bool* found) const {
  for (const HeaderSpan& s : spans_) {
    if (view(s.name_off, s.name_len) == lower_name) {
      if (found) *found = true;
      return view(s.value_off, s.value_len);
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
    if (view(s.name_off, s.name_len) == lower_name) n++;
  return n;
}

void HeaderMap::append_name(const char* p, size_t n) {
  const size_t base = arena_.size();
  arena_.append(p, n);
  for (size_t i = base; i < arena_.size(); i++) arena_[i] = lower(arena_[i]);
  cur_.name_len += static_cast<uint32_t>(n);
}

void HeaderMap::commit() {
  while (cur_.value_len && is_ows(arena_[cur_.value_off])) { cur_.value_off++; cur_.value_len--; }
  while (cur_.value_len && is_ows(arena_[cur_.value_off + cur_.value_len - 1])) cur_.value_len--;
  spans_.push_back(cur_);
}

void HeaderMap::add(std::string_view name, std::string_view value) {
  begin_name();
  append_name(name.data(), name.size());
  begin_value();
  append_value(value.data(), value.size());
  spans_.push_back(cur_);
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

}  // namespace moe
