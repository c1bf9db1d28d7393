#ifndef CRANK_TASK_RANKING_TASK_H_
#define CRANK_TASK_RANKING_TASK_H_

// The ranking task of tfrs.tasks.Ranking: turns the top stack's outputs into a loss, its
// gradient, and streaming metrics.
//
// Loss reduction is Keras SUM_OVER_BATCH_SIZE: loss = sum_i w_i l_i / B, divided by the batch
// size and not by the sum of the weights (see crank/kernels/loss.h), as tf.keras losses and
// TFRS compute it. Metrics are Keras-style weighted means (see crank/metrics/metric_set.h).
//
// Not thread-safe: ComputeLoss mutates scratch buffers and the metrics.

#include <cstdint>
#include <map>
#include <string>
#include <string_view>

#include "crank/metrics/metric_set.h"
#include "crank/tensor/tensor.h"

namespace crank {

enum class LossKind { kBinaryCrossEntropy, kMeanSquaredError };

// "bce" / "binary_crossentropy" and "mse" / "mean_squared_error"; anything else throws
// InvalidArgument naming the accepted spellings.
LossKind ParseLossKind(std::string_view name);
// The Keras name: "binary_crossentropy" or "mean_squared_error" (ParseLossKind accepts it).
std::string_view LossKindName(LossKind kind);

struct RankingTaskOptions {
  LossKind loss = LossKind::kBinaryCrossEntropy;
};

class RankingTask {
 public:
  explicit RankingTask(RankingTaskOptions options = {});

  // outputs (B) or (B, 1): the top stack's outputs.
  //   logits == true:  predictions = sigmoid(outputs); BCE is computed stably from the logits
  //                    (BceWithLogits) and MSE through the sigmoid, (sigmoid(z) - y)^2.
  //   logits == false: predictions = outputs; BCE clips them as Keras (BceFromProbabilities).
  // labels (B) (any shape with B elements); weights (B) or nullptr for all ones.
  // Returns the loss. When d_outputs is non-null it is resized to outputs' shape and
  // OVERWRITTEN with d loss / d outputs. When update_metrics, the metrics see
  // (predictions, labels, weights) and the loss with weight B.
  // Throws InvalidArgument (nothing updated) when: outputs is neither rank 1 nor (B, 1);
  // B == 0; labels or weights do not hold B values; a weight is non-finite or negative; a
  // label is non-finite; for BCE, a label lies outside [0, 1].
  double ComputeLoss(const Tensor& outputs, bool logits, const Tensor& labels,
                     const Tensor* weights, Tensor* d_outputs, bool update_metrics = true);

  // MetricSet::Results() (regression keys with MSE); "loss" is the running mean of batch losses.
  std::map<std::string, double> Metrics() const { return metrics_.Results(); }
  void ResetMetrics() { metrics_.Reset(); }
  const MetricSet& metric_set() const { return metrics_; }

  LossKind loss() const { return options_.loss; }

 private:
  RankingTaskOptions options_;
  MetricSet metrics_;
  Tensor predictions_;  // (B) scratch: sigmoid(outputs) when logits; keeps its capacity
};

}  // namespace crank

#endif  // CRANK_TASK_RANKING_TASK_H_
