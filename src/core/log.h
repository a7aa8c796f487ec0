// The error log (spdlog, stderr) and helpers. The access log is separate:
// see access_log.h.
#pragma once

#include <spdlog/spdlog.h>

#include <string>
#include <string_view>

namespace moe {

// Sets up the process logger; `level` is trace|debug|info|warn|error.
void init_logging(const std::string& level);
bool set_log_level(const std::string& level);

template <typename... A>
void log_trace(spdlog::format_string_t<A...> f, A&&... a) { spdlog::trace(f, std::forward<A>(a)...); }
template <typename... A>
void log_debug(spdlog::format_string_t<A...> f, A&&... a) { spdlog::debug(f, std::forward<A>(a)...); }
template <typename... A>
void log_info(spdlog::format_string_t<A...> f, A&&... a) { spdlog::info(f, std::forward<A>(a)...); }
template <typename... A>
void log_warn(spdlog::format_string_t<A...> f, A&&... a) { spdlog::warn(f, std::forward<A>(a)...); }
template <typename... A>
void log_error(spdlog::format_string_t<A...> f, A&&... a) { spdlog::error(f, std::forward<A>(a)...); }

// "<who>: <msg>" at a level given as a number, 0 trace .. 4 error (above 4:
// error): the levels of moe_log and MOE_OP_LOG (moe/goext_abi.h).
void log_numbered(int level, std::string_view who, std::string_view msg);

}  // namespace moe
