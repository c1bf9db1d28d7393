#include "crank/base/system_memory.h"

#include <fmt/format.h>
#include <sys/mman.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <new>
#include <sstream>
#include <string>

namespace crank {
namespace {

// The value of `key` (in kB) in /proc/meminfo, in bytes.
std::optional<int64_t> MemInfoBytes(const std::string& key) {
  std::ifstream in("/proc/meminfo");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(key + ":", 0) != 0) continue;
    std::istringstream fields(line.substr(key.size() + 1));
    int64_t kb = 0;
    if (fields >> kb) return kb * 1024;
  }
  return std::nullopt;
}

// A number in a cgroup file ("max" and unreadable files give nullopt).
std::optional<int64_t> CgroupNumber(const std::string& path) {
  std::ifstream in(path);
  int64_t v = 0;
  if (in >> v) return v;
  return std::nullopt;
}

// The cgroup v2 directory of this process ("0::/path" in /proc/self/cgroup).
std::optional<std::string> CgroupDirectory() {
  std::ifstream in("/proc/self/cgroup");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("0::", 0) == 0) return "/sys/fs/cgroup" + line.substr(3);
  }
  return std::nullopt;
}

}  // namespace

std::optional<int64_t> AvailableMemoryBytes() {
  std::optional<int64_t> available = MemInfoBytes("MemAvailable");
  if (const std::optional<std::string> dir = CgroupDirectory()) {
    const std::optional<int64_t> limit = CgroupNumber(*dir + "/memory.max");
    const std::optional<int64_t> used = CgroupNumber(*dir + "/memory.current");
    if (limit && used) {
      const int64_t room = std::max<int64_t>(0, *limit - *used);
      available = available ? std::min(*available, room) : room;
    }
  }
  return available;
}

std::string HumanBytes(double bytes) {
  static constexpr const char* kUnits[] = {"B", "kB", "MB", "GB", "TB", "PB", "EB"};
  int unit = 0;
  while (bytes >= 1000.0 && unit < 6) {
    bytes /= 1000.0;
    ++unit;
  }
  return unit == 0 ? fmt::format("{:.0f} B", bytes) : fmt::format("{:.1f} {}", bytes, kUnits[unit]);
}

void* AllocateAligned(size_t bytes) {
  const bool huge = bytes >= kHugePageBytes;
  // posix_memalign, not aligned_alloc: the size need not be a multiple of the alignment (C11's
  // aligned_alloc requires it, and AddressSanitizer enforces that).
  void* p = nullptr;
  if (posix_memalign(&p, huge ? kHugePageBytes : 64, bytes) != 0 || p == nullptr) {
    throw std::bad_alloc();
  }
#ifdef MADV_HUGEPAGE
  if (huge) madvise(p, bytes, MADV_HUGEPAGE);  // advice only: a failure changes nothing
#endif
  return p;
}

}  // namespace crank
