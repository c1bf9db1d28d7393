#include "crank/data/byte_ranges.h"

#include <fmt/format.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <memory>

#include "crank/base/error.h"

namespace crank {
namespace {

int64_t FileSize(const std::string& path) {
  std::error_code ec;
  const auto n = std::filesystem::file_size(path, ec);
  if (ec) throw IoError(fmt::format("{}: cannot read its size: {}", path, ec.message()));
  return static_cast<int64_t>(n);
}

// The offset of the first line start at or after `offset` in `path` (a line starts at 0 and
// after every '\n'), or -1 when no line starts in [offset, end of file).
int64_t NextLineStart(const std::string& path, int64_t offset) {
  if (offset == 0) return 0;
  std::unique_ptr<std::FILE, int (*)(std::FILE*)> f(std::fopen(path.c_str(), "rb"), &std::fclose);
  if (!f) throw IoError(fmt::format("{}: cannot open: {}", path, std::strerror(errno)));
  // The byte before `offset`: when it is a newline, a line starts at offset.
  if (std::fseek(f.get(), static_cast<long>(offset - 1), SEEK_SET) != 0) {
    throw IoError(fmt::format("{}: cannot seek to byte {}", path, offset - 1));
  }
  char buffer[64 * 1024];
  int64_t at = offset - 1;
  for (;;) {
    const size_t n = std::fread(buffer, 1, sizeof(buffer), f.get());
    if (n == 0) {
      if (std::ferror(f.get())) throw IoError(fmt::format("{}: read failed", path));
      return -1;
    }
    const void* nl = std::memchr(buffer, '\n', n);
    if (nl != nullptr) {
      const int64_t start = at + (static_cast<const char*>(nl) - buffer) + 1;
      return start < FileSize(path) ? start : -1;
    }
    at += static_cast<int64_t>(n);
  }
}

}  // namespace

std::vector<FileOffset> LineAlignedCuts(const std::vector<std::string>& files, int parts) {
  CRANK_REQUIRE(parts >= 1, "LineAlignedCuts: parts must be >= 1, got {}", parts);
  std::vector<int64_t> sizes;
  int64_t total = 0;
  for (const std::string& f : files) {
    sizes.push_back(FileSize(f));
    total += sizes.back();
  }
  const FileOffset end{static_cast<int64_t>(files.size()), 0};
  std::vector<FileOffset> cuts(static_cast<size_t>(parts) + 1, end);
  cuts[0] = FileOffset{0, 0};
  for (int r = 1; r < parts; ++r) {
    // The global byte total * r / parts, as a file and an offset in it.
    int64_t global = static_cast<int64_t>((static_cast<__int128>(total) * r) / parts);
    FileOffset cut = end;
    for (size_t i = 0; i < files.size(); ++i) {
      if (global < sizes[i]) {
        const int64_t start = NextLineStart(files[i], global);
        // No line starts in the rest of this file: the next file's first line.
        cut = start >= 0 ? FileOffset{static_cast<int64_t>(i), start}
                         : FileOffset{static_cast<int64_t>(i) + 1, 0};
        break;
      }
      global -= sizes[i];
    }
    // An empty file between the cut and the next line start is skipped by the readers anyway;
    // keep the cuts non-decreasing.
    cuts[r] = cut < cuts[r - 1] ? cuts[r - 1] : cut;
  }
  return cuts;
}

}  // namespace crank
