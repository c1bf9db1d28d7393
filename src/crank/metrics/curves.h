#ifndef CRANK_METRICS_CURVES_H_
#define CRANK_METRICS_CURVES_H_

// The curves behind the scalar metrics of metric_set.h, for plots: ROC and precision-recall
// curves, reliability (calibration) bins and histograms of (prediction p, label y, weight w)
// triples held in memory.
//
// Conventions are those of Auc and MetricSet: an example is positive when y > 0.5, each example
// counts with its sample weight, and examples with zero weight are left out. Tied predictions
// form one threshold group: the curves have one point per distinct prediction, so the
// trapezoid area under RocCurve equals Auc::Result() (ties counted half).
//
// Inputs: predictions (n), labels (n), weights (n) or nullptr for all ones. The caller
// guarantees finite labels and finite non-negative weights (MetricSet::Update checks them).
// Non-finite predictions are left out of every curve and bin and counted by CountNonFinite.
// All functions are pure (no state, thread-safe).

#include <cstdint>
#include <vector>

namespace crank {

// One point per threshold group, from the highest prediction down: the examples with
// prediction >= threshold are called positive.
struct CurvePoint {
  double threshold = 0;   // the group's prediction
  double tp = 0, fp = 0;  // positive and negative weight at or above the threshold
};

struct RocCurve {
  // x = false positive rate, y = true positive rate; starts at (0, 0), ends at (1, 1).
  std::vector<double> fpr, tpr;
  std::vector<double> thresholds;  // per point after the first (thresholds.size() + 1 points)
  double area = 0;                 // trapezoid area; NaN when either class has no weight
};
RocCurve ComputeRocCurve(const float* predictions, const float* labels, const float* weights,
                         int64_t n);

struct PrecisionRecallCurve {
  // One point per threshold group (no artificial first point): recall rises, precision is
  // tp / (tp + fp) at that threshold.
  std::vector<double> recall, precision, thresholds;
  // sum_k (recall_k - recall_{k-1}) precision_k (scikit-learn's average_precision_score);
  // NaN when there is no positive weight.
  double average_precision = 0;
};
PrecisionRecallCurve ComputePrecisionRecallCurve(const float* predictions, const float* labels,
                                                 const float* weights, int64_t n);

// Reliability bins: `bins` equal-width bins over [0, 1] (a prediction of exactly 1 falls in the
// last; predictions outside [0, 1] are clamped into the first or last bin).
struct CalibrationBin {
  double lower = 0, upper = 0;
  int64_t count = 0;           // examples in the bin (zero weights excluded)
  double weight = 0;           // their total weight
  double mean_prediction = 0;  // weighted means; NaN for an empty bin
  double observed_rate = 0;    // weighted mean of the labels
};
std::vector<CalibrationBin> ComputeCalibrationBins(const float* predictions, const float* labels,
                                                   const float* weights, int64_t n, int bins);

// Unweighted counts of `values` in `bins` equal-width bins over [lower, upper] (upper included in
// the last bin; values outside are clamped into the first or last). bins >= 1, lower < upper.
struct Histogram {
  double lower = 0, upper = 1;
  std::vector<int64_t> counts;
};
Histogram ComputeHistogram(const float* values, int64_t n, int bins, double lower, double upper);

// Number of non-finite values among values (n).
int64_t CountNonFinite(const float* values, int64_t n);

}  // namespace crank

#endif  // CRANK_METRICS_CURVES_H_
