#include "core/log.h"

#include <spdlog/sinks/stdout_sinks.h>

namespace moe {

bool set_log_level(const std::string& level) {
  auto l = spdlog::level::from_str(level);
  if (l == spdlog::level::off && level != "off") return false;
  spdlog::set_level(l);
  return true;
}

void log_numbered(int level, std::string_view who, std::string_view m) {
  switch (level) {
    case 0: log_trace("{}: {}", who, m); break;
    case 1: log_debug("{}: {}", who, m); break;
    case 2: log_info("{}: {}", who, m); break;
    case 3: log_warn("{}: {}", who, m); break;
    default: log_error("{}: {}", who, m); break;
  }
}

void init_logging(const std::string& level) {
  // stderr, so stdout stays free for the access log.
  auto logger = spdlog::stderr_logger_mt("moe");
  spdlog::set_default_logger(logger);
  spdlog::set_pattern("[%Y-%m-%d %H:%M:%S.%e] [%l] [%t] %v");
  set_log_level(level);
  spdlog::flush_on(spdlog::level::warn);
}

}  // namespace moe
