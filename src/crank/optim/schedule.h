#ifndef CRANK_OPTIM_SCHEDULE_H_
#define CRANK_OPTIM_SCHEDULE_H_

// Learning-rate schedules: the rate an optimizer uses at a given step.
//
// An optimizer calls Rate(iterations()) once per Apply, before it increments its step count, so
// the first update uses Rate(0) (as Keras does with `optimizer.iterations`). Schedules are
// immutable after construction; Rate() and Describe() are safe to call from several threads.

#include <cstdint>
#include <memory>
#include <string>

namespace crank {

class LearningRateSchedule {
 public:
  virtual ~LearningRateSchedule();
  // The learning rate for the update at `step` (0-based count of updates already applied).
  virtual float Rate(int64_t step) const = 0;
  // One line, e.g. "constant(0.05)".
  virtual std::string Describe() const = 0;
};

// Rate(step) == lr for every step. Requires lr finite and >= 0 (else InvalidArgument).
std::unique_ptr<LearningRateSchedule> MakeConstantSchedule(float lr);

// TF Model Garden's WarmUpAndPolyDecay (official/recommendation/ranking/common.py), the schedule
// of the DLRM/DCN Criteo recipes. With adj = learning_rate * batch_size / 2048 and s = step:
//   warmup_steps == 0                          -> adj                  (no floor at all)
//   s < warmup_steps                           -> s / warmup_steps * adj
//   decay_steps > 0 and s > decay_start_steps  -> max(1e-4, adj * ((decay_steps - d) /
//                                                 decay_steps)^decay_exp),
//                                                 d = min(s - decay_start_steps, decay_steps)
//   otherwise                                  -> adj
// and the result (except in the first case) is floored at 0.01: Rate = max(0.01, lr). The floor
// applies whatever learning_rate is, exactly as in the reference. The warm-up product is
// computed in double and the decay in float32, as TF does for an int64 step.
struct WarmUpAndPolyDecayOptions {
  int64_t batch_size = 2048;
  double decay_exp = 2;
  double learning_rate = 40.0;
  int64_t warmup_steps = 8000;
  int64_t decay_steps = 12000;
  int64_t decay_start_steps = 10000;
};

// Requires batch_size > 0, learning_rate finite and >= 0, decay_exp finite and >= 0, and
// warmup_steps, decay_steps, decay_start_steps >= 0 (else InvalidArgument naming the field).
std::unique_ptr<LearningRateSchedule> MakeWarmUpAndPolyDecay(WarmUpAndPolyDecayOptions o);

}  // namespace crank

#endif  // CRANK_OPTIM_SCHEDULE_H_
