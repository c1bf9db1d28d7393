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

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include <gtest/gtest.h>

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

// Compares analytic[i] with the central difference of loss() w.r.t. param[i] on sampled i.
inline void ExpectGradientMatches(const std::function<double()>& loss, float* param,
                                  const float* analytic, int64_t n, const std::string& what,
                                  const GradCheckOptions& opts = {}) {
  ASSERT_GT(n, 0) << what << ": nothing to check";
  Rng rng(opts.seed);
  std::vector<int64_t> idx;
  if (n <= opts.samples) {
    for (int64_t i = 0; i < n; ++i) idx.push_back(i);
  } else {
    for (int s = 0; s < opts.samples; ++s) idx.push_back(static_cast<int64_t>(rng.UniformInt(n)));
  }
  for (int64_t i : idx) {
    const float orig = param[i];
    param[i] = static_cast<float>(orig + opts.eps);
    const double up = loss();
    const double h_up = double(param[i]) - orig;
    param[i] = static_cast<float>(orig - opts.eps);
    const double down = loss();
    const double h_down = orig - double(param[i]);
    param[i] = orig;
    const double numeric = (up - down) / (h_up + h_down);
    const double a = analytic[i];
    const double tol = opts.atol + opts.rtol * std::max(std::fabs(a), std::fabs(numeric));
    EXPECT_NEAR(a, numeric, tol) << what << " coordinate " << i << " of " << n;
  }
  loss();  // leave caches consistent with the restored parameters
}

}  // namespace crank::testing

#endif  // CRANK_TESTS_GRADIENT_CHECK_H_
