#include "crank/data/batch_reader.h"

#include <utility>

#include "crank/base/error.h"
#include "crank/data/in_memory_dataset.h"
#include "crank/data/streaming_reader.h"

namespace crank {

void ReaderOptions::Validate() const {
  CRANK_REQUIRE(batch_size >= 1, "reader: batch_size must be >= 1, got {}", batch_size);
  CRANK_REQUIRE(shuffle_buffer >= 0, "reader: shuffle_buffer must be >= 0, got {}", shuffle_buffer);
  CRANK_REQUIRE(prefetch_batches >= 1, "reader: prefetch_batches must be >= 1, got {}",
                prefetch_batches);
  CRANK_REQUIRE(chunk_bytes >= 4096, "reader: chunk_bytes must be >= 4096, got {}", chunk_bytes);
  slice().Validate();
}

std::unique_ptr<BatchReader> MakeBatchReader(std::shared_ptr<const DataMapping> mapping,
                                             std::vector<std::string> files,
                                             const ReaderOptions& options, bool in_memory) {
  if (in_memory) return std::make_unique<InMemoryDataset>(std::move(mapping), files, options);
  return std::make_unique<StreamingReader>(std::move(mapping), std::move(files), options);
}

}  // namespace crank
