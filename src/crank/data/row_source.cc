#include "crank/data/row_source.h"

#include <algorithm>
#include <utility>

#include "crank/base/error.h"
#include "crank/base/log.h"

namespace crank {

const char* ToString(RowSplit split) {
  switch (split) {
    case RowSplit::kAll:
      return "all";
    case RowSplit::kTrain:
      return "train";
    case RowSplit::kEval:
      return "eval";
  }
  return "?";
}

void RowSlice::Validate() const {
  CRANK_REQUIRE(world_size >= 1, "reader slice: world_size must be >= 1, got {}", world_size);
  CRANK_REQUIRE(rank >= 0 && rank < world_size,
                "reader slice: rank must be in [0, world_size = {}), got {}", world_size, rank);
  CRANK_REQUIRE(block >= 0 && !(block > 0 && by_bytes),
                "reader slice: block must be >= 0 and cannot be combined with byte ranges, got {}",
                block);
}

RowSource::RowSource(const DataConfig& config, const Schema& schema, std::vector<std::string> files,
                     RowSplit split, size_t chunk_bytes, RowSlice slice)
    : config_(config),
      schema_(schema),
      files_(std::move(files)),
      split_(split),
      slice_(slice),
      chunk_bytes_(chunk_bytes) {
  slice_.Validate();
  for (const std::string& f : files_) CheckReadableFile(f);
  parser_ = MakeRowParser(config, schema);
  if (slice_.by_bytes) {
    CRANK_REQUIRE(!config_.holdout.enabled() || split_ == RowSplit::kAll,
                  "reader slice: byte ranges cannot be combined with a hold-out split (it "
                  "numbers the rows of each file)");
    const std::vector<FileOffset> cuts = LineAlignedCuts(files_, slice_.world_size);
    range_begin_ = cuts[static_cast<size_t>(slice_.rank)];
    range_end_ = cuts[static_cast<size_t>(slice_.rank) + 1];
    range_pending_ = true;
  }
}

RowSource::~RowSource() = default;

void RowSource::SetText(std::string_view text, std::string name, RowSplit split) {
  files_.assign(1, std::move(name));
  split_ = split;
  text_ = text;
  use_text_ = true;
  Rewind();
}

const std::string& RowSource::file() const {
  static const std::string kNone;
  return reader_ ? reader_->path() : kNone;
}

void RowSource::Rewind() {
  reader_.reset();
  next_file_ = 0;
  file_row_ = 0;
  split_row_ = 0;
  bytes_before_ = 0;
  labelled_ = -1;
  finished_ = false;
  stats_ = SourceStats{};
  range_pending_ = slice_.by_bytes;
}

ReaderPosition RowSource::position() const {
  ReaderPosition p;
  p.rows = stats_.rows;
  p.split_row = split_row_;
  if (reader_) {
    p.file_index = static_cast<int64_t>(next_file_) - 1;
    p.byte_offset = reader_->offset();
    p.file_data_row = file_row_;
    p.file_line = reader_->line_number();
  } else {
    p.file_index = static_cast<int64_t>(next_file_);  // the start of the next file (or the end)
  }
  return p;
}

void RowSource::Seek(const ReaderPosition& position) {
  CRANK_REQUIRE(position.has_file_location() &&
                    position.file_index <= static_cast<int64_t>(files_.size()) &&
                    position.byte_offset >= 0 && position.file_data_row >= 0 &&
                    position.file_line >= 0 && position.split_row >= 0,
                "RowSource::Seek: expected a position inside the {} input files, got file {} "
                "byte {}",
                files_.size(), position.file_index, position.byte_offset);
  Rewind();
  range_pending_ = false;  // a position of this source lies in its range
  next_file_ = static_cast<size_t>(position.file_index);
  split_row_ = position.split_row;
  if (next_file_ == files_.size() || !OpenNext()) return;
  // A delimited file's header names its columns: read it, then jump over the rows before.
  std::string_view line;
  reader_->set_read_limit(kHeaderReadBytes);
  while (parser_->ExpectsHeader()) {
    const LineReader::Status status = reader_->Next(&line);
    if (status == LineReader::Status::kEnd) break;
    if (status == LineReader::Status::kTooLong) {
      throw DataError(fmt::format(
          "{}:{}: the header line is longer than the maximum of {} bytes (max_line_bytes)",
          reader_->path(), reader_->line_number(), config_.max_line_bytes));
    }
    if (!line.empty()) parser_->ParseHeader(line);
  }
  reader_->set_read_limit(0);
  if (position.byte_offset > reader_->offset()) {
    reader_->Seek(position.byte_offset, position.file_line);
  }
  file_row_ = position.file_data_row;
  stats_.bytes = bytes_before_ + reader_->bytes_read();
}

bool RowSource::OpenNext() {
  if (reader_) {
    bytes_before_ += reader_->bytes_read();
    reader_.reset();
  }
  if (next_file_ >= files_.size()) return false;
  const std::string& path = files_[next_file_++];
  if (use_text_) {
    reader_ = std::make_unique<LineReader>(text_, path, config_.max_line_bytes);
  } else {
    reader_ = std::make_unique<LineReader>(path, config_.max_line_bytes, chunk_bytes_);
  }
  parser_->BeginFile(path);
  file_row_ = 0;
  return true;
}

void RowSource::Malformed(const std::string& what) {
  const std::string msg = fmt::format("{}:{}: {}", reader_->path(), reader_->line_number(), what);
  if (config_.on_error == ErrorPolicy::kFail) throw DataError(msg);
  ++stats_.skipped;
  const double budget = config_.max_bad_rows;
  const int64_t read = stats_.rows + stats_.skipped;
  const bool over =
      budget < 0.0 ? false
      : budget >= 1.0
          ? static_cast<double>(stats_.skipped) > budget
          : (budget == 0.0 || read >= DataConfig::kMinRowsForBadFraction) &&
                static_cast<double>(stats_.skipped) > budget * static_cast<double>(read);
  if (over) {
    throw DataError(fmt::format(
        "too many malformed rows: {} of the {} rows read so far, more than data.max_bad_rows "
        "({}{}) allows (--max-bad-rows); the last one: {}",
        stats_.skipped, read, budget, budget < 1.0 ? " of the rows" : " rows", msg));
  }
  if (++warnings_ <= 5) {
    LogWarning("skipping malformed row: {}{}", msg,
               warnings_ == 5 ? " (further malformed rows are counted, not shown)" : "");
  }
}

bool RowSource::NextSplitLine(std::string_view* line, LineReader::Status* status) {
  if (finished_) return false;
  if (range_pending_) {
    range_pending_ = false;
    if (!(range_begin_ < range_end_)) {  // an empty range
      finished_ = true;
      return false;
    }
    if (range_begin_.offset > 0) {
      ReaderPosition p;
      p.file_index = range_begin_.file;
      p.byte_offset = range_begin_.offset;
      Seek(p);
    } else {
      next_file_ = static_cast<size_t>(range_begin_.file);
    }
  }
  for (;;) {
    if (!reader_ && PastRange(static_cast<int64_t>(next_file_), 0)) {
      finished_ = true;
      stats_.bytes = bytes_before_;
      return false;
    }
    if (!reader_ && !OpenNext()) {
      finished_ = true;
      stats_.bytes = bytes_before_;
      if (stats_.skipped > 0) {
        LogWarning("skipped {} malformed rows in total (on_error: skip)", stats_.skipped);
      }
      return false;
    }
    if (PastRange(static_cast<int64_t>(next_file_) - 1, reader_->offset())) {
      bytes_before_ += reader_->bytes_read();
      reader_.reset();
      next_file_ = files_.size();
      continue;
    }
    *status = reader_->Next(line);
    stats_.bytes = bytes_before_ + reader_->bytes_read();
    if (*status == LineReader::Status::kEnd) {
      bytes_before_ += reader_->bytes_read();
      reader_.reset();
      continue;
    }
    if (*status == LineReader::Status::kTooLong) {
      if (parser_->ExpectsHeader()) {
        throw DataError(
            fmt::format("{}:{}: the header line is longer than the maximum of {} bytes "
                        "(max_line_bytes)",
                        reader_->path(), reader_->line_number(), config_.max_line_bytes));
      }
    } else if (line->empty()) {
      continue;  // blank lines are ignored and not counted
    } else if (parser_->ExpectsHeader()) {
      parser_->ParseHeader(*line);
      continue;
    }
    const int64_t index = file_row_++;
    if (split_ != RowSplit::kAll && config_.holdout.enabled()) {
      const bool held_out = config_.holdout.IsHeldOut(index);
      if (held_out != (split_ == RowSplit::kEval)) {
        ++stats_.filtered;
        continue;
      }
    }
    return true;
  }
}

bool RowSource::ParseRow(std::string_view line, LineReader::Status status, RawRow* row) {
  if (status == LineReader::Status::kTooLong) {
    Malformed(fmt::format("line is longer than the maximum of {} bytes (max_line_bytes)",
                          config_.max_line_bytes));
    return false;
  }
  if (!parser_->Parse(line, row, &error_)) {
    Malformed(error_);
    return false;
  }
  const int labelled = row->has_label ? 1 : 0;
  if (labelled_ != labelled) {
    if (labelled_ >= 0) {
      throw DataError(
          fmt::format("{}:{}: this row has {} but earlier rows {}; labelled and unlabelled files "
                      "cannot be read together",
                      reader_->path(), reader_->line_number(), labelled ? "a label" : "no label",
                      labelled_ ? "have one" : "have none"));
    }
    labelled_ = labelled;
  }
  ++stats_.rows;
  return true;
}

bool RowSource::Next(RawRow* row) {
  CRANK_REQUIRE(slice_.block == 0, "RowSource::Next: a block slice is read with NextBlock");
  std::string_view line;
  LineReader::Status status;
  while (NextSplitLine(&line, &status)) {
    if (slice_.world_size > 1 && !slice_.by_bytes &&
        split_row_++ % slice_.world_size != slice_.rank) {
      ++stats_.filtered;
      continue;
    }
    if (ParseRow(line, status, row)) return true;
  }
  return false;
}

int64_t RowSource::ScanBlock(int64_t lo, int64_t hi) {
  std::string_view line;
  LineReader::Status status;
  int64_t scanned = 0;
  while (scanned < slice_.block && NextSplitLine(&line, &status)) {
    const int64_t index = scanned++;
    if (index < lo || index >= hi) {  // another rank's row: only its line end was found
      ++stats_.filtered;
      continue;
    }
    if (block_count_ == static_cast<int64_t>(block_rows_.size())) block_rows_.emplace_back();
    if (ParseRow(line, status, &block_rows_[static_cast<size_t>(block_count_)])) ++block_count_;
  }
  return scanned;
}

bool RowSource::NextBlock() {
  CRANK_REQUIRE(slice_.block > 0, "RowSource::NextBlock needs a block slice");
  block_count_ = 0;
  const int64_t b = slice_.block, n = slice_.world_size, r = slice_.rank;
  // Read as a full batch; the last, shorter one is scanned again once its size is known (its
  // slices are those of its own size).
  const ReaderPosition start = position();
  const SourceStats stats = stats_;
  const int labelled = labelled_;
  const int64_t warnings = warnings_;
  const int64_t scanned = ScanBlock(b * r / n, b * (r + 1) / n);
  if (scanned == 0) return false;
  const bool same_rows =
      scanned * r / n == b * r / n && std::min(scanned, b * (r + 1) / n) == scanned * (r + 1) / n;
  if (scanned < b && !same_rows) {
    Seek(start);
    stats_ = stats;
    bytes_before_ = stats.bytes - (reader_ ? reader_->bytes_read() : 0);
    labelled_ = labelled;
    warnings_ = warnings;
    block_count_ = 0;
    ScanBlock(scanned * r / n, scanned * (r + 1) / n);
  }
  return true;
}

}  // namespace crank
