// One model, many predicting threads: a model trained for a few steps, saved and loaded back,
// serves two std::threads at once through the const Predict, each thread with its own
// InferenceWorkspace; every prediction equals the single-threaded one bit for bit. Run under
// ThreadSanitizer by the tsan preset (test names contain "Threads").

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstring>
#include <exception>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "crank/data/batch_reader.h"
#include "crank/data/mapping.h"
#include "crank/data/synthetic_criteo.h"
#include "crank/io/model_checkpoint.h"
#include "crank/model/ranking.h"
#include "crank/train/job_config.h"
#include "crank/train/trainer.h"

namespace crank {
namespace {

namespace fs = std::filesystem;

class InferenceThreads : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("crank_inference_threads_test_" + std::to_string(getpid()) + "_" + GetParam());
    fs::create_directories(dir_);
    data_ = (dir_ / "rows.tsv").string();
    SyntheticOptions o;
    o.rows = 1500;
    o.seed = 4;
    o.max_cardinality = 300;
    std::ofstream out(data_);
    GenerateSyntheticCriteo(o, out);
    ConfigureThreads(2);
  }
  void TearDown() override { fs::remove_all(dir_); }

  JobConfig SmallJob() const {
    JobConfig c;
    c.data.criteo.encoding.hash_buckets = 500;
    c.model.embedding_dim = 4;
    c.model.bottom = {16, 4};
    c.model.top = {16, 1};
    c.model.interaction = GetParam();
    c.train.seed = 3;
    return c;
  }

  // Trains a model for a few steps on the rows and saves it; returns the file's path. The
  // trained model's prediction for `probe` goes to *probe_predictions.
  std::string TrainAndSave(const JobConfig& config,
                           const std::shared_ptr<const DataMapping>& mapping, const Batch& probe,
                           Tensor* probe_predictions) const {
    ReaderOptions ro;
    ro.batch_size = 64;
    std::unique_ptr<BatchReader> reader = MakeBatchReader(mapping, {data_}, ro, false);
    Ranking model(config.MakeRankingConfig(mapping->spec()));
    model.SetOptimizer(MakeJobOptimizer(model, config));
    Batch batch;
    for (int step = 0; step < 8 && reader->Next(&batch); ++step) model.TrainStep(batch);
    model.Predict(probe, probe_predictions);
    const std::string path = (dir_ / "model.crank").string();
    SaveModelCheckpoint(path, model, model.optimizer(), config.ToYaml(), mapping->Serialize(),
                        TrainingState{});
    return path;
  }

  fs::path dir_;
  std::string data_;
};

// Batches of different sizes (the last one shorter) read from the rows.
std::vector<Batch> ReadBatches(const std::shared_ptr<const DataMapping>& mapping,
                               const std::string& file) {
  ReaderOptions ro;
  ro.batch_size = 97;
  std::unique_ptr<BatchReader> reader = MakeBatchReader(mapping, {file}, ro, false);
  std::vector<Batch> batches;
  Batch b;
  while (reader->Next(&b)) batches.push_back(b);
  return batches;
}

TEST_P(InferenceThreads, TwoThreadsPredictingWithOneLoadedModelMatchOneThread) {
  const JobConfig config = SmallJob();
  auto mapping = std::make_shared<const DataMapping>(DataMapping::Build(config.data, {data_}));
  const std::vector<Batch> batches = ReadBatches(mapping, data_);
  ASSERT_GE(batches.size(), 4u);
  Tensor trained;
  const std::string path = TrainAndSave(config, mapping, batches[0], &trained);
  const LoadedModel loaded = LoadModel(path);
  const Ranking& model = *loaded.model;

  // One thread, one workspace: the reference.
  std::vector<Tensor> expected(batches.size());
  InferenceWorkspace ws;
  for (size_t i = 0; i < batches.size(); ++i) model.Predict(batches[i], &ws, &expected[i]);

  // Two threads share the model read-only; thread t predicts batches t, t+2, ... several times
  // over (one workspace each, reused across batch sizes).
  constexpr int kThreads = 2;
  constexpr int kRounds = 3;
  std::vector<std::vector<Tensor>> got(kThreads, std::vector<Tensor>(batches.size()));
  std::vector<std::exception_ptr> errors(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      try {
        InferenceWorkspace own;
        for (int r = 0; r < kRounds; ++r) {
          for (size_t i = static_cast<size_t>(t); i < batches.size(); i += kThreads) {
            model.Predict(batches[i], &own, &got[static_cast<size_t>(t)][i]);
          }
        }
      } catch (...) {
        errors[static_cast<size_t>(t)] = std::current_exception();
      }
    });
  }
  for (std::thread& th : threads) th.join();
  for (const std::exception_ptr& e : errors) {
    if (e) std::rethrow_exception(e);
  }
  for (size_t i = 0; i < batches.size(); ++i) {
    const Tensor& g = got[i % kThreads][i];
    ASSERT_EQ(g.shape(), expected[i].shape()) << "batch " << i;
    EXPECT_EQ(0, std::memcmp(g.data(), expected[i].data(), sizeof(float) * g.size()))
        << "batch " << i << " differs from the single-threaded prediction";
  }

  // The loaded model predicts exactly what the trained one did.
  ASSERT_EQ(trained.shape(), expected[0].shape());
  EXPECT_EQ(0, std::memcmp(trained.data(), expected[0].data(), sizeof(float) * trained.size()));
}

INSTANTIATE_TEST_SUITE_P(Interactions, InferenceThreads,
                         ::testing::Values("dot", "cross", "concat"),
                         [](const ::testing::TestParamInfo<std::string>& i) { return i.param; });

}  // namespace
}  // namespace crank
