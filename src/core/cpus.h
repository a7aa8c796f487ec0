// How many workers `workers: auto` means.
//
// std::thread::hardware_concurrency() counts every online CPU of the
// machine. A per-node proxy in a pod limited to 2 CPUs on a 64-core node
// would start 64 workers, each throttled by the CFS quota; `taskset -c 0
// moe` would start as many threads on one CPU. So `auto` is the number of
// CPUs in the process's affinity mask (taskset, a container's cpuset),
// capped by its cgroup's CPU limit (docker --cpus, a Kubernetes CPU limit:
// a CFS quota) rounded up, at least 1. Go 1.25 sizes GOMAXPROCS the same
// way.
#pragma once

#include <functional>
#include <optional>
#include <string>

namespace moe {

struct AutoWorkers {
  int affinity = 1;   // CPUs in the affinity mask
  double limit = 0;   // the cgroup CPU limit in CPUs; 0 = none
  int workers = 1;
};

AutoWorkers auto_workers();

// Reads a file: its contents, or nullopt when it cannot be read.
using FileReader = std::function<std::optional<std::string>(const std::string& path)>;

// The CPU limit (quota / period, in CPUs) of the cgroup that
// `proc_self_cgroup` (the text of /proc/self/cgroup) names, the smallest
// along the path up to the root, for cgroup v2 (cpu.max) and v1
// (cpu.cfs_quota_us, cpu.cfs_period_us). 0 when there is none.
double cgroup_cpu_limit(const std::string& proc_self_cgroup, const FileReader& read);

}  // namespace moe
