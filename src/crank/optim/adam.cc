// Keras Adam, lazy on row-sparse gradients; see AdamOptions in optimizer.h.

#include <fmt/format.h>

#include <cmath>

#include "crank/base/error.h"
#include "crank/optim/factory.h"
#include "crank/optim/slot_optimizer.h"
#include "crank/optim/sparse_rows.h"

namespace crank {
namespace {

// m += (g - m) * (1 - beta_1); v += (g^2 - v) * (1 - beta_2); w -= m * alpha / (sqrt(v) + eps)
inline void AdamUpdate(float* __restrict w, float* __restrict m, float* __restrict v,
                       const float* __restrict g, int64_t n, float alpha, float one_minus_beta_1,
                       float one_minus_beta_2, float eps) {
#pragma omp simd
  for (int64_t i = 0; i < n; ++i) {
    m[i] += (g[i] - m[i]) * one_minus_beta_1;
    v[i] += (g[i] * g[i] - v[i]) * one_minus_beta_2;
    w[i] -= m[i] * alpha / (std::sqrt(v[i]) + eps);
  }
}

class Adam final : public SlotOptimizer {
 public:
  Adam(const AdamOptions& o, std::unique_ptr<LearningRateSchedule> schedule)
      : SlotOptimizer("adam",
                      {{"m", SlotShape::kLikeValue, 0.0f}, {"v", SlotShape::kLikeValue, 0.0f}},
                      o.learning_rate, std::move(schedule)),
        o_(o) {}

 protected:
  void UpdateDense(Variable& var, Tensor* slots, float lr, int64_t step, int64_t begin,
                   int64_t end) override {
    const float alpha = Alpha(lr, step);
    const float b1 = 1.0f - o_.beta_1;
    const float b2 = 1.0f - o_.beta_2;
    AdamUpdate(var.value.data() + begin, slots[0].data() + begin, slots[1].data() + begin,
               var.grad.data() + begin, end - begin, alpha, b1, b2, o_.epsilon);
  }

  void UpdateSparse(Variable& var, Tensor* slots, float lr, int64_t step) override {
    const float alpha = Alpha(lr, step);
    const RowSparseGrad& sg = var.sparse_grad;
    const int64_t width = var.shape()[1];
    const float b1 = 1.0f - o_.beta_1;
    const float b2 = 1.0f - o_.beta_2;
    ForEachSparseRow(
        sg, width,
        {ValueRows(var), {slots[0].data(), width, width}, {slots[1].data(), width, width}},
        [&](int64_t i) {
          const int64_t id = sg.ids[static_cast<size_t>(i)];
          UpdateTableRow(var, id, step, [&](float* w) {
            AdamUpdate(w, slots[0].row(id), slots[1].row(id), sg.rows.row(i), width, alpha, b1, b2,
                       o_.epsilon);
          });
        });
  }

  std::string DescribeOptions() const override {
    return fmt::format("beta_1={}, beta_2={}, epsilon={}", o_.beta_1, o_.beta_2, o_.epsilon);
  }

 private:
  // Bias-corrected step size for the update at `step` (t = step + 1).
  float Alpha(float lr, int64_t step) const {
    const double t = static_cast<double>(step) + 1.0;
    const double beta_1_power = std::pow(static_cast<double>(o_.beta_1), t);
    const double beta_2_power = std::pow(static_cast<double>(o_.beta_2), t);
    return static_cast<float>(static_cast<double>(lr) * std::sqrt(1.0 - beta_2_power) /
                              (1.0 - beta_1_power));
  }

  AdamOptions o_;
};

}  // namespace

std::unique_ptr<Optimizer> MakeAdam(AdamOptions options,
                                    std::unique_ptr<LearningRateSchedule> schedule) {
  CRANK_REQUIRE(std::isfinite(options.beta_1) && options.beta_1 >= 0.0f && options.beta_1 < 1.0f,
                "adam: expected beta_1 in [0, 1), got {}", options.beta_1);
  CRANK_REQUIRE(std::isfinite(options.beta_2) && options.beta_2 >= 0.0f && options.beta_2 < 1.0f,
                "adam: expected beta_2 in [0, 1), got {}", options.beta_2);
  CRANK_REQUIRE(std::isfinite(options.epsilon) && options.epsilon >= 0.0f,
                "adam: expected a finite epsilon >= 0, got {}", options.epsilon);
  return std::make_unique<Adam>(options, std::move(schedule));
}

// The kind `adam` in the optimizer registry (optim/factory.h).
const OptimizerKind kAdamKind = {
    .name = "adam",
    .fields = {{"beta_1", &OptimizerConfig::beta_1},
               {"beta_2", &OptimizerConfig::beta_2},
               {"epsilon", &OptimizerConfig::epsilon}},
    .validate =
        [](const OptimizerConfig& c, const std::string& key) {
          RequireUnitInterval(c.beta_1, key, "beta_1");
          RequireUnitInterval(c.beta_2, key, "beta_2");
          RequireFiniteNonNegative(c.epsilon, key, "epsilon");
        },
    .make =
        [](const OptimizerConfig& c, std::unique_ptr<LearningRateSchedule> schedule) {
          return MakeAdam({c.learning_rate, c.beta_1, c.beta_2, c.epsilon}, std::move(schedule));
        },
    .state_floats =
        [](const OptimizerConfig&, double rows, double cols) {
          return 2.0 * rows * cols;  // first and second moments per weight
        },
};

}  // namespace crank
