#include "crank/kernels/embedding_precision.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <utility>
#include <vector>

#include "crank/base/error.h"
#include "crank/base/rng.h"
#include "crank/kernels/bf16.h"
#include "crank/kernels/embedding_bag.h"
#include "crank/kernels/gemm.h"

namespace crank {
namespace {

bool IsNan16(EmbeddingPrecision p, uint16_t h) {
  return p == EmbeddingPrecision::kBf16 ? std::isnan(Bf16ToFloat(h)) : std::isnan(Fp16ToFloat(h));
}

float Widen(EmbeddingPrecision p, uint16_t h) {
  return p == EmbeddingPrecision::kBf16 ? Bf16ToFloat(h) : Fp16ToFloat(h);
}

uint16_t Stochastic(EmbeddingPrecision p, float x, uint32_t r) {
  return p == EmbeddingPrecision::kBf16 ? FloatToBf16Stochastic(x, r) : FloatToFp16Stochastic(x, r);
}

TEST(EmbeddingPrecision, ParsesAndNamesEveryPrecision) {
  for (EmbeddingPrecision p :
       {EmbeddingPrecision::kFp32, EmbeddingPrecision::kBf16, EmbeddingPrecision::kFp16}) {
    EXPECT_EQ(ParseEmbeddingPrecision(EmbeddingPrecisionName(p)), p);
  }
  EXPECT_EQ(EmbeddingPrecisionBytes(EmbeddingPrecision::kBf16), 2);
  EXPECT_EQ(EmbeddingPrecisionBytes(EmbeddingPrecision::kFp32), 4);
  EXPECT_THROW(ParseEmbeddingPrecision("fp8"), InvalidArgument);
}

TEST(EmbeddingPrecision, Fp16DecodesHandComputedValues) {
  EXPECT_EQ(Fp16ToFloat(0x3c00), 1.0f);
  EXPECT_EQ(Fp16ToFloat(0xc000), -2.0f);
  EXPECT_EQ(Fp16ToFloat(0x7bff), 65504.0f);
  EXPECT_EQ(Fp16ToFloat(0x0001), std::ldexp(1.0f, -24));  // smallest subnormal
  EXPECT_EQ(Fp16ToFloat(0x0400), std::ldexp(1.0f, -14));  // smallest normal
  EXPECT_EQ(Fp16ToFloat(0x3555), 0.333251953125f);
  EXPECT_TRUE(std::isinf(Fp16ToFloat(0x7c00)));
  EXPECT_TRUE(std::isnan(Fp16ToFloat(0x7e00)));
}

uint32_t FloatBits(float x) {
  uint32_t b;
  std::memcpy(&b, &x, sizeof(b));
  return b;
}

// Fp16ToFloat (F16C where the build targets it) and WidenRow's vector loop give the portable
// conversion's bits for all 65536 patterns: zeros, subnormals, normals, infinities and NaNs
// (signalling ones made quiet, as vcvtph2ps does).
TEST(EmbeddingPrecision, Fp16WideningGivesThePortableBitsForEveryPattern) {
  std::vector<uint16_t> all(0x10000);
  for (uint32_t h = 0; h < 0x10000; ++h) all[h] = static_cast<uint16_t>(h);
  std::vector<float> widened(all.size());
  WidenRow(EmbeddingPrecision::kFp16, all.data(), static_cast<int64_t>(all.size()), widened.data());
  std::vector<float> shifted(all.size() - 3);  // unaligned start, a tail shorter than a vector
  WidenRow(EmbeddingPrecision::kFp16, all.data() + 3, static_cast<int64_t>(shifted.size()),
           shifted.data());
  int mismatches = 0;
  for (uint32_t h = 0; h < 0x10000; ++h) {
    const uint32_t want = FloatBits(Fp16ToFloatPortable(static_cast<uint16_t>(h)));
    mismatches += FloatBits(Fp16ToFloat(static_cast<uint16_t>(h))) != want;
    mismatches += FloatBits(widened[h]) != want;
    if (h >= 3) mismatches += FloatBits(shifted[h - 3]) != want;
  }
  EXPECT_EQ(mismatches, 0) << (kFp16WidensWithF16c ? "F16C" : "portable") << " widening";
  // The edges, by hand: signed zero, the largest subnormal, infinity, a signalling NaN (made
  // quiet) and a quiet one (kept).
  EXPECT_EQ(FloatBits(Fp16ToFloatPortable(0x8000)), 0x80000000u);
  EXPECT_EQ(FloatBits(Fp16ToFloatPortable(0x03ff)), 0x387fc000u);
  EXPECT_EQ(FloatBits(Fp16ToFloatPortable(0xfc00)), 0xff800000u);
  EXPECT_EQ(FloatBits(Fp16ToFloatPortable(0x7c01)), 0x7fc02000u);
  EXPECT_EQ(FloatBits(Fp16ToFloatPortable(0xfe01)), 0xffc02000u);
}

// Every finite 16-bit pattern survives widening and narrowing (nearest and stochastic with any
// random bits: a representable value has nothing to round).
TEST(EmbeddingPrecision, EveryFinite16BitValueRoundTrips) {
  for (EmbeddingPrecision p : {EmbeddingPrecision::kBf16, EmbeddingPrecision::kFp16}) {
    for (uint32_t h = 0; h < 0x10000; ++h) {
      const uint16_t v = static_cast<uint16_t>(h);
      const float x = Widen(p, v);
      if (std::isnan(x) || std::isinf(x)) continue;
      if (p == EmbeddingPrecision::kBf16 && (v & 0x7f80u) == 0) continue;  // subnormal bf16
      uint16_t nearest;
      NarrowRowNearest(p, &x, 1, &nearest);
      ASSERT_EQ(nearest, v) << EmbeddingPrecisionName(p) << " " << h;
      for (uint32_t r : {0u, 1u, 0x1234u, 0xffffffffu}) {
        ASSERT_EQ(Stochastic(p, x, r), v) << EmbeddingPrecisionName(p) << " " << h << " r " << r;
      }
    }
  }
}

TEST(EmbeddingPrecision, Fp16NearestRoundsTiesToEvenAndSaturates) {
  // 1 + 2^-11 lies halfway between 1 (0x3c00, even) and 1 + 2^-10 (0x3c01).
  EXPECT_EQ(FloatToFp16(1.0f + std::ldexp(1.0f, -11)), 0x3c00);
  EXPECT_EQ(FloatToFp16(1.0f + 3 * std::ldexp(1.0f, -11)), 0x3c02);
  EXPECT_EQ(FloatToFp16(1e6f), 0x7bff);
  EXPECT_EQ(FloatToFp16(-1e6f), 0xfbff);
  EXPECT_EQ(FloatToFp16(INFINITY), 0x7bff);
  EXPECT_EQ(FloatToFp16Stochastic(70000.0f, 0xffffffffu), 0x7bff);
  EXPECT_TRUE(std::isnan(Fp16ToFloat(FloatToFp16(NAN))));
  EXPECT_TRUE(IsNan16(EmbeddingPrecision::kBf16, FloatToBf16Stochastic(NAN, 7)));
}

// Stochastic rounding gives one of the two neighbours, and their mean over many draws is x:
// unbiased (here 1/3, 0.1 + 1e-4, a negative value and an fp16 subnormal).
TEST(EmbeddingPrecision, StochasticRoundingIsUnbiasedBetweenNeighbours) {
  for (EmbeddingPrecision p : {EmbeddingPrecision::kBf16, EmbeddingPrecision::kFp16}) {
    for (float x : {1.0f / 3.0f, 0.1001f, -0.7123f, 3.3e-6f}) {
      if (p == EmbeddingPrecision::kBf16 && x == 3.3e-6f) continue;
      uint16_t lo_bits;
      NarrowRowNearest(p, &x, 1, &lo_bits);
      const int n = 200000;
      double sum = 0.0;
      float lo = INFINITY, hi = -INFINITY;
      for (int i = 0; i < n; ++i) {
        const float y = Widen(p, Stochastic(p, x, RoundingBits(9, 3, i, 0)));
        lo = std::min(lo, y);
        hi = std::max(hi, y);
        sum += y;
      }
      EXPECT_LE(lo, x);
      EXPECT_GE(hi, x);
      EXPECT_LT(lo, hi) << "both neighbours appear";
      // Only the two neighbours: hi is the next value above lo.
      const uint16_t lo16 = Stochastic(p, lo, 0);
      EXPECT_EQ(Widen(p, static_cast<uint16_t>(lo16 + (lo < 0 ? -1 : 1))), hi)
          << EmbeddingPrecisionName(p) << " x " << x;
      const double gap = static_cast<double>(hi) - lo;
      // The mean of n Bernoulli draws scaled by gap: 5 standard deviations at most.
      EXPECT_NEAR(sum / n, x, 5.0 * gap * 0.5 / std::sqrt(n))
          << EmbeddingPrecisionName(p) << " " << x;
    }
  }
}

// The narrowed row is a function of (seed, step, row, element) only: the same call gives the
// same bits, another step or row other bits, and whole tables narrowed in any order agree.
TEST(EmbeddingPrecision, StochasticNarrowingIsCounterBasedAndDeterministic) {
  Rng rng(4);
  const int64_t rows = 64, dim = 16;
  std::vector<float> table(rows * dim);
  for (float& v : table) v = rng.Normal() * 0.05f;
  for (EmbeddingPrecision p : {EmbeddingPrecision::kBf16, EmbeddingPrecision::kFp16}) {
    std::vector<uint16_t> forward(table.size()), backward(table.size()), other_step(table.size());
    for (int64_t r = 0; r < rows; ++r) {
      NarrowRowStochastic(p, &table[r * dim], dim, 11, 5, r, &forward[r * dim]);
    }
    for (int64_t r = rows - 1; r >= 0; --r) {
      NarrowRowStochastic(p, &table[r * dim], dim, 11, 5, r, &backward[r * dim]);
      NarrowRowStochastic(p, &table[r * dim], dim, 11, 6, r, &other_step[r * dim]);
    }
    EXPECT_EQ(forward, backward);
    EXPECT_NE(forward, other_step);
    // Within one ulp of the value either way.
    for (size_t i = 0; i < table.size(); ++i) {
      uint16_t nearest;
      NarrowRowNearest(p, &table[i], 1, &nearest);
      EXPECT_LE(std::abs(static_cast<int>(forward[i]) - static_cast<int>(nearest)), 1);
    }
  }
}

// A small update that nearest rounding loses every time accumulates under stochastic rounding:
// 1000 steps of +1e-4 on 1.0 in bf16 (ulp 2^-7 = 0.0078) leave nearest rounding at 1.0 and
// stochastic rounding at 1.1 on average (64 rows: standard error 0.0035).
TEST(EmbeddingPrecision, StochasticRoundingKeepsUpdatesSmallerThanAnUlp) {
  const int64_t rows = 64;
  std::vector<uint16_t> sr(rows, FloatToBf16(1.0f));
  uint16_t nearest = FloatToBf16(1.0f);
  for (int64_t step = 0; step < 1000; ++step) {
    for (int64_t r = 0; r < rows; ++r) {
      const float a = Bf16ToFloat(sr[r]) + 1e-4f;
      NarrowRowStochastic(EmbeddingPrecision::kBf16, &a, 1, 1, step, r, &sr[r]);
    }
    const float b = Bf16ToFloat(nearest) + 1e-4f;
    NarrowRowNearest(EmbeddingPrecision::kBf16, &b, 1, &nearest);
  }
  EXPECT_EQ(Bf16ToFloat(nearest), 1.0f);
  double mean = 0.0;
  for (uint16_t v : sr) mean += Bf16ToFloat(v) / rows;
  EXPECT_NEAR(mean, 1.1, 0.015);
}

// The 16-bit gather equals the fp32 gather over the widened table, bit for bit, for 1 and 2
// threads, dims 16 (unrolled) and 5 (generic), weighted and unweighted.
// ConvertValues: a bit copy within a precision, exact widening, rounding to nearest when
// narrowing, and bf16 <-> fp16 through fp32 (more than one block of 256 values).
TEST(EmbeddingPrecision, ConvertValuesCopiesWidensAndRoundsToNearest) {
  constexpr int64_t kN = 600;
  std::vector<float> x(kN);
  for (int64_t i = 0; i < kN; ++i) x[i] = 0.001f * static_cast<float>(i * i) - 37.3f;
  for (const EmbeddingPrecision p : {EmbeddingPrecision::kBf16, EmbeddingPrecision::kFp16}) {
    std::vector<uint16_t> nearest(kN), converted(kN);
    NarrowRowNearest(p, x.data(), kN, nearest.data());
    ConvertValues(EmbeddingPrecision::kFp32, x.data(), p, converted.data(), kN);
    EXPECT_EQ(converted, nearest);
    std::vector<float> wide(kN), widened(kN);
    WidenRow(p, nearest.data(), kN, wide.data());
    ConvertValues(p, nearest.data(), EmbeddingPrecision::kFp32, widened.data(), kN);
    EXPECT_EQ(widened, wide);
    std::vector<uint16_t> copy(kN);
    ConvertValues(p, nearest.data(), p, copy.data(), kN);
    EXPECT_EQ(copy, nearest);
    // Into the other 16-bit precision: the nearest value of the widened one.
    const EmbeddingPrecision q =
        p == EmbeddingPrecision::kBf16 ? EmbeddingPrecision::kFp16 : EmbeddingPrecision::kBf16;
    std::vector<uint16_t> other(kN), want(kN);
    ConvertValues(p, nearest.data(), q, other.data(), kN);
    NarrowRowNearest(q, wide.data(), kN, want.data());
    EXPECT_EQ(other, want);
  }
  std::vector<float> same(kN);
  ConvertValues(EmbeddingPrecision::kFp32, x.data(), EmbeddingPrecision::kFp32, same.data(), kN);
  EXPECT_EQ(same, x);
}

TEST(EmbeddingPrecision, Forward16MatchesFp32ForwardOverTheWidenedTable) {
  Rng rng(2);
  const int saved_threads = ComputeThreads();
  for (int64_t dim : {16, 5}) {
    const int64_t rows = 100, batch = 1200;
    std::vector<float> table(rows * dim);
    for (float& v : table) v = rng.Normal();
    std::vector<int64_t> ids, offsets = {0};
    std::vector<float> weights;
    for (int64_t b = 0; b < batch; ++b) {
      const int64_t n = static_cast<int64_t>(rng.UniformInt(4));  // bags of 0..3
      for (int64_t k = 0; k < n; ++k) {
        ids.push_back(static_cast<int64_t>(rng.UniformInt(rows)));
        weights.push_back(rng.UniformFloat());
      }
      offsets.push_back(static_cast<int64_t>(ids.size()));
    }
    for (EmbeddingPrecision p : {EmbeddingPrecision::kBf16, EmbeddingPrecision::kFp16}) {
      std::vector<uint16_t> half(table.size());
      NarrowRowNearest(p, table.data(), static_cast<int64_t>(table.size()), half.data());
      std::vector<float> widened(table.size());
      WidenRow(p, half.data(), static_cast<int64_t>(half.size()), widened.data());
      for (const float* w : {static_cast<const float*>(nullptr), std::as_const(weights).data()}) {
        for (int threads : {1, 2}) {
          SetComputeThreads(threads);
          std::vector<float> want(batch * dim), got(batch * dim, -1.0f);
          EmbeddingBagForward(widened.data(), dim, ids.data(), offsets.data(), w, batch,
                              Pooling::kMean, want.data());
          EmbeddingBagForward16(p, half.data(), dim, ids.data(), offsets.data(), w, batch,
                                Pooling::kMean, got.data());
          EXPECT_EQ(got, want) << EmbeddingPrecisionName(p) << " dim " << dim;
        }
      }
    }
  }
  SetComputeThreads(saved_threads);
}

}  // namespace
}  // namespace crank
