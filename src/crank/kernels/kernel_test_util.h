#ifndef CRANK_KERNELS_KERNEL_TEST_UTIL_H_
#define CRANK_KERNELS_KERNEL_TEST_UTIL_H_

// Helpers shared by the kernels' tests. Only tests include this header.

#include <cstdint>
#include <vector>

#include "crank/base/rng.h"
#include "crank/kernels/gemm.h"

namespace crank::testing {

// n values uniform in [-1, 1), drawn from Rng(seed).
inline std::vector<float> RandomVector(int64_t n, uint64_t seed) {
  Rng rng(seed);
  std::vector<float> v(static_cast<size_t>(n));
  for (float& x : v) x = 2.0f * rng.UniformFloat() - 1.0f;
  return v;
}

// Restores the process-wide compute settings a test changes (thread count, GEMM precision and
// backend) when it goes out of scope.
class RestoreComputeSettings {
 public:
  RestoreComputeSettings()
      : threads_(ComputeThreads()), precision_(GetGemmPrecision()), backend_(GetGemmBackend()) {}
  ~RestoreComputeSettings() {
    SetComputeThreads(threads_);
    SetGemmPrecision(precision_);
    SetGemmBackend(backend_);
  }
  RestoreComputeSettings(const RestoreComputeSettings&) = delete;
  RestoreComputeSettings& operator=(const RestoreComputeSettings&) = delete;

 private:
  int threads_;
  GemmPrecision precision_;
  GemmBackend backend_;
};

}  // namespace crank::testing

#endif  // CRANK_KERNELS_KERNEL_TEST_UTIL_H_
