#ifndef CRANK_OPTIM_FACTORY_H_
#define CRANK_OPTIM_FACTORY_H_

// Optimizer configuration as filled from YAML / CLI flags, and the factory that builds it.

#include <memory>
#include <string>

#include "crank/optim/optimizer.h"
#include "crank/optim/schedule.h"

namespace crank {

// Fields a kind does not use are ignored: sgd reads learning_rate, momentum, nesterov;
// adagrad and rowwise_adagrad read learning_rate, initial_accumulator_value, epsilon; adam reads
// learning_rate, beta_1, beta_2, epsilon.
struct OptimizerConfig {
  std::string kind = "adagrad";  // sgd | adagrad | rowwise_adagrad | adam
  float learning_rate = 0.01;
  float momentum = 0;
  bool nesterov = false;
  float beta_1 = 0.9;
  float beta_2 = 0.999;
  float epsilon = 1e-7;
  float initial_accumulator_value = 0.1;
  // constant | warmup_poly_decay. With warmup_poly_decay the schedule's peak rate is
  // learning_rate (warmup.learning_rate is ignored); the other warmup fields apply.
  std::string schedule = "constant";
  WarmUpAndPolyDecayOptions warmup;

  // Throws ConfigError naming the field ("optimizer.<field>"), the expected range and the value.
  void Validate() const;
};

// Validates config (ConfigError on an unknown kind or schedule or a value out of range) and
// builds the optimizer with its schedule.
std::unique_ptr<Optimizer> MakeOptimizer(const OptimizerConfig& config);

// Builds the schedule of config (constant learning_rate or warmup_poly_decay); validates it.
std::unique_ptr<LearningRateSchedule> MakeSchedule(const OptimizerConfig& config);

}  // namespace crank

#endif  // CRANK_OPTIM_FACTORY_H_
