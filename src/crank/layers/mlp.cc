#include "crank/layers/mlp.h"

#include <cmath>
#include <utility>

#include "crank/base/error.h"

namespace crank {

void MlpOptions::Validate() const {
  CRANK_REQUIRE(!units.empty(), "units must list at least one layer width, got none");
  for (size_t i = 0; i < units.size(); ++i) {
    CRANK_REQUIRE(units[i] > 0, "units[{}] must be > 0, got {}", i, units[i]);
  }
  CRANK_REQUIRE(kernel_l2 >= 0.0f && std::isfinite(kernel_l2),
                "kernel_l2 must be finite and >= 0, got {}", kernel_l2);
}

Mlp::Mlp(std::string name, MlpOptions options) : name_(std::move(name)), options_(options) {
  try {
    options_.Validate();
  } catch (const InvalidArgument& e) {
    throw InvalidArgument(name_ + ": " + e.what());
  }
  const size_t n = options_.units.size();
  layers_.reserve(n);
  for (size_t i = 0; i < n; ++i) {
    LinearOptions lo;
    lo.units = options_.units[i];
    lo.activation = i + 1 == n ? options_.final_activation : options_.activation;
    lo.use_bias = options_.use_bias;
    lo.kernel_l2 = options_.kernel_l2;
    layers_.push_back(std::make_unique<Linear>(name_ + "/dense_" + std::to_string(i), lo));
  }
}

int64_t Mlp::Build(int64_t input_dim, Rng& rng) {
  CRANK_REQUIRE(input_dim > 0, "{}: input width must be > 0, got {}", name_, input_dim);
  int64_t width = input_dim;
  for (auto& layer : layers_) width = layer->Build(width, rng);
  in_ = input_dim;
  has_cache_ = false;
  return width;
}

void Mlp::Forward(const Tensor& x, Tensor* y, bool training) {
  ForwardImpl(x, y, training, /*borrow=*/false);
}

void Mlp::ForwardBorrowed(const Tensor& x, Tensor* y, bool training) {
  ForwardImpl(x, y, training, /*borrow=*/true);
}

void Mlp::ForwardImpl(const Tensor& x, Tensor* y, bool training, bool borrow) {
  CRANK_CHECK(y != nullptr && y != &x);
  CRANK_REQUIRE(in_ > 0, "{}: Forward called before Build", name_);
  CRANK_REQUIRE(x.rank() == 2, "{}: expected input of shape (B, {}), got {}", name_, in_,
                x.ShapeString());
  CRANK_REQUIRE(x.dim(1) == in_, "{}: expected input of width {}, got {}", name_, in_, x.dim(1));
  const Tensor* h = &x;
  if (training && !borrow) {
    x_ = x;
    h = &x_;
  }
  for (auto& layer : layers_) h = &layer->ForwardBorrowed(*h, training);
  *y = *h;
  has_cache_ = training;
}

void Mlp::Predict(const Tensor& x, Tensor* y, InferenceScratch* scratch) const {
  CRANK_CHECK(y != nullptr && y != &x && scratch != nullptr);
  CRANK_REQUIRE(in_ > 0, "{}: Forward called before Build", name_);
  CRANK_REQUIRE(x.rank() == 2, "{}: expected input of shape (B, {}), got {}", name_, in_,
                x.ShapeString());
  CRANK_REQUIRE(x.dim(1) == in_, "{}: expected input of width {}, got {}", name_, in_, x.dim(1));
  const Tensor* h = &x;
  const size_t n = layers_.size();
  for (size_t i = 0; i < n; ++i) {
    Tensor* out = i + 1 == n ? y : &scratch->tensor(i % 2);
    layers_[i]->Predict(*h, out, &scratch->child(i));
    h = out;
  }
}

void Mlp::PrepareInference() {
  for (auto& layer : layers_) layer->PrepareInference();
}

void Mlp::Backward(const Tensor& dy, Tensor* dx) {
  CRANK_REQUIRE(has_cache_, "{}: Backward needs a preceding Forward with training=true", name_);
  // The last layer reads the caller's dy and needs a pre-activation scratch; every other layer
  // gets its dy in one of the stack's own buffers, read by no one after it, and turns it into
  // its pre-activation gradient in place.
  const size_t n = layers_.size();
  Tensor* d_in = n == 1 ? dx : &grads_->d_hidden[(n - 1) % 2];
  layers_[n - 1]->Backward(dy, d_in, &grads_->d_pre);
  for (size_t i = n - 1; i-- > 0;) {
    Tensor* g = d_in;
    d_in = i == 0 ? dx : &grads_->d_hidden[i % 2];
    layers_[i]->BackwardInPlace(g, d_in);
  }
}

void Mlp::ShareGradientScratch(Mlp& other) { grads_ = other.grads_; }

std::vector<Variable*> Mlp::Variables() {
  std::vector<Variable*> vars;
  for (auto& layer : layers_) {
    for (Variable* v : layer->Variables()) vars.push_back(v);
  }
  return vars;
}

}  // namespace crank
