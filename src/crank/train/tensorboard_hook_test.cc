#include "crank/train/tensorboard_hook.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "crank/base/error.h"
#include "event_file_reader.h"

namespace crank {
namespace {

namespace fs = std::filesystem;
using testing::FindScalar;
using testing::ReadEventFile;

class TensorBoardHookTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("crank_tb_hook_test_" + std::to_string(getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  TensorBoardOptions Options(int64_t every) const {
    TensorBoardOptions o;
    o.dir = dir_.string();
    o.every_steps = every;
    o.learning_rates.emplace_back("embedding", MakeConstantSchedule(0.5f));
    WarmUpAndPolyDecayOptions w;
    w.learning_rate = 1.0;
    w.batch_size = 2048;
    w.warmup_steps = 10;
    w.decay_steps = 0;
    o.learning_rates.emplace_back("dense", MakeWarmUpAndPolyDecay(w));
    return o;
  }
  static void Step(TensorBoardHook& h, int64_t step, double loss) {
    StepEndInfo s;
    s.step = step;
    s.batch_size = 4;
    s.loss = loss;
    EXPECT_EQ(h.OnStepEnd(s), HookAction::kContinue);
  }
  static HookAction Eval(TensorBoardHook& h, int64_t step, const MetricMap& m) {
    h.OnEvalBegin(1, step);
    EvalInfo e;
    e.step = step;
    e.metrics = &m;
    return h.OnEval(e);
  }
  fs::path dir_;
};

TEST_F(TensorBoardHookTest, WritesTrainPointsEveryNStepsAndAtEpochEndAndEvalsAtTheirStep) {
  std::string path;
  {
    TensorBoardHook hook(Options(3));
    path = hook.path();
    hook.OnEpochBegin(0, 1, 0);
    for (int64_t s = 1; s <= 7; ++s) Step(hook, s, static_cast<double>(s));
    hook.OnEpochEnd(0);
    EXPECT_EQ(Eval(hook, 7, {{"auc", 0.75}, {"loss", 0.5}}), HookAction::kContinue);
    // After each evaluation the file is complete on disk.
    EXPECT_EQ(ReadEventFile(path).size(), 5u);
    EXPECT_TRUE(hook.error().empty());
  }
  const std::vector<tfevents::Event> events = ReadEventFile(path);
  ASSERT_EQ(events.size(), 5u);  // version, train at 3, 6, 7 (epoch end), eval at 7
  EXPECT_EQ(events[0].file_version(), "brain.Event:2");
  const int64_t steps[] = {3, 6, 7};
  const double losses[] = {2.0, 5.0, 7.0};  // mean of (1,2,3), (4,5,6), (7)
  for (int i = 0; i < 3; ++i) {
    const tfevents::Event& e = events[1 + i];
    EXPECT_EQ(e.step(), steps[i]);
    float v = 0;
    ASSERT_TRUE(FindScalar(e, "train/loss", &v));
    EXPECT_EQ(v, static_cast<float>(losses[i]));
    ASSERT_TRUE(FindScalar(e, "train/examples_per_sec", &v));
    EXPECT_GT(v, 0.0f);
    ASSERT_TRUE(FindScalar(e, "train/learning_rate/embedding", &v));
    EXPECT_EQ(v, 0.5f);
    // The rate step s used: warm-up s-1 of 10 steps (the schedule's step counts updates done).
    ASSERT_TRUE(FindScalar(e, "train/learning_rate/dense", &v));
    EXPECT_FLOAT_EQ(v, std::max(0.01f, static_cast<float>(steps[i] - 1) / 10.0f));
  }
  EXPECT_EQ(events[4].step(), 7);
  ASSERT_EQ(events[4].summary().value_size(), 2);
  EXPECT_EQ(events[4].summary().value(0).tag(), "eval/auc");
  EXPECT_EQ(events[4].summary().value(0).simple_value(), 0.75f);
  EXPECT_EQ(events[4].summary().value(1).tag(), "eval/loss");
}

TEST_F(TensorBoardHookTest, AnEpochEndingOnAPointAddsNoExtraPoint) {
  std::string path;
  {
    TensorBoardHook hook(Options(2));
    path = hook.path();
    hook.OnEpochBegin(0, 2, 0);
    for (int64_t s = 1; s <= 4; ++s) Step(hook, s, 1.0);
    hook.OnEpochEnd(0);
    hook.OnEpochBegin(1, 2, 0);
    for (int64_t s = 5; s <= 8; ++s) Step(hook, s, 1.0);
    hook.OnEpochEnd(1);
  }
  const std::vector<tfevents::Event> events = ReadEventFile(path);
  ASSERT_EQ(events.size(), 5u);
  for (int i = 1; i <= 4; ++i) EXPECT_EQ(events[i].step(), 2 * i);
}

TEST_F(TensorBoardHookTest, ADirectoryThatCannotBeWrittenFailsAtConstruction) {
  fs::create_directories(dir_);
  { std::ofstream(dir_ / "file") << "x"; }
  TensorBoardOptions o = Options(1);
  o.dir = (dir_ / "file" / "tb").string();
  EXPECT_THROW(TensorBoardHook hook(o), IoError);
}

// A write error mid-run is reported (error(), a warning) and never thrown: the Trainer goes on
// to write its checkpoints and model. The file keeps its whole records.
TEST_F(TensorBoardHookTest, AWriteErrorIsReportedAndTrainingGoesOn) {
  TensorBoardHook hook(Options(1));
  hook.OnEpochBegin(0, 1, 0);
  Step(hook, 1, 1.0);
  EXPECT_EQ(Eval(hook, 1, {{"auc", 0.5}}), HookAction::kContinue);  // flushed
  const auto good = fs::file_size(hook.path());
  rlimit old{};
  ASSERT_EQ(getrlimit(RLIMIT_FSIZE, &old), 0);
  struct sigaction ignore {
  }, saved{};
  ignore.sa_handler = SIG_IGN;
  ASSERT_EQ(sigaction(SIGXFSZ, &ignore, &saved), 0);
  rlimit small = old;
  small.rlim_cur = good + 20;
  ASSERT_EQ(setrlimit(RLIMIT_FSIZE, &small), 0);
  for (int64_t s = 2; s <= 5; ++s) Step(hook, s, 1.0);
  const HookAction action = Eval(hook, 5, {{"auc", 0.5}});
  Step(hook, 6, 1.0);  // no more writes, no throw
  hook.OnEpochEnd(0);
  ASSERT_EQ(setrlimit(RLIMIT_FSIZE, &old), 0);
  ASSERT_EQ(sigaction(SIGXFSZ, &saved, nullptr), 0);
  EXPECT_EQ(action, HookAction::kContinue);
  EXPECT_NE(hook.error().find("cannot write the event file " + hook.path()), std::string::npos)
      << hook.error();
  EXPECT_EQ(fs::file_size(hook.path()), good);
  EXPECT_EQ(ReadEventFile(hook.path()).size(), 3u);
}

TEST(TensorBoardOptions, ComeFromTheTrainSectionAndTheOptimizers) {
  const JobConfig c = JobConfig::FromYamlString(
      "train:\n  tensorboard: runs/a\n  tensorboard_every: 7\n", "job.yaml");
  const TensorBoardOptions o = TensorBoardOptionsFor(c);
  EXPECT_EQ(o.dir, "runs/a");
  EXPECT_EQ(o.every_steps, 7);
  ASSERT_EQ(o.learning_rates.size(), 2u);
  EXPECT_EQ(o.learning_rates[0].first, "embedding");
  EXPECT_EQ(o.learning_rates[0].second->Rate(0), c.embedding_optimizer.learning_rate);
  EXPECT_EQ(o.learning_rates[1].first, "dense");
  EXPECT_EQ(o.learning_rates[1].second->Rate(0), c.dense_optimizer.learning_rate);
  // The resolved configuration keeps the keys (and reads back the same).
  const std::string yaml = c.ToYaml();
  EXPECT_NE(yaml.find("tensorboard: runs/a"), std::string::npos) << yaml;
  EXPECT_EQ(JobConfig::FromYamlString(yaml, "resolved").ToYaml(), yaml);
  // Without the directory the keys are not written: other configurations are unchanged.
  EXPECT_EQ(JobConfig().ToYaml().find("tensorboard"), std::string::npos);
  try {
    JobConfig::FromYamlString("train:\n  tensorboard_every: 0\n", "job.yaml");
    FAIL() << "expected ConfigError";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("job.yaml:2"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("train.tensorboard_every"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace crank
