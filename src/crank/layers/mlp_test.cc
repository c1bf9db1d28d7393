// Tests of the initialisers, the Linear layer and the Mlp block.

#include "crank/layers/mlp.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "crank/base/error.h"
#include "crank/base/rng.h"
#include "crank/kernels/compute_settings.h"
#include "crank/kernels/gemm.h"
#include "crank/kernels/linear.h"
#include "crank/layers/initializers.h"
#include "crank/layers/linear.h"
#include "gradient_check.h"
#include "op_test_harness.h"

namespace crank {
namespace {

using testing::CaseName;
using testing::ExpectGradientMatches;
using testing::ProjectionLoss;
using testing::ThrownMessage;

Tensor RandomTensor(std::vector<int64_t> shape, uint64_t seed, float scale = 1.0f) {
  Tensor t(std::move(shape));
  Rng rng(seed);
  for (int64_t i = 0; i < t.size(); ++i) t[i] = scale * (2.0f * rng.UniformFloat() - 1.0f);
  return t;
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

// Two stacks sharing one backward scratch, and the top one fed by reference, as Ranking runs
// them (top backward, then bottom backward): the same bits as two independent stacks fed copies.
TEST(Mlp, SharedGradientScratchAndBorrowedInputGiveTheSameBits) {
  auto run = [](bool share) {
    Mlp bottom("bottom", {.units = {32, 8}});
    Mlp top("top", {.units = {24, 16, 1}, .final_activation = Activation::kLinear});
    Rng rng(3);
    bottom.Build(5, rng);
    top.Build(8, rng);
    RandomizeBiases(bottom, 4);
    RandomizeBiases(top, 5);
    if (share) top.ShareGradientScratch(bottom);
    std::vector<std::vector<float>> out;
    for (const int64_t batch : {70, 3}) {  // the scratch shrinks and grows between steps
      const Tensor x = RandomTensor({batch, 5}, 6 + batch);
      Tensor h, y, dh, dx;
      bottom.Forward(x, &h, true);
      if (share) {
        top.ForwardBorrowed(h, &y, true);
      } else {
        top.Forward(h, &y, true);
      }
      top.Backward(RandomTensor({batch, 1}, 7), &dh);
      bottom.Backward(dh, &dx);
      out.push_back(y.ToVector());
      out.push_back(dh.ToVector());
      out.push_back(dx.ToVector());
    }
    for (Variable* v : bottom.Variables()) out.push_back(v->grad.ToVector());
    for (Variable* v : top.Variables()) out.push_back(v->grad.ToVector());
    return out;
  };
  const auto separate = run(false);
  const auto shared = run(true);
  ASSERT_EQ(separate.size(), shared.size());
  for (size_t i = 0; i < separate.size(); ++i) {
    ASSERT_EQ(separate[i].size(), shared[i].size()) << i;
    EXPECT_EQ(std::memcmp(separate[i].data(), shared[i].data(), separate[i].size() * sizeof(float)),
              0)
        << "result " << i;
  }
}

TEST(Linear, BackwardInPlaceGivesTheBitsOfBackwardWithAScratch) {
  // Every activation, fp32 and (where the CPU has it) bf16 GEMMs: the input gradient, the
  // parameter gradients and the pre-activation gradient left in dy.
  for (const GemmPrecision precision : {GemmPrecision::kFp32, GemmPrecision::kBf16}) {
    ScopedComputeSettings settings({.threads = 2, .precision = precision});
    if (precision == GemmPrecision::kBf16 && !GemmRunsInBf16(64, 24, 40)) continue;
    for (const Activation act : {Activation::kRelu, Activation::kSigmoid, Activation::kLinear}) {
      SCOPED_TRACE(std::string(ActivationName(act)) +
                   (precision == GemmPrecision::kBf16 ? " bf16" : " fp32"));
      auto run = [&](bool in_place, std::vector<float>* d_pre) {
        Linear layer("l", {.units = 24, .activation = act});
        Rng rng(9);
        layer.Build(40, rng);
        const Tensor x = RandomTensor({64, 40}, 10);
        Tensor y, dx, scratch;
        layer.Forward(x, &y, true);
        Tensor dy = RandomTensor({64, 24}, 11);
        if (in_place) {
          layer.BackwardInPlace(&dy, &dx);
          *d_pre = dy.ToVector();
        } else {
          layer.Backward(dy, &dx, &scratch);
          *d_pre = act == Activation::kLinear ? dy.ToVector() : scratch.ToVector();
        }
        std::vector<std::vector<float>> out = {dx.ToVector()};
        for (Variable* v : layer.Variables()) out.push_back(v->grad.ToVector());
        return out;
      };
      std::vector<float> pre_a, pre_b;
      const auto a = run(false, &pre_a);
      const auto b = run(true, &pre_b);
      ASSERT_EQ(a.size(), b.size());
      for (size_t i = 0; i < a.size(); ++i) {
        ASSERT_EQ(a[i].size(), b[i].size());
        EXPECT_EQ(std::memcmp(a[i].data(), b[i].data(), a[i].size() * sizeof(float)), 0) << i;
      }
      ASSERT_EQ(pre_a.size(), pre_b.size());
      EXPECT_EQ(std::memcmp(pre_a.data(), pre_b.data(), pre_a.size() * sizeof(float)), 0);
    }
  }
}

TEST(Mlp, KernelL2ReachesEveryKernelOnly) {
  Mlp mlp("top", {.units = {3, 2}, .kernel_l2 = 0.25f});
  Rng rng(1);
  mlp.Build(2, rng);
  for (Variable* v : mlp.Variables()) {
    EXPECT_EQ(v->l2, v->name.ends_with("/kernel") ? 0.25f : 0.0f) << v->name;
  }
}

// ---- Linear and Mlp through one table-driven harness ----

using MakeBlock = std::function<std::unique_ptr<Block>()>;

MakeBlock MakeLinear(std::string name, LinearOptions options) {
  return [=] { return std::make_unique<Linear>(name, options); };
}
MakeBlock MakeMlp(std::string name, MlpOptions options) {
  return [=] { return std::make_unique<Mlp>(name, options); };
}

// A block built for inputs of width `in` from Rng(build_seed).
struct BlockCase {
  std::string name;
  MakeBlock make;
  int64_t in;
  uint64_t build_seed;
};

struct GradientCase {
  BlockCase block;
  uint64_t bias_seed;  // biases get random values from here (RandomizeBiases)
  int64_t batch;
  uint64_t check_seed;  // input and projection of CheckBlockGradients
  std::string name;
};

class BlockGradient : public ::testing::TestWithParam<GradientCase> {};

TEST_P(BlockGradient, MatchesFiniteDifferencesForInputAndEveryVariable) {
  const GradientCase& c = GetParam();
  std::unique_ptr<Block> block = c.block.make();
  Rng rng(c.block.build_seed);
  const int64_t out = block->Build(c.block.in, rng);
  RandomizeBiases(*block, c.bias_seed);
  CheckBlockGradients(*block, c.batch, c.block.in, out, c.check_seed);
}

std::vector<GradientCase> GradientCases() {
  std::vector<GradientCase> cases;
  for (Activation act : {Activation::kLinear, Activation::kRelu, Activation::kSigmoid}) {
    const std::string a(ActivationName(act));
    cases.push_back(
        {{"", MakeLinear("d", {.units = 3, .activation = act}), 5, 11}, 12, 4, 13, "Linear_" + a});
    cases.push_back({{"", MakeLinear("d", {.units = 6, .activation = act}), 4, 21},
                     22,
                     1,
                     23,
                     "Linear_" + a + "_BatchOne"});
  }
  for (Activation act : {Activation::kLinear, Activation::kRelu}) {
    for (int64_t batch : {4, 1}) {
      cases.push_back(
          {{"", MakeMlp("mlp", {.units = {7, 5, 3}, .final_activation = act}), 6, 31},
           32,
           batch,
           33,
           "Mlp3Layers_" + std::string(ActivationName(act)) + "_Batch" + std::to_string(batch)});
    }
  }
  return cases;
}

INSTANTIATE_TEST_SUITE_P(LinearAndMlp, BlockGradient, ::testing::ValuesIn(GradientCases()),
                         CaseName<GradientCase>);

struct BackwardCase {
  std::string name;
  BlockCase block;  // input and dy come from build_seed + 1 and + 2
  int64_t batch;
};

class BlockBackward : public ::testing::TestWithParam<BackwardCase> {};

// Backward without dx gives the same parameter gradients as with it, and a second Backward
// accumulates into them.
TEST_P(BlockBackward, WithoutInputGradientGivesSameParameterGradientsAndAccumulates) {
  const BackwardCase& c = GetParam();
  std::unique_ptr<Block> block = c.block.make();
  Rng rng(c.block.build_seed);
  const int64_t out = block->Build(c.block.in, rng);
  const Tensor x = RandomTensor({c.batch, c.block.in}, c.block.build_seed + 1);
  const Tensor dy = RandomTensor({c.batch, out}, c.block.build_seed + 2);
  Tensor y, dx;
  block->Forward(x, &y, true);
  block->Backward(dy, &dx);
  std::vector<std::vector<float>> grads;
  for (Variable* v : block->Variables()) grads.push_back(v->grad.ToVector());
  ZeroGrads(*block);
  block->Backward(dy, nullptr);
  const std::vector<Variable*> vars = block->Variables();
  for (size_t i = 0; i < vars.size(); ++i) EXPECT_EQ(vars[i]->grad.ToVector(), grads[i]);
  block->Backward(dy, nullptr);  // accumulates
  for (size_t i = 0; i < vars.size(); ++i) {
    for (size_t j = 0; j < grads[i].size(); ++j) {
      EXPECT_FLOAT_EQ(vars[i]->grad[static_cast<int64_t>(j)], 2 * grads[i][j])
          << vars[i]->name << " at " << j;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(
    LinearAndMlp, BlockBackward,
    ::testing::ValuesIn(std::vector<BackwardCase>{
        {"LinearSigmoid",
         {"", MakeLinear("d", {.units = 3, .activation = Activation::kSigmoid}), 4, 2},
         5},
        {"Mlp", {"", MakeMlp("mlp", {.units = {5, 2}}), 3, 7}, 4}}),
    CaseName<BackwardCase>);

// A forward on an input of the wrong shape throws InvalidArgument naming the block.
struct ShapeErrorCase {
  std::string name;
  BlockCase block;
  std::vector<int64_t> input_shape;
  bool training;
  std::string message;
  bool exact;  // the whole message, else a part of it
};

class BlockRejectsInput : public ::testing::TestWithParam<ShapeErrorCase> {};

TEST_P(BlockRejectsInput, NamingTheBlockAndTheWidths) {
  const ShapeErrorCase& c = GetParam();
  std::unique_ptr<Block> block = c.block.make();
  Rng rng(c.block.build_seed);
  block->Build(c.block.in, rng);
  Tensor y;
  const std::string message =
      ThrownMessage([&] { block->Forward(Tensor(c.input_shape), &y, c.training); });
  if (c.exact) {
    EXPECT_EQ(message, c.message);
  } else {
    EXPECT_NE(message.find(c.message), std::string::npos) << message;
  }
}

INSTANTIATE_TEST_SUITE_P(LinearAndMlp, BlockRejectsInput,
                         ::testing::ValuesIn(std::vector<ShapeErrorCase>{
                             {"LinearNarrowInput",
                              {"", MakeLinear("top/dense_1", {.units = 2}), 13, 1},
                              {3, 12},
                              true,
                              "top/dense_1: expected input of width 13, got 12",
                              true},
                             {"LinearRank1Input",
                              {"", MakeLinear("top/dense_1", {.units = 2}), 13, 1},
                              {13},
                              true,
                              "expected input of shape (B, 13), got (13,)",
                              false},
                             {"MlpNarrowInputEval",
                              {"", MakeMlp("bottom", {.units = {4, 2}}), 13, 1},
                              {2, 12},
                              false,
                              "bottom: expected input of width 13, got 12",
                              true},
                             {"MlpWideInputTraining",
                              {"", MakeMlp("bottom", {.units = {4, 2}}), 13, 1},
                              {2, 14},
                              true,
                              "bottom: expected input of width 13, got 14",
                              true}}),
                         CaseName<ShapeErrorCase>);

// Invalid options: InvalidArgument at construction, with the given message where not empty.
struct OptionsCase {
  std::string name;
  MakeBlock make;
  std::string message;
};

class BlockRejectsOptions : public ::testing::TestWithParam<OptionsCase> {};

TEST_P(BlockRejectsOptions, AtConstruction) {
  if (GetParam().message.empty()) {
    EXPECT_THROW(GetParam().make(), InvalidArgument);
  } else {
    EXPECT_EQ(ThrownMessage([&] { GetParam().make(); }), GetParam().message);
  }
}

INSTANTIATE_TEST_SUITE_P(
    LinearAndMlp, BlockRejectsOptions,
    ::testing::ValuesIn(std::vector<OptionsCase>{
        {"LinearZeroUnits", MakeLinear("d", {.units = 0}), "d: units must be > 0, got 0"},
        {"LinearNegativeL2", MakeLinear("d", {.units = 2, .kernel_l2 = -1.0f}), ""},
        {"LinearNaNL2", MakeLinear("d", {.units = 2, .kernel_l2 = NAN}), ""},
        {"MlpNoLayers", MakeMlp("top", {.units = {}}),
         "top: units must list at least one layer width, got none"},
        {"MlpZeroWidth", MakeMlp("top", {.units = {4, 0, 1}}), "top: units[1] must be > 0, got 0"},
        {"MlpNegativeWidth", MakeMlp("top", {.units = {-2}}), ""},
        {"MlpNegativeL2", MakeMlp("top", {.units = {2}, .kernel_l2 = -0.1f}), ""}}),
    CaseName<OptionsCase>);

// Misuse of a block with 2 outputs: forward before Build, bad input widths, backward without
// a training forward or with a dy of the wrong shape.
class BlockRejectsMisuse : public ::testing::TestWithParam<OptionsCase> {};

TEST_P(BlockRejectsMisuse, WithInvalidArgument) {
  std::unique_ptr<Block> block = GetParam().make();
  Rng rng(1);
  Tensor y, dx;
  EXPECT_THROW(block->Forward(Tensor({1, 3}), &y, true), InvalidArgument);  // not built
  EXPECT_THROW(block->Build(0, rng), InvalidArgument);
  EXPECT_THROW(block->Build(-3, rng), InvalidArgument);
  block->Build(3, rng);
  EXPECT_THROW(block->Backward(Tensor({1, 2}), &dx), InvalidArgument);  // no forward yet
  block->Forward(Tensor({4, 3}), &y, true);
  EXPECT_THROW(block->Backward(Tensor({4, 3}), &dx), InvalidArgument);  // wrong dy width
  EXPECT_THROW(block->Backward(Tensor({3, 2}), &dx), InvalidArgument);  // wrong dy batch
  block->Forward(Tensor({4, 3}), &y, false);
  EXPECT_THROW(block->Backward(Tensor({4, 2}), &dx), InvalidArgument);  // eval forward
  block->Forward(Tensor({1, 3}), &y, false);
  EXPECT_THROW(block->Backward(Tensor({1, 2}), &dx), InvalidArgument);  // eval forward
}

INSTANTIATE_TEST_SUITE_P(LinearAndMlp, BlockRejectsMisuse,
                         ::testing::ValuesIn(std::vector<OptionsCase>{
                             {"Linear", MakeLinear("d", {.units = 2}), ""},
                             {"Mlp", MakeMlp("top", {.units = {2}}), ""}}),
                         CaseName<OptionsCase>);

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
    testing::ExpectBitIdentical(one[i], two[i],
                                "result " + std::to_string(i) + " differs between 1 and 2 threads");
    testing::ExpectBitIdentical(two[i], two_again[i],
                                "result " + std::to_string(i) + " differs between runs");
  }
}

}  // namespace
}  // namespace crank
