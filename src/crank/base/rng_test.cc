#include "crank/base/rng.h"

#include <gtest/gtest.h>

#include <cmath>

namespace crank {
namespace {

TEST(Rng, SameSeedGivesSameSequence) {
  Rng a(42), b(42), c(43);
  bool differs = false;
  for (int i = 0; i < 100; ++i) {
    uint64_t x = a.NextU64();
    EXPECT_EQ(x, b.NextU64());
    differs |= x != c.NextU64();
  }
  EXPECT_TRUE(differs);
}

TEST(Rng, TruncatedNormalStaysWithinTwoStddevAndHasUnitishVariance) {
  Rng r(7);
  double sum = 0, sq = 0;
  const int n = 200000;
  for (int i = 0; i < n; ++i) {
    double x = r.TruncatedNormal(0.5);
    ASSERT_LE(std::fabs(x), 1.0);
    sum += x;
    sq += x * x;
  }
  EXPECT_NEAR(sum / n, 0.0, 0.01);
  // Variance of a standard normal truncated at +-2 is 0.7737; times 0.25.
  EXPECT_NEAR(sq / n, 0.7737 * 0.25, 0.01);
}

TEST(Rng, UniformIntIsInRangeAndCoversIt) {
  Rng r(1);
  int seen[7] = {};
  for (int i = 0; i < 7000; ++i) {
    uint64_t v = r.UniformInt(7);
    ASSERT_LT(v, 7u);
    seen[v]++;
  }
  for (int c : seen) EXPECT_GT(c, 800);
}

}  // namespace
}  // namespace crank
