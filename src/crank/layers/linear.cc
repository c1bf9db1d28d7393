#include "crank/layers/linear.h"

#include <cmath>
#include <utility>

#include "crank/base/error.h"
#include "crank/kernels/bf16.h"
#include "crank/kernels/gemm.h"
#include "crank/kernels/linear.h"
#include "crank/layers/initializers.h"

namespace crank {

void LinearOptions::Validate() const {
  CRANK_REQUIRE(units > 0, "units must be > 0, got {}", units);
  CRANK_REQUIRE(kernel_l2 >= 0.0f && std::isfinite(kernel_l2),
                "kernel_l2 must be finite and >= 0, got {}", kernel_l2);
}

Linear::Linear(std::string name, LinearOptions options)
    : name_(std::move(name)), options_(options) {
  try {
    options_.Validate();
  } catch (const InvalidArgument& e) {
    throw InvalidArgument(name_ + ": " + e.what());
  }
}

int64_t Linear::Build(int64_t input_dim, Rng& rng) {
  CRANK_REQUIRE(input_dim > 0, "{}: input width must be > 0, got {}", name_, input_dim);
  in_ = input_dim;
  kernel_.name = name_ + "/kernel";
  kernel_.value.Resize({in_, options_.units});
  kernel_.l2 = options_.kernel_l2;
  InitGlorotUniform(&kernel_.value, rng);
  kernel_.ZeroGrad();
  if (options_.use_bias) {
    bias_.name = name_ + "/bias";
    bias_.value.ResizeZero({options_.units});
    bias_.ZeroGrad();
  }
  input_ = nullptr;
  kernel_bf16_current_ = false;
  inference_kernel_bf16_.clear();
  return options_.units;
}

void Linear::CheckInput(const Tensor& x) const {
  CRANK_REQUIRE(in_ > 0, "{}: Forward called before Build", name_);
  CRANK_REQUIRE(x.rank() == 2, "{}: expected input of shape (B, {}), got {}", name_, in_,
                x.ShapeString());
  CRANK_REQUIRE(x.dim(1) == in_, "{}: expected input of width {}, got {}", name_, in_, x.dim(1));
}

const Tensor& Linear::ForwardBorrowed(const Tensor& x, bool training) {
  CheckInput(x);
  const int64_t batch = x.dim(0);
  y_.Resize({batch, options_.units});
  if (training) inference_kernel_bf16_.clear();  // the optimizer step that follows changes it
  // The weights change only in the optimizer step between a Backward and the next training
  // Forward, so the copy made here serves the forward and the backward products of this step.
  kernel_bf16_current_ = training && GemmRunsInBf16(batch, options_.units, in_);
  if (kernel_bf16_current_) {
    kernel_bf16_.resize(static_cast<size_t>(in_ * options_.units));
    RoundToBf16(kernel_.value.data(), in_, options_.units, options_.units, kernel_bf16_.data());
  }
  const uint16_t* w_bf16 = kernel_bf16_current_ ? kernel_bf16_.data() : nullptr;
  LinearForward(x.data(), kernel_.value.data(), options_.use_bias ? bias_.value.data() : nullptr,
                options_.activation, batch, in_, options_.units, y_.data(), w_bf16);
  input_ = training ? &x : nullptr;
  return y_;
}

void Linear::Predict(const Tensor& x, Tensor* y, InferenceScratch* /*scratch*/) const {
  CRANK_CHECK(y != nullptr && y != &x);
  CheckInput(x);
  const int64_t batch = x.dim(0);
  y->Resize({batch, options_.units});
  LinearForward(x.data(), kernel_.value.data(), options_.use_bias ? bias_.value.data() : nullptr,
                options_.activation, batch, in_, options_.units, y->data(),
                has_inference_copy() ? inference_kernel_bf16_.data() : nullptr);
}

void Linear::PrepareInference() {
  inference_kernel_bf16_.clear();
  // The batch and the precision of later calls are not known yet: the copy serves every Predict
  // whose product runs in bf16 (GemmRunsInBf16), and is not read by the others.
  if (in_ == 0 || !Bf16Supported()) return;
  inference_kernel_bf16_.resize(static_cast<size_t>(in_ * options_.units));
  RoundToBf16(kernel_.value.data(), in_, options_.units, options_.units,
              inference_kernel_bf16_.data());
}

void Linear::Forward(const Tensor& x, Tensor* y, bool training) {
  CRANK_CHECK(y != nullptr && y != &x);
  CheckInput(x);
  if (!training) {
    Predict(x, y, nullptr);
    input_ = nullptr;
    return;
  }
  x_ = x;
  *y = ForwardBorrowed(x_, true);
}

void Linear::Backward(const Tensor& dy, Tensor* dx) { Backward(dy, dx, &d_pre_); }

void Linear::Backward(const Tensor& dy, Tensor* dx, Tensor* d_pre_scratch) {
  CRANK_CHECK(d_pre_scratch != nullptr && d_pre_scratch != &dy && d_pre_scratch != dx);
  float* d_pre = nullptr;
  if (options_.activation != Activation::kLinear && input_ != nullptr) {
    d_pre_scratch->Resize({input_->dim(0), options_.units});
    d_pre = d_pre_scratch->data();
  }
  BackwardImpl(dy, dx, d_pre);
}

void Linear::BackwardInPlace(Tensor* dy, Tensor* dx) {
  CRANK_CHECK(dy != nullptr && dy != dx);
  BackwardImpl(*dy, dx, options_.activation != Activation::kLinear ? dy->data() : nullptr);
}

void Linear::BackwardImpl(const Tensor& dy, Tensor* dx, float* d_pre) {
  CRANK_REQUIRE(input_ != nullptr, "{}: Backward needs a preceding Forward with training=true",
                name_);
  const int64_t batch = input_->dim(0);
  const int64_t out = options_.units;
  CRANK_REQUIRE(dy.rank() == 2 && dy.dim(0) == batch && dy.dim(1) == out,
                "{}: expected output gradient of shape ({}, {}), got {}", name_, batch, out,
                dy.ShapeString());
  CRANK_CHECK(dx != &dy && dx != input_);
  if (kernel_.grad.shape() != kernel_.value.shape()) kernel_.ZeroGrad();
  float* db = nullptr;
  if (options_.use_bias) {
    if (bias_.grad.shape() != bias_.value.shape()) bias_.ZeroGrad();
    db = bias_.grad.data();
  }
  float* dx_data = nullptr;
  if (dx != nullptr) {
    dx->Resize({batch, in_});
    dx_data = dx->data();
  }
  const uint16_t* w_bf16 = kernel_bf16_current_ ? kernel_bf16_.data() : nullptr;
  LinearBackward(input_->data(), kernel_.value.data(), y_.data(), dy.data(), options_.activation,
                 batch, in_, out, d_pre, kernel_.grad.data(), db, dx_data, w_bf16);
}

std::vector<Variable*> Linear::Variables() {
  inference_kernel_bf16_.clear();  // the caller may change the kernel
  if (options_.use_bias) return {&kernel_, &bias_};
  return {&kernel_};
}

}  // namespace crank
