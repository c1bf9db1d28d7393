#include "crank/optim/schedule.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "crank/base/error.h"

namespace crank {

LearningRateSchedule::~LearningRateSchedule() = default;

namespace {

class ConstantSchedule final : public LearningRateSchedule {
 public:
  explicit ConstantSchedule(float lr) : lr_(lr) {}
  float Rate(int64_t /*step*/) const override { return lr_; }
  std::string Describe() const override { return fmt::format("constant({})", lr_); }

 private:
  float lr_;
};

class WarmUpAndPolyDecay final : public LearningRateSchedule {
 public:
  explicit WarmUpAndPolyDecay(const WarmUpAndPolyDecayOptions& o) : o_(o) {}

  float Rate(int64_t step) const override {
    const double adj_lr = o_.learning_rate * (static_cast<double>(o_.batch_size) / 2048.0);
    if (o_.warmup_steps == 0) return static_cast<float>(adj_lr);

    const float global_step = static_cast<float>(step);
    float lr;
    if (global_step < static_cast<float>(o_.warmup_steps)) {
      lr = static_cast<float>(static_cast<double>(step) / static_cast<double>(o_.warmup_steps) *
                              adj_lr);
    } else {
      const float decay_steps = static_cast<float>(o_.decay_steps);
      const float decay_start = static_cast<float>(o_.decay_start_steps);
      if (decay_steps > 0.0f && global_step > decay_start) {
        const float decayed = std::min(global_step - decay_start, decay_steps);
        const float decay_lr =
            static_cast<float>(adj_lr) *
            std::pow((decay_steps - decayed) / decay_steps, static_cast<float>(o_.decay_exp));
        lr = std::max(0.0001f, decay_lr);
      } else {
        lr = static_cast<float>(adj_lr);
      }
    }
    return std::max(0.01f, lr);
  }

  std::string Describe() const override {
    return fmt::format(
        "warmup_poly_decay(learning_rate={}, batch_size={}, warmup_steps={}, "
        "decay_start_steps={}, decay_steps={}, decay_exp={})",
        o_.learning_rate, o_.batch_size, o_.warmup_steps, o_.decay_start_steps, o_.decay_steps,
        o_.decay_exp);
  }

 private:
  WarmUpAndPolyDecayOptions o_;
};

}  // namespace

std::unique_ptr<LearningRateSchedule> MakeConstantSchedule(float lr) {
  CRANK_REQUIRE(std::isfinite(lr) && lr >= 0.0f,
                "constant schedule: expected a finite learning rate >= 0, got {}", lr);
  return std::make_unique<ConstantSchedule>(lr);
}

std::unique_ptr<LearningRateSchedule> MakeWarmUpAndPolyDecay(WarmUpAndPolyDecayOptions o) {
  CRANK_REQUIRE(o.batch_size > 0, "warmup_poly_decay: expected batch_size > 0, got {}",
                o.batch_size);
  CRANK_REQUIRE(std::isfinite(o.learning_rate) && o.learning_rate >= 0.0,
                "warmup_poly_decay: expected a finite learning_rate >= 0, got {}", o.learning_rate);
  CRANK_REQUIRE(std::isfinite(o.decay_exp) && o.decay_exp >= 0.0,
                "warmup_poly_decay: expected a finite decay_exp >= 0, got {}", o.decay_exp);
  CRANK_REQUIRE(o.warmup_steps >= 0, "warmup_poly_decay: expected warmup_steps >= 0, got {}",
                o.warmup_steps);
  CRANK_REQUIRE(o.decay_steps >= 0, "warmup_poly_decay: expected decay_steps >= 0, got {}",
                o.decay_steps);
  CRANK_REQUIRE(o.decay_start_steps >= 0,
                "warmup_poly_decay: expected decay_start_steps >= 0, got {}", o.decay_start_steps);
  return std::make_unique<WarmUpAndPolyDecay>(o);
}

}  // namespace crank
