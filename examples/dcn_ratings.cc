// A DCN-v2 for rating prediction, built from explicit blocks through crank's public API as the
// TFRS Ranking page describes it: feature_interaction = [Concatenate(), Cross()], a custom top
// stack, and a Ranking task with mean squared error. Every block here could be a user-defined
// implementation of crank::Block or crank::FeatureInteraction.
//
// Data: synthetic ratings from a hidden user x item factor model (1..5 stars): dcn_ratings [steps]

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include "crank/base/rng.h"
#include "crank/tensor/batch.h"
#include "crank/layers/cross.h"
#include "crank/layers/mlp.h"
#include "crank/model/ranking.h"
#include "crank/optim/composite_optimizer.h"

namespace {

constexpr int kUsers = 500, kItems = 800, kFactors = 4;

struct RatingTeacher {
  std::vector<float> user, item, user_bias, item_bias;
  RatingTeacher() {
    crank::Rng rng(7);
    auto fill = [&](std::vector<float>& v, size_t n, double s) {
      v.resize(n);
      for (float& x : v) x = static_cast<float>(rng.Normal() * s);
    };
    fill(user, kUsers * kFactors, 0.6);
    fill(item, kItems * kFactors, 0.6);
    fill(user_bias, kUsers, 0.4);
    fill(item_bias, kItems, 0.5);
  }
  crank::Batch Sample(int batch_size, crank::Rng& rng) const {
    crank::Batch b;
    b.dense.Resize({batch_size, 1});
    b.labels.Resize({batch_size});
    b.sparse.resize(2);  // "item", "user" in sorted name order
    for (auto& f : b.sparse) f.Clear();
    for (int i = 0; i < batch_size; ++i) {
      const int u = static_cast<int>(rng.UniformInt(kUsers));
      const int it = static_cast<int>(rng.UniformInt(kItems));
      double r = 3.5 + user_bias[u] + item_bias[it];
      for (int k = 0; k < kFactors; ++k) r += user[u * kFactors + k] * item[it * kFactors + k];
      b.dense.at(i, 0) = rng.UniformFloat();  // an uninformative dense feature (e.g. time of day)
      b.sparse[0].ids.push_back(it);
      b.sparse[0].offsets.push_back(i + 1);
      b.sparse[1].ids.push_back(u);
      b.sparse[1].offsets.push_back(i + 1);
      b.labels[i] = static_cast<float>(std::clamp(std::round(r * 2) / 2, 0.5, 5.0));
    }
    return b;
  }
};

}  // namespace

int main(int argc, char** argv) {
  const int steps = argc > 1 ? std::atoi(argv[1]) : 3000;

  crank::RankingBlocks blocks;
  blocks.embedding = std::make_unique<crank::EmbeddingCollection>(
      std::vector<crank::TableConfig>{{.name = "user", .vocabulary_size = kUsers, .dim = 16},
                                      {.name = "item", .vocabulary_size = kItems, .dim = 16}},
      std::vector<crank::FeatureConfig>{{.name = "user", .table = "user"},
                                        {.name = "item", .table = "item"}});
  blocks.bottom_stack = std::make_unique<crank::Mlp>("bottom", crank::MlpOptions{.units = {16, 8}});
  // DCN: concatenate [item, user, bottom] and apply one low-rank Cross layer.
  crank::CrossInteractionOptions cross;
  cross.num_layers = 1;
  cross.cross.projection_dim = 8;
  blocks.feature_interaction = std::make_unique<crank::CrossInteraction>(cross);
  blocks.top_stack = std::make_unique<crank::Mlp>(
      "top",
      crank::MlpOptions{.units = {64, 32, 1}, .final_activation = crank::Activation::kLinear});
  blocks.task = std::make_unique<crank::RankingTask>(
      crank::RankingTaskOptions{.loss = crank::LossKind::kMeanSquaredError});
  blocks.output_activation = crank::Activation::kLinear;  // ratings are not probabilities
  crank::Ranking model(std::move(blocks), /*dense_features=*/1, /*seed=*/3);

  std::vector<std::pair<std::unique_ptr<crank::Optimizer>, std::vector<crank::Variable*>>> parts;
  parts.emplace_back(crank::MakeAdagrad({.learning_rate = 0.05f}),
                     model.EmbeddingTrainableVariables());
  parts.emplace_back(crank::MakeAdam({.learning_rate = 0.002f}), model.DenseTrainableVariables());
  model.SetOptimizer(std::make_unique<crank::CompositeOptimizer>(std::move(parts)));

  const RatingTeacher teacher;
  crank::Rng rng(5);
  const crank::Batch eval = teacher.Sample(20000, rng);
  model.TestStep(eval);
  const double rmse_before = model.Metrics().at("rmse");
  for (int step = 1; step <= steps; ++step) {
    const crank::StepResult r = model.TrainStep(teacher.Sample(256, rng));
    if (step % 1000 == 0) std::printf("step %d  mse %.4f\n", step, r.loss);
  }
  model.ResetMetrics();
  model.TestStep(eval);
  const double rmse = model.Metrics().at("rmse");
  std::printf("eval rmse: %.4f before training, %.4f after\n", rmse_before, rmse);
  return rmse < rmse_before ? 0 : 1;
}
