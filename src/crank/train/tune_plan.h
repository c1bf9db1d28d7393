#ifndef CRANK_TRAIN_TUNE_PLAN_H_
#define CRANK_TRAIN_TUNE_PLAN_H_

// The time arithmetic of `crank tune` (train/tune.h, docs/tune.md): what one trial costs and
// how the budget left after trial 0 is cut into successive-halving brackets. Pure functions.

#include <cstdint>
#include <vector>

#include "crank/train/job_config.h"

namespace crank {

struct TuneOptions;  // train/tune.h

// The relative cost of one training example of `config`'s model: multiply-adds of the bottom
// stack, the interaction and the top stack (forward; backward is proportional), plus a fixed
// weight per embedding element gathered and updated. Only ratios between configurations are
// meaningful. Pure function of the model section and the data's field counts.
double StepWork(const JobConfig& config);

// One rung of a bracket: `configs` trials, each on `fraction` of the training steps.
struct Rung {
  int64_t configs = 0;
  double fraction = 1.0;
};
using Bracket = std::vector<Rung>;  // fractions increase; the last is 1

// The measured cost of trial 0: `train_seconds` for its training steps over `epochs` epochs of
// `rows` rows, `other_seconds` for the rest (reading setup, evaluation, checkpoints).
struct TrialCost {
  double train_seconds = 0.0;
  double other_seconds = 0.0;
  int64_t epochs = 1;
  int64_t rows = 0;
  double work = 0.0;  // StepWork of the base configuration; 0 = unknown (ratios of 1)
  // Estimated seconds of a trial on `fraction` of the steps of `epochs` epochs.
  double Estimate(double fraction, double epochs_of_trial) const;
};

// Estimated seconds of a trial of `steps` training steps and `evaluations` evaluations (one per
// epoch on all rows, one on a partial rung): `step_seconds` per step when a trial of the same
// configuration measured it (> 0), else trial 0's seconds per step scaled by
// work / cost.work; other_seconds (trial 0's reading set-up and evaluation) per evaluation.
double EstimateTrial(const TrialCost& cost, int64_t steps_per_epoch, int64_t steps,
                     int64_t evaluations, double work, double step_seconds);

// What a completed full-data trial measured: its wall seconds, of them in training steps, the
// steps it trained, the epochs it completed of the `epochs` configured (fewer when early
// stopping ended it) and its configuration's StepWork.
struct MeasuredRun {
  double seconds = 0.0;
  double train_seconds = 0.0;
  int64_t steps = 0;
  int64_t epochs_completed = 0;
  int64_t epochs = 0;
  double work = 0.0;
};

// Estimated seconds of a full-data trial of a configuration of `epochs` epochs and StepWork
// `work` from `run`, a full-data trial of a configuration one step from it (the refinement's
// parent: the same data, the machine's load of a moment ago): run's seconds per step scaled by
// work / run.work, and run's other seconds (set-up, evaluations) per completed epoch, times the
// epochs the trial is expected to train: `epochs`, but at most run.epochs_completed when early
// stopping ended run before its last epoch (the neighbour of a configuration that overfits
// after epoch e is expected to stop there too). Falls back to nothing: call only with
// run.steps > 0, run.epochs_completed > 0 and run.train_seconds > 0.
double EstimateFromRun(const MeasuredRun& run, int64_t steps_per_epoch, int64_t epochs,
                       double work);

// The brackets for `budget_seconds` left after trial 0, given its cost: pure arithmetic.
// Each bracket takes the largest s (<= max_halvings, eta^-s * rows >= min_rung_rows) for which
// eta^s configurations fit, then the most configurations n0 (<= max_configs_per_bracket) that
// fit; rung i has max(1, n0 / eta^i) configurations on eta^(i-s) of the steps. Brackets follow
// one another while the estimated cost of a next one fits what is left. Empty when not even one
// full-data trial fits.
std::vector<Bracket> PlanBrackets(const TuneOptions& options, const TrialCost& cost,
                                  double budget_seconds);
// Estimated seconds of `bracket` (epochs: the mean of the space's).
double EstimateBracket(const TuneOptions& options, const TrialCost& cost, const Bracket& bracket);

}  // namespace crank

#endif  // CRANK_TRAIN_TUNE_PLAN_H_
