#include "crank/layers/dot_interaction.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <vector>

#include "crank/base/error.h"
#include "crank/base/rng.h"
#include "crank/kernels/dot_interaction.h"
#include "crank/kernels/gemm.h"
#include "gradient_check.h"

namespace crank {
namespace {

using ::testing::HasSubstr;

// The feature vectors of TFRS's dot_interaction_test.py (batch 1).
const Tensor kF1({1, 5}, {0.1f, -4.3f, 0.2f, 1.1f, 0.3f});
const Tensor kF2({1, 5}, {2.0f, 3.2f, -1.0f, 0.0f, 1.0f});
const Tensor kF3({1, 5}, {0.0f, 1.0f, -3.0f, -2.2f, -0.2f});

double Dot(const Tensor& a, const Tensor& b) {
  double s = 0.0;
  for (int64_t e = 0; e < a.size(); ++e) s += double(a[e]) * b[e];
  return s;
}

std::vector<float> RunTfrsVectors(DotInteractionOptions options) {
  DotInteraction layer(options);
  Rng rng(0);
  layer.Build({5, 5, 5}, rng);
  Tensor out;
  layer.Forward({&kF1, &kF2, &kF3}, &out, /*training=*/false);
  EXPECT_EQ(out.rank(), 2);
  EXPECT_EQ(out.dim(0), 1);
  return out.ToVector();
}

void ExpectNear(const std::vector<float>& actual, const std::vector<double>& expected) {
  ASSERT_EQ(actual.size(), expected.size());
  for (size_t i = 0; i < actual.size(); ++i) {
    EXPECT_NEAR(actual[i], expected[i], 1e-5) << "output " << i;
  }
}

Tensor RandomTensor(std::vector<int64_t> shape, Rng& rng) {
  Tensor t(std::move(shape));
  for (int64_t i = 0; i < t.size(); ++i) t[i] = 2.0f * rng.UniformFloat() - 1.0f;
  return t;
}

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

const DotInteractionOptions kAllModes[] = {
    {false, false}, {true, false}, {false, true}, {true, true}};

std::string ModeName(DotInteractionOptions o) {
  return std::string("self_interaction=") + (o.self_interaction ? "true" : "false") +
         " skip_gather=" + (o.skip_gather ? "true" : "false");
}

TEST(DotInteraction, MatchesTfrsVectorsWithoutSelfInteraction) {
  const double f12 = Dot(kF1, kF2), f13 = Dot(kF1, kF3), f23 = Dot(kF2, kF3);
  ExpectNear(RunTfrsVectors({.self_interaction = false, .skip_gather = false}), {f12, f13, f23});
}

TEST(DotInteraction, MatchesTfrsVectorsWithSelfInteraction) {
  const double f11 = Dot(kF1, kF1), f12 = Dot(kF1, kF2), f13 = Dot(kF1, kF3);
  const double f22 = Dot(kF2, kF2), f23 = Dot(kF2, kF3), f33 = Dot(kF3, kF3);
  ExpectNear(RunTfrsVectors({.self_interaction = true, .skip_gather = false}),
             {f11, f12, f22, f13, f23, f33});
}

TEST(DotInteraction, MatchesTfrsVectorsWithSkipGather) {
  const double f12 = Dot(kF1, kF2), f13 = Dot(kF1, kF3), f23 = Dot(kF2, kF3);
  ExpectNear(RunTfrsVectors({.self_interaction = false, .skip_gather = true}), {0, 0, 0,    //
                                                                                f12, 0, 0,  //
                                                                                f13, f23, 0});
}

TEST(DotInteraction, MatchesTfrsVectorsWithSelfInteractionAndSkipGather) {
  const double f11 = Dot(kF1, kF1), f12 = Dot(kF1, kF2), f13 = Dot(kF1, kF3);
  const double f22 = Dot(kF2, kF2), f23 = Dot(kF2, kF3), f33 = Dot(kF3, kF3);
  ExpectNear(RunTfrsVectors({.self_interaction = true, .skip_gather = true}), {f11, 0, 0,    //
                                                                               f12, f22, 0,  //
                                                                               f13, f23, f33});
}

TEST(DotInteraction, HandComputedDotProducts) {
  // f1.f2 = 0.2 - 13.76 - 0.2 + 0 + 0.3 = -13.46; f1.f3 = 0 - 4.3 - 0.6 - 2.42 - 0.06 = -7.38;
  // f2.f3 = 0 + 3.2 + 3 + 0 - 0.2 = 6.
  ExpectNear(RunTfrsVectors({}), {-13.46, -7.38, 6.0});
}

TEST(DotInteraction, BuildReturnsTheOutputWidth) {
  Rng rng(0);
  const std::vector<int64_t> widths(4, 8);
  EXPECT_EQ(DotInteraction({false, false}).Build(widths, rng), 6);
  EXPECT_EQ(DotInteraction({true, false}).Build(widths, rng), 10);
  EXPECT_EQ(DotInteraction({false, true}).Build(widths, rng), 16);
  EXPECT_EQ(DotInteraction({true, true}).Build(widths, rng), 16);
  EXPECT_TRUE(DotInteraction().Variables().empty());
}

TEST(DotInteraction, MatchesNaiveReferenceOnARandomBatch) {
  // F = 6 and E = 7 exercise both the blocked and the remainder paths of the kernel.
  const int64_t batch = 9, f = 6, e = 7;
  Rng rng(3);
  std::vector<Tensor> features;
  for (int64_t i = 0; i < f; ++i) features.push_back(RandomTensor({batch, e}, rng));
  for (DotInteractionOptions mode : kAllModes) {
    DotInteraction layer(mode);
    const int64_t width = layer.Build(std::vector<int64_t>(f, e), rng);
    Tensor out;
    layer.Forward(Inputs(features), &out, true);
    ASSERT_EQ(out.shape(), (std::vector<int64_t>{batch, width})) << ModeName(mode);
    for (int64_t b = 0; b < batch; ++b) {
      std::vector<double> expected;
      for (int64_t i = 0; i < f; ++i) {
        for (int64_t j = 0; j < f; ++j) {
          double z = 0.0;
          for (int64_t k = 0; k < e; ++k) {
            z += double(features[i].at(b, k)) * features[j].at(b, k);
          }
          const bool gathered = mode.self_interaction ? j <= i : j < i;
          if (gathered) {
            expected.push_back(z);
          } else if (mode.skip_gather) {
            expected.push_back(0.0);
          }
        }
      }
      ASSERT_EQ(static_cast<int64_t>(expected.size()), width);
      for (int64_t k = 0; k < width; ++k) {
        EXPECT_NEAR(out.at(b, k), expected[k], 1e-5) << ModeName(mode) << " b=" << b;
      }
    }
  }
}

void CheckGradients(DotInteractionOptions mode, int64_t batch, int64_t f, int64_t e) {
  SCOPED_TRACE(ModeName(mode) + " batch=" + std::to_string(batch));
  Rng rng(11);
  std::vector<Tensor> features;
  for (int64_t i = 0; i < f; ++i) features.push_back(RandomTensor({batch, e}, rng));
  DotInteraction layer(mode);
  const int64_t width = layer.Build(std::vector<int64_t>(f, e), rng);
  testing::ProjectionLoss proj({batch, width}, 5);
  Tensor out;
  auto loss = [&] {
    layer.Forward(Inputs(features), &out, true);
    return proj(out);
  };
  loss();
  std::vector<Tensor> grads(static_cast<size_t>(f));
  layer.Backward(proj.Gradient(), Outputs(grads));
  for (int64_t i = 0; i < f; ++i) {
    ASSERT_EQ(grads[i].shape(), features[i].shape());
    testing::ExpectGradientMatches(loss, features[i].data(), grads[i].data(), features[i].size(),
                                   "feature " + std::to_string(i));
  }
}

TEST(DotInteraction, GradientMatchesFiniteDifferencesWithoutSelfInteraction) {
  CheckGradients({false, false}, 3, 5, 6);
}

TEST(DotInteraction, GradientMatchesFiniteDifferencesWithSelfInteraction) {
  CheckGradients({true, false}, 3, 5, 6);
}

TEST(DotInteraction, GradientMatchesFiniteDifferencesWithSkipGather) {
  CheckGradients({false, true}, 3, 5, 6);
}

TEST(DotInteraction, GradientMatchesFiniteDifferencesWithSelfInteractionAndSkipGather) {
  CheckGradients({true, true}, 3, 5, 6);
}

TEST(DotInteraction, GradientMatchesFiniteDifferencesAtBatchOne) {
  for (DotInteractionOptions mode : kAllModes) CheckGradients(mode, 1, 3, 5);
}

TEST(DotInteraction, BackwardOfTheTfrsVectorsIsHandComputable) {
  // Without self interaction, dL/df1 = g12 f2 + g13 f3 for upstream gradients g = (g12, g13, g23).
  DotInteraction layer;
  Rng rng(0);
  layer.Build({5, 5, 5}, rng);
  Tensor out;
  layer.Forward({&kF1, &kF2, &kF3}, &out, true);
  const Tensor d_out({1, 3}, {1.0f, 2.0f, -1.0f});
  Tensor d1, d2, d3;
  layer.Backward(d_out, {&d1, &d2, &d3});
  for (int64_t e = 0; e < 5; ++e) {
    EXPECT_NEAR(d1[e], 1.0f * kF2[e] + 2.0f * kF3[e], 1e-6);
    EXPECT_NEAR(d2[e], 1.0f * kF1[e] - 1.0f * kF3[e], 1e-6);
    EXPECT_NEAR(d3[e], 2.0f * kF1[e] - 1.0f * kF2[e], 1e-6);
  }
}

TEST(DotInteraction, RejectsFeaturesOfDifferentWidthsAtBuild) {
  DotInteraction layer;
  Rng rng(0);
  try {
    layer.Build({3, 3, 2}, rng);
    FAIL() << "expected InvalidArgument";
  } catch (const InvalidArgument& e) {
    EXPECT_THAT(e.what(), HasSubstr("feature 0 has width 3"));
    EXPECT_THAT(e.what(), HasSubstr("feature 2 has width 2"));
  }
  EXPECT_THROW(layer.Build({}, rng), InvalidArgument);
}

TEST(DotInteraction, RejectsInputsThatDoNotMatchBuild) {
  DotInteraction layer;
  Rng rng(0);
  layer.Build({5, 5, 5}, rng);
  Tensor out;
  const Tensor narrow({1, 4}, {1, 2, 3, 4});
  const Tensor two_rows({2, 5});
  EXPECT_THROW(layer.Forward({&kF1, &kF2}, &out, true), InvalidArgument);
  try {
    layer.Forward({&kF1, &kF2, &narrow}, &out, true);
    FAIL() << "expected InvalidArgument";
  } catch (const InvalidArgument& e) {
    EXPECT_THAT(e.what(), HasSubstr("feature 2 has shape (1, 4), expected (B, 5)"));
  }
  EXPECT_THROW(layer.Forward({&kF1, &two_rows, &kF3}, &out, true), InvalidArgument);
}

TEST(DotInteraction, RejectsBackwardBeforeForwardAndWrongGradientShape) {
  DotInteraction layer;
  Rng rng(0);
  layer.Build({5, 5, 5}, rng);
  Tensor d1, d2, d3;
  EXPECT_THROW(layer.Backward(Tensor({1, 3}), {&d1, &d2, &d3}), InvalidArgument);
  Tensor out;
  layer.Forward({&kF1, &kF2, &kF3}, &out, true);
  EXPECT_THROW(layer.Backward(Tensor({1, 6}), {&d1, &d2, &d3}), InvalidArgument);
  EXPECT_THROW(layer.Backward(Tensor({1, 3}), {&d1, &d2}), InvalidArgument);
}

TEST(DotInteraction, ResultsAreBitIdenticalAcrossThreadCounts) {
  const int64_t batch = 300, f = 9, e = 32;  // large enough to run the kernels in parallel
  Rng rng(21);
  std::vector<Tensor> features;
  for (int64_t i = 0; i < f; ++i) features.push_back(RandomTensor({batch, e}, rng));
  const int saved = ComputeThreads();
  for (DotInteractionOptions mode : kAllModes) {
    std::vector<Tensor> outs(2);
    std::vector<Tensor> grads[2];
    for (int run = 0; run < 2; ++run) {
      SetComputeThreads(run + 1);
      grads[run].resize(static_cast<size_t>(f));
      DotInteraction layer(mode);
      const int64_t width = layer.Build(std::vector<int64_t>(f, e), rng);
      layer.Forward(Inputs(features), &outs[run], true);
      testing::ProjectionLoss proj({batch, width}, 9);
      layer.Backward(proj.Gradient(), Outputs(grads[run]));
    }
    ASSERT_EQ(outs[0].size(), outs[1].size());
    EXPECT_EQ(std::memcmp(outs[0].data(), outs[1].data(), outs[0].size() * sizeof(float)), 0)
        << ModeName(mode);
    for (int64_t i = 0; i < f; ++i) {
      EXPECT_EQ(
          std::memcmp(grads[0][i].data(), grads[1][i].data(), grads[0][i].size() * sizeof(float)),
          0)
          << ModeName(mode) << " feature " << i;
    }
  }
  SetComputeThreads(saved);
}

// Backward runs the kernel on chunks of examples (a short last one here: 300 = 9 x 32 + 12) and
// copies each chunk out: the bits of one kernel call over the whole stacked batch.
TEST(DotInteraction, ChunkedBackwardGivesTheBitsOfOneKernelCall) {
  const int64_t batch = 300, f = 7, e = 16;
  Rng rng(5);
  std::vector<Tensor> features;
  for (int64_t i = 0; i < f; ++i) features.push_back(RandomTensor({batch, e}, rng));
  Tensor stacked({batch, f, e});
  for (int64_t b = 0; b < batch; ++b) {
    for (int64_t i = 0; i < f; ++i) {
      std::memcpy(stacked.data() + (b * f + i) * e, features[i].row(b), e * sizeof(float));
    }
  }
  const int saved = ComputeThreads();
  SetComputeThreads(2);
  for (DotInteractionOptions mode : kAllModes) {
    DotInteraction layer(mode);
    const int64_t width = layer.Build(std::vector<int64_t>(f, e), rng);
    Tensor out;
    layer.Forward(Inputs(features), &out, true);
    testing::ProjectionLoss proj({batch, width}, 4);
    std::vector<Tensor> grads(static_cast<size_t>(f));
    std::vector<Tensor*> outs = Outputs(grads);
    outs[2] = nullptr;  // a feature whose gradient is not needed
    layer.Backward(proj.Gradient(), outs);
    Tensor want({batch, f, e});
    DotInteractionBackward(proj.Gradient().data(), width, stacked.data(), batch, f, e,
                           mode.self_interaction, mode.skip_gather, want.data());
    for (int64_t i = 0; i < f; ++i) {
      if (i == 2) continue;
      for (int64_t b = 0; b < batch; ++b) {
        ASSERT_EQ(std::memcmp(grads[i].row(b), want.data() + (b * f + i) * e, e * sizeof(float)), 0)
            << ModeName(mode) << " feature " << i << " example " << b;
      }
    }
  }
  SetComputeThreads(saved);
}

TEST(DotInteraction, DescribesItsOptions) {
  EXPECT_EQ(DotInteraction({true, false}).Describe(),
            "dot(self_interaction=true, skip_gather=false)");
}

}  // namespace
}  // namespace crank
