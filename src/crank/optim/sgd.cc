// Keras SGD with optional (Nesterov) momentum; see SgdOptions in optimizer.h.

#include <fmt/format.h>

#include <cmath>

#include "crank/base/error.h"
#include "crank/optim/factory.h"
#include "crank/optim/slot_optimizer.h"
#include "crank/optim/sparse_rows.h"

namespace crank {
namespace {

// w[i] -= lr * g[i]
inline void SgdUpdate(float* w, const float* g, int64_t n, float lr) {
  for (int64_t i = 0; i < n; ++i) w[i] -= lr * g[i];
}

// m = momentum * m - lr * g; w += m (or momentum * m - lr * g with Nesterov).
inline void MomentumUpdate(float* w, float* m, const float* g, int64_t n, float lr, float momentum,
                           bool nesterov) {
  if (nesterov) {
    for (int64_t i = 0; i < n; ++i) {
      m[i] = momentum * m[i] - lr * g[i];
      w[i] += momentum * m[i] - lr * g[i];
    }
  } else {
    for (int64_t i = 0; i < n; ++i) {
      m[i] = momentum * m[i] - lr * g[i];
      w[i] += m[i];
    }
  }
}

std::vector<SlotOptimizer::SlotSpec> SgdSlots(const SgdOptions& o) {
  if (o.momentum == 0.0f) return {};
  return {{"momentum", SlotOptimizer::SlotShape::kLikeValue, 0.0f}};
}

class Sgd final : public SlotOptimizer {
 public:
  Sgd(const SgdOptions& o, std::unique_ptr<LearningRateSchedule> schedule)
      : SlotOptimizer("sgd", SgdSlots(o), o.learning_rate, std::move(schedule)), o_(o) {}

 protected:
  void UpdateDense(Variable& var, Tensor* slots, float lr, int64_t /*step*/, int64_t begin,
                   int64_t end) override {
    float* w = var.value.data() + begin;
    const float* g = var.grad.data() + begin;
    if (o_.momentum == 0.0f) {
      SgdUpdate(w, g, end - begin, lr);
    } else {
      MomentumUpdate(w, slots[0].data() + begin, g, end - begin, lr, o_.momentum, o_.nesterov);
    }
  }

  void UpdateSparse(Variable& var, Tensor* slots, float lr, int64_t step) override {
    const RowSparseGrad& sg = var.sparse_grad;
    const int64_t width = var.shape()[1];
    if (o_.momentum == 0.0f) {
      ForEachSparseRow(sg, width, {ValueRows(var)}, [&](int64_t i) {
        UpdateTableRow(var, sg.ids[static_cast<size_t>(i)], step,
                       [&](float* w) { SgdUpdate(w, sg.rows.row(i), width, lr); });
      });
    } else {
      ForEachSparseRow(sg, width, {ValueRows(var), {slots[0].data(), width, width}},
                       [&](int64_t i) {
                         const int64_t id = sg.ids[static_cast<size_t>(i)];
                         UpdateTableRow(var, id, step, [&](float* w) {
                           MomentumUpdate(w, slots[0].row(id), sg.rows.row(i), width, lr,
                                          o_.momentum, o_.nesterov);
                         });
                       });
    }
  }

  std::string DescribeOptions() const override {
    if (o_.momentum == 0.0f) return "";
    return fmt::format("momentum={}, nesterov={}", o_.momentum, o_.nesterov);
  }

 private:
  SgdOptions o_;
};

}  // namespace

std::unique_ptr<Optimizer> MakeSgd(SgdOptions options,
                                   std::unique_ptr<LearningRateSchedule> schedule) {
  CRANK_REQUIRE(
      std::isfinite(options.momentum) && options.momentum >= 0.0f && options.momentum < 1.0f,
      "sgd: expected momentum in [0, 1), got {}", options.momentum);
  CRANK_REQUIRE(!options.nesterov || options.momentum > 0.0f,
                "sgd: nesterov requires momentum > 0, got momentum {}", options.momentum);
  return std::make_unique<Sgd>(options, std::move(schedule));
}

// The kind `sgd` in the optimizer registry (optim/factory.h).
const OptimizerKind kSgdKind = {
    .name = "sgd",
    .fields = {{"momentum", &OptimizerConfig::momentum},
               {"nesterov", nullptr, &OptimizerConfig::nesterov}},
    .validate =
        [](const OptimizerConfig& c, const std::string& key) {
          RequireUnitInterval(c.momentum, key, "momentum");
          if (c.nesterov && !(c.momentum > 0.0f)) {
            throw ConfigError(key + ".nesterov",
                              fmt::format("requires momentum > 0; got momentum {}", c.momentum));
          }
        },
    .make =
        [](const OptimizerConfig& c, std::unique_ptr<LearningRateSchedule> schedule) {
          return MakeSgd({c.learning_rate, c.momentum, c.nesterov}, std::move(schedule));
        },
    .state_floats =
        [](const OptimizerConfig& c, double rows, double cols) {
          return c.momentum > 0.0f ? rows * cols : 0.0;  // a velocity per weight with momentum
        },
};

}  // namespace crank
