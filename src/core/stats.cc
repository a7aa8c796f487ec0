#include "core/stats.h"

namespace moe {

void Histogram::observe_us(uint64_t us) {
  const double s = static_cast<double>(us) / 1e6;
  size_t i = 0;
  while (i < kBounds.size() && s > kBounds[i]) i++;
  add(buckets[i]);
  add(sum_us, us);
  add(count);
}

}  // namespace moe
