#ifndef CRANK_TENSOR_BATCH_H_
#define CRANK_TENSOR_BATCH_H_

// One batch of examples as the model consumes it.
//
// Shapes (see docs/architecture.md for the letters): B examples, D dense fields, F sparse
// features. Sparse features use the CSR ("ids + offsets") layout of DLRM/TorchRec
// EmbeddingBag: example b of a feature owns ids[offsets[b] .. offsets[b+1]).

#include <cstdint>
#include <vector>

#include "crank/tensor/tensor.h"

namespace crank {

struct SparseFeature {
  std::vector<int64_t> ids;      // (nnz) row ids into the feature's table
  std::vector<int64_t> offsets;  // (B + 1), offsets[0] == 0, non-decreasing, back() == nnz
  std::vector<float> weights;    // (nnz) per-id weights, or empty (all 1)

  int64_t batch_size() const {
    return offsets.empty() ? 0 : static_cast<int64_t>(offsets.size()) - 1;
  }
  void Clear() {
    ids.clear();
    offsets.assign(1, 0);
    weights.clear();
  }
};

struct Batch {
  Tensor dense;                       // (B, D) float features
  std::vector<SparseFeature> sparse;  // F features, in the model's feature order (sorted names)
  Tensor labels;                      // (B); may be empty for predict-only batches
  Tensor weights;                     // (B) sample weights, or empty (all 1)

  int64_t size() const { return dense.rank() == 2 ? dense.dim(0) : labels.size(); }
};

}  // namespace crank

#endif  // CRANK_TENSOR_BATCH_H_
