#include "crank/dist/watchdog.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <string>
#include <thread>

#include "crank/base/error.h"

namespace crank {
namespace {

// A clock the test moves by hand.
struct FakeClock {
  double now = 100.0;
  CollectiveWatchdog::Clock Get() {
    return [this] { return now; };
  }
};

TEST(CollectiveWatchdog, FiresOnlyInsideOneCollectiveLongerThanTheTimeout) {
  FakeClock clock;
  CollectiveWatchdog w(
      3.0, [](const std::string&) {}, clock.Get());
  // Between collectives nothing is timed, however long (a rank computing or writing).
  EXPECT_FALSE(w.Check(clock.now + 1000));
  w.Enter("MPI_Alltoallv");
  EXPECT_FALSE(w.Check(clock.now + 3.0));  // at the timeout: not yet
  w.SetPhase("training step 12");
  const std::optional<std::string> m = w.Check(clock.now + 3.5);
  ASSERT_TRUE(m);
  EXPECT_NE(m->find("no progress in MPI_Alltoallv for 4 s during training step 12"),
            std::string::npos)
      << *m;
  EXPECT_NE(m->find("--collective-timeout 3 s"), std::string::npos) << *m;
  // Completing the collective is progress; the next one is timed from its own start.
  w.Leave();
  EXPECT_FALSE(w.Check(clock.now + 3.5));
  clock.now += 50;
  w.Enter("MPI_Bcast");
  EXPECT_FALSE(w.Check(clock.now + 2.9));
  EXPECT_TRUE(w.Check(clock.now + 3.1));
}

TEST(CollectiveWatchdog, ManyShortCollectivesNeverFire) {
  // A long healthy run: thousands of collectives of 1 s each, 3 s timeout.
  FakeClock clock;
  CollectiveWatchdog w(
      3.0, [](const std::string&) {}, clock.Get());
  for (int i = 0; i < 5000; ++i) {
    w.Enter("MPI_Alltoallv");
    clock.now += 1.0;
    EXPECT_FALSE(w.Check(clock.now));
    w.Leave();
    clock.now += 10.0;  // computing between collectives
  }
}

TEST(CollectiveWatchdog, BackgroundThreadCallsOnTimeoutOnceAndNotWhenHealthy) {
  std::atomic<int> calls{0};
  std::string message;
  {
    CollectiveWatchdog w(0.2, [&](const std::string& m) {
      message = m;
      ++calls;
    });
    w.Start(0.02);
    for (int i = 0; i < 10; ++i) {  // healthy: 50 ms waits
      w.Enter("MPI_Barrier");
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
      w.Leave();
    }
    EXPECT_EQ(calls.load(), 0);
    w.Enter("MPI_Gatherv");  // stuck
    const auto t0 = std::chrono::steady_clock::now();
    while (calls.load() == 0 && std::chrono::steady_clock::now() - t0 < std::chrono::seconds(10))
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    std::this_thread::sleep_for(std::chrono::milliseconds(100));  // no second call
  }
  EXPECT_EQ(calls.load(), 1);
  EXPECT_NE(message.find("no progress in MPI_Gatherv"), std::string::npos) << message;
  EXPECT_NE(message.find("during start-up"), std::string::npos) << message;
}

TEST(CollectiveWatchdog, PollsThePeerHookAndNamesWhoDidNotArrive) {
  std::atomic<int> polls{0}, diagnoses{0};
  std::atomic<bool> fired{false};
  std::string message;
  {
    CollectiveWatchdog w(0.2, [&](const std::string& m) {
      message = m;
      fired = true;
    });
    w.SetPeerHooks([&] { ++polls; },
                   [&] {
                     ++diagnoses;
                     return std::string("rank 1 did not arrive (behind)");
                   });
    w.Start(0.02);
    w.Enter("MPI_Alltoallv");
    const auto t0 = std::chrono::steady_clock::now();
    while (!fired && std::chrono::steady_clock::now() - t0 < std::chrono::seconds(10))
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    EXPECT_THROW(w.SetPeerHooks({}, {}), InvalidArgument);  // after Start
  }
  EXPECT_GE(polls.load(), 5);  // every 20 ms for 200 ms
  EXPECT_EQ(diagnoses.load(), 1);
  EXPECT_NE(message.find("no progress in MPI_Alltoallv for 0 s during start-up: rank 1 did not "
                         "arrive (behind) (--collective-timeout 0.2 s"),
            std::string::npos)
      << message;
  // Without a diagnosis the message says another rank.
  FakeClock clock;
  CollectiveWatchdog plain(
      3.0, [](const std::string&) {}, clock.Get());
  plain.Enter("MPI_Bcast");
  EXPECT_NE(plain.Check(clock.now + 4)->find("another rank did not arrive"), std::string::npos);
}

TEST(CollectiveWatchdog, RejectsANonPositiveTimeout) {
  EXPECT_THROW(CollectiveWatchdog(0.0, [](const std::string&) {}), InvalidArgument);
  EXPECT_THROW(CollectiveWatchdog(-1.0, [](const std::string&) {}), InvalidArgument);
}

}  // namespace
}  // namespace crank
