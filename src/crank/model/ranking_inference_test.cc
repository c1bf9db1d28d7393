// Ranking's const inference path: Predict(batch, workspace, predictions) const gives the same
// bits as the non-const Predict and as the evaluation forward, for every interaction, on
// multi-hot bags, batch 1 and an all-missing row, with one workspace reused across batch sizes.

#include <gtest/gtest.h>

#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "crank/base/error.h"
#include "crank/model/ranking.h"
#include "crank/optim/composite_optimizer.h"
#include "crank/optim/optimizer.h"
#include "crank/task/ranking_task.h"
#include "synthetic_batches.h"

namespace crank {
namespace {

using testing::SyntheticProblem;

struct InferenceCase {
  std::string name;
  std::string interaction;  // dot | cross | concat
  std::optional<int64_t> cross_projection_dim;
  bool regression = false;
};

void ExpectBitEqual(const Tensor& a, const Tensor& b, const std::string& what) {
  ASSERT_EQ(a.shape(), b.shape()) << what;
  EXPECT_EQ(0, std::memcmp(a.data(), b.data(), sizeof(float) * static_cast<size_t>(a.size())))
      << what << " differs";
}

// Empties example 0's bag in every sparse feature: a row with all sparse features missing.
void MakeFirstRowAllMissing(Batch* batch) {
  for (SparseFeature& s : batch->sparse) {
    const int64_t drop = s.offsets[1];
    s.ids.erase(s.ids.begin(), s.ids.begin() + drop);
    if (!s.weights.empty()) s.weights.erase(s.weights.begin(), s.weights.begin() + drop);
    for (int64_t& o : s.offsets) o = o > drop ? o - drop : 0;
  }
}

// Predicts through a const reference only.
void PredictConst(const Ranking& model, const Batch& batch, InferenceWorkspace* ws, Tensor* out) {
  model.Predict(batch, ws, out);
}

class RankingInference : public ::testing::TestWithParam<InferenceCase> {
 protected:
  RankingInference() {
    p_.max_bag = 3;  // bags of 0..3 ids
    p_.regression = GetParam().regression;
    RankingConfig c = p_.Config();
    c.interaction = *ParseName(kInteractionNames, GetParam().interaction);
    c.cross_projection_dim = GetParam().cross_projection_dim;
    c.cross_layers = 2;
    model_ = std::make_unique<Ranking>(c);
    std::vector<std::pair<std::unique_ptr<Optimizer>, std::vector<Variable*>>> parts;
    parts.emplace_back(MakeAdagrad({.learning_rate = 0.05f}),
                       model_->EmbeddingTrainableVariables());
    parts.emplace_back(MakeAdam({.learning_rate = 0.01f}), model_->DenseTrainableVariables());
    model_->SetOptimizer(std::make_unique<CompositeOptimizer>(std::move(parts)));
    for (uint64_t s = 0; s < 5; ++s) model_->TrainStep(p_.MakeBatch(32, s));  // move off init
  }

  Batch TestBatch(int64_t size, uint64_t index) const {
    Batch b = p_.MakeBatch(size, 1000 + index);
    MakeFirstRowAllMissing(&b);
    return b;
  }

  SyntheticProblem p_;
  std::unique_ptr<Ranking> model_;
};

TEST_P(RankingInference, ConstPredictEqualsPredictAndEvaluationBitForBit) {
  InferenceWorkspace ws;  // one workspace through every batch size
  const std::vector<int64_t> sizes = {64, 1, 17, 64, 2};
  for (size_t k = 0; k < sizes.size(); ++k) {
    const Batch batch = TestBatch(sizes[k], k);
    const std::string what = "batch " + std::to_string(sizes[k]);
    Tensor from_const, from_member;
    PredictConst(*model_, batch, &ws, &from_const);
    ASSERT_EQ(from_const.size(), sizes[k]);
    model_->Predict(batch, &from_member);
    ExpectBitEqual(from_const, from_member, "const Predict vs Predict, " + what);

    // The evaluation forward (ComputeLoss, training = false) and the training forward see the
    // same outputs: their losses agree to the bit.
    const double eval_loss = model_->ComputeLoss(batch, /*training=*/false);
    const double train_loss = model_->ComputeLoss(batch, /*training=*/true);
    EXPECT_EQ(eval_loss, train_loss) << what;
    if (GetParam().regression) {
      // A linear output: the predictions are the outputs the task scored.
      RankingTask task({.loss = LossKind::kMeanSquaredError});
      EXPECT_EQ(task.ComputeLoss(from_const, /*logits=*/false, batch.labels, nullptr, nullptr,
                                 /*update_metrics=*/false),
                eval_loss)
          << what;
    }
    // Training caches written in between do not leak into the const path.
    Tensor again;
    PredictConst(*model_, batch, &ws, &again);
    ExpectBitEqual(again, from_const, "const Predict after a training forward, " + what);
  }
}

TEST_P(RankingInference, AWorkspaceGrownOnALargeBatchServesSmallerOnesUnchanged) {
  InferenceWorkspace reused;
  Tensor out;
  PredictConst(*model_, TestBatch(128, 7), &reused, &out);
  for (const int64_t size : {1, 5, 128}) {
    const Batch batch = TestBatch(size, 8 + static_cast<uint64_t>(size));
    Tensor a, b;
    PredictConst(*model_, batch, &reused, &a);
    InferenceWorkspace fresh;
    PredictConst(*model_, batch, &fresh, &b);
    ExpectBitEqual(a, b, "reused vs fresh workspace, batch " + std::to_string(size));
  }
}

INSTANTIATE_TEST_SUITE_P(
    Interactions, RankingInference,
    ::testing::Values(InferenceCase{"dot", "dot", std::nullopt, false},
                      InferenceCase{"cross_full_rank", "cross", std::nullopt, false},
                      InferenceCase{"cross_low_rank", "cross", 4, false},
                      InferenceCase{"concat", "concat", std::nullopt, false},
                      InferenceCase{"dot_mse", "dot", std::nullopt, true},
                      InferenceCase{"cross_low_rank_mse", "cross", 4, true}),
    [](const ::testing::TestParamInfo<InferenceCase>& i) { return i.param.name; });

// PrepareInference (what LoadModel calls) keeps the bf16 kernel copies: the predictions keep
// their bits, and a training step after it reaches the next predictions.
TEST(RankingInferenceContract, PrepareInferenceKeepsThePredictionsBitForBit) {
  SyntheticProblem p;
  RankingConfig c = p.Config();
  c.bottom = {32, p.dim};
  c.top = {64, 32, 1};  // wide enough for bf16 GEMMs (min(M, N, K) >= 16)
  Ranking model(c);
  model.SetComputeSettings({.threads = 2, .precision = GemmPrecision::kBf16});
  model.SetOptimizer(MakeAdam({.learning_rate = 0.01f}));
  const Batch train = p.MakeBatch(64, 1);
  for (int s = 0; s < 3; ++s) model.TrainStep(train);
  const Batch batch = p.MakeBatch(256, 2);
  InferenceWorkspace ws;
  Tensor before, after;
  model.Predict(batch, &ws, &before);
  model.PrepareInference();
  model.Predict(batch, &ws, &after);
  ExpectBitEqual(after, before, "after PrepareInference");

  // A training step drops the copies: the predictions follow the new weights exactly as a
  // model prepared again gives them.
  model.TrainStep(train);
  Tensor trained, prepared_again;
  model.Predict(batch, &ws, &trained);
  model.PrepareInference();
  model.Predict(batch, &ws, &prepared_again);
  ExpectBitEqual(trained, prepared_again, "after a training step");
  EXPECT_NE(0, std::memcmp(trained.data(), before.data(), sizeof(float) * 256));
}

TEST(RankingInferenceContract, ConstPredictRejectsABadBatchLikePredict) {
  SyntheticProblem p;
  const Ranking model(p.Config());
  InferenceWorkspace ws;
  Tensor out;
  Batch b = p.MakeBatch(4, 1);
  b.sparse.pop_back();
  EXPECT_THROW(model.Predict(b, &ws, &out), InvalidArgument);
  Batch wide = p.MakeBatch(4, 1);
  wide.dense = Tensor({4, p.dense + 1});
  EXPECT_THROW(model.Predict(wide, &ws, &out), InvalidArgument);
}

TEST(RankingInferenceContract, BackwardNeedsATrainingForward) {
  SyntheticProblem p;
  Ranking model(p.Config());
  const Batch b = p.MakeBatch(4, 1);
  model.ComputeLoss(b, /*training=*/false);
  EXPECT_THROW(model.Backward(Tensor({4})), InvalidArgument);
  model.ComputeLoss(b, /*training=*/true);
  Tensor predictions;
  model.Predict(b, &predictions);
  EXPECT_THROW(model.Backward(Tensor({4})), InvalidArgument);
}

}  // namespace
}  // namespace crank
