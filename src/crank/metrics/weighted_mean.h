#ifndef CRANK_METRICS_WEIGHTED_MEAN_H_
#define CRANK_METRICS_WEIGHTED_MEAN_H_

// A streaming weighted mean, sum(w x) / sum(w), accumulated in double (tf.keras.metrics.Mean).
//
// Result() is NaN while the total weight is zero (nothing observed, or only zero weights):
// the mean is undefined there, and NaN says so where Keras would print 0.
// Not thread-safe for concurrent mutation; const methods may run concurrently.

#include <limits>

namespace crank {

class WeightedMean {
 public:
  void Add(double value, double weight) {
    weighted_sum_ += weight * value;
    weight_sum_ += weight;
  }
  void Merge(const WeightedMean& other) {
    weighted_sum_ += other.weighted_sum_;
    weight_sum_ += other.weight_sum_;
  }
  void Reset() { *this = WeightedMean(); }

  double Result() const {
    return weight_sum_ > 0.0 ? weighted_sum_ / weight_sum_
                             : std::numeric_limits<double>::quiet_NaN();
  }
  double weight_sum() const { return weight_sum_; }
  double weighted_sum() const { return weighted_sum_; }
  // The mean whose sums are these (a serialised mean read back).
  static WeightedMean FromSums(double weighted_sum, double weight_sum) {
    WeightedMean m;
    m.weighted_sum_ = weighted_sum;
    m.weight_sum_ = weight_sum;
    return m;
  }

 private:
  double weighted_sum_ = 0.0;
  double weight_sum_ = 0.0;
};

}  // namespace crank

#endif  // CRANK_METRICS_WEIGHTED_MEAN_H_
