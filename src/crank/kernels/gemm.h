#ifndef CRANK_KERNELS_GEMM_H_
#define CRANK_KERNELS_GEMM_H_

// The one dense matrix-multiply entry point (OpenBLAS sgemm, row-major) and the compute thread
// count shared by OpenBLAS and crank's own OpenMP loops.
//
// Determinism: for a fixed thread count the results are bit-identical from run to run. OpenBLAS
// partitions a GEMM over M and N (not K), so each C element is reduced over K in one order; the
// Mlp tests check that 1 and 2 threads give bit-identical results on this build.

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace crank {

// Row-major C(M, N) = alpha * op(A) * op(B) + beta * C, where op(X) = X^T when trans_x.
//   a: op(A) is (M, K); A itself is (K, M) when trans_a, else (M, K); row stride lda.
//   b: op(B) is (K, N); B itself is (N, K) when trans_b, else (K, N); row stride ldb.
//   c: (M, N), row stride ldc. When beta == 0, C's previous contents are ignored (NaN-safe).
// Preconditions (CRANK_CHECK): M, N, K >= 0, each fits in an int, leading dimensions are at
// least the stored row width (and >= 1). K == 0 gives C = beta * C.
// Thread-safety: reentrant; runs on ComputeThreads() threads (one when called from inside an
// OpenMP parallel region).
void Gemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha, const float* a,
          int64_t lda, const float* b, int64_t ldb, float beta, float* c, int64_t ldc);

// Sets the thread count of OpenMP loops and of OpenBLAS (n >= 1, else InvalidArgument).
// Process-wide; call it from the main thread, outside parallel regions.
void SetComputeThreads(int n);

// The thread count set by SetComputeThreads (the OpenMP default, usually the core count, before).
int ComputeThreads();

// E.g. "OpenBLAS 0.3.21 (core Haswell, OpenMP, 2 threads)", for logs and benchmark reports.
std::string GemmBackendDescription();

// Environment variables the compute libraries read once, at load time, that this process should
// have been started with for the fast path on this machine (empty when all is well):
//  - OPENBLAS_CORETYPE=SkylakeX (or Cooperlake with AVX512-BF16) when the CPU has AVX-512 but
//    the linked OpenBLAS did not recognise it and chose narrower kernels (OpenBLAS 0.3.21 does
//    not know Sapphire/Emerald Rapids and falls back to SSE3 kernels, several times slower);
//  - OMP_WAIT_POLICY=passive unless the user set OMP_WAIT_POLICY or GOMP_SPINCOUNT: idle
//    OpenMP workers sleep instead of spinning, so they do not steal the cores the data reader
//    thread and other processes need (spinning made training several times slower on a busy
//    2-core machine; see docs/performance.md).
// The CLI re-executes itself once with these set (tools/crank/main.cc).
std::vector<std::pair<std::string, std::string>> RecommendedRuntimeEnvironment();

}  // namespace crank

#endif  // CRANK_KERNELS_GEMM_H_
