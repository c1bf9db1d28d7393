#ifndef CRANK_OPTIM_OPTIMIZER_H_
#define CRANK_OPTIM_OPTIMIZER_H_

// Optimizers: one update of a set of Variables from their gradients.
//
// Dense variables are updated from `grad` (value's shape). Sparse variables (embedding tables,
// value (V, E)) are updated from `sparse_grad` (ids (n) ascending and unique, rows (n, E)): only
// the rows in ids, and only their slot entries, are read or written; every other row and slot
// entry stays bit-for-bit unchanged. A touched row changes exactly as the dense formula would
// change it (same arithmetic, same rounding). Variable::l2 is not read: regularization is
// already in the gradients.
//
// Slots (per-variable optimizer state: momentum, accumulators, moments) are created once per
// variable, keyed by the Variable's address, on Prepare() or on the first Apply() that sees it.
// Steady-state Apply() does not allocate. Variables must outlive the optimizer, keep their
// address and keep their value's shape.
//
// Threading: Apply() parallelises over elements / rows with OpenMP (static schedule); every
// element's arithmetic is independent of the split, so results are bit-identical for any thread
// count. An Optimizer is not safe for concurrent calls.

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "crank/layers/variable.h"
#include "crank/optim/schedule.h"
#include "crank/tensor/tensor.h"

namespace crank {

class Optimizer {
 public:
  virtual ~Optimizer();

  // One update of every variable in vars from its gradient. Uses
  // rate = schedule.Rate(iterations()) and then increments iterations(). All gradients are
  // checked before any variable changes: a null variable, a dense grad whose shape is not the
  // value's, or a sparse_grad whose rows are not (ids.size(), E) or whose ids are not ascending,
  // unique and in [0, V) throws InvalidArgument naming the variable. Each variable may appear
  // at most once in vars.
  virtual void Apply(const std::vector<Variable*>& vars) = 0;

  // Creates the slots of vars now (otherwise created lazily by Apply). Restoring a checkpoint:
  // Prepare(all variables), then fill the tensors from StateTensors() and set_iterations().
  virtual void Prepare(const std::vector<Variable*>& vars) = 0;

  // Named state for checkpoints: "<variable name>/<slot>" -> slot tensor, sorted by name, for
  // every variable whose slots exist. The pointers stay valid until the optimizer is destroyed;
  // writing through them changes the optimizer's state. The step count is not included: save it
  // with iterations() and restore it with set_iterations().
  virtual std::vector<std::pair<std::string, Tensor*>> StateTensors() = 0;

  // The per-row state of `var`'s L2 catch-up (model/l2_regularization.h), a slot of shape
  // (V, 2) created with var's other slots when var.L2CatchUpActive(): row r holds the count of
  // steps whose L2 the row has had, p = hi * 2^24 + lo as two floats (exact below 2^48). Null
  // when var has none or is not this optimizer's. Its checkpoint name is
  // "<variable name>/l2_steps". The pointer stays valid until the optimizer is destroyed.
  virtual Tensor* L2CatchUpState(const Variable& var) = 0;

  // One line, e.g. "adagrad(lr=0.05, initial_accumulator=0.1, epsilon=1e-07)".
  virtual std::string Describe() const = 0;

  // Number of Apply() calls so far (Keras `optimizer.iterations`).
  int64_t iterations() const { return iterations_; }
  // Requires n >= 0 (else InvalidArgument).
  void set_iterations(int64_t n);

 protected:
  void IncrementIterations() { ++iterations_; }
  // Called by set_iterations() after the count changed (CompositeOptimizer forwards it).
  virtual void OnSetIterations(int64_t /*n*/) {}

 private:
  int64_t iterations_ = 0;
};

// Keras SGD. Without momentum: w -= lr * g. With momentum (slot "momentum", zeros, value's
// shape): m = momentum * m - lr * g; w += m, or with nesterov w += momentum * m - lr * g.
// Sparse variables: only the touched rows of m decay and update (TF's sparse Keras-momentum
// kernel).
struct SgdOptions {
  float learning_rate = 0.01;
  float momentum = 0;
  bool nesterov = false;
};

// Keras Adagrad (tf.keras.optimizers.Adagrad / TF's ApplyAdagradV2 kernel). Slot "accumulator"
// (value's shape, initial_accumulator_value): acc += g^2; w -= lr * g / (sqrt(acc) + epsilon).
struct AdagradOptions {
  float learning_rate = 0.001;
  float initial_accumulator_value = 0.1;
  float epsilon = 1e-7;
};

// Row-wise Adagrad (DLRM / TorchRec / FBGEMM): one accumulator per row. Slot "accumulator" of
// shape (R) where R = dim(0) (a rank-0 value is one row); row width W = size / R:
//   acc[r] += mean_j(g[r, j]^2); w[r, :] -= (lr / (sqrt(acc[r]) + epsilon)) * g[r, :].
// A rank-1 value (R) therefore has one accumulator per element.
struct RowWiseAdagradOptions {
  float learning_rate = 0.01;
  float initial_accumulator_value = 0;
  float epsilon = 1e-8;
};

// Keras Adam. Slots "m" and "v" (zeros, value's shape). With t = iterations() + 1:
//   alpha = lr * sqrt(1 - beta_2^t) / (1 - beta_1^t)
//   m += (g - m) * (1 - beta_1); v += (g^2 - v) * (1 - beta_2); w -= m * alpha / (sqrt(v) + eps)
// Sparse variables are lazy (LazyAdam / torch SparseAdam): only the touched rows' m and v
// update, with t the global step.
struct AdamOptions {
  float learning_rate = 0.001;
  float beta_1 = 0.9;
  float beta_2 = 0.999;
  float epsilon = 1e-7;
};

// Factories. A null schedule means a constant options.learning_rate; a non-null schedule
// replaces options.learning_rate. Invalid options (negative or non-finite rates, momentum
// outside [0, 1), betas outside [0, 1), negative epsilon or accumulator) throw InvalidArgument.
std::unique_ptr<Optimizer> MakeSgd(SgdOptions options,
                                   std::unique_ptr<LearningRateSchedule> schedule = nullptr);
std::unique_ptr<Optimizer> MakeAdagrad(AdagradOptions options,
                                       std::unique_ptr<LearningRateSchedule> schedule = nullptr);
std::unique_ptr<Optimizer> MakeRowWiseAdagrad(
    RowWiseAdagradOptions options, std::unique_ptr<LearningRateSchedule> schedule = nullptr);
std::unique_ptr<Optimizer> MakeAdam(AdamOptions options,
                                    std::unique_ptr<LearningRateSchedule> schedule = nullptr);

}  // namespace crank

#endif  // CRANK_OPTIM_OPTIMIZER_H_
