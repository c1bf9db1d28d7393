#ifndef CRANK_DATA_LINE_READER_H_
#define CRANK_DATA_LINE_READER_H_

// LineReader: a text file as a sequence of lines, read in fixed-size chunks so that files
// larger than memory stream. Lines end with "\n" or "\r\n" (the terminator is not part of the
// line); a last line without a terminator counts. Any bytes are accepted (binary data, NUL,
// invalid UTF-8). Memory use is bounded by max(chunk_bytes, max_line_bytes + 64 KiB) whatever
// the input: an over-long line is reported and skipped without being held. Not thread-safe.

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>
#include <string_view>

namespace crank {

class LineReader {
 public:
  static constexpr size_t kDefaultChunkBytes = size_t{4} << 20;

  // Opens `path`. Throws IoError naming the path when it does not exist, is a directory or
  // cannot be opened. Precondition: max_line_bytes >= 1.
  LineReader(const std::string& path, int64_t max_line_bytes,
             size_t chunk_bytes = kDefaultChunkBytes);
  // Reads the lines of `text` (not copied: it must outlive the reader); `name` stands for the
  // path in messages.
  LineReader(std::string_view text, std::string name, int64_t max_line_bytes);
  ~LineReader();
  LineReader(const LineReader&) = delete;
  LineReader& operator=(const LineReader&) = delete;

  enum class Status {
    kLine,     // *line holds the next line (valid until the next call)
    kTooLong,  // the next line exceeds max_line_bytes (terminator excluded); it was skipped
    kEnd,      // no more lines
  };
  // An over-long line is skipped up to its newline, but no further than MaxSkipBytes(): input
  // that runs on without a newline is not lines of text (/dev/zero, a binary file), and
  // skipping it could take forever.
  static constexpr int64_t kMinMaxSkipBytes = int64_t{64} << 20;
  int64_t MaxSkipBytes() const { return std::max(kMinMaxSkipBytes, 64 * max_line_bytes_); }
  // Throws IoError when reading fails, and DataError "path:line: ..." when an over-long line
  // runs on for more than MaxSkipBytes() bytes.
  Status Next(std::string_view* line);

  // 1-based number of the line last returned (kLine or kTooLong).
  int64_t line_number() const { return line_number_; }
  // Bytes read from the file (or text) so far; bytes skipped by Seek are not counted.
  int64_t bytes_read() const { return bytes_read_; }
  // Byte offset in the file (or text) of the first byte not yet returned as part of a line:
  // after a kLine or kTooLong, where the next line starts.
  int64_t offset() const { return read_offset_ - static_cast<int64_t>(end_ - begin_); }

  // Continues at `offset` (which must be the start of a line, e.g. an earlier offset()), with
  // `line_number` lines counted before it, without reading the bytes in between. Throws
  // InvalidArgument for a negative offset or one beyond the end of a text, IoError when the file
  // cannot seek. An offset beyond the end of a file reads as the end.
  void Seek(int64_t offset, int64_t line_number);
  // Reads at most `bytes` per read from the file from now on (0: the whole buffer, the
  // default), so that reading one short line (a header before a Seek) does not read ahead.
  void set_read_limit(size_t bytes) { read_limit_ = bytes; }
  const std::string& path() const { return path_; }

 private:
  void Fill();

  std::string path_;
  std::FILE* file_ = nullptr;
  int64_t max_line_bytes_;
  size_t capacity_;
  struct Free {
    void operator()(char* p) const;
  };
  // File mode: AllocateAligned (huge pages for the default chunk); not zeroed: only
  // [begin_, end_) is read.
  std::unique_ptr<char[], Free> buffer_;
  char* base_ = nullptr;  // buffer_ or the text
  size_t begin_ = 0;      // unread data is base_[begin_, end_)
  size_t end_ = 0;
  bool eof_ = false;
  bool skipping_ = false;  // inside an over-long line, discarding up to its newline
  int64_t skipped_ = 0;    // bytes of that line discarded so far
  int64_t line_number_ = 0;
  int64_t bytes_read_ = 0;
  int64_t read_offset_ = 0;  // offset in the file (or text) of base_[end_]
  size_t read_limit_ = 0;
};

// Throws IoError unless `path` names an existing regular file (or other readable non-directory).
void CheckReadableFile(const std::string& path);

}  // namespace crank

#endif  // CRANK_DATA_LINE_READER_H_
