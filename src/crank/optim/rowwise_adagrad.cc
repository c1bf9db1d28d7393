// Row-wise Adagrad (one accumulator per row); see RowWiseAdagradOptions in optimizer.h.

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "crank/base/error.h"
#include "crank/optim/factory.h"
#include "crank/optim/slot_optimizer.h"
#include "crank/optim/sparse_rows.h"

namespace crank {
namespace {

// One row of width n with its accumulator:
// acc += mean(g^2); w -= (lr / (sqrt(acc) + eps)) * g.
inline void RowWiseAdagradUpdate(float* w, float* acc, const float* g, int64_t n, float lr,
                                 float eps) {
  float sum_sq = 0.0f;
  for (int64_t j = 0; j < n; ++j) sum_sq += g[j] * g[j];
  *acc += sum_sq / static_cast<float>(n);
  const float multiplier = lr / (std::sqrt(*acc) + eps);
  for (int64_t j = 0; j < n; ++j) w[j] -= multiplier * g[j];
}

class RowWiseAdagrad final : public SlotOptimizer {
 public:
  RowWiseAdagrad(const RowWiseAdagradOptions& o, std::unique_ptr<LearningRateSchedule> schedule)
      : SlotOptimizer("rowwise_adagrad",
                      {{"accumulator", SlotShape::kPerRow, o.initial_accumulator_value}},
                      o.learning_rate, std::move(schedule)),
        o_(o) {}

 protected:
  // A unit is a row of the value seen as (rows, width), rows = the accumulator's length.
  int64_t DenseUnitWidth(const Variable& var, const Tensor* slots) const override {
    const int64_t rows = slots[0].size();
    return rows == 0 ? 1 : std::max<int64_t>(1, var.value.size() / rows);
  }

  void UpdateDense(Variable& var, Tensor* slots, float lr, int64_t /*step*/, int64_t begin,
                   int64_t end) override {
    const int64_t width = DenseUnitWidth(var, slots);
    float* w = var.value.data();
    float* acc = slots[0].data();
    const float* g = var.grad.data();
    for (int64_t r = begin; r < end; ++r) {
      RowWiseAdagradUpdate(w + r * width, acc + r, g + r * width, width, lr, o_.epsilon);
    }
  }

  void UpdateSparse(Variable& var, Tensor* slots, float lr, int64_t step) override {
    const RowSparseGrad& sg = var.sparse_grad;
    const int64_t width = var.shape()[1];
    if (width == 0) return;
    float* acc = slots[0].data();
    ForEachSparseRow(sg, width, {ValueRows(var), {acc, 1, 1}}, [&](int64_t i) {
      const int64_t id = sg.ids[static_cast<size_t>(i)];
      UpdateTableRow(var, id, step, [&](float* w) {
        RowWiseAdagradUpdate(w, acc + id, sg.rows.row(i), width, lr, o_.epsilon);
      });
    });
  }

  std::string DescribeOptions() const override {
    return fmt::format("initial_accumulator={}, epsilon={}", o_.initial_accumulator_value,
                       o_.epsilon);
  }

 private:
  RowWiseAdagradOptions o_;
};

}  // namespace

std::unique_ptr<Optimizer> MakeRowWiseAdagrad(RowWiseAdagradOptions options,
                                              std::unique_ptr<LearningRateSchedule> schedule) {
  CRANK_REQUIRE(
      std::isfinite(options.initial_accumulator_value) && options.initial_accumulator_value >= 0.0f,
      "rowwise_adagrad: expected a finite initial_accumulator_value >= 0, got {}",
      options.initial_accumulator_value);
  CRANK_REQUIRE(std::isfinite(options.epsilon) && options.epsilon >= 0.0f,
                "rowwise_adagrad: expected a finite epsilon >= 0, got {}", options.epsilon);
  return std::make_unique<RowWiseAdagrad>(options, std::move(schedule));
}

// The kind `rowwise_adagrad` in the optimizer registry (optim/factory.h).
const OptimizerKind kRowWiseAdagradKind = {
    .name = "rowwise_adagrad",
    .fields = {{"epsilon", &OptimizerConfig::epsilon},
               {"initial_accumulator_value", &OptimizerConfig::initial_accumulator_value}},
    .validate =
        [](const OptimizerConfig& c, const std::string& key) {
          RequireFiniteNonNegative(c.epsilon, key, "epsilon");
          RequireFiniteNonNegative(c.initial_accumulator_value, key, "initial_accumulator_value");
        },
    .make =
        [](const OptimizerConfig& c, std::unique_ptr<LearningRateSchedule> schedule) {
          return MakeRowWiseAdagrad({c.learning_rate, c.initial_accumulator_value, c.epsilon},
                                    std::move(schedule));
        },
    .state_floats =
        [](const OptimizerConfig&, double rows, double) {
          return rows;  // one accumulator per row
        },
};

}  // namespace crank
