#ifndef CRANK_METRICS_AUC_H_
#define CRANK_METRICS_AUC_H_

// Exact, weighted area under the ROC curve, accumulated over a stream of batches.
//
// AUC = P(score of a random positive > score of a random negative), with ties counted half,
// each example weighted by its sample weight:
//
//   AUC = sum_{i pos, j neg} w_i w_j ([p_i > p_j] + 0.5 [p_i == p_j]) / (W_pos W_neg)
//
// An example is positive when its label is > 0.5 (the threshold of binary accuracy). Unlike
// tf.keras.metrics.AUC, which interpolates over 200 thresholds, the result is exact: Update()
// stores every (prediction, weight, positive) triple and Result() sorts a copy of them
// (O(N log N)). Memory: 12 bytes per stored example, plus a temporary copy of the same size
// during Result(); 10M examples hold 120 MB. Examples with zero weight are not stored.
//
// Result() is NaN when the total positive or negative weight is zero (one class only, or
// nothing seen) and when any stored prediction is NaN.
// Not thread-safe for concurrent mutation; const methods may run concurrently.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace crank {

class Auc {
 public:
  // predictions (n), labels (n), weights (n) or nullptr for all ones. The caller guarantees
  // finite labels and finite non-negative weights (MetricSet::Update checks them).
  void Update(const float* predictions, const float* labels, const float* weights, int64_t n);
  void Merge(const Auc& other);
  // Appends the stored examples to *out (9 bytes each, host byte order: for another process of
  // the same job, not a file format).
  void AppendTo(std::string* out) const;
  // Reads what AppendTo wrote from *in, advancing it; InvalidArgument when it is malformed.
  static Auc ReadFrom(std::string_view* in);
  void Reset();

  double Result() const;
  // Number of stored examples.
  int64_t size() const { return static_cast<int64_t>(entries_.size()); }

 private:
  struct Entry {
    float prediction;
    float weight;
    bool positive;
  };
  std::vector<Entry> entries_;
  bool has_nan_ = false;
};

}  // namespace crank

#endif  // CRANK_METRICS_AUC_H_
