// cgroup_cpu_limit: the CPU limit `workers: auto` is capped by, from the
// text of /proc/self/cgroup and the cgroup files (a fake file system here).
#include <catch2/catch.hpp>
#include <map>
#include <string>

#include "core/cpus.h"

using moe::cgroup_cpu_limit;

namespace {

moe::FileReader fake(std::map<std::string, std::string> files) {
  return [files](const std::string& path) -> std::optional<std::string> {
    auto it = files.find(path);
    if (it == files.end()) return std::nullopt;
    return it->second;
  };
}

}  // namespace

TEST_CASE("cpus: cgroup v2 cpu.max", "[cpus]") {
  const std::string self = "0::/kubepods/pod1/ctr\n";
  CHECK(cgroup_cpu_limit(self, fake({})) == 0);
  CHECK(cgroup_cpu_limit(self, fake({{"/sys/fs/cgroup/kubepods/pod1/ctr/cpu.max", "max 100000\n"}})) == 0);
  CHECK(cgroup_cpu_limit(self, fake({{"/sys/fs/cgroup/kubepods/pod1/ctr/cpu.max", "150000 100000\n"}})) == 1.5);
  // The smallest limit on the way up wins (the pod's, here).
  CHECK(cgroup_cpu_limit(self, fake({{"/sys/fs/cgroup/kubepods/pod1/ctr/cpu.max", "400000 100000\n"},
                                     {"/sys/fs/cgroup/kubepods/pod1/cpu.max", "50000 100000\n"},
                                     {"/sys/fs/cgroup/cpu.max", "max 100000\n"}})) == 0.5);
  // A container that sees its own cgroup as the root ("0::/").
  CHECK(cgroup_cpu_limit("0::/\n", fake({{"/sys/fs/cgroup/cpu.max", "200000 100000"}})) == 2);
  // Garbage is no limit, not a crash.
  CHECK(cgroup_cpu_limit(self, fake({{"/sys/fs/cgroup/kubepods/pod1/ctr/cpu.max", "lots 0\n"}})) == 0);
  CHECK(cgroup_cpu_limit("nonsense\n::\n0::\n", fake({})) == 0);
}

TEST_CASE("cpus: cgroup v1 cfs quota", "[cpus]") {
  const std::string self = "12:memory:/docker/abc\n4:cpu,cpuacct:/docker/abc\n1:name=systemd:/docker/abc\n";
  CHECK(cgroup_cpu_limit(self, fake({})) == 0);
  // -1: no quota.
  CHECK(cgroup_cpu_limit(self, fake({{"/sys/fs/cgroup/cpu,cpuacct/docker/abc/cpu.cfs_quota_us", "-1\n"},
                                     {"/sys/fs/cgroup/cpu,cpuacct/docker/abc/cpu.cfs_period_us", "100000\n"}})) == 0);
  CHECK(cgroup_cpu_limit(self, fake({{"/sys/fs/cgroup/cpu,cpuacct/docker/abc/cpu.cfs_quota_us", "250000\n"},
                                     {"/sys/fs/cgroup/cpu,cpuacct/docker/abc/cpu.cfs_period_us", "100000\n"}})) == 2.5);
  // Mounted as the container's own root: the path is missing below the
  // mount, the limit sits at the mount's top.
  CHECK(cgroup_cpu_limit(self, fake({{"/sys/fs/cgroup/cpu/cpu.cfs_quota_us", "50000"},
                                     {"/sys/fs/cgroup/cpu/cpu.cfs_period_us", "100000"}})) == 0.5);
  // Only the line with the cpu controller counts.
  CHECK(cgroup_cpu_limit("3:cpuacct:/x\n", fake({{"/sys/fs/cgroup/cpu/x/cpu.cfs_quota_us", "50000"},
                                                {"/sys/fs/cgroup/cpu/x/cpu.cfs_period_us", "100000"}})) == 0);
}

TEST_CASE("cpus: auto_workers is at least 1 and at most the affinity mask", "[cpus]") {
  const moe::AutoWorkers w = moe::auto_workers();
  CHECK(w.affinity >= 1);
  CHECK(w.workers >= 1);
  CHECK(w.workers <= w.affinity);
}
