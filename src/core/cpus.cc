#include "core/cpus.h"

#include <sched.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <fstream>
#include <sstream>
#include <string_view>
#include <vector>

namespace moe {
namespace {

std::optional<std::string> read_file(const std::string& path) {
  std::ifstream f(path);
  if (!f) return std::nullopt;
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

// quota / period in CPUs; 0 when either is not a positive integer (v2's
// "max", v1's -1, garbage).
double cpus(std::string_view quota, std::string_view period) {
  auto num = [](std::string_view t) -> int64_t {
    while (!t.empty() && (t.back() == '\n' || t.back() == ' ')) t.remove_suffix(1);
    int64_t v = 0;
    auto [end, ec] = std::from_chars(t.data(), t.data() + t.size(), v);
    return ec == std::errc() && end == t.data() + t.size() ? v : 0;
  };
  const int64_t q = num(quota), p = num(period);
  return q > 0 && p > 0 ? static_cast<double>(q) / static_cast<double>(p) : 0;
}

// The directories from base + path up to base.
std::vector<std::string> up_to(const std::string& base, std::string path) {
  std::vector<std::string> dirs;
  while (!path.empty() && path.back() == '/') path.pop_back();
  for (;;) {
    dirs.push_back(base + path);
    if (path.empty()) break;
    path.resize(path.rfind('/'));
  }
  return dirs;
}

// One level's limit in CPUs (0 = none or unreadable).
double v2_limit(const std::string& dir, const FileReader& read) {
  auto text = read(dir + "/cpu.max");  // "QUOTA PERIOD" or "max PERIOD"
  if (!text) return 0;
  const std::string_view t = *text;
  const size_t sp = t.find(' ');
  return sp == std::string_view::npos ? 0 : cpus(t.substr(0, sp), t.substr(sp + 1));
}

double v1_limit(const std::string& dir, const FileReader& read) {
  auto quota = read(dir + "/cpu.cfs_quota_us");
  auto period = read(dir + "/cpu.cfs_period_us");
  return quota && period ? cpus(*quota, *period) : 0;
}

double smallest(double a, double b) { return a == 0 ? b : (b == 0 ? a : std::min(a, b)); }

}  // namespace

double cgroup_cpu_limit(const std::string& proc_self_cgroup, const FileReader& read) {
  double limit = 0;
  std::istringstream lines(proc_self_cgroup);
  std::string line;
  while (std::getline(lines, line)) {
    // hierarchy-id:controllers:path
    const size_t a = line.find(':'), b = a == std::string::npos ? a : line.find(':', a + 1);
    if (b == std::string::npos) continue;
    const std::string id = line.substr(0, a), controllers = line.substr(a + 1, b - a - 1), path = line.substr(b + 1);
    if (id == "0" && controllers.empty()) {
      for (const std::string& dir : up_to("/sys/fs/cgroup", path)) limit = smallest(limit, v2_limit(dir, read));
      continue;
    }
    bool cpu = false;
    std::istringstream list(controllers);
    for (std::string c; std::getline(list, c, ',');) cpu = cpu || c == "cpu";
    if (!cpu) continue;
    // Where the v1 cpu controller is mounted: its own directory, or one
    // shared with cpuacct (both names are seen). Missing levels (a
    // container sees its own cgroup as the mount's root) are skipped.
    for (const char* base : {"/sys/fs/cgroup/cpu", "/sys/fs/cgroup/cpu,cpuacct", "/sys/fs/cgroup/cpuacct,cpu"})
      for (const std::string& dir : up_to(base, path)) limit = smallest(limit, v1_limit(dir, read));
  }
  return limit;
}

AutoWorkers auto_workers() {
  AutoWorkers r;
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof set, &set) == 0) r.affinity = std::max(1, CPU_COUNT(&set));
  if (auto text = read_file("/proc/self/cgroup")) r.limit = cgroup_cpu_limit(*text, read_file);
  r.workers = r.affinity;
  if (r.limit > 0) r.workers = std::min(r.workers, std::max(1, static_cast<int>(std::ceil(r.limit))));
  return r;
}

}  // namespace moe
