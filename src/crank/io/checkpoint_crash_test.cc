// Crash-safety of CheckpointWriter::Save, checked with real processes: a save that fails midway
// (file size limit) and saves killed with SIGKILL at random moments.

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "crank/base/error.h"
#include "crank/io/checkpoint.h"
#include "crank/io/io_test_util.h"

namespace crank {
namespace {

using io_test::ScratchDir;

// A checkpoint whose records all derive from `counter`, so a mix of two saves is detectable.
void SaveCounterCheckpoint(const std::string& path, int64_t counter, int64_t values) {
  CheckpointWriter w;
  Tensor t({values});
  t.Fill(static_cast<float>(counter));
  w.AddTensor("values", std::move(t));
  w.AddInt64s("counter", {counter});
  w.AddString("note", fmt::format("step {}", counter));
  w.Save(path);
}

// Loads `path` and checks that its records agree; returns the counter (ADD_FAILURE and -1 if not).
int64_t LoadConsistentCounter(const std::string& path, int64_t values) {
  try {
    const Checkpoint c = Checkpoint::Load(path);
    const int64_t counter = c.GetInt64s("counter").at(0);
    const Tensor& t = c.GetTensor("values");
    EXPECT_EQ(t.size(), values);
    for (int64_t i = 0; i < t.size(); ++i) {
      if (t[i] != static_cast<float>(counter)) {
        ADD_FAILURE() << "values[" << i << "] = " << t[i] << " but counter = " << counter;
        return -1;
      }
    }
    EXPECT_EQ(c.GetString("note"), fmt::format("step {}", counter));
    return counter;
  } catch (const Error& e) {
    ADD_FAILURE() << "checkpoint does not load: " << e.what();
    return -1;
  }
}

std::string ReadAll(int fd) {
  std::string s;
  char buf[512];
  ssize_t n;
  while ((n = ::read(fd, buf, sizeof(buf))) > 0) s.append(buf, static_cast<size_t>(n));
  return s;
}

TEST(CheckpointCrash, FailedWriteLeavesPreviousCheckpointIntact) {
  ScratchDir dir;
  const std::string path = dir.File("ckpt");
  SaveCounterCheckpoint(path, 1, 16);

  int pipe_fds[2];
  ASSERT_EQ(::pipe(pipe_fds), 0);
  const pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    // Child: a 1 MB save under an 8 KB file size limit fails with EFBIG partway through.
    ::close(pipe_fds[0]);
    ::signal(SIGXFSZ, SIG_IGN);
    const rlimit limit = {8192, 8192};
    ::setrlimit(RLIMIT_FSIZE, &limit);
    int code = 1;
    std::string message = "Save succeeded";
    try {
      SaveCounterCheckpoint(path, 2, 1 << 18);
    } catch (const IoError& e) {
      code = 0;
      message = e.what();
    } catch (const std::exception& e) {
      code = 2;
      message = e.what();
    }
    if (::write(pipe_fds[1], message.data(), message.size()) < 0) code = 3;
    ::_exit(code);
  }
  ::close(pipe_fds[1]);
  const std::string message = ReadAll(pipe_fds[0]);
  ::close(pipe_fds[0]);
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status)) << "child did not exit normally, status " << status;
  EXPECT_EQ(WEXITSTATUS(status), 0) << message;
  EXPECT_EQ(message.rfind("cannot write " + path + ": ", 0), 0u) << message;
  EXPECT_NE(message.find("File too large"), std::string::npos) << message;

  EXPECT_EQ(LoadConsistentCounter(path, 16), 1);
  EXPECT_EQ(dir.List(), std::vector<std::string>{"ckpt"});
}

// A child saves ever larger counters in a loop; it is killed at random moments. After every
// kill the file at the path must load and be one whole save, never older than the last one seen.
TEST(CheckpointCrash, KilledSavesAlwaysLeaveACompleteCheckpoint) {
  ScratchDir dir;
  const std::string path = dir.File("ckpt");
  constexpr int64_t kValues = 1 << 16;  // 256 KB per save: kills often land mid-write.
  constexpr int kKills = 20;
  std::mt19937 gen(20240611);
  std::uniform_int_distribution<int> delay_us(0, 20000);
  int64_t last = 0;
  for (int kill_round = 0; kill_round < kKills; ++kill_round) {
    int pipe_fds[2];
    ASSERT_EQ(::pipe(pipe_fds), 0);
    const pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      ::close(pipe_fds[0]);
      try {
        // Resume after the last complete save, report after the first new one, then loop.
        int64_t counter = ::access(path.c_str(), F_OK) == 0
                              ? Checkpoint::Load(path).GetInt64s("counter").at(0) + 1
                              : 1;
        SaveCounterCheckpoint(path, counter, kValues);
        if (::write(pipe_fds[1], "s", 1) != 1) ::_exit(3);
        ::close(pipe_fds[1]);
        for (;;) SaveCounterCheckpoint(path, ++counter, kValues);
      } catch (...) {
        ::_exit(2);
      }
    }
    ::close(pipe_fds[1]);
    char started = 0;
    const bool saved_once = ::read(pipe_fds[0], &started, 1) == 1;
    ::close(pipe_fds[0]);
    if (saved_once) std::this_thread::sleep_for(std::chrono::microseconds(delay_us(gen)));
    ::kill(pid, SIGKILL);
    int status = 0;
    ASSERT_EQ(::waitpid(pid, &status, 0), pid);
    ASSERT_TRUE(saved_once) << "the saving child failed before its first save, status " << status;
    ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL)
        << "the saving child stopped by itself, status " << status;

    const int64_t counter = LoadConsistentCounter(path, kValues);
    EXPECT_GT(counter, last) << "round " << kill_round;
    last = counter;
    // A killed save may leave its "<path>.tmp-<pid>" behind; nothing else may appear.
    std::error_code ec;
    std::filesystem::remove(fmt::format("{}.tmp-{}", path, static_cast<long>(pid)), ec);
    EXPECT_EQ(dir.List(), std::vector<std::string>{"ckpt"}) << "round " << kill_round;
  }
  EXPECT_GE(last, kKills);
}

}  // namespace
}  // namespace crank
