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

#include <cstdint>
#include <string>
#include <vector>

#include "crank/tensor/tensor.h"

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
  Tensor value;
  // Dense gradient (value's shape); used when !sparse.
  Tensor grad;
  // True for embedding tables: the gradient lives in sparse_grad and only touched rows change.
  bool sparse = false;
  RowSparseGrad sparse_grad;
  // L2 regularization coefficient for this variable (0 = none). Adds l2 * sum(value^2) to the
  // regularization loss and 2 * l2 * value to the gradient (touched rows only when sparse).
  float l2 = 0.0f;

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
