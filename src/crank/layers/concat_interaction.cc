#include "crank/layers/concat_interaction.h"

#include <cstring>

#include "crank/base/error.h"
#include "crank/kernels/parallel_for.h"

namespace crank {
namespace {

// Copies below this many floats run on the calling thread only.
constexpr int64_t kMinParallelCopy = 1 << 16;

int64_t Sum(const std::vector<int64_t>& widths) {
  int64_t total = 0;
  for (int64_t w : widths) total += w;
  return total;
}

// Throws unless the features are F (B, widths[i]) tensors with one B; returns B.
int64_t CheckColumns(const std::vector<const Tensor*>& features, const std::vector<int64_t>& widths,
                     const char* who) {
  CRANK_REQUIRE(features.size() == widths.size(), "{}: expected {} features, got {}", who,
                widths.size(), features.size());
  CRANK_REQUIRE(!features.empty(), "{}: needs at least one feature, got none", who);
  const int64_t batch = features[0]->rank() == 2 ? features[0]->dim(0) : -1;
  for (size_t i = 0; i < features.size(); ++i) {
    const Tensor& x = *features[i];
    CRANK_REQUIRE(x.rank() == 2 && x.dim(1) == widths[i],
                  "{}: feature {} has shape {}, expected (B, {})", who, i, x.ShapeString(),
                  widths[i]);
    CRANK_REQUIRE(x.dim(0) == batch, "{}: feature {} has batch size {}, but feature 0 has {}", who,
                  i, x.dim(0), batch);
  }
  return batch;
}

}  // namespace

void ConcatColumns(const std::vector<const Tensor*>& features, const std::vector<int64_t>& widths,
                   const char* who, Tensor* out) {
  const int64_t batch = CheckColumns(features, widths, who);
  out->Resize({batch, Sum(widths)});
  ConcatColumns(features, widths, who, View(*out));
}

void ConcatColumns(const std::vector<const Tensor*>& features, const std::vector<int64_t>& widths,
                   const char* who, MatrixView out) {
  const int64_t batch = CheckColumns(features, widths, who);
  const int64_t total = Sum(widths);
  CRANK_REQUIRE(out.rows == batch && out.cols == total,
                "{}: output window is ({}, {}), expected ({}, {})", who, out.rows, out.cols, batch,
                total);
  const size_t f = features.size();
  ParallelFor(batch, batch * total >= kMinParallelCopy, [&](int64_t b) {
    float* ob = out.row(b);
    for (size_t i = 0; i < f; ++i) {
      std::memcpy(ob, features[i]->row(b), static_cast<size_t>(widths[i]) * sizeof(float));
      ob += widths[i];
    }
  });
}

void SplitColumns(ConstMatrixView d_out, const std::vector<int64_t>& widths,
                  const std::vector<Tensor*>& d_features) {
  const int64_t total = Sum(widths);
  CRANK_CHECK(d_out.cols == total, "d_out ({}, {}) vs total width {}", d_out.rows, d_out.cols,
              total);
  CRANK_CHECK(d_features.size() == widths.size());
  const int64_t batch = d_out.rows;
  for (size_t i = 0; i < widths.size(); ++i) {
    if (d_features[i] != nullptr) d_features[i]->Resize({batch, widths[i]});
  }
  const size_t f = widths.size();
  ParallelFor(batch, batch * total >= kMinParallelCopy, [&](int64_t b) {
    const float* gb = d_out.row(b);
    for (size_t i = 0; i < f; ++i) {
      if (d_features[i] != nullptr) {
        std::memcpy(d_features[i]->row(b), gb, static_cast<size_t>(widths[i]) * sizeof(float));
      }
      gb += widths[i];
    }
  });
}

int64_t ConcatInteraction::Build(const std::vector<int64_t>& widths, Rng& /*rng*/) {
  CRANK_REQUIRE(!widths.empty(), "ConcatInteraction needs at least one feature, got none");
  for (size_t i = 0; i < widths.size(); ++i) {
    CRANK_REQUIRE(widths[i] > 0, "ConcatInteraction: feature {} has width {}, expected > 0", i,
                  widths[i]);
  }
  widths_ = widths;
  out_width_ = Sum(widths);
  return out_width_;
}

void ConcatInteraction::Forward(const std::vector<const Tensor*>& features, Tensor* out,
                                bool /*training*/) {
  Predict(features, out, nullptr);
  batch_ = out->dim(0);
}

void ConcatInteraction::ForwardInto(const std::vector<const Tensor*>& features, MatrixView out,
                                    bool /*training*/) {
  PredictInto(features, out, nullptr);
  batch_ = out.rows;
}

void ConcatInteraction::Predict(const std::vector<const Tensor*>& features, Tensor* out,
                                InferenceScratch* /*scratch*/) const {
  CRANK_REQUIRE(out_width_ >= 0, "ConcatInteraction::Forward called before Build");
  for (const Tensor* f : features)
    CRANK_CHECK(f != out, "ConcatInteraction: out aliases a feature");
  ConcatColumns(features, widths_, "ConcatInteraction", out);
}

void ConcatInteraction::PredictInto(const std::vector<const Tensor*>& features, MatrixView out,
                                    InferenceScratch* /*scratch*/) const {
  CRANK_REQUIRE(out_width_ >= 0, "ConcatInteraction::Forward called before Build");
  ConcatColumns(features, widths_, "ConcatInteraction", out);
}

void ConcatInteraction::Backward(const Tensor& d_out, const std::vector<Tensor*>& d_features) {
  CRANK_REQUIRE(d_out.rank() == 2, "ConcatInteraction: d_out has shape {}, expected (B, {})",
                d_out.ShapeString(), out_width_);
  BackwardFrom(View(d_out), d_features);
}

void ConcatInteraction::BackwardFrom(ConstMatrixView d_out,
                                     const std::vector<Tensor*>& d_features) {
  CRANK_REQUIRE(batch_ >= 0, "ConcatInteraction::Backward called before Forward");
  CRANK_REQUIRE(d_out.rows == batch_ && d_out.cols == out_width_,
                "ConcatInteraction: d_out has shape ({}, {}), expected ({}, {})", d_out.rows,
                d_out.cols, batch_, out_width_);
  CRANK_REQUIRE(d_features.size() == widths_.size(),
                "ConcatInteraction: expected {} feature gradients, got {}", widths_.size(),
                d_features.size());
  SplitColumns(d_out, widths_, d_features);
}

}  // namespace crank
