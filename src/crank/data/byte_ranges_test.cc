#include "crank/data/byte_ranges.h"

#include <gtest/gtest.h>

#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "crank/base/error.h"
#include "crank/data/row_source.h"
#include "crank/data/test_util.h"

namespace crank {
namespace {

std::string ReadText(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// Criteo files whose rows are numbered by their first integer field, with lines of lengths
// from 41 to about 470 bytes, an empty file, blank lines and a last line without newline.
class ByteRanges : public ::testing::Test {
 protected:
  void SetUp() override {
    uint64_t s = 7;
    const auto next = [&s] {
      s = s * 6364136223846793005ULL + 1442695040888963407ULL;
      return s >> 33;
    };
    const std::vector<int> rows_per_file = {7, 0, 1, 25, 3};
    int id = 0;
    for (size_t f = 0; f < rows_per_file.size(); ++f) {
      std::string text;
      for (int i = 0; i < rows_per_file[f]; ++i) {
        std::vector<std::string> cats(next() % 27);
        for (std::string& c : cats) c = std::string(1 + next() % 16, "0123456789abcdef"[f]);
        text += test::CriteoLine(std::to_string(next() % 2), {std::to_string(id++)}, cats);
        if (f == 3 && i == 4) text += "\n";                        // a blank line
        if (!(f == 4 && i + 1 == rows_per_file[f])) text += "\n";  // no newline at the end
      }
      files_.push_back(dir_.Write("part" + std::to_string(f) + ".tsv", text));
    }
    rows_ = id;
    config_ = test::ConfigFromYaml("criteo: {hash_buckets: 100}\n");
    schema_ = ResolveSchema(config_);
  }

  // The row ids rank `rank` of `parts` reads.
  std::vector<int> RowsOf(int rank, int parts) {
    RowSource source(config_, schema_, files_, RowSplit::kAll, 64, RowSlice{rank, parts, true});
    std::vector<int> ids;
    RawRow row;
    while (source.Next(&row)) ids.push_back(static_cast<int>(row.dense[0]));
    // A second pass reads the same rows.
    source.Rewind();
    std::vector<int> again;
    while (source.Next(&row)) again.push_back(static_cast<int>(row.dense[0]));
    EXPECT_EQ(ids, again);
    return ids;
  }

  test::TempDir dir_;
  std::vector<std::string> files_;
  int rows_ = 0;
  DataConfig config_;
  Schema schema_;
};

TEST_F(ByteRanges, CutsAreOrderedLineStarts) {
  for (int parts : {1, 2, 3, 7, 36, 100}) {
    const std::vector<FileOffset> cuts = LineAlignedCuts(files_, parts);
    ASSERT_EQ(cuts.size(), static_cast<size_t>(parts) + 1);
    EXPECT_EQ(cuts.front(), (FileOffset{0, 0}));
    EXPECT_EQ(cuts.back(), (FileOffset{static_cast<int64_t>(files_.size()), 0}));
    for (size_t r = 1; r < cuts.size(); ++r) {
      EXPECT_LE(cuts[r - 1], cuts[r]);
      if (cuts[r].offset > 0) {
        const std::string text = ReadText(files_[static_cast<size_t>(cuts[r].file)]);
        EXPECT_EQ(text[static_cast<size_t>(cuts[r].offset) - 1], '\n') << "parts " << parts;
      }
    }
  }
}

TEST_F(ByteRanges, TheRanksTogetherReadEveryRowOnceInOrder) {
  // 36 rows: from one part to more parts than rows (most cuts fall inside a line).
  for (int parts : {1, 2, 3, 5, 8, 35, 36, 37, 90}) {
    std::vector<int> all;
    int empty = 0;
    for (int r = 0; r < parts; ++r) {
      const std::vector<int> mine = RowsOf(r, parts);
      empty += mine.empty() ? 1 : 0;
      all.insert(all.end(), mine.begin(), mine.end());
    }
    ASSERT_EQ(static_cast<int>(all.size()), rows_) << "parts " << parts;
    for (int i = 0; i < rows_; ++i) EXPECT_EQ(all[i], i) << "parts " << parts;
    if (parts > rows_) EXPECT_GE(empty, parts - rows_);
  }
}

TEST_F(ByteRanges, OnlyEmptyFiles) {
  const std::vector<std::string> files = {dir_.Write("e1.tsv", ""), dir_.Write("e2.tsv", "")};
  const std::vector<FileOffset> cuts = LineAlignedCuts(files, 3);
  for (const FileOffset& c : std::vector<FileOffset>(cuts.begin() + 1, cuts.end()))
    EXPECT_EQ(c, (FileOffset{2, 0}));
  RowSource source(config_, schema_, files, RowSplit::kAll, 64, RowSlice{1, 3, true});
  RawRow row;
  EXPECT_FALSE(source.Next(&row));
}

TEST_F(ByteRanges, SeekWithinARankRangeContinuesThere) {
  RowSource source(config_, schema_, files_, RowSplit::kAll, 64, RowSlice{1, 3, true});
  RawRow row;
  std::vector<int> ids;
  ASSERT_TRUE(source.Next(&row));
  ASSERT_TRUE(source.Next(&row));
  const ReaderPosition p = source.position();
  while (source.Next(&row)) ids.push_back(static_cast<int>(row.dense[0]));
  source.Seek(p);
  std::vector<int> again;
  while (source.Next(&row)) again.push_back(static_cast<int>(row.dense[0]));
  EXPECT_EQ(ids, again);
}

TEST_F(ByteRanges, RejectsAHoldOutSplitAndBadCounts) {
  const DataConfig holdout = test::ConfigFromYaml("holdout: {every: 4, offset: 1}\n");
  const Schema schema = ResolveSchema(holdout);
  EXPECT_THROW(RowSource(holdout, schema, files_, RowSplit::kTrain, 64, RowSlice{0, 2, true}),
               InvalidArgument);
  EXPECT_THROW(LineAlignedCuts(files_, 0), InvalidArgument);
  EXPECT_THROW(LineAlignedCuts({dir_.Path("missing.tsv")}, 2), IoError);
}

}  // namespace
}  // namespace crank
