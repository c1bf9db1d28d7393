#include "crank/model/ranking.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <functional>
#include <limits>
#include <set>

#include "crank/base/error.h"
#include "crank/kernels/gemm.h"
#include "crank/layers/linear.h"
#include "crank/layers/mlp.h"
#include "crank/metrics/auc.h"
#include "crank/optim/composite_optimizer.h"
#include "crank/optim/optimizer.h"
#include "gradient_check.h"
#include "op_test_harness.h"
#include "synthetic_batches.h"

namespace crank {
namespace {

using testing::SyntheticProblem;

std::unique_ptr<Optimizer> DefaultOptimizer(Ranking& m, float emb_lr = 0.05f,
                                            float dense_lr = 0.005f) {
  std::vector<std::pair<std::unique_ptr<Optimizer>, std::vector<Variable*>>> parts;
  parts.emplace_back(MakeAdagrad({.learning_rate = emb_lr}), m.EmbeddingTrainableVariables());
  parts.emplace_back(MakeAdam({.learning_rate = dense_lr}), m.DenseTrainableVariables());
  return std::make_unique<CompositeOptimizer>(std::move(parts));
}

TEST(Ranking, DenseAndEmbeddingVariablesPartitionTheTrainableVariables) {
  SyntheticProblem p;
  Ranking m(p.Config());
  std::set<Variable*> dense, emb;
  for (Variable* v : m.DenseTrainableVariables()) {
    EXPECT_FALSE(v->sparse) << v->name;
    dense.insert(v);
  }
  for (Variable* v : m.EmbeddingTrainableVariables()) {
    EXPECT_TRUE(v->sparse) << v->name;
    emb.insert(v);
  }
  EXPECT_EQ(emb.size(), 3u);
  // bottom 2 layers + top 3 layers, kernel and bias each.
  EXPECT_EQ(dense.size(), 10u);
  for (Variable* v : dense) EXPECT_EQ(emb.count(v), 0u);
  EXPECT_EQ(m.TrainableVariables().size(), dense.size() + emb.size());
  std::set<std::string> names;
  for (Variable* v : m.TrainableVariables()) EXPECT_TRUE(names.insert(v->name).second) << v->name;
}

TEST(Ranking, RejectsBottomWidthDifferentFromEmbeddingDimForDot) {
  SyntheticProblem p;
  RankingConfig c = p.Config();
  c.bottom = {16, 4};  // embedding dim is 8
  try {
    Ranking m(c);
    FAIL() << "expected an error";
  } catch (const InvalidArgument& e) {
    EXPECT_NE(std::string(e.what()).find("(4)"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("8"), std::string::npos) << e.what();
  }
  c.interaction = Interaction::kCross;  // cross takes any widths
  EXPECT_NO_THROW(Ranking{c});
}

TEST(Ranking, RejectsEmbeddingDimsThatDifferBetweenFeaturesForDot) {
  SyntheticProblem p;
  RankingBlocks blocks;
  blocks.embedding =
      std::make_unique<EmbeddingCollection>(std::vector<TableConfig>{{"a", 10, 8}, {"b", 10, 4}},
                                            std::vector<FeatureConfig>{{"a", "a"}, {"b", "b"}});
  blocks.bottom_stack = std::make_unique<Mlp>("bottom", MlpOptions{{8}});
  EXPECT_THROW(Ranking(std::move(blocks), 4, 1), InvalidArgument);
}

TEST(RankingConfig, NonFiniteOrNegativeCoefficientsAreRefusedNamingTheField) {
  SyntheticProblem p;
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const float inf = std::numeric_limits<float>::infinity();
  const std::vector<std::pair<float RankingConfig::*, std::string>> fields = {
      {&RankingConfig::embedding_l2, "embedding_l2"},
      {&RankingConfig::dense_l2, "dense_l2"},
      {&RankingConfig::cross_diag_scale, "cross_diag_scale"}};
  for (const auto& [field, name] : fields) {
    for (const float bad : {nan, inf, -inf, -1.0f}) {
      RankingConfig c = p.Config();
      c.*field = bad;
      try {
        c.Validate();
        ADD_FAILURE() << name << " = " << bad << " was accepted";
      } catch (const ConfigError& e) {
        EXPECT_EQ(std::string(e.what()).rfind(name + ": expected a finite number >= 0, got ", 0),
                  0u)
            << e.what();
      }
    }
    RankingConfig c = p.Config();
    c.*field = 0.5f;
    EXPECT_NO_THROW(c.Validate()) << name;
  }
}

// A batch that does not fit the model: ComputeLoss throws InvalidArgument whose message holds
// `fragment`. `spoil` turns a valid batch of 8 rows into the bad one.
struct BadInputCase {
  std::string name;
  std::function<void(const testing::SyntheticProblem&, Batch*)> spoil;
  std::string fragment;
};

class RankingBadInput : public ::testing::TestWithParam<BadInputCase> {};

TEST_P(RankingBadInput, IsRejectedWithAMessageSayingWhat) {
  SyntheticProblem p;
  Ranking m(p.Config());
  Batch b = p.MakeBatch(8, 0);
  GetParam().spoil(p, &b);
  const std::string message = testing::ThrownMessage([&] { m.ComputeLoss(b); });
  EXPECT_NE(message.find(GetParam().fragment), std::string::npos)
      << "expected InvalidArgument containing '" << GetParam().fragment << "', got: " << message;
}

INSTANTIATE_TEST_SUITE_P(
    Batches, RankingBadInput,
    ::testing::ValuesIn(std::vector<BadInputCase>{
        {"DenseWidthMismatch",
         [](const auto&, Batch* b) {
           b->dense.Resize({8, 3});
         },
         "expected 4 columns, got 3"},
        {"DenseNotRank2", [](const auto&, Batch* b) { b->dense.Resize({32}); }, "dense features"},
        {"WrongSparseFeatureCount", [](const auto&, Batch* b) { b->sparse.pop_back(); },
         "expected 3 features"},
        {"SparseBatchSizeMismatch", [](const auto&, Batch* b) { b->sparse[1].offsets.pop_back(); },
         "sparse feature 'f1'"},
        {"LabelCountMismatch", [](const auto&, Batch* b) { b->labels.Resize({7}); },
         "labels: expected shape (8,)"},
        {"SampleWeightCountMismatch", [](const auto&, Batch* b) { b->weights.Resize({9}); },
         "sample weights: expected shape (8,)"},
        {"EmptyBatch",
         [](const SyntheticProblem& p, Batch* b) {
           *b = p.MakeBatch(1, 0);
           b->dense.Resize({0, 4});
           b->labels.Resize({0});
           for (auto& s : b->sparse) s.Clear();
         },
         "empty"},
        {"IdOutsideTheTable", [](const auto&, Batch* b) { b->sparse[2].ids[3] = 40; }, "40"},
        {"LabelOutsideZeroOneForBce", [](const auto&, Batch* b) { b->labels[2] = 2.0f; },
         "outside [0, 1]"}}),
    testing::CaseName<BadInputCase>);

TEST(Ranking, TrainStepWithoutOptimizerThrows) {
  SyntheticProblem p;
  Ranking m(p.Config());
  EXPECT_THROW(m.TrainStep(p.MakeBatch(4, 0)), InvalidArgument);
}

// Finite-difference check of d(loss on b)/d(every dense variable) against the gradients that
// m.ComputeGradients(b) left in them.
void ExpectDenseGradientsMatch(Ranking& m, const Batch& b, const testing::GradCheckOptions& opts) {
  auto loss = [&] { return m.ComputeLoss(b, false); };
  for (Variable* v : m.DenseTrainableVariables()) {
    testing::ExpectGradientMatches(loss, v->value.data(), v->grad.data(), v->value.size(), v->name,
                                   opts);
  }
}

// End-to-end finite-difference check of d(loss)/d(every variable).
void CheckModelGradients(RankingConfig config, const SyntheticProblem& p, bool weighted) {
  Ranking m(config);
  Batch b = p.MakeBatch(5, 3);
  if (weighted) b.weights = Tensor({5}, {0.5f, 2.0f, 1.0f, 0.0f, 1.5f});
  m.ComputeGradients(b);
  auto loss = [&] { return m.ComputeLoss(b, false); };
  testing::GradCheckOptions opts;
  opts.atol = 5e-4;
  opts.rtol = 5e-2;
  opts.samples = 12;
  opts.eps = 3e-4;  // the cross layers are quadratic in their inputs: keep the step small
  ExpectDenseGradientsMatch(m, b, opts);
  for (Variable* v : m.EmbeddingTrainableVariables()) {
    // Check every touched row's gradient, and that untouched rows are absent.
    Tensor dense_grad(v->value.shape());
    const int64_t e = v->value.cols();
    for (size_t i = 0; i < v->sparse_grad.ids.size(); ++i) {
      for (int64_t j = 0; j < e; ++j) {
        dense_grad.at(v->sparse_grad.ids[i], j) =
            v->sparse_grad.rows.at(static_cast<int64_t>(i), j);
      }
    }
    for (size_t i = 0; i < v->sparse_grad.ids.size() && i < 3; ++i) {
      const int64_t row = v->sparse_grad.ids[i];
      testing::ExpectGradientMatches(loss, v->value.row(row), dense_grad.row(row), e,
                                     v->name + " row " + std::to_string(row), opts);
    }
  }
}

struct GradCase {
  std::string interaction;
  bool regression;
  bool weighted;
  int64_t max_bag;
  bool concat_dense = true;
  int cross_layers = 2;
};

class RankingGradient : public ::testing::TestWithParam<GradCase> {};

TEST_P(RankingGradient, MatchesFiniteDifferences) {
  const GradCase& c = GetParam();
  SyntheticProblem p;
  p.regression = c.regression;
  p.max_bag = c.max_bag;
  RankingConfig config = p.Config();
  config.interaction = *ParseName(kInteractionNames, c.interaction);
  config.cross_layers = c.cross_layers;
  config.concat_dense = c.concat_dense;
  CheckModelGradients(config, p, c.weighted);
}

INSTANTIATE_TEST_SUITE_P(
    AllModes, RankingGradient,
    ::testing::Values(GradCase{"dot", false, false, 1}, GradCase{"dot", false, true, 3},
                      GradCase{"dot", true, false, 1}, GradCase{"dot", true, true, 3},
                      GradCase{"cross", false, false, 1}, GradCase{"cross", true, true, 3},
                      GradCase{"concat", false, true, 2}, GradCase{"concat", true, false, 1},
                      // The defaults (one cross layer, unused by dot) without concat_dense.
                      GradCase{"dot", false, false, 1, /*concat_dense=*/false, /*cross_layers=*/1}),
    [](const ::testing::TestParamInfo<GradCase>& i) {
      return i.param.interaction + (i.param.regression ? "_mse" : "_bce") +
             (i.param.weighted ? "_weighted" : "") + (i.param.max_bag > 1 ? "_multihot" : "") +
             (i.param.concat_dense ? "" : "_without_concat_dense");
    });

TEST(Ranking, DenseL2AddsPenaltyAndItsGradient) {
  SyntheticProblem p;
  RankingConfig c = p.Config();
  Ranking plain(c);
  c.dense_l2 = 0.01f;
  Ranking reg(c);
  Batch b = p.MakeBatch(6, 1);
  StepResult r0 = plain.ComputeGradients(b);
  StepResult r1 = reg.ComputeGradients(b);
  EXPECT_EQ(r0.regularization_loss, 0.0);
  EXPECT_GT(r1.regularization_loss, 0.0);
  EXPECT_DOUBLE_EQ(r1.total_loss, r1.loss + r1.regularization_loss);
  EXPECT_DOUBLE_EQ(r0.loss, r1.loss);
  // The kernel gradients differ by exactly 2 * l2 * w.
  Variable* k0 = plain.DenseTrainableVariables()[0];
  Variable* k1 = reg.DenseTrainableVariables()[0];
  for (int64_t i = 0; i < k0->value.size(); ++i) {
    EXPECT_NEAR(k1->grad[i] - k0->grad[i], 2 * 0.01f * k0->value[i], 1e-6);
  }
}

void ExpectBitIdenticalWeights(Ranking& a, Ranking& b) {
  const auto va = a.TrainableVariables(), vb = b.TrainableVariables();
  ASSERT_EQ(va.size(), vb.size());
  for (size_t i = 0; i < va.size(); ++i) {
    testing::ExpectBitIdentical(va[i]->value.ToVector(), vb[i]->value.ToVector(), va[i]->name);
  }
}

TEST(Ranking, CompositeOptimizerEqualsSeparateOptimizersOverTenSteps) {
  SyntheticProblem p;
  Ranking a(p.Config()), b(p.Config());
  a.SetOptimizer(DefaultOptimizer(a));
  auto emb_opt = MakeAdagrad({.learning_rate = 0.05f});
  auto dense_opt = MakeAdam({.learning_rate = 0.005f});
  for (int step = 0; step < 10; ++step) {
    Batch batch = p.MakeBatch(16, static_cast<uint64_t>(step));
    StepResult ra = a.TrainStep(batch);
    StepResult rb = b.ComputeGradients(batch);
    emb_opt->Apply(b.EmbeddingTrainableVariables());
    dense_opt->Apply(b.DenseTrainableVariables());
    EXPECT_EQ(ra.loss, rb.loss) << "step " << step;
  }
  ExpectBitIdenticalWeights(a, b);
}

TEST(Ranking, SameSeedAndThreadsGiveBitIdenticalWeights) {
  SyntheticProblem p;
  SetComputeThreads(2);
  Ranking a(p.Config()), b(p.Config());
  a.SetOptimizer(DefaultOptimizer(a));
  b.SetOptimizer(DefaultOptimizer(b));
  for (int step = 0; step < 5; ++step) {
    Batch batch = p.MakeBatch(64, static_cast<uint64_t>(step));
    a.TrainStep(batch);
    b.TrainStep(batch);
  }
  ExpectBitIdenticalWeights(a, b);
  auto va = a.TrainableVariables();
  RankingConfig other = p.Config();
  other.seed = 12;
  Ranking c(other);
  EXPECT_NE(0, std::memcmp(c.TrainableVariables()[0]->value.data(), va[0]->value.data(),
                           sizeof(float) * va[0]->value.size()));
}

struct LearnCase {
  std::string interaction;
  bool regression;
};

class RankingLearns : public ::testing::TestWithParam<LearnCase> {};

TEST_P(RankingLearns, DrivesLossDownAndAucAboveNinety) {
  SyntheticProblem p;
  p.regression = GetParam().regression;
  RankingConfig c = p.Config();
  c.interaction = *ParseName(kInteractionNames, GetParam().interaction);
  Ranking m(c);
  m.SetOptimizer(DefaultOptimizer(m, 0.1f, 0.01f));
  const Batch eval = p.MakeBatch(2000, 100000);
  const double start = m.TestStep(eval);
  for (int epoch = 0; epoch < 10; ++epoch) {
    for (uint64_t s = 0; s < 60; ++s) m.TrainStep(p.MakeBatch(64, s));
  }
  m.ResetMetrics();
  const double end = m.TestStep(eval);
  EXPECT_LT(end, 0.6 * start) << "start " << start << " end " << end;
  Tensor pred;
  m.Predict(eval, &pred);
  // AUC of the predictions against the binary labels (for regression: label above median).
  std::vector<float> labels(static_cast<size_t>(eval.labels.size()));
  if (p.regression) {
    std::vector<float> sorted = eval.labels.ToVector();
    std::nth_element(sorted.begin(), sorted.begin() + sorted.size() / 2, sorted.end());
    const float median = sorted[sorted.size() / 2];
    for (size_t i = 0; i < labels.size(); ++i)
      labels[i] = eval.labels[static_cast<int64_t>(i)] > median;
  } else {
    for (size_t i = 0; i < labels.size(); ++i) labels[i] = eval.labels[static_cast<int64_t>(i)];
  }
  Auc auc_metric;
  auc_metric.Update(pred.data(), labels.data(), nullptr, pred.size());
  const double auc = auc_metric.Result();
  EXPECT_GT(auc, 0.9);
}

INSTANTIATE_TEST_SUITE_P(DotCrossBceMse, RankingLearns,
                         ::testing::Values(LearnCase{"dot", false}, LearnCase{"dot", true},
                                           LearnCase{"cross", false}, LearnCase{"cross", true}),
                         [](const ::testing::TestParamInfo<LearnCase>& i) {
                           return i.param.interaction + (i.param.regression ? "_mse" : "_bce");
                         });

// A user-defined interaction: the elementwise sum of all features (they must share a width).
class SumInteraction : public FeatureInteraction {
 public:
  int64_t Build(const std::vector<int64_t>& widths, Rng&) override {
    width_ = widths[0];
    for (int64_t w : widths) {
      if (w != width_) throw InvalidArgument("SumInteraction needs equal widths");
    }
    count_ = widths.size();
    return width_;
  }
  void Forward(const std::vector<const Tensor*>& f, Tensor* out, bool) override {
    Predict(f, out, nullptr);
  }
  void Predict(const std::vector<const Tensor*>& f, Tensor* out, InferenceScratch*) const override {
    out->ResizeZero({f[0]->dim(0), width_});
    for (const Tensor* t : f) {
      for (int64_t i = 0; i < out->size(); ++i) (*out)[i] += (*t)[i];
    }
  }
  void Backward(const Tensor& d_out, const std::vector<Tensor*>& d) override {
    for (Tensor* t : d) *t = d_out;
  }
  std::vector<Variable*> Variables() override { return {}; }
  std::string Describe() const override { return "sum"; }

 private:
  int64_t width_ = 0;
  size_t count_ = 0;
};

// A user-defined bottom stack: one Linear layer with a learned scale on its output.
class ScaledLinear : public Block {
 public:
  int64_t Build(int64_t in, Rng& rng) override {
    const int64_t out = linear_.Build(in, rng);
    scale_.name = "bottom/scale";
    scale_.value = Tensor({1}, {1.0f});
    scale_.ZeroGrad();
    return out;
  }
  void Forward(const Tensor& x, Tensor* y, bool training) override {
    linear_.Forward(x, &z_, training);
    *y = z_;
    for (int64_t i = 0; i < y->size(); ++i) (*y)[i] *= scale_.value[0];
  }
  void Predict(const Tensor& x, Tensor* y, InferenceScratch* scratch) const override {
    Tensor& z = scratch->tensor(0);
    linear_.Predict(x, &z, nullptr);
    *y = z;
    for (int64_t i = 0; i < y->size(); ++i) (*y)[i] *= scale_.value[0];
  }
  void Backward(const Tensor& dy, Tensor* dx) override {
    Tensor dz = dy;
    for (int64_t i = 0; i < dz.size(); ++i) {
      scale_.grad[0] += dy[i] * z_[i];
      dz[i] *= scale_.value[0];
    }
    linear_.Backward(dz, dx);
  }
  std::vector<Variable*> Variables() override {
    std::vector<Variable*> v = linear_.Variables();
    v.push_back(&scale_);
    return v;
  }

 private:
  Linear linear_{"bottom/linear", LinearOptions{.units = 8, .activation = Activation::kRelu}};
  Variable scale_;
  Tensor z_;
};

TEST(Ranking, AcceptsUserDefinedBlocksAndTrainsThem) {
  SyntheticProblem p;
  auto make = [&] {
    RankingBlocks blocks;
    RankingConfig c = p.Config();
    blocks.embedding = std::make_unique<EmbeddingCollection>(c.tables, c.features);
    blocks.bottom_stack = std::make_unique<ScaledLinear>();
    blocks.feature_interaction = std::make_unique<SumInteraction>();
    blocks.top_stack = std::make_unique<Mlp>(
        "top", MlpOptions{.units = {16, 1}, .final_activation = Activation::kLinear});
    return std::make_unique<Ranking>(std::move(blocks), p.dense, 5);
  };
  auto m = make();
  // The user's variables are trainable dense variables; gradients flow through them.
  const auto dense = m->DenseTrainableVariables();
  ASSERT_EQ(dense[2]->name, "bottom/scale");
  Batch b = p.MakeBatch(6, 2);
  m->ComputeGradients(b);
  testing::GradCheckOptions opts;
  opts.atol = 5e-4;
  opts.rtol = 5e-2;
  opts.eps = 3e-4;
  ExpectDenseGradientsMatch(*m, b, opts);
  m->SetOptimizer(DefaultOptimizer(*m, 0.1f, 0.01f));
  const Batch eval = p.MakeBatch(1000, 99999);
  const double start = m->TestStep(eval);
  for (int epoch = 0; epoch < 5; ++epoch) {
    for (uint64_t s = 0; s < 60; ++s) m->TrainStep(p.MakeBatch(64, s));
  }
  EXPECT_LT(m->TestStep(eval), 0.8 * start);
}

}  // namespace
}  // namespace crank
