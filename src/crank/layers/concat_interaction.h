#ifndef CRANK_LAYERS_CONCAT_INTERACTION_H_
#define CRANK_LAYERS_CONCAT_INTERACTION_H_

// ConcatInteraction: the features concatenated along the columns, in order (no interaction, as
// a tf.keras.layers.Concatenate(axis=1) feature_interaction). No variables.
//
// Also the column concat/split helpers the other interactions build on (CrossInteraction
// concatenates its features into x0 the same way). Predict is const (no scratch) and may run on
// many threads at once; the rest is not thread-safe.

#include <cstdint>
#include <string>
#include <vector>

#include "crank/layers/feature_interaction.h"
#include "crank/tensor/tensor.h"

namespace crank {

// features: F tensors (B, widths[i]) -> *out: (B, sum widths), features side by side.
// Throws InvalidArgument naming the feature when a tensor is not rank 2, its width differs from
// widths[i], or its batch size differs from feature 0's. `who` prefixes the messages.
void ConcatColumns(const std::vector<const Tensor*>& features, const std::vector<int64_t>& widths,
                   const char* who, Tensor* out);
// The same into a (B, sum widths) window (InvalidArgument also when out has another shape).
void ConcatColumns(const std::vector<const Tensor*>& features, const std::vector<int64_t>& widths,
                   const char* who, MatrixView out);

// The inverse: d_out: (B, sum widths) -> d_features[i]: (B, widths[i]), resized and overwritten;
// nullptr entries are skipped. Preconditions (CRANK_CHECK): d_out has sum widths columns and
// d_features.size() == widths.size().
void SplitColumns(ConstMatrixView d_out, const std::vector<int64_t>& widths,
                  const std::vector<Tensor*>& d_features);

class ConcatInteraction : public FeatureInteraction {
 public:
  ConcatInteraction() = default;

  // widths: F >= 1 widths, each >= 1. Returns their sum.
  int64_t Build(const std::vector<int64_t>& widths, Rng& rng) override;

  // features: F tensors (B, widths[i]) -> *out: (B, sum widths).
  void Forward(const std::vector<const Tensor*>& features, Tensor* out, bool training) override;

  // As Forward, into a (B, sum widths) window.
  void ForwardInto(const std::vector<const Tensor*>& features, MatrixView out,
                   bool training) override;

  // As Forward; uses no scratch (scratch may be nullptr).
  void Predict(const std::vector<const Tensor*>& features, Tensor* out,
               InferenceScratch* scratch) const override;
  void PredictInto(const std::vector<const Tensor*>& features, MatrixView out,
                   InferenceScratch* scratch) const override;

  // d_out: (B, sum widths) -> d_features[i]: (B, widths[i]), overwritten (nullptr skipped).
  void Backward(const Tensor& d_out, const std::vector<Tensor*>& d_features) override;
  void BackwardFrom(ConstMatrixView d_out, const std::vector<Tensor*>& d_features) override;

  std::vector<Variable*> Variables() override { return {}; }
  std::string Describe() const override { return "concat"; }

 private:
  std::vector<int64_t> widths_;
  int64_t out_width_ = -1;  // -1 until Build
  int64_t batch_ = -1;      // the latest Forward's batch size
};

}  // namespace crank

#endif  // CRANK_LAYERS_CONCAT_INTERACTION_H_
