#include "crank/metrics/curves.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <vector>

#include "crank/base/error.h"
#include "crank/base/rng.h"
#include "crank/metrics/auc.h"

namespace crank {
namespace {

int64_t Size(const std::vector<float>& v) { return static_cast<int64_t>(v.size()); }

TEST(Curves, RocPointsMatchHandCountWithTie) {
  // Negatives 0.1, 0.4; positives 0.4, 0.8, 0.3, 0.9 (the tied case of Auc's test).
  const std::vector<float> p = {0.1f, 0.4f, 0.4f, 0.8f, 0.3f, 0.9f};
  const std::vector<float> y = {0, 1, 0, 1, 1, 1};
  const RocCurve c = ComputeRocCurve(p.data(), y.data(), nullptr, Size(p));
  // Groups from the top: 0.9 (+), 0.8 (+), 0.4 (+ and -), 0.3 (+), 0.1 (-).
  const std::vector<double> fpr = {0, 0, 0, 0.5, 0.5, 1};
  const std::vector<double> tpr = {0, 0.25, 0.5, 0.75, 1, 1};
  ASSERT_EQ(c.fpr.size(), fpr.size());
  for (size_t i = 0; i < fpr.size(); ++i) {
    EXPECT_DOUBLE_EQ(c.fpr[i], fpr[i]) << i;
    EXPECT_DOUBLE_EQ(c.tpr[i], tpr[i]) << i;
  }
  EXPECT_EQ(c.thresholds.size(), 5u);
  EXPECT_FLOAT_EQ(static_cast<float>(c.thresholds[2]), 0.4f);
  EXPECT_DOUBLE_EQ(c.area, 6.5 / 8.0);
}

TEST(Curves, RocAreaEqualsMetricsAucOnWeightedRandomData) {
  Rng rng(7);
  std::vector<float> p, y, w;
  for (int i = 0; i < 2000; ++i) {
    // Coarse predictions so that many ties occur; a few zero weights.
    p.push_back(std::floor(rng.UniformFloat() * 20.0f) / 20.0f);
    y.push_back(rng.UniformFloat() < 0.3f + 0.4f * p.back() ? 1.0f : 0.0f);
    w.push_back(i % 17 == 0 ? 0.0f : 0.5f + rng.UniformFloat());
  }
  Auc auc;
  auc.Update(p.data(), y.data(), w.data(), Size(p));
  const RocCurve c = ComputeRocCurve(p.data(), y.data(), w.data(), Size(p));
  EXPECT_NEAR(c.area, auc.Result(), 1e-9);
  EXPECT_DOUBLE_EQ(c.fpr.back(), 1.0);
  EXPECT_DOUBLE_EQ(c.tpr.back(), 1.0);
  EXPECT_LE(c.fpr.size(), 22u);  // at most 21 distinct predictions plus (0, 0)
}

TEST(Curves, RocWithOneClassHasNaNArea) {
  const std::vector<float> p = {0.2f, 0.7f}, y = {1, 1};
  const RocCurve c = ComputeRocCurve(p.data(), y.data(), nullptr, Size(p));
  EXPECT_TRUE(std::isnan(c.area));
  EXPECT_TRUE(std::isnan(ComputeRocCurve(nullptr, nullptr, nullptr, 0).area));
}

TEST(Curves, PrecisionRecallMatchesHandCount) {
  // Classic: negatives 0.1, 0.4; positives 0.35, 0.8.
  const std::vector<float> p = {0.1f, 0.4f, 0.35f, 0.8f}, y = {0, 0, 1, 1};
  const PrecisionRecallCurve c = ComputePrecisionRecallCurve(p.data(), y.data(), nullptr, Size(p));
  const std::vector<double> recall = {0.5, 0.5, 1, 1};
  const std::vector<double> precision = {1, 0.5, 2.0 / 3.0, 0.5};
  ASSERT_EQ(c.recall.size(), recall.size());
  for (size_t i = 0; i < recall.size(); ++i) {
    EXPECT_DOUBLE_EQ(c.recall[i], recall[i]) << i;
    EXPECT_DOUBLE_EQ(c.precision[i], precision[i]) << i;
  }
  // scikit-learn: average_precision_score([0,0,1,1], [0.1,0.4,0.35,0.8]) = 0.8333...
  EXPECT_NEAR(c.average_precision, 0.5 * 1.0 + 0.5 * (2.0 / 3.0), 1e-12);
}

TEST(Curves, NonFinitePredictionsAreLeftOutAndCounted) {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const std::vector<float> p = {0.9f, nan, 0.1f}, y = {1, 1, 0};
  EXPECT_EQ(CountNonFinite(p.data(), Size(p)), 1);
  EXPECT_DOUBLE_EQ(ComputeRocCurve(p.data(), y.data(), nullptr, Size(p)).area, 1.0);
  const Histogram h = ComputeHistogram(p.data(), Size(p), 2, 0.0, 1.0);
  EXPECT_EQ(h.counts, (std::vector<int64_t>{1, 1}));
}

TEST(Curves, CalibrationBinsAreWeightedMeans) {
  const std::vector<float> p = {0.05f, 0.15f, 0.95f, 1.0f, 0.9f};
  const std::vector<float> y = {0, 1, 1, 1, 0};
  const std::vector<float> w = {1, 3, 1, 1, 2};
  const std::vector<CalibrationBin> b =
      ComputeCalibrationBins(p.data(), y.data(), w.data(), Size(p), 2);
  ASSERT_EQ(b.size(), 2u);
  EXPECT_EQ(b[0].count, 2);
  EXPECT_DOUBLE_EQ(b[0].weight, 4);
  EXPECT_NEAR(b[0].mean_prediction, (0.05 + 3 * 0.15) / 4, 1e-7);
  EXPECT_DOUBLE_EQ(b[0].observed_rate, 0.75);
  EXPECT_EQ(b[1].count, 3);  // 1.0 falls in the last bin
  EXPECT_DOUBLE_EQ(b[1].observed_rate, 0.5);
  EXPECT_DOUBLE_EQ(b[1].upper, 1.0);
  const std::vector<CalibrationBin> empty =
      ComputeCalibrationBins(p.data(), y.data(), nullptr, 0, 3);
  EXPECT_EQ(empty[1].count, 0);
  EXPECT_TRUE(std::isnan(empty[1].mean_prediction));
  EXPECT_THROW(ComputeCalibrationBins(p.data(), y.data(), nullptr, Size(p), 0), InvalidArgument);
}

TEST(Curves, HistogramClampsAndRejectsBadRange) {
  const std::vector<float> v = {-3.0f, 0.0f, 0.49f, 0.5f, 1.0f, 7.0f};
  const Histogram h = ComputeHistogram(v.data(), Size(v), 2, 0.0, 1.0);
  EXPECT_EQ(h.counts, (std::vector<int64_t>{3, 3}));
  EXPECT_THROW(ComputeHistogram(v.data(), Size(v), 2, 1.0, 1.0), InvalidArgument);
  EXPECT_THROW(ComputeHistogram(v.data(), Size(v), 0, 0.0, 1.0), InvalidArgument);
}

}  // namespace
}  // namespace crank
