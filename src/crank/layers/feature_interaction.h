#ifndef CRANK_LAYERS_FEATURE_INTERACTION_H_
#define CRANK_LAYERS_FEATURE_INTERACTION_H_

// The interface of a feature interaction: DotInteraction, Cross (DCN-v2), concatenation, or a
// user-defined one. It takes the F feature vectors in TFRS order (embedded sparse features in
// sorted feature-name order, then the bottom-stack output last) and produces one (B, out) tensor.
//
// Lifecycle as Block: Build(widths, rng) once, then Forward / Backward pairs. Thread-safety as
// Block: Predict is const and may run on many threads at once (each with its own output and
// scratch) while nothing changes the interaction; everything else needs exclusive access.

#include <cstdint>
#include <string>
#include <vector>

#include "crank/base/rng.h"
#include "crank/layers/inference_scratch.h"
#include "crank/layers/variable.h"
#include "crank/tensor/matrix_view.h"
#include "crank/tensor/tensor.h"

namespace crank {

class FeatureInteraction {
 public:
  virtual ~FeatureInteraction() = default;

  // widths[i] is the column count of feature i. Creates variables and returns the output width.
  // Throws InvalidArgument naming the offending widths if they do not fit.
  virtual int64_t Build(const std::vector<int64_t>& widths, Rng& rng) = 0;

  // features: F tensors, features[i] of shape (B, widths[i]) -> *out: (B, out).
  virtual void Forward(const std::vector<const Tensor*>& features, Tensor* out, bool training) = 0;

  // Inference: features as Forward -> *out: (B, out), resized; out must not be a feature. Reads
  // the variables only, keeps intermediates in *scratch (caller-owned, one per thread); equals
  // Forward(features, out, false) bit for bit.
  virtual void Predict(const std::vector<const Tensor*>& features, Tensor* out,
                       InferenceScratch* scratch) const = 0;

  // d_out: (B, out) -> d_features[i]: (B, widths[i]) (overwritten; resized by the callee).
  // Accumulates into the gradients of Variables().
  virtual void Backward(const Tensor& d_out, const std::vector<Tensor*>& d_features) = 0;

  // The same three into and out of a window onto a wider buffer (Ranking's top-stack input and
  // its gradient hold [bottom | interaction] side by side; the interaction writes and reads its
  // band in place). The results are those of Forward, Predict and Backward, bit for bit.
  //
  // ForwardInto: as Forward, the output into `out` (B, out width); nothing outside the window
  // changes. With training the interaction may keep pointers to the features instead of copies
  // for Backward: the caller keeps them alive and unchanged until the next Backward (as
  // Block::ForwardBorrowed). Throws InvalidArgument as Forward, and when out is not (B, out).
  // The default runs Forward into a temporary tensor and copies it into out.
  virtual void ForwardInto(const std::vector<const Tensor*>& features, MatrixView out,
                           bool training);
  // PredictInto: as Predict, into `out` (B, out width). The default predicts into a temporary.
  virtual void PredictInto(const std::vector<const Tensor*>& features, MatrixView out,
                           InferenceScratch* scratch) const;
  // BackwardFrom: as Backward, with d_out (B, out width) read from the window. The default copies
  // it into a temporary tensor and calls Backward.
  virtual void BackwardFrom(ConstMatrixView d_out, const std::vector<Tensor*>& d_features);

  virtual std::vector<Variable*> Variables() = 0;

  // Short description for logs, e.g. "dot(self_interaction=false, skip_gather=false)".
  virtual std::string Describe() const = 0;
};

}  // namespace crank

#endif  // CRANK_LAYERS_FEATURE_INTERACTION_H_
