#ifndef CRANK_KERNELS_PARALLEL_FOR_H_
#define CRANK_KERNELS_PARALLEL_FOR_H_

// The one way crank's kernels and layers spread a loop over the compute threads.
//
// ParallelFor(n, worth_it, body) calls body(i) for every i in [0, n) exactly once. It starts an
// OpenMP parallel region (static schedule, ComputeThreads() threads) only when that region
// would have more than one thread: worth_it is true, n > 1, ComputeThreads() > 1 and the caller
// is not already inside an active parallel region. Otherwise it runs a plain loop on the calling
// thread and touches no OpenMP machinery at all.
//
// Why not `#pragma omp parallel for if (worth_it)`: with the condition false (or one thread)
// GCC's libgomp still builds a one-thread team, and ends it with a barrier that makes a futex
// system call whether or not any thread waits. On a virtual machine a system call costs
// microseconds, and a batch-1 forward pass runs a dozen such loops (docs/performance.md,
// "Small batches").
//
// Results: each i runs the same code whether the loop is split or not, so as long as body(i)
// writes only what belongs to i, the results do not depend on the thread count.

#include <omp.h>

#include <cstdint>

namespace crank {

// True when a loop of n iterations with the given worth would run on more than one thread.
inline bool WouldSplit(int64_t n, bool worth_it) {
  return worth_it && n > 1 && omp_get_max_threads() > 1 && !omp_in_parallel();
}

template <typename Body>
void ParallelFor(int64_t n, bool worth_it, Body&& body) {
  if (!WouldSplit(n, worth_it)) {
    for (int64_t i = 0; i < n; ++i) body(i);
    return;
  }
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < n; ++i) body(i);
}

// As ParallelFor, with OpenMP's dynamic schedule (chunks of one iteration): for iterations of
// uneven cost. Which thread runs an iteration changes from run to run; what it computes does not.
template <typename Body>
void ParallelForDynamic(int64_t n, bool worth_it, Body&& body) {
  if (!WouldSplit(n, worth_it)) {
    for (int64_t i = 0; i < n; ++i) body(i);
    return;
  }
#pragma omp parallel for schedule(dynamic, 1)
  for (int64_t i = 0; i < n; ++i) body(i);
}

}  // namespace crank

#endif  // CRANK_KERNELS_PARALLEL_FOR_H_
