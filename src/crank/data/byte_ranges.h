#ifndef CRANK_DATA_BYTE_RANGES_H_
#define CRANK_DATA_BYTE_RANGES_H_

// Byte-range sharding of text files (`--input-sharding bytes`, docs/distributed.md): the files,
// taken as one run of bytes in order, are cut into `parts` ranges of about equal size, each cut
// moved forward to the start of a line (Hadoop's rule: a line belongs to the range holding its
// first byte). Part r is the lines that start in [cuts[r], cuts[r + 1]); together the parts are
// every line of every file exactly once, in order, and finding a cut reads only from the cut
// point to the next newline, so no rank scans the files of the others. A part may be empty
// (more parts than lines, or one very long line).

#include <cstdint>
#include <string>
#include <vector>

namespace crank {

// A place between two lines: byte `offset` of file `file` (an index into the files), where a
// line starts; {files.size(), 0} is the end of the input.
struct FileOffset {
  int64_t file = 0;
  int64_t offset = 0;
  bool operator==(const FileOffset&) const = default;
  auto operator<=>(const FileOffset&) const = default;
};

// parts + 1 cuts: cuts[0] = {0, 0}, cuts[parts] = {files.size(), 0}, non-decreasing, each at the
// start of a line. parts >= 1 (InvalidArgument otherwise); IoError naming a file that cannot be
// read.
std::vector<FileOffset> LineAlignedCuts(const std::vector<std::string>& files, int parts);

}  // namespace crank

#endif  // CRANK_DATA_BYTE_RANGES_H_
