#ifndef CRANK_DIST_WATCHDOG_H_
#define CRANK_DIST_WATCHDOG_H_

// CollectiveWatchdog: notices a rank that waits in one collective for longer than a timeout,
// which is what the other ranks see when one rank hangs without dying (stopped with SIGSTOP,
// blocked on a stuck file system, in an endless loop): MPI has no timeout of its own, and
// mpirun ends a job only when a process exits.
//
// Progress is a collective completing. The rule counts only the time spent *inside* one
// collective: a rank computing, reading or writing between collectives for as long as it
// needs (a vocabulary pass, rank 0 writing a checkpoint) is never timed itself, but every
// other rank then waits for it in the next collective, so one timeout bounds both a hung
// rank (seen by its peers) and the longest legitimate imbalance between ranks (rank 0 writing
// a checkpoint while the others wait). When the wait in one collective exceeds the timeout,
// the watchdog calls `on_timeout` once with a message naming the collective, the seconds
// waited and the phase of the run the rank was in (SetPhase).
//
// Who did not arrive: before Start, SetPeerHooks can give the watchdog `on_poll`, run on
// every poll (a rank publishes its heartbeat there), and `diagnose`, run once when the timeout
// is reached, which names the peers that did not arrive ("rank 1 did not arrive (...)"); the
// message then says that instead of "another rank did not arrive".
//
// Threads: Enter/Leave/SetPhase are called by the thread that runs the collectives; a
// background thread (started by Start) polls and runs the hooks. Check is the pure rule, for tests
// with a fake clock. on_timeout runs on the background thread and is expected not to return
// (MPI_Abort); if it returns, the watchdog stops polling.

#include <condition_variable>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

namespace crank {

class CollectiveWatchdog {
 public:
  // Seconds on a monotonic clock.
  using Clock = std::function<double()>;
  using OnTimeout = std::function<void(const std::string& message)>;
  // Returns who did not arrive, as a phrase ("rank 1 did not arrive (...)"), or "" when it
  // cannot tell.
  using Diagnose = std::function<std::string()>;

  // timeout_seconds > 0 (InvalidArgument otherwise). clock: steady_clock when empty.
  CollectiveWatchdog(double timeout_seconds, OnTimeout on_timeout, Clock clock = {});
  // Stops and joins the background thread.
  ~CollectiveWatchdog();
  CollectiveWatchdog(const CollectiveWatchdog&) = delete;
  CollectiveWatchdog& operator=(const CollectiveWatchdog&) = delete;

  // Starts the background thread, which checks every `poll_seconds` (default: a tenth of the
  // timeout, at most 1 s).
  void Start(double poll_seconds = 0.0);
  // Before Start (either may be empty).
  void SetPeerHooks(std::function<void()> on_poll, Diagnose diagnose);
  // The seconds between polls (after Start).
  double poll_seconds() const { return poll_seconds_; }

  // This rank enters the collective `name` (a string literal, e.g. "MPI_Alltoallv").
  void Enter(const char* name);
  // The collective entered last completed: progress.
  void Leave();
  // What the run is doing, for the message ("training step 12", "evaluation", "checkpoint").
  void SetPhase(std::string phase);

  // The message when, at time `now`, this rank has been inside one collective for longer than
  // the timeout; nothing otherwise. `missing` (from Diagnose) names who did not arrive.
  std::optional<std::string> Check(double now, const std::string& missing = "") const;

  double timeout_seconds() const { return timeout_; }

 private:
  void Run(double poll_seconds);

  const double timeout_;
  const OnTimeout on_timeout_;
  const Clock clock_;
  std::function<void()> on_poll_;
  Diagnose diagnose_;
  double poll_seconds_ = 0.0;
  mutable std::mutex mu_;
  std::condition_variable stop_cv_;
  bool stop_ = false;
  const char* inside_ = nullptr;  // the collective being waited in, or null
  double entered_ = 0.0;          // when it was entered
  std::string phase_ = "start-up";
  std::thread thread_;
};

}  // namespace crank

#endif  // CRANK_DIST_WATCHDOG_H_
