#include "crank/train/trainer.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>

#include "crank/base/error.h"
#include "crank/data/synthetic_criteo.h"
#include "crank/io/checkpoint.h"
#include "crank/io/load_model.h"

namespace crank {
namespace {

namespace fs = std::filesystem;

class TrainerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("crank_trainer_test_" + std::to_string(getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::create_directories(dir_);
    train_ = Generate("train.tsv", 12000, 1);
    eval_ = Generate("eval.tsv", 2000, 2);
    ConfigureThreads(2);
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::string Generate(const std::string& name, int64_t rows, uint64_t seed) {
    SyntheticOptions o;
    o.rows = rows;
    o.seed = seed;
    o.max_cardinality = 500;
    const std::string path = (dir_ / name).string();
    std::ofstream out(path);
    GenerateSyntheticCriteo(o, out);
    return path;
  }

  // A small, quick model over the Criteo schema.
  JobConfig SmallJob() const {
    JobConfig c;
    c.data.criteo.encoding.hash_buckets = 1000;
    c.model.embedding_dim = 4;
    c.model.bottom = {16, 4};
    c.model.top = {16, 1};
    c.train.batch_size = 128;
    c.train.epochs = 2;
    c.train.shuffle_buffer = 500;
    c.train.seed = 3;
    c.embedding_optimizer.learning_rate = 1.0f;
    c.dense_optimizer.learning_rate = 0.003f;
    return c;
  }

  TrainRun Run(const std::string& out, bool resume = false) const {
    TrainRun r;
    r.train_files = {train_};
    r.eval_files = {eval_};
    r.model_out = (dir_ / out).string();
    r.resume = resume;
    return r;
  }

  fs::path dir_;
  std::string train_, eval_;
};

void ExpectSameRecords(const std::string& a_path, const std::string& b_path,
                       const std::string& prefix) {
  const Checkpoint a = Checkpoint::Load(a_path), b = Checkpoint::Load(b_path);
  int compared = 0;
  for (const std::string& name : a.Names()) {
    if (name.rfind(prefix, 0) != 0) continue;
    if (name == "opt/iterations") {
      EXPECT_EQ(a.GetInt64s(name), b.GetInt64s(name));
      continue;
    }
    ASSERT_TRUE(b.Has(name)) << name;
    const Tensor& x = a.GetTensor(name);
    const Tensor& y = b.GetTensor(name);
    ASSERT_EQ(x.shape(), y.shape()) << name;
    EXPECT_EQ(0, std::memcmp(x.data(), y.data(), sizeof(float) * x.size())) << name << " differs";
    ++compared;
  }
  EXPECT_GT(compared, 0);
}

TEST_F(TrainerTest, TrainsAndEvaluatesAboveChance) {
  const TrainResult r = Train(SmallJob(), Run("m.crank"));
  EXPECT_EQ(r.state.epoch, 2);
  EXPECT_TRUE(r.state.finished);
  EXPECT_EQ(r.train_examples, 2 * 12000);
  EXPECT_GT(r.final_eval.at("auc"),
            0.55);  // a small model on 12k rows; quality is tested elsewhere
  EXPECT_EQ(r.final_eval.at("examples"), 2000);
  EXPECT_TRUE(fs::exists(dir_ / "m.crank"));
  EXPECT_TRUE(fs::exists(dir_ / "m.crank.ckpt"));
  EXPECT_NE(r.history_json.find("\"epoch\":2"), std::string::npos) << r.history_json;
}

TEST_F(TrainerTest, ResumeEndsWithTheSameWeightsAsAnUninterruptedRun) {
  const JobConfig job = SmallJob();
  Train(job, Run("full.crank"));
  // Interrupted mid-epoch (step 60 of 94 per epoch), then resumed.
  JobConfig first = job;
  first.train.max_steps = 60;
  first.train.checkpoint_every = 7;
  const TrainResult partial = Train(first, Run("resumed.crank"));
  EXPECT_FALSE(partial.state.finished);
  EXPECT_EQ(partial.state.global_step, 60);
  JobConfig rest = job;
  rest.train.checkpoint_every = 7;
  const TrainResult done = Train(rest, Run("resumed.crank", /*resume=*/true));
  EXPECT_TRUE(done.state.finished);
  EXPECT_EQ(done.state.global_step, 2 * 94);
  ExpectSameRecords((dir_ / "full.crank").string(), (dir_ / "resumed.crank").string(), "var/");
  ExpectSameRecords((dir_ / "full.crank").string(), (dir_ / "resumed.crank").string(), "opt/");
}

TEST_F(TrainerTest, ResumeRefusesADifferentModel) {
  JobConfig job = SmallJob();
  job.train.max_steps = 5;
  Train(job, Run("m.crank"));
  job.model.top = {8, 1};
  EXPECT_THROW(Train(job, Run("m.crank", true)), ConfigError);
  EXPECT_THROW(Train(job, Run("absent.crank", true)), IoError);
}

TEST_F(TrainerTest, NonFiniteLossStopsAndKeepsTheLastGoodCheckpoint) {
  JobConfig job = SmallJob();
  job.dense_optimizer.kind = "sgd";
  job.dense_optimizer.learning_rate = 1e30f;
  job.train.checkpoint_every = 1;
  try {
    Train(job, Run("m.crank"));
    FAIL() << "expected NumericError";
  } catch (const NumericError& e) {
    EXPECT_NE(std::string(e.what()).find("at step"), std::string::npos) << e.what();
  }
  const std::string ckpt = (dir_ / "m.crank.ckpt").string();
  ASSERT_TRUE(fs::exists(ckpt));
  LoadedModel m = LoadModel(ckpt);
  for (Variable* v : m.model->TrainableVariables()) {
    for (int64_t i = 0; i < v->value.size(); ++i)
      ASSERT_TRUE(std::isfinite(v->value[i])) << v->name;
  }
  EXPECT_FALSE(fs::exists(dir_ / "m.crank"));
}

TEST_F(TrainerTest, EarlyStoppingStopsWhenAucDoesNotImprove) {
  JobConfig job = SmallJob();
  job.embedding_optimizer.learning_rate = 1e-30f;  // nothing changes: AUC never improves
  job.dense_optimizer.learning_rate = 1e-30f;
  job.train.epochs = 10;
  job.train.eval_every = 10;
  job.train.early_stopping_patience = 2;
  const TrainResult r = Train(job, Run("m.crank"));
  EXPECT_TRUE(r.stopped_early);
  EXPECT_TRUE(r.state.finished);
  EXPECT_EQ(r.state.global_step, 30);  // evaluations at 10 (best), 20, 30 (two without gain)
}

TEST_F(TrainerTest, ReloadedModelPredictsBitIdentically) {
  Train(SmallJob(), Run("m.crank"));
  LoadedModel a = LoadModel((dir_ / "m.crank").string());
  LoadedModel b = LoadModel((dir_ / "m.crank").string());
  ReaderOptions ro;
  ro.batch_size = 512;
  auto ra = MakeBatchReader(a.mapping, {eval_}, ro, false);
  auto rb = MakeBatchReader(b.mapping, {eval_}, ro, false);
  const std::string pa = (dir_ / "a.txt").string(), pb = (dir_ / "b.txt").string();
  EXPECT_EQ(PredictToFile(*a.model, *ra, pa), 2000);
  EXPECT_EQ(PredictToFile(*b.model, *rb, pb), 2000);
  std::ifstream fa(pa), fb(pb);
  std::string la, lb;
  int lines = 0;
  // The text reads back as exactly the in-memory float.
  Batch batch;
  Tensor pred;
  auto rc = MakeBatchReader(a.mapping, {eval_}, ro, false);
  while (rc->Next(&batch)) {
    a.model->Predict(batch, &pred);
    for (int64_t i = 0; i < pred.size(); ++i) {
      ASSERT_TRUE(std::getline(fa, la));
      ASSERT_TRUE(std::getline(fb, lb));
      EXPECT_EQ(la, lb);
      EXPECT_EQ(std::stof(la), pred[i]);
      ++lines;
    }
  }
  EXPECT_EQ(lines, 2000);
}

TEST_F(TrainerTest, PredictionFailureLeavesAnExistingFileUntouched) {
  Train(SmallJob(), Run("m.crank"));
  LoadedModel m = LoadModel((dir_ / "m.crank").string());
  const std::string out = (dir_ / "pred.txt").string();
  { std::ofstream(out) << "previous\n"; }
  const std::string bad = (dir_ / "bad.tsv").string();
  { std::ofstream(bad) << "1\t2\n"; }  // wrong column count
  auto mapping =
      std::make_shared<const DataMapping>(m.mapping->WithErrorPolicy(ErrorPolicy::kFail));
  auto reader = MakeBatchReader(mapping, {bad}, ReaderOptions{}, false);
  EXPECT_THROW(PredictToFile(*m.model, *reader, out), DataError);
  std::ifstream in(out);
  std::string line;
  std::getline(in, line);
  EXPECT_EQ(line, "previous");
}

}  // namespace
}  // namespace crank
