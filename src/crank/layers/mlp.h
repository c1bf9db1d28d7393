#ifndef CRANK_LAYERS_MLP_H_
#define CRANK_LAYERS_MLP_H_

// Mlp: a stack of Linear layers, as tfrs.layers.blocks.MLP. Used for the bottom and top stacks
// of the Ranking model.
//
// Layer i is a Linear named name + "/dense_" + i with units[i] outputs; every layer but the last
// applies `activation`, the last applies `final_activation`. The input is copied once per
// training step (referenced with ForwardBorrowed) and the hidden activations live in the
// layers, so steady-state training does not allocate. The gradients between layers live in a
// GradientScratch that two stacks may share (ShareGradientScratch). Predict is const and keeps its
// hidden activations in the caller's scratch, so it may run on many threads at once while nothing
// changes the stack; the rest is not thread-safe.

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "crank/base/rng.h"
#include "crank/kernels/activation.h"
#include "crank/layers/block.h"
#include "crank/layers/linear.h"
#include "crank/tensor/tensor.h"

namespace crank {

struct MlpOptions {
  std::vector<int64_t> units;  // output width of each layer; non-empty, all > 0
  Activation activation = Activation::kRelu;
  Activation final_activation = Activation::kRelu;
  bool use_bias = true;
  float kernel_l2 = 0;  // >= 0, for every kernel

  // Throws InvalidArgument naming the bad field.
  void Validate() const;
};

class Mlp : public Block {
 public:
  // Validates options (InvalidArgument, message prefixed with name).
  Mlp(std::string name, MlpOptions options);

  // input_dim > 0; builds the layers in order from rng and returns units.back().
  int64_t Build(int64_t input_dim, Rng& rng) override;

  // x: (B, in) -> *y: (B, units.back()). Throws InvalidArgument when unbuilt or on a width
  // mismatch ("<name>: expected input of width 13, got 12").
  void Forward(const Tensor& x, Tensor* y, bool training) override;
  // As Forward; with training, x is referenced instead of copied (Block::ForwardBorrowed).
  void ForwardBorrowed(const Tensor& x, Tensor* y, bool training) override;

  // x: (B, in) -> *y: (B, units.back()). Hidden activations ping-pong between scratch tensors 0
  // and 1; layer i gets scratch->child(i). Throws as Forward.
  void Predict(const Tensor& x, Tensor* y, InferenceScratch* scratch) const override;

  // Linear::PrepareInference on every layer.
  void PrepareInference() override;

  // dy: (B, units.back()) -> *dx: (B, in) (overwritten; nullptr skips the first layer's input
  // gradient). Accumulates into all layers' gradients. Needs a preceding training Forward.
  void Backward(const Tensor& dy, Tensor* dx) override;

  // Makes this stack use other's backward scratch (the gradients between layers and the
  // pre-activation gradient) instead of its own, so that two stacks whose Backward calls never
  // overlap (Ranking's top and bottom stacks run one after the other) hold one set of buffers,
  // as wide as the wider stack needs, instead of two. Backward overwrites the scratch before
  // reading it, so results do not change. Both stacks must be used from one thread of control.
  void ShareGradientScratch(Mlp& other);

  // dense_0/kernel, dense_0/bias, dense_1/kernel, ... (biases only when use_bias).
  std::vector<Variable*> Variables() override;

  const std::vector<int64_t>& units() const { return options_.units; }
  const MlpOptions& options() const { return options_; }
  const std::string& name() const { return name_; }
  int64_t input_dim() const { return in_; }  // 0 until built
  int num_layers() const { return static_cast<int>(layers_.size()); }
  Linear& layer(int i) { return *layers_[static_cast<size_t>(i)]; }

 private:
  void ForwardImpl(const Tensor& x, Tensor* y, bool training, bool borrow);

  struct GradientScratch {
    Tensor d_hidden[2];  // ping-pong gradients between layers, each turned into its layer's
                         // pre-activation gradient in place (Linear::BackwardInPlace)
    Tensor d_pre;        // the last layer's dL/d(pre-activation) scratch
  };

  std::string name_;
  MlpOptions options_;
  int64_t in_ = 0;
  std::vector<std::unique_ptr<Linear>> layers_;
  Tensor x_;  // (B, in) copy of the training input (unused by ForwardBorrowed)
  bool has_cache_ = false;
  std::shared_ptr<GradientScratch> grads_ = std::make_shared<GradientScratch>();
};

}  // namespace crank

#endif  // CRANK_LAYERS_MLP_H_
