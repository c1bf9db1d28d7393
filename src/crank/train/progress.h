#ifndef CRANK_TRAIN_PROGRESS_H_
#define CRANK_TRAIN_PROGRESS_H_

// Training progress on stderr: on a terminal a single redrawn bar with examples/s, running
// loss and ETA; otherwise plain log lines every `log_every_seconds`. ProgressHook shows a
// Trainer's progress this way. Not thread-safe.

#include <chrono>
#include <cstdint>
#include <string>

#include "crank/train/hooks.h"

namespace crank {

class Progress {
 public:
  // interactive: draw a bar (true when stderr is a terminal, see StderrIsTerminal()).
  Progress(bool interactive, double log_every_seconds);

  // Starts an epoch of `total_bytes` input (0 if unknown).
  void StartEpoch(int64_t epoch, int64_t epochs, int64_t total_bytes);
  // Reports one step: examples in it, its loss, bytes of input consumed so far in the epoch.
  void Step(int64_t global_step, int64_t examples, double loss, int64_t bytes_done);
  // Ends the bar (newline) before other output.
  void Finish();

  double examples_per_second() const;
  double running_loss() const { return running_loss_; }

 private:
  void Draw(bool force);
  using Clock = std::chrono::steady_clock;
  bool interactive_;
  double log_every_seconds_;
  Clock::time_point start_;
  Clock::time_point epoch_start_;
  Clock::time_point last_draw_;
  int64_t epoch_ = 0, epochs_ = 1;
  int64_t total_bytes_ = 0, bytes_done_ = 0;
  int64_t examples_ = 0, epoch_examples_ = 0, step_ = 0;
  double running_loss_ = 0.0;
  bool have_loss_ = false;
  bool drawn_ = false;
};

// The trainer's progress output: epochs start bars, steps advance them, and evaluations and
// epoch ends finish them (so that log lines start on a fresh line). Never asks to stop.
class ProgressHook : public TrainHook {
 public:
  ProgressHook(bool interactive, double log_every_seconds)
      : progress_(interactive, log_every_seconds) {}

  void OnEpochBegin(int64_t epoch, int64_t epochs, int64_t total_bytes) override {
    progress_.StartEpoch(epoch, epochs, total_bytes);
  }
  bool MayStopAtStepEnd() const override { return false; }
  HookAction OnStepEnd(const StepEndInfo& s) override {
    progress_.Step(s.step, s.batch_size, s.loss, s.bytes_read);
    return HookAction::kContinue;
  }
  void OnEvalBegin(int64_t, int64_t) override { progress_.Finish(); }
  void OnEpochEnd(int64_t) override { progress_.Finish(); }

  const Progress& progress() const { return progress_; }

 private:
  Progress progress_;
};

bool StderrIsTerminal();

}  // namespace crank

#endif  // CRANK_TRAIN_PROGRESS_H_
