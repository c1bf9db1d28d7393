#ifndef CRANK_LAYERS_VARIABLE_H_
#define CRANK_LAYERS_VARIABLE_H_

// Trainable variables and their gradients.
//
// A dense Variable carries a full gradient tensor of the value's shape. An embedding table is a
// Variable with sparse == true: its gradient is row-sparse (RowSparseGrad), holding only the rows
// that appeared in the batch. Layers own their variables; optimizers and checkpoints refer to
// them by pointer and by name (names are unique within a model, e.g. "bottom/dense_0/kernel").
//
// Gradient protocol: Backward() ACCUMULATES into grad / sparse_grad; ZeroGrad() is the one
// place that clears them (the model calls it at the start of each train step).
//
// Storage precision: an embedding table (sparse) may be stored in 16 bits (precision kBf16 or
// kFp16): its (V, E) values then live in value16 and `value` holds nothing (default-constructed).
// Readers widen rows to float (kernels/embedding_precision.h); optimizers update a widened row
// and narrow it back with stochastic rounding keyed by (rounding_seed, step, row, element), where
// row is the row's index in the whole table: row_offset + its index here (a shard of a table
// split over processes holds rows [row_offset, row_offset + V) of it).
// Gradients and optimizer state are fp32 whatever the precision. Dense variables are fp32.

#include <cstdint>
#include <string>
#include <vector>

#include "crank/kernels/embedding_precision.h"
#include "crank/tensor/tensor.h"
#include "crank/tensor/tensor16.h"

namespace crank {

// Gradient of a (V, E) table restricted to the rows in `ids`.
// ids: (n) unique row indices in ascending order; rows: (n, E), rows.row(i) is dL/dtable[ids[i]].
struct RowSparseGrad {
  std::vector<int64_t> ids;
  Tensor rows;
  void Clear() {
    ids.clear();
    rows.Resize({0, rows.rank() == 2 ? rows.dim(1) : 0});
  }
};

struct Variable {
  std::string name;
  Tensor value;  // empty when the table is stored in 16 bits
  EmbeddingPrecision precision = EmbeddingPrecision::kFp32;
  Tensor16 value16;            // (V, E) when precision != kFp32
  uint64_t rounding_seed = 0;  // the table's stochastic-rounding seed (16-bit tables)
  int64_t row_offset = 0;      // the whole table's index of row 0 (a shard's first row)
  // Dense gradient (value's shape); used when !sparse.
  Tensor grad;
  // True for embedding tables: the gradient lives in sparse_grad and only touched rows change.
  bool sparse = false;
  RowSparseGrad sparse_grad;
  // L2 regularization coefficient for this variable (0 = none). Adds l2 * sum(value^2) to the
  // regularization loss and 2 * l2 * value to the gradient (touched rows only when sparse).
  float l2 = 0.0f;
  // Catch-up of a sparse variable's L2 (model/l2_regularization.h): a touched row's L2 gradient
  // counts the steps since its last one, at most this many. < 2: off. The per-row state is an
  // optimizer slot (Optimizer::L2CatchUpState), created only when L2CatchUpActive().
  int64_t l2_catch_up = 0;

  bool L2CatchUpActive() const { return sparse && l2 != 0.0f && l2_catch_up >= 2; }
  bool is16() const { return precision != EmbeddingPrecision::kFp32; }
  // The value's shape, whichever storage holds it.
  const std::vector<int64_t>& shape() const { return is16() ? value16.shape() : value.shape(); }
  // Elements of the value, whichever storage holds it.
  int64_t size() const { return is16() ? value16.size() : value.size(); }
  // Row r of a (V, E) table as floats into out (E): a copy of the fp32 row or the widened
  // 16-bit one.
  void ReadRow(int64_t r, float* out) const {
    if (is16()) {
      WidenRow(precision, value16.row(r), value16.cols(), out);
    } else {
      const float* src = value.row(r);
      for (int64_t j = 0; j < value.cols(); ++j) out[j] = src[j];
    }
  }

  // The stored values (float, or uint16_t when 16-bit) of row r of a (V, E) table.
  const void* StoredRow(int64_t r) const {
    return is16() ? static_cast<const void*>(value16.row(r)) : value.row(r);
  }
  void* StoredRow(int64_t r) { return is16() ? static_cast<void*>(value16.row(r)) : value.row(r); }

  void ZeroGrad() {
    if (sparse) {
      sparse_grad.Clear();
    } else {
      grad.ResizeZero(value.shape());
    }
  }
};

}  // namespace crank

#endif  // CRANK_LAYERS_VARIABLE_H_
