// Tests of the GEMM wrapper (its backends and precisions), the activations and the Linear kernels.

#include "crank/kernels/gemm.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "crank/base/error.h"
#include "crank/base/rng.h"
#include "crank/kernels/activation.h"
#include "crank/kernels/bf16.h"
#include "crank/kernels/gemm_onednn.h"
#include "crank/kernels/gemm_testing.h"
#include "crank/kernels/kernel_test_util.h"
#include "crank/kernels/linear.h"

namespace crank {
namespace {

using testing::RandomVector;

// Reference: C = alpha * op(A) op(B) + beta * C, in double, with explicit strides.
void NaiveGemm(bool ta, bool tb, int64_t m, int64_t n, int64_t k, float alpha,
               const std::vector<float>& a, int64_t lda, const std::vector<float>& b, int64_t ldb,
               float beta, std::vector<float>& c, int64_t ldc) {
  for (int64_t i = 0; i < m; ++i) {
    for (int64_t j = 0; j < n; ++j) {
      double s = 0.0;
      for (int64_t p = 0; p < k; ++p) {
        const double av = ta ? a[p * lda + i] : a[i * lda + p];
        const double bv = tb ? b[j * ldb + p] : b[p * ldb + j];
        s += av * bv;
      }
      float& cij = c[i * ldc + j];
      cij = static_cast<float>(alpha * s + (beta == 0.0f ? 0.0 : double(beta) * cij));
    }
  }
}

struct GemmCase {
  bool ta;
  bool tb;
};

class GemmTransposeTest : public ::testing::TestWithParam<GemmCase> {};

TEST_P(GemmTransposeTest, MatchesNaiveTripleLoopOnOddSizesAndPaddedStrides) {
  const auto [ta, tb] = GetParam();
  const int64_t sizes[][3] = {{1, 1, 1}, {7, 5, 3}, {13, 1, 17}, {1, 19, 9}, {33, 29, 65}};
  uint64_t seed = 1;
  for (const auto& s : sizes) {
    const int64_t m = s[0], n = s[1], k = s[2];
    // Stored shapes: A is (k, m) when transposed, else (m, k); likewise B. Pad each row by 3.
    const int64_t a_rows = ta ? k : m, a_cols = ta ? m : k;
    const int64_t b_rows = tb ? n : k, b_cols = tb ? k : n;
    const int64_t lda = a_cols + 3, ldb = b_cols + 2, ldc = n + 1;
    const std::vector<float> a = RandomVector(a_rows * lda, seed++);
    const std::vector<float> b = RandomVector(b_rows * ldb, seed++);
    for (float beta : {0.0f, 1.0f, -0.5f}) {
      std::vector<float> c = RandomVector(m * ldc, seed++);
      std::vector<float> expected = c;
      NaiveGemm(ta, tb, m, n, k, 1.5f, a, lda, b, ldb, beta, expected, ldc);
      Gemm(ta, tb, m, n, k, 1.5f, a.data(), lda, b.data(), ldb, beta, c.data(), ldc);
      for (int64_t i = 0; i < m * ldc; ++i) {
        ASSERT_NEAR(c[i], expected[i], 1e-4 * (1 + std::fabs(expected[i])))
            << "m=" << m << " n=" << n << " k=" << k << " beta=" << beta << " at " << i;
      }
    }
  }
}

INSTANTIATE_TEST_SUITE_P(AllTransposes, GemmTransposeTest,
                         ::testing::Values(GemmCase{false, false}, GemmCase{true, false},
                                           GemmCase{false, true}, GemmCase{true, true}),
                         [](const auto& info) {
                           return std::string(info.param.ta ? "AT" : "A") +
                                  (info.param.tb ? "BT" : "B");
                         });

TEST(Gemm, BetaZeroOverwritesNanInOutput) {
  const std::vector<float> a = {1, 2, 3, 4};  // (2, 2)
  const std::vector<float> b = {1, 0, 0, 1};  // identity
  std::vector<float> c(4, std::numeric_limits<float>::quiet_NaN());
  Gemm(false, false, 2, 2, 2, 1.0f, a.data(), 2, b.data(), 2, 0.0f, c.data(), 2);
  EXPECT_EQ(c, a);
}

TEST(Gemm, ZeroInnerDimensionScalesOutputByBeta) {
  std::vector<float> c = {1, 2, 3, 4, 5, 6};
  Gemm(false, false, 2, 3, 0, 1.0f, nullptr, 1, nullptr, 3, 2.0f, c.data(), 3);
  EXPECT_EQ(c, (std::vector<float>{2, 4, 6, 8, 10, 12}));
  c.assign(6, std::numeric_limits<float>::quiet_NaN());
  Gemm(true, true, 2, 3, 0, 1.0f, nullptr, 2, nullptr, 1, 0.0f, c.data(), 3);
  EXPECT_EQ(c, std::vector<float>(6, 0.0f));
}

TEST(ComputeThreads, SetAndReadBackAndRejectZero) {
  const int before = ComputeThreads();
  SetComputeThreads(1);
  EXPECT_EQ(ComputeThreads(), 1);
  EXPECT_NE(GemmBackendDescription().find(", 1 thread"), std::string::npos)
      << GemmBackendDescription();
  SetComputeThreads(2);
  EXPECT_EQ(ComputeThreads(), 2);
  EXPECT_THROW(SetComputeThreads(0), InvalidArgument);
  SetComputeThreads(before);
}

TEST(GemmBackendDescription, NamesPrecisionLibrariesAndThreading) {
  const std::string d = GemmBackendDescription();  // the defaults: fp32, kAuto
  EXPECT_EQ(d.rfind("fp32 on ", 0), 0u) << d;
  EXPECT_NE(d.find("OpenBLAS 0."), std::string::npos) << d;
  EXPECT_NE(d.find("(core "), std::string::npos) << d;
  EXPECT_NE(d.find("OpenMP"), std::string::npos) << d;
  EXPECT_NE(d.find(" thread"), std::string::npos) << d;
  if (OneDnnAvailable()) {
    EXPECT_NE(d.find("oneDNN "), std::string::npos) << d;
  } else {
    EXPECT_EQ(d.find("oneDNN"), std::string::npos) << d;
  }
}

// ---- Backends and precision ------------------------------------------------------------------

// Restores the process-wide GEMM settings a test changes.
class ScopedGemmSettings {
 public:
  ScopedGemmSettings()
      : threads_(ComputeThreads()), precision_(GetGemmPrecision()), backend_(GetGemmBackend()) {}
  ~ScopedGemmSettings() {
    SetComputeThreads(threads_);
    SetGemmPrecision(precision_);
    SetGemmBackend(backend_);
    SimulateNoBf16ForTesting(false);
  }

 private:
  int threads_;
  GemmPrecision precision_;
  GemmBackend backend_;
};

// The fp32 backends this build can run.
std::vector<GemmBackend> Fp32Backends() {
  std::vector<GemmBackend> backends = {GemmBackend::kOpenBlas, GemmBackend::kAuto};
  if (OneDnnAvailable()) backends.push_back(GemmBackend::kOneDnn);
  return backends;
}

// Calls fn(precision, backend) under every GEMM precision, fp32 backend and thread count (1, 2),
// each installed in turn (the caller restores them, e.g. with ScopedGemmSettings).
template <typename Fn>
void ForEachGemmSetting(Fn fn) {
  for (GemmPrecision precision : {GemmPrecision::kFp32, GemmPrecision::kBf16}) {
    for (GemmBackend backend : Fp32Backends()) {
      for (int threads : {1, 2}) {
        SetGemmPrecision(precision);
        SetGemmBackend(backend);
        SetComputeThreads(threads);
        SCOPED_TRACE(GemmBackendDescription());
        fn(precision, backend);
      }
    }
  }
}

// op(X)'s elements rounded to bf16, as the bf16 path sees them.
std::vector<float> RoundedToBf16(std::vector<float> v) {
  for (float& x : v) x = Bf16ToFloat(FloatToBf16(x));
  return v;
}

// sum_p |alpha a_ip b_pj| + |beta c_ij|: the scale of C's rounding error.
std::vector<double> AbsScale(bool ta, bool tb, int64_t m, int64_t n, int64_t k, float alpha,
                             const std::vector<float>& a, int64_t lda, const std::vector<float>& b,
                             int64_t ldb, float beta, const std::vector<float>& c, int64_t ldc) {
  std::vector<double> s(static_cast<size_t>(m * ldc), 0.0);
  for (int64_t i = 0; i < m; ++i) {
    for (int64_t j = 0; j < n; ++j) {
      double t = 0.0;
      for (int64_t p = 0; p < k; ++p) {
        t += std::fabs(double(ta ? a[p * lda + i] : a[i * lda + p]) *
                       (tb ? b[j * ldb + p] : b[p * ldb + j]));
      }
      s[i * ldc + j] =
          std::fabs(alpha) * t + (beta == 0.0f ? 0.0 : std::fabs(beta * c[i * ldc + j]));
    }
  }
  return s;
}

TEST_P(GemmTransposeTest, EveryFp32BackendMatchesNaiveTripleLoop) {
  const auto [ta, tb] = GetParam();
  ScopedGemmSettings restore;
  const int64_t sizes[][3] = {{1, 1, 1},  {7, 5, 3},    {8, 8, 1},   {13, 1, 17},
                              {1, 19, 9}, {33, 29, 65}, {64, 9, 130}};
  for (GemmBackend backend : Fp32Backends()) {
    SetGemmBackend(backend);
    SCOPED_TRACE(std::string(GemmBackendName(backend)));
    uint64_t seed = 100;
    for (const auto& s : sizes) {
      const int64_t m = s[0], n = s[1], k = s[2];
      const int64_t a_rows = ta ? k : m, a_cols = ta ? m : k;
      const int64_t b_rows = tb ? n : k, b_cols = tb ? k : n;
      const int64_t lda = a_cols + 1, ldb = b_cols + 3, ldc = n + 2;
      const std::vector<float> a = RandomVector(a_rows * lda, seed++);
      const std::vector<float> b = RandomVector(b_rows * ldb, seed++);
      for (float alpha : {1.0f, -0.75f}) {
        for (float beta : {0.0f, 1.0f, -0.5f}) {
          std::vector<float> c = RandomVector(m * ldc, seed++);
          std::vector<float> expected = c;
          NaiveGemm(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, expected, ldc);
          Gemm(ta, tb, m, n, k, alpha, a.data(), lda, b.data(), ldb, beta, c.data(), ldc);
          for (int64_t i = 0; i < m * ldc; ++i) {
            ASSERT_NEAR(c[i], expected[i], 1e-4 * (1 + std::fabs(expected[i])))
                << "m=" << m << " n=" << n << " k=" << k << " alpha=" << alpha << " beta=" << beta
                << " at " << i;
          }
        }
      }
    }
  }
}

TEST_P(GemmTransposeTest, Bf16RoundsInputsAndAccumulatesInFp32) {
  const auto [ta, tb] = GetParam();
  ScopedGemmSettings restore;
  SetGemmPrecision(GemmPrecision::kBf16);
  const bool bf16 = ActiveGemmPrecision() == GemmPrecision::kBf16;
  // min(M, N, K) >= 16 runs in bf16; thinner products stay fp32.
  const int64_t sizes[][3] = {{16, 16, 16}, {17, 33, 65}, {130, 77, 513}, {20, 40, 19},
                              {8, 8, 1},    {9, 17, 5},   {40, 20, 13},   {15, 40, 99}};
  EXPECT_EQ(GemmRunsInBf16(16, 16, 16), bf16);
  EXPECT_FALSE(GemmRunsInBf16(40, 20, 13));
  EXPECT_FALSE(GemmRunsInBf16(15, 40, 99));
  double worst_unrounded = 0.0;  // largest error vs the unrounded product, in units of its scale
  uint64_t seed = 200;
  for (const auto& s : sizes) {
    const int64_t m = s[0], n = s[1], k = s[2];
    const bool rounds = GemmRunsInBf16(m, n, k);
    const int64_t a_rows = ta ? k : m, a_cols = ta ? m : k;
    const int64_t b_rows = tb ? n : k, b_cols = tb ? k : n;
    const int64_t lda = a_cols + 3, ldb = b_cols + 1, ldc = n + 1;
    const std::vector<float> a = RandomVector(a_rows * lda, seed++);
    const std::vector<float> b = RandomVector(b_rows * ldb, seed++);
    for (float beta : {0.0f, 1.0f}) {
      const std::vector<float> c0 = RandomVector(m * ldc, seed++);
      std::vector<float> exact = c0, rounded = c0, c = c0;
      NaiveGemm(ta, tb, m, n, k, 1.5f, a, lda, b, ldb, beta, exact, ldc);
      NaiveGemm(ta, tb, m, n, k, 1.5f, RoundedToBf16(a), lda, RoundedToBf16(b), ldb, beta, rounded,
                ldc);
      const std::vector<double> scale =
          AbsScale(ta, tb, m, n, k, 1.5f, a, lda, b, ldb, beta, c0, ldc);
      Gemm(ta, tb, m, n, k, 1.5f, a.data(), lda, b.data(), ldb, beta, c.data(), ldc);
      for (int64_t i = 0; i < m * ldc; ++i) {
        const std::string where = "m=" + std::to_string(m) + " n=" + std::to_string(n) +
                                  " k=" + std::to_string(k) + " beta=" + std::to_string(beta) +
                                  " at " + std::to_string(i);
        if (i % ldc >= n) {  // padding between rows is never written
          ASSERT_EQ(c[i], c0[i]) << where;
          continue;
        }
        // bf16-appropriate tolerance against the unrounded product.
        ASSERT_NEAR(c[i], exact[i], 1e-2 * scale[i] + 1e-6) << where;
        // Against the product of the rounded inputs: only fp32 accumulation error remains.
        const std::vector<float>& reference = rounds ? rounded : exact;
        ASSERT_NEAR(c[i], reference[i], 0x1p-20 * (k + 2) * scale[i] + 1e-6) << where;
        if (rounds)
          worst_unrounded = std::max(worst_unrounded, std::fabs(c[i] - exact[i]) / scale[i]);
      }
    }
  }
  // The inputs really were rounded: an fp32 product would stay within ~1e-6 of the scale.
  if (bf16) EXPECT_GT(worst_unrounded, 1e-4);
}

TEST(GemmBf16, BetaZeroOverwritesNanAndZeroInnerDimensionScales) {
  ScopedGemmSettings restore;
  SetGemmPrecision(GemmPrecision::kBf16);
  const int64_t n = 16;  // wide enough for the bf16 path
  std::vector<float> a(n * n), identity(n * n, 0.0f);
  for (int64_t i = 0; i < n * n; ++i) a[i] = static_cast<float>(i % 17) - 8.0f;  // bf16-exact
  for (int64_t i = 0; i < n; ++i) identity[i * n + i] = 1.0f;
  std::vector<float> c(n * n, std::numeric_limits<float>::quiet_NaN());
  Gemm(false, false, n, n, n, 1.0f, a.data(), n, identity.data(), n, 0.0f, c.data(), n);
  EXPECT_EQ(c, a);
  Gemm(true, true, n, n, n, 2.0f, identity.data(), n, a.data(), n, 1.0f, c.data(), n);
  for (int64_t i = 0; i < n; ++i) {
    for (int64_t j = 0; j < n; ++j) EXPECT_EQ(c[i * n + j], a[i * n + j] + 2 * a[j * n + i]);
  }
  std::vector<float> d(n * n, 3.0f);
  Gemm(false, false, n, n, 0, 1.0f, nullptr, 1, nullptr, n, 0.5f, d.data(), n);
  EXPECT_EQ(d, std::vector<float>(n * n, 1.5f));
}

TEST(GemmOneDnn, BetaZeroOverwritesNanAndZeroInnerDimensionScales) {
  if (!OneDnnAvailable()) {
    EXPECT_THROW(SetGemmBackend(GemmBackend::kOneDnn), InvalidArgument);
    return;
  }
  ScopedGemmSettings restore;
  SetGemmBackend(GemmBackend::kOneDnn);
  const std::vector<float> a = {1, 2, 3, 4};  // (2, 2)
  const std::vector<float> b = {1, 0, 0, 1};  // identity
  std::vector<float> c(4, std::numeric_limits<float>::quiet_NaN());
  Gemm(false, false, 2, 2, 2, 1.0f, a.data(), 2, b.data(), 2, 0.0f, c.data(), 2);
  EXPECT_EQ(c, a);
  c.assign(4, std::numeric_limits<float>::quiet_NaN());
  Gemm(false, false, 2, 2, 2, 1.0f, a.data(), 2, b.data(), 2, 1.0f, c.data(), 2);
  for (float x : c) EXPECT_TRUE(std::isnan(x)) << "beta 1 must propagate NaN from C";
  c = {1, 2, 3, 4, 5, 6};
  Gemm(false, false, 2, 3, 0, 1.0f, nullptr, 1, nullptr, 3, 2.0f, c.data(), 3);
  EXPECT_EQ(c, (std::vector<float>{2, 4, 6, 8, 10, 12}));
}

// Results of a few model-like shapes (forward, dW += x^T g, dx = g W^T) under the settings.
std::vector<std::vector<float>> ModelShapeProducts() {
  std::vector<std::vector<float>> out;
  const int64_t shapes[][2] = {{13, 512}, {256, 64}, {367, 512}, {256, 1}};
  for (const int64_t batch : {7, 300, 2048}) {
    for (const auto& s : shapes) {
      const int64_t in = s[0], units = s[1];
      const std::vector<float> x = RandomVector(batch * in, 7 + in);
      const std::vector<float> w = RandomVector(in * units, 8 + units);
      const std::vector<float> g = RandomVector(batch * units, 9 + batch);
      std::vector<float> y(batch * units), dw(in * units, 0.25f), dx(batch * in);
      Gemm(false, false, batch, units, in, 1.0f, x.data(), in, w.data(), units, 0.0f, y.data(),
           units);
      Gemm(true, false, in, units, batch, 1.0f, x.data(), in, g.data(), units, 1.0f, dw.data(),
           units);
      Gemm(false, true, batch, in, units, 1.0f, g.data(), units, w.data(), units, 0.0f, dx.data(),
           in);
      out.push_back(std::move(y));
      out.push_back(std::move(dw));
      out.push_back(std::move(dx));
    }
  }
  return out;
}

TEST(GemmDeterminism, SameInputsAndThreadsGiveBitIdenticalResultsForEverySetting) {
  ScopedGemmSettings restore;
  ForEachGemmSetting([](GemmPrecision, GemmBackend) {
    const auto first = ModelShapeProducts();
    const auto second = ModelShapeProducts();
    ASSERT_EQ(first.size(), second.size());
    for (size_t i = 0; i < first.size(); ++i) {
      EXPECT_EQ(std::memcmp(first[i].data(), second[i].data(), first[i].size() * sizeof(float)), 0)
          << "product " << i;
    }
  });
}

TEST(GemmDeterminism, CallsFromParallelThreadsMatchSerialCalls) {
  ScopedGemmSettings restore;
  for (GemmPrecision precision : {GemmPrecision::kFp32, GemmPrecision::kBf16}) {
    SetGemmPrecision(precision);
    SetComputeThreads(2);
    const int64_t m = 40, n = 24, k = 33;
    std::vector<std::vector<float>> a, b, serial, parallel;
    for (int t = 0; t < 8; ++t) {
      a.push_back(RandomVector(m * k, 50 + t));
      b.push_back(RandomVector(k * n, 60 + t));
      serial.emplace_back(m * n);
      parallel.emplace_back(m * n);
    }
    // Inside a parallel region each Gemm runs on its calling thread, so the serial reference is
    // computed with one compute thread.
    SetComputeThreads(1);
    for (int t = 0; t < 8; ++t) {
      Gemm(false, false, m, n, k, 1.0f, a[t].data(), k, b[t].data(), n, 0.0f, serial[t].data(), n);
    }
    SetComputeThreads(2);
#pragma omp parallel for schedule(static)
    for (int t = 0; t < 8; ++t) {
      Gemm(false, false, m, n, k, 1.0f, a[t].data(), k, b[t].data(), n, 0.0f, parallel[t].data(),
           n);
    }
    for (int t = 0; t < 8; ++t) EXPECT_EQ(serial[t], parallel[t]) << "call " << t;
  }
}

TEST(GemmWithBf16B, PreroundedWeightGivesGemmsBitsInEveryLayout) {
  ScopedGemmSettings restore;
  for (GemmPrecision precision : {GemmPrecision::kFp32, GemmPrecision::kBf16}) {
    SetGemmPrecision(precision);
    for (bool tb : {false, true}) {
      // (m, n, k): a bf16 product, and one too thin for bf16 (k = 13) where b itself is used.
      for (auto [m, n, k] : {std::tuple<int64_t, int64_t, int64_t>{48, 40, 33}, {48, 40, 13}}) {
        SCOPED_TRACE(::testing::Message() << GemmPrecisionName(precision) << " tb=" << tb
                                          << " m=" << m << " n=" << n << " k=" << k);
        const int64_t b_rows = tb ? n : k, b_cols = tb ? k : n;
        const std::vector<float> a = RandomVector(m * k, 71);
        const std::vector<float> b = RandomVector(b_rows * b_cols, 72);
        std::vector<uint16_t> b16(b.size());
        RoundToBf16(b.data(), b_rows, b_cols, b_cols, b16.data());
        std::vector<float> plain = RandomVector(m * n, 73), cached = plain;
        Gemm(false, tb, m, n, k, 0.5f, a.data(), k, b.data(), b_cols, 1.0f, plain.data(), n);
        GemmWithBf16B(false, tb, m, n, k, 0.5f, a.data(), k, b.data(), b_cols, b16.data(), 1.0f,
                      cached.data(), n);
        EXPECT_EQ(std::memcmp(plain.data(), cached.data(), plain.size() * sizeof(float)), 0);
      }
    }
  }
}

TEST(GemmWithBf16B, UsesTheCallersCopyWhereTheProductRunsInBf16) {
  ScopedGemmSettings restore;
  SetGemmPrecision(GemmPrecision::kBf16);
  if (!GemmRunsInBf16(32, 32, 32)) GTEST_SKIP() << "no native bf16 GEMM on this CPU or build";
  const int64_t m = 32, n = 32, k = 32;
  const std::vector<float> a = RandomVector(m * k, 81);
  const std::vector<float> b = RandomVector(k * n, 82);
  // A copy of b's bf16 rounding with every element doubled: the product must double too,
  // which shows that the copy, not b, entered the product.
  std::vector<float> b2(b);
  for (float& x : b2) x *= 2.0f;
  std::vector<uint16_t> b16(b.size());
  RoundToBf16(b2.data(), k, n, n, b16.data());
  std::vector<float> plain(m * n), cached(m * n);
  Gemm(false, false, m, n, k, 2.0f, a.data(), k, b.data(), n, 0.0f, plain.data(), n);
  GemmWithBf16B(false, false, m, n, k, 1.0f, a.data(), k, b.data(), n, b16.data(), 0.0f,
                cached.data(), n);
  EXPECT_EQ(plain, cached);
}

TEST(GemmPrecisionSetting, Bf16FallsBackToFp32WhereUnsupported) {
  ScopedGemmSettings restore;
  const int64_t m = 33, n = 20, k = 65;
  const std::vector<float> a = RandomVector(m * k, 31);
  const std::vector<float> b = RandomVector(k * n, 32);
  std::vector<float> fp32(m * n), fallback(m * n), bf16(m * n);
  Gemm(false, false, m, n, k, 1.0f, a.data(), k, b.data(), n, 0.0f, fp32.data(), n);

  SimulateNoBf16ForTesting(true);
  EXPECT_FALSE(Bf16Supported());
  SetGemmPrecision(GemmPrecision::kBf16);
  EXPECT_EQ(GetGemmPrecision(), GemmPrecision::kBf16);
  EXPECT_EQ(ActiveGemmPrecision(), GemmPrecision::kFp32);
  const std::string description = GemmBackendDescription();
  EXPECT_NE(description.find("bf16 requested"), std::string::npos) << description;
  EXPECT_NE(description.find("running fp32"), std::string::npos) << description;
  Gemm(false, false, m, n, k, 1.0f, a.data(), k, b.data(), n, 0.0f, fallback.data(), n);
  EXPECT_EQ(fallback, fp32);

  SimulateNoBf16ForTesting(false);
  Gemm(false, false, m, n, k, 1.0f, a.data(), k, b.data(), n, 0.0f, bf16.data(), n);
  if (Bf16Supported()) {
    EXPECT_EQ(ActiveGemmPrecision(), GemmPrecision::kBf16);
    EXPECT_NE(bf16, fp32);
    EXPECT_EQ(GemmBackendDescription().rfind("bf16 on oneDNN ", 0), 0u) << GemmBackendDescription();
  } else {
    EXPECT_EQ(bf16, fp32);
  }
}

TEST(GemmPrecisionSetting, ParsesNamesAndRejectsOthers) {
  for (GemmPrecision p : {GemmPrecision::kFp32, GemmPrecision::kBf16}) {
    EXPECT_EQ(ParseGemmPrecision(GemmPrecisionName(p)), p);
  }
  for (GemmBackend b : {GemmBackend::kAuto, GemmBackend::kOpenBlas, GemmBackend::kOneDnn}) {
    EXPECT_EQ(ParseGemmBackend(GemmBackendName(b)), b);
  }
  try {
    ParseGemmPrecision("fp16");
    FAIL() << "no exception";
  } catch (const InvalidArgument& e) {
    EXPECT_NE(std::string(e.what()).find("'fp16'"), std::string::npos) << e.what();
  }
  EXPECT_THROW(ParseGemmBackend("mkl"), InvalidArgument);
  EXPECT_EQ(GetGemmPrecision(), GemmPrecision::kFp32) << "the default precision is fp32";
}

TEST(Activation, ParsesKerasNamesAndRoundTrips) {
  EXPECT_EQ(ParseActivation("linear"), Activation::kLinear);
  EXPECT_EQ(ParseActivation("none"), Activation::kLinear);
  EXPECT_EQ(ParseActivation("ReLU"), Activation::kRelu);
  EXPECT_EQ(ParseActivation("sigmoid"), Activation::kSigmoid);
  for (Activation a : {Activation::kLinear, Activation::kRelu, Activation::kSigmoid}) {
    EXPECT_EQ(ParseActivation(ActivationName(a)), a);
  }
}

TEST(Activation, RejectsUnknownNameWithTheNameInTheMessage) {
  try {
    ParseActivation("tanh");
    FAIL() << "no exception";
  } catch (const InvalidArgument& e) {
    EXPECT_NE(std::string(e.what()).find("'tanh'"), std::string::npos) << e.what();
  }
  EXPECT_THROW(ParseActivation(""), InvalidArgument);
}

TEST(Activation, SigmoidIsStableAtExtremes) {
  EXPECT_EQ(Sigmoid(0.0f), 0.5f);
  EXPECT_EQ(Sigmoid(-200.0f), 0.0f);
  EXPECT_EQ(Sigmoid(200.0f), 1.0f);
  EXPECT_NEAR(Sigmoid(-100.0f), 3.72e-44f, 1e-45f);
  EXPECT_FLOAT_EQ(Sigmoid(2.3f), 0.9088770389851438f);
}

TEST(Activation, BackwardUsesOutputDerivative) {
  const std::vector<float> y = {0.0f, 2.0f, 0.25f};
  const std::vector<float> dy = {3.0f, 5.0f, 7.0f};
  std::vector<float> d(3);
  ActivationBackward(Activation::kRelu, y.data(), dy.data(), 3, d.data());
  EXPECT_EQ(d, (std::vector<float>{0.0f, 5.0f, 7.0f}));
  ActivationBackward(Activation::kSigmoid, y.data(), dy.data(), 3, d.data());
  EXPECT_EQ(d, (std::vector<float>{0.0f, 5.0f * 2.0f * -1.0f, 7.0f * 0.25f * 0.75f}));
  ActivationBackward(Activation::kLinear, y.data(), dy.data(), 3, d.data());
  EXPECT_EQ(d, dy);
}

// x (2, 3), W (3, 2), b (2): x W + b = [[-0.75, 2.3], [-0.9, 1.5]].
const std::vector<float> kX = {1, 2, 3, -1, 0.5f, 2};
const std::vector<float> kW = {0.1f, -0.2f, 0.3f, 0.4f, -0.5f, 0.6f};
const std::vector<float> kB = {0.05f, -0.1f};

std::vector<float> HandForward(Activation act, const float* b) {
  std::vector<float> y(4, std::numeric_limits<float>::quiet_NaN());
  LinearForward(kX.data(), kW.data(), b, act, 2, 3, 2, y.data());
  return y;
}

void ExpectNear(const std::vector<float>& got, const std::vector<double>& want) {
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < got.size(); ++i) EXPECT_NEAR(got[i], want[i], 1e-6) << "at " << i;
}

TEST(LinearForward, HandComputedLinear) {
  ExpectNear(HandForward(Activation::kLinear, kB.data()), {-0.75, 2.3, -0.9, 1.5});
  ExpectNear(HandForward(Activation::kLinear, nullptr), {-0.8, 2.4, -0.95, 1.6});
}

TEST(LinearForward, HandComputedRelu) {
  ExpectNear(HandForward(Activation::kRelu, kB.data()), {0.0, 2.3, 0.0, 1.5});
  ExpectNear(HandForward(Activation::kRelu, nullptr), {0.0, 2.4, 0.0, 1.6});
}

TEST(LinearForward, HandComputedSigmoid) {
  ExpectNear(HandForward(Activation::kSigmoid, kB.data()),
             {0.320821300824607, 0.9088770389851438, 0.289050497374996, 0.8175744761936437});
}

// The fused product gives the bits of the product followed by the separate pass, on every fp32
// backend and precision, thread count, layer shape (including a batch of one row, batches that
// cut into uneven tiles, and a batch of 520 whose wide-B product goes to OpenBLAS under auto),
// activation and bias; and the padded tail of C's rows stays untouched.
TEST(GemmBiasActivation, GivesTheBitsOfTheProductFollowedByTheSeparatePass) {
  ScopedGemmSettings restore;
  const int64_t shapes[][2] = {{13, 512}, {367, 512}, {64, 16}, {256, 1}};
  ForEachGemmSetting([&](GemmPrecision precision, GemmBackend backend) {
    for (const int64_t batch : {1, 9, 100, 520}) {
      for (const auto& s : shapes) {
        const int64_t in = s[0], out = s[1], ldc = out + 3;
        // 520 rows: only the product that auto sends to OpenBLAS (wide B, M >= 512).
        if (batch == 520 &&
            (in != 367 || backend != GemmBackend::kAuto || precision != GemmPrecision::kFp32)) {
          continue;
        }
        const std::vector<float> x = RandomVector(batch * in, 3 + in);
        const std::vector<float> w = RandomVector(in * out, 4 + out);
        const std::vector<float> bias = RandomVector(out, 5 + out);
        for (Activation act : {Activation::kLinear, Activation::kRelu, Activation::kSigmoid}) {
          for (const float* b : {bias.data(), static_cast<const float*>(nullptr)}) {
            SCOPED_TRACE(::testing::Message() << "B=" << batch << " I=" << in << " O=" << out << " "
                                              << ActivationName(act) << (b ? " bias" : " no bias"));
            std::vector<float> want(batch * ldc, -7.0f), got(batch * ldc, -7.0f);
            Gemm(false, false, batch, out, in, 1.0f, x.data(), in, w.data(), out, 0.0f, want.data(),
                 ldc);
            for (int64_t r = 0; r < batch; ++r) {
              if (b != nullptr) {
                BiasActivationForward(act, b, want.data() + r * ldc, out);
              } else {
                ActivationForward(act, want.data() + r * ldc, out);
              }
            }
            GemmBiasActivation(batch, out, in, x.data(), in, w.data(), out, b, act, got.data(),
                               ldc);
            ASSERT_EQ(std::memcmp(want.data(), got.data(), want.size() * sizeof(float)), 0);
          }
        }
      }
    }
  });
}

// crank's ReLU keeps NaN (a diverged model must show a non-finite loss); oneDNN's ReLU post-op
// would map it to 0, so the fused path must not use it.
TEST(GemmBiasActivation, ReluKeepsNanFromTheProductOnEveryBackend) {
  ScopedGemmSettings restore;
  const int64_t m = 64, n = 32, k = 16;
  std::vector<float> a = RandomVector(m * k, 11), b = RandomVector(k * n, 12);
  const std::vector<float> bias(n, -100.0f);  // every other output is negative: ReLU gives 0
  a[5 * k + 3] = std::numeric_limits<float>::quiet_NaN();
  for (GemmBackend backend : Fp32Backends()) {
    SetGemmBackend(backend);
    SCOPED_TRACE(GemmBackendDescription());
    std::vector<float> c(m * n, 1.0f);
    GemmBiasActivation(m, n, k, a.data(), k, b.data(), n, bias.data(), Activation::kRelu, c.data(),
                       n);
    for (int64_t i = 0; i < m; ++i) {
      for (int64_t j = 0; j < n; ++j) {
        const float v = c[i * n + j];
        if (i == 5) {
          EXPECT_TRUE(std::isnan(v)) << "row 5 col " << j << ": " << v;
        } else {
          EXPECT_EQ(v, 0.0f) << "row " << i << " col " << j;
        }
      }
    }
  }
}

TEST(LinearBackward, MatchesReferenceAccumulatesParamsAndOverwritesInput) {
  const int64_t batch = 5, in = 7, out = 70;  // out > one column block of the bias sum
  const std::vector<float> x = RandomVector(batch * in, 3);
  const std::vector<float> w = RandomVector(in * out, 4);
  const std::vector<float> b = RandomVector(out, 5);
  const std::vector<float> dy = RandomVector(batch * out, 6);
  for (Activation act : {Activation::kLinear, Activation::kRelu, Activation::kSigmoid}) {
    SCOPED_TRACE(std::string(ActivationName(act)));
    std::vector<float> y(batch * out), d_pre(batch * out);
    LinearForward(x.data(), w.data(), b.data(), act, batch, in, out, y.data());
    // Reference gradients in double.
    std::vector<double> g(batch * out), dw(in * out, 0.0), db(out, 0.0), dx(batch * in, 0.0);
    for (int64_t i = 0; i < batch * out; ++i) {
      const double yi = y[i];
      g[i] = act == Activation::kLinear ? dy[i]
             : act == Activation::kRelu ? (yi > 0 ? dy[i] : 0.0)
                                        : dy[i] * yi * (1 - yi);
    }
    for (int64_t r = 0; r < batch; ++r) {
      for (int64_t o = 0; o < out; ++o) {
        db[o] += g[r * out + o];
        for (int64_t i = 0; i < in; ++i) {
          dw[i * out + o] += x[r * in + i] * g[r * out + o];
          dx[r * in + i] += g[r * out + o] * w[i * out + o];
        }
      }
    }
    std::vector<float> got_dw(in * out, 1.0f), got_db(out, 1.0f);
    std::vector<float> got_dx(batch * in, std::numeric_limits<float>::quiet_NaN());
    for (int rep = 1; rep <= 2; ++rep) {  // parameter gradients accumulate on top of 1.0
      LinearBackward(x.data(), w.data(), y.data(), dy.data(), act, batch, in, out, d_pre.data(),
                     got_dw.data(), got_db.data(), got_dx.data());
      for (int64_t i = 0; i < in * out; ++i) ASSERT_NEAR(got_dw[i], 1 + rep * dw[i], 1e-5);
      for (int64_t o = 0; o < out; ++o) ASSERT_NEAR(got_db[o], 1 + rep * db[o], 1e-5);
      for (int64_t i = 0; i < batch * in; ++i) ASSERT_NEAR(got_dx[i], dx[i], 1e-5);
    }
    // Optional outputs may be skipped.
    LinearBackward(x.data(), w.data(), y.data(), dy.data(), act, batch, in, out, d_pre.data(),
                   got_dw.data(), nullptr, nullptr);
    for (int64_t i = 0; i < in * out; ++i) ASSERT_NEAR(got_dw[i], 1 + 3 * dw[i], 1e-5);
  }
}

TEST(AccumulateColumnSums, IndependentOfThreadCount) {
  const int64_t batch = 1031, out = 197;
  const std::vector<float> g = RandomVector(batch * out, 9);
  const int before = ComputeThreads();
  SetComputeThreads(1);
  std::vector<float> one(out, 0.5f);
  AccumulateColumnSums(g.data(), batch, out, one.data());
  SetComputeThreads(2);
  std::vector<float> two(out, 0.5f);
  AccumulateColumnSums(g.data(), batch, out, two.data());
  SetComputeThreads(before);
  EXPECT_EQ(one, two);
  double s = 0.5;
  for (int64_t r = 0; r < batch; ++r) s += g[r * out + 100];
  EXPECT_NEAR(one[100], s, 1e-4);
}

}  // namespace
}  // namespace crank
