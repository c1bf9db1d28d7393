#include "crank/report/report.h"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "crank/base/error.h"
#include "crank/base/rng.h"
#include "crank/metrics/curves.h"
#include "markup_check.h"

namespace crank {
namespace {

using ::crank::testing::MarkupProblem;

ReportInput Classification(int n = 500) {
  ReportInput in;
  in.model_path = "models/m.crank";
  in.data_path = "data/eval.tsv";
  Rng rng(3);
  for (int i = 0; i < n; ++i) {
    const float p = rng.UniformFloat();
    in.predictions.push_back(p);
    in.labels.push_back(rng.UniformFloat() < p ? 1.0f : 0.0f);
  }
  in.metrics = {
      {"examples", static_cast<double>(n)}, {"auc", 0.75}, {"logloss", 0.5}, {"accuracy", 0.7}};
  in.history_json = R"([{"epoch":0,"step":10,"metrics":{"auc":0.6,"logloss":0.6,"examples":500}},)"
                    R"({"epoch":1,"step":20,"metrics":{"auc":0.7,"logloss":0.55,"examples":500}}])";
  in.steps = 20;
  in.epochs = 2;
  return in;
}

bool Has(const std::string& s, const std::string& what) {
  return s.find(what) != std::string::npos;
}

TEST(Report, ClassificationPageHasEverySectionAndIsWellFormed) {
  const ReportInput in = Classification();
  const std::string page = RenderReportHtml(in);
  EXPECT_EQ(MarkupProblem(page), "");
  for (const std::string& t : ReportSectionTitles(false)) {
    EXPECT_TRUE(Has(page, "<h2 id=")) << t;
    EXPECT_TRUE(Has(page, ">" + t + "</h2>")) << t;
  }
  EXPECT_TRUE(Has(page, "<title>crank report: models/m.crank on data/eval.tsv</title>"));
  EXPECT_FALSE(Has(page, "Residual histogram"));
  EXPECT_FALSE(Has(page, "<script"));
  EXPECT_FALSE(Has(page, "http://") && Has(page, "href="));  // nothing loaded from anywhere
  EXPECT_FALSE(Has(page, "src="));
  // Two history plots (loss, AUC) with two evaluations each.
  EXPECT_TRUE(Has(page, "Evaluation loss by step"));
  EXPECT_TRUE(Has(page, "Evaluation AUC and accuracy by step"));
  // The ROC area in the legend is the one of the curve, which equals the metrics' AUC.
  const RocCurve roc = ComputeRocCurve(in.predictions.data(), in.labels.data(), nullptr,
                                       static_cast<int64_t>(in.predictions.size()));
  EXPECT_TRUE(Has(page, fmt::format("model (area {:.4f})", roc.area))) << roc.area;
  EXPECT_TRUE(Has(page, ">average_precision</td>"));
  EXPECT_TRUE(Has(page, ">0.75</td>"));  // the auc given in the metrics
}

TEST(Report, EscapesPathsAndHistoryKeys) {
  ReportInput in = Classification(50);
  in.model_path = "<img src=x onerror=alert(1)>.crank";
  in.data_path = "a&b\"c'.tsv";
  in.metrics["<b>odd</b>"] = 1.0;
  in.history_json = R"([{"step":1,"metrics":{"<script>":1}}])";
  const std::string page = RenderReportHtml(in);
  EXPECT_EQ(MarkupProblem(page), "");
  EXPECT_FALSE(Has(page, "<img"));
  EXPECT_FALSE(Has(page, "<script"));
  EXPECT_FALSE(Has(page, "<b>"));
  EXPECT_TRUE(Has(page, "&lt;img src=x onerror=alert(1)&gt;.crank"));
  EXPECT_TRUE(Has(page, "a&amp;b&quot;c&#39;.tsv"));
}

TEST(Report, RegressionPageSkipsRocAndSaysSo) {
  ReportInput in;
  in.model_path = "r.crank";
  in.data_path = "ratings.csv";
  in.regression = true;
  Rng rng(5);
  for (int i = 0; i < 3000; ++i) {
    const float y = 1.0f + static_cast<float>(rng.UniformInt(5));
    in.labels.push_back(y);
    in.predictions.push_back(y + rng.UniformFloat() - 0.5f);
  }
  const double nan = std::numeric_limits<double>::quiet_NaN();
  in.metrics = {{"examples", 3000}, {"rmse", 0.29}, {"mae", 0.25}, {"auc", nan}, {"ne", nan}};
  in.history_json = R"([{"epoch":0,"step":5,"metrics":{"rmse":0.3,"loss":0.09}}])";
  const std::string page = RenderReportHtml(in);
  EXPECT_EQ(MarkupProblem(page), "");
  for (const std::string& t : ReportSectionTitles(true)) {
    EXPECT_TRUE(Has(page, ">" + t + "</h2>")) << t;
  }
  EXPECT_FALSE(Has(page, ">ROC curve</h2>"));
  EXPECT_FALSE(Has(page, ">Calibration</h2>"));
  EXPECT_TRUE(Has(page, "ROC, precision-recall and calibration plots apply to click"));
  EXPECT_TRUE(Has(page, "One example in 2 is drawn (1500 of 3000)"));
  EXPECT_TRUE(Has(page, ">rmse</td>"));
  EXPECT_FALSE(Has(page, ">auc</td>"));  // NaN for star ratings: left out of the table
  EXPECT_FALSE(Has(page, ">ne</td>"));
}

TEST(Report, NoHistoryOrBrokenHistoryIsExplainedOnThePage) {
  ReportInput in = Classification(50);
  in.history_json = "[]";
  EXPECT_TRUE(Has(RenderReportHtml(in), "trained without evaluation data"));
  in.history_json = "{not json";
  const std::string page = RenderReportHtml(in);
  EXPECT_TRUE(Has(page, "The stored history (train/history) is not JSON"));
  EXPECT_EQ(MarkupProblem(page), "");
}

TEST(Report, OneClassAndNonFinitePredictionsAreExplained) {
  ReportInput in = Classification(20);
  for (float& y : in.labels) y = 0.0f;
  in.predictions[3] = std::numeric_limits<float>::quiet_NaN();
  const std::string page = RenderReportHtml(in);
  EXPECT_EQ(MarkupProblem(page), "");
  EXPECT_TRUE(Has(page, "one class only: the ROC curve is undefined"));
  EXPECT_TRUE(Has(page, "no positive examples"));
  EXPECT_TRUE(Has(page, "1 of 20 predictions are not finite"));
}

TEST(Report, MismatchedLengthsAreRejected) {
  ReportInput in = Classification(10);
  in.labels.pop_back();
  EXPECT_THROW(RenderReportHtml(in), InvalidArgument);
  in = Classification(10);
  in.weights = {1.0f};
  EXPECT_THROW(RenderReportHtml(in), InvalidArgument);
}

}  // namespace
}  // namespace crank
