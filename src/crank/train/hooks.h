#ifndef CRANK_TRAIN_HOOKS_H_
#define CRANK_TRAIN_HOOKS_H_

// TrainHook: what the Trainer tells the outside world while it trains, and the one way the
// outside world can ask it to stop. The progress bar (ProgressHook) is one; a Python callback
// or a distributed all-reduce of metrics are others.
//
// Order of calls within Trainer::Fit, for every epoch run:
//   OnEpochBegin
//   per step:            OnStepEnd
//   evaluation (every eval_every steps and after each epoch): OnEvalBegin, OnEval
//   checkpoint (every checkpoint_every steps and after each epoch): OnCheckpoint
//   OnEpochEnd           (also when an error is about to leave Fit)
// Hooks are called in the order they were added, on the thread that runs Fit. Arguments are
// valid only during the call. A hook that throws ends Fit with its exception (the last
// checkpoint on disk is kept).
//
// Stopping: OnStepEnd or OnEval returning HookAction::kStop ends the run after the current
// step's evaluation (a stop from OnEval skips that step's checkpoint, like early stopping):
// the trainer saves the checkpoint, publishes the model and returns with
// TrainResult::stopped_by_hook. The run is paused, not finished: `--resume` continues it.

#include <cstdint>
#include <map>
#include <string>

namespace crank {

using MetricMap = std::map<std::string, double>;

struct TrainingState;

enum class HookAction { kContinue, kStop };

// One optimizer step, just taken.
struct StepEndInfo {
  int64_t step = 0;         // global step, 1-based: steps taken so far
  int64_t epoch = 0;        // 0-based epoch the step belongs to
  int64_t batch_size = 0;   // examples in the step's batch
  double loss = 0.0;        // the task loss of the batch (mean over examples)
  double total_loss = 0.0;  // loss plus regularization
  int64_t bytes_read = 0;   // input bytes the reader has read in this epoch
};

// One evaluation, just done.
struct EvalInfo {
  const char* when = "";  // "every eval_every steps" or "after epoch"
  int64_t epoch = 0;      // 1-based epoch the evaluation belongs to (completed or in progress)
  int64_t step = 0;       // global step
  const MetricMap* metrics = nullptr;  // the task metrics (Evaluate())
};

class TrainHook {
 public:
  virtual ~TrainHook() = default;

  // Epoch `epoch` (0-based) of `epochs` starts (or resumes); total_bytes: the training
  // files' size (0 if unknown).
  virtual void OnEpochBegin(int64_t epoch, int64_t epochs, int64_t total_bytes) {}
  virtual HookAction OnStepEnd(const StepEndInfo& step) { return HookAction::kContinue; }
  // False when OnStepEnd never returns kStop: a run on several ranks then asks the ranks
  // whether to stop only when some rank has a hook that may (one collective per step less).
  virtual bool MayStopAtStepEnd() const { return true; }
  // An evaluation is about to run (e.g. to end a progress line before its log line).
  virtual void OnEvalBegin(int64_t epoch, int64_t step) {}
  virtual HookAction OnEval(const EvalInfo& eval) { return HookAction::kContinue; }
  // A checkpoint (or the final model, when it cannot be published as a link) was written to
  // `path` atomically and holds `state`.
  virtual void OnCheckpoint(const std::string& path, const TrainingState& state) {}
  // The epoch's steps are over: it completed, the run stops, or an error is about to leave Fit.
  virtual void OnEpochEnd(int64_t epoch) {}
};

}  // namespace crank

#endif  // CRANK_TRAIN_HOOKS_H_
