// moe_log: Go's way into moe's error log (and the stream's MOE_OP_LOG ops).
// Built with or without the Go runtime.
#include <string_view>

#include "core/log.h"
#include "moe/goext_abi.h"

extern "C" void moe_log(int32_t level, const char* msg, uint32_t len) {
  std::string_view m(msg, len);
  switch (level) {
    case 0: moe::log_trace("go: {}", m); break;
    case 1: moe::log_debug("go: {}", m); break;
    case 2: moe::log_info("go: {}", m); break;
    case 3: moe::log_warn("go: {}", m); break;
    default: moe::log_error("go: {}", m); break;
  }
}
