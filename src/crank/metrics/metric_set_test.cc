#include "crank/metrics/metric_set.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <vector>

#include "crank/base/error.h"
#include "crank/base/rng.h"

namespace crank {
namespace {

double BinaryEntropy(double q) { return -(q * std::log(q) + (1 - q) * std::log(1 - q)); }

TEST(MetricSet, MatchesTfrsRankingTaskVector) {
  // tfrs ranking_test: predictions [1, 0.3], labels [1, 1].
  const std::vector<float> p = {1.0f, 0.3f};
  const std::vector<float> y = {1.0f, 1.0f};
  MetricSet m(false);
  m.Update(p.data(), y.data(), nullptr, 2);
  const auto r = m.Results();
  EXPECT_DOUBLE_EQ(r.at("examples"), 2.0);
  EXPECT_DOUBLE_EQ(r.at("accuracy"), 0.5);
  EXPECT_NEAR(r.at("prediction_mean"), 0.65, 1e-7);
  EXPECT_DOUBLE_EQ(r.at("label_mean"), 1.0);
  EXPECT_NEAR(r.at("logloss"), 0.60199, 1e-4);
  EXPECT_NEAR(r.at("calibration"), 0.65, 1e-7);
  EXPECT_TRUE(std::isnan(r.at("auc")));   // one class only
  EXPECT_TRUE(std::isnan(r.at("ne")));    // label mean 1: zero entropy
  EXPECT_TRUE(std::isnan(r.at("loss")));  // no batch loss recorded
  EXPECT_EQ(r.count("rmse"), 0u);
  EXPECT_EQ(r.count("mae"), 0u);
}

TEST(MetricSet, NormalizedEntropyAndCalibrationByHand) {
  const std::vector<float> p = {0.2f, 0.6f, 0.9f, 0.4f};
  const std::vector<float> y = {0, 1, 1, 0};
  MetricSet m;
  m.Update(p.data(), y.data(), nullptr, 4);
  auto r = m.Results();
  const double logloss = -(std::log(0.8) + std::log(0.6) + std::log(0.9) + std::log(0.6)) / 4.0;
  EXPECT_NEAR(r.at("logloss"), logloss, 1e-6);
  EXPECT_NEAR(r.at("ne"), logloss / std::log(2.0), 1e-6);
  EXPECT_NEAR(r.at("calibration"), 0.525 / 0.5, 1e-6);
  EXPECT_DOUBLE_EQ(r.at("auc"), 1.0);
  EXPECT_DOUBLE_EQ(r.at("accuracy"), 1.0);

  // Weighted: w = [1, 2, 1, 0]; sum w = 4.
  const std::vector<float> w = {1, 2, 1, 0};
  MetricSet mw;
  mw.Update(p.data(), y.data(), w.data(), 4);
  r = mw.Results();
  const double q = 3.0 / 4.0;
  const double wlogloss = -(std::log(0.8) + 2 * std::log(0.6) + std::log(0.9)) / 4.0;
  EXPECT_NEAR(r.at("label_mean"), q, 1e-12);
  EXPECT_NEAR(r.at("prediction_mean"), (0.2 + 1.2 + 0.9) / 4.0, 1e-6);
  EXPECT_NEAR(r.at("logloss"), wlogloss, 1e-6);
  EXPECT_NEAR(r.at("ne"), wlogloss / BinaryEntropy(q), 1e-6);
  EXPECT_NEAR(r.at("calibration"), ((0.2 + 1.2 + 0.9) / 4.0) / q, 1e-6);
  EXPECT_DOUBLE_EQ(r.at("examples"), 4.0);  // zero-weight examples still count
}

TEST(MetricSet, AccuracyUsesStrictHalfThreshold) {
  // p = 0.5 predicts the negative class, as (p > 0.5) in Keras BinaryAccuracy.
  const std::vector<float> p = {0.5f, 0.5f, 0.51f, 0.2f};
  const std::vector<float> y = {1, 0, 1, 1};
  MetricSet m;
  m.Update(p.data(), y.data(), nullptr, 4);
  EXPECT_DOUBLE_EQ(m.Results().at("accuracy"), 0.5);
}

TEST(MetricSet, RmseAndMaeForRegression) {
  const std::vector<float> p = {3, 1, 4};
  const std::vector<float> y = {1, 1, 5};
  MetricSet m(true);
  m.Update(p.data(), y.data(), nullptr, 3);
  auto r = m.Results();
  EXPECT_NEAR(r.at("rmse"), std::sqrt(5.0 / 3.0), 1e-12);
  EXPECT_NEAR(r.at("mae"), 1.0, 1e-12);
  EXPECT_NEAR(r.at("calibration"), (8.0 / 3.0) / (7.0 / 3.0), 1e-12);

  const std::vector<float> w = {1, 0, 3};
  MetricSet mw(true);
  mw.Update(p.data(), y.data(), w.data(), 3);
  r = mw.Results();
  EXPECT_NEAR(r.at("rmse"), std::sqrt((4.0 + 3.0) / 4.0), 1e-12);
  EXPECT_NEAR(r.at("mae"), (2.0 + 3.0) / 4.0, 1e-12);
}

TEST(MetricSet, LossIsWeightedMeanOfBatchLosses) {
  MetricSet m;
  m.UpdateLoss(0.5, 10);
  m.UpdateLoss(1.0, 30);
  EXPECT_DOUBLE_EQ(m.Results().at("loss"), (5.0 + 30.0) / 40.0);
}

TEST(MetricSet, EmptySetHasZeroExamplesAndUndefinedMeans) {
  const auto r = MetricSet(true).Results();
  EXPECT_DOUBLE_EQ(r.at("examples"), 0.0);
  for (const char* key : {"auc", "logloss", "accuracy", "ne", "calibration", "prediction_mean",
                          "label_mean", "loss", "rmse", "mae"}) {
    EXPECT_TRUE(std::isnan(r.at(key))) << key;
  }
}

TEST(MetricSet, MergeEqualsUpdatingOneSet) {
  const int64_t n = 200;
  Rng rng(7);
  std::vector<float> p(n), y(n), w(n);
  for (int64_t i = 0; i < n; ++i) {
    p[i] = rng.UniformFloat();
    y[i] = rng.UniformFloat() < p[i] ? 1.0f : 0.0f;
    w[i] = static_cast<float>(rng.UniformInt(3));
  }
  for (bool regression : {false, true}) {
    MetricSet whole(regression), a(regression), b(regression);
    whole.Update(p.data(), y.data(), w.data(), n);
    whole.UpdateLoss(0.3, 120);
    whole.UpdateLoss(0.7, 80);
    a.Update(p.data(), y.data(), w.data(), 120);
    a.UpdateLoss(0.3, 120);
    b.Update(p.data() + 120, y.data() + 120, w.data() + 120, n - 120);
    b.UpdateLoss(0.7, 80);
    a.Merge(b);
    const auto expected = whole.Results();
    const auto merged = a.Results();
    ASSERT_EQ(merged.size(), expected.size());
    for (const auto& [key, value] : expected) {
      ASSERT_FALSE(std::isnan(value)) << key;
      EXPECT_NEAR(merged.at(key), value, 1e-12) << key;
    }
  }
}

TEST(MetricSet, SerializedHalvesMergeToTheWholeSet) {
  const int64_t n = 100;
  Rng rng(11);
  std::vector<float> p(n), y(n), w(n);
  for (int64_t i = 0; i < n; ++i) {
    p[i] = rng.UniformFloat();
    y[i] = rng.UniformFloat() < p[i] ? 1.0f : 0.0f;
    w[i] = static_cast<float>(rng.UniformInt(3));
  }
  MetricSet whole, a, b;
  whole.Update(p.data(), y.data(), w.data(), n);
  whole.UpdateLoss(0.4, 100);
  a.Update(p.data(), y.data(), w.data(), 30);
  a.UpdateLoss(0.4, 30);
  b.Update(p.data() + 30, y.data() + 30, w.data() + 30, n - 30);
  b.UpdateLoss(0.4, 70);
  MetricSet merged = MetricSet::Deserialize(a.Serialize());
  merged.Merge(MetricSet::Deserialize(b.Serialize()));
  for (const auto& [key, value] : whole.Results()) {
    EXPECT_NEAR(merged.Results().at(key), value, 1e-12) << key;
  }
  const std::string bytes = a.Serialize();
  EXPECT_THROW(MetricSet::Deserialize(bytes.substr(0, bytes.size() - 1)), InvalidArgument);
  EXPECT_THROW(MetricSet::Deserialize(bytes + "x"), InvalidArgument);
}

TEST(MetricSet, MergeWithItselfDoublesTheCounts) {
  const std::vector<float> p = {0.2f, 0.7f};
  const std::vector<float> y = {0, 1};
  MetricSet m;
  m.Update(p.data(), y.data(), nullptr, 2);
  const auto before = m.Results();
  m.Merge(m);
  const auto after = m.Results();
  EXPECT_DOUBLE_EQ(after.at("examples"), 4.0);
  EXPECT_DOUBLE_EQ(after.at("auc"), before.at("auc"));
  EXPECT_DOUBLE_EQ(after.at("logloss"), before.at("logloss"));
}

TEST(MetricSet, MergeRejectsMismatchedKinds) {
  MetricSet classification(false);
  const MetricSet regression(true);
  EXPECT_THROW(classification.Merge(regression), InvalidArgument);
}

TEST(MetricSet, ResetClearsEverything) {
  const std::vector<float> p = {0.2f, 0.7f};
  const std::vector<float> y = {0, 1};
  MetricSet m;
  m.Update(p.data(), y.data(), nullptr, 2);
  m.UpdateLoss(1.0, 2.0);
  m.Reset();
  const auto r = m.Results();
  EXPECT_DOUBLE_EQ(r.at("examples"), 0.0);
  EXPECT_TRUE(std::isnan(r.at("auc")));
  EXPECT_TRUE(std::isnan(r.at("loss")));
  EXPECT_EQ(r.count("rmse"), 0u);
}

TEST(MetricSet, AfterResetMatchesAFreshSet) {
  // Labels outside [0, 1] before the reset must not affect what is reported after it.
  const std::vector<float> p = {0.2f, 0.7f, 0.4f};
  const std::vector<float> y = {0, 1, 1};
  const std::vector<float> big = {3, 5, 0};
  MetricSet reused;
  reused.Update(p.data(), big.data(), nullptr, 3);
  reused.UpdateLoss(4.0, 3.0);
  reused.Reset();
  reused.Update(p.data(), y.data(), nullptr, 3);
  MetricSet fresh;
  fresh.Update(p.data(), y.data(), nullptr, 3);
  const auto a = reused.Results();
  const auto b = fresh.Results();
  ASSERT_EQ(a.size(), b.size());
  for (const auto& [name, value] : b) {
    if (std::isnan(value)) {
      EXPECT_TRUE(std::isnan(a.at(name))) << name;
    } else {
      EXPECT_DOUBLE_EQ(a.at(name), value) << name;
    }
  }
}

TEST(MetricSet, RejectsInvalidInputAndRecordsNothing) {
  const float inf = std::numeric_limits<float>::infinity();
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const std::vector<float> p = {0.2f, 0.7f};
  const std::vector<float> y = {0, 1};
  MetricSet m;
  const std::vector<float> negative = {1, -1};
  const std::vector<float> nan_weight = {nan, 1};
  const std::vector<float> inf_weight = {1, inf};
  const std::vector<float> inf_label = {0, inf};
  const std::vector<float> nan_label = {nan, 1};
  EXPECT_THROW(m.Update(p.data(), y.data(), negative.data(), 2), InvalidArgument);
  EXPECT_THROW(m.Update(p.data(), y.data(), nan_weight.data(), 2), InvalidArgument);
  EXPECT_THROW(m.Update(p.data(), y.data(), inf_weight.data(), 2), InvalidArgument);
  EXPECT_THROW(m.Update(p.data(), inf_label.data(), nullptr, 2), InvalidArgument);
  EXPECT_THROW(m.Update(p.data(), nan_label.data(), nullptr, 2), InvalidArgument);
  EXPECT_THROW(m.Update(p.data(), y.data(), nullptr, -1), InvalidArgument);
  EXPECT_THROW(m.Update(nullptr, y.data(), nullptr, 2), InvalidArgument);
  EXPECT_THROW(m.Update(p.data(), nullptr, nullptr, 2), InvalidArgument);
  EXPECT_THROW(m.UpdateLoss(1.0, -2.0), InvalidArgument);
  EXPECT_THROW(m.UpdateLoss(1.0, std::numeric_limits<double>::infinity()), InvalidArgument);
  EXPECT_DOUBLE_EQ(m.Results().at("examples"), 0.0);
  EXPECT_TRUE(std::isnan(m.Results().at("label_mean")));
  // n == 0 with null pointers is a no-op.
  m.Update(nullptr, nullptr, nullptr, 0);
  EXPECT_DOUBLE_EQ(m.Results().at("examples"), 0.0);
}

TEST(MetricSet, NaNPredictionsPropagate) {
  const std::vector<float> p = {0.2f, std::numeric_limits<float>::quiet_NaN()};
  const std::vector<float> y = {0, 1};
  MetricSet m;
  m.Update(p.data(), y.data(), nullptr, 2);
  const auto r = m.Results();
  EXPECT_TRUE(std::isnan(r.at("auc")));
  EXPECT_TRUE(std::isnan(r.at("prediction_mean")));
}

TEST(MetricSet, RegressionOnRatingsReportsProbabilityMetricsAsNaN) {
  MetricSet m(/*regression=*/true);
  const float p[] = {3.5f, 4.0f, 2.0f};
  const float y[] = {4.0f, 4.5f, 1.5f};
  m.Update(p, y, nullptr, 3);
  const auto r = m.Results();
  EXPECT_TRUE(std::isnan(r.at("auc")));
  EXPECT_TRUE(std::isnan(r.at("logloss")));
  EXPECT_TRUE(std::isnan(r.at("accuracy")));
  EXPECT_TRUE(std::isnan(r.at("ne")));
  EXPECT_NEAR(r.at("rmse"), 0.5, 1e-6);
  EXPECT_NEAR(r.at("mae"), 0.5, 1e-6);
  // Labels in [0, 1] keep them.
  MetricSet clicks(/*regression=*/true);
  const float q[] = {0.2f, 0.9f};
  const float c[] = {0.0f, 1.0f};
  clicks.Update(q, c, nullptr, 2);
  EXPECT_DOUBLE_EQ(clicks.Results().at("auc"), 1.0);
}

}  // namespace
}  // namespace crank
