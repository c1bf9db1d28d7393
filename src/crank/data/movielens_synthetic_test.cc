// The example configuration examples/movielens.yaml on generated rows of MovieLens' shape
// (tests/movielens_data.h): the paths the real-data tests in delimited_test.cc cover (config
// parsing, the join on movieId, multi-hot genres, fields derived from the title and the
// timestamp, the every-10th-row hold-out), checked against numbers computed from the generated
// rows directly. They run whether or not the real data is present.

#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <cmath>
#include <filesystem>
#include <set>
#include <string>
#include <vector>

#include "crank/data/in_memory_dataset.h"
#include "crank/data/mapping.h"
#include "crank/data/streaming_reader.h"
#include "crank/data/test_util.h"
#include "crank/data/vocabulary.h"
#include "movielens_data.h"

namespace crank {
namespace {

class SyntheticMovieLens : public ::testing::Test {
 protected:
  void SetUp() override {
    data_ = testing::WriteSyntheticMovieLens(dir_.Path("movielens"),
                                             CRANK_SOURCE_DIR "/examples/movielens.yaml");
  }
  DataConfig Config() const {
    const YAML::Node root = YAML::LoadFile(data_.config.string());
    return DataConfig::FromYaml(root["data"], data_.config.string());
  }

  test::TempDir dir_;
  testing::SyntheticMovieLens data_;
};

TEST_F(SyntheticMovieLens, ExampleConfigReadsRatingsJoinedWithMovies) {
  const DataConfig config = Config();
  ASSERT_EQ(config.train_files.size(), 1u);
  EXPECT_EQ(config.train_files[0], data_.ratings.lexically_normal().string());
  ASSERT_EQ(config.eval_files.size(), 1u);
  EXPECT_EQ(config.eval_files[0], data_.ratings.lexically_normal().string());
  const auto m = test::MakeMapping(config, config.train_files);
  const DataSpec& spec = m->spec();
  EXPECT_EQ(spec.dense, (std::vector<std::string>{"movie_year", "rating_year"}));
  ASSERT_EQ(spec.num_sparse(), 5);
  EXPECT_EQ(spec.sparse[0].name, "genres");
  EXPECT_TRUE(spec.sparse[0].multi_hot);
  EXPECT_EQ(spec.sparse[0].vocabulary_size, 2 + 20);  // 19 genres + "(no genres listed)"
  EXPECT_EQ(data_.genres, 20);
  EXPECT_EQ(spec.sparse[1].name, "movieId");
  EXPECT_EQ(spec.sparse[1].vocabulary_size, 2 + data_.movies_rated);
  EXPECT_EQ(spec.sparse[2].name, "rating_day_of_week");
  EXPECT_EQ(spec.sparse[2].vocabulary_size, 2 + 7);
  EXPECT_EQ(spec.sparse[3].name, "rating_hour");
  EXPECT_EQ(spec.sparse[3].vocabulary_size, 2 + 24);
  EXPECT_EQ(spec.sparse[4].name, "userId");
  EXPECT_EQ(spec.sparse[4].vocabulary_size, 2 + data_.users);
  EXPECT_EQ(spec.label, LabelKind::kReal);
  // The title year over training rows; titles without a year are missing, not zero.
  EXPECT_EQ(m->dense_stats(0).count, data_.train_movie_year_count);
  EXPECT_LT(data_.train_movie_year_count, data_.train_rows);
  EXPECT_NEAR(m->dense_stats(0).mean, data_.train_movie_year_mean, 1e-6);
  EXPECT_EQ(m->dense_stats(1).count, data_.train_rows);

  ReaderOptions eval_options;
  eval_options.split = RowSplit::kEval;
  eval_options.batch_size = 100000;
  InMemoryDataset eval(m, config.eval_files, eval_options);
  EXPECT_EQ(eval.num_rows(), data_.eval_rows);  // data rows 1, 11, 21, ...
  Batch b;
  ASSERT_TRUE(eval.Next(&b));
  ASSERT_EQ(b.size(), data_.eval_rows);
  // The first held-out row: user 1 rated Toy Story (1995), Adventure|Animation|Children|
  // Comedy|Fantasy, 4.0 stars at 964982703 (2000-07-30 18:45:03 UTC, a Sunday).
  EXPECT_EQ(b.labels[0], 4.0f);
  EXPECT_FLOAT_EQ(b.dense.at(0, 0),
                  static_cast<float>((1995 - m->dense_stats(0).mean) / m->dense_stats(0).stddev));
  EXPECT_FLOAT_EQ(b.dense.at(0, 1),
                  static_cast<float>((2000 - m->dense_stats(1).mean) / m->dense_stats(1).stddev));
  EXPECT_EQ(b.sparse[0].offsets[1], 5);  // five genres
  std::set<int64_t> genres(b.sparse[0].ids.begin(), b.sparse[0].ids.begin() + 5);
  EXPECT_EQ(genres.size(), 5u);
  EXPECT_EQ(genres.count(Vocabulary::kOovId), 0u);
  EXPECT_EQ(genres.count(Vocabulary::kMissingId), 0u);
  // Held-out rows 2 and 3 (data rows 11 and 21) were given a week and an hour later (Sunday,
  // 19h) and a day later (Monday, 18h): the derived day and hour ids say exactly that.
  const auto& day = b.sparse[2].ids;
  const auto& hour = b.sparse[3].ids;
  EXPECT_EQ(day[0], day[1]);
  EXPECT_NE(day[0], day[2]);
  EXPECT_NE(hour[0], hour[1]);
  EXPECT_EQ(hour[0], hour[2]);
  for (int i = 0; i < 3; ++i) {
    EXPECT_GE(day[i], 2) << "row " << i;  // a known token: neither missing nor OOV
    EXPECT_GE(hour[i], 2) << "row " << i;
  }
  // Quoted titles with a comma parsed correctly: every dense value is finite.
  for (int64_t i = 0; i < b.size(); ++i) {
    ASSERT_TRUE(std::isfinite(b.dense.at(i, 0))) << "row " << i;
    ASSERT_TRUE(std::isfinite(b.dense.at(i, 1))) << "row " << i;
  }
}

TEST_F(SyntheticMovieLens, HoldOutSplitReproducesTheGlobalMeanBaseline) {
  const test::MeanBaseline r = test::GlobalMeanBaseline(Config());
  EXPECT_EQ(r.train_rows, data_.train_rows);
  EXPECT_EQ(r.train_rows_filtered, data_.eval_rows);
  EXPECT_NEAR(r.train_mean, data_.train_mean_rating, 1e-9);
  EXPECT_EQ(r.eval_rows, data_.eval_rows);
  EXPECT_NEAR(r.eval_rmse, data_.global_mean_rmse, 1e-9);
  // The generated ratings carry signal beyond a user + item bias model (tests/movielens_data.h).
  EXPECT_LT(data_.bias_baseline_rmse, data_.global_mean_rmse);
}

}  // namespace
}  // namespace crank
