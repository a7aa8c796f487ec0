#include "core/access_log.h"

#include <fcntl.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <ctime>
#include <fmt/format.h>

#include "core/log.h"

namespace moe {
namespace {

int open_path(const std::string& path) {
  if (path == "stdout") return STDOUT_FILENO;
  return ::open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
}

void write_all(int fd, const std::string& s) {
  size_t off = 0;
  while (off < s.size()) {
    ssize_t n = ::write(fd, s.data() + off, s.size() - off);
    if (n < 0) {
      if (errno == EINTR) continue;
      return;
    }
    off += static_cast<size_t>(n);
  }
}

// JSON string escaping for values that come from the wire (path, method).
void append_json_string(std::string& out, std::string_view s) {
  out.push_back('"');
  for (unsigned char c : s) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (c < 0x20 || c == 0x7f) fmt::format_to(std::back_inserter(out), "\\u{:04x}", c);
        else out.push_back(static_cast<char>(c));
    }
  }
  out.push_back('"');
}

// Text format: the path is written as-is except control characters, which
// would let a client forge log lines.
void append_text(std::string& out, std::string_view s) {
  if (s.empty()) { out.push_back('-'); return; }
  for (unsigned char c : s) {
    if (c < 0x20 || c == 0x7f || c == '"') fmt::format_to(std::back_inserter(out), "\\x{:02x}", c);
    else out.push_back(static_cast<char>(c));
  }
}

void append_time(std::string& out) {
  auto now = std::chrono::system_clock::now();
  auto secs = std::chrono::system_clock::to_time_t(now);
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000;
  struct tm tm;
  gmtime_r(&secs, &tm);
  char buf[32];
  size_t n = strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  out.append(buf, n);
  fmt::format_to(std::back_inserter(out), ".{:03d}Z", static_cast<int>(ms));
}

}  // namespace

std::unique_ptr<AccessLog> AccessLog::open(const std::string& path, config::LogFormat format,
                                           std::vector<std::string> value_names, int workers, std::string& err) {
  int fd = open_path(path);
  if (fd < 0) {
    err = path + ": " + strerror(errno);
    return nullptr;
  }
  return std::unique_ptr<AccessLog>(new AccessLog(path, format, std::move(value_names), fd, workers));
}

AccessLog::AccessLog(std::string path, config::LogFormat format, std::vector<std::string> value_names, int fd,
                     int workers)
    : path_(std::move(path)), format_(format), value_names_(std::move(value_names)), fd_(fd) {
  for (int i = 0; i < workers; i++) slots_.push_back(std::make_unique<Slot>());
  thread_ = std::thread([this] { run(); });
}

AccessLog::~AccessLog() {
  stop();
  if (fd_ > STDERR_FILENO) ::close(fd_);
}

void AccessLog::log(int worker, const AccessRecord& r) {
  Slot& slot = *slots_[static_cast<size_t>(worker)];
  std::lock_guard lk(slot.mu);
  std::string& out = slot.buf;
  auto it = std::back_inserter(out);
  if (format_ == config::LogFormat::json) {
    out += "{\"time\":\"";
    append_time(out);
    out += "\",\"method\":";
    append_json_string(out, r.method);
    out += ",\"path\":";
    append_json_string(out, r.path);
    out += ",\"upstream_path\":";
    append_json_string(out, r.upstream_path);
    out += ",\"protocol\":";
    append_json_string(out, r.protocol);
    fmt::format_to(it, ",\"status\":{},\"bytes_received\":{},\"bytes_sent\":{},\"duration_ms\":{:.3f},",
                   r.status, r.bytes_received, r.bytes_sent, static_cast<double>(r.duration_us) / 1000.0);
    if (r.upstream_us >= 0) fmt::format_to(it, "\"upstream_ms\":{:.3f}", static_cast<double>(r.upstream_us) / 1000.0);
    else out += "\"upstream_ms\":null";
    out += ",\"upstream_host\":";
    append_json_string(out, r.upstream_host);
    out += ",\"flags\":";
    append_json_string(out, r.flags);
    out += ",\"listener\":";
    append_json_string(out, r.listener);
    out += ",\"route\":";
    append_json_string(out, r.route);
    out += ",\"cluster\":";
    append_json_string(out, r.cluster);
    out += ",\"request_id\":";
    append_json_string(out, r.request_id);
    out += ",\"user_agent\":";
    append_json_string(out, r.user_agent);
    if (!value_names_.empty()) {
      out += ",\"values\":{";
      for (size_t i = 0; i < value_names_.size(); i++) {
        if (i) out.push_back(',');
        append_json_string(out, value_names_[i]);
        out.push_back(':');
        if (r.values && !r.values[i].empty()) append_json_string(out, r.values[i]);
        else out += "null";
      }
      out.push_back('}');
    }
    out += "}\n";
  } else {
    // time "METHOD PATH PROTO" status bytes_in bytes_out total_ms upstream_ms upstream flags listener route request_id
    // upstream_path "user agent" then "value" per log.access_log_values
    append_time(out);
    out += " \"";
    append_text(out, r.method);
    out.push_back(' ');
    append_text(out, r.path);
    out.push_back(' ');
    append_text(out, r.protocol);
    fmt::format_to(it, "\" {} {} {} {:.3f} ", r.status, r.bytes_received, r.bytes_sent,
                   static_cast<double>(r.duration_us) / 1000.0);
    if (r.upstream_us >= 0) fmt::format_to(it, "{:.3f}", static_cast<double>(r.upstream_us) / 1000.0);
    else out.push_back('-');
    out.push_back(' ');
    append_text(out, r.upstream_host);
    out.push_back(' ');
    append_text(out, r.flags);
    out.push_back(' ');
    append_text(out, r.listener);
    out.push_back(' ');
    append_text(out, r.route);
    out.push_back(' ');
    append_text(out, r.request_id);
    out.push_back(' ');
    append_text(out, r.upstream_path);
    // Free text, so quoted (a '"' inside is written \x22).
    out += " \"";
    append_text(out, r.user_agent);
    out.push_back('"');
    for (size_t i = 0; i < value_names_.size(); i++) {
      out += " \"";
      append_text(out, r.values ? std::string_view(r.values[i]) : std::string_view());
      out.push_back('"');
    }
    out.push_back('\n');
  }
}

void AccessLog::reopen() {
  std::lock_guard lk(mu_);
  reopen_ = true;
  cv_.notify_one();
}

void AccessLog::stop() {
  {
    std::lock_guard lk(mu_);
    if (stop_) return;
    stop_ = true;
    cv_.notify_one();
  }
  if (thread_.joinable()) thread_.join();
}

void AccessLog::run() {
  std::string batch, taken;
  for (;;) {
    bool stopping, reopening;
    {
      std::unique_lock lk(mu_);
      cv_.wait_for(lk, std::chrono::milliseconds(200), [this] { return stop_ || reopen_; });
      stopping = stop_;
      reopening = reopen_;
      reopen_ = false;
    }
    batch.clear();
    for (auto& s : slots_) {
      {
        std::lock_guard lk(s->mu);
        taken.swap(s->buf);
      }
      batch += taken;
      taken.clear();
    }
    // Lines buffered before the rotation go to the old file, the rest to the new.
    if (!batch.empty()) write_all(fd_, batch);
    if (reopening && path_ != "stdout") {
      int fd = open_path(path_);
      if (fd >= 0) {
        ::close(fd_);
        fd_ = fd;
      } else {
        log_error("access log: reopen {}: {}", path_, strerror(errno));
      }
    }
    if (stopping) return;
  }
}

}  // namespace moe
