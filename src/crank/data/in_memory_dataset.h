#ifndef CRANK_DATA_IN_MEMORY_DATASET_H_
#define CRANK_DATA_IN_MEMORY_DATASET_H_

// InMemoryDataset: all rows of some files parsed and mapped once (on the calling thread) and
// held in columnar form; Next only gathers rows into the batch. For tests, benchmarks and
// data that fits in memory. Same batches as StreamingReader for the same mapping, files and
// options (the shuffle buffer runs over row indices with the same random draws).
// Memory: about 4 * (D + 2) + 8 * (ids per row) bytes per row. Not thread-safe. Only the
// rows of options.split and options' rank slice are loaded.

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "crank/data/batch_builder.h"
#include "crank/data/batch_reader.h"
#include "crank/data/mapping.h"
#include "crank/data/shuffle_buffer.h"

namespace crank {

class InMemoryDataset : public BatchReader {
 public:
  // Reads every row of `files` that options.split selects. Throws like RowSource::Next
  // (IoError, DataError) and InvalidArgument for bad options.
  InMemoryDataset(std::shared_ptr<const DataMapping> mapping, const std::vector<std::string>& files,
                  const ReaderOptions& options);

  bool Next(Batch* batch) override;
  void Rewind() override;
  // Reports only `rows` (no file location): the rows are in memory, so a seek is an index.
  ReaderPosition position() const override;
  bool CanSeek() const override { return options_.shuffle_buffer <= 1; }
  // Uses position.rows (a position from either reader will do); InvalidArgument when it
  // exceeds num_rows().
  bool Seek(const ReaderPosition& position) override;
  ReaderStats stats() const override;
  const DataSpec& spec() const override { return mapping_->spec(); }

  int64_t num_rows() const { return num_rows_; }
  // Whether the rows carry labels (false for unlabelled files, or when there are no rows).
  bool labelled() const { return labelled_; }

 private:
  void StartPass();

  std::shared_ptr<const DataMapping> mapping_;
  ReaderOptions options_;
  uint64_t epoch_ = 0;

  int64_t num_rows_ = 0;
  bool labelled_ = false;
  std::vector<float> dense_;                   // (N, D)
  std::vector<float> labels_;                  // (N)
  std::vector<float> weights_;                 // (N)
  std::vector<std::vector<int64_t>> ids_;      // F x (nnz)
  std::vector<std::vector<int64_t>> offsets_;  // F x (N + 1)
  SourceStats load_stats_;

  // Current pass: the shuffle buffer runs over row indices.
  ShuffleBuffer<int64_t> shuffle_{0, 0};
  int64_t next_input_ = 0;
  BatchBuilder builder_;
  std::vector<const int64_t*> id_ptrs_;
  std::vector<int64_t> id_counts_;
  int64_t start_row_ = 0;  // the first row of the pass (0, or where Seek put it)
  int64_t rows_ = 0;
  int64_t batches_ = 0;
};

}  // namespace crank

#endif  // CRANK_DATA_IN_MEMORY_DATASET_H_
