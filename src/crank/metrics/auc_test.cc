#include "crank/metrics/auc.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <vector>

namespace crank {
namespace {

double AucOf(const std::vector<float>& p, const std::vector<float>& y,
             const std::vector<float>* w = nullptr) {
  Auc auc;
  auc.Update(p.data(), y.data(), w != nullptr ? w->data() : nullptr,
             static_cast<int64_t>(p.size()));
  return auc.Result();
}

TEST(Auc, PerfectRankingIsOne) {
  EXPECT_DOUBLE_EQ(AucOf({0.1f, 0.2f, 0.8f, 0.9f}, {0, 0, 1, 1}), 1.0);
}

TEST(Auc, ReversedRankingIsZero) {
  EXPECT_DOUBLE_EQ(AucOf({0.9f, 0.8f, 0.2f, 0.1f}, {0, 0, 1, 1}), 0.0);
}

TEST(Auc, AllTiedPredictionsCountHalf) {
  EXPECT_DOUBLE_EQ(AucOf({0.5f, 0.5f, 0.5f, 0.5f, 0.5f}, {0, 1, 1, 0, 1}), 0.5);
}

TEST(Auc, MixedCaseWithTieMatchesHandCount) {
  // Negatives: 0.1, 0.4. Positives: 0.4 (beats 0.1, ties 0.4: 1.5), 0.8 (2), 0.3 (1), 0.9 (2).
  // AUC = 6.5 / (4 * 2).
  EXPECT_DOUBLE_EQ(AucOf({0.1f, 0.4f, 0.4f, 0.8f, 0.3f, 0.9f}, {0, 1, 0, 1, 1, 1}), 6.5 / 8.0);
  // The classic example: negatives 0.1, 0.4; positives 0.35, 0.8 -> 3 of 4 pairs.
  EXPECT_DOUBLE_EQ(AucOf({0.1f, 0.4f, 0.35f, 0.8f}, {0, 0, 1, 1}), 0.75);
}

TEST(Auc, WeightedEqualsDuplicatedExamples) {
  const std::vector<float> p = {0.1f, 0.4f, 0.4f, 0.8f, 0.3f, 0.9f, 0.3f};
  const std::vector<float> y = {0, 1, 0, 1, 1, 0, 0};
  const std::vector<float> w = {2, 1, 3, 0, 2, 1, 4};
  std::vector<float> p_dup, y_dup;
  for (size_t i = 0; i < p.size(); ++i) {
    for (int k = 0; k < static_cast<int>(w[i]); ++k) {
      p_dup.push_back(p[i]);
      y_dup.push_back(y[i]);
    }
  }
  const double weighted = AucOf(p, y, &w);
  EXPECT_NEAR(weighted, AucOf(p_dup, y_dup), 1e-12);
  // And the weights matter: the unweighted AUC differs.
  EXPECT_GT(std::fabs(weighted - AucOf(p, y)), 1e-3);
}

TEST(Auc, OneClassOrNothingIsNaN) {
  EXPECT_TRUE(std::isnan(AucOf({0.1f, 0.7f}, {1, 1})));
  EXPECT_TRUE(std::isnan(AucOf({0.1f, 0.7f}, {0, 0})));
  EXPECT_TRUE(std::isnan(Auc().Result()));
  // The only negative has zero weight: one class remains.
  const std::vector<float> w = {1, 0};
  EXPECT_TRUE(std::isnan(AucOf({0.1f, 0.7f}, {1, 0}, &w)));
}

TEST(Auc, NaNPredictionGivesNaN) {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  EXPECT_TRUE(std::isnan(AucOf({0.1f, nan, 0.7f}, {0, 1, 1})));
}

TEST(Auc, StreamingAndMergeEqualOneBatch) {
  const std::vector<float> p = {0.1f, 0.4f, 0.4f, 0.8f, 0.3f, 0.9f};
  const std::vector<float> y = {0, 1, 0, 1, 1, 0};
  Auc streamed;
  streamed.Update(p.data(), y.data(), nullptr, 2);
  streamed.Update(p.data() + 2, y.data() + 2, nullptr, 4);
  Auc first, second;
  first.Update(p.data(), y.data(), nullptr, 3);
  second.Update(p.data() + 3, y.data() + 3, nullptr, 3);
  first.Merge(second);
  const double expected = AucOf(p, y);
  EXPECT_DOUBLE_EQ(streamed.Result(), expected);
  EXPECT_DOUBLE_EQ(first.Result(), expected);
  EXPECT_EQ(first.size(), 6);
}

TEST(Auc, ResetForgetsEverything) {
  Auc auc;
  const std::vector<float> p = {0.9f, 0.1f};
  const std::vector<float> y = {0, 1};
  auc.Update(p.data(), y.data(), nullptr, 2);
  EXPECT_DOUBLE_EQ(auc.Result(), 0.0);
  auc.Reset();
  EXPECT_EQ(auc.size(), 0);
  EXPECT_TRUE(std::isnan(auc.Result()));
}

}  // namespace
}  // namespace crank
