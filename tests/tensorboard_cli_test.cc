// `crank train --tensorboard DIR`: the event file's name, its first record, the train/ scalars
// at their steps and the eval/ scalars against the run's history; an independent reader (the
// standard-library Python in tests/tensorboard/read_events.py) decodes the same events; and an
// unwritable directory fails at start.

#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include "cli_fixture.h"
#include "event_file_reader.h"

namespace crank {
namespace {

namespace fs = std::filesystem;
using Json = nlohmann::json;
using TensorBoardCli = testing::CliFixture;
using testing::FindScalar;
using testing::ReadEventFile;
using testing::ReadFile;
using testing::Result;

// The event files in `dir`.
std::vector<std::string> EventFiles(const std::string& dir) {
  std::vector<std::string> files;
  for (const auto& e : fs::directory_iterator(dir)) files.push_back(e.path().string());
  return files;
}

TEST_F(TensorBoardCli, TrainWritesLossLearningRatesAndEvalScalarsAtTheirSteps) {
  Generate(2000, 500);
  const Result r = Run("train --train " + P("train.tsv") + " --eval " + P("eval.tsv") +
                       SmallModel() + " --epochs 2 --eval-every 10 --tensorboard " + P("tb") +
                       " --tensorboard-every 5 --model-out " + P("m.crank") + " --metrics-out " +
                       P("metrics.json"));
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_TRUE(fs::exists(P("m.crank")));
  const std::vector<std::string> files = EventFiles(P("tb"));
  ASSERT_EQ(files.size(), 1u);
  const std::string name = fs::path(files[0]).filename().string();
  EXPECT_TRUE(std::regex_match(name, std::regex(R"(events\.out\.tfevents\.\d{10}\..+)"))) << name;
  EXPECT_NE(r.err.find("TensorBoard scalars go to " + files[0]), std::string::npos) << r.err;

  const Json metrics = Json::parse(ReadFile(P("metrics.json")));
  const int64_t steps = metrics["steps"].get<int64_t>();
  ASSERT_EQ(metrics["epochs_completed"].get<int64_t>(), 2);
  ASSERT_EQ(steps % 2, 0);
  const int64_t per_epoch = steps / 2;  // 2000 rows, 128 per batch: 16 steps
  std::vector<int64_t> expected_train;  // multiples of 5, and each epoch's last step
  for (int64_t e = 0; e < 2; ++e) {
    for (int64_t s = e * per_epoch + 1; s <= (e + 1) * per_epoch; ++s) {
      if (s % 5 == 0 || s == (e + 1) * per_epoch) expected_train.push_back(s);
    }
  }

  const std::vector<tfevents::Event> events = ReadEventFile(files[0]);
  ASSERT_FALSE(events.empty());
  EXPECT_EQ(events[0].file_version(), "brain.Event:2");
  EXPECT_GT(events[0].wall_time(), 1.6e9);
  std::vector<int64_t> train_steps, eval_steps;
  std::vector<double> eval_auc;
  for (size_t i = 1; i < events.size(); ++i) {
    const tfevents::Event& e = events[i];
    EXPECT_GE(e.wall_time(), events[0].wall_time());
    float v = 0;
    if (FindScalar(e, "train/loss", &v)) {
      train_steps.push_back(e.step());
      EXPECT_TRUE(std::isfinite(v) && v > 0 && v < 1.5) << v;
      ASSERT_TRUE(FindScalar(e, "train/examples_per_sec", &v));
      EXPECT_GT(v, 0);
      ASSERT_TRUE(FindScalar(e, "train/learning_rate/embedding", &v));
      EXPECT_EQ(v, 1.0f);  // SmallModel(): --embedding-learning-rate 1.0
      ASSERT_TRUE(FindScalar(e, "train/learning_rate/dense", &v));
      EXPECT_EQ(v, 0.003f);
    } else if (FindScalar(e, "eval/auc", &v)) {
      eval_steps.push_back(e.step());
      eval_auc.push_back(v);
      EXPECT_TRUE(FindScalar(e, "eval/logloss", &v));
    } else {
      ADD_FAILURE() << "an event with neither train/loss nor eval/auc at step " << e.step();
    }
  }
  EXPECT_EQ(train_steps, expected_train);
  // One eval/ event per evaluation in the run's history, at its step, with its values.
  const Json& history = metrics["history"];
  ASSERT_EQ(eval_steps.size(), history.size());
  for (size_t i = 0; i < history.size(); ++i) {
    EXPECT_EQ(eval_steps[i], history[i]["step"].get<int64_t>());
    EXPECT_EQ(static_cast<float>(eval_auc[i]),
              static_cast<float>(history[i]["metrics"]["auc"].get<double>()));
  }
}

// The YAML key (train.tensorboard) and a reader that shares no code with crank: the Python
// standard library decodes the framing, both CRCs and the protobuf wire format.
TEST_F(TensorBoardCli, AnIndependentReaderDecodesTheSameEvents) {
  if (std::system("python3 -c 'import json, struct' >/dev/null 2>&1") != 0)
    GTEST_SKIP() << "python3 is not installed: the independent reader cannot run";
  Generate(1000, 300);
  {
    std::ofstream(P("job.yaml")) << "train:\n  tensorboard: " << P("logs") << "\n"
                                 << "  tensorboard_every: 3\n";
  }
  Result r = Run("train --config " + P("job.yaml") + " --train " + P("train.tsv") + " --eval " +
                 P("eval.tsv") + SmallModel() + " --model-out " + P("m.crank"));
  ASSERT_EQ(r.code, 0) << r.err;
  const std::vector<std::string> files = EventFiles(P("logs"));
  ASSERT_EQ(files.size(), 1u);
  const std::string cmd = std::string("python3 ") + CRANK_SOURCE_DIR +
                          "/tests/tensorboard/read_events.py " + files[0] + " >" + P("py.jsonl") +
                          " 2>" + P("py.err");
  ASSERT_EQ(std::system(cmd.c_str()), 0) << ReadFile(P("py.err"));

  const std::vector<tfevents::Event> events = ReadEventFile(files[0]);
  std::istringstream lines(ReadFile(P("py.jsonl")));
  std::string line;
  size_t i = 0;
  for (; std::getline(lines, line); ++i) {
    ASSERT_LT(i, events.size());
    const Json py = Json::parse(line);
    const tfevents::Event& e = events[i];
    EXPECT_EQ(py["step"].get<int64_t>(), e.step());
    EXPECT_EQ(py["wall_time"].get<double>(), e.wall_time());
    if (i == 0) EXPECT_EQ(py["file_version"], "brain.Event:2");
    ASSERT_EQ(py["values"].size(), static_cast<size_t>(e.summary().value_size()));
    for (int k = 0; k < e.summary().value_size(); ++k) {
      EXPECT_EQ(py["values"][k][0].get<std::string>(), e.summary().value(k).tag());
      EXPECT_EQ(static_cast<float>(py["values"][k][1].get<double>()),
                e.summary().value(k).simple_value());
    }
  }
  EXPECT_EQ(i, events.size());
  EXPECT_GT(i, 3u);  // the version, train points every 3 steps, the evaluation
}

TEST_F(TensorBoardCli, ADirectoryThatCannotBeWrittenFailsAtStartNamingIt) {
  Generate(500, 100);
  { std::ofstream(P("not_a_dir")) << "x"; }
  const std::string bad = P("not_a_dir") + "/tb";
  const Result r = Run("train --train " + P("train.tsv") + SmallModel() + " --tensorboard " + bad +
                       " --model-out " + P("m.crank"));
  EXPECT_EQ(r.code, 4) << r.err;  // IoError: exit code 4 (tools/crank/main.cc)
  EXPECT_NE(r.err.find("crank: error: tensorboard directory " + bad), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(P("m.crank")));
  EXPECT_FALSE(fs::exists(P("m.crank.ckpt")));
}

}  // namespace
}  // namespace crank
