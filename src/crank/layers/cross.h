#ifndef CRANK_LAYERS_CROSS_H_
#define CRANK_LAYERS_CROSS_H_

// DCN-v2 cross layers (tfrs.layers.dcn.Cross) and the interaction that stacks them.
//
// Cross: out = x0 * prod + x, prod = act(x W + b) (full rank, W: (W, W)) or
// act((x U) V + b) (projection_dim P: U (W, P) without bias, V (P, W)); plus diag_scale * x
// when diag_scale > 0. act is the preactivation of the dense layer (linear by default).
// Kernels are initialised truncated-normal (stddev 0.05, the Keras "truncated_normal" default),
// the bias with zeros. See kernels/cross.h for the math and its gradients.
//
// CrossInteraction: x0 = the F features concatenated (B, sum widths), x_1 = Cross_0(x0, x0),
// x_{l+1} = Cross_l(x0, x_l); the output is x_L. This is TFRS's DCN feature interaction
// (tfrs.layers.dcn.Cross over the concatenated embeddings).
//
// Both own their variables and their caches (reused across steps, so steady-state training
// does not allocate). Predict is const and keeps its intermediates in the caller's scratch, so it
// may run on many threads at once while nothing changes the layers; the rest is not thread-safe.
// The kernels inside are OpenMP-parallel and deterministic.

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "crank/base/rng.h"
#include "crank/kernels/activation.h"
#include "crank/layers/feature_interaction.h"
#include "crank/layers/variable.h"
#include "crank/tensor/tensor.h"

namespace crank {

struct CrossOptions {
  std::optional<int64_t> projection_dim;  // P > 0 for the low-rank U V; unset = full rank
  float diag_scale = 0;                   // >= 0
  bool use_bias = true;
  Activation preactivation = Activation::kLinear;
  float kernel_l2 = 0;          // >= 0, Variable::l2 of every kernel
  double kernel_stddev = 0.05;  // > 0, truncated-normal stddev of the kernels

  // Throws InvalidArgument naming the bad field.
  void Validate() const;
};

// One DCN-v2 cross layer.
class Cross {
 public:
  // Validates options (InvalidArgument, message prefixed with name). Variables:
  // name + "/kernel" (W, W), or name + "/kernel_u" (W, P) and name + "/kernel_v" (P, W); and
  // name + "/bias" (W) when use_bias.
  Cross(std::string name, CrossOptions options);

  Cross(const Cross&) = delete;
  Cross& operator=(const Cross&) = delete;

  // width: W > 0. Creates (or re-creates) and initialises the variables (kernel, or U then V,
  // drawn in that order from rng; bias zeros).
  void Build(int64_t width, Rng& rng);

  // x0, x: (B, W) -> *out: (B, W), resized. Throws InvalidArgument when unbuilt, when x0 and x
  // widths differ (naming both), or when they are not (B, W) with the same B. With training,
  // copies x0 and x for Backward. out must not be x0 or x.
  void Forward(const Tensor& x0, const Tensor& x, Tensor* out, bool training);
  // As Forward, into out (B, W), a band of a wider matrix (InvalidArgument when out has another
  // shape); with training x0 and x are referenced, not copied: the caller keeps them alive and
  // unchanged until Backward.
  void ForwardBorrowed(const Tensor& x0, const Tensor& x, MatrixView out, bool training);

  // As Forward(x0, x, out, false), reading the variables only: the hidden (B, P) and activation
  // (B, W) intermediates go to scratch->tensor(0) and tensor(1).
  void Predict(const Tensor& x0, const Tensor& x, Tensor* out, InferenceScratch* scratch) const;
  void PredictInto(const Tensor& x0, const Tensor& x, MatrixView out,
                   InferenceScratch* scratch) const;

  // d_out: (B, W) -> *d_x0, *d_x: (B, W), both resized and overwritten (distinct tensors; when
  // the forward had x == x0 the caller adds them). Accumulates into the variables' gradients.
  // Requires a preceding Forward with training = true (else InvalidArgument).
  void Backward(const Tensor& d_out, Tensor* d_x0, Tensor* d_x);
  // The same with d_out (B, W) read from a band of a wider matrix.
  void Backward(ConstMatrixView d_out, Tensor* d_x0, Tensor* d_x);

  // kernel (or kernel_u, kernel_v), then bias when use_bias. Stable pointers.
  std::vector<Variable*> Variables();

  const std::string& name() const { return name_; }
  const CrossOptions& options() const { return options_; }
  int64_t width() const { return width_; }  // 0 until built

 private:
  bool low_rank() const { return options_.projection_dim.has_value(); }
  // Validates the inputs (and out's shape) and computes out, with hidden (B, P) and act_out
  // (B, W) as scratch. Returns the batch size.
  int64_t Check(const Tensor& x0, const Tensor& x) const;
  void Compute(const Tensor& x0, const Tensor& x, MatrixView out, Tensor* hidden,
               Tensor* act_out) const;

  std::string name_;
  CrossOptions options_;
  int64_t width_ = 0;
  Variable kernel_;    // (W, W), full rank
  Variable kernel_u_;  // (W, P), low rank
  Variable kernel_v_;  // (P, W), low rank
  Variable bias_;      // (W), when use_bias
  // Caches of the latest forward (inputs only with training): the inputs, referenced
  // (ForwardBorrowed) or pointing to copies (Forward).
  const Tensor* x0_in_ = nullptr;
  const Tensor* x_in_ = nullptr;
  Tensor x0_, x_;   // (B, W) Forward's copies
  Tensor hidden_;   // (B, P), low rank
  Tensor act_out_;  // (B, W)
  bool has_cache_ = false;
  // Backward scratch.
  Tensor d_z_;       // (B, W)
  Tensor d_hidden_;  // (B, P)
};

struct CrossInteractionOptions {
  int num_layers = 1;  // >= 1
  CrossOptions cross;  // shared by every layer

  void Validate() const;
};

// A stack of Cross layers over the concatenated features. Layer l's variables are named
// "interaction/cross_<l>/...".
class CrossInteraction : public FeatureInteraction {
 public:
  explicit CrossInteraction(CrossInteractionOptions options = {});

  // widths: F >= 1 widths, each >= 1. Builds every layer for W = sum widths; returns W.
  int64_t Build(const std::vector<int64_t>& widths, Rng& rng) override;

  // features: F tensors (B, widths[i]) -> *out: (B, W).
  void Forward(const std::vector<const Tensor*>& features, Tensor* out, bool training) override;

  // As Forward, into a (B, W) band of a wider matrix.
  void ForwardInto(const std::vector<const Tensor*>& features, MatrixView out,
                   bool training) override;

  // As Forward. Scratch tensor 0 holds x0 (B, W), tensors 1 and 2 the layer outputs in between;
  // child(0) is every layer's scratch (the layers run one after another).
  void Predict(const std::vector<const Tensor*>& features, Tensor* out,
               InferenceScratch* scratch) const override;
  void PredictInto(const std::vector<const Tensor*>& features, MatrixView out,
                   InferenceScratch* scratch) const override;

  // d_out: (B, W) -> d_features[i]: (B, widths[i]), overwritten (nullptr entries skipped).
  void Backward(const Tensor& d_out, const std::vector<Tensor*>& d_features) override;
  void BackwardFrom(ConstMatrixView d_out, const std::vector<Tensor*>& d_features) override;

  // Every layer's variables, layer by layer.
  std::vector<Variable*> Variables() override;
  std::string Describe() const override;

  const CrossInteractionOptions& options() const { return options_; }
  Cross& layer(int l) { return *layers_[static_cast<size_t>(l)]; }

 private:
  // The layers over x0_ (concatenated, batch B), the last into out (B, W).
  void RunLayers(MatrixView out, bool training);

  CrossInteractionOptions options_;
  std::vector<int64_t> widths_;
  std::vector<std::unique_ptr<Cross>> layers_;
  Tensor x0_;               // (B, W) concatenated features
  std::vector<Tensor> xs_;  // xs_[l]: (B, W) output of layer l < L-1 (the last goes to out)
  Tensor d_x0_;             // (B, W) accumulated gradient of x0
  Tensor d_x0_layer_, d_x_a_, d_x_b_;  // (B, W) per-layer backward scratch
};

}  // namespace crank

#endif  // CRANK_LAYERS_CROSS_H_
