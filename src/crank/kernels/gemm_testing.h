#ifndef CRANK_KERNELS_GEMM_TESTING_H_
#define CRANK_KERNELS_GEMM_TESTING_H_

// Hooks that let tests exercise the GEMM wrapper's paths for hardware this machine may not
// have. Only tests include this header; production code never calls these functions.

namespace crank {

// While true, Bf16Supported() reports false, as on a CPU without AVX512-BF16, so the bf16
// precision falls back to fp32 (crank/kernels/gemm.h). Process-wide and thread-safe (an atomic
// flag); a test that sets it restores false before it ends.
void SimulateNoBf16ForTesting(bool simulate);

}  // namespace crank

#endif  // CRANK_KERNELS_GEMM_TESTING_H_
