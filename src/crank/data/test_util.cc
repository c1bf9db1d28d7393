#include "crank/data/test_util.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <numeric>

#include "crank/data/streaming_reader.h"

namespace crank::test {

TempDir::TempDir() {
  static std::atomic<int> counter{0};
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  const std::string name = info ? std::string(info->test_suite_name()) + "." + info->name() : "x";
  dir_ =
      (std::filesystem::temp_directory_path() / ("crank_data_test_" + std::to_string(::getpid()) +
                                                 "_" + std::to_string(counter++) + "_" + name))
          .string();
  std::filesystem::create_directories(dir_);
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(dir_, ec);
}

std::string TempDir::Write(const std::string& name, const std::string& content) const {
  const std::string path = Path(name);
  std::ofstream out(path, std::ios::binary);
  out.write(content.data(), static_cast<std::streamsize>(content.size()));
  EXPECT_TRUE(out.good()) << path;
  return path;
}

std::string CriteoLine(const std::string& label, const std::vector<std::string>& ints,
                       const std::vector<std::string>& cats, bool labelled) {
  std::string line;
  if (labelled) line = label + "\t";
  for (size_t i = 0; i < 13; ++i) line += (i < ints.size() ? ints[i] : "") + "\t";
  for (size_t i = 0; i < 26; ++i) line += (i < cats.size() ? cats[i] : "") + (i < 25 ? "\t" : "");
  return line;
}

DataConfig ConfigFromYaml(const std::string& yaml) { return DataConfig::FromYamlString(yaml, ""); }

std::shared_ptr<const DataMapping> MakeMapping(const DataConfig& config,
                                               const std::vector<std::string>& train_files) {
  return std::make_shared<const DataMapping>(DataMapping::Build(config, train_files));
}

MeanBaseline GlobalMeanBaseline(const DataConfig& config) {
  const auto m = MakeMapping(config, config.train_files);
  ReaderOptions options;
  options.batch_size = 4096;
  options.split = RowSplit::kTrain;
  StreamingReader train(m, config.train_files, options);
  MeanBaseline r;
  double sum = 0.0;
  Batch b;
  while (train.Next(&b)) {
    for (int64_t i = 0; i < b.size(); ++i) sum += b.labels[i];
    r.train_rows += b.size();
  }
  r.train_rows_filtered = train.stats().rows_filtered;
  r.train_mean = sum / static_cast<double>(r.train_rows);
  options.split = RowSplit::kEval;
  StreamingReader eval(m, config.eval_files, options);
  double se = 0.0;
  while (eval.Next(&b)) {
    for (int64_t i = 0; i < b.size(); ++i) {
      se += (b.labels[i] - r.train_mean) * (b.labels[i] - r.train_mean);
    }
    r.eval_rows += b.size();
  }
  r.eval_rmse = std::sqrt(se / static_cast<double>(r.eval_rows));
  return r;
}

std::vector<Batch> ReadAll(BatchReader* reader) {
  std::vector<Batch> out;
  Batch b;
  while (reader->Next(&b)) out.push_back(b);
  return out;
}

void ExpectBatchesEqual(const Batch& a, const Batch& b) {
  ASSERT_EQ(a.dense.shape(), b.dense.shape());
  EXPECT_EQ(a.dense.ToVector(), b.dense.ToVector());
  EXPECT_EQ(a.labels.ToVector(), b.labels.ToVector());
  EXPECT_EQ(a.weights.ToVector(), b.weights.ToVector());
  ASSERT_EQ(a.sparse.size(), b.sparse.size());
  for (size_t f = 0; f < a.sparse.size(); ++f) {
    EXPECT_EQ(a.sparse[f].ids, b.sparse[f].ids) << "feature " << f;
    EXPECT_EQ(a.sparse[f].offsets, b.sparse[f].offsets) << "feature " << f;
    EXPECT_EQ(a.sparse[f].weights, b.sparse[f].weights) << "feature " << f;
  }
}

void ExpectPassesEqual(const std::vector<Batch>& a, const std::vector<Batch>& b) {
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    SCOPED_TRACE("batch " + std::to_string(i));
    ExpectBatchesEqual(a[i], b[i]);
  }
}

double Auc(const std::vector<float>& scores, const std::vector<float>& labels) {
  std::vector<size_t> order(scores.size());
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(), [&](size_t x, size_t y) { return scores[x] < scores[y]; });
  double rank_sum = 0.0, positives = 0.0;
  for (size_t i = 0; i < order.size();) {
    size_t j = i;
    while (j + 1 < order.size() && scores[order[j + 1]] == scores[order[i]]) ++j;
    const double rank = 0.5 * static_cast<double>(i + j) + 1.0;
    for (size_t k = i; k <= j; ++k) {
      if (labels[order[k]] > 0.5f) {
        rank_sum += rank;
        positives += 1.0;
      }
    }
    i = j + 1;
  }
  const double negatives = static_cast<double>(scores.size()) - positives;
  return (rank_sum - positives * (positives + 1.0) / 2.0) / (positives * negatives);
}

}  // namespace crank::test
