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

// Copies below this many floats run on the calling thread only.
constexpr int64_t kMinParallelCopy = 1 << 16;
// Backward: examples per task, and the work (B F^2 E multiply-adds) below which it runs on the
// calling thread (the kernel's own threshold). A task's stacked gradient, kBackwardChunk x F x E
// floats (54 KB for F = 27, E = 16), lands in its thread's buffer and is copied out to the
// feature gradients while still in cache, so no (B, F, E) gradient is ever held.
constexpr int64_t kBackwardChunk = 32;
constexpr int64_t kMinParallelBackward = 1 << 15;

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
  return out_width_;
}

void DotInteraction::Forward(const std::vector<const Tensor*>& features, Tensor* out,
                             bool /*training*/) {
  Compute(features, &stacked_, out);
}

void DotInteraction::Predict(const std::vector<const Tensor*>& features, Tensor* out,
                             InferenceScratch* scratch) const {
  CRANK_CHECK(scratch != nullptr);
  Compute(features, &scratch->tensor(0), out);
}

void DotInteraction::Compute(const std::vector<const Tensor*>& features, Tensor* stacked,
                             Tensor* out) const {
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
  const int64_t f = num_features_;
  stacked->Resize({batch, f, dim_});
  const size_t row_bytes = static_cast<size_t>(dim_) * sizeof(float);
  float* t = stacked->data();
  ParallelFor(batch, batch * f * dim_ >= kMinParallelCopy, [&](int64_t b) {
    for (int64_t i = 0; i < f; ++i) {
      std::memcpy(t + (b * f + i) * dim_, features[static_cast<size_t>(i)]->row(b), row_bytes);
    }
  });
  out->Resize({batch, out_width_});
  DotInteractionForward(t, batch, f, dim_, options_.self_interaction, options_.skip_gather,
                        out->data());
}

void DotInteraction::Backward(const Tensor& d_out, const std::vector<Tensor*>& d_features) {
  const int64_t f = num_features_;
  CRANK_REQUIRE(f >= 0 && stacked_.rank() == 3, "DotInteraction::Backward called before Forward");
  const int64_t batch = stacked_.dim(0);
  CRANK_REQUIRE(d_out.rank() == 2 && d_out.dim(0) == batch && d_out.dim(1) == out_width_,
                "DotInteraction: d_out has shape {}, expected ({}, {})", d_out.ShapeString(), batch,
                out_width_);
  CRANK_REQUIRE(static_cast<int64_t>(d_features.size()) == f,
                "DotInteraction: expected {} feature gradients, got {}", f, d_features.size());
  for (Tensor* d : d_features) {
    if (d != nullptr) d->Resize({batch, dim_});
  }
  const int64_t chunks = (batch + kBackwardChunk - 1) / kBackwardChunk;
  const bool split = WouldSplit(chunks, batch * f * f * dim_ >= kMinParallelBackward);
  chunk_grads_.resize(split ? static_cast<size_t>(omp_get_max_threads()) : 1);
  for (Tensor& t : chunk_grads_) t.Resize({kBackwardChunk, f, dim_});
  const size_t row_bytes = static_cast<size_t>(dim_) * sizeof(float);
  // Each example's gradient is the kernel's, whichever task computes it: the same bits as one
  // call over the whole batch.
  ParallelFor(chunks, split, [&](int64_t c) {
    const int64_t b0 = c * kBackwardChunk;
    const int64_t n = std::min(kBackwardChunk, batch - b0);
    float* dt = chunk_grads_[split ? static_cast<size_t>(omp_get_thread_num()) : 0].data();
    DotInteractionBackward(d_out.data() + b0 * out_width_, stacked_.data() + b0 * f * dim_, n, f,
                           dim_, options_.self_interaction, options_.skip_gather, dt);
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
