#include "crank/layers/feature_interaction.h"

#include <cstring>

#include "crank/base/error.h"

namespace crank {
namespace {

// src: (B, C) -> dst: a (B, C) window, row by row.
void CopyRows(const Tensor& src, MatrixView dst, const char* who) {
  CRANK_REQUIRE(src.rank() == 2 && src.dim(0) == dst.rows && src.dim(1) == dst.cols,
                "{}: the interaction output has shape {}, its destination is ({}, {})", who,
                src.ShapeString(), dst.rows, dst.cols);
  for (int64_t r = 0; r < dst.rows; ++r) {
    std::memcpy(dst.row(r), src.row(r), sizeof(float) * static_cast<size_t>(dst.cols));
  }
}

}  // namespace

void FeatureInteraction::ForwardInto(const std::vector<const Tensor*>& features, MatrixView out,
                                     bool training) {
  Tensor y;
  Forward(features, &y, training);
  CopyRows(y, out, "ForwardInto");
}

void FeatureInteraction::PredictInto(const std::vector<const Tensor*>& features, MatrixView out,
                                     InferenceScratch* scratch) const {
  Tensor y;
  Predict(features, &y, scratch);
  CopyRows(y, out, "PredictInto");
}

void FeatureInteraction::BackwardFrom(ConstMatrixView d_out,
                                      const std::vector<Tensor*>& d_features) {
  Tensor d({d_out.rows, d_out.cols});
  for (int64_t r = 0; r < d_out.rows; ++r) {
    std::memcpy(d.row(r), d_out.row(r), sizeof(float) * static_cast<size_t>(d_out.cols));
  }
  Backward(d, d_features);
}

}  // namespace crank
