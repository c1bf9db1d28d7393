#include "crank/layers/dot_interaction.h"

#include <fmt/format.h>
#include <omp.h>

#include <algorithm>
#include <cstring>

#include "crank/base/error.h"
#include "crank/kernels/dot_interaction.h"
#include "crank/kernels/parallel_for.h"

namespace crank {
namespace {

// Examples per task of the backward, and the work (B F^2 E multiply-adds) below which it runs on
// the calling thread (the kernel's own threshold). A task stacks its examples' features,
// kChunk x F x E floats (54 KB for F = 27, E = 16), into its thread's buffer, runs the kernel on
// them while they are in cache and copies the stacked gradient out to the feature gradients from
// there. So no (B, F, E) tensor is ever held. The forward reads the features in place
// (DotInteractionForwardFeatures).
constexpr int64_t kChunk = 32;
constexpr int64_t kMinParallelWork = 1 << 15;

// Examples [b0, b0 + n) of the F features (B, E) -> t: (n, F, E).
void StackChunk(const std::vector<const Tensor*>& features, int64_t b0, int64_t n, int64_t dim,
                float* t) {
  const size_t row_bytes = static_cast<size_t>(dim) * sizeof(float);
  const int64_t f = static_cast<int64_t>(features.size());
  for (int64_t b = 0; b < n; ++b) {
    for (int64_t i = 0; i < f; ++i) {
      std::memcpy(t + (b * f + i) * dim, features[static_cast<size_t>(i)]->row(b0 + b), row_bytes);
    }
  }
}

}  // namespace

DotInteraction::DotInteraction(DotInteractionOptions options) : options_(options) {}

int64_t DotInteraction::Build(const std::vector<int64_t>& widths, Rng& /*rng*/) {
  CRANK_REQUIRE(!widths.empty(), "DotInteraction needs at least one feature, got none");
  for (size_t i = 0; i < widths.size(); ++i) {
    CRANK_REQUIRE(widths[i] > 0, "DotInteraction: feature {} has width {}, expected > 0", i,
                  widths[i]);
    CRANK_REQUIRE(widths[i] == widths[0],
                  "DotInteraction: all features must have the same width, but feature 0 has "
                  "width {} and feature {} has width {}",
                  widths[0], i, widths[i]);
  }
  num_features_ = static_cast<int64_t>(widths.size());
  dim_ = widths[0];
  out_width_ =
      DotInteractionOutputWidth(num_features_, options_.self_interaction, options_.skip_gather);
  batch_ = -1;
  return out_width_;
}

int64_t DotInteraction::CheckFeatures(const std::vector<const Tensor*>& features) const {
  CRANK_REQUIRE(num_features_ >= 0, "DotInteraction::Forward called before Build");
  CRANK_REQUIRE(static_cast<int64_t>(features.size()) == num_features_,
                "DotInteraction: expected {} features, got {}", num_features_, features.size());
  const int64_t batch = features[0]->rank() == 2 ? features[0]->dim(0) : -1;
  for (size_t i = 0; i < features.size(); ++i) {
    const Tensor& x = *features[i];
    CRANK_REQUIRE(x.rank() == 2 && x.dim(1) == dim_,
                  "DotInteraction: feature {} has shape {}, expected (B, {}) like feature 0", i,
                  x.ShapeString(), dim_);
    CRANK_REQUIRE(x.dim(0) == batch,
                  "DotInteraction: feature {} has batch size {}, but feature 0 has {}", i, x.dim(0),
                  batch);
  }
  return batch;
}

void DotInteraction::Forward(const std::vector<const Tensor*>& features, Tensor* out,
                             bool training) {
  const int64_t batch = CheckFeatures(features);
  for (const Tensor* x : features) CRANK_CHECK(x != out, "DotInteraction: out aliases a feature");
  out->Resize({batch, out_width_});
  if (!training) {
    ForwardInto(features, View(*out), /*training=*/false);
    return;
  }
  copies_.resize(features.size());
  std::vector<const Tensor*>& kept = inputs_;
  kept.resize(features.size());
  for (size_t i = 0; i < features.size(); ++i) {
    copies_[i] = *features[i];
    kept[i] = &copies_[i];
  }
  ForwardInto(kept, View(*out), /*training=*/true);
}

void DotInteraction::ForwardInto(const std::vector<const Tensor*>& features, MatrixView out,
                                 bool training) {
  batch_ = -1;
  const int64_t batch = Compute(features, out);
  if (training) {
    if (&features != &inputs_) inputs_ = features;
    batch_ = batch;
  }
}

void DotInteraction::Predict(const std::vector<const Tensor*>& features, Tensor* out,
                             InferenceScratch* scratch) const {
  const int64_t batch = CheckFeatures(features);
  for (const Tensor* x : features) CRANK_CHECK(x != out, "DotInteraction: out aliases a feature");
  out->Resize({batch, out_width_});
  PredictInto(features, View(*out), scratch);
}

void DotInteraction::PredictInto(const std::vector<const Tensor*>& features, MatrixView out,
                                 InferenceScratch* scratch) const {
  CRANK_CHECK(scratch != nullptr);
  Compute(features, out);
}

int64_t DotInteraction::Compute(const std::vector<const Tensor*>& features, MatrixView out) const {
  const int64_t batch = CheckFeatures(features);
  CRANK_REQUIRE(out.rows == batch && out.cols == out_width_,
                "DotInteraction: output window is ({}, {}), expected ({}, {})", out.rows, out.cols,
                batch, out_width_);
  // The kernel reads each example's rows where the features hold them: no stacked copy.
  std::vector<const float*> rows(features.size());
  for (size_t i = 0; i < features.size(); ++i) rows[i] = features[i]->data();
  DotInteractionForwardFeatures(rows.data(), batch, num_features_, dim_, options_.self_interaction,
                                options_.skip_gather, out.data, out.ld);
  return batch;
}

void DotInteraction::Backward(const Tensor& d_out, const std::vector<Tensor*>& d_features) {
  CRANK_REQUIRE(d_out.rank() == 2, "DotInteraction: d_out has shape {}, expected (B, {})",
                d_out.ShapeString(), out_width_);
  BackwardFrom(View(d_out), d_features);
}

void DotInteraction::BackwardFrom(ConstMatrixView d_out, const std::vector<Tensor*>& d_features) {
  const int64_t f = num_features_;
  CRANK_REQUIRE(f >= 0 && batch_ >= 0,
                "DotInteraction::Backward needs a preceding Forward with training = true");
  const int64_t batch = batch_;
  CRANK_REQUIRE(d_out.rows == batch && d_out.cols == out_width_,
                "DotInteraction: d_out has shape ({}, {}), expected ({}, {})", d_out.rows,
                d_out.cols, batch, out_width_);
  CRANK_REQUIRE(static_cast<int64_t>(d_features.size()) == f,
                "DotInteraction: expected {} feature gradients, got {}", f, d_features.size());
  for (Tensor* d : d_features) {
    if (d != nullptr) d->Resize({batch, dim_});
  }
  const int64_t chunks = (batch + kChunk - 1) / kChunk;
  const bool split = WouldSplit(chunks, batch * f * f * dim_ >= kMinParallelWork);
  const int64_t chunk_floats = kChunk * f * dim_;
  chunk_buffers_.resize(
      std::max(chunk_buffers_.size(), split ? static_cast<size_t>(omp_get_max_threads()) : 1));
  for (Tensor& t : chunk_buffers_) t.Resize({2 * chunk_floats});
  const size_t row_bytes = static_cast<size_t>(dim_) * sizeof(float);
  // Each example's gradient is the kernel's, whichever task computes it: the same bits as one
  // call over the whole batch.
  ParallelFor(chunks, split, [&](int64_t c) {
    const int64_t b0 = c * kChunk;
    const int64_t n = std::min(kChunk, batch - b0);
    float* t = chunk_buffers_[split ? static_cast<size_t>(omp_get_thread_num()) : 0].data();
    float* dt = t + chunk_floats;
    StackChunk(inputs_, b0, n, dim_, t);
    DotInteractionBackward(d_out.row(b0), d_out.ld, t, n, f, dim_, options_.self_interaction,
                           options_.skip_gather, dt);
    for (int64_t b = 0; b < n; ++b) {
      for (int64_t i = 0; i < f; ++i) {
        Tensor* d = d_features[static_cast<size_t>(i)];
        if (d != nullptr) std::memcpy(d->row(b0 + b), dt + (b * f + i) * dim_, row_bytes);
      }
    }
  });
}

std::string DotInteraction::Describe() const {
  return fmt::format("dot(self_interaction={}, skip_gather={})", options_.self_interaction,
                     options_.skip_gather);
}

}  // namespace crank
