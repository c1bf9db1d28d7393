#ifndef CRANK_DATA_BATCH_READER_H_
#define CRANK_DATA_BATCH_READER_H_

// BatchReader: the interface the trainer reads batches through. Two implementations:
// StreamingReader (files parsed on a background thread, bounded memory) and InMemoryDataset
// (all rows loaded once, fast iteration for tests and benchmarks). Given the same mapping,
// files and options, both deliver identical batches.
//
// The data path (docs/data_format.md describes each step):
//
//   configuration  DataConfig (config.h, the `data:` section)
//                    -> Schema (the columns of a row)           ResolveSchema
//                    -> DataSpec (model inputs: D dense, F sparse with vocabulary sizes)
//                    -> RankingConfig (model/)                  JobConfig::MakeRankingConfig
//                  DataMapping (mapping.h) holds config, schema, spec and the fitted state
//                  (vocabularies, statistics); it is stored in checkpoints.
//
//   one row        file --LineReader--> line --RowParser--> RawRow (raw values, token keys)
//                  RowSource = LineReader + RowParser + malformed-row policy + hold-out split
//                  + rank slice, over several files, with a seekable ReaderPosition
//                  RawRow --DataMapping::Apply--> Example (dense floats, ids per feature)
//
//   rows to batch  Example --ShuffleBuffer--> BatchBuilder --> Batch (tensor/batch.h)
//                  StreamingReader: RowSource on a background thread, bounded queue
//                  InMemoryDataset: RowSource once into columns, then gathers
//                  BufferParser: RowSource over text in memory into one Batch (benchmarks)

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "crank/data/data_spec.h"
#include "crank/data/line_reader.h"
#include "crank/data/row_source.h"
#include "crank/tensor/batch.h"

namespace crank {

struct ReaderOptions {
  int64_t batch_size = 1024;
  RowSplit split = RowSplit::kAll;  // which rows, given DataConfig::holdout
  // Rows held by the shuffle buffer (ShuffleBuffer); 0 or 1 = file order. A buffer as large
  // as the data is a full shuffle.
  int64_t shuffle_buffer = 0;
  // Seed of the shuffle; epoch e (0 after construction, +1 per Rewind) uses Rng(seed).Fork(e).
  uint64_t seed = 0;
  bool drop_remainder = false;   // drop a last batch smaller than batch_size
  int64_t prefetch_batches = 4;  // StreamingReader: ready batches queued ahead of the consumer
  size_t chunk_bytes = LineReader::kDefaultChunkBytes;  // StreamingReader: file read size
  // Data parallelism: this reader yields only rank `rank`'s share of the rows of `split`,
  // row i of the split (in file order, across files) going to rank i % world_size (RowSlice
  // says why). The shares of ranks 0 .. world_size-1 together are the whole split, each row
  // once. Shuffling happens within a rank's share.
  int rank = 0;
  int world_size = 1;
  // Instead, rank `rank`'s byte range of the files (RowSlice::by_bytes).
  bool by_bytes = false;
  // Instead, rank `rank`'s slice of every global batch of batch_size rows (RowSlice::block):
  // batch k is this rank's rows of the k-th batch one process reads (possibly none: an empty
  // batch), so Next returns as many batches as one process would. StreamingReader without a
  // shuffle buffer only.
  bool batch_slices = false;

  RowSlice slice() const {
    return RowSlice{rank, world_size, by_bytes, batch_slices ? batch_size : 0};
  }
  // Throws InvalidArgument for non-positive sizes or a rank outside [0, world_size).
  void Validate() const;
};

// Counters of the current pass (they restart at Rewind).
struct ReaderStats {
  int64_t rows = 0;           // examples returned by Next
  int64_t batches = 0;        // batches returned by Next
  int64_t rows_skipped = 0;   // malformed rows skipped
  int64_t rows_filtered = 0;  // rows left out by the split
  int64_t bytes_read = 0;     // bytes read from the files
};

class BatchReader {
 public:
  virtual ~BatchReader() = default;

  // Fills *batch with the next 1..batch_size examples (sparse features in spec().sparse
  // order) and returns true, or returns false at the end of the pass. The batch's buffers are
  // reused; pass the same Batch every step. Errors (DataError, IoError) surface here with
  // their original type, and again on later calls until Rewind.
  virtual bool Next(Batch* batch) = 0;
  // Starts the next pass (epoch) from the first row.
  virtual void Rewind() = 0;

  // Where the current pass stands: after the rows of the batches Next returned. Only a reader
  // that CanSeek() reports a position that Seek can use.
  virtual ReaderPosition position() const = 0;
  // Whether Seek is exact: false with a shuffle buffer (its order depends on every row read
  // before), in which case the caller re-reads and discards instead.
  virtual bool CanSeek() const = 0;
  // Continues the current pass at `position`, from position() of a reader over the same
  // files and options in the same epoch, without reading the rows before it: the batches
  // that follow equal those the original reader returned after that point. Returns false,
  // changing nothing, when the reader cannot seek there (!CanSeek(), or a StreamingReader
  // given a position without file location). Stats restart at the seek. InvalidArgument for
  // a position that does not fit the input.
  virtual bool Seek(const ReaderPosition& position) = 0;
  virtual ReaderStats stats() const = 0;
  virtual const DataSpec& spec() const = 0;
};

class DataMapping;

// A StreamingReader, or an InMemoryDataset (rows loaded now) when `in_memory`.
std::unique_ptr<BatchReader> MakeBatchReader(std::shared_ptr<const DataMapping> mapping,
                                             std::vector<std::string> files,
                                             const ReaderOptions& options, bool in_memory);

}  // namespace crank

#endif  // CRANK_DATA_BATCH_READER_H_
