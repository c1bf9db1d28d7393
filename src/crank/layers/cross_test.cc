#include "crank/layers/cross.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "crank/base/error.h"
#include "crank/base/rng.h"
#include "crank/kernels/gemm.h"
#include "gradient_check.h"

namespace crank {
namespace {

using ::testing::HasSubstr;

// The inputs of TFRS's dcn_test.py (batch 1).
const Tensor kX0({1, 3}, {0.1f, 0.2f, 0.3f});
const Tensor kX({1, 3}, {0.4f, 0.5f, 0.6f});

Tensor RandomTensor(std::vector<int64_t> shape, Rng& rng, float scale = 1.0f) {
  Tensor t(std::move(shape));
  for (int64_t i = 0; i < t.size(); ++i) t[i] = scale * (2.0f * rng.UniformFloat() - 1.0f);
  return t;
}

// Builds a width-3 layer whose kernels are all ones (kernel_initializer="ones") and whose bias
// is `bias` (bias_initializer).
void BuildWithOnes(Cross* layer, float bias = 0.0f) {
  Rng rng(0);
  layer->Build(3, rng);
  for (Variable* v : layer->Variables()) {
    v->value.Fill(v->name.ends_with("/bias") ? bias : 1.0f);
  }
}

std::vector<float> Evaluate(Cross& layer, const Tensor& x0, const Tensor& x) {
  Tensor out;
  layer.Forward(x0, x, &out, /*training=*/false);
  return out.ToVector();
}

void ExpectNear(const std::vector<float>& actual, const std::vector<float>& expected) {
  ASSERT_EQ(actual.size(), expected.size());
  for (size_t i = 0; i < actual.size(); ++i) EXPECT_NEAR(actual[i], expected[i], 1e-6) << i;
}

TEST(Cross, FullMatrixMatchesTfrs) {
  Cross layer("cross", {});
  BuildWithOnes(&layer);
  ExpectNear(Evaluate(layer, kX0, kX), {0.55f, 0.8f, 1.05f});
}

TEST(Cross, LowRankMatrixMatchesTfrs) {
  Cross layer("cross", {.projection_dim = 1});
  BuildWithOnes(&layer);
  ExpectNear(Evaluate(layer, kX0, kX), {0.55f, 0.8f, 1.05f});
}

TEST(Cross, OneInputMatchesTfrs) {
  Cross layer("cross", {});
  BuildWithOnes(&layer);
  ExpectNear(Evaluate(layer, kX0, kX0), {0.16f, 0.32f, 0.48f});
}

TEST(Cross, BiasMatchesTfrs) {
  Cross layer("cross", {});
  BuildWithOnes(&layer, /*bias=*/1.0f);
  ExpectNear(Evaluate(layer, kX0, kX), {0.65f, 1.0f, 1.35f});
}

TEST(Cross, DiagScaleMatchesTfrs) {
  Cross layer("cross", {.diag_scale = 1.0f});
  BuildWithOnes(&layer);
  ExpectNear(Evaluate(layer, kX0, kX), {0.59f, 0.9f, 1.23f});
}

TEST(Cross, ReluPreactivationClampsTheProduct) {
  // kernel = -1: x W = -1.5 in every column, relu -> 0, so out = x (TFRS's zero preactivation).
  Cross layer("cross", {.preactivation = Activation::kRelu});
  BuildWithOnes(&layer);
  for (Variable* v : layer.Variables()) v->value.Fill(v->name.ends_with("/bias") ? 0.0f : -1.0f);
  ExpectNear(Evaluate(layer, kX0, kX), kX.ToVector());
  // With a bias of 2 the product is 0.5 and passes through: out = 0.5 x0 + x.
  for (Variable* v : layer.Variables()) {
    if (v->name.ends_with("/bias")) v->value.Fill(2.0f);
  }
  ExpectNear(Evaluate(layer, kX0, kX), {0.45f, 0.6f, 0.75f});
}

TEST(Cross, SigmoidPreactivation) {
  // Zero kernels: sigmoid(0) = 0.5, so out = 0.5 x0 + x.
  Cross layer("cross", {.preactivation = Activation::kSigmoid});
  BuildWithOnes(&layer);
  for (Variable* v : layer.Variables()) v->value.Fill(0.0f);
  ExpectNear(Evaluate(layer, kX0, kX), {0.45f, 0.6f, 0.75f});
}

TEST(Cross, NoBiasHasNoBiasVariable) {
  Cross layer("cross", {.use_bias = false});
  BuildWithOnes(&layer);
  ASSERT_EQ(layer.Variables().size(), 1u);
  EXPECT_EQ(layer.Variables()[0]->name, "cross/kernel");
  ExpectNear(Evaluate(layer, kX0, kX), {0.55f, 0.8f, 1.05f});
}

TEST(Cross, VariablesAreNamedShapedAndInitialised) {
  Cross full("interaction/cross_0", {.kernel_l2 = 0.5f});
  Rng rng(7);
  full.Build(6, rng);
  std::vector<Variable*> vars = full.Variables();
  ASSERT_EQ(vars.size(), 2u);
  EXPECT_EQ(vars[0]->name, "interaction/cross_0/kernel");
  EXPECT_EQ(vars[0]->value.shape(), (std::vector<int64_t>{6, 6}));
  EXPECT_EQ(vars[0]->l2, 0.5f);
  EXPECT_EQ(vars[1]->name, "interaction/cross_0/bias");
  EXPECT_EQ(vars[1]->value.shape(), (std::vector<int64_t>{6}));
  EXPECT_EQ(vars[1]->l2, 0.0f);
  double sum_sq = 0.0;
  for (int64_t i = 0; i < vars[0]->value.size(); ++i) {
    const float w = vars[0]->value[i];
    EXPECT_LE(std::fabs(w), 2 * 0.05 + 1e-7);  // truncated at two standard deviations
    sum_sq += double(w) * w;
  }
  EXPECT_GT(sum_sq, 0.0);
  for (int64_t i = 0; i < 6; ++i) EXPECT_EQ(vars[1]->value[i], 0.0f);

  Cross low("c", {.projection_dim = 2});
  low.Build(6, rng);
  vars = low.Variables();
  ASSERT_EQ(vars.size(), 3u);
  EXPECT_EQ(vars[0]->name, "c/kernel_u");
  EXPECT_EQ(vars[0]->value.shape(), (std::vector<int64_t>{6, 2}));
  EXPECT_EQ(vars[1]->name, "c/kernel_v");
  EXPECT_EQ(vars[1]->value.shape(), (std::vector<int64_t>{2, 6}));
  EXPECT_EQ(vars[2]->name, "c/bias");
}

TEST(Cross, InitialisationIsReproducibleFromTheSeed) {
  Cross a("a", {}), b("b", {});
  Rng rng_a(42), rng_b(42);
  a.Build(5, rng_a);
  b.Build(5, rng_b);
  EXPECT_EQ(a.Variables()[0]->value.ToVector(), b.Variables()[0]->value.ToVector());
}

TEST(Cross, RejectsMismatchedInputWidths) {
  Cross layer("cross", {});
  Rng rng(0);
  layer.Build(5, rng);
  Rng data(1);
  const Tensor x0 = RandomTensor({12, 5}, data);
  const Tensor x = RandomTensor({12, 7}, data);
  Tensor out;
  try {
    layer.Forward(x0, x, &out, true);
    FAIL() << "expected InvalidArgument";
  } catch (const InvalidArgument& e) {
    EXPECT_THAT(e.what(), HasSubstr("dimension mismatch"));
    EXPECT_THAT(e.what(), HasSubstr("x0 has width 5, x has width 7"));
  }
  const Tensor wide = RandomTensor({12, 7}, data);
  EXPECT_THROW(layer.Forward(wide, wide, &out, true), InvalidArgument);  // built for 5
  const Tensor short_batch = RandomTensor({3, 5}, data);
  EXPECT_THROW(layer.Forward(x0, short_batch, &out, true), InvalidArgument);
}

TEST(Cross, RejectsInvalidOptionsAndMisuse) {
  EXPECT_THROW(Cross("c", {.diag_scale = -1.0f}), InvalidArgument);
  EXPECT_THROW(Cross("c", {.projection_dim = 0}), InvalidArgument);
  EXPECT_THROW(Cross("c", {.kernel_l2 = -1.0f}), InvalidArgument);
  Cross layer("c", {});
  Tensor out, d0, d;
  EXPECT_THROW(layer.Forward(kX0, kX, &out, true), InvalidArgument);  // not built
  Rng rng(0);
  layer.Build(3, rng);
  EXPECT_THROW(layer.Backward(Tensor({1, 3}), &d0, &d), InvalidArgument);  // no forward
  layer.Forward(kX0, kX, &out, /*training=*/false);
  EXPECT_THROW(layer.Backward(Tensor({1, 3}), &d0, &d), InvalidArgument);  // eval forward
  layer.Forward(kX0, kX, &out, true);
  EXPECT_THROW(layer.Backward(Tensor({2, 3}), &d0, &d), InvalidArgument);
}

TEST(Cross, BackwardOfTheTfrsFullMatrixCaseIsHandComputable) {
  // Kernel ones, no bias: prod_j = sum(x) = 1.5; out = x0 * prod + x.
  // d_x0 = g * 1.5;  d_z = g * x0;  d_x = g + (d_z W^T) = g + sum(g * x0) in every column;
  // d_W[i][j] = x_i * d_z_j.
  Cross layer("cross", {});
  BuildWithOnes(&layer);
  Tensor out, d_x0, d_x;
  layer.Forward(kX0, kX, &out, true);
  const Tensor g({1, 3}, {1.0f, -2.0f, 0.5f});
  layer.Backward(g, &d_x0, &d_x);
  const float gx0 = 1.0f * 0.1f - 2.0f * 0.2f + 0.5f * 0.3f;  // -0.15
  for (int64_t j = 0; j < 3; ++j) {
    EXPECT_NEAR(d_x0[j], g[j] * 1.5f, 1e-6);
    EXPECT_NEAR(d_x[j], g[j] + gx0, 1e-6);
  }
  const Variable& kernel = *layer.Variables()[0];
  for (int64_t i = 0; i < 3; ++i) {
    for (int64_t j = 0; j < 3; ++j) {
      EXPECT_NEAR(kernel.grad.at(i, j), kX[i] * g[j] * kX0[j], 1e-6);
    }
  }
  const Variable& bias = *layer.Variables()[1];
  for (int64_t j = 0; j < 3; ++j) EXPECT_NEAR(bias.grad[j], g[j] * kX0[j], 1e-6);
}

TEST(Cross, BackwardAccumulatesParameterGradientsAndOverwritesInputGradients) {
  Cross layer("cross", {.projection_dim = 2});
  Rng rng(3);
  layer.Build(4, rng);
  const Tensor x0 = RandomTensor({2, 4}, rng), x = RandomTensor({2, 4}, rng);
  const Tensor g = RandomTensor({2, 4}, rng);
  Tensor out, d_x0, d_x;
  layer.Forward(x0, x, &out, true);
  layer.Backward(g, &d_x0, &d_x);
  std::vector<std::vector<float>> once;
  for (Variable* v : layer.Variables()) once.push_back(v->grad.ToVector());
  const std::vector<float> d_x_once = d_x.ToVector();
  layer.Backward(g, &d_x0, &d_x);
  const std::vector<Variable*> vars = layer.Variables();
  for (size_t k = 0; k < vars.size(); ++k) {
    for (int64_t i = 0; i < vars[k]->grad.size(); ++i) {
      EXPECT_FLOAT_EQ(vars[k]->grad[i], 2.0f * once[k][static_cast<size_t>(i)]) << vars[k]->name;
    }
  }
  EXPECT_EQ(d_x.ToVector(), d_x_once);
}

struct Case {
  const char* label;
  CrossOptions options;
  int64_t batch;
};

void CheckCrossGradients(const Case& c) {
  SCOPED_TRACE(c.label);
  const int64_t width = 5;
  Cross layer("cross", c.options);
  Rng rng(17);
  layer.Build(width, rng);
  // Larger weights than the initialiser's so every term of the gradient matters.
  for (Variable* v : layer.Variables()) v->value = RandomTensor(v->value.shape(), rng, 0.8f);
  Tensor x0 = RandomTensor({c.batch, width}, rng);
  Tensor x = RandomTensor({c.batch, width}, rng);
  testing::ProjectionLoss proj({c.batch, width}, 23);
  Tensor out;
  auto loss = [&] {
    layer.Forward(x0, x, &out, true);
    return proj(out);
  };
  for (Variable* v : layer.Variables()) v->ZeroGrad();
  loss();
  Tensor d_x0, d_x;
  layer.Backward(proj.Gradient(), &d_x0, &d_x);
  testing::ExpectGradientMatches(loss, x0.data(), d_x0.data(), x0.size(), "x0");
  testing::ExpectGradientMatches(loss, x.data(), d_x.data(), x.size(), "x");
  for (Variable* v : layer.Variables()) {
    testing::ExpectGradientMatches(loss, v->value.data(), v->grad.data(), v->value.size(), v->name);
  }
}

TEST(Cross, GradientMatchesFiniteDifferencesFullRank) { CheckCrossGradients({"full rank", {}, 4}); }

TEST(Cross, GradientMatchesFiniteDifferencesLowRank) {
  CheckCrossGradients({"low rank", {.projection_dim = 2}, 4});
}

TEST(Cross, GradientMatchesFiniteDifferencesWithDiagScale) {
  CheckCrossGradients({"diag_scale full rank", {.diag_scale = 0.7f}, 4});
  CheckCrossGradients({"diag_scale low rank", {.projection_dim = 2, .diag_scale = 0.7f}, 4});
}

TEST(Cross, GradientMatchesFiniteDifferencesWithReluPreactivation) {
  CheckCrossGradients({"relu", {.preactivation = Activation::kRelu}, 4});
  CheckCrossGradients(
      {"relu low rank", {.projection_dim = 3, .preactivation = Activation::kRelu}, 4});
}

TEST(Cross, GradientMatchesFiniteDifferencesWithSigmoidPreactivation) {
  CheckCrossGradients({"sigmoid", {.preactivation = Activation::kSigmoid}, 4});
}

TEST(Cross, GradientMatchesFiniteDifferencesWithoutBias) {
  CheckCrossGradients({"no bias", {.use_bias = false}, 4});
  CheckCrossGradients({"no bias low rank", {.projection_dim = 2, .use_bias = false}, 4});
}

TEST(Cross, GradientMatchesFiniteDifferencesAtBatchOne) {
  CheckCrossGradients({"batch 1 full rank", {.diag_scale = 0.3f}, 1});
  CheckCrossGradients({"batch 1 low rank", {.projection_dim = 2}, 1});
}

TEST(Cross, EmptyBatchGivesAnEmptyOutput) {
  Cross layer("cross", {});
  Rng rng(0);
  layer.Build(3, rng);
  Tensor out, d_x0, d_x;
  const Tensor empty({0, 3});
  layer.Forward(empty, empty, &out, true);
  EXPECT_EQ(out.shape(), (std::vector<int64_t>{0, 3}));
  layer.Backward(Tensor({0, 3}), &d_x0, &d_x);
  EXPECT_EQ(d_x.shape(), (std::vector<int64_t>{0, 3}));
  for (int64_t i = 0; i < 9; ++i) EXPECT_EQ(layer.Variables()[0]->grad[i], 0.0f);
}

// CrossInteraction.

std::vector<const Tensor*> Inputs(const std::vector<Tensor>& ts) {
  std::vector<const Tensor*> ps;
  for (const Tensor& t : ts) ps.push_back(&t);
  return ps;
}

std::vector<Tensor*> Outputs(std::vector<Tensor>& ts) {
  std::vector<Tensor*> ps;
  for (Tensor& t : ts) ps.push_back(&t);
  return ps;
}

TEST(CrossInteraction, NamesItsLayersAndReturnsTheConcatenatedWidth) {
  CrossInteraction interaction({.num_layers = 2, .cross = {.projection_dim = 3}});
  Rng rng(0);
  EXPECT_EQ(interaction.Build({2, 3, 4}, rng), 9);
  std::vector<std::string> names;
  for (Variable* v : interaction.Variables()) names.push_back(v->name);
  EXPECT_EQ(names, (std::vector<std::string>{
                       "interaction/cross_0/kernel_u", "interaction/cross_0/kernel_v",
                       "interaction/cross_0/bias", "interaction/cross_1/kernel_u",
                       "interaction/cross_1/kernel_v", "interaction/cross_1/bias"}));
  EXPECT_EQ(interaction.Describe(),
            "cross(num_layers=2, projection_dim=3, diag_scale=0, use_bias=true, "
            "preactivation=linear)");
}

TEST(CrossInteraction, EqualsTheCrossLayersAppliedToTheConcatenation) {
  CrossInteraction interaction({.num_layers = 2, .cross = {.diag_scale = 0.5f}});
  Rng rng(5);
  interaction.Build({1, 2}, rng);
  const std::vector<Tensor> features = {Tensor({2, 1}, {0.5f, -1.0f}),
                                        Tensor({2, 2}, {0.25f, 2.0f, 1.5f, -0.5f})};
  Tensor out;
  interaction.Forward(Inputs(features), &out, false);
  const Tensor x0({2, 3}, {0.5f, 0.25f, 2.0f, -1.0f, 1.5f, -0.5f});
  Tensor x1, x2;
  interaction.layer(0).Forward(x0, x0, &x1, false);
  interaction.layer(1).Forward(x0, x1, &x2, false);
  EXPECT_EQ(out.ToVector(), x2.ToVector());
  // And by hand for layer 0, example 0: z = x0 W0 + b0 (b0 = 0), out = x0 * (z + 0.5 x0) + x0.
  const Tensor& w0 = interaction.layer(0).Variables()[0]->value;
  for (int64_t j = 0; j < 3; ++j) {
    double z = 0.0;
    for (int64_t i = 0; i < 3; ++i) z += double(x0[i]) * w0.at(i, j);
    EXPECT_NEAR(x1[j], x0[j] * (z + 0.5 * x0[j]) + x0[j], 1e-6);
  }
}

TEST(CrossInteraction, GradientMatchesFiniteDifferencesWithTwoLayers) {
  for (const CrossOptions& cross :
       {CrossOptions{}, CrossOptions{.projection_dim = 2, .diag_scale = 0.5f}}) {
    SCOPED_TRACE(cross.projection_dim ? "low rank" : "full rank");
    CrossInteraction interaction({.num_layers = 2, .cross = cross});
    Rng rng(8);
    const std::vector<int64_t> widths = {2, 3, 4};
    interaction.Build(widths, rng);
    for (Variable* v : interaction.Variables()) {
      v->value = RandomTensor(v->value.shape(), rng, 0.5f);
    }
    const int64_t batch = 3;
    std::vector<Tensor> features;
    for (int64_t w : widths) features.push_back(RandomTensor({batch, w}, rng));
    testing::ProjectionLoss proj({batch, 9}, 4);
    Tensor out;
    auto loss = [&] {
      interaction.Forward(Inputs(features), &out, true);
      return proj(out);
    };
    for (Variable* v : interaction.Variables()) v->ZeroGrad();
    loss();
    std::vector<Tensor> grads(widths.size());
    interaction.Backward(proj.Gradient(), Outputs(grads));
    for (size_t i = 0; i < widths.size(); ++i) {
      ASSERT_EQ(grads[i].shape(), features[i].shape());
      testing::ExpectGradientMatches(loss, features[i].data(), grads[i].data(), features[i].size(),
                                     "feature " + std::to_string(i));
    }
    for (Variable* v : interaction.Variables()) {
      testing::ExpectGradientMatches(loss, v->value.data(), v->grad.data(), v->value.size(),
                                     v->name);
    }
  }
}

TEST(CrossInteraction, RejectsInvalidOptionsAndInputs) {
  EXPECT_THROW(CrossInteraction({.num_layers = 0}), InvalidArgument);
  EXPECT_THROW(CrossInteraction({.cross = {.diag_scale = -0.5f}}), InvalidArgument);
  CrossInteraction interaction;
  Rng rng(0);
  EXPECT_THROW(interaction.Build({}, rng), InvalidArgument);
  interaction.Build({2, 3}, rng);
  const Tensor a({1, 2}), b({1, 4});
  Tensor out;
  EXPECT_THROW(interaction.Forward({&a, &b}, &out, true), InvalidArgument);
  EXPECT_THROW(interaction.Forward({&a}, &out, true), InvalidArgument);
}

// Determinism: one Cross stack, forward and backward at 1 and 2 threads, bit-identical.
TEST(CrossInteraction, ResultsAreBitIdenticalAcrossThreadCounts) {
  const int64_t batch = 256;
  const std::vector<int64_t> widths = {16, 16, 32};
  Rng data(31);
  std::vector<Tensor> features;
  for (int64_t w : widths) features.push_back(RandomTensor({batch, w}, data));
  testing::ProjectionLoss proj({batch, 64}, 2);
  const int saved = ComputeThreads();
  for (const CrossOptions& cross :
       {CrossOptions{.diag_scale = 0.5f, .preactivation = Activation::kRelu},
        CrossOptions{.projection_dim = 8}}) {
    std::vector<std::vector<float>> results(2);
    for (int run = 0; run < 2; ++run) {
      SetComputeThreads(run + 1);
      CrossInteraction interaction({.num_layers = 3, .cross = cross});
      Rng rng(9);
      interaction.Build(widths, rng);
      for (Variable* v : interaction.Variables()) v->ZeroGrad();
      Tensor out;
      interaction.Forward(Inputs(features), &out, true);
      std::vector<Tensor> grads(widths.size());
      interaction.Backward(proj.Gradient(), Outputs(grads));
      std::vector<float>& r = results[run];
      r = out.ToVector();
      for (const Tensor& g : grads) r.insert(r.end(), g.data(), g.data() + g.size());
      for (Variable* v : interaction.Variables()) {
        r.insert(r.end(), v->grad.data(), v->grad.data() + v->grad.size());
      }
    }
    ASSERT_EQ(results[0].size(), results[1].size());
    EXPECT_EQ(std::memcmp(results[0].data(), results[1].data(), results[0].size() * sizeof(float)),
              0)
        << (cross.projection_dim ? "low rank" : "full rank");
  }
  SetComputeThreads(saved);
}

}  // namespace
}  // namespace crank
