#include "crank/data/in_memory_dataset.h"

#include <utility>

#include "crank/base/error.h"
#include "crank/data/row_source.h"

namespace crank {

InMemoryDataset::InMemoryDataset(std::shared_ptr<const DataMapping> mapping,
                                 const std::vector<std::string>& files,
                                 const ReaderOptions& options)
    : mapping_(std::move(mapping)), options_(options) {
  options_.Validate();
  CRANK_REQUIRE(!options_.batch_slices,
                "InMemoryDataset: batch slices are read by the StreamingReader only");
  const DataSpec& spec = mapping_->spec();
  const size_t nf = spec.sparse.size();
  ids_.resize(nf);
  offsets_.assign(nf, std::vector<int64_t>(1, 0));
  RowSource source(mapping_->config(), mapping_->schema(), files, options.split,
                   options.chunk_bytes, options.slice());
  RawRow raw;
  Example e;
  while (source.Next(&raw)) {
    mapping_->Apply(raw, &e);
    if (num_rows_ == 0) labelled_ = e.has_label;
    dense_.insert(dense_.end(), e.dense.begin(), e.dense.end());
    labels_.push_back(e.label);
    weights_.push_back(e.weight);
    for (size_t f = 0; f < nf; ++f) {
      ids_[f].insert(ids_[f].end(), e.ids[f].begin(), e.ids[f].end());
      offsets_[f].push_back(static_cast<int64_t>(ids_[f].size()));
    }
    ++num_rows_;
  }
  load_stats_ = source.stats();
  id_ptrs_.resize(nf);
  id_counts_.resize(nf);
  StartPass();
}

void InMemoryDataset::StartPass() {
  shuffle_ =
      ShuffleBuffer<int64_t>(options_.shuffle_buffer, Rng(options_.seed).Fork(epoch_).NextU64());
  next_input_ = 0;
  start_row_ = 0;
  rows_ = 0;
  batches_ = 0;
}

void InMemoryDataset::Rewind() {
  ++epoch_;
  StartPass();
}

bool InMemoryDataset::Next(Batch* batch) {
  const auto read = [this](int64_t* row) {
    if (next_input_ >= num_rows_) return false;
    *row = next_input_++;
    return true;
  };
  const DataSpec& spec = mapping_->spec();
  const int64_t nd = spec.num_dense();
  builder_.Begin(spec, batch);
  int64_t n = 0, row = 0;
  while (n < options_.batch_size && shuffle_.Next(&row, read)) {
    for (size_t f = 0; f < ids_.size(); ++f) {
      const int64_t begin = offsets_[f][static_cast<size_t>(row)];
      id_ptrs_[f] = ids_[f].data() + begin;
      id_counts_[f] = offsets_[f][static_cast<size_t>(row) + 1] - begin;
    }
    const size_t r = static_cast<size_t>(row);
    builder_.AppendColumns(labelled_, labels_[r], weights_[r],
                           dense_.data() + r * static_cast<size_t>(nd), id_ptrs_.data(),
                           id_counts_.data());
    ++n;
  }
  builder_.Finish();
  if (n == 0 || (n < options_.batch_size && options_.drop_remainder)) return false;
  rows_ += n;
  ++batches_;
  return true;
}

ReaderPosition InMemoryDataset::position() const {
  ReaderPosition p;
  p.rows = start_row_ + rows_;
  return p;
}

bool InMemoryDataset::Seek(const ReaderPosition& position) {
  if (!CanSeek()) return false;
  CRANK_REQUIRE(position.rows >= 0 && position.rows <= num_rows_,
                "InMemoryDataset::Seek: expected a position within the {} rows, got row {}",
                num_rows_, position.rows);
  StartPass();
  next_input_ = start_row_ = position.rows;
  return true;
}

ReaderStats InMemoryDataset::stats() const {
  ReaderStats s;
  s.rows = rows_;
  s.batches = batches_;
  s.rows_skipped = load_stats_.skipped;
  s.rows_filtered = load_stats_.filtered;
  s.bytes_read = load_stats_.bytes;
  return s;
}

}  // namespace crank
