// Criteo TSV: parsing by hand-computed examples, the unlabelled variant, every malformed-row
// kind under both policies, and hostile input.

#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "crank/base/error.h"
#include "crank/base/rng.h"
#include "crank/data/buffer_parser.h"
#include "crank/data/criteo_parser.h"
#include "crank/data/in_memory_dataset.h"
#include "crank/data/streaming_reader.h"
#include "crank/data/test_util.h"

namespace crank {
namespace {

using test::CriteoLine;

std::shared_ptr<const DataMapping> CriteoMapping(const std::string& extra_yaml = "") {
  return test::MakeMapping(test::ConfigFromYaml("format: criteo\n" + extra_yaml));
}

// The ids of feature `name` for example b.
std::vector<int64_t> Ids(const Batch& batch, const DataSpec& spec, const std::string& name,
                         int64_t b) {
  const int f = spec.SparseIndex(name);
  EXPECT_GE(f, 0) << name;
  const SparseFeature& sf = batch.sparse[static_cast<size_t>(f)];
  return std::vector<int64_t>(sf.ids.begin() + sf.offsets[static_cast<size_t>(b)],
                              sf.ids.begin() + sf.offsets[static_cast<size_t>(b) + 1]);
}

TEST(CriteoParser, SpecHasThirteenDenseAndSortedSparseFields) {
  const auto m = CriteoMapping();
  const DataSpec& spec = m->spec();
  ASSERT_EQ(spec.num_dense(), 13);
  EXPECT_EQ(spec.dense.front(), "I1");
  EXPECT_EQ(spec.dense.back(), "I13");
  ASSERT_EQ(spec.num_sparse(), 26);
  EXPECT_EQ(spec.sparse[0].name, "C1");
  EXPECT_EQ(spec.sparse[1].name, "C10");
  EXPECT_EQ(spec.sparse[25].name, "C9");
  for (const auto& s : spec.sparse) {
    EXPECT_EQ(s.vocabulary_size, 100001) << s.name;  // default: 100,000 buckets + missing
    EXPECT_FALSE(s.multi_hot);
  }
  EXPECT_EQ(spec.label, LabelKind::kBinary);
  EXPECT_FALSE(spec.weighted);
}

TEST(CriteoParser, MapsHandComputedRow) {
  const auto m = CriteoMapping("criteo: {hash_buckets: 1000, fields: {C2: {hash_buckets: 7}}}\n");
  // I1 = 5, I2 missing, I3 negative, I4 = 0, I5 beyond the log1p table; C1 = 0x68fd1e64,
  // C2 = 0xA (upper case), C3 missing.
  const std::string line =
      CriteoLine("1", {"5", "", "-3", "0", "10000"}, {"68fd1e64", "A", "", "ffffffffffffffff"});
  Batch batch;
  BufferParser parser(m);
  ASSERT_EQ(parser.Parse(line + "\n", &batch), 1);
  ASSERT_EQ(batch.dense.shape(), (std::vector<int64_t>{1, 13}));
  EXPECT_FLOAT_EQ(batch.dense.at(0, 0), 1.7917595f);  // log(6)
  EXPECT_EQ(batch.dense.at(0, 1), 0.0f);              // missing -> 0
  EXPECT_EQ(batch.dense.at(0, 2), 0.0f);              // negative -> 0
  EXPECT_EQ(batch.dense.at(0, 3), 0.0f);              // log(1)
  EXPECT_FLOAT_EQ(batch.dense.at(0, 4), 9.2104404f);  // log(10001)
  for (int d = 5; d < 13; ++d) EXPECT_EQ(batch.dense.at(0, d), 0.0f);
  ASSERT_EQ(batch.labels.size(), 1);
  EXPECT_EQ(batch.labels[0], 1.0f);
  EXPECT_TRUE(batch.weights.empty());
  const DataSpec& spec = m->spec();
  EXPECT_EQ(Ids(batch, spec, "C1", 0), std::vector<int64_t>{853});  // 1761418852 % 1000 + 1
  EXPECT_EQ(Ids(batch, spec, "C2", 0), std::vector<int64_t>{4});    // 10 % 7 + 1
  EXPECT_EQ(Ids(batch, spec, "C3", 0), std::vector<int64_t>{0});    // missing
  EXPECT_EQ(Ids(batch, spec, "C4", 0), std::vector<int64_t>{616});  // (2^64 - 1) % 1000 + 1
  EXPECT_EQ(spec.sparse[static_cast<size_t>(spec.SparseIndex("C2"))].vocabulary_size, 8);
  for (const SparseFeature& f : batch.sparse) EXPECT_EQ(f.offsets, (std::vector<int64_t>{0, 1}));
}

TEST(CriteoParser, Mix64TokenHashDiffersFromValueHash) {
  const auto value = CriteoMapping("criteo: {hash_buckets: 1000}\n");
  const auto mixed = CriteoMapping("criteo: {hash_buckets: 1000, token_hash: mix64}\n");
  const std::string text = CriteoLine("0", {}, {"68fd1e64"}) + "\n";
  Batch a, b;
  BufferParser(value).Parse(text, &a);
  BufferParser(mixed).Parse(text, &b);
  EXPECT_EQ(Ids(a, value->spec(), "C1", 0), std::vector<int64_t>{853});
  EXPECT_EQ(Ids(b, mixed->spec(), "C1", 0),
            std::vector<int64_t>{static_cast<int64_t>(Mix64(0x68fd1e64) % 1000) + 1});
}

TEST(CriteoParser, CrlfLinesEqualLfLines) {
  const auto m = CriteoMapping();
  const std::string l1 = CriteoLine("0", {"1", "2"}, {"a", "b"});
  const std::string l2 = CriteoLine("1", {"", "7"}, {"", "c"});
  Batch lf, crlf;
  BufferParser p(m);
  ASSERT_EQ(p.Parse(l1 + "\n" + l2 + "\n", &lf), 2);
  ASSERT_EQ(p.Parse(l1 + "\r\n" + l2 + "\r\n", &crlf), 2);
  test::ExpectBatchesEqual(lf, crlf);
  Batch no_final_newline;
  ASSERT_EQ(p.Parse(l1 + "\r\n" + l2, &no_final_newline), 2);
  test::ExpectBatchesEqual(lf, no_final_newline);
}

TEST(CriteoParser, UnlabelledVariantHasNoLabels) {
  const auto m = CriteoMapping();
  const std::string labelled = CriteoLine("1", {"3"}, {"1f"}) + "\n";
  const std::string unlabelled = CriteoLine("", {"3"}, {"1f"}, /*labelled=*/false) + "\n";
  Batch a, b;
  BufferParser p(m);
  ASSERT_EQ(p.Parse(labelled, &a), 1);
  ASSERT_EQ(p.Parse(unlabelled, &b), 1);
  EXPECT_EQ(a.labels.size(), 1);
  EXPECT_TRUE(b.labels.empty());
  EXPECT_EQ(a.dense.ToVector(), b.dense.ToVector());
  for (size_t f = 0; f < a.sparse.size(); ++f) EXPECT_EQ(a.sparse[f].ids, b.sparse[f].ids);
}

TEST(CriteoParser, LabelsOptionRequiresTheColumnCount) {
  const auto absent = CriteoMapping("on_error: fail\ncriteo: {labels: absent}\n");
  Batch b;
  BufferParser p(absent);
  EXPECT_EQ(p.Parse(CriteoLine("", {}, {}, false) + "\n", &b), 1);
  try {
    p.Parse(CriteoLine("1", {}, {}) + "\n", &b, "x.tsv");
    FAIL() << "expected DataError";
  } catch (const DataError& e) {
    EXPECT_EQ(std::string(e.what()),
              "x.tsv:1: expected 39 tab-separated columns (I1..I13, C1..C26; this file has no "
              "label), found 40");
  }
}

TEST(CriteoReader, MixingLabelledAndUnlabelledFilesIsAnError) {
  test::TempDir dir;
  const std::string a = dir.Write("a.tsv", CriteoLine("1", {}, {}) + "\n");
  const std::string b = dir.Write("b.tsv", CriteoLine("", {}, {}, false) + "\n");
  InMemoryDataset ok(CriteoMapping(), {a}, ReaderOptions{});
  EXPECT_EQ(ok.num_rows(), 1);
  try {
    InMemoryDataset mixed(CriteoMapping(), {a, b}, ReaderOptions{});
    FAIL() << "expected DataError";
  } catch (const DataError& e) {
    EXPECT_NE(std::string(e.what()).find(b + ":1: this row has no label"), std::string::npos)
        << e.what();
  }
}

struct MalformedCase {
  const char* kind;
  std::string line;
  std::string message;  // after "file:2: "
};

std::vector<MalformedCase> MalformedCases() {
  return {
      {"column count", "1\t2\t3",
       "expected 40 tab-separated columns (label, I1..I13, C1..C26), found 3"},
      {"too many columns", CriteoLine("1", {}, {}) + "\tx",
       "expected 40 tab-separated columns (label, I1..I13, C1..C26), found 41"},
      {"non-numeric integer", CriteoLine("0", {"1", "2", "abc"}, {}),
       "field I3: 'abc' is not an integer"},
      {"float in integer field", CriteoLine("0", {"1.5"}, {}), "field I1: '1.5' is not an integer"},
      {"non-finite integer", CriteoLine("0", {"", "nan"}, {}), "field I2: 'nan' is not an integer"},
      {"integer overflow", CriteoLine("0", {"99999999999999999999"}, {}),
       "field I1: '99999999999999999999' does not fit in 64 bits"},
      {"negative overflow", CriteoLine("0", {"", "", "", "-9223372036854775809"}, {}),
       "field I4: '-9223372036854775809' does not fit in 64 bits"},
      {"non-hex token", CriteoLine("0", {}, {"", "xyz"}),
       "field C2: 'xyz' is not a hexadecimal token of 1 to 16 digits"},
      {"token over 64 bits", CriteoLine("0", {}, {"", "", "", "", "", "11112222333344445"}),
       "field C6: '11112222333344445' is not a hexadecimal token of 1 to 16 digits"},
      {"label not 0/1", CriteoLine("2", {}, {}), "field label: '2' is not 0 or 1 (task bce)"},
      {"missing label", CriteoLine("", {}, {}), "field label: the label is missing"},
      {"binary bytes", CriteoLine("1", {}, {std::string("a\0b", 3)}),
       "field C1: 'a\\x00b' is not a hexadecimal token of 1 to 16 digits"},
  };
}

TEST(CriteoReader, MalformedRowsAreSkippedAndCounted) {
  test::TempDir dir;
  for (const MalformedCase& c : MalformedCases()) {
    SCOPED_TRACE(c.kind);
    const std::string good = CriteoLine("1", {"1"}, {"a"});
    const std::string path = dir.Write("skip.tsv", good + "\n" + c.line + "\n" + good + "\n");
    auto m = CriteoMapping("on_error: skip\n");
    StreamingReader reader(m, {path}, ReaderOptions{});
    const auto batches = test::ReadAll(&reader);
    ASSERT_EQ(batches.size(), 1u);
    EXPECT_EQ(batches[0].size(), 2);
    EXPECT_EQ(reader.stats().rows, 2);
    EXPECT_EQ(reader.stats().rows_skipped, 1);
  }
}

TEST(CriteoReader, MalformedRowsFailWithFileLineAndField) {
  test::TempDir dir;
  for (const MalformedCase& c : MalformedCases()) {
    SCOPED_TRACE(c.kind);
    const std::string good = CriteoLine("1", {"1"}, {"a"});
    const std::string path = dir.Write("fail.tsv", good + "\n" + c.line + "\n" + good + "\n");
    auto m = CriteoMapping("on_error: fail\n");
    StreamingReader reader(m, {path}, ReaderOptions{});
    Batch b;
    try {
      reader.Next(&b);
      FAIL() << "expected DataError";
    } catch (const DataError& e) {
      EXPECT_EQ(std::string(e.what()), path + ":2: " + c.message);
    }
  }
}

// Found by fuzz_criteo_row (fuzz/regressions/fuzz_criteo_row/*mse_label_beyond_float_range): a
// real label such as 1e300 is a finite double but became inf in the float batch, so training
// failed later with a non-finite loss instead of a malformed-row report naming file:line.
TEST(CriteoReader, MseLabelsBeyondFloatRangeAreMalformed) {
  test::TempDir dir;
  const std::string good = CriteoLine("0.5", {"1"}, {"a"});
  const std::string largest = CriteoLine("-3.4e38", {"1"}, {"a"});  // just inside the range
  for (const std::string label : {"1e300", "-3.5e38", "3.41e38"}) {
    SCOPED_TRACE(label);
    const std::string path =
        dir.Write("mse.tsv", good + "\n" + CriteoLine(label, {"1"}, {"a"}) + "\n" + largest + "\n");
    StreamingReader skip(CriteoMapping("task: mse\non_error: skip\n"), {path}, ReaderOptions{});
    const auto batches = test::ReadAll(&skip);
    ASSERT_EQ(batches.size(), 1u);
    EXPECT_EQ(batches[0].labels.ToVector(), (std::vector<float>{0.5f, -3.4e38f}));
    EXPECT_EQ(skip.stats().rows_skipped, 1);

    StreamingReader fail(CriteoMapping("task: mse\non_error: fail\n"), {path}, ReaderOptions{});
    Batch b;
    try {
      fail.Next(&b);
      FAIL() << "expected DataError";
    } catch (const DataError& e) {
      EXPECT_EQ(std::string(e.what()),
                path + ":2: field label: '" + label + "' is too large for a 32-bit float");
    }
  }
}

TEST(CriteoReader, OverLongLinesFollowThePolicy) {
  test::TempDir dir;
  const std::string good = CriteoLine("1", {"1"}, {"a"});
  // A 10 MB line between two good ones; the default maximum is 1 MiB.
  const std::string huge = CriteoLine("0", {}, {std::string(10 << 20, 'f')});
  const std::string path = dir.Write("long.tsv", good + "\n" + huge + "\n" + good + "\r\n");
  {
    InMemoryDataset data(CriteoMapping(), {path}, ReaderOptions{});
    EXPECT_EQ(data.num_rows(), 2);
    EXPECT_EQ(data.stats().rows_skipped, 1);
  }
  try {
    InMemoryDataset data(CriteoMapping("on_error: fail\n"), {path}, ReaderOptions{});
    FAIL() << "expected DataError";
  } catch (const DataError& e) {
    EXPECT_EQ(std::string(e.what()),
              path + ":2: line is longer than the maximum of 1048576 bytes (max_line_bytes)");
  }
  // With a larger maximum the line is read, and its 10 MB token is what is wrong.
  try {
    InMemoryDataset data(CriteoMapping("on_error: fail\nmax_line_bytes: 16777216\n"), {path},
                         ReaderOptions{});
    FAIL() << "expected DataError";
  } catch (const DataError& e) {
    EXPECT_NE(std::string(e.what()).find(path + ":2: field C1: 'ffff"), std::string::npos);
    EXPECT_NE(std::string(e.what()).find("(10485760 bytes) is not a hexadecimal token"),
              std::string::npos)
        << e.what();
  }
}

TEST(CriteoReader, EmptyFileHasNoRows) {
  test::TempDir dir;
  const std::string path = dir.Write("empty.tsv", "");
  StreamingReader reader(CriteoMapping(), {path}, ReaderOptions{});
  Batch b;
  EXPECT_FALSE(reader.Next(&b));
  EXPECT_EQ(reader.stats().rows, 0);
  InMemoryDataset data(CriteoMapping(), {path}, ReaderOptions{});
  EXPECT_EQ(data.num_rows(), 0);
  EXPECT_FALSE(data.Next(&b));
  // Blank lines only: also no rows, nothing skipped.
  const std::string blank = dir.Write("blank.tsv", "\n\r\n\n");
  InMemoryDataset blanks(CriteoMapping("on_error: fail\n"), {blank}, ReaderOptions{});
  EXPECT_EQ(blanks.num_rows(), 0);
}

TEST(CriteoReader, BinaryGarbageNeverCrashes) {
  test::TempDir dir;
  Rng rng(42);
  std::string garbage(1 << 20, '\0');
  for (char& c : garbage) c = static_cast<char>(rng.NextU64() & 0xff);
  // Some lines that look almost right, with invalid UTF-8 and NUL bytes in tokens.
  for (int i = 0; i < 50; ++i) {
    garbage += "\n" + CriteoLine("1", {"1"}, {"\xff\xfe", std::string(1, '\0')});
  }
  const std::string path = dir.Write("garbage.tsv", garbage);
  InMemoryDataset skip(CriteoMapping(), {path}, ReaderOptions{});
  EXPECT_EQ(skip.num_rows(), 0);
  EXPECT_GT(skip.stats().rows_skipped, 50);
  EXPECT_THROW(InMemoryDataset(CriteoMapping("on_error: fail\n"), {path}, ReaderOptions{}),
               DataError);
}

TEST(CriteoReader, MissingFileOrDirectoryIsIoErrorNamingThePath) {
  test::TempDir dir;
  const std::string missing = dir.Path("nope.tsv");
  try {
    StreamingReader reader(CriteoMapping(), {missing}, ReaderOptions{});
    FAIL() << "expected IoError";
  } catch (const IoError& e) {
    EXPECT_EQ(std::string(e.what()), "cannot open '" + missing + "': no such file");
  }
  try {
    InMemoryDataset data(CriteoMapping(), {dir.Path("")}, ReaderOptions{});
    FAIL() << "expected IoError";
  } catch (const IoError& e) {
    EXPECT_NE(std::string(e.what()).find("it is a directory, expected a file"), std::string::npos);
  }
}

TEST(CriteoReader, VocabularyWithMinCountOovAndMissing) {
  test::TempDir dir;
  // C1 tokens: a x3, b x2, c x1, one missing.
  std::string text;
  for (const char* t : {"a", "b", "a", "c", "b", "a", ""}) text += CriteoLine("0", {}, {t}) + "\n";
  const std::string train = dir.Write("train.tsv", text);
  const DataConfig config = test::ConfigFromYaml(
      "criteo: {hash_buckets: 10, fields: {C1: {vocabulary: {min_count: 2}}}}\n");
  ASSERT_TRUE(DataMapping::NeedsPass(config));
  const auto m = test::MakeMapping(config, {train});
  const DataSpec& spec = m->spec();
  const size_t c1 = static_cast<size_t>(spec.SparseIndex("C1"));
  EXPECT_EQ(spec.sparse[c1].vocabulary_size, 4);  // missing, OOV, a, b
  Batch b;
  BufferParser p(m);
  std::string eval;
  for (const char* t : {"a", "b", "c", "d", ""}) eval += CriteoLine("1", {}, {t}) + "\n";
  ASSERT_EQ(p.Parse(eval, &b), 5);
  EXPECT_EQ(b.sparse[c1].ids, (std::vector<int64_t>{2, 3, 1, 1, 0}));
  // Other fields stay hashed.
  EXPECT_EQ(m->vocabulary(static_cast<size_t>(spec.SparseIndex("C2"))), nullptr);
  EXPECT_EQ(spec.sparse[static_cast<size_t>(spec.SparseIndex("C2"))].vocabulary_size, 11);
}

TEST(CriteoReader, VocabularyCapBoundsTheTokensCounted) {
  test::TempDir dir;
  // max_distinct 2: c and a fill the counter; b's arrival purges both (median count 1), then
  // b (3) and a (2 of 3) are counted, and c (seen once) is out of vocabulary.
  std::string text;
  for (const char* t : {"c", "a", "b", "a", "b", "b", "a"}) text += CriteoLine("0", {}, {t}) + "\n";
  const std::string train = dir.Write("train.tsv", text);
  const auto m = test::MakeMapping(
      test::ConfigFromYaml("criteo: {fields: {C1: {vocabulary: {max_distinct: 2}}}}\n"), {train});
  const size_t c1 = static_cast<size_t>(m->spec().SparseIndex("C1"));
  ASSERT_NE(m->vocabulary(c1), nullptr);
  EXPECT_EQ(m->vocabulary(c1)->keys(), (std::vector<uint64_t>{0xb, 0xa}));  // b (3) before a (2)
  Batch b;
  BufferParser(m).Parse(CriteoLine("0", {}, {"a"}) + "\n" + CriteoLine("0", {}, {"b"}) + "\n" +
                            CriteoLine("0", {}, {"c"}) + "\n",
                        &b);
  EXPECT_EQ(b.sparse[c1].ids, (std::vector<int64_t>{3, 2, 1}));
  // max_size keeps the most frequent tokens only.
  const auto top1 = test::MakeMapping(
      test::ConfigFromYaml("criteo: {fields: {C1: {vocabulary: {max_size: 1}}}}\n"), {train});
  EXPECT_EQ(top1->vocabulary(c1)->keys(),
            (std::vector<uint64_t>{0xa}));  // a and b tie at 3: smaller key
}

}  // namespace
}  // namespace crank
