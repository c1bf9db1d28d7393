#include "crank/io/atomic_file.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <system_error>
#include <utility>

#include "crank/base/error.h"

namespace crank {
namespace {

constexpr size_t kBufferSize = size_t{1} << 20;

std::string ErrorText(int err) { return std::error_code(err, std::generic_category()).message(); }

}  // namespace

std::string ParentDirectory(const std::string& path) {
  const size_t slash = path.find_last_of('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

AtomicFileWriter::AtomicFileWriter(std::string path) : path_(std::move(path)) {
  if (path_.empty()) throw IoError("cannot write a file with an empty path");
  struct stat st;
  if (::stat(path_.c_str(), &st) == 0 && !S_ISREG(st.st_mode)) {
    throw IoError(fmt::format("cannot write {}: it exists and is {}", path_,
                              S_ISDIR(st.st_mode) ? "a directory" : "not a regular file"));
  }
  temp_path_ = fmt::format("{}.tmp-{}", path_, static_cast<long>(::getpid()));
  do {
    fd_ = ::open(temp_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  } while (fd_ < 0 && errno == EINTR);
  if (fd_ < 0) {
    const int err = errno;
    throw IoError(fmt::format("cannot write {}: creating temporary file {} failed: {}", path_,
                              temp_path_, ErrorText(err)));
  }
  buffer_.resize(kBufferSize);
}

AtomicFileWriter::~AtomicFileWriter() {
  if (!committed_) Discard();
}

void AtomicFileWriter::Discard() {
  if (fd_ >= 0) {
    ::close(fd_);
    fd_ = -1;
    ::unlink(temp_path_.c_str());
  }
}

void AtomicFileWriter::Fail(std::string_view step, const std::string& file, int err) {
  Discard();
  throw IoError(
      fmt::format("cannot write {}: {} {} failed: {}", path_, step, file, ErrorText(err)));
}

void AtomicFileWriter::WriteFully(const void* data, size_t n) {
  const char* p = static_cast<const char*>(data);
  while (n > 0) {
    const ssize_t w = ::write(fd_, p, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      Fail("writing", temp_path_, errno);
    }
    if (w == 0) Fail("writing", temp_path_, EIO);  // No progress and no error: give up.
    p += w;
    n -= static_cast<size_t>(w);
  }
}

void AtomicFileWriter::Flush() {
  if (buffered_ > 0) {
    WriteFully(buffer_.data(), buffered_);
    buffered_ = 0;
  }
}

void AtomicFileWriter::Append(const void* data, size_t n) {
  CRANK_CHECK(fd_ >= 0 && !committed_, "Append on a finished AtomicFileWriter for {}", path_);
  bytes_appended_ += n;
  if (buffered_ + n <= buffer_.size()) {
    if (n > 0) std::memcpy(buffer_.data() + buffered_, data, n);
    buffered_ += n;
    return;
  }
  Flush();
  if (n >= buffer_.size()) {
    WriteFully(data, n);
  } else {
    std::memcpy(buffer_.data(), data, n);
    buffered_ = n;
  }
}

void AtomicFileWriter::Commit() {
  CRANK_CHECK(fd_ >= 0 && !committed_, "Commit on a finished AtomicFileWriter for {}", path_);
  Flush();
  if (::fsync(fd_) != 0) Fail("fsync of", temp_path_, errno);
  const int fd = fd_;
  fd_ = -1;
  if (::close(fd) != 0) {
    const int err = errno;
    ::unlink(temp_path_.c_str());
    throw IoError(
        fmt::format("cannot write {}: closing {} failed: {}", path_, temp_path_, ErrorText(err)));
  }
  if (::rename(temp_path_.c_str(), path_.c_str()) != 0) {
    const int err = errno;
    ::unlink(temp_path_.c_str());
    throw IoError(fmt::format("cannot write {}: renaming {} over it failed: {}", path_, temp_path_,
                              ErrorText(err)));
  }
  committed_ = true;
  const std::string dir = ParentDirectory(path_);
  const int dir_fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir_fd < 0) {
    const int err = errno;
    throw IoError(
        fmt::format("cannot write {}: the new file is in place but opening its "
                    "directory {} for fsync failed: {}",
                    path_, dir, ErrorText(err)));
  }
  const int rc = ::fsync(dir_fd);
  const int err = errno;
  ::close(dir_fd);
  // Some file systems do not support fsync on directories (EINVAL): nothing more can be done.
  if (rc != 0 && err != EINVAL) {
    throw IoError(fmt::format(
        "cannot write {}: the new file is in place but fsync of its directory {} failed: {}", path_,
        dir, ErrorText(err)));
  }
}

void CopyFileAtomically(const std::string& from, const std::string& to) {
  const int fd = ::open(from.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw IoError(fmt::format("cannot read {}: {}", from, std::strerror(errno)));
  AtomicFileWriter out(to);
  std::vector<char> block(size_t{1} << 20);
  for (;;) {
    const ssize_t n = ::read(fd, block.data(), block.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const int err = errno;
      ::close(fd);
      throw IoError(fmt::format("cannot read {}: {}", from, std::strerror(err)));
    }
    if (n == 0) break;
    out.Append(block.data(), static_cast<size_t>(n));
  }
  ::close(fd);
  out.Commit();
}

bool PublishHardLink(const std::string& from, const std::string& to) {
  const std::string tmp = fmt::format("{}.tmp-link-{}", to, static_cast<long>(::getpid()));
  ::unlink(tmp.c_str());
  if (::link(from.c_str(), tmp.c_str()) != 0) return false;
  if (::rename(tmp.c_str(), to.c_str()) != 0) {
    ::unlink(tmp.c_str());
    return false;
  }
  const int dir_fd = ::open(ParentDirectory(to).c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir_fd >= 0) {
    ::fsync(dir_fd);
    ::close(dir_fd);
  }
  return true;
}

}  // namespace crank
