#ifndef CRANK_METRICS_METRIC_SET_H_
#define CRANK_METRICS_METRIC_SET_H_

// The evaluation metrics of a ranking model, accumulated over a stream of batches of
// (prediction p, label y, weight w) triples.
//
// Means follow the Keras metric convention, weighted by the sample weights:
// mean(x) = sum_i w_i x_i / sum_i w_i. Results() keys:
//   examples         number of examples seen (unweighted count, zero weights included)
//   auc              exact ROC AUC, ties counted half (see Auc; positives are y > 0.5)
//   logloss          mean of -(y log(q + eps) + (1 - y) log(1 - q + eps)), q = clip(p, eps,
//                    1 - eps), eps = 1e-7 (tf.keras.metrics.BinaryCrossentropy)
//   accuracy         mean of [(p > 0.5) == (y > 0.5)] (tf.keras.metrics.BinaryAccuracy)
//   ne               normalized entropy: logloss / H(q), H(q) = -(q log q + (1 - q) log(1 - q)),
//                    q = label_mean; NaN unless 0 < q < 1
//   calibration      prediction_mean / label_mean; NaN when label_mean is 0
//   prediction_mean  mean of p
//   label_mean       mean of y
//   loss             mean of the batch losses given to UpdateLoss (tf.keras.metrics.Mean)
//   rmse, mae        sqrt(mean (p - y)^2) and mean |p - y|; only when constructed with
//                    regression == true (the classification keys are reported as well when
//                    every label lies in [0, 1], and as NaN otherwise, e.g. for star ratings)
// A mean over zero total weight is NaN (undefined), as is AUC with one class only.
//
// Memory: constant, except the AUC, which stores 12 bytes per example with non-zero weight.
// Not thread-safe for concurrent mutation; const methods may run concurrently. Each worker
// may own a MetricSet and Merge() them at the end.

#include <cstdint>
#include <map>
#include <string>
#include <string_view>

#include "crank/metrics/auc.h"
#include "crank/metrics/weighted_mean.h"

namespace crank {

class MetricSet {
 public:
  explicit MetricSet(bool regression = false);

  // predictions (n), labels (n), weights (n) or nullptr for all ones; n >= 0.
  // Throws InvalidArgument for a non-finite label or a non-finite or negative weight
  // (nothing is recorded then). NaN predictions are accepted and make the results NaN.
  void Update(const float* predictions, const float* labels, const float* weights, int64_t n);
  // Records one batch loss with its weight (pass the batch size, as Keras' loss tracker does).
  // Throws InvalidArgument for a non-finite or negative weight.
  void UpdateLoss(double batch_loss, double weight);

  std::map<std::string, double> Results() const;
  void Reset();
  // Adds other's observations, as if its batches had been given to this set's Update().
  // Throws InvalidArgument when the two sets disagree on regression.
  void Merge(const MetricSet& other);

  bool regression() const { return regression_; }

  // Every observation, as bytes for another process of the same job (host byte order, not a
  // file format): Deserialize(Serialize()) merges to the same results. Exact AUC across ranks
  // comes from merging the ranks' sets. Deserialize throws InvalidArgument on malformed bytes.
  std::string Serialize() const;
  static MetricSet Deserialize(std::string_view bytes);

 private:
  bool regression_;
  int64_t examples_ = 0;
  bool labels_in_unit_interval_ = true;
  Auc auc_;
  WeightedMean logloss_;
  WeightedMean accuracy_;
  WeightedMean prediction_;
  WeightedMean label_;
  WeightedMean squared_error_;
  WeightedMean absolute_error_;
  WeightedMean loss_;
};

}  // namespace crank

#endif  // CRANK_METRICS_METRIC_SET_H_
