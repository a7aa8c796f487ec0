// Route matching: the listener's routes in order, first match wins.
// Thread: any (reads only immutable config).
#pragma once

#include "config/config.h"
#include "http/codec.h"

namespace moe {

// Index of the first matching route of `listener`, or -1.
int match_route(const config::Listener& listener, const RequestHead& req);

// The path part of a request-target (no query, no fragment).
std::string_view path_only(std::string_view target);
// Host without port, for matching.
std::string_view host_only(std::string_view authority);

}  // namespace moe
