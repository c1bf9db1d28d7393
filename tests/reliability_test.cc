// Hostile input and faults through the command line: every kind of bad data, damaged model
// files, kills during checkpointing, a full disk, extreme values. Each gives the documented
// behaviour (docs/reliability.md) -- a counted skip or a one-line error with an exit code --
// and never a crash or a lost checkpoint.

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "cli_fixture.h"
#include "crank/io/checkpoint.h"
#include "crank/io/crc32c.h"
#include "crank/train/trainer.h"

namespace crank {
namespace {

using testing::ReadFile;
using testing::Result;
namespace fs = std::filesystem;

class Reliability : public testing::CliFixture {
 protected:
  std::string Small() const { return SmallModel() + " --hash-buckets 500 "; }
  std::string SmallModel() const {
    return " --embedding-dim 4 --bottom 8,4 --top 8,1 --batch-size 64 --threads 2 ";
  }
  // A valid Criteo row with the given label and one field replaced (column index, 0 = label).
  static std::string Row(int column = -1, const std::string& value = "") {
    std::vector<std::string> c = {"1"};
    for (int i = 0; i < 13; ++i) c.push_back(std::to_string(i * 3));
    for (int i = 0; i < 26; ++i) c.push_back(fmt_hex(i));
    if (column >= 0) c[static_cast<size_t>(column)] = value;
    std::string line;
    for (size_t i = 0; i < c.size(); ++i) line += (i ? "\t" : "") + c[i];
    return line;
  }
  static std::string fmt_hex(int i) {
    char b[16];
    std::snprintf(b, sizeof b, "%08x", 0x1000 + i * 7919);
    return b;
  }
  // 200 good rows with `bad` inserted as line 101.
  void WriteWithBadLine(const std::string& name, const std::string& bad) {
    std::ofstream f(P(name), std::ios::binary);
    for (int i = 0; i < 200; ++i) {
      if (i == 100) f << bad << "\n";
      f << Row(0, i % 3 ? "0" : "1") << "\n";
    }
  }
  Result Train(const std::string& file, const std::string& policy,
               const std::string& out = "m.crank") {
    return Run("train --train " + P(file) + " --model-out " + P(out) + Small() + " --bad-rows " +
               policy);
  }
  static bool OneLineError(const Result& r) {
    const size_t at = r.err.find("crank: error:");
    return at != std::string::npos && r.err.find('\n', at) == r.err.size() - 1;
  }
};

struct BadLine {
  const char* name;
  std::string line;
  const char* reason;  // part of the message with --bad-rows fail
};

TEST_F(Reliability, EveryKindOfMalformedRowIsSkippedOrFailsWithFileAndLine) {
  const std::vector<BadLine> cases = {
      {"wrong_column_count", "1\t2\t3", "column"},
      {"non_numeric_integer", Row(3, "12a"), "I3"},
      {"integer_overflowing_64_bits", Row(2, "99999999999999999999999"), "I2"},
      {"nan_in_dense", Row(5, "nan"), "I5"},
      {"inf_in_dense", Row(6, "inf"), "I6"},
      {"non_hex_token", Row(20, "zz12"), "C7"},
      {"non_utf8_token", Row(15, "\xff\xfe\x80"), "C2"},
      {"binary_garbage", std::string("\x01\x02\x00\x7f garbage \x03", 14), ""},
      {"label_not_binary", Row(0, "2"), "label"},
      {"label_negative", Row(0, "-1"), "label"},
      {"ten_megabyte_line", std::string(10 << 20, 'a'), "long"},
  };
  for (const BadLine& c : cases) {
    SCOPED_TRACE(c.name);
    const std::string file = std::string(c.name) + ".tsv";
    WriteWithBadLine(file, c.line);
    const Result skip = Train(file, "skip");
    EXPECT_EQ(skip.code, 0) << skip.err;
    EXPECT_NE(skip.err.find(file + ":101"), std::string::npos) << skip.err.substr(0, 2000);
    EXPECT_NE(skip.err.find("skipped"), std::string::npos);
    const Result fail = Train(file, "fail");
    EXPECT_EQ(fail.code, 3) << fail.err;
    EXPECT_TRUE(OneLineError(fail)) << fail.err.substr(0, 2000);
    EXPECT_NE(fail.err.find(file + ":101"), std::string::npos) << fail.err.substr(0, 2000);
    if (*c.reason)
      EXPECT_NE(fail.err.find(c.reason), std::string::npos) << fail.err.substr(0, 2000);
  }
}

TEST_F(Reliability, NegativeDenseValuesBecomeZeroAndCrlfEqualsLf) {
  {
    std::ofstream lf(P("lf.tsv"), std::ios::binary), crlf(P("crlf.tsv"), std::ios::binary);
    for (int i = 0; i < 300; ++i) {
      const std::string r = Row(0, i % 4 ? "0" : "1");
      lf << r << "\n";
      crlf << r << "\r\n";
    }
    lf << Row(4, "-7") << "\n";
    crlf << Row(4, "-7") << "\r\n";
  }
  ASSERT_EQ(Train("lf.tsv", "fail", "lf.crank").code, 0);
  ASSERT_EQ(Train("crlf.tsv", "fail", "crlf.crank").code, 0);
  ASSERT_EQ(
      Run("predict --model " + P("lf.crank") + " --data " + P("lf.tsv") + " --out " + P("a.txt"))
          .code,
      0);
  ASSERT_EQ(Run("predict --model " + P("crlf.crank") + " --data " + P("crlf.tsv") + " --out " +
                P("b.txt"))
                .code,
            0);
  EXPECT_EQ(ReadFile(P("a.txt")), ReadFile(P("b.txt")));
}

TEST_F(Reliability, EmptyAndAllBadFilesAreDataErrors) {
  { std::ofstream(P("empty.tsv")); }
  Result r = Train("empty.tsv", "skip");
  EXPECT_EQ(r.code, 3) << r.err;
  EXPECT_NE(r.err.find("no training examples"), std::string::npos) << r.err;
  EXPECT_TRUE(OneLineError(r)) << r.err;
  {
    std::ofstream f(P("garbage.tsv"), std::ios::binary);
    std::mt19937 g(1);
    for (int i = 0; i < 4096; ++i) f.put(static_cast<char>(g()));
  }
  r = Train("garbage.tsv", "skip");
  EXPECT_EQ(r.code, 3) << r.err;
  EXPECT_TRUE(OneLineError(r)) << r.err;
  // A delimited file with a header only.
  {
    std::ofstream(P("header.csv")) << "label,x,c\n";
    std::ofstream(P("schema.yaml")) << "data:\n  format: delimited\n  task: bce\n  delimited:\n"
                                       "    label: label\n    dense: [{name: x}]\n"
                                       "    categorical: [{name: c, hash_buckets: 10}]\n";
  }
  r = Run("train --config " + P("schema.yaml") + " --train " + P("header.csv") + " --model-out " +
          P("h.crank") + SmallModel());
  EXPECT_EQ(r.code, 3) << r.err;
  EXPECT_TRUE(OneLineError(r)) << r.err;
}

TEST_F(Reliability, MissingDirectoryAndUnreadableInputsAreIoErrors) {
  Result r = Train("absent.tsv", "skip");
  EXPECT_EQ(r.code, 4);
  EXPECT_NE(r.err.find("absent.tsv"), std::string::npos);
  EXPECT_TRUE(OneLineError(r)) << r.err;
  fs::create_directories(dir_ / "adir");
  r = Train("adir", "skip");
  EXPECT_EQ(r.code, 4) << r.err;
  EXPECT_TRUE(OneLineError(r)) << r.err;
  // Unreadable: permission bits do not stop root, so as root use a file whose reads fail.
  std::string unreadable = P("locked.tsv");
  if (geteuid() == 0) {
    unreadable = "/proc/self/mem";
  } else {
    std::ofstream(unreadable) << Row() << "\n";
    chmod(unreadable.c_str(), 0);
  }
  r = Run("train --train " + unreadable + " --model-out " + P("m.crank") + Small());
  EXPECT_EQ(r.code, 4) << r.err;
  EXPECT_TRUE(OneLineError(r)) << r.err;
}

class DamagedModel : public Reliability {
 protected:
  void SetUp() override {
    Reliability::SetUp();
    ASSERT_EQ(Run("gen --rows 2000 --out " + P("d.tsv")).code, 0);
    ASSERT_EQ(Run("train --train " + P("d.tsv") + " --model-out " + P("m.crank") + Small()).code,
              0);
    model_ = ReadFile(P("m.crank"));
  }
  Result EvalWith(const std::string& bytes) {
    {
      std::ofstream f(P("damaged.crank"), std::ios::binary | std::ios::trunc);
      f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    }
    return Run("eval --model " + P("damaged.crank") + " --data " + P("d.tsv"));
  }
  std::string model_;
};

TEST_F(DamagedModel, TruncatedAtEverySixteenthIsRefused) {
  for (int k = 0; k < 16; ++k) {
    const size_t len = model_.size() * k / 16;
    const Result r = EvalWith(model_.substr(0, len));
    EXPECT_EQ(r.code, 4) << "cut at " << len << ": " << r.err;
    EXPECT_TRUE(OneLineError(r)) << r.err;
    EXPECT_TRUE(r.err.find("truncated") != std::string::npos ||
                r.err.find("not a crank") != std::string::npos ||
                r.err.find("corrupted") != std::string::npos)
        << r.err;
  }
}

TEST_F(DamagedModel, FlippedBitsAreRefused) {
  std::mt19937_64 g(7);
  for (int k = 0; k < 24; ++k) {
    std::string bytes = model_;
    const size_t at = (k == 0) ? 20 : g() % bytes.size();
    bytes[at] = static_cast<char>(bytes[at] ^ (1 << (g() % 8)));
    const Result r = EvalWith(bytes);
    EXPECT_EQ(r.code, 4) << "flip at " << at << ": " << r.err;
    EXPECT_TRUE(OneLineError(r)) << r.err;
  }
}

TEST_F(DamagedModel, WrongMagicAndNewerVersionAreRefusedWithTheirReason) {
  std::string bytes = model_;
  bytes[0] = 'X';
  Result r = EvalWith(bytes);
  EXPECT_EQ(r.code, 4);
  EXPECT_NE(r.err.find("bad magic"), std::string::npos) << r.err;
  bytes = model_;
  const uint32_t version = 3;  // one past the newest (checkpoint_format.h)
  std::memcpy(&bytes[8], &version, 4);
  const uint32_t crc = Crc32c(bytes.data(), 36);
  std::memcpy(&bytes[36], &crc, 4);
  r = EvalWith(bytes);
  EXPECT_EQ(r.code, 4);
  EXPECT_NE(r.err.find("format version 3"), std::string::npos) << r.err;
}

TEST_F(DamagedModel, AModelWhoseConfigDoesNotMatchItsVariablesIsRefused) {
  const Checkpoint c = Checkpoint::Load(P("m.crank"));
  CheckpointWriter w;
  for (const std::string& name : c.Names()) {
    if (name == "model/config") {
      std::string yaml = c.GetString(name);
      const size_t at = yaml.find("embedding_dim: 4");
      ASSERT_NE(at, std::string::npos);
      yaml.replace(at, 16, "embedding_dim: 8");
      const size_t b = yaml.find("bottom: [8, 4]");
      ASSERT_NE(b, std::string::npos);
      yaml.replace(b, 14, "bottom: [8, 8]");
      w.AddString(name, yaml);
    } else if (name.rfind("var/", 0) == 0 || name.rfind("opt/", 0) == 0) {
      if (name == "opt/iterations") {
        w.AddInt64s(name, c.GetInt64s(name));
      } else {
        w.AddTensor(name, Tensor(c.GetTensor(name)));
      }
    } else if (name == "train/state" || name == "train/input") {
      w.AddInt64s(name, c.GetInt64s(name));
    } else {
      w.AddString(name, c.GetString(name));
    }
  }
  w.Save(P("mismatch.crank"));
  const Result r = Run("eval --model " + P("mismatch.crank") + " --data " + P("d.tsv"));
  EXPECT_EQ(r.code, 4) << r.err;
  EXPECT_NE(r.err.find("shape"), std::string::npos) << r.err;
  // Data of another format than the model's is a data error.
  { std::ofstream(P("other.csv")) << "a,b,c\n1,2,3\n"; }
  const Result d =
      Run("eval --model " + P("m.crank") + " --data " + P("other.csv") + " --bad-rows fail");
  EXPECT_EQ(d.code, 3) << d.err;
  EXPECT_TRUE(OneLineError(d)) << d.err;
  EXPECT_NE(d.err.find("other.csv:"), std::string::npos) << d.err;
}

TEST_F(Reliability, KilledWhileCheckpointingAlwaysLeavesALoadableCheckpointAndResumeCompletes) {
  ASSERT_EQ(Run("gen --rows 12000 --out " + P("k.tsv")).code, 0);
  const std::string common =
      "train --train " + P("k.tsv") +
      " --embedding-dim 8 --bottom 16,8 --top 16,1 --hash-buckets 20000 --batch-size 64"
      " --threads 2 --epochs 2 --shuffle-buffer 500 --checkpoint-every 3 -q";
  const std::string args = common + " --model-out " + P("k.crank");
  ASSERT_EQ(Run(common + " --model-out " + P("ref.crank")).code, 0);  // uninterrupted
  std::mt19937 g(3);
  const std::string bin = std::string(CRANK_BINARY_DIR) + "/bin/crank";
  int loads = 0;
  for (int kill_no = 0; kill_no < 8; ++kill_no) {
    const bool resume = fs::exists(P("k.crank.ckpt"));
    const pid_t pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      const std::string cmd =
          "exec " + bin + " " + args + (resume ? " --resume" : "") + " 2>/dev/null";
      execl("/bin/sh", "sh", "-c", cmd.c_str(), static_cast<char*>(nullptr));
      _exit(127);
    }
    if (!resume) {  // let the first checkpoint appear (slow machines, sanitizer builds), then kill
      for (int i = 0; i < 600 && !fs::exists(P("k.crank.ckpt")); ++i) {
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
      }
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50 + g() % 500));
    kill(pid, SIGKILL);
    int status = 0;
    waitpid(pid, &status, 0);
    if (fs::exists(P("k.crank.ckpt"))) {
      const Result info = Run("info --model " + P("k.crank.ckpt"));
      EXPECT_EQ(info.code, 0) << "after kill " << kill_no << ": " << info.err;
      ++loads;
    }
  }
  EXPECT_GT(loads, 0) << "no checkpoint was ever written before a kill";
  const Result done = Run(args + " --resume");
  ASSERT_EQ(done.code, 0) << done.err;
  ASSERT_EQ(
      Run("predict --model " + P("k.crank") + " --data " + P("k.tsv") + " --out " + P("a.txt"))
          .code,
      0);
  ASSERT_EQ(
      Run("predict --model " + P("ref.crank") + " --data " + P("k.tsv") + " --out " + P("b.txt"))
          .code,
      0);
  EXPECT_EQ(ReadFile(P("a.txt")), ReadFile(P("b.txt")))
      << "resumed after kills differs from an uninterrupted run";
}

TEST_F(Reliability, FullDiskFailsTheWriteCleanlyAndKeepsThePreviousCheckpoint) {
  ASSERT_EQ(Run("gen --rows 3000 --out " + P("f.tsv")).code, 0);
  const std::string args =
      "train --train " + P("f.tsv") + " --model-out " + P("f.crank") + Small() + " --epochs 3";
  ASSERT_EQ(Run(args + " --max-steps 10").code, 0);
  const std::string before = ReadFile(P("f.crank.ckpt"));
  ASSERT_GT(before.size(), 4096u);
  // Resume with a file-size limit smaller than a checkpoint (the shell ignores SIGXFSZ so the
  // write fails with EFBIG instead of killing the process). -q: the limit applies to err.txt as
  // well, so the log must not fill it before the error line.
  const std::string bin = std::string(CRANK_BINARY_DIR) + "/bin/crank";
  const std::string cmd = "sh -c 'trap \"\" XFSZ; ulimit -f 4; exec " + bin + " -q " + args +
                          " --resume' >" + P("out.txt") + " 2>" + P("err.txt");
  const int status = std::system(cmd.c_str());
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 4) << ReadFile(P("err.txt"));
  EXPECT_NE(ReadFile(P("err.txt")).find("File too large"), std::string::npos)
      << ReadFile(P("err.txt"));
  EXPECT_EQ(ReadFile(P("f.crank.ckpt")), before) << "the previous checkpoint changed";
  for (const auto& e : fs::directory_iterator(dir_)) {
    EXPECT_EQ(e.path().filename().string().find(".tmp-"), std::string::npos)
        << "left behind: " << e.path();
  }
  EXPECT_EQ(Run(args + " --resume").code, 0);  // and it resumes fine once there is space
}

TEST_F(Reliability, ExplodingLearningRateStopsAtTheFirstNonFiniteLoss) {
  ASSERT_EQ(Run("gen --rows 3000 --out " + P("x.tsv")).code, 0);
  const Result r = Run("train --train " + P("x.tsv") + " --model-out " + P("x.crank") + Small() +
                       " --learning-rate 1e30 --checkpoint-every 1");
  EXPECT_EQ(r.code, 5) << r.err;
  EXPECT_TRUE(OneLineError(r)) << r.err;
  EXPECT_NE(r.err.find("at step"), std::string::npos) << r.err;
  EXPECT_EQ(Run("info --model " + P("x.crank.ckpt")).code, 0);
}

TEST_F(Reliability, ExtremeAndMissingInputsGiveFinitePredictions) {
  {
    std::ofstream f(P("e.csv"));
    f << "label,x,y,c\n";
    for (int i = 0; i < 200; ++i)
      f << (i % 2) << "," << i << "," << (i % 7) << ",t" << (i % 5) << "\n";
    f << "1,1e30,-1e30,t1\n";  // extreme values, no transform
    f << "0,,,\n";             // everything missing
    std::ofstream(P("e.yaml"))
        << "data:\n  format: delimited\n  task: bce\n  delimited:\n    label: label\n"
           "    dense: [{name: x}, {name: y}]\n"
           "    categorical: [{name: c, hash_buckets: 10}]\n";
  }
  ASSERT_EQ(Run("train --config " + P("e.yaml") + " --train " + P("e.csv") + " --model-out " +
                P("e.crank") + SmallModel() + " --bad-rows fail")
                .code,
            0);
  const Result r = Run("predict --model " + P("e.crank") + " --data " + P("e.csv") + " --out " +
                       P("p.txt") + " --batch-size 1");
  ASSERT_EQ(r.code, 0) << r.err;
  std::ifstream in(P("p.txt"));
  std::string line;
  int n = 0;
  while (std::getline(in, line)) {
    const double p = std::stod(line);
    EXPECT_TRUE(std::isfinite(p) && p >= 0 && p <= 1) << "row " << n << ": " << line;
    ++n;
  }
  EXPECT_EQ(n, 202);
}

}  // namespace
}  // namespace crank
