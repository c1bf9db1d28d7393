// Linear's bf16 kernel copy (made once per training step): the layer gives the bits of the
// uncached kernels, and a weight change between steps reaches the next step.

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

}  // namespace
}  // namespace crank
