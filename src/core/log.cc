#include "core/log.h"

#include <spdlog/sinks/stdout_sinks.h>

namespace moe {

bool set_log_level(const std::string& level) {
  auto l = spdlog::level::from_str(level);
  if (l == spdlog::level::off && level != "off") return false;
  spdlog::set_level(l);
  return true;
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
