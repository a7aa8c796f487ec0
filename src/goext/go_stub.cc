// Built when moe is linked without the Go runtime (MOE_WITH_GO=OFF, used by
// the sanitizer build): the data plane runs with no Go filters.
#include "goext/go_bridge.h"

namespace moe {

std::string go_runtime_json() { return "{\"enabled\":false}\n"; }

}  // namespace moe
