#ifndef CRANK_DATA_ROW_SOURCE_H_
#define CRANK_DATA_ROW_SOURCE_H_

// RowSource: the parsed rows of several files, in order, with the malformed-row policy and
// the hold-out split applied. The readers and the mapping's counting pass build on it.

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "crank/data/byte_ranges.h"
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

// One rank's share of the input for data-parallel training. The rows the split selects are
// numbered 0, 1, 2, ... in file order across all files (blank lines and headers are not rows);
// row i belongs to rank i % world_size. The rule needs no coordination and no counting pass:
// every rank reads the same files, so the shares are disjoint and together are the whole input,
// the hold-out split (which counts data rows per file) stays exact, and the shares differ by at
// most one row. Each rank reads every byte but parses only its own rows (skipping a row costs a
// newline search). Malformed rows count in the numbering, so each is reported by one rank.
//
// by_bytes (`--input-sharding bytes`): rank r's share is instead the lines that start in its
// byte range of the files (data/byte_ranges.h), so a rank reads only its own bytes. The shares
// are again disjoint and together every row, but their sizes follow the line lengths, and the
// hold-out split (which numbers the rows of each file) cannot be combined with it. Line numbers
// in messages count from the start of the rank's range, not of the file.
//
// block > 0 (the exact feeding of hybrid-parallel training): the rows of the split are cut into
// consecutive global batches of `block` rows (the last may be shorter), and of a batch of n rows
// rank r's share is its rows [n r / N, n (r + 1) / N) (dist/hybrid_parallel.h's SliceRange).
// The shares are read batch by batch with RowSource::NextBlock: every rank scans every line
// (a newline search) but parses only its own rows. Malformed rows count in the numbering, so a
// skipped row makes its batch one row smaller rather than moving the batches after it.
struct RowSlice {
  int rank = 0;
  int world_size = 1;
  bool by_bytes = false;
  int64_t block = 0;
  // Throws InvalidArgument unless world_size >= 1 and 0 <= rank < world_size, block >= 0, and
  // block is 0 with by_bytes.
  void Validate() const;
};

struct SourceStats {
  int64_t rows = 0;      // rows delivered
  int64_t skipped = 0;   // malformed rows skipped (on_error: skip)
  int64_t filtered = 0;  // well-formed or not, rows left out by the split or the slice
  int64_t bytes = 0;     // bytes read (bytes skipped by Seek are not read)
};

// Where a pass over the input stands, between two rows: enough to continue a pass without
// reading what came before. `rows` is always known; the file location is known when
// file_index >= 0 (readers that keep rows in memory report only `rows`).
struct ReaderPosition {
  int64_t rows = 0;           // rows delivered in the pass before this point
  int64_t file_index = -1;    // the file of the next unread line (index into the files), or -1
  int64_t byte_offset = 0;    // where that line starts in that file
  int64_t file_data_row = 0;  // data rows of that file before it (the hold-out counts these)
  int64_t file_line = 0;      // lines of that file before it (for file:line in messages)
  int64_t split_row = 0;      // rows selected by the split before it, all files (the slice)

  bool has_file_location() const { return file_index >= 0; }
  bool operator==(const ReaderPosition&) const = default;
};

class RowSource {
 public:
  // Seek reads a delimited file's header in reads of this size.
  static constexpr size_t kHeaderReadBytes = 4096;

  // Checks up front that every file exists and is not a directory (IoError). The parser is
  // made here (joined files are loaded now). `config` and `schema` must outlive the source.
  // Throws InvalidArgument for an invalid slice.
  RowSource(const DataConfig& config, const Schema& schema, std::vector<std::string> files,
            RowSplit split, size_t chunk_bytes = LineReader::kDefaultChunkBytes,
            RowSlice slice = {});
  ~RowSource();

  // Reads from `text` instead of files (`name` stands for the path in messages), with
  // `split`; the text must outlive the reads. Rewinds.
  void SetText(std::string_view text, std::string name, RowSplit split);

  // The next row, or false after the last one. A malformed row is skipped (counted; the
  // first 5 of the source's lifetime are logged with file:line) or throws DataError
  // "file:line: ...", per config.on_error. Throws IoError when a file cannot be read, and
  // DataError when labelled and unlabelled rows are mixed.
  // Not with a block slice (NextBlock instead).
  bool Next(RawRow* row);
  // With a block slice: scans the next global batch of the split and returns false when no row
  // is left; else block_rows() holds this rank's well-formed rows of it, in file order (possibly
  // none), and position() stands after the batch's last row. Errors as Next.
  bool NextBlock();
  const std::vector<RawRow>& block_rows() const { return block_rows_; }
  int64_t block_row_count() const { return block_count_; }
  // Starts over at the first row of the first file (stats restart too).
  void Rewind();
  // Where the next row comes from (rows = stats().rows). Between files it names the end of the
  // file just finished or the start of the first one.
  ReaderPosition position() const;
  // Restarts at `position` (from position() of a source over the same files, split and slice;
  // its file location must be known): stats restart, and only the header of a delimited file
  // is read before the position. Throws InvalidArgument for a position outside the files, and
  // like Next for a file that cannot be read.
  void Seek(const ReaderPosition& position);

  const SourceStats& stats() const { return stats_; }
  // Where the row last returned came from.
  const std::string& file() const;
  int64_t line() const { return reader_ ? reader_->line_number() : 0; }

 private:
  bool OpenNext();
  // The next line of the split (headers, blank lines and rows left out by the hold-out or a
  // byte range consumed), or false at the end of the input.
  bool NextSplitLine(std::string_view* line, LineReader::Status* status);
  // Parses a line of the split into *row; false (counted, logged or thrown per on_error) when
  // it is malformed.
  bool ParseRow(std::string_view line, LineReader::Status status, RawRow* row);
  // Scans one global batch of at most slice_.block rows taking the rows [lo, hi) of it; returns
  // the rows scanned.
  int64_t ScanBlock(int64_t lo, int64_t hi);
  // With slice_.by_bytes: whether a line starting at byte `offset` of file `file` lies past
  // this rank's range.
  bool PastRange(int64_t file, int64_t offset) const {
    return slice_.by_bytes && FileOffset{file, offset} >= range_end_;
  }
  void Malformed(const std::string& what);

  const DataConfig& config_;
  const Schema& schema_;
  std::vector<std::string> files_;
  std::string_view text_;
  bool use_text_ = false;
  RowSplit split_;
  RowSlice slice_;
  size_t chunk_bytes_;
  std::unique_ptr<RowParser> parser_;

  std::unique_ptr<LineReader> reader_;
  size_t next_file_ = 0;
  int64_t file_row_ = 0;                // data rows seen in the current file (for the hold-out)
  int64_t split_row_ = 0;               // rows the split selected so far, all files (for the slice)
  int64_t bytes_before_ = 0;            // bytes of the files already closed
  FileOffset range_begin_, range_end_;  // with slice_.by_bytes: this rank's range
  bool range_pending_ = false;          // with slice_.by_bytes: Next starts at range_begin_
  int labelled_ = -1;                   // -1 unknown, else whether the rows delivered have labels
  bool finished_ = false;
  int64_t warnings_ = 0;  // over the source's lifetime
  SourceStats stats_;
  std::string error_;
  std::vector<RawRow> block_rows_;  // with a block slice: this rank's rows of the current batch
  int64_t block_count_ = 0;         // rows of block_rows_ in use
};

}  // namespace crank

#endif  // CRANK_DATA_ROW_SOURCE_H_
