// The C++ side of the Go bridge, as the rest of moe sees it. With the Go
// runtime linked in (MOE_WITH_GO) this starts the runtime and runs filter
// chains; the stub build (sanitizers) answers "no Go".
#pragma once

#include <string>

namespace moe {

// JSON for GET /go.
std::string go_runtime_json();

}  // namespace moe
