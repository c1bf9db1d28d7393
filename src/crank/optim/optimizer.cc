#include "crank/optim/optimizer.h"

#include "crank/base/error.h"

namespace crank {

Optimizer::~Optimizer() = default;

void Optimizer::set_iterations(int64_t n) {
  CRANK_REQUIRE(n >= 0, "optimizer: expected iterations >= 0, got {}", n);
  iterations_ = n;
  OnSetIterations(n);
}

}  // namespace crank
