#ifndef CRANK_STARTUP_RUNTIME_ENV_H_
#define CRANK_STARTUP_RUNTIME_ENV_H_

// The process environment the compute libraries need for the fast path. OpenMP (libgomp) and
// OpenBLAS read their settings once, when the process loads them, so a program sets them by
// running itself again (ReexecWithRuntimeEnvironment) before it does anything else.

#include <string>
#include <utility>
#include <vector>

namespace crank {

// How idle OpenMP workers wait, chosen at start (docs/performance.md, "Waiting threads"):
//  - on an idle machine (no other runnable task at start): spin kIdleSpinCount rounds before
//    sleeping (GOMP_SPINCOUNT), which keeps the workers awake across the short gaps between the
//    many parallel regions of a training step (2x at batch 128 on 2 cores);
//  - on a busy machine: sleep at once (OMP_WAIT_POLICY=passive), because a spinning worker takes
//    the core that the thread it waits for needs (spinning made training up to 40x slower there);
//  - the user's own OMP_WAIT_POLICY or GOMP_SPINCOUNT, when set, always win.
inline constexpr int kIdleSpinCount = 1000;

// glibc's malloc advises its heap and its large mappings for transparent huge pages (where THP
// is in "madvise" mode): the buffers a run fills for the first time (batches, layer outputs,
// read buffers) then fault in 2 MiB at a time instead of 4 KiB, and a page fault costs about
// 12 us on a virtual machine (docs/performance.md, "fourth round"). Set unless the user set
// GLIBC_TUNABLES.
inline constexpr char kMallocTunables[] = "glibc.malloc.hugetlb=1";

// Other runnable tasks on the machine now (procs_running of /proc/stat less this process), the
// median of a few samples a few milliseconds apart; -1 where /proc/stat cannot be read.
int OtherRunnableTasks();

// The variables this process should have been started with, given the machine's state now
// (empty when all is well):
//  - OPENBLAS_CORETYPE=SkylakeX (or Cooperlake with AVX512-BF16) when the CPU has AVX-512 but
//    the linked OpenBLAS did not recognise it and chose narrower kernels (OpenBLAS 0.3.21 does
//    not know Sapphire/Emerald Rapids and falls back to SSE3 kernels, several times slower);
//  - GOMP_SPINCOUNT=kIdleSpinCount or OMP_WAIT_POLICY=passive, as above, unless the user set
//    OMP_WAIT_POLICY or GOMP_SPINCOUNT;
//  - GLIBC_TUNABLES=kMallocTunables unless the user set GLIBC_TUNABLES.
std::vector<std::pair<std::string, std::string>> RecommendedRuntimeEnvironment();

// Runs argv again (via /proc/self/exe) with RecommendedRuntimeEnvironment() set, once: the new
// process sees CRANK_RUNTIME_ENV and goes on. Returns only when nothing needs setting or the
// exec failed (then only speed is affected). Call first thing in main().
void ReexecWithRuntimeEnvironment(char** argv);

// One line for the startup log, e.g. "spin 1000 rounds, then sleep (machine idle at start)",
// "sleep at once (OMP_WAIT_POLICY=passive; 2 other runnable tasks at start)",
// "OMP_WAIT_POLICY=active (set by the user)".
std::string OpenMpWaitDescription();

}  // namespace crank

#endif  // CRANK_STARTUP_RUNTIME_ENV_H_
