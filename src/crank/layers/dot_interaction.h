#ifndef CRANK_LAYERS_DOT_INTERACTION_H_
#define CRANK_LAYERS_DOT_INTERACTION_H_

// DotInteraction: the DLRM pairwise dot-product interaction, as
// tfrs.layers.feature_interaction.DotInteraction(self_interaction, skip_gather).
//
// The F features, each (B, E) with one common E, are stacked to T: (B, F, E); per example
// Z = T T^T and the output is Z's strictly lower triangle in row-major order (i > j), width
// F(F-1)/2; with self_interaction the diagonal is included (i >= j), width F(F+1)/2; with
// skip_gather the whole of Z row-major, width F*F, with the entries that would not be gathered
// set to zero. See kernels/dot_interaction.h. No variables.
//
// No (B, F, E) stack is held: the forward reads each example's F rows where the features hold
// them (DotInteractionForwardFeatures); the backward stacks 32 examples at a time into a
// per-thread buffer and runs the kernel on them while they are in cache. A training Forward
// keeps a copy of the features for Backward, a training ForwardInto only pointers to them (the
// caller keeps them). Caches are reused across steps. Predict is const and writes only its
// output, so it may run on many threads at once; the rest is not thread-safe. The kernels inside
// are OpenMP-parallel and deterministic: each example's results are the kernel's, whichever chunk
// and thread compute them.

#include <cstdint>
#include <string>
#include <vector>

#include "crank/layers/feature_interaction.h"
#include "crank/tensor/tensor.h"

namespace crank {

struct DotInteractionOptions {
  bool self_interaction = false;
  bool skip_gather = false;
};

class DotInteraction : public FeatureInteraction {
 public:
  explicit DotInteraction(DotInteractionOptions options = {});

  // widths: F >= 1 equal widths E. Throws InvalidArgument naming the first pair of features
  // whose widths differ. Returns the output width.
  int64_t Build(const std::vector<int64_t>& widths, Rng& rng) override;

  // features: F tensors (B, E) -> *out: (B, out width). Throws InvalidArgument when the count,
  // widths or batch sizes differ from Build / each other. With training, copies the features.
  void Forward(const std::vector<const Tensor*>& features, Tensor* out, bool training) override;
  // As Forward, into out (B, out width), a band of a wider matrix; with training, keeps pointers
  // to the features (FeatureInteraction::ForwardInto).
  void ForwardInto(const std::vector<const Tensor*>& features, MatrixView out,
                   bool training) override;

  // As Forward; scratch is not used (the forward needs no buffer), but must not be null.
  void Predict(const std::vector<const Tensor*>& features, Tensor* out,
               InferenceScratch* scratch) const override;
  void PredictInto(const std::vector<const Tensor*>& features, MatrixView out,
                   InferenceScratch* scratch) const override;

  // d_out: (B, out width) -> d_features[i]: (B, E), overwritten (nullptr entries are skipped).
  // Needs a preceding training Forward or ForwardInto (else InvalidArgument), and reads the
  // features it was given.
  void Backward(const Tensor& d_out, const std::vector<Tensor*>& d_features) override;
  void BackwardFrom(ConstMatrixView d_out, const std::vector<Tensor*>& d_features) override;

  std::vector<Variable*> Variables() override { return {}; }
  std::string Describe() const override;

  const DotInteractionOptions& options() const { return options_; }

 private:
  // Validates features against Build and each other; returns their batch size.
  int64_t CheckFeatures(const std::vector<const Tensor*>& features) const;
  // features (validated here, as out's shape) -> out (B, out width); returns B.
  int64_t Compute(const std::vector<const Tensor*>& features, MatrixView out) const;

  DotInteractionOptions options_;
  int64_t num_features_ = -1;  // -1 until Build
  int64_t dim_ = 0;
  int64_t out_width_ = 0;
  // The latest training forward's features (borrowed, or pointing into copies_) and batch size.
  std::vector<const Tensor*> inputs_;
  std::vector<Tensor> copies_;  // F x (B, E), Forward(training)'s copies
  int64_t batch_ = -1;          // -1 until a training forward
  // Per thread, for the backward: a chunk's stacked features and their gradient,
  // 2 x (kChunk, F, E). The forward reads the features in place.
  std::vector<Tensor> chunk_buffers_;
};

}  // namespace crank

#endif  // CRANK_LAYERS_DOT_INTERACTION_H_
