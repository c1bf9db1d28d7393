#include "crank/kernels/gemm.h"

#include <cstdlib>

#include <cblas.h>
#include <fmt/format.h>
#include <omp.h>

#include <algorithm>
#include <climits>
#include <string_view>

#include "crank/base/error.h"

namespace crank {
namespace {

// C(M, N) = beta * C with BLAS semantics (beta == 0 writes zeros, even over NaN).
void ScaleMatrix(int64_t m, int64_t n, float beta, float* c, int64_t ldc) {
  for (int64_t i = 0; i < m; ++i) {
    float* row = c + i * ldc;
    if (beta == 0.0f) {
      std::fill(row, row + n, 0.0f);
    } else if (beta != 1.0f) {
      for (int64_t j = 0; j < n; ++j) row[j] *= beta;
    }
  }
}

}  // namespace

void Gemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha, const float* a,
          int64_t lda, const float* b, int64_t ldb, float beta, float* c, int64_t ldc) {
  CRANK_CHECK(m >= 0 && n >= 0 && k >= 0, "Gemm sizes m={} n={} k={}", m, n, k);
  CRANK_CHECK(m <= INT_MAX && n <= INT_MAX && k <= INT_MAX, "Gemm sizes m={} n={} k={}", m, n, k);
  if (m == 0 || n == 0) return;
  CRANK_CHECK(ldc >= n && ldc <= INT_MAX, "Gemm ldc={} for n={}", ldc, n);
  if (k == 0) {
    ScaleMatrix(m, n, beta, c, ldc);
    return;
  }
  const int64_t a_cols = trans_a ? m : k;
  const int64_t b_cols = trans_b ? k : n;
  CRANK_CHECK(lda >= a_cols && lda <= INT_MAX, "Gemm lda={} for a row of {}", lda, a_cols);
  CRANK_CHECK(ldb >= b_cols && ldb <= INT_MAX, "Gemm ldb={} for a row of {}", ldb, b_cols);
  cblas_sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans,
              trans_b ? CblasTrans : CblasNoTrans, static_cast<blasint>(m), static_cast<blasint>(n),
              static_cast<blasint>(k), alpha, a, static_cast<blasint>(lda), b,
              static_cast<blasint>(ldb), beta, c, static_cast<blasint>(ldc));
}

void SetComputeThreads(int n) {
  CRANK_REQUIRE(n >= 1, "compute threads must be >= 1, got {}", n);
  omp_set_num_threads(n);
  openblas_set_num_threads(n);
}

int ComputeThreads() { return omp_get_max_threads(); }

std::string GemmBackendDescription() {
  // openblas_get_config(): "OpenBLAS 0.3.21 DYNAMIC_ARCH NO_AFFINITY Haswell MAX_THREADS=64".
  std::string_view config = openblas_get_config();
  size_t end = config.find(' ');
  if (end != std::string_view::npos) end = config.find(' ', end + 1);
  const std::string_view version = config.substr(0, end);
  std::string_view parallel = "unknown threading";
  switch (openblas_get_parallel()) {
    case 0:
      parallel = "sequential";
      break;
    case 1:
      parallel = "pthreads";
      break;
    case 2:
      parallel = "OpenMP";
      break;
  }
  const int threads = openblas_get_num_threads();
  return fmt::format("{} (core {}, {}, {} thread{})", version, openblas_get_corename(), parallel,
                     threads, threads == 1 ? "" : "s");
}

std::vector<std::pair<std::string, std::string>> RecommendedRuntimeEnvironment() {
  std::vector<std::pair<std::string, std::string>> env;
  if (std::getenv("OPENBLAS_CORETYPE") == nullptr) {
    __builtin_cpu_init();
    const bool avx512 = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
                        __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq");
    const std::string core = openblas_get_corename();
    const bool avx512_core = core == "SkylakeX" || core == "Cooperlake" || core == "SapphireRapids" ||
                             core == "skylakex" || core == "cooperlake" || core == "sapphirerapids";
    if (avx512 && !avx512_core) {
      env.emplace_back("OPENBLAS_CORETYPE",
                       __builtin_cpu_supports("avx512bf16") ? "Cooperlake" : "SkylakeX");
    }
  }
  if (std::getenv("OMP_WAIT_POLICY") == nullptr && std::getenv("GOMP_SPINCOUNT") == nullptr) {
    env.emplace_back("OMP_WAIT_POLICY", "passive");
  }
  return env;
}

}  // namespace crank
