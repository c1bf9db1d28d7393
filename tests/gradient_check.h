#ifndef CRANK_TESTS_GRADIENT_CHECK_H_
#define CRANK_TESTS_GRADIENT_CHECK_H_

// The one finite-difference gradient-check helper every layer, kernel and model test uses.
//
// Pattern:
//   ProjectionLoss proj(output_shape, seed);   // L = sum_i r_i * y_i, computed in double
//   auto loss = [&] { layer.Forward(x, &y, true); return proj(y); };
//   loss(); layer.Backward(proj.Gradient(), &dx);   // analytic gradients
//   ExpectGradientMatches(loss, x.data(), dx.data(), x.size(), "input");
//   ExpectGradientMatches(loss, w.value.data(), w.grad.data(), w.value.size(), "kernel");
//
// Coordinates are sampled (opts.samples of them, deterministically from opts.seed); each is
// perturbed by +-eps in place, the loss re-evaluated (accumulated in double), and restored.

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "crank/base/rng.h"
#include "crank/tensor/tensor.h"

namespace crank::testing {

struct GradCheckOptions {
  double eps = 1e-3;
  double atol = 2e-3;
  double rtol = 2e-2;
  int samples = 24;
  uint64_t seed = 1;
};

// L(y) = sum_i r_i * y_i with fixed random r_i in [-1, 1]; its gradient is r.
class ProjectionLoss {
 public:
  ProjectionLoss(const std::vector<int64_t>& shape, uint64_t seed) : r_(shape) {
    Rng rng(seed);
    for (int64_t i = 0; i < r_.size(); ++i) r_[i] = 2.0f * rng.UniformFloat() - 1.0f;
  }
  double operator()(const Tensor& y) const {
    EXPECT_EQ(y.size(), r_.size()) << "output shape changed: " << y.ShapeString();
    double s = 0.0;
    for (int64_t i = 0; i < std::min(y.size(), r_.size()); ++i) s += double(r_[i]) * y[i];
    return s;
  }
  const Tensor& Gradient() const { return r_; }

 private:
  Tensor r_;
};

// Central difference of loss() w.r.t. param[i] with step eps (the step actually representable).
inline double NumericDerivative(const std::function<double()>& loss, float* param, int64_t i,
                                double eps) {
  const float orig = param[i];
  param[i] = static_cast<float>(orig + eps);
  const double up = loss();
  const double h_up = double(param[i]) - orig;
  param[i] = static_cast<float>(orig - eps);
  const double down = loss();
  const double h_down = orig - double(param[i]);
  param[i] = orig;
  return (up - down) / (h_up + h_down);
}

// Compares analytic[i] with the central difference of loss() w.r.t. param[i] on sampled i.
//
// Networks with ReLU are not differentiable everywhere: when a +-eps step crosses a kink the
// difference quotient is meaningless. A coordinate whose quotients at eps and eps/2 disagree
// (beyond the tolerance) is such a point; it is replaced by another sampled coordinate. At most
// a quarter of the samples may be kinks, so a wrong gradient cannot hide behind this rule (a
// wrong gradient gives quotients that agree with each other and not with it).
inline void ExpectGradientMatches(const std::function<double()>& loss, float* param,
                                  const float* analytic, int64_t n, const std::string& what,
                                  const GradCheckOptions& opts = {}) {
  ASSERT_GT(n, 0) << what << ": nothing to check";
  Rng rng(opts.seed);
  std::vector<int64_t> idx;
  const bool all = n <= opts.samples;
  if (all) {
    for (int64_t i = 0; i < n; ++i) idx.push_back(i);
  } else {
    for (int s = 0; s < opts.samples; ++s) idx.push_back(static_cast<int64_t>(rng.UniformInt(n)));
  }
  int kinks = 0;
  for (size_t k = 0; k < idx.size(); ++k) {
    const int64_t i = idx[k];
    const double numeric = NumericDerivative(loss, param, i, opts.eps);
    const double half = NumericDerivative(loss, param, i, opts.eps / 2);
    const double a = analytic[i];
    const double tol = opts.atol + opts.rtol * std::max(std::fabs(a), std::fabs(numeric));
    if (std::fabs(numeric - half) > tol && std::fabs(a - numeric) > tol) {
      ++kinks;
      if (!all) idx.push_back(static_cast<int64_t>(rng.UniformInt(n)));  // sample another one
      ASSERT_LE(kinks, std::max(1, opts.samples / 4))
          << what << ": too many non-differentiable sample points (last: coordinate " << i
          << ", analytic " << a << ", quotients " << numeric << " and " << half << ")";
      continue;
    }
    EXPECT_NEAR(a, numeric, tol) << what << " coordinate " << i << " of " << n;
  }
  loss();  // leave caches consistent with the restored parameters
}

}  // namespace crank::testing

#endif  // CRANK_TESTS_GRADIENT_CHECK_H_
