#include "crank/optim/slot_optimizer.h"

#include <fmt/format.h>

#include <cmath>

#include "crank/base/error.h"
#include "crank/kernels/gemm.h"
#include "crank/kernels/parallel_for.h"

namespace crank {

SlotOptimizer::SlotOptimizer(std::string kind, std::vector<SlotSpec> slots, float learning_rate,
                             std::unique_ptr<LearningRateSchedule> schedule)
    : kind_(std::move(kind)),
      slot_specs_(std::move(slots)),
      constant_lr_(learning_rate),
      schedule_(std::move(schedule)) {
  if (!schedule_) {
    CRANK_REQUIRE(std::isfinite(learning_rate) && learning_rate >= 0.0f,
                  "{}: expected a finite learning_rate >= 0, got {}", kind_, learning_rate);
  }
}

void SlotOptimizer::CheckGradient(const Variable& var) const {
  if (!var.sparse) {
    CRANK_REQUIRE(var.grad.shape() == var.value.shape(),
                  "{}: variable '{}' has value of shape {} but gradient of shape {}", kind_,
                  var.name, var.value.ShapeString(), var.grad.ShapeString());
    return;
  }
  const std::vector<int64_t>& shape = var.shape();
  CRANK_REQUIRE(shape.size() == 2, "{}: sparse variable '{}' must be (V, E), got {}", kind_,
                var.name, ShapeToString(shape));
  const RowSparseGrad& g = var.sparse_grad;
  const int64_t n = static_cast<int64_t>(g.ids.size());
  if (n == 0) return;
  const int64_t num_rows = shape[0];
  CRANK_REQUIRE(g.rows.rank() == 2 && g.rows.dim(0) == n && g.rows.dim(1) == shape[1],
                "{}: sparse variable '{}': expected gradient rows of shape ({}, {}), got {}", kind_,
                var.name, n, shape[1], g.rows.ShapeString());
  int64_t previous = -1;
  for (int64_t i = 0; i < n; ++i) {
    const int64_t id = g.ids[static_cast<size_t>(i)];
    CRANK_REQUIRE(id > previous && id < num_rows,
                  "{}: sparse variable '{}': gradient ids must be ascending, unique and in "
                  "[0, {}); ids[{}] = {} after {}",
                  kind_, var.name, num_rows, i, id, previous);
    previous = id;
  }
}

SlotOptimizer::VariableSlots& SlotOptimizer::SlotsOf(const Variable& var) {
  auto it = slots_.find(&var);
  if (it == slots_.end()) {
    CRANK_REQUIRE(!used_names_.count(var.name),
                  "{}: two different variables are named '{}'; names must be unique", kind_,
                  var.name);
    VariableSlots slots{var.name, var.shape(), {}, {}};
    slots.tensors.reserve(slot_specs_.size());
    for (const SlotSpec& spec : slot_specs_) {
      std::vector<int64_t> shape = var.shape();
      if (spec.shape == SlotShape::kPerRow) {
        shape = {shape.empty() ? int64_t{1} : shape[0]};
      }
      Tensor t(shape);
      if (spec.initial_value != 0.0f) t.Fill(spec.initial_value);
      slots.tensors.push_back(std::move(t));
    }
    if (var.L2CatchUpActive()) slots.l2_steps = Tensor({var.shape()[0], 2});  // zeros
    used_names_.insert(var.name);
    it = slots_.emplace(&var, std::move(slots)).first;
  }
  VariableSlots& slots = it->second;
  CRANK_REQUIRE(var.shape() == slots.value_shape,
                "{}: variable '{}' has shape {} but had shape {} when its slots were created",
                kind_, var.name, ShapeToString(var.shape()), ShapeToString(slots.value_shape));
  return slots;
}

void SlotOptimizer::Prepare(const std::vector<Variable*>& vars) {
  for (size_t i = 0; i < vars.size(); ++i) {
    CRANK_REQUIRE(vars[i] != nullptr, "{}: variable {} of {} is null", kind_, i, vars.size());
    SlotsFor(*vars[i]);
  }
}

void SlotOptimizer::Apply(const std::vector<Variable*>& vars) {
  // Check everything first so that a bad gradient leaves every variable untouched.
  scratch_.resize(vars.size());
  for (size_t i = 0; i < vars.size(); ++i) {
    CRANK_REQUIRE(vars[i] != nullptr, "{}: variable {} of {} is null", kind_, i, vars.size());
    CheckGradient(*vars[i]);
    scratch_[i] = SlotsFor(*vars[i]);
  }
  const int64_t step = iterations();
  const float lr = schedule_ ? schedule_->Rate(step) : constant_lr_;
  sparse_.clear();
  dense_blocks_.clear();
  int64_t dense_elements = 0;
  for (size_t i = 0; i < vars.size(); ++i) {
    const Variable& var = *vars[i];
    if (!var.sparse) {
      const int64_t width = DenseUnitWidth(var, scratch_[i]);
      CRANK_CHECK(width >= 1, "{}: unit width {} for '{}'", kind_, width, var.name);
      const int64_t units = var.value.size() / width;
      const int64_t per_block = std::max<int64_t>(1, kOptimChunk / width);
      for (int64_t b = 0; b < units; b += per_block) {
        dense_blocks_.push_back({i, b, std::min(units, b + per_block)});
      }
      dense_elements += var.value.size();
    } else if (!var.sparse_grad.ids.empty()) {
      sparse_.push_back(i);
    }
  }
  // All dense variables in one parallel region (one wake-up and one closing barrier per step
  // instead of one per large variable, and the small variables no longer run on one thread
  // while the others wait), blocks of kOptimChunk elements shared out dynamically since their
  // sizes differ. Every element sees the same arithmetic whichever thread runs its block.
  ParallelForDynamic(static_cast<int64_t>(dense_blocks_.size()), dense_elements > kOptimChunk,
                     [&](int64_t k) {
                       const DenseBlock& blk = dense_blocks_[static_cast<size_t>(k)];
                       UpdateDense(*vars[blk.var], scratch_[blk.var], lr, step, blk.begin, blk.end);
                     });
  // Row-sparse variables (one per embedding table) are many independent updates. When there are
  // several per thread and each is too small for its row loop to be split over the threads
  // (small batches), one parallel region spreads whole variables over the threads instead of a
  // serial loop per variable. Each variable is updated the same way either way: the results do
  // not change.
  const int64_t n = static_cast<int64_t>(sparse_.size());
  int64_t elements = 0;
  for (size_t i : sparse_) elements += vars[i]->sparse_grad.rows.size();
  if (ComputeThreads() > 1 && n >= kMinSparseVariablesPerThread * ComputeThreads() &&
      elements / n <= kOptimChunk) {
#pragma omp parallel for schedule(dynamic, 1)
    for (int64_t k = 0; k < n; ++k) {
      const size_t i = sparse_[static_cast<size_t>(k)];
      UpdateSparse(*vars[i], scratch_[i], lr, step);
    }
  } else {
    for (size_t i : sparse_) UpdateSparse(*vars[i], scratch_[i], lr, step);
  }
  IncrementIterations();
}

std::vector<std::pair<std::string, Tensor*>> SlotOptimizer::StateTensors() {
  std::vector<std::pair<std::string, Tensor*>> out;
  for (auto& [var, slots] : slots_) {
    for (size_t s = 0; s < slots.tensors.size(); ++s) {
      out.emplace_back(slots.name + "/" + slot_specs_[s].name, &slots.tensors[s]);
    }
    if (slots.l2_steps.rank() == 2) out.emplace_back(slots.name + "/l2_steps", &slots.l2_steps);
  }
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  return out;
}

Tensor* SlotOptimizer::L2CatchUpState(const Variable& var) {
  if (!var.L2CatchUpActive()) return nullptr;
  Tensor& t = SlotsOf(var).l2_steps;
  return t.rank() == 2 ? &t : nullptr;
}

std::string SlotOptimizer::Describe() const {
  std::string options = DescribeOptions();
  const std::string lr = schedule_ ? schedule_->Describe() : fmt::format("{}", constant_lr_);
  return fmt::format("{}(lr={}{}{})", kind_, lr, options.empty() ? "" : ", ", options);
}

}  // namespace crank
