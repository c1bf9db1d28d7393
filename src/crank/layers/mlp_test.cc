// Tests of the initialisers, the Linear layer and the Mlp block.

#include "crank/layers/mlp.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "crank/base/error.h"
#include "crank/base/rng.h"
#include "crank/kernels/gemm.h"
#include "crank/kernels/linear.h"
#include "crank/layers/initializers.h"
#include "crank/layers/linear.h"
#include "gradient_check.h"

namespace crank {
namespace {

using testing::ExpectGradientMatches;
using testing::ProjectionLoss;

Tensor RandomTensor(std::vector<int64_t> shape, uint64_t seed, float scale = 1.0f) {
  Tensor t(std::move(shape));
  Rng rng(seed);
  for (int64_t i = 0; i < t.size(); ++i) t[i] = scale * (2.0f * rng.UniformFloat() - 1.0f);
  return t;
}

// The message of the InvalidArgument thrown by f, or "<no exception>".
template <typename F>
std::string InvalidArgumentMessage(F&& f) {
  try {
    f();
  } catch (const InvalidArgument& e) {
    return e.what();
  }
  return "<no exception>";
}

// Gives the biases non-zero values so their effect is visible in checks.
void RandomizeBiases(Block& block, uint64_t seed) {
  for (Variable* v : block.Variables()) {
    if (v->name.ends_with("/bias")) v->value = RandomTensor(v->value.shape(), seed++, 0.3f);
  }
}

void ZeroGrads(Block& block) {
  for (Variable* v : block.Variables()) v->ZeroGrad();
}

// Finite-difference check of d(projection of output) w.r.t. the input and every variable.
void CheckBlockGradients(Block& block, int64_t batch, int64_t in, int64_t out, uint64_t seed) {
  Tensor x = RandomTensor({batch, in}, seed);
  Tensor y, dx;
  ProjectionLoss proj({batch, out}, seed + 1);
  auto loss = [&] {
    block.Forward(x, &y, true);
    return proj(y);
  };
  loss();
  ZeroGrads(block);
  block.Backward(proj.Gradient(), &dx);
  ASSERT_EQ(dx.shape(), x.shape());
  ExpectGradientMatches(loss, x.data(), dx.data(), x.size(), "input");
  for (Variable* v : block.Variables()) {
    ASSERT_EQ(v->grad.shape(), v->value.shape()) << v->name;
    ExpectGradientMatches(loss, v->value.data(), v->grad.data(), v->value.size(), v->name);
  }
}

// ---- initializers ----

TEST(InitGlorotUniform, StaysWithinKerasLimitAndFillsTheRange) {
  Tensor w({200, 300});
  Rng rng(42);
  InitGlorotUniform(&w, rng);
  const double limit = std::sqrt(6.0 / 500.0);
  EXPECT_DOUBLE_EQ(GlorotUniformLimit(200, 300), limit);
  float lo = 0, hi = 0;
  double sum = 0;
  for (int64_t i = 0; i < w.size(); ++i) {
    ASSERT_LE(std::fabs(w[i]), static_cast<float>(limit)) << "at " << i;
    lo = std::min(lo, w[i]);
    hi = std::max(hi, w[i]);
    sum += w[i];
  }
  EXPECT_GT(hi, 0.99 * limit);
  EXPECT_LT(lo, -0.99 * limit);
  EXPECT_NEAR(sum / w.size(), 0.0, 0.01 * limit);
}

TEST(InitGlorotUniform, SameSeedSameWeightsAndRejectsBadShapes) {
  Tensor a({7, 5}), b({7, 5});
  Rng r1(3), r2(3), r3(4);
  InitGlorotUniform(&a, r1);
  InitGlorotUniform(&b, r2);
  EXPECT_EQ(a.ToVector(), b.ToVector());
  InitGlorotUniform(&b, r3);
  EXPECT_NE(a.ToVector(), b.ToVector());
  Tensor rank3({2, 2, 2}), empty({0, 4});
  EXPECT_THROW(InitGlorotUniform(&rank3, r1), InvalidArgument);
  EXPECT_THROW(InitGlorotUniform(&empty, r1), InvalidArgument);
}

TEST(InitTruncatedNormal, StaysWithinTwoStddevWithTruncatedSpread) {
  const double stddev = 0.05;
  Tensor w({100, 100});
  Rng rng(5);
  InitTruncatedNormal(&w, stddev, rng);
  double sum = 0, sq = 0;
  float max_abs = 0;
  for (int64_t i = 0; i < w.size(); ++i) {
    ASSERT_LE(std::fabs(w[i]), static_cast<float>(2 * stddev)) << "at " << i;
    max_abs = std::max(max_abs, std::fabs(w[i]));
    sum += w[i];
    sq += double(w[i]) * w[i];
  }
  const double mean = sum / w.size();
  const double sd = std::sqrt(sq / w.size() - mean * mean);
  // A normal truncated at 2 sigma has standard deviation 0.8796 sigma.
  EXPECT_NEAR(sd, 0.8796 * stddev, 0.02 * stddev);
  EXPECT_NEAR(mean, 0.0, 0.01 * stddev);
  EXPECT_GT(max_abs, 1.95 * stddev);
  EXPECT_THROW(InitTruncatedNormal(&w, -1.0, rng), InvalidArgument);
}

// ---- Linear ----

TEST(Linear, BuildCreatesNamedGlorotKernelAndZeroBias) {
  Linear layer("top/dense_0", {.units = 4, .activation = Activation::kRelu, .kernel_l2 = 0.5f});
  Rng rng(1);
  EXPECT_EQ(layer.Build(6, rng), 4);
  EXPECT_EQ(layer.kernel().name, "top/dense_0/kernel");
  EXPECT_EQ(layer.kernel().value.shape(), (std::vector<int64_t>{6, 4}));
  EXPECT_EQ(layer.kernel().l2, 0.5f);
  EXPECT_EQ(layer.kernel().grad.shape(), layer.kernel().value.shape());
  const float limit = static_cast<float>(std::sqrt(6.0 / 10.0));
  bool any_nonzero = false;
  for (int64_t i = 0; i < 24; ++i) {
    EXPECT_LE(std::fabs(layer.kernel().value[i]), limit);
    any_nonzero |= layer.kernel().value[i] != 0.0f;
  }
  EXPECT_TRUE(any_nonzero);
  ASSERT_NE(layer.bias(), nullptr);
  EXPECT_EQ(layer.bias()->name, "top/dense_0/bias");
  EXPECT_EQ(layer.bias()->value.ToVector(), std::vector<float>(4, 0.0f));
  EXPECT_EQ(layer.bias()->l2, 0.0f);
  EXPECT_EQ(layer.Variables(), (std::vector<Variable*>{&layer.kernel(), layer.bias()}));
}

TEST(Linear, WithoutBiasHasOnlyAKernel) {
  Linear layer("d", {.units = 3, .use_bias = false});
  Rng rng(1);
  layer.Build(2, rng);
  EXPECT_EQ(layer.bias(), nullptr);
  EXPECT_EQ(layer.Variables(), (std::vector<Variable*>{&layer.kernel()}));
  Tensor x({1, 2}, {1.0f, -2.0f}), y;
  layer.Forward(x, &y, false);
  const Tensor& w = layer.kernel().value;
  for (int o = 0; o < 3; ++o) EXPECT_FLOAT_EQ(y[o], w.at(0, o) - 2.0f * w.at(1, o));
}

TEST(Linear, HandComputedForwardForEachActivation) {
  // x W + b = [[-0.75, 2.3], [-0.9, 1.5]].
  const Tensor x({2, 3}, {1, 2, 3, -1, 0.5f, 2});
  const std::vector<std::pair<Activation, std::vector<double>>> cases = {
      {Activation::kLinear, {-0.75, 2.3, -0.9, 1.5}},
      {Activation::kRelu, {0.0, 2.3, 0.0, 1.5}},
      {Activation::kSigmoid,
       {0.320821300824607, 0.9088770389851438, 0.289050497374996, 0.8175744761936437}}};
  for (const auto& [act, want] : cases) {
    SCOPED_TRACE(std::string(ActivationName(act)));
    Linear layer("d", {.units = 2, .activation = act});
    Rng rng(1);
    layer.Build(3, rng);
    layer.kernel().value = Tensor({3, 2}, {0.1f, -0.2f, 0.3f, 0.4f, -0.5f, 0.6f});
    layer.bias()->value = Tensor({2}, {0.05f, -0.1f});
    for (bool training : {true, false}) {
      Tensor y;
      layer.Forward(x, &y, training);
      ASSERT_EQ(y.shape(), (std::vector<int64_t>{2, 2}));
      for (int i = 0; i < 4; ++i) EXPECT_NEAR(y[i], want[i], 1e-6) << "at " << i;
    }
  }
}

class LinearGradientTest : public ::testing::TestWithParam<Activation> {};

TEST_P(LinearGradientTest, MatchesFiniteDifferencesForInputKernelAndBias) {
  Linear layer("d", {.units = 3, .activation = GetParam()});
  Rng rng(11);
  layer.Build(5, rng);
  RandomizeBiases(layer, 12);
  CheckBlockGradients(layer, 4, 5, 3, 13);
}

TEST_P(LinearGradientTest, MatchesFiniteDifferencesWithBatchOne) {
  Linear layer("d", {.units = 6, .activation = GetParam()});
  Rng rng(21);
  layer.Build(4, rng);
  RandomizeBiases(layer, 22);
  CheckBlockGradients(layer, 1, 4, 6, 23);
}

INSTANTIATE_TEST_SUITE_P(Activations, LinearGradientTest,
                         ::testing::Values(Activation::kLinear, Activation::kRelu,
                                           Activation::kSigmoid),
                         [](const auto& info) { return std::string(ActivationName(info.param)); });

TEST(Linear, BackwardWithoutInputGradientGivesSameParameterGradients) {
  Linear layer("d", {.units = 3, .activation = Activation::kSigmoid});
  Rng rng(2);
  layer.Build(4, rng);
  const Tensor x = RandomTensor({5, 4}, 3);
  const Tensor dy = RandomTensor({5, 3}, 4);
  Tensor y, dx;
  layer.Forward(x, &y, true);
  layer.Backward(dy, &dx);
  const std::vector<float> dw = layer.kernel().grad.ToVector();
  const std::vector<float> db = layer.bias()->grad.ToVector();
  ZeroGrads(layer);
  layer.Backward(dy, nullptr);
  EXPECT_EQ(layer.kernel().grad.ToVector(), dw);
  EXPECT_EQ(layer.bias()->grad.ToVector(), db);
  layer.Backward(dy, nullptr);  // accumulates
  for (size_t i = 0; i < dw.size(); ++i) EXPECT_FLOAT_EQ(layer.kernel().grad[i], 2 * dw[i]);
}

TEST(Linear, RejectsWidthMismatchNamingLayerAndWidths) {
  Linear layer("top/dense_1", {.units = 2});
  Rng rng(1);
  layer.Build(13, rng);
  Tensor y;
  EXPECT_EQ(InvalidArgumentMessage([&] {
              layer.Forward(Tensor({3, 12}), &y, true);
            }),
            "top/dense_1: expected input of width 13, got 12");
  EXPECT_NE(InvalidArgumentMessage([&] {
              layer.Forward(Tensor({13}), &y, true);
            }).find("expected input of shape (B, 13), got (13,)"),
            std::string::npos);
}

TEST(Linear, RejectsInvalidOptionsAndMisuse) {
  EXPECT_EQ(InvalidArgumentMessage([] { Linear("d", {.units = 0}); }),
            "d: units must be > 0, got 0");
  EXPECT_THROW(Linear("d", {.units = 2, .kernel_l2 = -1.0f}), InvalidArgument);
  EXPECT_THROW(Linear("d", {.units = 2, .kernel_l2 = NAN}), InvalidArgument);
  Linear layer("d", {.units = 2});
  Rng rng(1);
  Tensor y, dx;
  EXPECT_THROW(layer.Forward(Tensor({1, 3}), &y, true), InvalidArgument);  // not built
  EXPECT_THROW(layer.Build(0, rng), InvalidArgument);
  EXPECT_THROW(layer.Build(-3, rng), InvalidArgument);
  layer.Build(3, rng);
  EXPECT_THROW(layer.Backward(Tensor({1, 2}), &dx), InvalidArgument);  // no forward yet
  layer.Forward(Tensor({4, 3}), &y, true);
  EXPECT_THROW(layer.Backward(Tensor({4, 3}), &dx), InvalidArgument);  // wrong dy width
  EXPECT_THROW(layer.Backward(Tensor({3, 2}), &dx), InvalidArgument);  // wrong dy batch
  layer.Forward(Tensor({4, 3}), &y, false);
  EXPECT_THROW(layer.Backward(Tensor({4, 2}), &dx), InvalidArgument);  // eval forward
}

// ---- Mlp ----

TEST(Mlp, NamesLayersAndAppliesFinalActivationLast) {
  Mlp mlp("bottom", {.units = {4, 3, 2},
                     .activation = Activation::kRelu,
                     .final_activation = Activation::kSigmoid});
  Rng rng(1);
  EXPECT_EQ(mlp.Build(5, rng), 2);
  EXPECT_EQ(mlp.units(), (std::vector<int64_t>{4, 3, 2}));
  std::vector<std::string> names;
  for (Variable* v : mlp.Variables()) names.push_back(v->name);
  EXPECT_EQ(names, (std::vector<std::string>{"bottom/dense_0/kernel", "bottom/dense_0/bias",
                                             "bottom/dense_1/kernel", "bottom/dense_1/bias",
                                             "bottom/dense_2/kernel", "bottom/dense_2/bias"}));
  ASSERT_EQ(mlp.num_layers(), 3);
  EXPECT_EQ(mlp.layer(0).options().activation, Activation::kRelu);
  EXPECT_EQ(mlp.layer(1).options().activation, Activation::kRelu);
  EXPECT_EQ(mlp.layer(2).options().activation, Activation::kSigmoid);
  EXPECT_EQ(mlp.layer(1).input_dim(), 4);
}

TEST(Mlp, ForwardEqualsChainedLinearKernels) {
  Mlp mlp("top", {.units = {6, 1}, .final_activation = Activation::kSigmoid});
  Rng rng(3);
  mlp.Build(4, rng);
  RandomizeBiases(mlp, 4);
  const Tensor x = RandomTensor({3, 4}, 5);
  std::vector<float> h(3 * 6), want(3);
  LinearForward(x.data(), mlp.layer(0).kernel().value.data(), mlp.layer(0).bias()->value.data(),
                Activation::kRelu, 3, 4, 6, h.data());
  LinearForward(h.data(), mlp.layer(1).kernel().value.data(), mlp.layer(1).bias()->value.data(),
                Activation::kSigmoid, 3, 6, 1, want.data());
  for (bool training : {true, false}) {
    Tensor y;
    mlp.Forward(x, &y, training);
    ASSERT_EQ(y.shape(), (std::vector<int64_t>{3, 1}));
    EXPECT_EQ(y.ToVector(), want);
  }
}

struct MlpGradCase {
  Activation final_activation;
  int64_t batch;
};

class MlpGradientTest : public ::testing::TestWithParam<MlpGradCase> {};

TEST_P(MlpGradientTest, ThreeLayersMatchFiniteDifferences) {
  const auto [final_activation, batch] = GetParam();
  Mlp mlp("mlp", {.units = {7, 5, 3}, .final_activation = final_activation});
  Rng rng(31);
  mlp.Build(6, rng);
  RandomizeBiases(mlp, 32);
  CheckBlockGradients(mlp, batch, 6, 3, 33);
}

INSTANTIATE_TEST_SUITE_P(FinalActivations, MlpGradientTest,
                         ::testing::Values(MlpGradCase{Activation::kLinear, 4},
                                           MlpGradCase{Activation::kRelu, 4},
                                           MlpGradCase{Activation::kLinear, 1},
                                           MlpGradCase{Activation::kRelu, 1}),
                         [](const auto& info) {
                           return std::string(ActivationName(info.param.final_activation)) +
                                  "Batch" + std::to_string(info.param.batch);
                         });

TEST(Mlp, BackwardWithoutInputGradientMatchesWithIt) {
  Mlp mlp("mlp", {.units = {5, 2}});
  Rng rng(7);
  mlp.Build(3, rng);
  const Tensor x = RandomTensor({4, 3}, 8);
  const Tensor dy = RandomTensor({4, 2}, 9);
  Tensor y, dx;
  mlp.Forward(x, &y, true);
  mlp.Backward(dy, &dx);
  std::vector<std::vector<float>> grads;
  for (Variable* v : mlp.Variables()) grads.push_back(v->grad.ToVector());
  ZeroGrads(mlp);
  mlp.Backward(dy, nullptr);
  const std::vector<Variable*> vars = mlp.Variables();
  for (size_t i = 0; i < vars.size(); ++i) EXPECT_EQ(vars[i]->grad.ToVector(), grads[i]);
}

TEST(Mlp, ReusesItsBuffersAcrossSteps) {
  Mlp mlp("mlp", {.units = {8, 4}});
  Rng rng(7);
  mlp.Build(3, rng);
  const Tensor x = RandomTensor({16, 3}, 8);
  Tensor y, dx;
  mlp.Forward(x, &y, true);
  mlp.Backward(RandomTensor({16, 4}, 1), &dx);
  const float* hidden = mlp.layer(0).ForwardBorrowed(x, true).data();
  const float* y_data = y.data();
  const float* dx_data = dx.data();
  for (int step = 0; step < 3; ++step) {
    mlp.Forward(x, &y, true);
    mlp.Backward(RandomTensor({16, 4}, 1), &dx);
  }
  EXPECT_EQ(mlp.layer(0).ForwardBorrowed(x, true).data(), hidden);
  EXPECT_EQ(y.data(), y_data);
  EXPECT_EQ(dx.data(), dx_data);
}

TEST(Mlp, RejectsWidthMismatchNamingBlockAndWidths) {
  Mlp mlp("bottom", {.units = {4, 2}});
  Rng rng(1);
  mlp.Build(13, rng);
  Tensor y;
  EXPECT_EQ(InvalidArgumentMessage([&] {
              mlp.Forward(Tensor({2, 12}), &y, false);
            }),
            "bottom: expected input of width 13, got 12");
  EXPECT_EQ(InvalidArgumentMessage([&] {
              mlp.Forward(Tensor({2, 14}), &y, true);
            }),
            "bottom: expected input of width 13, got 14");
}

TEST(Mlp, RejectsInvalidOptionsAndMisuse) {
  EXPECT_EQ(InvalidArgumentMessage([] { Mlp("top", {.units = {}}); }),
            "top: units must list at least one layer width, got none");
  EXPECT_EQ(InvalidArgumentMessage([] {
              Mlp("top", {.units = {4, 0, 1}});
            }),
            "top: units[1] must be > 0, got 0");
  EXPECT_THROW(Mlp("top", {.units = {-2}}), InvalidArgument);
  EXPECT_THROW(Mlp("top", {.units = {2}, .kernel_l2 = -0.1f}), InvalidArgument);
  Mlp mlp("top", {.units = {2}});
  Rng rng(1);
  Tensor y, dx;
  EXPECT_THROW(mlp.Forward(Tensor({1, 3}), &y, true), InvalidArgument);  // not built
  EXPECT_THROW(mlp.Build(0, rng), InvalidArgument);
  mlp.Build(3, rng);
  EXPECT_THROW(mlp.Backward(Tensor({1, 2}), &dx), InvalidArgument);  // no forward yet
  mlp.Forward(Tensor({1, 3}), &y, false);
  EXPECT_THROW(mlp.Backward(Tensor({1, 2}), &dx), InvalidArgument);  // eval forward
}

TEST(Mlp, KernelL2ReachesEveryKernelOnly) {
  Mlp mlp("top", {.units = {3, 2}, .kernel_l2 = 0.25f});
  Rng rng(1);
  mlp.Build(2, rng);
  for (Variable* v : mlp.Variables()) {
    EXPECT_EQ(v->l2, v->name.ends_with("/kernel") ? 0.25f : 0.0f) << v->name;
  }
}

// Everything an Mlp step produces: output, input gradient and parameter gradients.
std::vector<std::vector<float>> MlpStep(int threads) {
  SetComputeThreads(threads);
  Mlp mlp("mlp", {.units = {256, 128, 1}, .final_activation = Activation::kSigmoid});
  Rng rng(77);
  mlp.Build(96, rng);
  RandomizeBiases(mlp, 78);
  const Tensor x = RandomTensor({300, 96}, 79);
  const Tensor dy = RandomTensor({300, 1}, 80);
  Tensor y, dx;
  mlp.Forward(x, &y, true);
  mlp.Backward(dy, &dx);
  std::vector<std::vector<float>> out = {y.ToVector(), dx.ToVector()};
  for (Variable* v : mlp.Variables()) out.push_back(v->grad.ToVector());
  return out;
}

TEST(Mlp, OneAndTwoComputeThreadsGiveBitIdenticalResults) {
  const int before = ComputeThreads();
  const auto one = MlpStep(1);
  const auto two = MlpStep(2);
  const auto two_again = MlpStep(2);
  SetComputeThreads(before);
  ASSERT_EQ(one.size(), two.size());
  for (size_t i = 0; i < one.size(); ++i) {
    ASSERT_EQ(one[i].size(), two[i].size());
    EXPECT_EQ(std::memcmp(one[i].data(), two[i].data(), one[i].size() * sizeof(float)), 0)
        << "result " << i << " differs between 1 and 2 threads";
    EXPECT_EQ(std::memcmp(two[i].data(), two_again[i].data(), two[i].size() * sizeof(float)), 0)
        << "result " << i << " differs between runs";
  }
}

}  // namespace
}  // namespace crank
