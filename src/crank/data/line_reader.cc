#include "crank/data/line_reader.h"

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <system_error>
#include <utility>

#include "crank/base/error.h"
#include "crank/base/system_memory.h"

namespace crank {

void CheckReadableFile(const std::string& path) {
  std::error_code ec;
  const auto status = std::filesystem::status(path, ec);
  if (ec || !std::filesystem::exists(status)) {
    throw IoError(fmt::format("cannot open '{}': no such file", path));
  }
  if (std::filesystem::is_directory(status)) {
    throw IoError(fmt::format("cannot read '{}': it is a directory, expected a file", path));
  }
}

LineReader::LineReader(const std::string& path, int64_t max_line_bytes, size_t chunk_bytes)
    : path_(path), max_line_bytes_(max_line_bytes) {
  CRANK_REQUIRE(max_line_bytes >= 1, "LineReader: max_line_bytes must be >= 1, got {}",
                max_line_bytes);
  CheckReadableFile(path);
  file_ = std::fopen(path.c_str(), "rb");
  if (file_ == nullptr) {
    throw IoError(fmt::format("cannot open '{}': {}", path, std::strerror(errno)));
  }
  std::setvbuf(file_, nullptr, _IONBF, 0);  // we read in large chunks ourselves
  capacity_ = std::max(chunk_bytes, static_cast<size_t>(max_line_bytes) + (size_t{64} << 10));
  // Not zeroed (4 MiB per open): only base_[begin_, end_), bytes that fread wrote, is read. On
  // huge pages: its first fill, on the way to the first batch, would otherwise fault in a
  // thousand 4 KiB pages.
  buffer_.reset(static_cast<char*>(AllocateAligned(capacity_)));
  base_ = buffer_.get();
}

LineReader::LineReader(std::string_view text, std::string name, int64_t max_line_bytes)
    : path_(std::move(name)), max_line_bytes_(max_line_bytes), capacity_(text.size()) {
  CRANK_REQUIRE(max_line_bytes >= 1, "LineReader: max_line_bytes must be >= 1, got {}",
                max_line_bytes);
  base_ = const_cast<char*>(text.data());  // only read
  end_ = text.size();
  eof_ = true;
  bytes_read_ = static_cast<int64_t>(text.size());
  read_offset_ = bytes_read_;
}

void LineReader::Free::operator()(char* p) const { std::free(p); }

LineReader::~LineReader() {
  if (file_ != nullptr) std::fclose(file_);
}

void LineReader::Fill() {
  if (begin_ > 0) {
    std::memmove(buffer_.get(), buffer_.get() + begin_, end_ - begin_);
    end_ -= begin_;
    begin_ = 0;
  }
  size_t want = capacity_ - end_;
  if (read_limit_ > 0) want = std::min(want, read_limit_);
  const size_t n = std::fread(buffer_.get() + end_, 1, want, file_);
  if (n == 0) {
    if (std::ferror(file_)) {
      throw IoError(fmt::format("error reading '{}': {}", path_, std::strerror(errno)));
    }
    eof_ = true;
  }
  end_ += n;
  bytes_read_ += static_cast<int64_t>(n);
  read_offset_ += static_cast<int64_t>(n);
}

void LineReader::Seek(int64_t offset, int64_t line_number) {
  CRANK_REQUIRE(offset >= 0, "LineReader::Seek: offset must be >= 0, got {} ({})", offset, path_);
  skipping_ = false;
  line_number_ = line_number;
  if (file_ == nullptr) {  // text mode: the whole text is in base_
    CRANK_REQUIRE(offset <= read_offset_,
                  "LineReader::Seek: offset {} is beyond the end of {} ({} bytes)", offset, path_,
                  read_offset_);
    begin_ = static_cast<size_t>(offset);
    return;
  }
  if (fseeko(file_, static_cast<off_t>(offset), SEEK_SET) != 0) {
    throw IoError(
        fmt::format("cannot seek to byte {} of '{}': {}", offset, path_, std::strerror(errno)));
  }
  begin_ = end_ = 0;
  eof_ = false;
  read_offset_ = offset;
}

LineReader::Status LineReader::Next(std::string_view* line) {
  const size_t max_pending = static_cast<size_t>(max_line_bytes_) + 1;  // + a '\r'
  for (;;) {
    const char* const base = base_;
    const auto* nl = static_cast<const char*>(std::memchr(base + begin_, '\n', end_ - begin_));
    if (skipping_) {
      if (nl != nullptr) {
        begin_ = static_cast<size_t>(nl - base) + 1;
        skipping_ = false;
        return Status::kTooLong;
      }
      skipped_ += static_cast<int64_t>(end_ - begin_);
      begin_ = end_;  // discard
      if (skipped_ > MaxSkipBytes()) {
        skipping_ = false;
        throw DataError(fmt::format(
            "{}:{}: no end of line in the {} bytes since the line began (the most a line may "
            "run on is {} bytes): this input is not lines of text",
            path_, line_number_, skipped_, MaxSkipBytes()));
      }
      if (eof_) {
        skipping_ = false;
        return Status::kTooLong;
      }
      Fill();
      continue;
    }
    size_t line_end;
    if (nl != nullptr) {
      line_end = static_cast<size_t>(nl - base);
    } else if (end_ - begin_ > max_pending) {
      ++line_number_;  // over-long and still unterminated: skip the rest of it
      skipping_ = true;
      skipped_ = 0;
      continue;
    } else if (!eof_) {
      Fill();
      continue;
    } else if (begin_ == end_) {
      return Status::kEnd;
    } else {
      line_end = end_;  // last line without a terminator
    }
    ++line_number_;
    size_t len = line_end - begin_;
    const char* start = base + begin_;
    begin_ = nl != nullptr ? line_end + 1 : end_;
    if (len > 0 && start[len - 1] == '\r') --len;
    if (static_cast<int64_t>(len) > max_line_bytes_) return Status::kTooLong;
    *line = std::string_view(start, len);
    return Status::kLine;
  }
}

}  // namespace crank
