#include "crank/report/report.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <iterator>
#include <limits>
#include <nlohmann/json.hpp>
#include <utility>

#include "crank/base/error.h"
#include "crank/metrics/curves.h"
#include "crank/report/svg.h"

namespace crank {
namespace {

using Json = nlohmann::json;
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr size_t kMaxCurvePoints = 1000;
constexpr size_t kMaxScatterPoints = 2000;
constexpr int kHistogramBins = 40;
constexpr int kCalibrationBins = 10;

constexpr const char* kStyle =
    "body{font-family:sans-serif;margin:24px auto;max-width:1180px;color:#222;background:#fff}"
    "h1{font-size:24px;margin-bottom:4px}h2{font-size:18px;margin-top:28px;"
    "border-bottom:1px solid #ccc;padding-bottom:4px}"
    "table{border-collapse:collapse;font-size:13px}td,th{border:1px solid #ccc;"
    "padding:3px 8px;text-align:right}th{background:#f0f0f0}td.k,th.k{text-align:left}"
    "p.note{color:#555;font-size:13px}code{background:#f4f4f4;padding:1px 4px}"
    ".plots{display:flex;flex-wrap:wrap;gap:16px;align-items:flex-start}";

std::string Value(double v, const std::string& key) {
  if (!std::isfinite(v)) return "n/a";
  if (key == "examples") return fmt::format("{}", static_cast<int64_t>(v));
  return fmt::format("{:.6g}", v);
}

void Note(std::string* page, const std::string& text) {
  *page += "<p class=\"note\">" + EscapeHtml(text) + "</p>\n";
}

void Section(std::string* page, const std::string& id, const std::string& title) {
  *page += "<h2 id=\"" + id + "\">" + EscapeHtml(title) + "</h2>\n";
}

// The metric keys in the order the table shows them, with what they mean.
const std::vector<std::pair<std::string, std::string>>& KnownMetrics() {
  static const auto* kKnown = new std::vector<std::pair<std::string, std::string>>{
      {"examples", "examples evaluated"},
      {"auc", "area under the ROC curve (ties count half)"},
      {"average_precision", "average precision (area under the precision-recall curve)"},
      {"logloss", "binary cross-entropy"},
      {"accuracy", "share of examples with (prediction > 0.5) == (label > 0.5)"},
      {"ne", "normalized entropy: logloss / entropy of the label mean"},
      {"calibration", "mean prediction / mean label"},
      {"rmse", "root mean squared error"},
      {"mae", "mean absolute error"},
      {"prediction_mean", "mean prediction"},
      {"label_mean", "mean label"},
      {"loss", "mean of the batch losses (the training objective)"},
  };
  return *kKnown;
}

void MetricsTable(std::string* page, const ReportInput& in, double average_precision) {
  std::map<std::string, double> m = in.metrics;
  if (!in.regression) m["average_precision"] = average_precision;
  // A regression model reports the classification keys as NaN when its labels leave [0, 1]
  // (metrics/metric_set.h): they mean nothing there and are left out.
  for (const char* key : {"auc", "logloss", "accuracy", "ne"}) {
    const auto it = m.find(key);
    if (in.regression && it != m.end() && !std::isfinite(it->second)) m.erase(it);
  }
  *page +=
      "<table>\n<tr><th class=\"k\">metric</th><th>value</th><th class=\"k\">meaning</th></tr>\n";
  const auto row = [&](const std::string& key, double v, const std::string& meaning) {
    *page += fmt::format("<tr><td class=\"k\">{}</td><td>{}</td><td class=\"k\">{}</td></tr>\n",
                         EscapeHtml(key), EscapeHtml(Value(v, key)), EscapeHtml(meaning));
  };
  for (const auto& [key, meaning] : KnownMetrics()) {
    const auto it = m.find(key);
    if (it == m.end()) continue;
    row(key, it->second, meaning);
    m.erase(it);
  }
  for (const auto& [key, v] : m) row(key, v, "");
  *page += "</table>\n";
  Note(page, fmt::format("The model was trained for {} steps on {} examples; epochs completed: {}.",
                         in.steps, in.train_examples, in.epochs));
  if (in.rows_skipped > 0) {
    Note(page, fmt::format("{} malformed rows of the data were skipped.", in.rows_skipped));
  }
}

void HistorySection(std::string* page, const ReportInput& in) {
  Section(page, "history", "Training history");
  Json history;
  try {
    history = Json::parse(in.history_json.empty() ? "[]" : in.history_json);
  } catch (const Json::exception& e) {
    Note(page, fmt::format("The stored history (train/history) is not JSON: {}", e.what()));
    return;
  }
  if (!history.is_array()) {
    Note(page, "The stored history (train/history) is not a JSON array; nothing to plot.");
    return;
  }
  // key -> (step, value) of every evaluation that has it.
  std::map<std::string, std::pair<std::vector<double>, std::vector<double>>> curves;
  int64_t evaluations = 0;
  for (size_t i = 0; i < history.size(); ++i) {
    const Json& h = history[i];
    if (!h.is_object() || !h.contains("metrics") || !h["metrics"].is_object()) continue;
    ++evaluations;
    const double step = h.contains("step") && h["step"].is_number() ? h["step"].get<double>()
                                                                    : static_cast<double>(i);
    for (const auto& [key, v] : h["metrics"].items()) {
      if (key == "examples") continue;
      auto& c = curves[key];
      c.first.push_back(step);
      c.second.push_back(v.is_number() ? v.get<double>() : kNaN);
    }
  }
  if (evaluations == 0) {
    Note(page,
         "The model has no stored evaluations: it was trained without evaluation data "
         "(crank train --eval), so there are no training curves.");
    return;
  }
  Note(page, fmt::format("{} evaluations stored with the model, by training step.", evaluations));
  const auto plot = [&](const std::string& title, const std::string& y_label,
                        const std::vector<std::string>& keys) {
    std::vector<PlotSeries> series;
    for (const std::string& k : keys) {
      const auto it = curves.find(k);
      if (it == curves.end()) continue;
      PlotSeries s;
      s.name = k;
      s.x = it->second.first;
      s.y = it->second.second;
      if (s.x.size() < 2) s.style = PlotSeries::Style::kPoints;
      series.push_back(std::move(s));
    }
    if (series.empty()) return;
    PlotOptions o;
    o.title = title;
    o.x_label = "training step";
    o.y_label = y_label;
    *page += SvgXyPlot(o, series);
  };
  *page += "<div class=\"plots\">\n";
  if (in.regression) {
    plot("Evaluation loss and errors by step", "loss / error", {"loss", "rmse", "mae"});
  } else {
    plot("Evaluation loss by step", "loss", {"loss", "logloss"});
    plot("Evaluation AUC and accuracy by step", "value", {"auc", "accuracy"});
  }
  *page += "</div>\n";
}

void ClassificationSections(std::string* page, const ReportInput& in, const float* w,
                            const RocCurve& roc, const PrecisionRecallCurve& pr) {
  const int64_t n = static_cast<int64_t>(in.predictions.size());
  const float* p = in.predictions.data();
  const float* y = in.labels.data();

  Section(page, "roc", "ROC curve");
  if (std::isnan(roc.area)) {
    Note(page, "The data has examples of one class only: the ROC curve is undefined.");
  } else {
    PlotSeries s;
    s.name = fmt::format("model (area {:.4f})", roc.area);
    s.x = roc.fpr;
    s.y = roc.tpr;
    ThinPoints(&s.x, &s.y, kMaxCurvePoints);
    PlotOptions o;
    o.title = "ROC curve";
    o.x_label = "false positive rate";
    o.y_label = "true positive rate";
    o.x_min = o.y_min = 0.0;
    o.x_max = o.y_max = 1.0;
    o.diagonal = true;
    *page += SvgXyPlot(o, {s});
  }

  Section(page, "pr", "Precision-recall curve");
  if (std::isnan(pr.average_precision)) {
    Note(page, "The data has no positive examples: the precision-recall curve is undefined.");
  } else {
    PlotSeries s;
    s.name = fmt::format("model (average precision {:.4f})", pr.average_precision);
    s.x = pr.recall;
    s.y = pr.precision;
    ThinPoints(&s.x, &s.y, kMaxCurvePoints);
    PlotSeries base;
    const double rate = pr.thresholds.empty() ? kNaN : pr.precision.back();  // all called positive
    base.name = fmt::format("positive rate {:.4f}", rate);
    base.x = {0.0, 1.0};
    base.y = {rate, rate};
    PlotOptions o;
    o.title = "Precision-recall curve";
    o.x_label = "recall";
    o.y_label = "precision";
    o.x_min = o.y_min = 0.0;
    o.x_max = o.y_max = 1.0;
    *page += SvgXyPlot(o, {s, base});
  }

  Section(page, "calibration", "Calibration");
  const std::vector<CalibrationBin> bins = ComputeCalibrationBins(p, y, w, n, kCalibrationBins);
  PlotSeries s;
  s.name = "mean label per prediction bin";
  s.style = PlotSeries::Style::kPoints;
  std::string table =
      "<table>\n<tr><th>bin</th><th>examples</th><th>weight</th><th>mean prediction</th>"
      "<th>observed rate</th></tr>\n";
  for (const CalibrationBin& b : bins) {
    const std::string range =
        fmt::format("[{:.1f}, {:.1f}{}", b.lower, b.upper, b.upper >= 1.0 ? "]" : ")");
    table += fmt::format("<tr><td>{}</td><td>{}</td><td>{:.6g}</td><td>{}</td><td>{}</td></tr>\n",
                         EscapeHtml(range), b.count, b.weight, Value(b.mean_prediction, ""),
                         Value(b.observed_rate, ""));
    if (b.count == 0) continue;
    s.x.push_back(b.mean_prediction);
    s.y.push_back(b.observed_rate);
    s.point_titles.push_back(fmt::format("{}: {} examples, mean prediction {:.4f}, observed {:.4f}",
                                         range, b.count, b.mean_prediction, b.observed_rate));
  }
  table += "</table>\n";
  PlotOptions o;
  o.title = "Calibration (reliability)";
  o.x_label = "mean prediction in bin";
  o.y_label = "observed rate (mean label)";
  o.x_min = o.y_min = 0.0;
  o.x_max = o.y_max = 1.0;
  o.diagonal = true;
  *page += "<div class=\"plots\">\n" + SvgXyPlot(o, {s}) + table + "</div>\n";
  Note(page, "Points on the dashed diagonal are calibrated: predictions match observed rates.");
}

void RegressionSections(std::string* page, const ReportInput& in) {
  const size_t n = in.predictions.size();
  Note(page,
       "This is a regression (mean squared error) model: ROC, precision-recall and calibration "
       "plots apply to click (0/1) labels and are left out.");
  Section(page, "scatter", "Predicted vs actual");
  PlotSeries s;
  s.name = "examples";
  s.style = PlotSeries::Style::kPoints;
  const size_t stride = std::max<size_t>(1, (n + kMaxScatterPoints - 1) / kMaxScatterPoints);
  for (size_t i = 0; i < n; i += stride) {
    s.x.push_back(in.labels[i]);
    s.y.push_back(in.predictions[i]);
  }
  double lo = std::numeric_limits<double>::infinity(), hi = -lo;
  for (const std::vector<double>* v : {&s.x, &s.y}) {
    for (double x : *v) {
      if (!std::isfinite(x)) continue;
      lo = std::min(lo, x);
      hi = std::max(hi, x);
    }
  }
  PlotOptions o;
  o.title = "Predicted vs actual";
  o.x_label = "actual (label)";
  o.y_label = "prediction";
  if (lo < hi) {
    o.x_min = o.y_min = lo;
    o.x_max = o.y_max = hi;
  }
  o.diagonal = true;
  *page += SvgXyPlot(o, {s});
  if (stride > 1)
    Note(page, fmt::format("One example in {} is drawn ({} of {}).", stride, s.x.size(), n));

  Section(page, "residuals", "Residual histogram");
  std::vector<float> residuals(n);
  for (size_t i = 0; i < n; ++i) residuals[i] = in.predictions[i] - in.labels[i];
  const auto [rmin, rmax] = [&] {
    double a = std::numeric_limits<double>::infinity(), b = -a;
    for (float r : residuals) {
      if (!std::isfinite(r)) continue;
      a = std::min<double>(a, r);
      b = std::max<double>(b, r);
    }
    if (!(a < b))
      return std::pair<double, double>(std::isfinite(a) ? a - 0.5 : -0.5,
                                       std::isfinite(a) ? a + 0.5 : 0.5);
    return std::pair<double, double>(a, b);
  }();
  const Histogram h =
      ComputeHistogram(residuals.data(), static_cast<int64_t>(n), kHistogramBins, rmin, rmax);
  PlotOptions ho;
  ho.title = "Residual histogram";
  ho.x_label = "prediction - label";
  ho.y_label = "examples";
  *page += SvgHistogram(ho, h.lower, h.upper, h.counts);
}

void PredictionHistogram(std::string* page, const ReportInput& in) {
  Section(page, "histogram", "Prediction histogram");
  const int64_t n = static_cast<int64_t>(in.predictions.size());
  double lo = 0.0, hi = 1.0;
  if (in.regression) {
    double a = std::numeric_limits<double>::infinity(), b = -a;
    for (float p : in.predictions) {
      if (!std::isfinite(p)) continue;
      a = std::min<double>(a, p);
      b = std::max<double>(b, p);
    }
    if (a < b) {
      lo = a;
      hi = b;
    } else if (std::isfinite(a)) {
      lo = a - 0.5;
      hi = a + 0.5;
    }
  }
  const Histogram h = ComputeHistogram(in.predictions.data(), n, kHistogramBins, lo, hi);
  PlotOptions o;
  o.title = "Prediction histogram";
  o.x_label = "prediction";
  o.y_label = "examples";
  *page += SvgHistogram(o, h.lower, h.upper, h.counts);
}

}  // namespace

std::vector<std::string> ReportSectionTitles(bool regression) {
  if (regression) {
    return {"Metrics", "Training history", "Predicted vs actual", "Residual histogram",
            "Prediction histogram"};
  }
  return {"Metrics",     "Training history",    "ROC curve", "Precision-recall curve",
          "Calibration", "Prediction histogram"};
}

std::string RenderReportHtml(const ReportInput& in) {
  const size_t n = in.predictions.size();
  if (in.labels.size() != n || (!in.weights.empty() && in.weights.size() != n)) {
    throw InvalidArgument(fmt::format(
        "report: predictions ({}), labels ({}) and weights ({}) must have the same length", n,
        in.labels.size(), in.weights.size()));
  }
  const int64_t count = static_cast<int64_t>(n);
  const float* w = in.weights.empty() ? nullptr : in.weights.data();
  RocCurve roc;
  PrecisionRecallCurve pr;
  if (!in.regression) {
    roc = ComputeRocCurve(in.predictions.data(), in.labels.data(), w, count);
    pr = ComputePrecisionRecallCurve(in.predictions.data(), in.labels.data(), w, count);
  }
  const std::string title = fmt::format("crank report: {} on {}", in.model_path, in.data_path);
  std::string page;
  page += "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n";
  page += "<title>" + EscapeHtml(title) + "</title>\n<style>" + kStyle + "</style>\n</head>\n";
  page += "<body>\n<h1>Model report</h1>\n";
  page +=
      "<p>Model <code>" + EscapeHtml(in.model_path) + "</code> evaluated on <code>" +
      EscapeHtml(in.data_path) + "</code> (" +
      (in.regression ? "regression, mean squared error" : "classification, binary cross-entropy") +
      ").</p>\n";
  Section(&page, "metrics", "Metrics");
  MetricsTable(&page, in, pr.average_precision);
  const int64_t non_finite = CountNonFinite(in.predictions.data(), count);
  if (non_finite > 0) {
    Note(&page, fmt::format("{} of {} predictions are not finite and are left out of the plots.",
                            non_finite, n));
  }
  HistorySection(&page, in);
  if (in.regression) {
    RegressionSections(&page, in);
  } else {
    ClassificationSections(&page, in, w, roc, pr);
  }
  PredictionHistogram(&page, in);
  page += "</body>\n</html>\n";
  return page;
}

}  // namespace crank
