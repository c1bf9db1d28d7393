#include "crank/data/batch_builder.h"

#include <cstring>

#include "crank/base/error.h"

namespace crank {

void BatchBuilder::Begin(const DataSpec& spec, Batch* batch) {
  batch_ = batch;
  num_dense_ = spec.num_dense();
  weighted_ = spec.weighted;
  rows_ = 0;
  all_labelled_ = true;
  dense_.clear();
  labels_.clear();
  weights_.clear();
  batch->sparse.resize(spec.sparse.size());
  for (SparseFeature& f : batch->sparse) f.Clear();
}

void BatchBuilder::Append(const Example& e) {
  CRANK_CHECK(static_cast<int64_t>(e.dense.size()) == num_dense_);
  CRANK_CHECK(e.ids.size() == batch_->sparse.size());
  dense_.insert(dense_.end(), e.dense.begin(), e.dense.end());
  labels_.push_back(e.label);
  weights_.push_back(e.weight);
  all_labelled_ = all_labelled_ && e.has_label;
  for (size_t f = 0; f < e.ids.size(); ++f) {
    SparseFeature& sf = batch_->sparse[f];
    sf.ids.insert(sf.ids.end(), e.ids[f].begin(), e.ids[f].end());
    sf.offsets.push_back(static_cast<int64_t>(sf.ids.size()));
  }
  ++rows_;
}

void BatchBuilder::AppendColumns(bool has_label, float label, float weight, const float* dense,
                                 const int64_t* const* ids, const int64_t* counts) {
  dense_.insert(dense_.end(), dense, dense + num_dense_);
  labels_.push_back(label);
  weights_.push_back(weight);
  all_labelled_ = all_labelled_ && has_label;
  for (size_t f = 0; f < batch_->sparse.size(); ++f) {
    SparseFeature& sf = batch_->sparse[f];
    sf.ids.insert(sf.ids.end(), ids[f], ids[f] + counts[f]);
    sf.offsets.push_back(static_cast<int64_t>(sf.ids.size()));
  }
  ++rows_;
}

float* BatchBuilder::BeginRow(bool has_label, float label, float weight) {
  labels_.push_back(label);
  weights_.push_back(weight);
  all_labelled_ = all_labelled_ && has_label;
  dense_.resize(dense_.size() + static_cast<size_t>(num_dense_));
  return dense_.data() + dense_.size() - num_dense_;
}

void BatchBuilder::EndRow() {
  for (SparseFeature& sf : batch_->sparse) {
    CRANK_CHECK(sf.ids.size() > static_cast<size_t>(sf.offsets.back()));
    sf.offsets.push_back(static_cast<int64_t>(sf.ids.size()));
  }
  ++rows_;
}

int64_t BatchBuilder::Finish() {
  Batch& b = *batch_;
  b.dense.Resize({rows_, num_dense_});
  if (!dense_.empty()) std::memcpy(b.dense.data(), dense_.data(), dense_.size() * sizeof(float));
  if (all_labelled_ && rows_ > 0) {
    b.labels.Resize({rows_});
    std::memcpy(b.labels.data(), labels_.data(), labels_.size() * sizeof(float));
  } else {
    b.labels.Resize({0});
  }
  if (weighted_ && rows_ > 0) {
    b.weights.Resize({rows_});
    std::memcpy(b.weights.data(), weights_.data(), weights_.size() * sizeof(float));
  } else {
    b.weights.Resize({0});
  }
  batch_ = nullptr;
  return rows_;
}

}  // namespace crank
