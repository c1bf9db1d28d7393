// Linear's bf16 kernel copies, made once per training step and once for inference
// (PrepareInference): the layer gives the bits of the uncached kernels, and a weight change
// reaches the next step and the next Predict.

#include <gtest/gtest.h>

#include <cstring>
#include <vector>

#include "crank/base/rng.h"
#include "crank/kernels/compute_settings.h"
#include "crank/kernels/gemm.h"
#include "crank/kernels/linear.h"
#include "crank/layers/linear.h"
#include "crank/tensor/tensor.h"

namespace crank {
namespace {

Tensor RandomTensor(std::vector<int64_t> shape, uint64_t seed) {
  Tensor t(std::move(shape));
  Rng rng(seed);
  for (int64_t i = 0; i < t.size(); ++i) t[i] = 2.0f * rng.UniformFloat() - 1.0f;
  return t;
}

bool SameBits(const Tensor& a, const float* b) {
  return std::memcmp(a.data(), b, static_cast<size_t>(a.size()) * sizeof(float)) == 0;
}

// One training step of `layer` on (x, dy) against LinearForward / LinearBackward called
// without a bf16 copy (each GEMM rounds the kernel itself): y, dx and the kernel and bias
// gradients must have the same bits.
void ExpectStepMatchesUncachedKernels(Linear& layer, const Tensor& x, const Tensor& dy) {
  const int64_t batch = x.dim(0), in = layer.input_dim(), out = layer.units();
  Tensor y, dx;
  for (Variable* v : layer.Variables()) v->ZeroGrad();
  layer.Forward(x, &y, /*training=*/true);
  layer.Backward(dy, &dx);

  std::vector<float> y_ref(static_cast<size_t>(batch * out)), d_pre(y_ref.size());
  std::vector<float> dx_ref(static_cast<size_t>(batch * in));
  std::vector<float> dw_ref(static_cast<size_t>(in * out), 0.0f), db_ref(out, 0.0f);
  const float* w = layer.kernel().value.data();
  const float* b = layer.bias()->value.data();
  LinearForward(x.data(), w, b, Activation::kRelu, batch, in, out, y_ref.data());
  LinearBackward(x.data(), w, y_ref.data(), dy.data(), Activation::kRelu, batch, in, out,
                 d_pre.data(), dw_ref.data(), db_ref.data(), dx_ref.data());
  EXPECT_TRUE(SameBits(y, y_ref.data()));
  EXPECT_TRUE(SameBits(dx, dx_ref.data()));
  EXPECT_TRUE(SameBits(layer.kernel().grad, dw_ref.data()));
  EXPECT_TRUE(SameBits(layer.bias()->grad, db_ref.data()));
}

TEST(LinearBf16, CachedKernelGivesTheUncachedBitsAndFollowsWeightUpdates) {
  ScopedComputeSettings bf16({.threads = 1, .precision = GemmPrecision::kBf16});
  if (!GemmRunsInBf16(32, 24, 40)) GTEST_SKIP() << "no native bf16 GEMM on this CPU or build";
  Linear layer("dense", {.units = 24, .activation = Activation::kRelu});
  Rng rng(3);
  layer.Build(40, rng);
  const Tensor x = RandomTensor({32, 40}, 4);
  const Tensor dy = RandomTensor({32, 24}, 5);
  ExpectStepMatchesUncachedKernels(layer, x, dy);
  // An optimizer step changes the kernel in place; the next step must see the new values.
  Tensor& w = layer.kernel().value;
  for (int64_t i = 0; i < w.size(); ++i) w[i] = 0.5f - w[i] * 3.0f;
  ExpectStepMatchesUncachedKernels(layer, x, dy);
  // A batch too small for bf16 (fp32 GEMMs, no copy) after a bf16 step.
  ExpectStepMatchesUncachedKernels(layer, RandomTensor({8, 40}, 6), RandomTensor({8, 24}, 7));
}

TEST(LinearBf16, InferenceCopyGivesThePerCallBitsAndIsDroppedWhenTheKernelMayChange) {
  ScopedComputeSettings bf16({.threads = 2, .precision = GemmPrecision::kBf16});
  if (!GemmRunsInBf16(64, 48, 40)) GTEST_SKIP() << "no native bf16 GEMM on this CPU or build";
  Linear layer("dense", {.units = 48, .activation = Activation::kRelu});
  Rng rng(8);
  layer.Build(40, rng);
  const Tensor x = RandomTensor({300, 40}, 9);     // bf16 GEMMs, several tiles
  const Tensor small = RandomTensor({8, 40}, 10);  // an fp32 GEMM: the copy is not read
  Tensor before, before_small;
  layer.Predict(x, &before, nullptr);
  layer.Predict(small, &before_small, nullptr);

  layer.PrepareInference();
  ASSERT_TRUE(layer.has_inference_copy());
  Tensor after, after_small;
  layer.Predict(x, &after, nullptr);
  layer.Predict(small, &after_small, nullptr);
  EXPECT_TRUE(SameBits(after, before.data()));
  EXPECT_TRUE(SameBits(after_small, before_small.data()));

  // Handing out the variables drops the copy: a change made through them reaches Predict.
  std::vector<Variable*> vars = layer.Variables();
  EXPECT_FALSE(layer.has_inference_copy());
  Tensor& w = vars[0]->value;
  for (int64_t i = 0; i < w.size(); ++i) w[i] = 0.25f - w[i] * 2.0f;
  Tensor changed;
  layer.Predict(x, &changed, nullptr);
  EXPECT_FALSE(SameBits(changed, before.data()));
  layer.PrepareInference();
  Tensor changed_copy;
  layer.Predict(x, &changed_copy, nullptr);
  EXPECT_TRUE(SameBits(changed_copy, changed.data()));

  // A training forward drops it too (the optimizer step after it changes the kernel), and so
  // do kernel() and Build.
  Tensor y;
  layer.Forward(x, &y, /*training=*/true);
  EXPECT_FALSE(layer.has_inference_copy());
  layer.PrepareInference();
  layer.kernel();
  EXPECT_FALSE(layer.has_inference_copy());
  layer.PrepareInference();
  layer.Build(40, rng);
  EXPECT_FALSE(layer.has_inference_copy());
}

TEST(LinearBf16, InferenceCopyIsOnlyMadeWhereBf16GemmsRun) {
  Linear layer("dense", {.units = 48});
  Rng rng(8);
  layer.PrepareInference();  // unbuilt: nothing to copy
  EXPECT_FALSE(layer.has_inference_copy());
  layer.Build(40, rng);
  layer.PrepareInference();
  EXPECT_EQ(layer.has_inference_copy(), Bf16Supported());
}

}  // namespace
}  // namespace crank
