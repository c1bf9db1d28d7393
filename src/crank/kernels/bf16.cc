#include "crank/kernels/bf16.h"

#include <immintrin.h>

#include "crank/base/error.h"
#include "crank/kernels/parallel_for.h"

namespace crank {
namespace {

// Elements below which the conversion stays on the calling thread.
constexpr int64_t kMinParallelElements = int64_t{1} << 16;

void RoundRowScalar(const float* src, int64_t n, uint16_t* dst) {
  for (int64_t j = 0; j < n; ++j) dst[j] = FloatToBf16(src[j]);
}

#if defined(__x86_64__)
__attribute__((target("avx512f,avx512bw,avx512vl,avx512bf16"))) void RoundRowAvx512Bf16(
    const float* src, int64_t n, uint16_t* dst) {
  int64_t j = 0;
  for (; j + 32 <= n; j += 32) {
    const __m512bh h = _mm512_cvtne2ps_pbh(_mm512_loadu_ps(src + j + 16), _mm512_loadu_ps(src + j));
    _mm512_storeu_si512(dst + j, reinterpret_cast<__m512i>(h));
  }
  for (; j < n; j += 16) {
    const int64_t left = n - j;
    const __mmask16 mask =
        left >= 16 ? __mmask16{0xffff} : static_cast<__mmask16>((1u << left) - 1);
    const __m256bh h = _mm512_cvtneps_pbh(_mm512_maskz_loadu_ps(mask, src + j));
    _mm256_mask_storeu_epi16(dst + j, mask, reinterpret_cast<__m256i>(h));
  }
}
#endif

}  // namespace

bool CpuHasAvx512Bf16() {
#if defined(__x86_64__)
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx512bf16") && __builtin_cpu_supports("avx512bw") &&
         __builtin_cpu_supports("avx512vl");
#else
  return false;
#endif
}

void RoundToBf16(const float* src, int64_t rows, int64_t cols, int64_t ld, uint16_t* dst) {
  CRANK_CHECK(rows >= 0 && cols >= 0 && ld >= cols, "RoundToBf16 rows={} cols={} ld={}", rows, cols,
              ld);
  static const bool kVector = CpuHasAvx512Bf16();
  void (*round_row)(const float*, int64_t, uint16_t*) = RoundRowScalar;
#if defined(__x86_64__)
  if (kVector) round_row = RoundRowAvx512Bf16;
#endif
  ParallelFor(rows, rows * cols >= kMinParallelElements,
              [&](int64_t i) { round_row(src + i * ld, cols, dst + i * cols); });
}

}  // namespace crank
