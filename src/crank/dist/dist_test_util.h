#ifndef CRANK_DIST_DIST_TEST_UTIL_H_
#define CRANK_DIST_DIST_TEST_UTIL_H_

// Helpers of the crank_dist tests: the optimizer of their models and a variable's values.

#include <memory>
#include <utility>
#include <vector>

#include "crank/model/ranking.h"
#include "crank/optim/composite_optimizer.h"
#include "crank/optim/factory.h"

namespace crank::dist_test {

// Adagrad (rate 0.1) for m's tables, Adam (0.01) for its dense variables.
inline std::unique_ptr<Optimizer> MakeOptimizerFor(Ranking& m) {
  OptimizerConfig emb, dense;
  emb.kind = "adagrad";
  emb.learning_rate = 0.1;
  dense.kind = "adam";
  dense.learning_rate = 0.01;
  std::vector<std::pair<std::unique_ptr<Optimizer>, std::vector<Variable*>>> parts;
  parts.emplace_back(MakeOptimizer(emb), m.EmbeddingTrainableVariables());
  parts.emplace_back(MakeOptimizer(dense), m.DenseTrainableVariables());
  return std::make_unique<CompositeOptimizer>(std::move(parts));
}

// The values of a variable as floats (a 16-bit table widened, exactly).
inline std::vector<float> Values(const Variable& v) {
  if (!v.is16()) return v.value.ToVector();
  std::vector<float> out(static_cast<size_t>(v.size()));
  WidenRow(v.precision, v.value16.data(), v.size(), out.data());
  return out;
}

}  // namespace crank::dist_test

#endif  // CRANK_DIST_DIST_TEST_UTIL_H_
