// SmallRowsGemm (gemm_small.h): every output is the fused multiply-add chain over k in order,
// whatever its column's place in the register blocks and whichever rows share the call.

#include "crank/kernels/gemm_small.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

#include "crank/kernels/gemm.h"
#include "crank/kernels/kernel_test_util.h"

namespace crank {
namespace {

using testing::RandomVector;

// C(i, j) = fma chain over k from zero, then alpha, then beta: the contract of gemm_small.h.
float Chain(int64_t i, int64_t j, int64_t k, float alpha, const std::vector<float>& a, int64_t lda,
            const std::vector<float>& b, int64_t ldb, float beta, float c) {
  float acc = 0.0f;
  for (int64_t p = 0; p < k; ++p) acc = std::fma(a[i * lda + p], b[p * ldb + j], acc);
  const float t = alpha == 1.0f ? acc : alpha * acc;
  return beta == 0.0f ? t : std::fma(beta, c, t);
}

uint32_t Bits(float x) {
  uint32_t u;
  std::memcpy(&u, &x, sizeof(u));
  return u;
}

TEST(SmallRowsGemm, EqualsTheFmaChainBitForBitForEveryTailWidthAndScaling) {
  // Widths around the 16-float vector and the 128-column block, padded strides.
  for (int64_t n : {1, 7, 15, 16, 17, 31, 64, 127, 128, 129, 300, 512}) {
    for (int64_t k : {1, 13, 256}) {
      for (const auto [alpha, beta] :
           {std::pair{1.0f, 0.0f}, {0.5f, 0.0f}, {1.0f, 1.0f}, {-2.0f, 0.25f}}) {
        const int64_t m = 3, lda = k + 3, ldb = n + 5, ldc = n + 2;
        const std::vector<float> a = RandomVector(m * lda, 1 + n + k);
        const std::vector<float> b = RandomVector(k * ldb, 2 + n * k);
        std::vector<float> c = RandomVector(m * ldc, 3 + n);
        const std::vector<float> c0 = c;
        SmallRowsGemm(false, false, m, n, k, alpha, a.data(), lda, b.data(), ldb, beta, c.data(),
                      ldc);
        for (int64_t i = 0; i < m; ++i) {
          for (int64_t j = 0; j < ldc; ++j) {
            const size_t at = static_cast<size_t>(i * ldc + j);
            if (j >= n) {
              ASSERT_EQ(Bits(c[at]), Bits(c0[at])) << "padding written at " << i << "," << j;
              continue;
            }
            ASSERT_EQ(Bits(c[at]), Bits(Chain(i, j, k, alpha, a, lda, b, ldb, beta, c0[at])))
                << "n=" << n << " k=" << k << " alpha=" << alpha << " beta=" << beta << " at " << i
                << "," << j;
          }
        }
      }
    }
  }
}

TEST(SmallRowsGemm, ARowGivesTheSameBitsAloneAsAmongOthers) {
  const int64_t m = 5, n = 300, k = 367;
  const std::vector<float> a = RandomVector(m * k, 11);
  const std::vector<float> b = RandomVector(k * n, 12);
  std::vector<float> all(static_cast<size_t>(m * n));
  SmallRowsGemm(false, false, m, n, k, 1.0f, a.data(), k, b.data(), n, 0.0f, all.data(), n);
  for (int64_t i = 0; i < m; ++i) {
    std::vector<float> one(static_cast<size_t>(n));
    SmallRowsGemm(false, false, 1, n, k, 1.0f, a.data() + i * k, k, b.data(), n, 0.0f, one.data(),
                  n);
    EXPECT_EQ(0, std::memcmp(one.data(), all.data() + i * n, sizeof(float) * n)) << "row " << i;
  }
}

TEST(SmallRowsGemm, BetaZeroOverwritesNan) {
  const int64_t n = 40, k = 9;
  const std::vector<float> a = RandomVector(k, 21);
  const std::vector<float> b = RandomVector(k * n, 22);
  std::vector<float> c(n, std::numeric_limits<float>::quiet_NaN());
  SmallRowsGemm(false, false, 1, n, k, 1.0f, a.data(), k, b.data(), n, 0.0f, c.data(), n);
  for (float x : c) EXPECT_FALSE(std::isnan(x));
}

TEST(SmallRowsGemm, GemmRunsOneRowPlainProductsOnItWhereTheBuildTargetsAvx512) {
  if (!SmallRowsGemmVectorized()) {
    GTEST_SKIP() << "this build does not target AVX-512: Gemm keeps one-row products on OpenBLAS";
  }
  const int64_t n = 256, k = 512;
  const std::vector<float> a = RandomVector(k, 31);
  const std::vector<float> b = RandomVector(k * n, 32);
  std::vector<float> via_gemm(n), direct(n);
  Gemm(false, false, 1, n, k, 1.0f, a.data(), k, b.data(), n, 0.0f, via_gemm.data(), n);
  SmallRowsGemm(false, false, 1, n, k, 1.0f, a.data(), k, b.data(), n, 0.0f, direct.data(), n);
  EXPECT_EQ(0, std::memcmp(via_gemm.data(), direct.data(), sizeof(float) * n));
}

TEST(SmallRowsGemm, RejectsTransposedOperands) {
  std::vector<float> a(4, 1.0f), b(4, 1.0f), c(4);
  EXPECT_DEATH(
      SmallRowsGemm(true, false, 1, 2, 2, 1.0f, a.data(), 2, b.data(), 2, 0.0f, c.data(), 2),
      "untransposed");
}

}  // namespace
}  // namespace crank
