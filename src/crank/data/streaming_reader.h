#ifndef CRANK_DATA_STREAMING_READER_H_
#define CRANK_DATA_STREAMING_READER_H_

// StreamingReader: reads files in order, in chunks, parsing and batching on a background
// thread that stays at most `prefetch_batches` batches ahead of the consumer, so parsing
// overlaps training and memory stays bounded whatever the file sizes. Optional seeded shuffle
// buffer. Batches are handed over by swapping buffers with the caller's Batch, so steady
// state allocates nothing.
//
// Thread-safety: one consumer thread calls Next / Rewind / stats. The destructor stops and
// joins the background thread. An exception on the background thread (DataError, IoError,
// ...) is rethrown by Next, with its original type, after the batches completed before it.

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <exception>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "crank/data/batch_builder.h"
#include "crank/data/batch_reader.h"
#include "crank/data/mapping.h"
#include "crank/data/row_source.h"

namespace crank {

class StreamingReader : public BatchReader {
 public:
  // Throws IoError when a file is missing or a directory, InvalidArgument for bad options.
  // The background thread starts at the first Next.
  StreamingReader(std::shared_ptr<const DataMapping> mapping, std::vector<std::string> files,
                  const ReaderOptions& options);
  ~StreamingReader() override;

  bool Next(Batch* batch) override;
  void Rewind() override;
  ReaderPosition position() const override { return position_; }
  bool CanSeek() const override { return options_.shuffle_buffer <= 1; }
  // Needs a position with its file location; reads only the header of a delimited file
  // before it.
  bool Seek(const ReaderPosition& position) override;
  ReaderStats stats() const override;
  const DataSpec& spec() const override { return mapping_->spec(); }

 private:
  void Start();
  void Stop();
  void Run();  // the background thread

  const std::shared_ptr<const DataMapping> mapping_;
  const ReaderOptions options_;
  uint64_t epoch_ = 0;

  // Owned by the background thread while it runs.
  RowSource source_;
  RawRow raw_;
  Example example_;
  BatchBuilder builder_;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Batch> ready_;                     // at most prefetch_batches
  std::deque<ReaderPosition> ready_positions_;  // where the input stands after each of ready_
  std::vector<Batch> free_;                     // recycled buffers
  bool stop_ = false;
  bool done_ = false;  // the thread delivered everything it will
  std::exception_ptr error_;
  SourceStats source_stats_;  // copied from source_ under mu_
  std::thread thread_;
  bool started_ = false;

  ReaderPosition start_;  // where the pass started (its first row, or a Seek)

  // Consumer side.
  ReaderPosition position_;  // after the last batch Next returned
  int64_t rows_ = 0;
  int64_t batches_ = 0;
};

}  // namespace crank

#endif  // CRANK_DATA_STREAMING_READER_H_
