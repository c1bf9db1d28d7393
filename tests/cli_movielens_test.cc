// `crank train --config examples/movielens.yaml` end to end on generated rows of MovieLens'
// shape (tests/movielens_data.h), so the example is trained and checked whether or not the
// real data set is present (cli_test.cc runs it on the real data when it is).

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>

#include "cli_fixture.h"
#include "movielens_data.h"

namespace crank {
namespace {

using CliMovieLens = testing::CliFixture;
using testing::ReadFile;
using testing::Result;

TEST_F(CliMovieLens, ExampleConfigOnGeneratedRowsBeatsTheBiasBaseline) {
  const testing::SyntheticMovieLens data = testing::WriteSyntheticMovieLens(
      dir_ / "movielens", std::string(CRANK_SOURCE_DIR) + "/examples/movielens.yaml");
  // The generated ratings hold signal that user and item biases cannot explain, so beating the
  // bias baseline means the model learned from the joined and derived features.
  ASSERT_LT(data.bias_baseline_rmse, data.global_mean_rmse - 0.05);
  Result r = Run("train --config " + data.config.string() + " --model-out " + P("ml.crank") +
                 " --metrics-out " + P("ml.json"));
  ASSERT_EQ(r.code, 0) << r.err;
  const auto m = nlohmann::json::parse(ReadFile(P("ml.json")));
  EXPECT_EQ(m["examples"], data.eval_rows);
  EXPECT_EQ(m["history"].size(), 2u);  // epochs: 2 in the example
  EXPECT_LT(m["rmse"].get<double>(), data.bias_baseline_rmse)
      << "the user+item bias baseline on this hold-out; global mean: " << data.global_mean_rmse;
  EXPECT_TRUE(m["mae"].is_number());

  // The saved model, evaluated on the same file, picks the held-out rows by itself (the hold-out
  // is part of the model's data config) and scores them as the training run did (up to float
  // summation order: eval batches are larger).
  r = Run("eval --model " + P("ml.crank") + " --data " + data.ratings.string() + " --metrics-out " +
          P("eval.json"));
  ASSERT_EQ(r.code, 0) << r.err;
  const auto e = nlohmann::json::parse(ReadFile(P("eval.json")));
  EXPECT_EQ(e["examples"], data.eval_rows);
  EXPECT_NEAR(e["rmse"].get<double>(), m["rmse"].get<double>(), 1e-4);
}

}  // namespace
}  // namespace crank
