// Ranking models without dense features (no bottom stack: the interaction sees the embeddings
// alone) and without sparse features (no interaction: the bottom output feeds the top stack).

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "crank/base/error.h"
#include "crank/layers/mlp.h"
#include "crank/metrics/auc.h"
#include "crank/model/ranking.h"
#include "crank/optim/composite_optimizer.h"
#include "crank/optim/optimizer.h"
#include "gradient_check.h"
#include "synthetic_batches.h"

namespace crank {
namespace {

using testing::SyntheticProblem;

// F categorical features, no dense ones.
SyntheticProblem SparseOnly() {
  SyntheticProblem p;
  p.dense = 0;
  p.features = 3;
  return p;
}

// D dense features, no categorical ones.
SyntheticProblem DenseOnly() {
  SyntheticProblem p;
  p.dense = 4;
  p.features = 0;
  return p;
}

RankingConfig ConfigOf(const SyntheticProblem& p, Interaction interaction = Interaction::kDot) {
  RankingConfig c = p.Config();
  if (p.dense == 0) c.bottom.clear();
  c.interaction = interaction;
  return c;
}

std::unique_ptr<Optimizer> MakeOptimizer(Ranking& m) {
  std::vector<std::pair<std::unique_ptr<Optimizer>, std::vector<Variable*>>> parts;
  parts.emplace_back(MakeAdagrad({.learning_rate = 0.1f}), m.EmbeddingTrainableVariables());
  parts.emplace_back(MakeAdam({.learning_rate = 0.01f}), m.DenseTrainableVariables());
  return std::make_unique<CompositeOptimizer>(std::move(parts));
}

std::string ErrorOf(const std::function<void()>& f) {
  try {
    f();
  } catch (const std::exception& e) {
    return e.what();
  }
  return "no error";
}

TEST(RankingWithoutDense, DotPredictionIsTheTopStackOfTheEmbeddingsPairwiseDots) {
  const SyntheticProblem p = SparseOnly();
  RankingConfig c = ConfigOf(p);
  c.top = {1};  // logit = w . z + b over the 3 pairwise dot products z
  Ranking m(c);
  EXPECT_FALSE(m.has_bottom_stack());
  EXPECT_TRUE(m.has_interaction());
  EXPECT_FALSE(m.concat_dense());  // nothing to concatenate
  const std::vector<Variable*> dense = m.DenseTrainableVariables();
  ASSERT_EQ(dense.size(), 2u);  // top kernel and bias only
  const Tensor& w = dense[0]->value;
  ASSERT_EQ(w.shape(), (std::vector<int64_t>{3, 1}));  // F (F - 1) / 2 = 3 pairs, no bottom
  dense[1]->value[0] = 0.25f;

  const Batch b = p.MakeBatch(5, 2);
  ASSERT_EQ(b.dense.shape(), (std::vector<int64_t>{5, 0}));
  Tensor pred;
  m.Predict(b, &pred);
  ASSERT_EQ(pred.size(), 5);
  const std::vector<Variable*> tables = m.EmbeddingTrainableVariables();
  for (int64_t i = 0; i < 5; ++i) {
    auto row = [&](int f) { return tables[static_cast<size_t>(f)]->value.row(b.sparse[f].ids[i]); };
    auto dot = [&](int x, int y) {
      double s = 0;
      for (int64_t k = 0; k < p.dim; ++k) s += double(row(x)[k]) * row(y)[k];
      return s;
    };
    // Lower triangle, row-major: (1,0), (2,0), (2,1).
    const double logit = w[0] * dot(1, 0) + w[1] * dot(2, 0) + w[2] * dot(2, 1) + 0.25;
    EXPECT_NEAR(pred[i], 1.0 / (1.0 + std::exp(-logit)), 1e-5) << "example " << i;
  }
}

TEST(RankingWithoutDense, CrossRunsOverTheConcatenatedEmbeddings) {
  const SyntheticProblem p = SparseOnly();
  for (const bool concat_dense : {true, false}) {
    RankingConfig c = ConfigOf(p, Interaction::kCross);
    c.concat_dense = concat_dense;
    Ranking m(c);
    // The top stack's first kernel takes F * E = 24 columns: the cross output alone.
    EXPECT_EQ(m.top_stack().Variables()[0]->value.dim(0), p.features * p.dim);
  }
  RankingConfig c = ConfigOf(p, Interaction::kConcat);
  Ranking m(c);
  EXPECT_EQ(m.top_stack().Variables()[0]->value.dim(0), p.features * p.dim);
}

void CheckGradients(const RankingConfig& config, const SyntheticProblem& p) {
  Ranking m(config);
  // Positive biases: an example whose interaction output is all zeros (empty bags) would put
  // every top unit's pre-activation exactly on the ReLU kink with the zero initialisation.
  Rng rng(5);
  for (Variable* v : m.DenseTrainableVariables()) {
    if (v->value.rank() != 1) continue;
    for (int64_t i = 0; i < v->value.size(); ++i) {
      v->value[i] = 0.1f + 0.05f * std::fabs(float(rng.Normal()));
    }
  }
  const Batch b = p.MakeBatch(5, 3);
  m.ComputeGradients(b);
  auto loss = [&] { return m.ComputeLoss(b, false); };
  testing::GradCheckOptions opts;
  opts.atol = 5e-4;
  opts.rtol = 5e-2;
  opts.samples = 12;
  opts.eps = 3e-4;
  for (Variable* v : m.DenseTrainableVariables()) {
    testing::ExpectGradientMatches(loss, v->value.data(), v->grad.data(), v->value.size(), v->name,
                                   opts);
  }
  for (Variable* v : m.EmbeddingTrainableVariables()) {
    ASSERT_FALSE(v->sparse_grad.ids.empty()) << v->name;
    for (size_t i = 0; i < v->sparse_grad.ids.size() && i < 3; ++i) {
      const int64_t row = v->sparse_grad.ids[i];
      testing::ExpectGradientMatches(
          loss, v->value.row(row), v->sparse_grad.rows.row(static_cast<int64_t>(i)),
          v->value.cols(), v->name + " row " + std::to_string(row), opts);
    }
  }
}

TEST(RankingWithoutDense, GradientsMatchFiniteDifferences) {
  SyntheticProblem p = SparseOnly();
  {
    SCOPED_TRACE("dot");
    CheckGradients(ConfigOf(p, Interaction::kDot), p);
  }
  {
    SCOPED_TRACE("cross");
    CheckGradients(ConfigOf(p, Interaction::kCross), p);
  }
  p.max_bag = 3;  // multi-hot bags, some empty
  SCOPED_TRACE("dot, multi-hot");
  CheckGradients(ConfigOf(p, Interaction::kDot), p);
}

TEST(RankingWithoutSparse, GradientsMatchFiniteDifferences) {
  const SyntheticProblem p = DenseOnly();
  CheckGradients(ConfigOf(p), p);
}

void ExpectSameWeights(Ranking& a, Ranking& b) {
  const std::vector<Variable*> va = a.TrainableVariables(), vb = b.TrainableVariables();
  ASSERT_EQ(va.size(), vb.size());
  for (size_t i = 0; i < va.size(); ++i) {
    EXPECT_EQ(0, std::memcmp(va[i]->value.data(), vb[i]->value.data(),
                             sizeof(float) * static_cast<size_t>(va[i]->value.size())))
        << va[i]->name;
  }
}

// Trains `steps` steps of 64 rows; returns the AUC on 2000 held-out rows.
double TrainAndAuc(Ranking& m, const SyntheticProblem& p, int steps) {
  m.SetOptimizer(MakeOptimizer(m));
  for (int s = 0; s < steps; ++s) m.TrainStep(p.MakeBatch(64, static_cast<uint64_t>(s % 60)));
  const Batch eval = p.MakeBatch(2000, 100000);
  Tensor pred;
  m.Predict(eval, &pred);
  Auc auc;
  auc.Update(pred.data(), eval.labels.data(), nullptr, pred.size());
  return auc.Result();
}

TEST(RankingWithoutDense, LearnsAndIsDeterministic) {
  const SyntheticProblem p = SparseOnly();
  for (const Interaction kind : {Interaction::kDot, Interaction::kCross}) {
    RankingConfig c = ConfigOf(p, kind);
    // The squared norms give the top stack each feature's own effect at once (measured: AUC
    // 0.98 after 300 steps, 0.56 without them).
    c.dot_self_interaction = true;
    Ranking a(c), b(c);
    const double auc = TrainAndAuc(a, p, 300);
    EXPECT_GT(auc, 0.9) << NameOf(kInteractionNames, kind);
    EXPECT_EQ(auc, TrainAndAuc(b, p, 300));
    ExpectSameWeights(a, b);
  }
  // Pairwise products alone learn the features' own effects too, only more slowly (0.90).
  Ranking pairs(ConfigOf(p, Interaction::kDot));
  EXPECT_GT(TrainAndAuc(pairs, p, 1200), 0.8);
}

TEST(RankingWithoutSparse, BottomOutputFeedsTheTopStackAndLearns) {
  const SyntheticProblem p = DenseOnly();
  for (const Interaction kind : {Interaction::kDot, Interaction::kCross}) {
    Ranking a(ConfigOf(p, kind)), b(ConfigOf(p, kind));
    EXPECT_TRUE(a.has_bottom_stack());
    EXPECT_FALSE(a.has_interaction());  // `interaction` is not used without sparse features
    EXPECT_TRUE(a.EmbeddingTrainableVariables().empty());
    // Bottom 16-8 and top 16-8-1: kernel and bias each; the top takes the bottom's 8 columns.
    ASSERT_EQ(a.DenseTrainableVariables().size(), 10u);
    EXPECT_EQ(a.top_stack().Variables()[0]->value.dim(0), p.dim);
    const double auc = TrainAndAuc(a, p, 300);
    EXPECT_GT(auc, 0.7);
    EXPECT_EQ(auc, TrainAndAuc(b, p, 300));
    ExpectSameWeights(a, b);
  }
}

TEST(RankingFeatureSets, InvalidCombinationsAreRefusedNamingTheField) {
  const SyntheticProblem p = SparseOnly();
  RankingConfig c = ConfigOf(p);
  c.bottom = {16, 8};
  EXPECT_EQ(
      ErrorOf([&] { c.Validate(); }),
      "bottom: the model has no dense features, so no bottom stack: expected [], got [16, 8]");
  c = ConfigOf(p);
  c.tables.clear();
  c.features.clear();
  EXPECT_EQ(ErrorOf([&] { c.Validate(); }),
            "features: expected at least one sparse feature when there are no dense features "
            "(dense_features: 0), got none");
  c = ConfigOf(DenseOnly());
  c.bottom.clear();
  EXPECT_EQ(ErrorOf([&] { c.Validate(); }),
            "bottom: the model has 4 dense features: expected at least one layer size, got none");
  c = ConfigOf(p);
  c.dense_features = -1;
  EXPECT_EQ(ErrorOf([&] { c.Validate(); }), "dense_features: expected a count >= 0, got -1");

  // One embedding and no dense features: a dot interaction has no pair to take.
  SyntheticProblem one = SparseOnly();
  one.features = 1;
  EXPECT_NE(ErrorOf([&] { Ranking m(ConfigOf(one)); }).find("has no output for 1 vector(s)"),
            std::string::npos);
  RankingConfig self = ConfigOf(one);
  self.dot_self_interaction = true;  // ... but its square is one column
  EXPECT_NO_THROW(Ranking{self});

  // Blocks that the model cannot use.
  RankingBlocks blocks;
  blocks.embedding = std::make_unique<EmbeddingCollection>(c.tables, c.features);
  blocks.bottom_stack = std::make_unique<Mlp>("bottom", MlpOptions{{8}});
  EXPECT_EQ(ErrorOf([&] { Ranking m(std::move(blocks), 0, 1); }),
            "the model has no dense features, so no bottom stack: expected none, got one");
  RankingBlocks no_features;
  no_features.embedding = std::make_unique<EmbeddingCollection>(std::vector<TableConfig>{},
                                                                std::vector<FeatureConfig>{});
  EXPECT_EQ(ErrorOf([&] { Ranking m(std::move(no_features), 0, 1); }),
            "Ranking needs dense or sparse features, got neither");
}

TEST(RankingFeatureSets, TheModelSectionFitsDataWithoutDenseFeatures) {
  ModelConfig model;  // bottom [256, 64, 16]
  model.embedding_dim = 8;
  EXPECT_THROW(model.Validate(/*data_has_dense=*/true), ConfigError);
  EXPECT_NO_THROW(model.Validate(/*data_has_dense=*/false));  // the bottom stack is not built
  const std::vector<SparseInput> sparse = {{"a", 10}, {"b", 20}};
  // The configured bottom stack is dropped (with a warning) for data without dense features.
  const RankingConfig r = MakeRankingConfig(model, 0, sparse, LossKind::kBinaryCrossEntropy, 1);
  EXPECT_TRUE(r.bottom.empty());
  EXPECT_NO_THROW(Ranking{r});
  // `bottom: []` says so explicitly; it is refused for data with dense features.
  model.bottom.clear();
  EXPECT_NO_THROW(model.Validate(true));
  EXPECT_EQ(ErrorOf([&] { MakeRankingConfig(model, 3, sparse, LossKind::kBinaryCrossEntropy, 1); }),
            "model.bottom: expected at least one layer size for the data's 3 dense features, got "
            "[] (no bottom stack is only for data without dense features)");
  // Dense-only data: no tables, and the bottom width is free (no interaction).
  model.bottom = {4};
  EXPECT_THROW(model.Validate(true, true), ConfigError);
  EXPECT_NO_THROW(model.Validate(/*data_has_dense=*/true, /*data_has_sparse=*/false));
  EXPECT_NO_THROW(Ranking{MakeRankingConfig(model, 3, {}, LossKind::kMeanSquaredError, 1)});
}

}  // namespace
}  // namespace crank
