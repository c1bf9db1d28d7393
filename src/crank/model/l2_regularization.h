#ifndef CRANK_MODEL_L2_REGULARIZATION_H_
#define CRANK_MODEL_L2_REGULARIZATION_H_

// The L2 penalty of the trainable variables and its gradient, the regularization step of a
// training step (Ranking::ApplyRegularization, the hybrid-parallel step).
//
// For every variable with l2 != 0: adds 2 * l2 * w to its gradient (for a row-sparse variable,
// (V, E), only to the rows its sparse_grad holds, reading the stored row, widened when 16-bit)
// and l2 * sum(w^2) to the penalty (each row's sum of squares in double). Call after Backward.
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

namespace crank {

// Buffers of one call, kept by the caller so that a step allocates nothing; grow-only.
struct L2Scratch {
  std::vector<Variable*> regularized;  // the variables with l2 != 0 and a gradient, in order
  std::vector<int64_t> first_term;     // index of each one's first term
  std::vector<double> terms;           // one per sparse gradient row / dense variable
};

// Returns the penalty. Variables must be non-null.
double ApplyL2Regularization(const std::vector<Variable*>& vars, L2Scratch* scratch);

}  // namespace crank

#endif  // CRANK_MODEL_L2_REGULARIZATION_H_
