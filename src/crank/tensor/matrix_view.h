#ifndef CRANK_TENSOR_MATRIX_VIEW_H_
#define CRANK_TENSOR_MATRIX_VIEW_H_

// A non-owning (rows, cols) window onto row-major floats whose rows lie `ld` floats apart
// (ld >= cols): a whole rank-2 Tensor, or a band of its columns. Ranking's top-stack input is
// [bottom output | interaction output]; the interaction writes its output into its band of that
// input, and reads its gradient from the same band of the input's gradient, through such a view
// instead of a separate tensor and a copy.
//
// A view is a pointer and three numbers: copy it freely. It does not keep the tensor alive, and a
// Resize of the tensor invalidates it. Thread-safety is that of the memory it points to.

#include <cstdint>

#include "crank/base/error.h"
#include "crank/tensor/tensor.h"

namespace crank {

struct MatrixView {
  float* data = nullptr;
  int64_t rows = 0;
  int64_t cols = 0;
  int64_t ld = 0;  // floats from one row's start to the next's

  float* row(int64_t r) const { return data + r * ld; }
};

struct ConstMatrixView {
  const float* data = nullptr;
  int64_t rows = 0;
  int64_t cols = 0;
  int64_t ld = 0;

  ConstMatrixView() = default;
  ConstMatrixView(const float* d, int64_t r, int64_t c, int64_t l)
      : data(d), rows(r), cols(c), ld(l) {}
  ConstMatrixView(const MatrixView& v)  // NOLINT(google-explicit-constructor): views convert
      : data(v.data), rows(v.rows), cols(v.cols), ld(v.ld) {}

  const float* row(int64_t r) const { return data + r * ld; }
};

// Columns [first, first + count) of a rank-2 tensor t: (B, C), as a (B, count) view with ld C.
// Precondition (CRANK_CHECK): t is rank 2 and 0 <= first, first + count <= C.
inline MatrixView Columns(Tensor& t, int64_t first, int64_t count) {
  CRANK_CHECK(t.rank() == 2 && first >= 0 && count >= 0 && first + count <= t.dim(1),
              "columns [{}, {}) of a tensor of shape {}", first, first + count, t.ShapeString());
  return MatrixView{t.data() + first, t.dim(0), count, t.dim(1)};
}
inline ConstMatrixView Columns(const Tensor& t, int64_t first, int64_t count) {
  CRANK_CHECK(t.rank() == 2 && first >= 0 && count >= 0 && first + count <= t.dim(1),
              "columns [{}, {}) of a tensor of shape {}", first, first + count, t.ShapeString());
  return ConstMatrixView(t.data() + first, t.dim(0), count, t.dim(1));
}

// All of a rank-2 tensor (B, C): a (B, C) view with ld C.
inline MatrixView View(Tensor& t) { return Columns(t, 0, t.rank() == 2 ? t.dim(1) : 0); }
inline ConstMatrixView View(const Tensor& t) { return Columns(t, 0, t.rank() == 2 ? t.dim(1) : 0); }

}  // namespace crank

#endif  // CRANK_TENSOR_MATRIX_VIEW_H_
