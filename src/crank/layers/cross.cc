#include "crank/layers/cross.h"

#include <fmt/format.h>

#include <utility>

#include "crank/base/error.h"
#include "crank/kernels/cross.h"
#include "crank/kernels/parallel_for.h"
#include "crank/layers/concat_interaction.h"
#include "crank/layers/initializers.h"

namespace crank {
namespace {

// Accumulation below this many elements runs on the calling thread only.
constexpr int64_t kMinParallelElements = 1 << 16;

// dst += src, element-wise (same size).
void AddInto(const Tensor& src, Tensor* dst) {
  CRANK_CHECK(src.size() == dst->size());
  const float* s = src.data();
  float* d = dst->data();
  const int64_t n = src.size();
  if (!WouldSplit(n, n >= kMinParallelElements)) {
#pragma omp simd
    for (int64_t i = 0; i < n; ++i) d[i] += s[i];
    return;
  }
#pragma omp parallel for simd schedule(static)
  for (int64_t i = 0; i < n; ++i) d[i] += s[i];
}

std::string ProjectionString(const std::optional<int64_t>& p) {
  return p.has_value() ? std::to_string(*p) : std::string("none");
}

}  // namespace

void CrossOptions::Validate() const {
  CRANK_REQUIRE(!projection_dim.has_value() || *projection_dim > 0,
                "projection_dim must be > 0 (or unset for a full-rank kernel), got {}",
                ProjectionString(projection_dim));
  CRANK_REQUIRE(diag_scale >= 0.0f, "diag_scale must be non-negative, got {}", diag_scale);
  CRANK_REQUIRE(kernel_l2 >= 0.0f, "kernel_l2 must be >= 0, got {}", kernel_l2);
  CRANK_REQUIRE(kernel_stddev > 0.0, "kernel_stddev must be > 0, got {}", kernel_stddev);
}

Cross::Cross(std::string name, CrossOptions options)
    : name_(std::move(name)), options_(std::move(options)) {
  try {
    options_.Validate();
  } catch (const InvalidArgument& e) {
    throw InvalidArgument(fmt::format("Cross {}: {}", name_, e.what()));
  }
}

void Cross::Build(int64_t width, Rng& rng) {
  CRANK_REQUIRE(width > 0, "Cross {}: input width must be > 0, got {}", name_, width);
  width_ = width;
  auto make = [&](Variable* v, const char* suffix, std::vector<int64_t> shape) {
    v->name = name_ + suffix;
    v->value.Resize(shape);
    InitTruncatedNormal(&v->value, options_.kernel_stddev, rng);
    v->l2 = options_.kernel_l2;
    v->sparse = false;
    v->ZeroGrad();
  };
  if (low_rank()) {
    const int64_t p = *options_.projection_dim;
    make(&kernel_u_, "/kernel_u", {width, p});
    make(&kernel_v_, "/kernel_v", {p, width});
  } else {
    make(&kernel_, "/kernel", {width, width});
  }
  if (options_.use_bias) {
    bias_.name = name_ + "/bias";
    bias_.value.ResizeZero({width});
    bias_.l2 = 0.0f;
    bias_.sparse = false;
    bias_.ZeroGrad();
  }
  has_cache_ = false;
}

void Cross::Forward(const Tensor& x0, const Tensor& x, Tensor* out, bool training) {
  CRANK_CHECK(out != &x0 && out != &x, "Cross output must not alias its inputs");
  out->Resize({Check(x0, x), width_});
  if (training) {
    // Copied first: ForwardBorrowed then references the copies.
    x0_ = x0;
    x_ = x;
    ForwardBorrowed(x0_, x_, View(*out), training);
  } else {
    ForwardBorrowed(x0, x, View(*out), training);
  }
}

void Cross::ForwardBorrowed(const Tensor& x0, const Tensor& x, MatrixView out, bool training) {
  Compute(x0, x, out, &hidden_, &act_out_);
  has_cache_ = training;
  x0_in_ = training ? &x0 : nullptr;
  x_in_ = training ? &x : nullptr;
}

void Cross::Predict(const Tensor& x0, const Tensor& x, Tensor* out,
                    InferenceScratch* scratch) const {
  CRANK_CHECK(out != &x0 && out != &x, "Cross output must not alias its inputs");
  out->Resize({Check(x0, x), width_});
  PredictInto(x0, x, View(*out), scratch);
}

void Cross::PredictInto(const Tensor& x0, const Tensor& x, MatrixView out,
                        InferenceScratch* scratch) const {
  CRANK_CHECK(scratch != nullptr);
  Compute(x0, x, out, &scratch->tensor(0), &scratch->tensor(1));
}

int64_t Cross::Check(const Tensor& x0, const Tensor& x) const {
  CRANK_REQUIRE(width_ > 0, "Cross {}: Forward called before Build", name_);
  CRANK_REQUIRE(x0.rank() == 2, "Cross {}: x0 has shape {}, expected (B, {})", name_,
                x0.ShapeString(), width_);
  CRANK_REQUIRE(x.rank() == 2, "Cross {}: x has shape {}, expected (B, {})", name_, x.ShapeString(),
                width_);
  CRANK_REQUIRE(x0.dim(1) == x.dim(1),
                "Cross {}: x0 and x dimension mismatch: x0 has width {}, x has width {}", name_,
                x0.dim(1), x.dim(1));
  CRANK_REQUIRE(x0.dim(1) == width_,
                "Cross {}: inputs have width {}, but the layer was built "
                "for width {}",
                name_, x0.dim(1), width_);
  CRANK_REQUIRE(x0.dim(0) == x.dim(0), "Cross {}: x0 has batch size {}, x has batch size {}", name_,
                x0.dim(0), x.dim(0));
  return x0.dim(0);
}

void Cross::Compute(const Tensor& x0, const Tensor& x, MatrixView out, Tensor* hidden,
                    Tensor* act_out) const {
  const int64_t batch = Check(x0, x);
  CRANK_REQUIRE(out.rows == batch && out.cols == width_,
                "Cross {}: output window is ({}, {}), expected ({}, {})", name_, out.rows, out.cols,
                batch, width_);
  CRANK_CHECK(batch == 0 || (out.data != x0.data() && out.data != x.data()),
              "Cross output must not alias its inputs");
  const int64_t p = low_rank() ? *options_.projection_dim : 0;
  CrossWeights w;
  w.width = width_;
  w.projection_dim = p;
  w.kernel = low_rank() ? nullptr : kernel_.value.data();
  w.kernel_u = low_rank() ? kernel_u_.value.data() : nullptr;
  w.kernel_v = low_rank() ? kernel_v_.value.data() : nullptr;
  w.bias = options_.use_bias ? bias_.value.data() : nullptr;
  w.diag_scale = options_.diag_scale;
  w.preactivation = options_.preactivation;
  if (low_rank()) hidden->Resize({batch, p});
  act_out->Resize({batch, width_});
  CrossForward(w, batch, x0.data(), x.data(), low_rank() ? hidden->data() : nullptr,
               act_out->data(), out.data, out.ld);
}

void Cross::Backward(const Tensor& d_out, Tensor* d_x0, Tensor* d_x) {
  CRANK_REQUIRE(d_out.rank() == 2, "Cross {}: d_out has shape {}, expected (B, {})", name_,
                d_out.ShapeString(), width_);
  CRANK_CHECK(d_x0 != &d_out && d_x != &d_out);
  Backward(View(d_out), d_x0, d_x);
}

void Cross::Backward(ConstMatrixView d_out, Tensor* d_x0, Tensor* d_x) {
  CRANK_REQUIRE(has_cache_, "Cross {}: Backward needs a preceding Forward with training = true",
                name_);
  const Tensor& x0 = *x0_in_;
  const Tensor& x = *x_in_;
  const int64_t batch = x0.dim(0);
  CRANK_REQUIRE(d_out.rows == batch && d_out.cols == width_,
                "Cross {}: d_out has shape ({}, {}), expected ({}, {})", name_, d_out.rows,
                d_out.cols, batch, width_);
  CRANK_CHECK(d_x0 != nullptr && d_x != nullptr && d_x0 != d_x);
  const int64_t p = low_rank() ? *options_.projection_dim : 0;
  CrossWeights w;
  w.width = width_;
  w.projection_dim = p;
  w.diag_scale = options_.diag_scale;
  w.preactivation = options_.preactivation;
  CrossGrads g;
  if (low_rank()) {
    w.kernel_u = kernel_u_.value.data();
    w.kernel_v = kernel_v_.value.data();
    CRANK_CHECK(kernel_u_.grad.shape() == kernel_u_.value.shape());
    CRANK_CHECK(kernel_v_.grad.shape() == kernel_v_.value.shape());
    g.d_kernel_u = kernel_u_.grad.data();
    g.d_kernel_v = kernel_v_.grad.data();
    d_hidden_.Resize({batch, p});
  } else {
    w.kernel = kernel_.value.data();
    CRANK_CHECK(kernel_.grad.shape() == kernel_.value.shape());
    g.d_kernel = kernel_.grad.data();
  }
  if (options_.use_bias) {
    w.bias = bias_.value.data();
    CRANK_CHECK(bias_.grad.shape() == bias_.value.shape());
    g.d_bias = bias_.grad.data();
  }
  d_z_.Resize({batch, width_});
  d_x0->Resize({batch, width_});
  d_x->Resize({batch, width_});
  CRANK_CHECK(batch == 0 || (d_x0->data() != d_out.data && d_x->data() != d_out.data));
  CrossBackward(w, g, batch, x0.data(), x.data(), low_rank() ? hidden_.data() : nullptr,
                act_out_.data(), d_out.data, d_out.ld, d_z_.data(),
                low_rank() ? d_hidden_.data() : nullptr, d_x0->data(), d_x->data());
}

std::vector<Variable*> Cross::Variables() {
  std::vector<Variable*> vars;
  if (low_rank()) {
    vars.push_back(&kernel_u_);
    vars.push_back(&kernel_v_);
  } else {
    vars.push_back(&kernel_);
  }
  if (options_.use_bias) vars.push_back(&bias_);
  return vars;
}

void CrossInteractionOptions::Validate() const {
  CRANK_REQUIRE(num_layers >= 1, "num_layers must be >= 1, got {}", num_layers);
  cross.Validate();
}

CrossInteraction::CrossInteraction(CrossInteractionOptions options) : options_(std::move(options)) {
  try {
    options_.Validate();
  } catch (const InvalidArgument& e) {
    throw InvalidArgument(fmt::format("CrossInteraction: {}", e.what()));
  }
  for (int l = 0; l < options_.num_layers; ++l) {
    layers_.push_back(
        std::make_unique<Cross>(fmt::format("interaction/cross_{}", l), options_.cross));
  }
  xs_.resize(static_cast<size_t>(options_.num_layers));
}

int64_t CrossInteraction::Build(const std::vector<int64_t>& widths, Rng& rng) {
  CRANK_REQUIRE(!widths.empty(), "CrossInteraction needs at least one feature, got none");
  int64_t total = 0;
  for (size_t i = 0; i < widths.size(); ++i) {
    CRANK_REQUIRE(widths[i] > 0, "CrossInteraction: feature {} has width {}, expected > 0", i,
                  widths[i]);
    total += widths[i];
  }
  widths_ = widths;
  for (auto& layer : layers_) layer->Build(total, rng);
  return total;
}

void CrossInteraction::Forward(const std::vector<const Tensor*>& features, Tensor* out,
                               bool training) {
  CRANK_REQUIRE(!widths_.empty(), "CrossInteraction::Forward called before Build");
  for (const Tensor* f : features) CRANK_CHECK(f != out, "CrossInteraction: out aliases a feature");
  ConcatColumns(features, widths_, "CrossInteraction", &x0_);
  out->Resize({x0_.dim(0), x0_.dim(1)});
  RunLayers(View(*out), training);
}

void CrossInteraction::ForwardInto(const std::vector<const Tensor*>& features, MatrixView out,
                                   bool training) {
  CRANK_REQUIRE(!widths_.empty(), "CrossInteraction::Forward called before Build");
  ConcatColumns(features, widths_, "CrossInteraction", &x0_);
  RunLayers(out, training);
}

void CrossInteraction::RunLayers(MatrixView out, bool training) {
  // x0_ and xs_ are this interaction's own, unchanged until Backward: the layers reference them.
  const size_t num_layers = layers_.size();
  const Tensor* x = &x0_;
  for (size_t l = 0; l < num_layers; ++l) {
    if (l + 1 == num_layers) {
      layers_[l]->ForwardBorrowed(x0_, *x, out, training);
    } else {
      xs_[l].Resize(x0_.shape());
      layers_[l]->ForwardBorrowed(x0_, *x, View(xs_[l]), training);
      x = &xs_[l];
    }
  }
}

void CrossInteraction::Predict(const std::vector<const Tensor*>& features, Tensor* out,
                               InferenceScratch* scratch) const {
  CRANK_CHECK(scratch != nullptr);
  CRANK_REQUIRE(!widths_.empty(), "CrossInteraction::Forward called before Build");
  for (const Tensor* f : features) CRANK_CHECK(f != out, "CrossInteraction: out aliases a feature");
  // PredictInto validates the features (ConcatColumns) before it reads the window's shape.
  const bool shaped = !features.empty() && features[0]->rank() == 2;
  out->Resize({shaped ? features[0]->dim(0) : 0, layers_[0]->width()});
  PredictInto(features, View(*out), scratch);
}

void CrossInteraction::PredictInto(const std::vector<const Tensor*>& features, MatrixView out,
                                   InferenceScratch* scratch) const {
  CRANK_CHECK(scratch != nullptr);
  CRANK_REQUIRE(!widths_.empty(), "CrossInteraction::Forward called before Build");
  Tensor& x0 = scratch->tensor(0);
  ConcatColumns(features, widths_, "CrossInteraction", &x0);
  const size_t num_layers = layers_.size();
  const Tensor* x = &x0;
  for (size_t l = 0; l < num_layers; ++l) {
    if (l + 1 == num_layers) {
      layers_[l]->PredictInto(x0, *x, out, &scratch->child(0));
    } else {
      Tensor* y = &scratch->tensor(1 + l % 2);
      layers_[l]->Predict(x0, *x, y, &scratch->child(0));
      x = y;
    }
  }
}

void CrossInteraction::Backward(const Tensor& d_out, const std::vector<Tensor*>& d_features) {
  CRANK_REQUIRE(d_out.rank() == 2, "CrossInteraction: d_out has shape {}, expected (B, W)",
                d_out.ShapeString());
  BackwardFrom(View(d_out), d_features);
}

void CrossInteraction::BackwardFrom(ConstMatrixView d_out, const std::vector<Tensor*>& d_features) {
  CRANK_REQUIRE(d_features.size() == widths_.size(),
                "CrossInteraction: expected {} feature gradients, got {}", widths_.size(),
                d_features.size());
  // Layer l maps (x0, x_l) -> x_{l+1}; x0 feeds every layer and, as x_0, the first.
  ConstMatrixView d = d_out;
  Tensor* next = &d_x_a_;
  for (size_t l = layers_.size(); l-- > 0;) {
    if (l + 1 == layers_.size()) {
      layers_[l]->Backward(d, &d_x0_, next);
    } else {
      layers_[l]->Backward(d, &d_x0_layer_, next);
      AddInto(d_x0_layer_, &d_x0_);
    }
    d = View(*next);
    next = next == &d_x_a_ ? &d_x_b_ : &d_x_a_;
  }
  // d is the gradient of x_0 = x0 (the tensor the last iteration wrote).
  const Tensor& d_x = next == &d_x_a_ ? d_x_b_ : d_x_a_;
  AddInto(d_x, &d_x0_);
  SplitColumns(View(d_x0_), widths_, d_features);
}

std::vector<Variable*> CrossInteraction::Variables() {
  std::vector<Variable*> vars;
  for (auto& layer : layers_) {
    for (Variable* v : layer->Variables()) vars.push_back(v);
  }
  return vars;
}

std::string CrossInteraction::Describe() const {
  const CrossOptions& c = options_.cross;
  return fmt::format(
      "cross(num_layers={}, projection_dim={}, diag_scale={}, use_bias={}, preactivation={})",
      options_.num_layers, ProjectionString(c.projection_dim), c.diag_scale, c.use_bias,
      ActivationName(c.preactivation));
}

}  // namespace crank
