// Reader slices for data parallelism and seeking to a saved position, for both readers and
// both formats, with and without the hold-out split.

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "crank/base/error.h"
#include "crank/data/in_memory_dataset.h"
#include "crank/data/streaming_reader.h"
#include "crank/data/test_util.h"

namespace crank {
namespace {

// One input to read: a mapping and its files, whose rows carry a unique id as their first
// dense value (before the transform, which is the same for every row).
struct Input {
  std::string name;
  std::shared_ptr<const DataMapping> mapping;
  std::vector<std::string> files;
};

class ReaderPosition_ : public ::testing::Test {
 protected:
  void SetUp() override {
    // Two files of 2003 and 1500 data rows; blank lines do not count as rows.
    const int sizes[2] = {2003, 1500};
    int id = 1;
    std::vector<std::string> criteo, delimited;
    for (int f = 0; f < 2; ++f) {
      std::string c, d = "label,x,c\n";
      for (int i = 0; i < sizes[f]; ++i, ++id) {
        c += test::CriteoLine(id % 3 == 0 ? "1" : "0", {std::to_string(id)},
                              {std::to_string(id % 7)}) +
             "\n";
        d +=
            (id % 3 == 0 ? "1," : "0,") + std::to_string(id) + ",t" + std::to_string(id % 7) + "\n";
        if (i == 17) c += "\n", d += "\n";
      }
      criteo.push_back(dir_.Write("part" + std::to_string(f) + ".tsv", c));
      delimited.push_back(dir_.Write("part" + std::to_string(f) + ".csv", d));
    }
    total_rows_ = id - 1;
    const std::string holdout = "holdout: {every: 5, offset: 2}\n";
    const std::string criteo_yaml = "criteo: {hash_buckets: 100}\n";
    const std::string delimited_yaml =
        "format: delimited\n"
        "delimited: {label: label, dense: [x], categorical: [{name: c, hash_buckets: 10}]}\n";
    inputs_.push_back({"criteo", test::MakeMapping(test::ConfigFromYaml(criteo_yaml)), criteo});
    inputs_.push_back(
        {"criteo+holdout", test::MakeMapping(test::ConfigFromYaml(criteo_yaml + holdout)), criteo});
    inputs_.push_back(
        {"delimited", test::MakeMapping(test::ConfigFromYaml(delimited_yaml)), delimited});
    inputs_.push_back({"delimited+holdout",
                       test::MakeMapping(test::ConfigFromYaml(delimited_yaml + holdout)),
                       delimited});
  }

  static std::unique_ptr<BatchReader> Make(const Input& in, const ReaderOptions& o,
                                           bool in_memory) {
    return MakeBatchReader(in.mapping, in.files, o, in_memory);
  }

  // The first dense value of every example of the remaining pass, in order.
  static std::vector<float> Ids(BatchReader* reader) {
    std::vector<float> ids;
    for (const Batch& b : test::ReadAll(reader)) {
      for (int64_t i = 0; i < b.size(); ++i) ids.push_back(b.dense.at(i, 0));
    }
    return ids;
  }

  test::TempDir dir_;
  std::vector<Input> inputs_;
  int total_rows_ = 0;
};

TEST_F(ReaderPosition_, SlicesOfAllRanksAreTheWholeInputEachRowOnce) {
  for (const Input& in : inputs_) {
    for (const RowSplit split : {RowSplit::kAll, RowSplit::kTrain, RowSplit::kEval}) {
      for (const bool in_memory : {false, true}) {
        ReaderOptions o;
        o.batch_size = 16;
        o.split = split;
        std::vector<float> whole = Ids(Make(in, o, in_memory).get());
        if (split == RowSplit::kAll) ASSERT_EQ(static_cast<int>(whole.size()), total_rows_);
        std::sort(whole.begin(), whole.end());
        ASSERT_EQ(std::adjacent_find(whole.begin(), whole.end()), whole.end()) << "ids unique";
        for (int world = 1; world <= 4; ++world) {
          SCOPED_TRACE(in.name + " split " + ToString(split) +
                       (in_memory ? " in-memory" : " streaming") + " world_size " +
                       std::to_string(world));
          std::vector<float> all;
          size_t smallest = whole.size(), largest = 0;
          for (int rank = 0; rank < world; ++rank) {
            o.rank = rank;
            o.world_size = world;
            const std::vector<float> share = Ids(Make(in, o, in_memory).get());
            smallest = std::min(smallest, share.size());
            largest = std::max(largest, share.size());
            all.insert(all.end(), share.begin(), share.end());
          }
          o.rank = 0;
          o.world_size = 1;
          std::sort(all.begin(), all.end());
          EXPECT_EQ(all, whole);  // each row exactly once
          EXPECT_LE(largest - smallest, 1u);
        }
      }
    }
  }
}

// The exact feeding of several ranks: rank r's batch k is its slice [n r / N, n (r + 1) / N)
// of one process's batch k of n rows, the ranks' positions after batch k are one process's,
// and a sliced reader seeks to such a position (a checkpoint of any rank).
TEST_F(ReaderPosition_, BatchSlicesOfAllRanksAreTheBatchesOfOneProcess) {
  for (const Input& in : inputs_) {
    for (const RowSplit split : {RowSplit::kAll, RowSplit::kEval}) {
      for (const int64_t batch : {int64_t{64}, int64_t{3}}) {
        ReaderOptions o;
        o.batch_size = batch;
        o.split = split;
        std::vector<std::vector<float>> whole;
        std::vector<ReaderPosition> positions;
        {
          std::unique_ptr<BatchReader> one = Make(in, o, false);
          Batch b;
          while (one->Next(&b)) {
            whole.emplace_back();
            for (int64_t i = 0; i < b.size(); ++i) whole.back().push_back(b.dense.at(i, 0));
            positions.push_back(one->position());
          }
        }
        for (const int world : {2, 4}) {  // 4 ranks and batches of 3: some slices are empty
          SCOPED_TRACE(in.name + " split " + ToString(split) + " batch " + std::to_string(batch) +
                       " world_size " + std::to_string(world));
          std::vector<std::vector<float>> joined(whole.size());
          o.world_size = world;
          o.batch_slices = true;
          for (int rank = 0; rank < world; ++rank) {
            o.rank = rank;
            std::unique_ptr<BatchReader> reader = Make(in, o, false);
            Batch b;
            size_t k = 0;
            for (; reader->Next(&b); ++k) {
              ASSERT_LT(k, whole.size());
              const int64_t n = static_cast<int64_t>(whole[k].size());
              ASSERT_EQ(b.size(), n * (rank + 1) / world - n * rank / world) << "batch " << k;
              for (int64_t i = 0; i < b.size(); ++i) joined[k].push_back(b.dense.at(i, 0));
              ReaderPosition p = reader->position(), q = positions[k];
              p.rows = q.rows = 0;  // rows delivered: this rank's
              EXPECT_EQ(p, q) << "batch " << k;
            }
            EXPECT_EQ(k, whole.size());
            // Resuming after batch 2 of one process continues with this rank's slices.
            if (whole.size() > 3) {
              std::unique_ptr<BatchReader> resumed = Make(in, o, false);
              ASSERT_TRUE(resumed->Seek(positions[2]));
              std::vector<float> ids = Ids(resumed.get()), expected;
              for (size_t j = 3; j < whole.size(); ++j) {
                const int64_t n = static_cast<int64_t>(whole[j].size());
                expected.insert(expected.end(), whole[j].begin() + n * rank / world,
                                whole[j].begin() + n * (rank + 1) / world);
              }
              EXPECT_EQ(ids, expected);
            }
          }
          EXPECT_EQ(joined, whole);
          o.rank = 0;
          o.batch_slices = false;
        }
      }
    }
  }
  ReaderOptions o;
  o.batch_slices = true;
  o.world_size = 2;
  EXPECT_THROW(Make(inputs_[0], o, true), InvalidArgument);
  o.shuffle_buffer = 10;
  EXPECT_THROW(Make(inputs_[0], o, false), InvalidArgument);
}

TEST_F(ReaderPosition_, SliceMustNameARankOfTheWorld) {
  for (const auto& [rank, world] : {std::pair{0, 0}, {-1, 2}, {2, 2}, {5, 3}}) {
    ReaderOptions o;
    o.rank = rank;
    o.world_size = world;
    EXPECT_THROW(o.Validate(), InvalidArgument) << rank << "/" << world;
    EXPECT_THROW(Make(inputs_[0], o, false), InvalidArgument);
    EXPECT_THROW(Make(inputs_[0], o, true), InvalidArgument);
  }
}

TEST_F(ReaderPosition_, SeekContinuesThePassWithoutReadingWhatCameBefore) {
  for (const Input& in : inputs_) {
    for (const int world : {1, 3}) {
      for (const bool in_memory : {false, true}) {
        SCOPED_TRACE(in.name + (in_memory ? " in-memory" : " streaming") + " world_size " +
                     std::to_string(world));
        ReaderOptions o;
        o.batch_size = 10;
        o.split = RowSplit::kTrain;
        o.rank = world - 1;
        o.world_size = world;
        // One full pass, with the position after each batch.
        auto full = Make(in, o, in_memory);
        ASSERT_TRUE(full->CanSeek());
        std::vector<Batch> batches;
        std::vector<ReaderPosition> after;
        Batch b;
        while (full->Next(&b)) {
          batches.push_back(b);
          after.push_back(full->position());
        }
        ASSERT_GT(batches.size(), 4u);
        // Resume after several points, including in the second file and at the very end.
        for (const size_t k : {size_t{0}, size_t{3}, batches.size() - 2, batches.size() - 1}) {
          SCOPED_TRACE("after batch " + std::to_string(k));
          const ReaderPosition& p = after[k];
          EXPECT_EQ(p.rows, 10 * static_cast<int64_t>(k + 1) -
                                (k + 1 == batches.size() ? 10 - batches.back().size() : 0));
          auto resumed = Make(in, o, in_memory);
          ASSERT_TRUE(resumed->Seek(p));
          const std::vector<Batch> rest = test::ReadAll(resumed.get());
          test::ExpectPassesEqual(rest, std::vector<Batch>(batches.begin() + k + 1, batches.end()));
          EXPECT_EQ(resumed->position().rows, after.back().rows);
          EXPECT_EQ(resumed->stats().rows, after.back().rows - p.rows);
          if (in_memory) continue;
          // The streaming reader read from the saved byte on (plus a delimited file's header).
          ASSERT_TRUE(p.has_file_location());
          int64_t expected = 0;
          for (size_t f = static_cast<size_t>(p.file_index); f < in.files.size(); ++f)
            expected += static_cast<int64_t>(std::filesystem::file_size(in.files[f]));
          if (p.file_index < static_cast<int64_t>(in.files.size())) {
            expected -= p.byte_offset;
            // Seek reads a delimited file's header (in one short read), then jumps.
            if (in.name.starts_with("delimited") && p.byte_offset > 0)
              expected += static_cast<int64_t>(RowSource::kHeaderReadBytes);
          }
          EXPECT_EQ(resumed->stats().bytes_read, expected);
          if (p.byte_offset > static_cast<int64_t>(RowSource::kHeaderReadBytes))
            EXPECT_LT(resumed->stats().bytes_read, full->stats().bytes_read);
        }
        // Rewind after a seek starts the next pass from the first row.
        auto again = Make(in, o, in_memory);
        ASSERT_TRUE(again->Seek(after[3]));
        again->Rewind();
        test::ExpectPassesEqual(test::ReadAll(again.get()), batches);
      }
    }
  }
}

TEST_F(ReaderPosition_, ShuffledReadersAndPositionsWithoutAFileDoNotSeek) {
  ReaderOptions o;
  o.batch_size = 10;
  o.shuffle_buffer = 50;
  for (const bool in_memory : {false, true}) {
    auto r = Make(inputs_[0], o, in_memory);
    EXPECT_FALSE(r->CanSeek());
    Batch b;
    ASSERT_TRUE(r->Next(&b));
    EXPECT_FALSE(r->Seek(r->position()));
  }
  // The in-memory reader knows rows only: enough for itself, not for the streaming reader.
  o.shuffle_buffer = 0;
  auto memory = Make(inputs_[0], o, true);
  Batch b;
  ASSERT_TRUE(memory->Next(&b));
  EXPECT_FALSE(memory->position().has_file_location());
  auto streaming = Make(inputs_[0], o, false);
  EXPECT_FALSE(streaming->Seek(memory->position()));
  ReaderPosition beyond;
  beyond.rows = total_rows_ + 1;
  EXPECT_THROW(memory->Seek(beyond), InvalidArgument);
  beyond.file_index = 7;
  EXPECT_THROW(streaming->Seek(beyond), InvalidArgument);
}

}  // namespace
}  // namespace crank
