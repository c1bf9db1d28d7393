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
#include "crank/io/load_model.h"
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
    c.model.interaction = *ParseName(kInteractionNames, GetParam());
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

  // The loaded model predicts exactly what the trained one did.
  InferenceWorkspace ws;
  Tensor first;
  model.Predict(batches[0], &ws, &first);
  ASSERT_EQ(trained.shape(), first.shape());
  EXPECT_EQ(0, std::memcmp(trained.data(), first.data(), sizeof(float) * trained.size()));

  // `threads` std::threads share the model read-only; thread t predicts batches t,
  // t + threads, ... `rounds` times over, with one workspace reused across batch sizes. Every
  // worker starts as a fresh std::thread, so each runs its kernels with the same OpenMP
  // defaults whatever the count.
  const auto predict = [&](int threads, int rounds) {
    std::vector<Tensor> out(batches.size());
    std::vector<std::exception_ptr> errors(static_cast<size_t>(threads));
    std::vector<std::thread> workers;
    for (int t = 0; t < threads; ++t) {
      workers.emplace_back([&, t] {
        try {
          InferenceWorkspace own;
          for (int r = 0; r < rounds; ++r) {
            for (size_t i = static_cast<size_t>(t); i < batches.size();
                 i += static_cast<size_t>(threads)) {
              model.Predict(batches[i], &own, &out[i]);
            }
          }
        } catch (...) {
          errors[static_cast<size_t>(t)] = std::current_exception();
        }
      });
    }
    for (std::thread& w : workers) w.join();
    for (const std::exception_ptr& e : errors) {
      if (e) std::rethrow_exception(e);
    }
    return out;
  };
  const std::vector<Tensor> expected = predict(/*threads=*/1, /*rounds=*/1);
  const std::vector<Tensor> got = predict(/*threads=*/2, /*rounds=*/3);
  for (size_t i = 0; i < batches.size(); ++i) {
    ASSERT_EQ(got[i].shape(), expected[i].shape()) << "batch " << i;
    EXPECT_EQ(0, std::memcmp(got[i].data(), expected[i].data(), sizeof(float) * got[i].size()))
        << "batch " << i << " differs from the single-threaded prediction";
  }
}

INSTANTIATE_TEST_SUITE_P(Interactions, InferenceThreads,
                         ::testing::Values("dot", "cross", "concat"),
                         [](const ::testing::TestParamInfo<std::string>& i) { return i.param; });

}  // namespace
}  // namespace crank
