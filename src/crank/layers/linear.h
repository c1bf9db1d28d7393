#ifndef CRANK_LAYERS_LINEAR_H_
#define CRANK_LAYERS_LINEAR_H_

// Linear: a Keras Dense layer, y = act(x @ kernel + bias), as a Block.
//
// Variables: name + "/kernel" (I, O), Glorot-uniform, l2 = kernel_l2; name + "/bias" (O), zeros
// (only when use_bias). The L2 term itself is applied by whoever reads Variable::l2.
// Caches (input copy, output, activation-gradient scratch) are member tensors reused across
// steps, so steady-state training does not allocate. Where the layer's GEMMs run in bf16
// (GemmRunsInBf16, kernels/gemm.h) a training Forward rounds the kernel to bf16 once and the
// forward and input-gradient products of that step both use the copy (once per optimizer step
// instead of once per GEMM; the same bits as rounding on every call). PrepareInference does the
// same once for Predict, for a model that inference only reads. Predict is const and needs no
// scratch: it may run on many threads at once while nothing changes the layer; the rest is not
// thread-safe.

#include <cstdint>
#include <string>
#include <vector>

#include "crank/base/rng.h"
#include "crank/kernels/activation.h"
#include "crank/layers/block.h"
#include "crank/layers/variable.h"
#include "crank/tensor/tensor.h"

namespace crank {

struct LinearOptions {
  int64_t units = 0;  // O, > 0
  Activation activation = Activation::kLinear;
  bool use_bias = true;
  float kernel_l2 = 0;  // >= 0

  // Throws InvalidArgument naming the bad field.
  void Validate() const;
};

class Linear : public Block {
 public:
  // Validates options (InvalidArgument, message prefixed with name).
  Linear(std::string name, LinearOptions options);

  Linear(const Linear&) = delete;
  Linear& operator=(const Linear&) = delete;

  // input_dim: I > 0. Creates (or re-creates) the variables and returns units.
  int64_t Build(int64_t input_dim, Rng& rng) override;

  // x: (B, I) -> *y: (B, O). Throws InvalidArgument when unbuilt or when x is not (B, I).
  // With training, copies x and keeps y for Backward.
  void Forward(const Tensor& x, Tensor* y, bool training) override;

  // x: (B, I) -> *y: (B, O), resized. Uses no scratch (scratch may be nullptr). Where the
  // product runs in bf16 it reads the copy PrepareInference made, else rounds the kernel on
  // this call; the same bits either way.
  void Predict(const Tensor& x, Tensor* y, InferenceScratch* scratch) const override;

  // Keeps the kernel rounded to bf16 (I x O values) for Predict (Block::PrepareInference) where
  // bf16 GEMMs run on this CPU (Bf16Supported); otherwise keeps nothing. The copy is dropped by
  // Build, a training forward and the mutable accessors Variables() and kernel(): whoever
  // changes the kernel through a Variable obtained before this call calls it again.
  void PrepareInference() override;

  // dy: (B, O) -> *dx: (B, I) (overwritten; nullptr skips it). Accumulates into kernel().grad
  // and bias()->grad. Requires a preceding Forward with training = true (else InvalidArgument).
  void Backward(const Tensor& dy, Tensor* dx) override;
  // Backward with a caller-owned scratch for dL/d(pre-activation) (resized to (B, O) as needed),
  // so that the layers of a stack can share one buffer; Backward uses the layer's own.
  void Backward(const Tensor& dy, Tensor* dx, Tensor* d_pre_scratch);
  // Backward that overwrites *dy (B, O) with dL/d(pre-activation) instead of using a scratch: for
  // a caller whose dy is its own scratch, read by no one after (the gradients between the layers
  // of a stack). The same bits as Backward.
  void BackwardInPlace(Tensor* dy, Tensor* dx);

  // {kernel, bias} (bias only when use_bias).
  std::vector<Variable*> Variables() override;

  // Forward without copying the input, for composite blocks: computes the output into this
  // layer's own tensor and returns it (valid until the next forward). With training, x is
  // referenced, not copied: it must stay alive and unchanged until Backward.
  const Tensor& ForwardBorrowed(const Tensor& x, bool training);

  // Drops the inference copy (PrepareInference), as the caller may change the kernel.
  Variable& kernel() {
    inference_kernel_bf16_.clear();
    return kernel_;
  }
  Variable* bias() { return options_.use_bias ? &bias_ : nullptr; }
  // Whether Predict reads a bf16 copy of the kernel made by PrepareInference.
  bool has_inference_copy() const { return !inference_kernel_bf16_.empty(); }
  const std::string& name() const { return name_; }
  const LinearOptions& options() const { return options_; }
  int64_t input_dim() const { return in_; }  // 0 until built
  int64_t units() const { return options_.units; }

 private:
  void CheckInput(const Tensor& x) const;
  // Backward with dL/d(pre-activation) into d_pre: (B, O) floats, which may be dy's.
  void BackwardImpl(const Tensor& dy, Tensor* dx, float* d_pre);

  std::string name_;
  LinearOptions options_;
  int64_t in_ = 0;
  Variable kernel_;
  Variable bias_;
  Tensor x_;                       // (B, I) copy of the input of Forward(training)
  const Tensor* input_ = nullptr;  // input of the latest training forward (&x_ or borrowed)
  Tensor y_;                       // (B, O) output of the latest training forward
  Tensor d_pre_;                   // (B, O) scratch for Backward
  // (I, O) kernel rounded to bf16 by the latest training forward, for its Backward; empty and
  // unused when that forward ran in fp32.
  std::vector<uint16_t> kernel_bf16_;
  bool kernel_bf16_current_ = false;
  // (I, O) kernel rounded to bf16 by PrepareInference for Predict; empty when there is none.
  std::vector<uint16_t> inference_kernel_bf16_;
};

}  // namespace crank

#endif  // CRANK_LAYERS_LINEAR_H_
