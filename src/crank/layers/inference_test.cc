// The const inference path of every block: Predict through a const reference and a
// caller-owned scratch gives the same bits as Forward (eval and training), for any batch size a
// reused scratch has seen before.

#include <gtest/gtest.h>

#include <cstring>
#include <memory>
#include <vector>

#include "crank/base/error.h"
#include "crank/base/rng.h"
#include "crank/layers/concat_interaction.h"
#include "crank/layers/cross.h"
#include "crank/layers/dot_interaction.h"
#include "crank/layers/embedding_collection.h"
#include "crank/layers/inference_scratch.h"
#include "crank/layers/linear.h"
#include "crank/layers/mlp.h"

namespace crank {
namespace {

Tensor RandomTensor(int64_t rows, int64_t cols, uint64_t seed) {
  Rng rng(seed);
  Tensor t({rows, cols});
  for (int64_t i = 0; i < t.size(); ++i) t[i] = static_cast<float>(rng.Normal());
  return t;
}

void ExpectBitEqual(const Tensor& a, const Tensor& b, const std::string& what) {
  ASSERT_EQ(a.shape(), b.shape()) << what;
  EXPECT_EQ(0, std::memcmp(a.data(), b.data(), sizeof(float) * static_cast<size_t>(a.size())))
      << what << " differs";
}

// Batch sizes a reused scratch goes through: grow, shrink to 1, grow again.
const std::vector<int64_t> kBatchSizes = {5, 33, 1, 7, 33};

// Predict(block const&, scratch) == Forward(false) == Forward(true) for each batch size, with one
// scratch reused across all of them.
void ExpectBlockPredictMatchesForward(Block& block, int64_t in) {
  const Block& frozen = block;
  InferenceScratch scratch;
  for (int64_t b : kBatchSizes) {
    const Tensor x = RandomTensor(b, in, 100 + static_cast<uint64_t>(b));
    Tensor eval, train, pred;
    block.Forward(x, &eval, /*training=*/false);
    block.Forward(x, &train, /*training=*/true);
    frozen.Predict(x, &pred, &scratch);
    ExpectBitEqual(pred, eval, "Predict vs Forward(eval), batch " + std::to_string(b));
    ExpectBitEqual(pred, train, "Predict vs Forward(training), batch " + std::to_string(b));
  }
}

std::vector<const Tensor*> Pointers(const std::vector<Tensor>& ts) {
  std::vector<const Tensor*> p;
  for (const Tensor& t : ts) p.push_back(&t);
  return p;
}

void ExpectInteractionPredictMatchesForward(FeatureInteraction& interaction,
                                            const std::vector<int64_t>& widths) {
  Rng rng(5);
  interaction.Build(widths, rng);
  const FeatureInteraction& frozen = interaction;
  InferenceScratch scratch;
  for (int64_t b : kBatchSizes) {
    std::vector<Tensor> features;
    for (size_t i = 0; i < widths.size(); ++i) {
      features.push_back(RandomTensor(b, widths[i], 1000 * static_cast<uint64_t>(b) + i));
    }
    Tensor eval, train, pred;
    interaction.Forward(Pointers(features), &eval, /*training=*/false);
    interaction.Forward(Pointers(features), &train, /*training=*/true);
    frozen.Predict(Pointers(features), &pred, &scratch);
    const std::string what = interaction.Describe() + ", batch " + std::to_string(b);
    ExpectBitEqual(pred, eval, "Predict vs Forward(eval), " + what);
    ExpectBitEqual(pred, train, "Predict vs Forward(training), " + what);
  }
}

TEST(Inference, LinearPredictEqualsForward) {
  Linear layer("l", {.units = 6, .activation = Activation::kRelu});
  Rng rng(1);
  layer.Build(9, rng);
  ExpectBlockPredictMatchesForward(layer, 9);
}

TEST(Inference, MlpPredictEqualsForward) {
  for (const std::vector<int64_t>& units :
       std::vector<std::vector<int64_t>>{{4}, {16, 3}, {32, 16, 8, 1}}) {
    Mlp mlp("m", {.units = units, .final_activation = Activation::kSigmoid});
    Rng rng(2);
    mlp.Build(13, rng);
    ExpectBlockPredictMatchesForward(mlp, 13);
  }
}

TEST(Inference, DotInteractionPredictEqualsForward) {
  for (const bool self : {false, true}) {
    for (const bool skip : {false, true}) {
      DotInteraction dot({.self_interaction = self, .skip_gather = skip});
      ExpectInteractionPredictMatchesForward(dot, {8, 8, 8, 8});
    }
  }
}

TEST(Inference, CrossInteractionPredictEqualsForwardFullAndLowRank) {
  for (const int layers : {1, 3}) {
    for (const std::optional<int64_t> projection : {std::optional<int64_t>{}, {std::int64_t{4}}}) {
      CrossInteractionOptions o;
      o.num_layers = layers;
      o.cross.projection_dim = projection;
      o.cross.diag_scale = 0.5f;
      CrossInteraction cross(o);
      ExpectInteractionPredictMatchesForward(cross, {3, 5, 8});
    }
  }
}

TEST(Inference, ConcatInteractionPredictEqualsForward) {
  ConcatInteraction concat;
  ExpectInteractionPredictMatchesForward(concat, {2, 7, 1});
}

TEST(Inference, CrossLayerPredictNeedsOnlyAConstLayer) {
  Cross layer("c", {.projection_dim = 3});
  Rng rng(3);
  layer.Build(6, rng);
  const Tensor x0 = RandomTensor(4, 6, 1), x = RandomTensor(4, 6, 2);
  Tensor eval, pred;
  layer.Forward(x0, x, &eval, false);
  InferenceScratch scratch;
  static_cast<const Cross&>(layer).Predict(x0, x, &pred, &scratch);
  ExpectBitEqual(pred, eval, "Cross::Predict");
}

// Multi-hot bags with empty ones (an all-missing row), weights on one feature, a shared table.
std::vector<SparseFeature> MultiHotInput(int64_t batch, uint64_t seed) {
  Rng rng(seed);
  std::vector<SparseFeature> in(3);
  for (size_t f = 0; f < in.size(); ++f) {
    SparseFeature& s = in[f];
    s.offsets = {0};
    for (int64_t b = 0; b < batch; ++b) {
      const int64_t n = b == 0 ? 0 : static_cast<int64_t>(rng.UniformInt(4));  // row 0: missing
      for (int64_t k = 0; k < n; ++k) {
        s.ids.push_back(static_cast<int64_t>(rng.UniformInt(20)));
        if (f == 2) s.weights.push_back(rng.UniformFloat());
      }
      s.offsets.push_back(static_cast<int64_t>(s.ids.size()));
    }
  }
  return in;
}

TEST(Inference, EmbeddingCollectionPredictEqualsForwardOnMultiHotBags) {
  EmbeddingCollection ec(
      {{"t", 20, 4}, {"u", 20, 3}},
      {{"a", "t", Pooling::kSum}, {"b", "t", Pooling::kMean}, {"c", "u", Pooling::kSqrtn}});
  Rng rng(4);
  ec.Build(rng);
  const EmbeddingLayer& frozen = ec;
  InferenceScratch scratch;
  std::vector<Tensor> pred;
  for (int64_t b : kBatchSizes) {
    const std::vector<SparseFeature> in = MultiHotInput(b, static_cast<uint64_t>(b));
    std::vector<Tensor> eval, train;
    ec.Forward(in, &eval, /*training=*/false);
    ec.Forward(in, &train, /*training=*/true);
    frozen.Predict(in, &pred, &scratch);
    ASSERT_EQ(pred.size(), 3u);
    for (size_t i = 0; i < pred.size(); ++i) {
      const std::string what = "feature " + std::to_string(i) + ", batch " + std::to_string(b);
      ExpectBitEqual(pred[i], eval[i], "Predict vs Forward(eval), " + what);
      ExpectBitEqual(pred[i], train[i], "Predict vs Forward(training), " + what);
      for (int64_t c = 0; c < pred[i].dim(1); ++c) {
        EXPECT_EQ(pred[i].at(0, c), 0.0f) << "an empty bag pools to zeros, " << what;
      }
    }
  }
}

TEST(Inference, PredictValidatesItsInputLikeForward) {
  EmbeddingCollection ec({{"t", 4, 2}}, {{"a", "t"}});
  std::vector<Tensor> out;
  const std::vector<SparseFeature> bad_id = {{.ids = {7}, .offsets = {0, 1}}};
  EXPECT_THROW(static_cast<const EmbeddingCollection&>(ec).Predict(bad_id, &out, nullptr),
               InvalidArgument);  // not built
  Rng rng(1);
  ec.Build(rng);
  EXPECT_THROW(ec.Predict(bad_id, &out, nullptr), InvalidArgument);  // id outside the table
  Mlp mlp("m", {.units = {2}});
  mlp.Build(3, rng);
  InferenceScratch scratch;
  Tensor y;
  EXPECT_THROW(mlp.Predict(Tensor({2, 4}), &y, &scratch), InvalidArgument);  // wrong width
}

}  // namespace
}  // namespace crank
