#include "crank/task/ranking_task.h"

#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <limits>
#include <string>

#include "crank/base/error.h"
#include "crank/base/rng.h"
#include "gradient_check.h"

namespace crank {
namespace {

// Expects fn to throw InvalidArgument whose message contains `expected`.
void ExpectInvalid(const std::function<void()>& fn, const std::string& expected) {
  try {
    fn();
    ADD_FAILURE() << "expected InvalidArgument containing '" << expected << "'";
  } catch (const InvalidArgument& e) {
    EXPECT_NE(std::string(e.what()).find(expected), std::string::npos) << "message: " << e.what();
  }
}

Tensor RandomTensor(std::vector<int64_t> shape, float lo, float hi, uint64_t seed) {
  Tensor t(std::move(shape));
  Rng rng(seed);
  for (int64_t i = 0; i < t.size(); ++i) t[i] = lo + (hi - lo) * rng.UniformFloat();
  return t;
}

Tensor RandomLabels(int64_t b, uint64_t seed) {
  Tensor t({b});
  Rng rng(seed);
  for (int64_t i = 0; i < b; ++i) t[i] = rng.UniformFloat() < 0.5f ? 0.0f : 1.0f;
  return t;
}

TEST(RankingTask, MatchesTfrsTaskVector) {
  // tfrs ranking_test.test_task: predictions [[1], [0.3]], labels [[1], [1]],
  // loss -(log 1 + log 0.3) / 2, accuracy 0.5.
  RankingTask task;
  const Tensor predictions({2, 1}, {1.0f, 0.3f});
  const Tensor labels({2, 1}, {1.0f, 1.0f});
  const double loss = task.ComputeLoss(predictions, /*logits=*/false, labels, nullptr, nullptr);
  EXPECT_NEAR(loss, 0.60199, 1e-4);
  const auto m = task.Metrics();
  EXPECT_DOUBLE_EQ(m.at("accuracy"), 0.5);
  EXPECT_NEAR(m.at("prediction_mean"), 0.65, 1e-7);
  EXPECT_DOUBLE_EQ(m.at("label_mean"), 1.0);
  EXPECT_NEAR(m.at("loss"), loss, 1e-12);
  EXPECT_DOUBLE_EQ(m.at("examples"), 2.0);
}

TEST(RankingTask, LogitsGiveSigmoidPredictionsAndMatchProbabilityLoss) {
  RankingTask from_logits, from_probs;
  const Tensor z({4}, {-2.0f, -0.5f, 0.5f, 3.0f});
  const Tensor y({4}, {0.0f, 1.0f, 0.0f, 1.0f});
  Tensor p({4});
  for (int64_t i = 0; i < 4; ++i) p[i] = 1.0f / (1.0f + std::exp(-z[i]));
  const double a = from_logits.ComputeLoss(z, true, y, nullptr, nullptr);
  const double b = from_probs.ComputeLoss(p, false, y, nullptr, nullptr);
  EXPECT_NEAR(a, b, 1e-5);
  EXPECT_NEAR(from_logits.Metrics().at("prediction_mean"),
              from_probs.Metrics().at("prediction_mean"), 1e-7);
  EXPECT_DOUBLE_EQ(from_logits.Metrics().at("auc"), 0.75);
}

TEST(RankingTask, WeightedLossDividesByBatchSize) {
  RankingTask task({LossKind::kMeanSquaredError});
  const Tensor p({2}, {1.0f, 3.0f});
  const Tensor y({2}, {0.0f, 1.0f});
  const Tensor w({2}, {0.5f, 2.0f});
  EXPECT_NEAR(task.ComputeLoss(p, false, y, &w, nullptr), (0.5 * 1 + 2 * 4) / 2.0, 1e-12);
  const Tensor zeros({2}, {0.0f, 0.0f});
  Tensor grad;
  EXPECT_EQ(task.ComputeLoss(p, false, y, &zeros, &grad), 0.0);
  EXPECT_EQ(grad.shape(), p.shape());
  EXPECT_EQ(grad[0], 0.0f);
  EXPECT_EQ(grad[1], 0.0f);
  // The metrics weight examples by w (mean = sum w x / sum w).
  EXPECT_NEAR(task.Metrics().at("label_mean"), 2.0 / 2.5, 1e-12);
  EXPECT_NEAR(task.Metrics().at("rmse"), std::sqrt((0.5 * 1 + 2 * 4) / 2.5), 1e-12);
}

TEST(RankingTask, MetricsAccumulateAcrossBatchesAndReset) {
  RankingTask task;
  const Tensor p1({2}, {0.9f, 0.2f});
  const Tensor y1({2}, {1.0f, 0.0f});
  const Tensor p2({1}, {0.6f});
  const Tensor y2({1}, {0.0f});
  const double l1 = task.ComputeLoss(p1, false, y1, nullptr, nullptr);
  const double l2 = task.ComputeLoss(p2, false, y2, nullptr, nullptr);
  task.ComputeLoss(p2, false, y2, nullptr, nullptr, /*update_metrics=*/false);
  auto m = task.Metrics();
  EXPECT_DOUBLE_EQ(m.at("examples"), 3.0);
  EXPECT_NEAR(m.at("loss"), (2 * l1 + l2) / 3.0, 1e-12);
  EXPECT_NEAR(m.at("accuracy"), 2.0 / 3.0, 1e-12);
  EXPECT_DOUBLE_EQ(m.at("auc"), 1.0);
  EXPECT_EQ(m.count("rmse"), 0u);
  task.ResetMetrics();
  EXPECT_DOUBLE_EQ(task.Metrics().at("examples"), 0.0);
}

// Gradient of ComputeLoss w.r.t. the outputs against central differences.
void CheckTaskGradient(LossKind kind, bool logits, bool weighted, std::vector<int64_t> shape) {
  RankingTask task({kind});
  const int64_t b = shape[0];
  Tensor outputs =
      logits ? RandomTensor(shape, -3.0f, 3.0f, 21) : RandomTensor(shape, 0.05f, 0.95f, 22);
  const Tensor labels =
      kind == LossKind::kMeanSquaredError ? RandomTensor({b}, 0.0f, 1.0f, 23) : RandomLabels(b, 24);
  const Tensor w = RandomTensor({b}, 0.0f, 2.0f, 25);
  const Tensor* wp = weighted ? &w : nullptr;
  Tensor grad;
  task.ComputeLoss(outputs, logits, labels, wp, &grad, false);
  ASSERT_EQ(grad.shape(), outputs.shape());
  testing::GradCheckOptions opts;
  opts.atol = 1e-4;
  testing::ExpectGradientMatches(
      [&] { return task.ComputeLoss(outputs, logits, labels, wp, nullptr, false); }, outputs.data(),
      grad.data(), b, std::string(LossKindName(kind)) + " outputs", opts);
}

TEST(RankingTask, BceFromLogitsGradientMatchesFiniteDifferences) {
  CheckTaskGradient(LossKind::kBinaryCrossEntropy, true, false, {12});
  CheckTaskGradient(LossKind::kBinaryCrossEntropy, true, true, {12, 1});
}

TEST(RankingTask, BceFromProbabilitiesGradientMatchesFiniteDifferences) {
  CheckTaskGradient(LossKind::kBinaryCrossEntropy, false, false, {12, 1});
  CheckTaskGradient(LossKind::kBinaryCrossEntropy, false, true, {12});
}

TEST(RankingTask, MseGradientMatchesFiniteDifferences) {
  CheckTaskGradient(LossKind::kMeanSquaredError, false, false, {12});
  CheckTaskGradient(LossKind::kMeanSquaredError, false, true, {12});
}

TEST(RankingTask, MseThroughSigmoidGradientMatchesFiniteDifferences) {
  CheckTaskGradient(LossKind::kMeanSquaredError, true, false, {12});
  CheckTaskGradient(LossKind::kMeanSquaredError, true, true, {12, 1});
}

TEST(RankingTask, MseThroughSigmoidHandComputed) {
  RankingTask task({LossKind::kMeanSquaredError});
  const Tensor z({1}, {0.0f});
  const Tensor y({1}, {1.0f});
  Tensor grad;
  // p = 0.5: loss 0.25, d/dz = 2 (p - y) p (1 - p) = -0.25.
  EXPECT_NEAR(task.ComputeLoss(z, true, y, nullptr, &grad), 0.25, 1e-12);
  EXPECT_NEAR(grad[0], -0.25f, 1e-7);
}

TEST(RankingTask, LargeLogitsStayFinite) {
  RankingTask task;
  const Tensor z({2}, {100.0f, -100.0f});
  const Tensor y({2}, {0.0f, 0.0f});
  Tensor grad;
  const double loss = task.ComputeLoss(z, true, y, nullptr, &grad);
  EXPECT_NEAR(loss, 50.0, 1e-9);
  EXPECT_TRUE(std::isfinite(grad[0]) && std::isfinite(grad[1]));
}

TEST(RankingTask, MseAcceptsLabelsOutsideUnitInterval) {
  RankingTask task({LossKind::kMeanSquaredError});
  const Tensor p({2}, {4.0f, 2.0f});
  const Tensor y({2}, {5.0f, 1.0f});
  EXPECT_NEAR(task.ComputeLoss(p, false, y, nullptr, nullptr), 1.0, 1e-12);
  EXPECT_NEAR(task.Metrics().at("mae"), 1.0, 1e-12);
}

TEST(RankingTask, RejectsInvalidInput) {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const float inf = std::numeric_limits<float>::infinity();
  RankingTask task;
  RankingTask mse({LossKind::kMeanSquaredError});
  const Tensor out4({4}, {0.1f, 0.2f, 0.3f, 0.4f});
  const Tensor y4({4}, {0, 1, 0, 1});
  Tensor grad;
  ExpectInvalid(
      [&] {
        task.ComputeLoss(Tensor({2, 2}), false, y4, nullptr, nullptr);
      },
      "expected outputs of shape (B) or (B, 1), got (2, 2)");
  ExpectInvalid(
      [&] {
        task.ComputeLoss(Tensor({4, 1, 1}), false, y4, nullptr, nullptr);
      },
      "(4, 1, 1)");
  ExpectInvalid(
      [&] { task.ComputeLoss(Tensor(std::vector<int64_t>{}), false, y4, nullptr, nullptr); },
      "expected outputs of shape");
  ExpectInvalid([&] { task.ComputeLoss(Tensor({0}), false, Tensor({0}), nullptr, nullptr); },
                "non-empty batch");
  ExpectInvalid([&] { task.ComputeLoss(Tensor({128}), false, Tensor({127}), nullptr, nullptr); },
                "expected 128 labels, got 127");
  const Tensor w3({3}, {1, 1, 1});
  ExpectInvalid([&] { task.ComputeLoss(out4, false, y4, &w3, nullptr); },
                "expected 4 sample weights, got 3");
  const Tensor w_neg({4}, {1, 1, -1, 1});
  ExpectInvalid([&] { task.ComputeLoss(out4, false, y4, &w_neg, nullptr); },
                "sample weight -1 at example 2 must be finite and >= 0");
  const Tensor w_nan({4}, {1, nan, 1, 1});
  ExpectInvalid([&] { task.ComputeLoss(out4, false, y4, &w_nan, nullptr); },
                "at example 1 must be finite");
  const Tensor w_inf({4}, {1, 1, 1, inf});
  ExpectInvalid([&] { mse.ComputeLoss(out4, false, y4, &w_inf, nullptr); },
                "at example 3 must be finite");
  const Tensor y_out({4}, {0, 1, 0, 2});
  ExpectInvalid([&] { task.ComputeLoss(out4, true, y_out, nullptr, nullptr); },
                "label 2 at example 3 is outside [0, 1] for binary cross-entropy");
  const Tensor y_neg({4}, {-0.5f, 1, 0, 1});
  ExpectInvalid([&] { task.ComputeLoss(out4, false, y_neg, nullptr, nullptr); },
                "label -0.5 at example 0 is outside [0, 1]");
  const Tensor y_nan({4}, {0, nan, 0, 1});
  ExpectInvalid([&] { task.ComputeLoss(out4, false, y_nan, nullptr, nullptr); },
                "at example 1 is not finite");
  const Tensor y_inf({4}, {0, 1, inf, 1});
  ExpectInvalid([&] { mse.ComputeLoss(out4, false, y_inf, nullptr, nullptr); },
                "at example 2 is not finite");
  // Nothing was recorded by the rejected calls, and d_outputs was left alone.
  ExpectInvalid([&] { task.ComputeLoss(out4, false, y_out, nullptr, &grad); }, "outside");
  EXPECT_TRUE(grad.empty());
  EXPECT_DOUBLE_EQ(task.Metrics().at("examples"), 0.0);
  EXPECT_DOUBLE_EQ(mse.Metrics().at("examples"), 0.0);
}

TEST(LossKind, ParsesNamesAndRoundTrips) {
  EXPECT_EQ(ParseLossKind("bce"), LossKind::kBinaryCrossEntropy);
  EXPECT_EQ(ParseLossKind("binary_crossentropy"), LossKind::kBinaryCrossEntropy);
  EXPECT_EQ(ParseLossKind("mse"), LossKind::kMeanSquaredError);
  EXPECT_EQ(ParseLossKind("mean_squared_error"), LossKind::kMeanSquaredError);
  for (LossKind kind : {LossKind::kBinaryCrossEntropy, LossKind::kMeanSquaredError}) {
    EXPECT_EQ(ParseLossKind(LossKindName(kind)), kind);
  }
  ExpectInvalid([] { ParseLossKind("hinge"); }, "unknown loss 'hinge'");
  ExpectInvalid([] { ParseLossKind(""); }, "expected one of");
  EXPECT_EQ(RankingTask().loss(), LossKind::kBinaryCrossEntropy);
  EXPECT_EQ(RankingTask({LossKind::kMeanSquaredError}).loss(), LossKind::kMeanSquaredError);
}

}  // namespace
}  // namespace crank
