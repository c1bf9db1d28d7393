#ifndef CRANK_DATA_ROW_SOURCE_H_
#define CRANK_DATA_ROW_SOURCE_H_

// RowSource: the parsed rows of several files, in order, with the malformed-row policy and
// the hold-out split applied. The readers and the mapping's counting pass build on it.

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "crank/data/config.h"
#include "crank/data/data_spec.h"
#include "crank/data/line_reader.h"
#include "crank/data/row_parser.h"

namespace crank {

// Which rows of the files a reader delivers, given DataConfig::holdout:
//  kTrain: the rows not held out (all rows when no hold-out is configured);
//  kEval:  the held-out rows (all rows when no hold-out is configured);
//  kAll:   every row.
enum class RowSplit { kAll, kTrain, kEval };
const char* ToString(RowSplit split);

struct SourceStats {
  int64_t rows = 0;      // rows delivered
  int64_t skipped = 0;   // malformed rows skipped (on_error: skip)
  int64_t filtered = 0;  // well-formed or not, rows left out by the split
  int64_t bytes = 0;     // bytes read
};

class RowSource {
 public:
  // Checks up front that every file exists and is not a directory (IoError). The parser is
  // made here (joined files are loaded now). `config` and `schema` must outlive the source.
  RowSource(const DataConfig& config, const Schema& schema, std::vector<std::string> files,
            RowSplit split, size_t chunk_bytes = LineReader::kDefaultChunkBytes);
  ~RowSource();

  // Reads from `text` instead of files (`name` stands for the path in messages), with
  // `split`; the text must outlive the reads. Rewinds.
  void SetText(std::string_view text, std::string name, RowSplit split);

  // The next row, or false after the last one. A malformed row is skipped (counted; the
  // first 5 of the source's lifetime are logged with file:line) or throws DataError
  // "file:line: ...", per config.on_error. Throws IoError when a file cannot be read, and
  // DataError when labelled and unlabelled rows are mixed.
  bool Next(RawRow* row);
  // Starts over at the first row of the first file (stats restart too).
  void Rewind();

  const SourceStats& stats() const { return stats_; }
  // Where the row last returned came from.
  const std::string& file() const;
  int64_t line() const { return reader_ ? reader_->line_number() : 0; }

 private:
  bool OpenNext();
  void Malformed(const std::string& what);

  const DataConfig& config_;
  const Schema& schema_;
  std::vector<std::string> files_;
  std::string_view text_;
  bool use_text_ = false;
  RowSplit split_;
  size_t chunk_bytes_;
  std::unique_ptr<RowParser> parser_;

  std::unique_ptr<LineReader> reader_;
  size_t next_file_ = 0;
  int64_t file_row_ = 0;      // data rows seen in the current file (for the hold-out)
  int64_t bytes_before_ = 0;  // bytes of the files already closed
  int labelled_ = -1;         // -1 unknown, else whether the rows delivered have labels
  bool finished_ = false;
  int64_t warnings_ = 0;  // over the source's lifetime
  SourceStats stats_;
  std::string error_;
};

}  // namespace crank

#endif  // CRANK_DATA_ROW_SOURCE_H_
