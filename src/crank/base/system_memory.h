#ifndef CRANK_BASE_SYSTEM_MEMORY_H_
#define CRANK_BASE_SYSTEM_MEMORY_H_

// How much memory this process can still take: the kernel's MemAvailable (/proc/meminfo),
// lowered to the room left under a cgroup v2 memory limit (memory.max - memory.current) when
// the process runs under one. Used to refuse a model that cannot fit before allocating it.
// Thread-safe (reads files only).

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

namespace crank {

// Bytes available, or nullopt when neither source can be read (not Linux, no /proc).
std::optional<int64_t> AvailableMemoryBytes();

// The size from which AllocateAligned starts a buffer on a 2 MiB boundary and offers it to the
// kernel for transparent huge pages: one page fault per 2 MiB instead of per 4 KiB when it is
// first written (a fault costs about 12 us on a virtual machine), and fewer TLB misses. The tail
// past the last whole 2 MiB stays in small pages (no memory is added). Where THP is off or
// unavailable the advice is ignored.
inline constexpr size_t kHugePageBytes = size_t{2} << 20;

// bytes (> 0) of uninitialised memory aligned to 64 bytes, or to kHugePageBytes and advised for
// huge pages when bytes >= kHugePageBytes; release with std::free. Throws std::bad_alloc.
void* AllocateAligned(size_t bytes);

// "1.5 GB", "640.0 MB", "12.0 kB" (powers of 1000, one decimal), for messages.
std::string HumanBytes(double bytes);

}  // namespace crank

#endif  // CRANK_BASE_SYSTEM_MEMORY_H_
