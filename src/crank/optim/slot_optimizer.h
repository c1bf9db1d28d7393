#ifndef CRANK_OPTIM_SLOT_OPTIMIZER_H_
#define CRANK_OPTIM_SLOT_OPTIMIZER_H_

// Shared machinery of the per-variable optimizers (SGD, Adagrad, row-wise Adagrad, Adam):
// gradient validation, slot creation and lookup, checkpoint naming, the schedule and the step
// count. A subclass declares its slots and implements the dense and row-sparse updates.
// Internal to crank/optim; callers use the factories in optimizer.h.

#include <algorithm>
#include <cstdint>
#include <memory>
#include <set>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "crank/kernels/parallel_for.h"
#include "crank/optim/optimizer.h"

namespace crank {

class SlotOptimizer : public Optimizer {
 public:
  // How a slot tensor is shaped relative to its variable's value.
  enum class SlotShape {
    kLikeValue,  // value's shape
    kPerRow,     // (dim(0)); (1) for a rank-0 value
  };
  struct SlotSpec {
    std::string name;
    SlotShape shape;
    float initial_value;
  };

  void Apply(const std::vector<Variable*>& vars) final;
  void Prepare(const std::vector<Variable*>& vars) final;
  std::vector<std::pair<std::string, Tensor*>> StateTensors() final;
  Tensor* L2CatchUpState(const Variable& var) final;
  // "<kind>(lr=<rate or schedule>, <DescribeOptions()>)".
  std::string Describe() const final;

 protected:
  // kind: the name in Describe(). schedule may be null: constant learning_rate.
  SlotOptimizer(std::string kind, std::vector<SlotSpec> slots, float learning_rate,
                std::unique_ptr<LearningRateSchedule> schedule);

  // Updates units [begin, end) of a dense variable: value (any shape), grad (value's shape),
  // slots[i] per SlotSpec i. step: iterations() before this update. A unit is DenseUnitWidth
  // consecutive elements that are updated together (one element for an element-wise rule); the
  // units of a variable are independent, and Apply calls this for consecutive blocks of them,
  // from one parallel region over all dense variables, so the result must not depend on how
  // [0, value.size() / width) is cut.
  virtual void UpdateDense(Variable& var, Tensor* slots, float lr, int64_t step, int64_t begin,
                           int64_t end) = 0;
  // Elements per unit of UpdateDense for `var` (1, or a row of it for a row-wise rule); >= 1.
  virtual int64_t DenseUnitWidth(const Variable& /*var*/, const Tensor* /*slots*/) const {
    return 1;
  }
  // Updates the rows var.sparse_grad.ids of var.value (V, E); sparse_grad.rows (n, E), n >= 1.
  virtual void UpdateSparse(Variable& var, Tensor* slots, float lr, int64_t step) = 0;
  // Options after the learning rate, e.g. "momentum=0.9, nesterov=false"; may be empty.
  virtual std::string DescribeOptions() const = 0;

 private:
  struct VariableSlots {
    std::string name;                  // the variable's name when the slots were created
    std::vector<int64_t> value_shape;  // its value's shape then
    std::vector<Tensor> tensors;       // one per SlotSpec
    Tensor l2_steps;                   // (V, 2) when the variable has L2 catch-up, else empty
  };

  // var's slots, created on first use; one lookup.
  VariableSlots& SlotsOf(const Variable& var);
  Tensor* SlotsFor(const Variable& var) { return SlotsOf(var).tensors.data(); }
  void CheckGradient(const Variable& var) const;

  std::string kind_;
  std::vector<SlotSpec> slot_specs_;
  float constant_lr_;  // used for Describe() when no schedule was given
  std::unique_ptr<LearningRateSchedule> schedule_;  // null: constant_lr_
  std::unordered_map<const Variable*, VariableSlots> slots_;
  std::set<std::string> used_names_;
  std::vector<Tensor*> scratch_;  // per-Apply slot pointers; keeps its capacity
  std::vector<size_t> sparse_;    // per-Apply indices of the sparse variables to update
  struct DenseBlock {
    size_t var;          // index into Apply's vars
    int64_t begin, end;  // units of UpdateDense
  };
  std::vector<DenseBlock> dense_blocks_;  // per-Apply blocks of all dense updates
};

// Apply updates the row-sparse variables in one parallel region, a whole variable per task, when
// there are at least this many per compute thread and they average at most kOptimChunk elements.
inline constexpr int64_t kMinSparseVariablesPerThread = 4;

// Work on fewer than kOptimChunk elements runs on one thread.
inline constexpr int64_t kOptimChunk = int64_t{1} << 14;

// Calls fn(i) for i in [0, rows), in parallel when rows * width is large. fn(i) must touch
// only row i's data. Opens no OpenMP region otherwise, nor inside Apply's region over whole
// variables (ParallelFor: a one-thread region still costs a team and a closing barrier).
template <typename Fn>
void ForEachRow(int64_t rows, int64_t width, Fn&& fn) {
  ParallelFor(rows, rows * width > kOptimChunk, fn);
}

}  // namespace crank

#endif  // CRANK_OPTIM_SLOT_OPTIMIZER_H_
