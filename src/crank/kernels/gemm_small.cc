#include "crank/kernels/gemm_small.h"

#include <cmath>

#include "crank/base/error.h"

#if defined(__AVX512F__)
#include <immintrin.h>
#endif

namespace crank {
namespace {

// alpha and beta applied to one finished chain, in the one order both code paths use.
[[maybe_unused]] inline float Finish(float acc, float alpha, float beta, const float* c) {
  const float t = alpha == 1.0f ? acc : alpha * acc;
  return beta == 0.0f ? t : std::fma(beta, *c, t);
}

#if defined(__AVX512F__)

// Row A(0, :) times columns [0, 16 V) of B, the last 16-column vector masked by `tail`: V
// accumulators in registers (V independent FMA chains hide the FMA latency), B read once.
template <int V>
void Block(int64_t k, const float* a, const float* b, int64_t ldb, __mmask16 tail, float alpha,
           float beta, float* c) {
  __m512 acc[V];
  for (int v = 0; v < V; ++v) acc[v] = _mm512_setzero_ps();
  for (int64_t p = 0; p < k; ++p) {
    const float* bp = b + p * ldb;
    const __m512 s = _mm512_set1_ps(a[p]);
    for (int v = 0; v + 1 < V; ++v) {
      acc[v] = _mm512_fmadd_ps(s, _mm512_loadu_ps(bp + 16 * v), acc[v]);
    }
    acc[V - 1] = _mm512_fmadd_ps(s, _mm512_maskz_loadu_ps(tail, bp + 16 * (V - 1)), acc[V - 1]);
  }
  const __m512 alpha_v = _mm512_set1_ps(alpha);
  const __m512 beta_v = _mm512_set1_ps(beta);
  for (int v = 0; v < V; ++v) {
    const __mmask16 mask = v + 1 < V ? __mmask16{0xFFFF} : tail;
    __m512 t = alpha == 1.0f ? acc[v] : _mm512_mul_ps(alpha_v, acc[v]);
    if (beta != 0.0f) t = _mm512_fmadd_ps(beta_v, _mm512_maskz_loadu_ps(mask, c + 16 * v), t);
    _mm512_mask_storeu_ps(c + 16 * v, mask, t);
  }
}

// One row of A times all N columns: blocks of kVectors x 16 columns, then one of the rest.
constexpr int kVectors = 8;

void Row(int64_t n, int64_t k, const float* a, const float* b, int64_t ldb, float alpha, float beta,
         float* c) {
  constexpr int64_t kWidth = 16 * kVectors;
  int64_t j = 0;
  for (; j + kWidth <= n; j += kWidth) {
    Block<kVectors>(k, a, b + j, ldb, 0xFFFF, alpha, beta, c + j);
  }
  const int64_t rest = n - j;
  if (rest == 0) return;
  const auto tail = static_cast<__mmask16>((1u << (rest % 16 == 0 ? 16 : rest % 16)) - 1u);
  switch ((rest + 15) / 16) {
    case 1:
      return Block<1>(k, a, b + j, ldb, tail, alpha, beta, c + j);
    case 2:
      return Block<2>(k, a, b + j, ldb, tail, alpha, beta, c + j);
    case 3:
      return Block<3>(k, a, b + j, ldb, tail, alpha, beta, c + j);
    case 4:
      return Block<4>(k, a, b + j, ldb, tail, alpha, beta, c + j);
    case 5:
      return Block<5>(k, a, b + j, ldb, tail, alpha, beta, c + j);
    case 6:
      return Block<6>(k, a, b + j, ldb, tail, alpha, beta, c + j);
    case 7:
      return Block<7>(k, a, b + j, ldb, tail, alpha, beta, c + j);
    case 8:
      return Block<8>(k, a, b + j, ldb, tail, alpha, beta, c + j);
    default:
      CRANK_CHECK(false, "SmallRowsGemm tail of {} columns", rest);
  }
}

#endif  // __AVX512F__

}  // namespace

void SmallRowsGemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha,
                   const float* a, int64_t lda, const float* b, int64_t ldb, float beta, float* c,
                   int64_t ldc) {
  CRANK_CHECK(!trans_a && !trans_b, "SmallRowsGemm multiplies untransposed operands only");
#if defined(__AVX512F__)
  // Row by row: B is streamed once per row, which is what makes this kernel a one-row kernel
  // (Gemm's rule, gemm.cc).
  for (int64_t i = 0; i < m; ++i) Row(n, k, a + i * lda, b, ldb, alpha, beta, c + i * ldc);
#else
  for (int64_t i = 0; i < m; ++i) {
    for (int64_t j = 0; j < n; ++j) {
      float acc = 0.0f;
      for (int64_t p = 0; p < k; ++p) acc = std::fma(a[i * lda + p], b[p * ldb + j], acc);
      c[i * ldc + j] = Finish(acc, alpha, beta, c + i * ldc + j);
    }
  }
#endif
}

bool SmallRowsGemmVectorized() {
#if defined(__AVX512F__)
  return true;
#else
  return false;
#endif
}

}  // namespace crank
