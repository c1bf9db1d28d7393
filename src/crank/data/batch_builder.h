#ifndef CRANK_DATA_BATCH_BUILDER_H_
#define CRANK_DATA_BATCH_BUILDER_H_

// Example: one mapped example (model inputs of one row), and BatchBuilder, which appends
// examples to a Batch while reusing the batch's buffers.

#include <cstdint>
#include <vector>

#include "crank/data/data_spec.h"
#include "crank/tensor/batch.h"

namespace crank {

struct Example {
  bool has_label = false;
  float label = 0.0f;
  float weight = 1.0f;
  std::vector<float> dense;               // D
  std::vector<std::vector<int64_t>> ids;  // F lists in DataSpec order, each non-empty
};

// Fills a Batch row by row. Usage: Begin, Append per example, Finish. The batch's buffers
// (tensors, id vectors) are reused, so steady-state batching does not allocate. Not
// thread-safe.
class BatchBuilder {
 public:
  // Starts filling *batch (cleared) for `spec`. The batch must stay alive until Finish.
  void Begin(const DataSpec& spec, Batch* batch);
  void Append(const Example& example);
  // Lower-level form of Append for columnar stores: dense is D floats, ids[f] / counts[f]
  // give each feature's ids.
  void AppendColumns(bool has_label, float label, float weight, const float* dense,
                     const int64_t* const* ids, const int64_t* counts);
  // Row-at-a-time form for a mapper that writes in place (DataMapping::Apply): BeginRow
  // returns the row's D dense values to fill; then ids(f) gets the row's ids of every feature
  // f (at least one each) appended; EndRow closes the row. The batch equals Append of the same
  // Example.
  float* BeginRow(bool has_label, float label, float weight);
  std::vector<int64_t>* ids(size_t f) { return &batch_->sparse[f].ids; }
  void EndRow();
  // Completes the batch: dense (B, D); labels (B) when every example has a label, else
  // empty; weights (B) when spec.weighted, else empty. Returns B.
  int64_t Finish();

 private:
  Batch* batch_ = nullptr;
  int64_t num_dense_ = 0;
  bool weighted_ = false;
  int64_t rows_ = 0;
  bool all_labelled_ = true;
  std::vector<float> dense_, labels_, weights_;  // staging, (B, D) / (B) / (B)
};

}  // namespace crank

#endif  // CRANK_DATA_BATCH_BUILDER_H_
