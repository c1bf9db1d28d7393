#ifndef CRANK_TESTS_CLI_FIXTURE_H_
#define CRANK_TESTS_CLI_FIXTURE_H_

// A test fixture that runs the built `crank` binary in a private temporary directory and
// captures its exit code, stdout and stderr.

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

namespace crank::testing {

namespace fs = std::filesystem;

struct Result {
  int code = -1;
  std::string out, err;
};

inline std::string ReadFile(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

class CliFixture : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("crank_cli_test_" + std::to_string(getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  Result Run(const std::string& args) {
    return RunCommand(std::string(CRANK_BINARY_DIR) + "/bin/crank " + args);
  }
  // A whole shell command line (e.g. crank under mpirun or timeout), its output captured.
  Result RunCommand(const std::string& command) {
    const std::string out = (dir_ / "stdout.txt").string(), err = (dir_ / "stderr.txt").string();
    const std::string cmd = command + " >" + out + " 2>" + err;
    const int status = std::system(cmd.c_str());
    Result r;
    r.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    r.out = ReadFile(out);
    r.err = ReadFile(err);
    return r;
  }
  std::string P(const std::string& name) const { return (dir_ / name).string(); }

  // Small data and a small model so each test takes about a second.
  void Generate(int rows_train = 8000, int rows_eval = 2000) {
    ASSERT_EQ(
        Run("gen --rows " + std::to_string(rows_train) + " --seed 1 --out " + P("train.tsv")).code,
        0);
    ASSERT_EQ(
        Run("gen --rows " + std::to_string(rows_eval) + " --seed 2 --out " + P("eval.tsv")).code,
        0);
  }
  std::string SmallModel() const {
    return " --embedding-dim 4 --bottom 16,4 --top 16,1 --hash-buckets 2000 --batch-size 128 "
           "--threads 2 "
           "--embedding-learning-rate 1.0 --dense-learning-rate 0.003 ";
  }

  fs::path dir_;
};

}  // namespace crank::testing

#endif  // CRANK_TESTS_CLI_FIXTURE_H_
