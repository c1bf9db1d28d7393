#include "crank/train/trainer.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "crank/base/error.h"
#include "crank/data/synthetic_criteo.h"
#include "crank/io/checkpoint.h"
#include "crank/io/load_model.h"
#include "crank/train/evaluate.h"
#include "crank/train/progress.h"

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

  // SmallJob with learning rates so small that AUC never improves: 10 epochs, an evaluation
  // every 10 steps, early stopping after 2 evaluations without gain.
  JobConfig NonLearningJobWithEarlyStopping() const {
    JobConfig job = SmallJob();
    job.embedding_optimizer.learning_rate = 1e-30f;
    job.dense_optimizer.learning_rate = 1e-30f;
    job.train.epochs = 10;
    job.train.eval_every = 10;
    job.train.early_stopping_patience = 2;
    return job;
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
    EmbeddingPrecision pa, pb;
    if (const Tensor16* x = a.FindTensor16(name, &pa)) {  // a table stored in 16 bits
      const Tensor16* y = b.FindTensor16(name, &pb);
      ASSERT_NE(y, nullptr) << name;
      ASSERT_EQ(pa, pb) << name;
      ASSERT_EQ(x->shape(), y->shape()) << name;
      EXPECT_EQ(0, std::memcmp(x->data(), y->data(), 2 * x->size())) << name << " differs";
      ++compared;
      continue;
    }
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

// The per-row state of the L2 catch-up (model/l2_regularization.h) is optimizer state: saved
// with the checkpoint, so a resumed run ends bit for bit where an uninterrupted one does.
TEST_F(TrainerTest, ResumeWithL2CatchUpEndsWithTheSameWeightsAndState) {
  JobConfig job = SmallJob();
  job.model.embedding_l2 = 1e-3f;
  job.model.embedding_l2_catch_up = 50;
  Train(job, Run("full.crank"));
  JobConfig first = job;
  first.train.max_steps = 60;
  first.train.checkpoint_every = 7;
  Train(first, Run("resumed.crank"));
  JobConfig rest = job;
  rest.train.checkpoint_every = 7;
  const TrainResult done = Train(rest, Run("resumed.crank", /*resume=*/true));
  EXPECT_EQ(done.state.global_step, 2 * 94);
  ExpectSameRecords((dir_ / "full.crank").string(), (dir_ / "resumed.crank").string(), "var/");
  ExpectSameRecords((dir_ / "full.crank").string(), (dir_ / "resumed.crank").string(), "opt/");
  // One state per table, its rows the steps each row has paid (at most the step count).
  const Checkpoint c = Checkpoint::Load((dir_ / "full.crank").string());
  int states = 0;
  for (const std::string& name : c.Names()) {
    if (!name.ends_with("/l2_steps")) continue;
    ++states;
    const Tensor& t = c.GetTensor(name);
    ASSERT_EQ(t.rank(), 2) << name;
    EXPECT_EQ(t.dim(1), 2) << name;
    float most = 0.0f;
    for (int64_t r = 0; r < t.dim(0); ++r) {
      EXPECT_EQ(t.row(r)[0], 0.0f) << name;  // below 2^24 steps
      most = std::max(most, t.row(r)[1]);
    }
    EXPECT_EQ(most, 2.0f * 94) << name << ": some row was touched at the last step";
  }
  EXPECT_EQ(states, 26);
  // Catch-up changes the training: without it the tables differ.
  JobConfig plain = job;
  plain.model.embedding_l2_catch_up = 0;
  Train(plain, Run("plain.crank"));
  const Checkpoint p = Checkpoint::Load((dir_ / "plain.crank").string());
  EXPECT_NE(p.GetTensor("var/embedding/C1").ToVector(), c.GetTensor("var/embedding/C1").ToVector());
  for (const std::string& name : p.Names()) EXPECT_FALSE(name.ends_with("/l2_steps")) << name;
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
  const JobConfig job = NonLearningJobWithEarlyStopping();
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

// Records every hook call as a line of text; optionally asks to stop at a step.
class RecordingHook : public TrainHook {
 public:
  explicit RecordingHook(int64_t stop_at_step = 0) : stop_at_step_(stop_at_step) {}
  void OnEpochBegin(int64_t epoch, int64_t epochs, int64_t total_bytes) override {
    events.push_back(fmt::format("begin {}/{}", epoch, epochs));
    total_bytes_ = total_bytes;
  }
  HookAction OnStepEnd(const StepEndInfo& s) override {
    events.push_back(fmt::format("step {} epoch {}", s.step, s.epoch));
    steps.push_back(s);
    return s.step == stop_at_step_ ? HookAction::kStop : HookAction::kContinue;
  }
  void OnEvalBegin(int64_t epoch, int64_t step) override {
    events.push_back(fmt::format("eval-begin {} {}", epoch, step));
  }
  HookAction OnEval(const EvalInfo& e) override {
    events.push_back(fmt::format("eval {} {}", e.epoch, e.step));
    evals.push_back(*e.metrics);
    return HookAction::kContinue;
  }
  void OnCheckpoint(const std::string& path, const TrainingState& state) override {
    events.push_back(
        fmt::format("checkpoint {} {}", fs::path(path).filename().string(), state.global_step));
  }
  void OnEpochEnd(int64_t epoch) override { events.push_back(fmt::format("end {}", epoch)); }

  std::vector<std::string> events;
  std::vector<StepEndInfo> steps;
  std::vector<MetricMap> evals;
  int64_t total_bytes_ = 0;

 private:
  int64_t stop_at_step_;
};

TEST_F(TrainerTest, HooksAreCalledInOrderWithTheRightValues) {
  JobConfig job = SmallJob();
  job.train.epochs = 1;
  job.train.eval_every = 40;
  job.train.checkpoint_every = 30;
  job.train.shuffle_buffer = 0;
  Trainer trainer(job, Run("m.crank"));
  RecordingHook hook;
  trainer.AddHook(&hook);
  const TrainResult r = trainer.Fit();

  // 12000 rows in batches of 128: 93 full batches and one of 96.
  std::vector<std::string> expected = {"begin 0/1"};
  for (int64_t s = 1; s <= 94; ++s) {
    expected.push_back(fmt::format("step {} epoch 0", s));
    if (s % 40 == 0) {
      expected.push_back(fmt::format("eval-begin 1 {}", s));
      expected.push_back(fmt::format("eval 1 {}", s));
    }
    if (s % 30 == 0) expected.push_back(fmt::format("checkpoint m.crank.ckpt {}", s));
  }
  expected.insert(expected.end(),
                  {"end 0", "eval-begin 1 94", "eval 1 94", "checkpoint m.crank.ckpt 94"});
  EXPECT_EQ(hook.events, expected);

  const int64_t file_bytes = static_cast<int64_t>(fs::file_size(train_));
  EXPECT_EQ(hook.total_bytes_, file_bytes);
  ASSERT_EQ(hook.steps.size(), 94u);
  int64_t examples = 0, last_bytes = 0;
  for (const StepEndInfo& s : hook.steps) {
    EXPECT_EQ(s.batch_size, s.step == 94 ? 96 : 128);
    EXPECT_TRUE(std::isfinite(s.loss));
    EXPECT_GE(s.total_loss, s.loss);
    EXPECT_GE(s.bytes_read, last_bytes);
    last_bytes = s.bytes_read;
    examples += s.batch_size;
  }
  EXPECT_EQ(examples, 12000);
  EXPECT_EQ(hook.steps.back().bytes_read, file_bytes);
  ASSERT_EQ(hook.evals.size(), 3u);
  // train.keep_best: the final metrics are those of the best evaluation (AUC) of the run.
  const MetricMap* best = &hook.evals.front();
  for (const MetricMap& m : hook.evals) {
    if (m.at("auc") > best->at("auc")) best = &m;
  }
  EXPECT_EQ(*best, r.final_eval);
  EXPECT_EQ(hook.evals.back().at("examples"), 2000);
  EXPECT_TRUE(r.state.finished);
  EXPECT_FALSE(r.stopped_by_hook);
}

TEST_F(TrainerTest, AHookCanStopTrainingAndResumeContinuesTheRun) {
  const JobConfig job = SmallJob();
  Train(job, Run("full.crank"));
  Trainer trainer(job, Run("stopped.crank"));
  RecordingHook hook(/*stop_at_step=*/25);
  trainer.AddHook(&hook);
  const TrainResult r = trainer.Fit();
  EXPECT_TRUE(r.stopped_by_hook);
  EXPECT_FALSE(r.stopped_early);
  EXPECT_FALSE(r.state.finished);
  EXPECT_EQ(r.state.global_step, 25);
  EXPECT_EQ(hook.steps.size(), 25u);
  EXPECT_EQ(hook.events.back(), "checkpoint stopped.crank.ckpt 25");
  EXPECT_EQ(ModelCheckpoint::Load((dir_ / "stopped.crank").string()).state().global_step, 25);
  // The stop paused the run: resuming finishes it exactly as if it had not stopped.
  const TrainResult done = Train(job, Run("stopped.crank", /*resume=*/true));
  EXPECT_TRUE(done.state.finished);
  ExpectSameRecords((dir_ / "full.crank").string(), (dir_ / "stopped.crank").string(), "var/");
}

// SmallJob for one epoch with evaluations at steps 40, 80 and 94 (the end): AUC rises to step
// 80 and falls at step 94, so the best model is not the last one.
JobConfig LaterEvaluationGetsWorse(JobConfig job) {
  job.train.epochs = 1;
  job.train.eval_every = 40;
  job.train.shuffle_buffer = 0;
  return job;
}

TEST_F(TrainerTest, KeepBestPublishesTheModelOfTheBestEvaluation) {
  const JobConfig job = LaterEvaluationGetsWorse(SmallJob());
  const TrainResult r = Train(job, Run("best.crank"));
  const nlohmann::json history = nlohmann::json::parse(r.history_json);
  ASSERT_EQ(history.size(), 3u);
  const double auc40 = history[0]["metrics"]["auc"], auc80 = history[1]["metrics"]["auc"],
               auc94 = history[2]["metrics"]["auc"];
  ASSERT_GT(auc80, auc40);
  ASSERT_LT(auc94, auc80);  // the run this test needs: its last evaluation is worse
  EXPECT_EQ(r.kept_step, 80);
  EXPECT_EQ(r.kept_epoch, 1);
  EXPECT_EQ(r.final_eval.at("auc"), auc80);
  EXPECT_EQ(r.state.global_step, 94);
  EXPECT_TRUE(r.state.finished);
  // The published model is the model of step 80: the same weights as a run stopped there.
  JobConfig to80 = job;
  to80.train.max_steps = 80;
  to80.train.keep_best = false;
  Train(to80, Run("at80.crank"));
  ExpectSameRecords((dir_ / "at80.crank").string(), (dir_ / "best.crank").string(), "var/");
  EXPECT_EQ(ModelCheckpoint::Load((dir_ / "best.crank").string()).state().global_step, 80);
  // The checkpoint keeps the last state, and the finished run leaves no .best file behind.
  EXPECT_EQ(ModelCheckpoint::Load((dir_ / "best.crank.ckpt").string()).state().global_step, 94);
  EXPECT_FALSE(fs::exists(dir_ / "best.crank.best"));

  // keep_best: false publishes the last state and its metrics.
  JobConfig last = job;
  last.train.keep_best = false;
  const TrainResult l = Train(last, Run("last.crank"));
  EXPECT_EQ(l.kept_step, -1);
  EXPECT_EQ(l.final_eval.at("auc"), auc94);
  EXPECT_EQ(ModelCheckpoint::Load((dir_ / "last.crank").string()).state().global_step, 94);
}

TEST_F(TrainerTest, KeepBestSurvivesAPauseAndResume) {
  const JobConfig job = LaterEvaluationGetsWorse(SmallJob());
  Train(job, Run("full.crank"));
  // Paused at step 85, after the best evaluation (80): its weights were saved to .best.
  JobConfig first = job;
  first.train.max_steps = 85;
  const TrainResult paused = Train(first, Run("resumed.crank"));
  EXPECT_FALSE(paused.state.finished);
  EXPECT_EQ(paused.kept_step, 80);
  EXPECT_TRUE(fs::exists(dir_ / "resumed.crank.best"));
  const TrainResult done = Train(job, Run("resumed.crank", /*resume=*/true));
  EXPECT_TRUE(done.state.finished);
  EXPECT_EQ(done.kept_step, 80);
  ExpectSameRecords((dir_ / "full.crank").string(), (dir_ / "resumed.crank").string(), "var/");
  EXPECT_FALSE(fs::exists(dir_ / "resumed.crank.best"));
}

TEST_F(TrainerTest, WithoutFilesTheResultIsTheSameAndNothingIsWritten) {
  JobConfig job = SmallJob();
  job.train.epochs = 1;
  job.train.eval_every = 40;
  const TrainResult with = Trainer(job, Run("with.model")).Fit();
  TrainRun run = Run("without.model");
  run.write_files = false;
  const TrainResult without = Trainer(job, run).Fit();
  EXPECT_EQ(without.final_eval, with.final_eval);
  EXPECT_EQ(without.kept_step, with.kept_step);
  EXPECT_EQ(without.history_json, with.history_json);
  EXPECT_TRUE(fs::exists(dir_ / "with.model"));
  for (const char* name : {"without.model", "without.model.ckpt", "without.model.best"})
    EXPECT_FALSE(fs::exists(dir_ / name)) << name;
}

TEST_F(TrainerTest, OptimizerStateExistsBeforeTheFirstStep) {
  // The state as large as the tables is allocated with them, not inside the first step.
  JobConfig job = SmallJob();
  Trainer trainer(job, Run("state.model"));
  const auto state = trainer.model().optimizer()->StateTensors();
  int64_t floats = 0;
  for (const auto& [name, tensor] : state) {
    floats += tensor->size();
    for (int64_t i = 0; i < tensor->size(); ++i) ASSERT_EQ((*tensor)[i], 0.0f) << name;
  }
  // Adagrad accumulators for every table row, Adam's two moments for every dense weight.
  int64_t table_floats = 0;
  for (const Variable* v : trainer.model().EmbeddingTrainableVariables())
    table_floats += v->value.size();
  EXPECT_GE(floats, table_floats);
  EXPECT_GT(table_floats, 0);
}

TEST(EarlyStopping, StopsAfterPatienceEvaluationsWithoutImprovement) {
  EarlyStopping auc(2, /*higher_is_better=*/true);
  EXPECT_STREQ(auc.metric_name(), "auc");
  EXPECT_FALSE(auc.Observe({{"auc", 0.70}}));
  EXPECT_FALSE(auc.Observe({{"auc", 0.69}}));
  EXPECT_FALSE(auc.Observe({{"auc", 0.71}}));  // improvement resets the count
  EXPECT_EQ(auc.since_best(), 0);
  EXPECT_FALSE(auc.Observe({{"auc", 0.71}}));  // equal is no improvement
  EXPECT_TRUE(auc.Observe({}));                // missing is no improvement
  EXPECT_EQ(auc.best(), 0.71);
  EarlyStopping rmse(1, /*higher_is_better=*/false);
  EXPECT_STREQ(rmse.metric_name(), "rmse");
  EXPECT_FALSE(rmse.Observe({{"rmse", 2.0}}));
  EXPECT_FALSE(rmse.Observe({{"rmse", 1.5}}));
  EXPECT_TRUE(rmse.Observe({{"rmse", 1.6}}));
  EarlyStopping never(0, true);
  for (int i = 0; i < 5; ++i) EXPECT_FALSE(never.Observe({{"auc", 0.5}}));
  EXPECT_EQ(never.since_best(), 4);
}

TEST_F(TrainerTest, EarlyStoppingIsTheSameLiveAndAfterResume) {
  const JobConfig job = NonLearningJobWithEarlyStopping();
  const TrainResult live = Train(job, Run("live.crank"));
  ASSERT_TRUE(live.stopped_early);
  ASSERT_EQ(live.state.global_step, 30);
  // Paused after the evaluations at 10 (best) and 20 (one without gain): the resumed run
  // replays them and stops at the same evaluation.
  JobConfig first = job;
  first.train.max_steps = 20;
  const TrainResult paused = Train(first, Run("resumed.crank"));
  EXPECT_FALSE(paused.stopped_early);
  EXPECT_FALSE(paused.state.finished);
  EXPECT_EQ(paused.state.global_step, 20);
  const TrainResult resumed = Train(job, Run("resumed.crank", /*resume=*/true));
  EXPECT_TRUE(resumed.stopped_early);
  EXPECT_TRUE(resumed.state.finished);
  EXPECT_EQ(resumed.state.global_step, live.state.global_step);
  EXPECT_EQ(resumed.history_json, live.history_json);
}

TEST_F(TrainerTest, ResumeSeeksTheInputInsteadOfReReadingIt) {
  for (const bool in_memory : {false, true}) {
    SCOPED_TRACE(in_memory ? "in-memory" : "streaming");
    JobConfig job = SmallJob();
    job.train.shuffle_buffer = 0;  // the order is the file's: the input can seek
    job.train.in_memory = in_memory;
    const std::string tag = in_memory ? "memory" : "stream";
    Train(job, Run(tag + "_full.crank"));
    JobConfig first = job;
    first.train.max_steps = 60;
    Train(first, Run(tag + ".crank"));
    const TrainingState saved =
        ModelCheckpoint::Load((dir_ / (tag + ".crank.ckpt")).string()).state();
    ASSERT_TRUE(saved.input.has_value());
    EXPECT_EQ(saved.input->rows, 60 * 128);

    Trainer trainer(job, Run(tag + ".crank", /*resume=*/true));
    RecordingHook hook;
    trainer.AddHook(&hook);
    const TrainResult done = trainer.Fit();
    EXPECT_TRUE(done.state.finished);
    ASSERT_EQ(hook.steps.size(), 2u * 94 - 60);
    EXPECT_EQ(hook.steps.front().step, 61);
    EXPECT_EQ(done.train_examples, 2 * 12000 - 60 * 128);
    if (!in_memory) {
      // The resumed epoch read the file from the saved byte on, not the bytes already trained.
      ASSERT_GT(saved.input->byte_offset, 0);
      const int64_t file_bytes = static_cast<int64_t>(fs::file_size(train_));
      const StepEndInfo& last_of_epoch = hook.steps[94 - 61];
      ASSERT_EQ(last_of_epoch.step, 94);
      EXPECT_EQ(last_of_epoch.epoch, 0);
      EXPECT_EQ(last_of_epoch.bytes_read, file_bytes - saved.input->byte_offset);
      EXPECT_EQ(hook.steps.back().bytes_read, file_bytes);  // the next epoch reads it all
    } else {
      EXPECT_FALSE(saved.input->file_index >= 0);  // the in-memory reader seeks by row
    }
    ExpectSameRecords((dir_ / (tag + "_full.crank")).string(), (dir_ / (tag + ".crank")).string(),
                      "var/");
    ExpectSameRecords((dir_ / (tag + "_full.crank")).string(), (dir_ / (tag + ".crank")).string(),
                      "opt/");
  }
}

}  // namespace
}  // namespace crank

namespace crank {
namespace {

// Tables stored in 16 bits: the model file holds them in 16 bits, a resumed run ends bit for bit
// where the uninterrupted one does (the rounding is keyed by step and row), and the reloaded model
// predicts what the trained one did.
TEST_F(TrainerTest, SixteenBitTablesResumeExactlyAndReloadBitIdentically) {
  for (const EmbeddingPrecision p : {EmbeddingPrecision::kBf16, EmbeddingPrecision::kFp16}) {
    const std::string name(EmbeddingPrecisionName(p));
    SCOPED_TRACE(name);
    JobConfig job = SmallJob();
    job.train.epochs = 1;
    job.model.embedding_precision = p;
    const TrainResult full = Train(job, Run(name + "_full.crank"));
    EXPECT_GT(full.final_eval.at("auc"), 0.52);  // one epoch of a small model: above chance
    JobConfig first = job;
    first.train.max_steps = 40;
    first.train.checkpoint_every = 7;
    Train(first, Run(name + "_resumed.crank"));
    JobConfig rest = job;
    rest.train.checkpoint_every = 7;
    const TrainResult done = Train(rest, Run(name + "_resumed.crank", /*resume=*/true));
    EXPECT_EQ(done.state.global_step, 94);
    const std::string a = (dir_ / (name + "_full.crank")).string();
    const std::string b = (dir_ / (name + "_resumed.crank")).string();
    ExpectSameRecords(a, b, "var/");
    ExpectSameRecords(a, b, "opt/");

    const Checkpoint file = Checkpoint::Load(a);
    EXPECT_EQ(file.format_version(), 2u);
    EmbeddingPrecision stored;
    const Tensor16* table = file.FindTensor16("var/embedding/C1", &stored);
    ASSERT_NE(table, nullptr);
    EXPECT_EQ(stored, p);
    EXPECT_EQ(table->shape(), (std::vector<int64_t>{1001, 4}));  // 1000 buckets + missing
    // Optimizer state stays fp32.
    EXPECT_NO_THROW(file.GetTensor("opt/opt0/embedding/C1/accumulator"));

    LoadedModel m = LoadModel(a);
    for (Variable* v : m.model->EmbeddingTrainableVariables()) {
      EXPECT_EQ(v->precision, p) << v->name;
      EXPECT_TRUE(v->value.empty()) << v->name;
    }
    ReaderOptions ro;
    ro.batch_size = job.train.eval_batch_size;
    auto reader = MakeBatchReader(m.mapping, {eval_}, ro, false);
    const MetricMap reloaded = Evaluate(*m.model, *reader);
    EXPECT_EQ(reloaded.at("auc"), full.final_eval.at("auc"));
  }
}

}  // namespace
}  // namespace crank
