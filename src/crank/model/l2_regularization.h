#ifndef CRANK_MODEL_L2_REGULARIZATION_H_
#define CRANK_MODEL_L2_REGULARIZATION_H_

// The L2 penalty of the trainable variables and its gradient, the regularization step of a
// training step (Ranking::ApplyRegularization, the hybrid-parallel step).
//
// For every variable with l2 != 0: adds 2 * l2 * w to its gradient (for a row-sparse variable,
// (V, E), only to the rows its sparse_grad holds, reading the stored row, widened when 16-bit)
// and l2 * sum(w^2) to the penalty (each row's sum of squares in double). Call after Backward.
//
// Catch-up (Variable::l2_catch_up = C >= 2, the state an optimizer slot): the penalty of a
// table, as Keras applies it, pulls every row at every step, but a row-sparse gradient reaches
// only the rows a batch touches, so a frequent row is pulled at every step and a rare one almost
// never. With catch-up, a row touched at step t (the optimizer's iterations() before the step)
// that last had its L2 gradient at step s (or never: s = -1) gets 2 * l2 * f * w with
// f = min(C, max(1, t - s)): the gradients of the steps it missed, taken at its present value,
// at most C of them. The factor scales the gradient only; the penalty returned stays
// l2 * sum(w^2) over the touched rows, as without catch-up. Without an optimizer, or when the
// optimizer holds no state for the table, f = 1. This is not an exact replay of the missed
// steps (an adaptive optimizer's updates of a row that only the penalty pulls have no closed
// form), and the cap bounds the step a long-missing row takes.
//
// Threads: the variables are spread over the compute threads, one variable per task (at batch
// 128 the 26 tables' rows are cache misses, about 5% of a criteo-dlrm step on one thread). Each
// gradient element is computed by the same expression on any thread. The penalty is the sum, in
// double, of one term per row of each sparse variable and one per dense variable, added in
// variable order and row order after the parallel part: the bits of a serial pass, for any
// thread count.

#include <cstdint>
#include <vector>

#include "crank/layers/variable.h"
#include "crank/optim/optimizer.h"

namespace crank {

// Buffers of one call, kept by the caller so that a step allocates nothing; grow-only.
struct L2Scratch {
  std::vector<Variable*> regularized;  // the variables with l2 != 0 and a gradient, in order
  std::vector<int64_t> first_term;     // index of each one's first term
  std::vector<double> terms;           // one per sparse gradient row / dense variable
  std::vector<Tensor*> catch_up;       // each one's catch-up state, or null
};

// Returns the penalty. Variables must be non-null. optimizer (may be null): the one that will
// apply the step, which holds the catch-up state and counts the steps.
double ApplyL2Regularization(const std::vector<Variable*>& vars, L2Scratch* scratch,
                             Optimizer* optimizer = nullptr);

}  // namespace crank

#endif  // CRANK_MODEL_L2_REGULARIZATION_H_
