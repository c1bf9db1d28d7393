#ifndef CRANK_DATA_BUFFER_PARSER_H_
#define CRANK_DATA_BUFFER_PARSER_H_

// BufferParser: parses text held in memory (lines in the mapping's format; delimited text
// starts with its header line) straight into one Batch. The unit the parsing benchmarks
// measure (no file I/O, no thread), and a convenient way to map a few rows in tests.

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "crank/data/batch_builder.h"
#include "crank/data/mapping.h"
#include "crank/data/row_source.h"
#include "crank/tensor/batch.h"

namespace crank {

class BufferParser {
 public:
  explicit BufferParser(std::shared_ptr<const DataMapping> mapping);

  // Parses every line of `text` into *batch (B = rows parsed; the batch's buffers are
  // reused) and returns B. Malformed lines follow config.on_error, with `name` as the file
  // in messages. The split of `split` applies (hold-out counted from the first data line).
  int64_t Parse(std::string_view text, Batch* batch, const std::string& name = "<buffer>",
                RowSplit split = RowSplit::kAll);
  // Statistics of the last Parse.
  const SourceStats& stats() const { return source_.stats(); }

 private:
  std::shared_ptr<const DataMapping> mapping_;
  RowSource source_;
  RawRow raw_;
  Example example_;
  BatchBuilder builder_;
};

}  // namespace crank

#endif  // CRANK_DATA_BUFFER_PARSER_H_
