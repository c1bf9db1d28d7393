#ifndef CRANK_TRAIN_TENSORBOARD_HOOK_H_
#define CRANK_TRAIN_TENSORBOARD_HOOK_H_

// TensorBoardHook: a Trainer's curves as TensorBoard scalars (train.tensorboard, `crank train
// --tensorboard DIR`), written to an event file in DIR by EventFileWriter
// (summary/event_file_writer.h). Tags, as Keras and TFRS users know them:
//   train/loss                       the mean task loss of the steps since the last point
//   train/examples_per_sec           their examples over their wall time (evaluations
//                                    excluded)
//   train/learning_rate/<optimizer>  the rate the step used, per optimizer of the job
//                                    ("embedding", "dense"), from its schedule
// at every step that is a multiple of `every_steps` and at the end of each epoch (for the
// steps since the last point, if any); and eval/<metric> for each metric of each evaluation,
// at its step. The file is flushed after each evaluation, at each epoch end and on
// destruction.
//
// A write error during training does not stop it: the hook logs one warning naming the file
// and the cause, stops writing (the file keeps its whole records) and reports it in error();
// the model and checkpoints are unaffected. Not thread-safe (a hook runs on Fit's thread).

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "crank/optim/schedule.h"
#include "crank/summary/event_file_writer.h"
#include "crank/train/hooks.h"
#include "crank/train/job_config.h"

namespace crank {

struct TensorBoardOptions {
  std::string dir;
  int64_t every_steps = 100;  // >= 1
  // (name, schedule): written as train/learning_rate/<name>.
  std::vector<std::pair<std::string, std::shared_ptr<const LearningRateSchedule>>> learning_rates;
};

// The options of `config`'s train.tensorboard and train.tensorboard_every with the schedules of
// its embedding and dense optimizers.
TensorBoardOptions TensorBoardOptionsFor(const JobConfig& config);

class TensorBoardHook : public TrainHook {
 public:
  // Opens the event file (IoError naming the directory when it cannot be created or written).
  explicit TensorBoardHook(TensorBoardOptions options);

  void OnEpochBegin(int64_t epoch, int64_t epochs, int64_t total_bytes) override;
  bool MayStopAtStepEnd() const override { return false; }
  HookAction OnStepEnd(const StepEndInfo& step) override;
  void OnEvalBegin(int64_t epoch, int64_t step) override;
  HookAction OnEval(const EvalInfo& eval) override;
  void OnEpochEnd(int64_t epoch) override;

  // The event file's path.
  const std::string& path() const { return writer_.path(); }
  // Empty, or the write error that stopped the summaries.
  const std::string& error() const { return error_; }

 private:
  using Clock = std::chrono::steady_clock;
  // Writes the train/ point for the steps since the last one (if any).
  void WriteTrainPoint();
  // Runs a write; on IoError records and logs it and stops writing.
  template <typename F>
  void Guarded(F&& write);

  TensorBoardOptions options_;
  EventFileWriter writer_;
  std::string error_;
  // The interval since the last train/ point.
  int64_t last_step_ = 0;
  int64_t steps_ = 0;
  int64_t examples_ = 0;
  double loss_sum_ = 0.0;
  double seconds_ = 0.0;     // wall time of the interval's steps
  Clock::time_point since_;  // start of the running part of the interval
  bool running_ = false;     // the clock runs (not in an evaluation)
};

}  // namespace crank

#endif  // CRANK_TRAIN_TENSORBOARD_HOOK_H_
