#include "crank/dist/watchdog.h"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cmath>

#include "crank/base/error.h"

namespace crank {

CollectiveWatchdog::CollectiveWatchdog(double timeout_seconds, OnTimeout on_timeout, Clock clock)
    : timeout_(timeout_seconds),
      on_timeout_(std::move(on_timeout)),
      clock_(clock ? std::move(clock) : Clock([] {
        return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch())
            .count();
      })) {
  CRANK_REQUIRE(std::isfinite(timeout_seconds) && timeout_seconds > 0,
                "CollectiveWatchdog: the timeout must be a positive number of seconds");
}

CollectiveWatchdog::~CollectiveWatchdog() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  stop_cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void CollectiveWatchdog::Start(double poll_seconds) {
  CRANK_REQUIRE(!thread_.joinable(), "CollectiveWatchdog::Start: already started");
  if (!(poll_seconds > 0)) poll_seconds = std::min(1.0, timeout_ / 10);
  poll_seconds_ = poll_seconds;
  thread_ = std::thread([this, poll_seconds] { Run(poll_seconds); });
}

void CollectiveWatchdog::SetPeerHooks(std::function<void()> on_poll, Diagnose diagnose) {
  CRANK_REQUIRE(!thread_.joinable(), "CollectiveWatchdog::SetPeerHooks: call it before Start");
  on_poll_ = std::move(on_poll);
  diagnose_ = std::move(diagnose);
}

void CollectiveWatchdog::Enter(const char* name) {
  const double now = clock_();
  std::lock_guard<std::mutex> lock(mu_);
  inside_ = name;
  entered_ = now;
}

void CollectiveWatchdog::Leave() {
  std::lock_guard<std::mutex> lock(mu_);
  inside_ = nullptr;
}

void CollectiveWatchdog::SetPhase(std::string phase) {
  std::lock_guard<std::mutex> lock(mu_);
  phase_ = std::move(phase);
}

std::optional<std::string> CollectiveWatchdog::Check(double now, const std::string& missing) const {
  std::lock_guard<std::mutex> lock(mu_);
  if (inside_ == nullptr) return std::nullopt;
  const double waited = now - entered_;
  if (waited <= timeout_) return std::nullopt;
  return fmt::format(
      "no progress in {} for {:.0f} s during {}: {} (--collective-timeout {:g} s, 0 turns the "
      "check off)",
      inside_, waited, phase_,
      missing.empty() ? "another rank did not arrive: it stopped, hung or is far slower" : missing,
      timeout_);
}

void CollectiveWatchdog::Run(double poll_seconds) {
  std::unique_lock<std::mutex> lock(mu_);
  while (!stop_) {
    stop_cv_.wait_for(lock, std::chrono::duration<double>(poll_seconds));
    if (stop_) return;
    lock.unlock();
    if (on_poll_) on_poll_();
    const double now = clock_();
    std::optional<std::string> message = Check(now);
    if (message) {
      if (diagnose_) message = Check(now, diagnose_());
      if (message) on_timeout_(*message);
      return;
    }
    lock.lock();
  }
}

}  // namespace crank
