#include "crank/task/ranking_task.h"

#include <cmath>

#include "crank/base/error.h"
#include "crank/kernels/loss.h"

namespace crank {
namespace {

float Sigmoid(float z) {
  if (z >= 0.0f) return 1.0f / (1.0f + std::exp(-z));
  const float e = std::exp(z);
  return e / (1.0f + e);
}

// Checks shapes and values; returns B.
int64_t ValidateBatch(LossKind kind, const Tensor& outputs, const Tensor& labels,
                      const Tensor* weights) {
  const bool column = outputs.rank() == 2 && outputs.dim(1) == 1;
  CRANK_REQUIRE(outputs.rank() == 1 || column,
                "ranking task: expected outputs of shape (B) or (B, 1), got {}",
                outputs.ShapeString());
  const int64_t b = outputs.dim(0);
  CRANK_REQUIRE(b > 0, "ranking task: expected a non-empty batch, got outputs of shape {}",
                outputs.ShapeString());
  CRANK_REQUIRE(labels.size() == b, "ranking task: expected {} labels, got {}", b, labels.size());
  if (weights != nullptr) {
    CRANK_REQUIRE(weights->size() == b, "ranking task: expected {} sample weights, got {}", b,
                  weights->size());
    for (int64_t i = 0; i < b; ++i) {
      const float w = (*weights)[i];
      CRANK_REQUIRE(std::isfinite(w) && w >= 0.0f,
                    "ranking task: sample weight {} at example {} must be finite and >= 0", w, i);
    }
  }
  const bool bce = kind == LossKind::kBinaryCrossEntropy;
  for (int64_t i = 0; i < b; ++i) {
    const float y = labels[i];
    CRANK_REQUIRE(std::isfinite(y), "ranking task: label {} at example {} is not finite", y, i);
    CRANK_REQUIRE(!bce || (y >= 0.0f && y <= 1.0f),
                  "ranking task: label {} at example {} is outside [0, 1] for binary cross-entropy",
                  y, i);
  }
  return b;
}

}  // namespace

LossKind ParseLossKind(std::string_view name) {
  if (name == "bce" || name == "binary_crossentropy") return LossKind::kBinaryCrossEntropy;
  if (name == "mse" || name == "mean_squared_error") return LossKind::kMeanSquaredError;
  throw InvalidArgument(fmt::format(
      "unknown loss '{}': expected one of bce, binary_crossentropy, mse, mean_squared_error",
      name));
}

std::string_view LossKindName(LossKind kind) {
  switch (kind) {
    case LossKind::kBinaryCrossEntropy:
      return "binary_crossentropy";
    case LossKind::kMeanSquaredError:
      return "mean_squared_error";
  }
  CRANK_CHECK(false, "unknown LossKind {}", static_cast<int>(kind));
  return {};
}

RankingTask::RankingTask(RankingTaskOptions options)
    : options_(options), metrics_(options.loss == LossKind::kMeanSquaredError) {}

double RankingTask::ComputeLoss(const Tensor& outputs, bool logits, const Tensor& labels,
                                const Tensor* weights, Tensor* d_outputs, bool update_metrics) {
  const int64_t b = ValidateBatch(options_.loss, outputs, labels, weights);
  const float* y = labels.data();
  const float* w = weights != nullptr ? weights->data() : nullptr;
  float* grad = nullptr;
  if (d_outputs != nullptr) {
    d_outputs->Resize(outputs.shape());
    grad = d_outputs->data();
  }

  const float* predictions = outputs.data();
  if (logits) {
    predictions_.Resize({b});
    for (int64_t i = 0; i < b; ++i) predictions_[i] = Sigmoid(outputs[i]);
    predictions = predictions_.data();
  }

  double loss = 0.0;
  if (options_.loss == LossKind::kBinaryCrossEntropy) {
    loss = logits ? BceWithLogits(outputs.data(), y, w, b, grad)
                  : BceFromProbabilities(outputs.data(), y, w, b, grad);
  } else {
    loss = Mse(predictions, y, w, b, grad);
    if (logits && grad != nullptr) {
      // Chain rule through the sigmoid: d/dz = d/dp * p (1 - p).
      for (int64_t i = 0; i < b; ++i) {
        const float p = predictions[i];
        grad[i] *= p * (1.0f - p);
      }
    }
  }

  if (update_metrics) {
    metrics_.Update(predictions, y, w, b);
    metrics_.UpdateLoss(loss, static_cast<double>(b));
  }
  return loss;
}

}  // namespace crank
