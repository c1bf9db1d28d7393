#ifndef CRANK_REPORT_REPORT_H_
#define CRANK_REPORT_REPORT_H_

// The model report (`crank report`, docs/report.md): one self-contained HTML page about a model
// evaluated on a labelled data set. Sections (each an <h2>, in this order):
//   Metrics               the evaluation metrics (and the training state) as a table
//   Training history      the model's stored evaluations (train/history) against the step
//   ROC curve             classification only, with its area
//   Precision-recall curve  classification only, with its average precision
//   Calibration           classification only: mean prediction vs observed rate per bin, with
//                         counts (plot and table)
//   Predicted vs actual   regression only (points, at most 2000 drawn)
//   Residual histogram    regression only
//   Prediction histogram
// Plots are inline SVG (report/svg.h); the page has no scripts and loads nothing. Every string
// from the input (paths, metric names, history keys) is escaped.

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace crank {

struct ReportInput {
  std::string model_path, data_path;      // shown in the title
  bool regression = false;                // an MSE (rating) model: no ROC, PR or calibration
  std::map<std::string, double> metrics;  // Evaluate()'s keys (metrics/metric_set.h)
  // The checkpoint's train/history: a JSON array of {"epoch", "step", "metrics": {...}}.
  std::string history_json = "[]";
  int64_t steps = 0, epochs = 0, train_examples = 0;  // the model's training state
  // One entry per evaluated example, in data order: predictions (N), labels (N), weights (N)
  // or empty for all ones.
  std::vector<float> predictions, labels, weights;
  int64_t rows_skipped = 0;  // malformed rows the reader skipped
};

// The page. Throws InvalidArgument when predictions and labels (or non-empty weights) differ in
// length. A history that is not a JSON array of evaluations is reported on the page, not thrown.
std::string RenderReportHtml(const ReportInput& input);

// The <h2> section titles RenderReportHtml writes for a classification or regression model.
std::vector<std::string> ReportSectionTitles(bool regression);

}  // namespace crank

#endif  // CRANK_REPORT_REPORT_H_
