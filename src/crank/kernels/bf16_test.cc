// Tests of the bf16 rounding used by the bf16 GEMM path.

#include "crank/kernels/bf16.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

#include "crank/base/rng.h"
#include "crank/kernels/gemm.h"

namespace crank {
namespace {

float FromBits(uint32_t bits) {
  float x;
  std::memcpy(&x, &bits, sizeof(x));
  return x;
}

TEST(Bf16, RoundsToNearestTiesToEven) {
  EXPECT_EQ(FloatToBf16(1.0f), 0x3f80);
  EXPECT_EQ(FloatToBf16(-2.0f), 0xc000);
  EXPECT_EQ(FloatToBf16(FromBits(0x3f807fff)), 0x3f80);  // below half: down
  EXPECT_EQ(FloatToBf16(FromBits(0x3f808000)), 0x3f80);  // tie, even below: down
  EXPECT_EQ(FloatToBf16(FromBits(0x3f818000)), 0x3f82);  // tie, odd below: up to even
  EXPECT_EQ(FloatToBf16(FromBits(0x3f808001)), 0x3f81);  // above half: up
  EXPECT_EQ(FloatToBf16(FromBits(0xbf80c000)), 0xbf81);  // negative: magnitude rounds
  EXPECT_EQ(FloatToBf16(FromBits(0x3fffffff)), 0x4000);  // carry into the exponent
}

TEST(Bf16, SpecialValuesFollowTheHardwareConversion) {
  EXPECT_EQ(FloatToBf16(std::numeric_limits<float>::infinity()), 0x7f80);
  EXPECT_EQ(FloatToBf16(-std::numeric_limits<float>::infinity()), 0xff80);
  EXPECT_EQ(FloatToBf16(std::numeric_limits<float>::max()), 0x7f80);  // overflows to infinity
  EXPECT_EQ(FloatToBf16(std::numeric_limits<float>::denorm_min()), 0x0000);
  EXPECT_EQ(FloatToBf16(-1e-40f), 0x8000);                            // subnormal: signed zero
  EXPECT_EQ(FloatToBf16(std::numeric_limits<float>::min()), 0x0080);  // smallest normal stays
  EXPECT_EQ(FloatToBf16(-0.0f), 0x8000);
  const uint16_t nan = FloatToBf16(FromBits(0x7f800001));  // signalling NaN, payload in low bits
  EXPECT_TRUE(std::isnan(Bf16ToFloat(nan)));
  EXPECT_EQ(nan, 0x7fc0);
}

TEST(Bf16, RepresentableValuesRoundTripExactly) {
  for (float x : {0.0f, 1.0f, -3.5f, 0.15625f, 65536.0f, -1.0f / 1024}) {
    EXPECT_EQ(Bf16ToFloat(FloatToBf16(x)), x);
  }
  EXPECT_EQ(Bf16ToFloat(0x3f81), 1.0f + 1.0f / 128);
}

// RoundToBf16 (vector path where the CPU has AVX512-BF16, several threads on large inputs)
// agrees with FloatToBf16 element by element, over row tails and padded strides.
TEST(Bf16, RoundToBf16MatchesScalarOnPaddedRowsOfEveryTailLength) {
  Rng rng(5);
  const float specials[] = {std::numeric_limits<float>::quiet_NaN(),
                            std::numeric_limits<float>::infinity(),
                            -1e-40f,
                            0.0f,
                            -0.0f,
                            FromBits(0x3f808000),
                            FromBits(0x3f818000)};
  const int before = ComputeThreads();
  SetComputeThreads(2);
  for (const int64_t cols : {1, 7, 15, 16, 17, 31, 32, 33, 100}) {
    for (const int64_t rows : {1, 3, 2100}) {  // 2100 x cols >= 65536: the threaded path
      const int64_t ld = cols + 5;
      std::vector<float> src(static_cast<size_t>(rows * ld));
      for (size_t i = 0; i < src.size(); ++i) {
        src[i] = i % 11 == 0 ? specials[(i / 11) % 7] : (rng.UniformFloat() - 0.5f) * 1e3f;
      }
      std::vector<uint16_t> dst(static_cast<size_t>(rows * cols) + 1, 0xabcd);
      RoundToBf16(src.data(), rows, cols, ld, dst.data());
      for (int64_t r = 0; r < rows; ++r) {
        for (int64_t c = 0; c < cols; ++c) {
          ASSERT_EQ(dst[r * cols + c], FloatToBf16(src[r * ld + c]))
              << "rows=" << rows << " cols=" << cols << " at " << r << "," << c;
        }
      }
      EXPECT_EQ(dst.back(), 0xabcd) << "wrote past rows * cols";
    }
  }
  SetComputeThreads(before);
}

}  // namespace
}  // namespace crank
