#include "crank/train/tensorboard_hook.h"

#include "crank/base/error.h"
#include "crank/base/log.h"
#include "crank/optim/factory.h"

namespace crank {

TensorBoardOptions TensorBoardOptionsFor(const JobConfig& config) {
  TensorBoardOptions o;
  o.dir = config.train.tensorboard;
  o.every_steps = config.train.tensorboard_every;
  o.learning_rates.emplace_back("embedding", MakeSchedule(config.embedding_optimizer));
  o.learning_rates.emplace_back("dense", MakeSchedule(config.dense_optimizer));
  return o;
}

TensorBoardHook::TensorBoardHook(TensorBoardOptions options)
    : options_(std::move(options)), writer_(options_.dir) {
  CRANK_REQUIRE(options_.every_steps >= 1,
                "TensorBoardHook: every_steps must be at least 1, got {}", options_.every_steps);
  LogInfo("TensorBoard scalars go to {}", writer_.path());
}

template <typename F>
void TensorBoardHook::Guarded(F&& write) {
  if (!error_.empty()) return;
  try {
    write();
  } catch (const IoError& e) {
    error_ = e.what();
    LogWarning("{}; no more TensorBoard scalars are written (training goes on)", error_);
  }
}

void TensorBoardHook::OnEpochBegin(int64_t epoch, int64_t epochs, int64_t total_bytes) {
  since_ = Clock::now();
  running_ = true;
}

HookAction TensorBoardHook::OnStepEnd(const StepEndInfo& step) {
  last_step_ = step.step;
  ++steps_;
  examples_ += step.batch_size;
  loss_sum_ += step.loss;
  if (step.step % options_.every_steps == 0) WriteTrainPoint();
  return HookAction::kContinue;
}

void TensorBoardHook::OnEvalBegin(int64_t epoch, int64_t step) {
  if (running_) seconds_ += std::chrono::duration<double>(Clock::now() - since_).count();
  running_ = false;
}

HookAction TensorBoardHook::OnEval(const EvalInfo& eval) {
  std::vector<std::pair<std::string, double>> scalars;
  for (const auto& [name, value] : *eval.metrics) scalars.emplace_back("eval/" + name, value);
  Guarded([&] {
    writer_.AddScalars(eval.step, scalars);
    writer_.Flush();
  });
  since_ = Clock::now();
  running_ = true;
  return HookAction::kContinue;
}

void TensorBoardHook::OnEpochEnd(int64_t epoch) {
  WriteTrainPoint();
  running_ = false;
  Guarded([&] { writer_.Flush(); });
}

void TensorBoardHook::WriteTrainPoint() {
  if (steps_ == 0) return;
  const Clock::time_point now = Clock::now();
  if (running_) seconds_ += std::chrono::duration<double>(now - since_).count();
  since_ = now;
  std::vector<std::pair<std::string, double>> scalars;
  scalars.emplace_back("train/loss", loss_sum_ / static_cast<double>(steps_));
  if (seconds_ > 0) {
    scalars.emplace_back("train/examples_per_sec", static_cast<double>(examples_) / seconds_);
  }
  for (const auto& [name, schedule] : options_.learning_rates) {
    scalars.emplace_back("train/learning_rate/" + name, schedule->Rate(last_step_ - 1));
  }
  Guarded([&] { writer_.AddScalars(last_step_, scalars); });
  steps_ = 0;
  examples_ = 0;
  loss_sum_ = 0.0;
  seconds_ = 0.0;
}

}  // namespace crank
