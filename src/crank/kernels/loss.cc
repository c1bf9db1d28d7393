#include "crank/kernels/loss.h"

#include <algorithm>
#include <cmath>

#include "crank/base/error.h"

namespace crank {
namespace {

inline double WeightAt(const float* weights, int64_t i) {
  return weights != nullptr ? static_cast<double>(weights[i]) : 1.0;
}

inline double Sigmoid(double z) {
  if (z >= 0.0) return 1.0 / (1.0 + std::exp(-z));
  const double e = std::exp(z);
  return e / (1.0 + e);
}

}  // namespace

double BceWithLogits(const float* logits, const float* labels, const float* weights, int64_t b,
                     float* d_logits) {
  CRANK_CHECK(b > 0, "BceWithLogits needs a non-empty batch, got B = {}", b);
  const double inv_b = 1.0 / static_cast<double>(b);
  double sum = 0.0;
  for (int64_t i = 0; i < b; ++i) {
    const double z = logits[i];
    const double y = labels[i];
    const double w = WeightAt(weights, i);
    const double l = std::max(z, 0.0) - z * y + std::log1p(std::exp(-std::fabs(z)));
    sum += w * l;
    if (d_logits != nullptr) d_logits[i] = static_cast<float>(w * (Sigmoid(z) - y) * inv_b);
  }
  return sum * inv_b;
}

double BceFromProbabilities(const float* probabilities, const float* labels, const float* weights,
                            int64_t b, float* d_probabilities) {
  CRANK_CHECK(b > 0, "BceFromProbabilities needs a non-empty batch, got B = {}", b);
  constexpr double kLow = kKerasEpsilon;
  constexpr double kHigh = 1.0 - kKerasEpsilon;
  const double inv_b = 1.0 / static_cast<double>(b);
  double sum = 0.0;
  for (int64_t i = 0; i < b; ++i) {
    const double p = probabilities[i];
    const double y = labels[i];
    const double w = WeightAt(weights, i);
    const double q = std::clamp(p, kLow, kHigh);
    const double l =
        -(y * std::log(q + kKerasEpsilon) + (1.0 - y) * std::log(1.0 - q + kKerasEpsilon));
    sum += w * l;
    if (d_probabilities != nullptr) {
      double g = 0.0;
      if (p >= kLow && p <= kHigh) {
        g = -(y / (q + kKerasEpsilon) - (1.0 - y) / (1.0 - q + kKerasEpsilon));
      }
      d_probabilities[i] = static_cast<float>(w * g * inv_b);
    }
  }
  return sum * inv_b;
}

double Mse(const float* predictions, const float* labels, const float* weights, int64_t b,
           float* d_predictions) {
  CRANK_CHECK(b > 0, "Mse needs a non-empty batch, got B = {}", b);
  const double inv_b = 1.0 / static_cast<double>(b);
  double sum = 0.0;
  for (int64_t i = 0; i < b; ++i) {
    const double diff = static_cast<double>(predictions[i]) - labels[i];
    const double w = WeightAt(weights, i);
    sum += w * diff * diff;
    if (d_predictions != nullptr) d_predictions[i] = static_cast<float>(w * 2.0 * diff * inv_b);
  }
  return sum * inv_b;
}

}  // namespace crank
