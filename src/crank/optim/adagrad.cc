// Keras Adagrad (element-wise accumulator); see AdagradOptions in optimizer.h.

#include <fmt/format.h>

#include <cmath>

#include "crank/base/error.h"
#include "crank/optim/factory.h"
#include "crank/optim/slot_optimizer.h"
#include "crank/optim/sparse_rows.h"

namespace crank {
namespace {

// acc += g^2; w -= lr * g / (sqrt(acc) + eps)
inline void AdagradUpdate(float* __restrict w, float* __restrict acc, const float* __restrict g,
                          int64_t n, float lr, float eps) {
#pragma omp simd
  for (int64_t i = 0; i < n; ++i) {
    acc[i] += g[i] * g[i];
    w[i] -= lr * g[i] / (std::sqrt(acc[i]) + eps);
  }
}

class Adagrad final : public SlotOptimizer {
 public:
  Adagrad(const AdagradOptions& o, std::unique_ptr<LearningRateSchedule> schedule)
      : SlotOptimizer("adagrad",
                      {{"accumulator", SlotShape::kLikeValue, o.initial_accumulator_value}},
                      o.learning_rate, std::move(schedule)),
        o_(o) {}

 protected:
  void UpdateDense(Variable& var, Tensor* slots, float lr, int64_t /*step*/, int64_t begin,
                   int64_t end) override {
    AdagradUpdate(var.value.data() + begin, slots[0].data() + begin, var.grad.data() + begin,
                  end - begin, lr, o_.epsilon);
  }

  void UpdateSparse(Variable& var, Tensor* slots, float lr, int64_t step) override {
    const RowSparseGrad& sg = var.sparse_grad;
    const int64_t width = var.shape()[1];
    ForEachSparseRow(sg, width, {ValueRows(var), {slots[0].data(), width, width}}, [&](int64_t i) {
      const int64_t id = sg.ids[static_cast<size_t>(i)];
      UpdateTableRow(var, id, step, [&](float* w) {
        AdagradUpdate(w, slots[0].row(id), sg.rows.row(i), width, lr, o_.epsilon);
      });
    });
  }

  std::string DescribeOptions() const override {
    return fmt::format("initial_accumulator={}, epsilon={}", o_.initial_accumulator_value,
                       o_.epsilon);
  }

 private:
  AdagradOptions o_;
};

}  // namespace

std::unique_ptr<Optimizer> MakeAdagrad(AdagradOptions options,
                                       std::unique_ptr<LearningRateSchedule> schedule) {
  CRANK_REQUIRE(
      std::isfinite(options.initial_accumulator_value) && options.initial_accumulator_value >= 0.0f,
      "adagrad: expected a finite initial_accumulator_value >= 0, got {}",
      options.initial_accumulator_value);
  CRANK_REQUIRE(std::isfinite(options.epsilon) && options.epsilon >= 0.0f,
                "adagrad: expected a finite epsilon >= 0, got {}", options.epsilon);
  return std::make_unique<Adagrad>(options, std::move(schedule));
}

// The kind `adagrad` in the optimizer registry (optim/factory.h).
const OptimizerKind kAdagradKind = {
    .name = "adagrad",
    .fields = {{"epsilon", &OptimizerConfig::epsilon},
               {"initial_accumulator_value", &OptimizerConfig::initial_accumulator_value}},
    .validate =
        [](const OptimizerConfig& c, const std::string& key) {
          RequireFiniteNonNegative(c.epsilon, key, "epsilon");
          RequireFiniteNonNegative(c.initial_accumulator_value, key, "initial_accumulator_value");
        },
    .make =
        [](const OptimizerConfig& c, std::unique_ptr<LearningRateSchedule> schedule) {
          return MakeAdagrad({c.learning_rate, c.initial_accumulator_value, c.epsilon},
                             std::move(schedule));
        },
    .state_floats =
        [](const OptimizerConfig&, double rows, double cols) {
          return rows * cols;  // one accumulator per weight
        },
};

}  // namespace crank
