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
// Forward keeps a copy of the stacked features for Backward (caches are reused across steps).
// Predict is const and stacks into the caller's scratch, so it may run on many threads at once;
// the rest is not thread-safe. The kernels inside are OpenMP-parallel and deterministic.

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
  // widths or batch sizes differ from Build / each other.
  void Forward(const std::vector<const Tensor*>& features, Tensor* out, bool training) override;

  // As Forward; the stacked features (B, F, E) go to scratch->tensor(0).
  void Predict(const std::vector<const Tensor*>& features, Tensor* out,
               InferenceScratch* scratch) const override;

  // d_out: (B, out width) -> d_features[i]: (B, E), overwritten (nullptr entries are skipped).
  // Refers to the latest Forward.
  void Backward(const Tensor& d_out, const std::vector<Tensor*>& d_features) override;

  std::vector<Variable*> Variables() override { return {}; }
  std::string Describe() const override;

  const DotInteractionOptions& options() const { return options_; }

 private:
  // Validates features, stacks them into *stacked (B, F, E) and computes *out.
  void Compute(const std::vector<const Tensor*>& features, Tensor* stacked, Tensor* out) const;

  DotInteractionOptions options_;
  int64_t num_features_ = -1;  // -1 until Build
  int64_t dim_ = 0;
  int64_t out_width_ = 0;
  Tensor stacked_;                   // (B, F, E), the latest Forward's input
  std::vector<Tensor> chunk_grads_;  // per thread (kBackwardChunk, F, E), Backward scratch
};

}  // namespace crank

#endif  // CRANK_LAYERS_DOT_INTERACTION_H_
