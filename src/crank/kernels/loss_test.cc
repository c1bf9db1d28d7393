#include "crank/kernels/loss.h"

#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "crank/base/rng.h"
#include "gradient_check.h"

namespace crank {
namespace {

using testing::ExpectGradientMatches;

double Sigmoid(double z) { return 1.0 / (1.0 + std::exp(-z)); }

std::vector<float> RandomVector(int64_t n, float lo, float hi, uint64_t seed) {
  Rng rng(seed);
  std::vector<float> v(static_cast<size_t>(n));
  for (float& x : v) x = lo + (hi - lo) * rng.UniformFloat();
  return v;
}

std::vector<float> RandomLabels(int64_t n, uint64_t seed) {
  Rng rng(seed);
  std::vector<float> v(static_cast<size_t>(n));
  for (float& x : v) x = rng.UniformFloat() < 0.5f ? 0.0f : 1.0f;
  return v;
}

TEST(BceFromProbabilities, MatchesTfrsRankingTaskVector) {
  // tfrs ranking_test: predictions [1, 0.3], labels [1, 1]: loss -(log 1 + log 0.3) / 2.
  const std::vector<float> p = {1.0f, 0.3f};
  const std::vector<float> y = {1.0f, 1.0f};
  const double loss = BceFromProbabilities(p.data(), y.data(), nullptr, 2, nullptr);
  EXPECT_NEAR(loss, -(std::log(1.0) + std::log(0.3)) / 2.0, 1e-4);
  EXPECT_NEAR(loss, 0.60199, 1e-4);
}

TEST(BceFromProbabilities, ClipsLikeKerasAndZeroesClippedGradient) {
  // p = 0 with y = 1: q = 1e-7, l = -log(2e-7); p = 1 with y = 0: l = -log(1 - (1 - 1e-7) + 1e-7).
  const std::vector<float> p = {0.0f, 1.0f};
  const std::vector<float> y = {1.0f, 0.0f};
  std::vector<float> g(2, 42.0f);
  const double loss = BceFromProbabilities(p.data(), y.data(), nullptr, 2, g.data());
  EXPECT_NEAR(loss, -std::log(2e-7), 1e-6);
  EXPECT_TRUE(std::isfinite(loss));
  EXPECT_EQ(g[0], 0.0f);
  EXPECT_EQ(g[1], 0.0f);
}

TEST(BceWithLogits, HandComputedCase) {
  // z = 0: l = log 2 for either label; z = 2, y = 1: l = log(1 + e^-2); z = -1, y = 1: 1 + log(1 +
  // e^-1).
  const std::vector<float> z = {0.0f, 2.0f, -1.0f};
  const std::vector<float> y = {0.0f, 1.0f, 1.0f};
  std::vector<float> g(3);
  const double loss = BceWithLogits(z.data(), y.data(), nullptr, 3, g.data());
  const double expected =
      (std::log(2.0) + std::log1p(std::exp(-2.0)) + 1.0 + std::log1p(std::exp(-1.0))) / 3.0;
  EXPECT_NEAR(loss, expected, 1e-12);
  EXPECT_NEAR(g[0], 0.5 / 3.0, 1e-7);
  EXPECT_NEAR(g[1], (Sigmoid(2.0) - 1.0) / 3.0, 1e-7);
  EXPECT_NEAR(g[2], (Sigmoid(-1.0) - 1.0) / 3.0, 1e-7);
}

TEST(BceWithLogits, EqualsBceFromSigmoidOfLogitsForModerateValues) {
  const int64_t b = 64;
  const std::vector<float> z = RandomVector(b, -4.0f, 4.0f, 3);
  const std::vector<float> y = RandomVector(b, 0.0f, 1.0f, 4);  // soft labels too
  std::vector<float> p(b);
  for (int64_t i = 0; i < b; ++i) p[i] = static_cast<float>(Sigmoid(z[i]));
  const double from_logits = BceWithLogits(z.data(), y.data(), nullptr, b, nullptr);
  const double from_probs = BceFromProbabilities(p.data(), y.data(), nullptr, b, nullptr);
  EXPECT_NEAR(from_logits, from_probs, 1e-5);
}

TEST(BceWithLogits, StaysFiniteForLargeLogits) {
  const std::vector<float> z = {100.0f, -100.0f, 100.0f, -100.0f};
  const std::vector<float> y = {1.0f, 0.0f, 0.0f, 1.0f};
  std::vector<float> g(4);
  const double loss = BceWithLogits(z.data(), y.data(), nullptr, 4, g.data());
  ASSERT_TRUE(std::isfinite(loss));
  // Two confident-correct examples contribute ~0, two confident-wrong ones 100 each.
  EXPECT_NEAR(loss, 200.0 / 4.0, 1e-9);
  for (float v : g) EXPECT_TRUE(std::isfinite(v));
  EXPECT_NEAR(g[0], 0.0f, 1e-12);
  EXPECT_NEAR(g[2], 0.25f, 1e-7);
  EXPECT_NEAR(g[3], -0.25f, 1e-7);
}

TEST(Mse, HandComputedCase) {
  const std::vector<float> p = {1.0f, 0.5f, 3.0f};
  const std::vector<float> y = {0.0f, 0.5f, 1.0f};
  std::vector<float> g(3);
  const double loss = Mse(p.data(), y.data(), nullptr, 3, g.data());
  EXPECT_NEAR(loss, (1.0 + 0.0 + 4.0) / 3.0, 1e-12);
  EXPECT_NEAR(g[0], 2.0 / 3.0, 1e-7);
  EXPECT_EQ(g[1], 0.0f);
  EXPECT_NEAR(g[2], 4.0 / 3.0, 1e-7);
}

TEST(LossReduction, WeightsScaleExamplesAndDivideByBatchSize) {
  // SUM_OVER_BATCH_SIZE: sum_i w_i l_i / B, not / sum_i w_i.
  const std::vector<float> p = {1.0f, 3.0f};
  const std::vector<float> y = {0.0f, 1.0f};
  const std::vector<float> w = {0.5f, 2.0f};
  std::vector<float> g(2);
  const double loss = Mse(p.data(), y.data(), w.data(), 2, g.data());
  EXPECT_NEAR(loss, (0.5 * 1.0 + 2.0 * 4.0) / 2.0, 1e-12);
  EXPECT_NEAR(g[0], 0.5 * 2.0 * 1.0 / 2.0, 1e-7);
  EXPECT_NEAR(g[1], 2.0 * 2.0 * 2.0 / 2.0, 1e-7);

  // Unit weights equal no weights; all-zero weights give zero loss and zero gradient.
  const std::vector<float> ones = {1.0f, 1.0f};
  const std::vector<float> zeros = {0.0f, 0.0f};
  const std::vector<float> z = {0.3f, -2.0f};
  EXPECT_EQ(BceWithLogits(z.data(), y.data(), ones.data(), 2, nullptr),
            BceWithLogits(z.data(), y.data(), nullptr, 2, nullptr));
  EXPECT_EQ(BceWithLogits(z.data(), y.data(), zeros.data(), 2, g.data()), 0.0);
  EXPECT_EQ(g[0], 0.0f);
  EXPECT_EQ(g[1], 0.0f);

  // A weight of 2 equals duplicating the example, up to the batch-size denominator.
  const std::vector<float> w2 = {2.0f, 1.0f};
  const std::vector<float> z_dup = {0.3f, 0.3f, -2.0f};
  const std::vector<float> y_dup = {0.0f, 0.0f, 1.0f};
  EXPECT_NEAR(BceWithLogits(z.data(), y.data(), w2.data(), 2, nullptr) * 2.0,
              BceWithLogits(z_dup.data(), y_dup.data(), nullptr, 3, nullptr) * 3.0, 1e-12);
}

TEST(LossReduction, BatchOfOne) {
  const float p = 0.25f;
  const float y = 1.0f;
  float g = 0.0f;
  EXPECT_NEAR(Mse(&p, &y, nullptr, 1, &g), 0.5625, 1e-12);
  EXPECT_NEAR(g, -1.5f, 1e-7);
  EXPECT_NEAR(BceFromProbabilities(&p, &y, nullptr, 1, &g), -std::log(0.25 + 1e-7), 1e-9);
  EXPECT_NEAR(g, -1.0 / (0.25 + 1e-7), 1e-5);
}

// Finite-difference checks: the loss kernel itself is the scalar function of its inputs.
enum class Kind { kLogits, kProbabilities, kMse };

void CheckGradient(Kind kind, bool weighted) {
  const int64_t b = 16;
  std::vector<float> x;
  if (kind == Kind::kLogits) x = RandomVector(b, -4.0f, 4.0f, 11);
  if (kind == Kind::kProbabilities) x = RandomVector(b, 0.05f, 0.95f, 12);
  if (kind == Kind::kMse) x = RandomVector(b, -2.0f, 2.0f, 13);
  const std::vector<float> y =
      kind == Kind::kMse ? RandomVector(b, -1.0f, 1.0f, 14) : RandomLabels(b, 15);
  const std::vector<float> w = RandomVector(b, 0.0f, 3.0f, 16);
  const float* wp = weighted ? w.data() : nullptr;
  auto loss_fn = [&](float* grad) {
    switch (kind) {
      case Kind::kLogits:
        return BceWithLogits(x.data(), y.data(), wp, b, grad);
      case Kind::kProbabilities:
        return BceFromProbabilities(x.data(), y.data(), wp, b, grad);
      case Kind::kMse:
        return Mse(x.data(), y.data(), wp, b, grad);
    }
    return 0.0;
  };
  std::vector<float> grad(b);
  loss_fn(grad.data());
  // Gradients are O(1 / B); scale the absolute tolerance accordingly.
  testing::GradCheckOptions opts;
  opts.atol = 1e-4;
  ExpectGradientMatches([&] { return loss_fn(nullptr); }, x.data(), grad.data(), b,
                        weighted ? "weighted input" : "input", opts);
}

TEST(BceWithLogits, GradientMatchesFiniteDifferences) { CheckGradient(Kind::kLogits, false); }
TEST(BceWithLogits, WeightedGradientMatchesFiniteDifferences) {
  CheckGradient(Kind::kLogits, true);
}
TEST(BceFromProbabilities, GradientMatchesFiniteDifferences) {
  CheckGradient(Kind::kProbabilities, false);
}
TEST(BceFromProbabilities, WeightedGradientMatchesFiniteDifferences) {
  CheckGradient(Kind::kProbabilities, true);
}
TEST(Mse, GradientMatchesFiniteDifferences) { CheckGradient(Kind::kMse, false); }
TEST(Mse, WeightedGradientMatchesFiniteDifferences) { CheckGradient(Kind::kMse, true); }

}  // namespace
}  // namespace crank
