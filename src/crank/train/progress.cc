#include "crank/train/progress.h"

#include <fmt/format.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>

#include "crank/base/log.h"

namespace crank {

bool StderrIsTerminal() { return isatty(STDERR_FILENO) == 1; }

Progress::Progress(bool interactive, double log_every_seconds)
    : interactive_(interactive), log_every_seconds_(log_every_seconds) {
  start_ = epoch_start_ = last_draw_ = Clock::now();
}

void Progress::StartEpoch(int64_t epoch, int64_t epochs, int64_t total_bytes) {
  epoch_ = epoch;
  epochs_ = epochs;
  total_bytes_ = total_bytes;
  bytes_done_ = 0;
  epoch_examples_ = 0;
  epoch_start_ = last_draw_ = Clock::now();
}

double Progress::examples_per_second() const {
  const double s = std::chrono::duration<double>(Clock::now() - start_).count();
  return s > 0 ? examples_ / s : 0.0;
}

void Progress::Step(int64_t global_step, int64_t examples, double loss, int64_t bytes_done) {
  step_ = global_step;
  examples_ += examples;
  epoch_examples_ += examples;
  bytes_done_ = bytes_done;
  if (std::isfinite(loss)) {
    // Exponential moving average over about 100 steps.
    running_loss_ = have_loss_ ? 0.99 * running_loss_ + 0.01 * loss : loss;
    have_loss_ = true;
  }
  Draw(false);
}

void Progress::Draw(bool force) {
  const auto now = Clock::now();
  const double since = std::chrono::duration<double>(now - last_draw_).count();
  const double interval = interactive_ ? 0.2 : log_every_seconds_;
  if (!force && since < interval) return;
  last_draw_ = now;
  const double elapsed = std::chrono::duration<double>(now - epoch_start_).count();
  const double rate = elapsed > 0 ? epoch_examples_ / elapsed : 0.0;
  const double frac = total_bytes_ > 0 ? std::min(1.0, double(bytes_done_) / total_bytes_) : -1.0;
  std::string eta = "?";
  if (frac > 0) {
    const int s = static_cast<int>(elapsed / frac - elapsed);
    eta = fmt::format("{}:{:02d}", s / 60, s % 60);
  }
  if (interactive_) {
    const int width = 24;
    const int filled = frac >= 0 ? static_cast<int>(frac * width) : 0;
    std::string bar(static_cast<size_t>(filled), '=');
    bar.resize(width, ' ');
    std::fprintf(stderr, "\r  epoch %lld/%lld [%s] %3.0f%%  %.0f ex/s  loss %.4f  ETA %s   ",
                 static_cast<long long>(epoch_ + 1), static_cast<long long>(epochs_), bar.c_str(),
                 frac >= 0 ? frac * 100 : 0.0, rate, running_loss_, eta.c_str());
    std::fflush(stderr);
    drawn_ = true;
  } else {
    LogInfo("epoch {}/{} step {}: {:.0f} examples/s, loss {:.4f}, {}% of the epoch, ETA {}",
            epoch_ + 1, epochs_, step_, rate, running_loss_,
            frac >= 0 ? static_cast<int>(frac * 100) : -1, eta);
  }
}

void Progress::Finish() {
  if (interactive_ && drawn_) {
    std::fprintf(stderr, "\n");
    drawn_ = false;
  }
}

}  // namespace crank
