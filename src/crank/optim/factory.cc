#include "crank/optim/factory.h"

#include <fmt/format.h>

#include <cmath>

#include "crank/base/error.h"

namespace crank {
namespace {

// Throws ConfigError with the formatted message when cond is false.
template <typename... Args>
void RequireConfig(bool cond, fmt::format_string<Args...> f, Args&&... args) {
  if (!cond) throw ConfigError(fmt::format(f, std::forward<Args>(args)...));
}

bool IsUnitInterval(float x) { return std::isfinite(x) && x >= 0.0f && x < 1.0f; }

}  // namespace

void OptimizerConfig::Validate() const {
  RequireConfig(kind == "sgd" || kind == "adagrad" || kind == "rowwise_adagrad" || kind == "adam",
                "optimizer.kind: expected one of sgd, adagrad, rowwise_adagrad, adam; got '{}'",
                kind);
  RequireConfig(schedule == "constant" || schedule == "warmup_poly_decay",
                "optimizer.schedule: expected constant or warmup_poly_decay; got '{}'", schedule);
  RequireConfig(std::isfinite(learning_rate) && learning_rate > 0.0f,
                "optimizer.learning_rate: expected a finite value > 0; got {}", learning_rate);
  if (kind == "sgd") {
    RequireConfig(IsUnitInterval(momentum), "optimizer.momentum: expected [0, 1); got {}",
                  momentum);
    RequireConfig(!nesterov || momentum > 0.0f,
                  "optimizer.nesterov: requires momentum > 0; got momentum {}", momentum);
  }
  if (kind == "adam") {
    RequireConfig(IsUnitInterval(beta_1), "optimizer.beta_1: expected [0, 1); got {}", beta_1);
    RequireConfig(IsUnitInterval(beta_2), "optimizer.beta_2: expected [0, 1); got {}", beta_2);
  }
  if (kind != "sgd") {
    RequireConfig(std::isfinite(epsilon) && epsilon >= 0.0f,
                  "optimizer.epsilon: expected a finite value >= 0; got {}", epsilon);
  }
  if (kind == "adagrad" || kind == "rowwise_adagrad") {
    RequireConfig(std::isfinite(initial_accumulator_value) && initial_accumulator_value >= 0.0f,
                  "optimizer.initial_accumulator_value: expected a finite value >= 0; got {}",
                  initial_accumulator_value);
  }
  if (schedule == "warmup_poly_decay") {
    RequireConfig(warmup.batch_size > 0, "optimizer.warmup.batch_size: expected > 0; got {}",
                  warmup.batch_size);
    RequireConfig(std::isfinite(warmup.decay_exp) && warmup.decay_exp >= 0.0,
                  "optimizer.warmup.decay_exp: expected a finite value >= 0; got {}",
                  warmup.decay_exp);
    RequireConfig(warmup.warmup_steps >= 0, "optimizer.warmup.warmup_steps: expected >= 0; got {}",
                  warmup.warmup_steps);
    RequireConfig(warmup.decay_steps >= 0, "optimizer.warmup.decay_steps: expected >= 0; got {}",
                  warmup.decay_steps);
    RequireConfig(warmup.decay_start_steps >= 0,
                  "optimizer.warmup.decay_start_steps: expected >= 0; got {}",
                  warmup.decay_start_steps);
  }
}

std::unique_ptr<LearningRateSchedule> MakeSchedule(const OptimizerConfig& config) {
  config.Validate();
  if (config.schedule == "warmup_poly_decay") {
    WarmUpAndPolyDecayOptions o = config.warmup;
    o.learning_rate = config.learning_rate;
    return MakeWarmUpAndPolyDecay(o);
  }
  return MakeConstantSchedule(config.learning_rate);
}

std::unique_ptr<Optimizer> MakeOptimizer(const OptimizerConfig& config) {
  config.Validate();
  // A constant rate is passed as the options' learning_rate (Describe() then shows the number).
  std::unique_ptr<LearningRateSchedule> schedule =
      config.schedule == "constant" ? nullptr : MakeSchedule(config);
  if (config.kind == "sgd") {
    return MakeSgd({config.learning_rate, config.momentum, config.nesterov}, std::move(schedule));
  }
  if (config.kind == "adagrad") {
    return MakeAdagrad({config.learning_rate, config.initial_accumulator_value, config.epsilon},
                       std::move(schedule));
  }
  if (config.kind == "rowwise_adagrad") {
    return MakeRowWiseAdagrad(
        {config.learning_rate, config.initial_accumulator_value, config.epsilon},
        std::move(schedule));
  }
  CRANK_CHECK(config.kind == "adam", "Validate() admitted optimizer kind '{}'", config.kind);
  return MakeAdam({config.learning_rate, config.beta_1, config.beta_2, config.epsilon},
                  std::move(schedule));
}

}  // namespace crank
