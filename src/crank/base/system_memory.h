#ifndef CRANK_BASE_SYSTEM_MEMORY_H_
#define CRANK_BASE_SYSTEM_MEMORY_H_

// How much memory this process can still take: the kernel's MemAvailable (/proc/meminfo),
// lowered to the room left under a cgroup v2 memory limit (memory.max - memory.current) when
// the process runs under one. Used to refuse a model that cannot fit before allocating it.
// Thread-safe (reads files only).

#include <cstdint>
#include <optional>
#include <string>

namespace crank {

// Bytes available, or nullopt when neither source can be read (not Linux, no /proc).
std::optional<int64_t> AvailableMemoryBytes();

// "1.5 GB", "640.0 MB", "12.0 kB" (powers of 1000, one decimal), for messages.
std::string HumanBytes(double bytes);

}  // namespace crank

#endif  // CRANK_BASE_SYSTEM_MEMORY_H_
