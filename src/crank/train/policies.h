#ifndef CRANK_TRAIN_POLICIES_H_
#define CRANK_TRAIN_POLICIES_H_

// The trainer's small decisions, each in one place: when a step-based action is due
// (StepCadence: evaluation, checkpoints) and when to stop because the watched metric no longer
// improves (EarlyStopping, used alike on live evaluations and to replay a resumed run's
// history). Plain values; not thread-safe.

#include <cstdint>

#include "crank/train/hooks.h"

namespace crank {

// An action due every `every` optimizer steps; every <= 0: never.
struct StepCadence {
  int64_t every = 0;
  bool Due(int64_t global_step) const { return every > 0 && global_step % every == 0; }
};

// Stops training when the watched metric (AUC for classification, higher is better; RMSE for
// regression, lower is better) has not improved for `patience` evaluations in a row. A
// missing or NaN metric counts as no improvement, except that the first evaluation always
// sets the best.
class EarlyStopping {
 public:
  // patience <= 0: never asks to stop (the best value is still tracked).
  EarlyStopping(int64_t patience, bool higher_is_better);

  // Takes one evaluation's metrics into account; returns true when training should stop now.
  // Replaying a run's earlier evaluations in order (ignoring the result) restores the state
  // the run had.
  bool Observe(const MetricMap& metrics);

  const char* metric_name() const { return higher_is_better_ ? "auc" : "rmse"; }
  double best() const { return best_; }
  // Evaluations since the best one.
  int64_t since_best() const { return since_best_; }

 private:
  int64_t patience_;
  bool higher_is_better_;
  double best_;
  int64_t since_best_ = 0;
};

}  // namespace crank

#endif  // CRANK_TRAIN_POLICIES_H_
