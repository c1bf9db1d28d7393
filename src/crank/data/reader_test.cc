// The batch readers: streaming equals in-memory, shuffling, multi-file order, errors from the
// background thread, rewinding.

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "crank/base/error.h"
#include "crank/data/in_memory_dataset.h"
#include "crank/data/streaming_reader.h"
#include "crank/data/synthetic_criteo.h"
#include "crank/data/test_util.h"

namespace crank {
namespace {

class Readers : public ::testing::Test {
 protected:
  void SetUp() override {
    for (int i = 0; i < 2; ++i) {
      SyntheticOptions o;
      o.rows = 2500 + 500 * i;
      o.seed = 10 + static_cast<uint64_t>(i);
      std::ostringstream out;
      GenerateSyntheticCriteo(o, out);
      files_.push_back(dir_.Write("part" + std::to_string(i) + ".tsv", out.str()));
    }
    mapping_ = test::MakeMapping(test::ConfigFromYaml("criteo: {hash_buckets: 1000}\n"));
  }

  // I1 of every example of a pass, as an identifier of the rows' order.
  static std::vector<float> FirstColumn(const std::vector<Batch>& pass) {
    std::vector<float> out;
    for (const Batch& b : pass) {
      for (int64_t i = 0; i < b.size(); ++i)
        out.push_back(b.dense.at(i, 0) * 1000 + b.dense.at(i, 4));
    }
    return out;
  }

  test::TempDir dir_;
  std::vector<std::string> files_;
  std::shared_ptr<const DataMapping> mapping_;
};

TEST_F(Readers, StreamingEqualsInMemory) {
  for (const int64_t shuffle : {0, 1000}) {
    SCOPED_TRACE("shuffle " + std::to_string(shuffle));
    ReaderOptions o;
    o.batch_size = 96;
    o.shuffle_buffer = shuffle;
    o.seed = 5;
    InMemoryDataset memory(mapping_, files_, o);
    EXPECT_EQ(memory.num_rows(), 5500);
    const auto expected = test::ReadAll(&memory);
    EXPECT_EQ(expected.size(), 58u);  // ceil(5500 / 96)
    StreamingReader streaming(mapping_, files_, o);
    test::ExpectPassesEqual(test::ReadAll(&streaming), expected);
    EXPECT_EQ(streaming.stats().rows, 5500);
    EXPECT_EQ(streaming.stats().batches, 58);
    EXPECT_EQ(streaming.stats().bytes_read,
              static_cast<int64_t>(std::filesystem::file_size(files_[0]) +
                                   std::filesystem::file_size(files_[1])));
    // Small read chunks (lines cross chunk boundaries) and a short queue change nothing.
    o.chunk_bytes = 4096;
    o.prefetch_batches = 1;
    StreamingReader small(mapping_, files_, o);
    test::ExpectPassesEqual(test::ReadAll(&small), expected);
  }
}

TEST_F(Readers, BatchesCarryLabelsAndCsrOffsets) {
  ReaderOptions o;
  o.batch_size = 1000;
  StreamingReader r(mapping_, files_, o);
  Batch b;
  ASSERT_TRUE(r.Next(&b));
  EXPECT_EQ(b.size(), 1000);
  EXPECT_EQ(b.dense.shape(), (std::vector<int64_t>{1000, 13}));
  EXPECT_EQ(b.labels.size(), 1000);
  ASSERT_EQ(b.sparse.size(), 26u);
  for (const SparseFeature& f : b.sparse) {
    ASSERT_EQ(f.batch_size(), 1000);
    EXPECT_EQ(f.ids.size(), 1000u);  // one id per example (0 when missing)
    for (int64_t id : f.ids) ASSERT_TRUE(id >= 0 && id <= 1000);
  }
}

TEST_F(Readers, ShuffleIsDeterministicBySeedAndEpoch) {
  ReaderOptions o;
  o.batch_size = 128;
  o.shuffle_buffer = 500;
  o.seed = 1;
  InMemoryDataset plain(mapping_, files_, ReaderOptions{});
  const std::vector<float> unshuffled = FirstColumn(test::ReadAll(&plain));
  StreamingReader a(mapping_, files_, o), b(mapping_, files_, o);
  const std::vector<float> a1 = FirstColumn(test::ReadAll(&a));
  EXPECT_EQ(a1, FirstColumn(test::ReadAll(&b)));
  EXPECT_NE(a1, unshuffled);
  EXPECT_EQ(std::multiset<float>(a1.begin(), a1.end()),
            std::multiset<float>(unshuffled.begin(), unshuffled.end()));
  a.Rewind();
  const std::vector<float> a2 = FirstColumn(test::ReadAll(&a));
  EXPECT_NE(a2, a1);  // a new epoch draws a new order
  b.Rewind();
  EXPECT_EQ(FirstColumn(test::ReadAll(&b)), a2);
  o.seed = 2;
  StreamingReader c(mapping_, files_, o);
  EXPECT_NE(FirstColumn(test::ReadAll(&c)), a1);
}

TEST_F(Readers, FilesAreReadInTheGivenOrder) {
  ReaderOptions o;
  o.batch_size = 700;
  InMemoryDataset first(mapping_, {files_[0]}, o), second(mapping_, {files_[1]}, o);
  std::vector<float> f0 = FirstColumn(test::ReadAll(&first));
  const std::vector<float> f1 = FirstColumn(test::ReadAll(&second));
  StreamingReader forward(mapping_, {files_[0], files_[1]}, o);
  StreamingReader backward(mapping_, {files_[1], files_[0]}, o);
  std::vector<float> expected = f0;
  expected.insert(expected.end(), f1.begin(), f1.end());
  EXPECT_EQ(FirstColumn(test::ReadAll(&forward)), expected);
  expected = f1;
  expected.insert(expected.end(), f0.begin(), f0.end());
  EXPECT_EQ(FirstColumn(test::ReadAll(&backward)), expected);
}

TEST_F(Readers, RewindRepeatsThePassAndDropRemainderDropsTheTail) {
  ReaderOptions o;
  o.batch_size = 1000;
  o.drop_remainder = true;
  StreamingReader r(mapping_, files_, o);
  const auto pass1 = test::ReadAll(&r);
  EXPECT_EQ(pass1.size(), 5u);  // 5500 rows: the last 500 are dropped
  Batch b;
  EXPECT_FALSE(r.Next(&b));  // stays at the end
  r.Rewind();
  test::ExpectPassesEqual(test::ReadAll(&r), pass1);
  InMemoryDataset m(mapping_, files_, o);
  test::ExpectPassesEqual(test::ReadAll(&m), pass1);
}

TEST_F(Readers, RewindMidPassAndDestroyWhileTheThreadIsAhead) {
  ReaderOptions o;
  o.batch_size = 10;
  o.prefetch_batches = 2;
  InMemoryDataset m(mapping_, files_, o);
  const auto expected = test::ReadAll(&m);
  {
    StreamingReader r(mapping_, files_, o);
    Batch b;
    ASSERT_TRUE(r.Next(&b));
    ASSERT_TRUE(r.Next(&b));
    r.Rewind();
    test::ExpectPassesEqual(test::ReadAll(&r), expected);
    r.Rewind();
    ASSERT_TRUE(r.Next(&b));
  }  // destroyed with a blocked producer: must not hang
}

TEST_F(Readers, BackgroundErrorsReachTheConsumerWithTheirType) {
  // A malformed row after 3000 good ones: the good batches come first, then the DataError.
  std::string text;
  {
    std::ifstream in(files_[0]);
    text.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  const std::string bad = dir_.Write("bad.tsv", text + "1\tnot a row\n");
  const auto fail = test::MakeMapping(test::ConfigFromYaml("on_error: fail\n"));
  ReaderOptions o;
  o.batch_size = 1000;
  StreamingReader r(fail, {bad}, o);
  Batch b;
  ASSERT_TRUE(r.Next(&b));
  ASSERT_TRUE(r.Next(&b));
  try {
    while (r.Next(&b)) {
    }
    FAIL() << "expected DataError";
  } catch (const DataError& e) {
    EXPECT_EQ(std::string(e.what()),
              bad + ":2501: expected 40 tab-separated columns (label, I1..I13, C1..C26), found 2");
  }
  EXPECT_THROW(r.Next(&b), DataError);  // again until Rewind
  // A file that disappears after the reader was made: IoError from the thread.
  const std::string gone = dir_.Write("gone.tsv", text);
  StreamingReader r2(fail, {files_[0], gone}, o);
  std::filesystem::remove(gone);
  EXPECT_THROW(
      {
        while (r2.Next(&b)) {
        }
      },
      IoError);
}

TEST_F(Readers, SplitSelectsHeldOutRows) {
  const auto m = test::MakeMapping(test::ConfigFromYaml("holdout: {every: 4, offset: 1}\n"));
  ReaderOptions all, train, eval;
  train.split = RowSplit::kTrain;
  eval.split = RowSplit::kEval;
  InMemoryDataset a(m, {files_[0]}, all), t(m, {files_[0]}, train), e(m, {files_[0]}, eval);
  EXPECT_EQ(a.num_rows(), 2500);
  EXPECT_EQ(t.num_rows(), 1875);
  EXPECT_EQ(e.num_rows(), 625);
  EXPECT_EQ(e.stats().rows_filtered, 1875);
  const std::vector<float> rows = FirstColumn(test::ReadAll(&a));
  const std::vector<float> held = FirstColumn(test::ReadAll(&e));
  for (size_t i = 0; i < held.size(); ++i) ASSERT_EQ(held[i], rows[4 * i + 1]);
  // kTrain / kEval without a configured hold-out read every row.
  InMemoryDataset no_holdout(mapping_, {files_[0]}, eval);
  EXPECT_EQ(no_holdout.num_rows(), 2500);
}

TEST_F(Readers, MakeBatchReaderChoosesTheImplementation) {
  ReaderOptions o;
  o.batch_size = 500;
  auto streaming = MakeBatchReader(mapping_, files_, o, /*in_memory=*/false);
  auto memory = MakeBatchReader(mapping_, files_, o, /*in_memory=*/true);
  EXPECT_NE(dynamic_cast<StreamingReader*>(streaming.get()), nullptr);
  EXPECT_NE(dynamic_cast<InMemoryDataset*>(memory.get()), nullptr);
  test::ExpectPassesEqual(test::ReadAll(streaming.get()), test::ReadAll(memory.get()));
  EXPECT_EQ(memory->spec().num_sparse(), 26);
}

TEST(ReaderOptions, RejectsNonPositiveSizes) {
  ReaderOptions o;
  o.batch_size = 0;
  EXPECT_THROW(o.Validate(), InvalidArgument);
  o = ReaderOptions{};
  o.prefetch_batches = 0;
  EXPECT_THROW(o.Validate(), InvalidArgument);
}

}  // namespace
}  // namespace crank
