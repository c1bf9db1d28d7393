#ifndef CRANK_IO_ATOMIC_FILE_H_
#define CRANK_IO_ATOMIC_FILE_H_

// AtomicFileWriter: replaces a file so that a crash, kill or error at any moment leaves `path`
// holding either its previous contents (or nothing, if it did not exist) or the complete new
// contents, never a mix.
//
// Protocol: the bytes go to "<path>.tmp-<pid>" in the same directory; Commit() flushes, fsyncs
// and closes it, renames it over `path` (atomic on POSIX file systems) and fsyncs the directory
// so that the rename itself is durable. A process killed before the rename leaves a stale
// temporary file (named after its pid) next to `path`; nothing reads it and it may be deleted.
// If `path` is a symbolic link, the link itself is replaced, not its target.
//
// Errors (cannot create the temporary file, short write / ENOSPC / EFBIG, fsync, close, rename)
// throw IoError("cannot write <path>: <step> <file> failed: <strerror>") after removing the
// temporary file; the previous file at `path` is untouched. Destroying the writer without
// Commit() also removes the temporary file.
//
// Not thread-safe; one writer per path at a time within a process (the pid names the temporary).

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace crank {

class AtomicFileWriter {
 public:
  // Creates the temporary file. Throws IoError if `path` exists and is not a regular file (e.g.
  // a directory), or the temporary file cannot be created (e.g. missing parent directory).
  explicit AtomicFileWriter(std::string path);
  ~AtomicFileWriter();

  AtomicFileWriter(const AtomicFileWriter&) = delete;
  AtomicFileWriter& operator=(const AtomicFileWriter&) = delete;

  // Appends n bytes (buffered; large blocks are written straight from `data`). Throws IoError.
  void Append(const void* data, size_t n);

  // Makes the new contents visible at path() durably (see the protocol above). Call once; the
  // writer accepts nothing afterwards. Throws IoError. If the final directory fsync fails, the
  // new file is already in place but its durability across power loss is not guaranteed.
  void Commit();

  const std::string& path() const { return path_; }
  const std::string& temp_path() const { return temp_path_; }
  // Bytes passed to Append so far.
  uint64_t bytes_appended() const { return bytes_appended_; }

 private:
  void Flush();
  void WriteFully(const void* data, size_t n);
  // Closes and removes the temporary file, then throws IoError about `step` on `file`.
  [[noreturn]] void Fail(std::string_view step, const std::string& file, int err);
  void Discard();

  std::string path_;
  std::string temp_path_;
  int fd_ = -1;
  bool committed_ = false;
  std::vector<char> buffer_;
  size_t buffered_ = 0;
  uint64_t bytes_appended_ = 0;
};

// The directory that holds `path` ("." for a bare file name), for fsync after a rename.
std::string ParentDirectory(const std::string& path);

// Publishes the existing, complete file `from` also under the name `to` without copying it:
// a hard link made at "<to>.tmp-link-<pid>" is renamed over `to` (atomic: `to` holds its
// previous contents or those of `from`, never a mix), then the directory is fsynced. Both
// names then share one file, so `from` must not be modified in place afterwards (replacing it
// with AtomicFileWriter is fine). Returns false, with `to` untouched and no temporary left,
// when the file system cannot do it (no hard links, different file systems, `from` missing);
// the caller then writes `to` itself. Same thread-safety as AtomicFileWriter.
bool PublishHardLink(const std::string& from, const std::string& to);

// Copies the file `from` to `to` through an AtomicFileWriter (for when PublishHardLink cannot
// link). Throws IoError naming `from` when it cannot be read, and as AtomicFileWriter does.
void CopyFileAtomically(const std::string& from, const std::string& to);

}  // namespace crank

#endif  // CRANK_IO_ATOMIC_FILE_H_
