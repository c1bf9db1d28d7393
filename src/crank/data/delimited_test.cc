// Delimited (CSV/TSV + schema) input: field splitting, derived fields, a hand-computed schema
// example with a join, malformed rows, and the MovieLens example configuration.

#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <cmath>
#include <filesystem>
#include <set>
#include <string>
#include <vector>

#include "crank/base/error.h"
#include "crank/base/rng.h"
#include "crank/data/buffer_parser.h"
#include "crank/data/delimited_text.h"
#include "crank/data/derived_fields.h"
#include "crank/data/in_memory_dataset.h"
#include "crank/data/mapping.h"
#include "crank/data/streaming_reader.h"
#include "crank/data/test_util.h"
#include "movielens_data.h"

namespace crank {
namespace {

std::vector<std::string> Split(std::string_view line, char delimiter = ',') {
  std::vector<std::string_view> fields;
  std::string scratch, error;
  EXPECT_TRUE(SplitDelimited(line, delimiter, &fields, &scratch, &error)) << error;
  return std::vector<std::string>(fields.begin(), fields.end());
}

std::string SplitError(std::string_view line) {
  std::vector<std::string_view> fields;
  std::string scratch, error;
  EXPECT_FALSE(SplitDelimited(line, ',', &fields, &scratch, &error));
  return error;
}

TEST(SplitDelimited, HandlesQuotesEscapesAndEmptyFields) {
  EXPECT_EQ(Split("a,\"b,c\",\"d\"\"e\",,\"\",f"),
            (std::vector<std::string>{"a", "b,c", "d\"e", "", "", "f"}));
  EXPECT_EQ(Split("11,\"American President, The (1995)\",Comedy|Drama"),
            (std::vector<std::string>{"11", "American President, The (1995)", "Comedy|Drama"}));
  EXPECT_EQ(Split(""), (std::vector<std::string>{""}));
  EXPECT_EQ(Split(","), (std::vector<std::string>{"", ""}));
  EXPECT_EQ(Split("x\"y,z"), (std::vector<std::string>{"x\"y", "z"}));  // quote inside a field
  EXPECT_EQ(Split("\"\"\"a\"\"\""), (std::vector<std::string>{"\"a\""}));
  EXPECT_EQ(Split("a\tb c\t", '\t'), (std::vector<std::string>{"a", "b c", ""}));
  EXPECT_EQ(SplitError("a,\"bc"), "column 2: unterminated quoted field");
  EXPECT_EQ(SplitError("\"ab\"c,d"), "column 1: unexpected text after a closing quote");
}

TEST(ParseNumber, AcceptsDecimalsAndRejectsNonFinite) {
  double v = 0.0;
  EXPECT_EQ(ParseNumber(" 4.5 ", &v), NumberStatus::kOk);
  EXPECT_EQ(v, 4.5);
  EXPECT_EQ(ParseNumber("+2e3", &v), NumberStatus::kOk);
  EXPECT_EQ(v, 2000.0);
  EXPECT_EQ(ParseNumber("-0.25", &v), NumberStatus::kOk);
  EXPECT_EQ(v, -0.25);
  EXPECT_EQ(ParseNumber("1e-400", &v), NumberStatus::kOk);  // underflow is a tiny number
  EXPECT_EQ(v, 0.0);
  EXPECT_EQ(ParseNumber("", &v), NumberStatus::kEmpty);
  EXPECT_EQ(ParseNumber("  ", &v), NumberStatus::kEmpty);
  EXPECT_EQ(ParseNumber("nan", &v), NumberStatus::kNonFinite);
  EXPECT_EQ(ParseNumber("-inf", &v), NumberStatus::kNonFinite);
  EXPECT_EQ(ParseNumber("1e999", &v), NumberStatus::kNonFinite);
  EXPECT_EQ(ParseNumber("12abc", &v), NumberStatus::kInvalid);
  EXPECT_EQ(ParseNumber("+-1", &v), NumberStatus::kInvalid);
  EXPECT_EQ(ParseNumber("0x10", &v), NumberStatus::kInvalid);
}

TEST(DerivedFields, TitleYearTakesTheLastParenthesisedYear) {
  EXPECT_EQ(TitleYear("Toy Story (1995)"), 1995.0);
  EXPECT_EQ(TitleYear("Babylon 5 (1994) (TV)"), 1994.0);
  EXPECT_EQ(TitleYear("Some Movie (2001) "), 2001.0);
  EXPECT_EQ(TitleYear("1984 (1956)"), 1956.0);
  EXPECT_TRUE(std::isnan(TitleYear("No Year")));
  EXPECT_TRUE(std::isnan(TitleYear("(19x5)")));
  EXPECT_TRUE(std::isnan(TitleYear("")));
}

TEST(DerivedFields, CivilTimeOfUnixSeconds) {
  CivilTime t = CivilFromUnixSeconds(964982703);  // 2000-07-30 18:45:03, a Sunday
  EXPECT_EQ(t.year, 2000);
  EXPECT_EQ(t.month, 7);
  EXPECT_EQ(t.day, 30);
  EXPECT_EQ(t.day_of_week, 6);
  EXPECT_EQ(t.hour, 18);
  t = CivilFromUnixSeconds(951782400);  // 2000-02-29 00:00, a Tuesday
  EXPECT_EQ(t.month, 2);
  EXPECT_EQ(t.day, 29);
  EXPECT_EQ(t.day_of_week, 1);
  t = CivilFromUnixSeconds(-1);  // 1969-12-31 23:59:59, a Wednesday
  EXPECT_EQ(t.year, 1969);
  EXPECT_EQ(t.month, 12);
  EXPECT_EQ(t.day, 31);
  EXPECT_EQ(t.day_of_week, 2);
  EXPECT_EQ(t.hour, 23);
  t = CivilFromUnixSeconds(253402300799);  // 9999-12-31 23:59:59, a Friday
  EXPECT_EQ(t.year, 9999);
  EXPECT_EQ(t.day_of_week, 4);
  EXPECT_EQ(TimestampField(0, Derive::kDayOfWeek), 3);  // 1970-01-01, a Thursday
}

// A small schema exercising every kind of field; expected values are worked out by hand.
class SmallSchema : public ::testing::Test {
 protected:
  void SetUp() override {
    items_ = dir_.Write("items.csv",
                        "item,title,tags\n"
                        "i1,\"Movie, The (1995)\",a|b\n"
                        "i2,No Year,b|c|b\n");
    ratings_ = dir_.Write("ratings.csv",
                          "user,item,x,y,w,ts\n"
                          "u1,i1,3,4.5,1,964982703\n"
                          "u2,i2,,2,0.5,0\n"
                          "u1,i3,1,1,2,86399\n");
  }
  std::string Yaml(const std::string& extra = "") const {
    return "format: delimited\n"
           "task: mse\n" +
           extra +
           "delimited:\n"
           "  label: y\n"
           "  weight: w\n"
           "  join: {file: " +
           items_ +
           ", key: item, columns: [title, tags]}\n"
           "  dense:\n"
           "    - x\n"
           "    - {name: lx, column: x, transform: log1p}\n"
           "    - {name: zx, column: x, transform: standardize, missing: mean}\n"
           "    - {name: year, column: title, derive: title_year}\n"
           "    - {name: hour, column: ts, derive: hour}\n"
           "  categorical:\n"
           "    - {name: user, hash_buckets: 50}\n"
           "    - {name: item, vocabulary: {}}\n"
           "    - {name: dow, column: ts, derive: day_of_week, vocabulary: {}}\n"
           "  multi_hot:\n"
           "    - {name: tags, separator: '|', vocabulary: {min_count: 2}}\n";
  }

  test::TempDir dir_;
  std::string items_, ratings_;
};

TEST_F(SmallSchema, MapsEveryFieldKind) {
  const auto m = test::MakeMapping(test::ConfigFromYaml(Yaml()), {ratings_});
  const DataSpec& spec = m->spec();
  EXPECT_EQ(spec.dense, (std::vector<std::string>{"x", "lx", "zx", "year", "hour"}));
  ASSERT_EQ(spec.num_sparse(), 4);
  EXPECT_EQ(spec.sparse[0].name, "dow");
  EXPECT_EQ(spec.sparse[1].name, "item");
  EXPECT_EQ(spec.sparse[2].name, "tags");
  EXPECT_EQ(spec.sparse[3].name, "user");
  EXPECT_EQ(spec.sparse[0].vocabulary_size, 4);   // missing, OOV, "3", "6"
  EXPECT_EQ(spec.sparse[1].vocabulary_size, 5);   // missing, OOV, i1, i2, i3
  EXPECT_EQ(spec.sparse[2].vocabulary_size, 3);   // missing, OOV, b (a and c seen once)
  EXPECT_EQ(spec.sparse[3].vocabulary_size, 51);  // 50 buckets
  EXPECT_TRUE(spec.sparse[2].multi_hot);
  EXPECT_FALSE(spec.sparse[1].multi_hot);
  EXPECT_EQ(spec.label, LabelKind::kReal);
  EXPECT_TRUE(spec.weighted);
  EXPECT_EQ(m->dense_stats(2).count, 2);
  EXPECT_DOUBLE_EQ(m->dense_stats(2).mean, 2.0);
  EXPECT_DOUBLE_EQ(m->dense_stats(2).stddev, 1.0);

  InMemoryDataset data(m, {ratings_}, ReaderOptions{});
  Batch b;
  ASSERT_TRUE(data.Next(&b));
  ASSERT_EQ(b.size(), 3);
  const std::vector<float> expected_dense = {3,  std::log(4.0f),
                                             1,  1995,
                                             18,  // x, log1p(x), (x - 2) / 1, year, hour
                                             0,  0,
                                             0,  0,
                                             0,  // x missing: 0, 0, mean -> 0; no year; hour 0
                                             1,  std::log(2.0f),
                                             -1, 0,
                                             23};  // item i3 is not in items.csv: no title
  const std::vector<float> dense = b.dense.ToVector();
  ASSERT_EQ(dense.size(), expected_dense.size());
  for (size_t i = 0; i < dense.size(); ++i) EXPECT_FLOAT_EQ(dense[i], expected_dense[i]) << i;
  EXPECT_EQ(b.labels.ToVector(), (std::vector<float>{4.5f, 2.0f, 1.0f}));
  EXPECT_EQ(b.weights.ToVector(), (std::vector<float>{1.0f, 0.5f, 2.0f}));
  // dow: Sunday (6) once, Thursday (3) twice -> "3" = 2, "6" = 3.
  EXPECT_EQ(b.sparse[0].ids, (std::vector<int64_t>{3, 2, 2}));
  // item: three tokens seen once each; ids 2..4 in token-hash order.
  EXPECT_EQ(std::set<int64_t>(b.sparse[1].ids.begin(), b.sparse[1].ids.end()),
            (std::set<int64_t>{2, 3, 4}));
  // tags: a|b, b|c|b, (no item) -> b = 2, a and c OOV, missing = 0.
  EXPECT_EQ(b.sparse[2].ids, (std::vector<int64_t>{1, 2, 2, 1, 2, 0}));
  EXPECT_EQ(b.sparse[2].offsets, (std::vector<int64_t>{0, 2, 5, 6}));
  // user: hashed; u1 twice.
  EXPECT_EQ(b.sparse[3].ids[0], b.sparse[3].ids[2]);
  EXPECT_NE(b.sparse[3].ids[0], b.sparse[3].ids[1]);
  for (int64_t id : b.sparse[3].ids) EXPECT_TRUE(id >= 1 && id <= 50);
  EXPECT_FALSE(data.Next(&b));
}

TEST_F(SmallSchema, ColumnsAreFoundByNameInEveryFile) {
  const auto m = test::MakeMapping(test::ConfigFromYaml(Yaml()), {ratings_});
  const std::string reordered = dir_.Write("reordered.csv",
                                           "\xEF\xBB\xBFts,y,w,x,item,user\r\n"
                                           "964982703,4.5,1,3,i1,u1\r\n"
                                           "0,2,0.5,,i2,u2\r\n"
                                           "86399,1,2,1,i3,u1\r\n");
  InMemoryDataset a(m, {ratings_}, ReaderOptions{});
  InMemoryDataset b(m, {reordered}, ReaderOptions{});
  test::ExpectPassesEqual(test::ReadAll(&a), test::ReadAll(&b));
}

TEST_F(SmallSchema, FileWithoutLabelColumnIsUnlabelled) {
  const auto m = test::MakeMapping(test::ConfigFromYaml(Yaml()), {ratings_});
  const std::string predict = dir_.Write("predict.csv", "user,item,x,ts\nu1,i1,3,964982703\n");
  InMemoryDataset data(m, {predict}, ReaderOptions{});
  Batch b;
  ASSERT_TRUE(data.Next(&b));
  EXPECT_EQ(b.size(), 1);
  EXPECT_TRUE(b.labels.empty());
  EXPECT_FLOAT_EQ(b.dense.at(0, 3), 1995.0f);
}

// The label column decides: without it a file is read for prediction, and the weight column is
// neither required nor read (present or not, with any text); batches then carry weights of 1.
// A file with the label column needs the weight column.
TEST_F(SmallSchema, WeightColumnIsReadOnlyWithTheLabelColumn) {
  const auto m = test::MakeMapping(test::ConfigFromYaml(Yaml("on_error: fail\n")), {ratings_});
  const std::string with_weight =
      dir_.Write("predict_w.csv", "user,item,x,w,ts\nu1,i1,3,abc,964982703\nu2,i2,1,-1,0\n");
  const std::string without_weight =
      dir_.Write("predict.csv", "user,item,x,ts\nu1,i1,3,964982703\nu2,i2,1,0\n");
  for (const std::string& path : {with_weight, without_weight}) {
    SCOPED_TRACE(path);
    InMemoryDataset data(m, {path}, ReaderOptions{});
    Batch b;
    ASSERT_TRUE(data.Next(&b));
    EXPECT_EQ(b.size(), 2);
    EXPECT_TRUE(b.labels.empty());
    EXPECT_EQ(b.weights.ToVector(), (std::vector<float>{1.0f, 1.0f}));
  }
  const std::string labelled = dir_.Write("labelled.csv", "user,item,x,y,ts\nu1,i1,3,4.5,0\n");
  try {
    InMemoryDataset data(m, {labelled}, ReaderOptions{});
    FAIL() << "expected DataError";
  } catch (const DataError& e) {
    EXPECT_EQ(std::string(e.what()), labelled +
                                         ": the header has no column 'w' (the weight column); "
                                         "columns: user, item, x, y, ts");
  }
}

TEST_F(SmallSchema, HeaderWithoutAColumnIsDataErrorNamingIt) {
  const auto m = test::MakeMapping(test::ConfigFromYaml(Yaml()), {ratings_});
  const std::string bad = dir_.Write("bad.csv", "user,item,y,w,ts\nu1,i1,4.5,1,0\n");
  try {
    InMemoryDataset data(m, {bad}, ReaderOptions{});
    FAIL() << "expected DataError";
  } catch (const DataError& e) {
    EXPECT_EQ(
        std::string(e.what()),
        bad + ": the header has no column 'x' (dense field x); columns: user, item, y, w, ts");
  }
}

TEST_F(SmallSchema, HeaderOnlyFileHasNoRows) {
  const auto m = test::MakeMapping(test::ConfigFromYaml(Yaml()), {ratings_});
  const std::string header_only = dir_.Write("header.csv", "user,item,x,y,w,ts\n");
  StreamingReader reader(m, {header_only}, ReaderOptions{});
  Batch b;
  EXPECT_FALSE(reader.Next(&b));
  EXPECT_EQ(reader.stats().rows, 0);
  EXPECT_EQ(reader.stats().rows_skipped, 0);
}

TEST_F(SmallSchema, MalformedRowsFollowThePolicy) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"u1,i1,3,4.5,1", "expected 6 columns (as in the header), found 5"},
      {"u1,i1,nan,4.5,1,0", "field x: 'nan' is not a finite number"},
      {"u1,i1,inf,4.5,1,0", "field x: 'inf' is not a finite number"},
      {"u1,i1,three,4.5,1,0", "field x: 'three' is not a number"},
      {"u1,i1,3,high,1,0", "field y: 'high' is not a number"},
      {"u1,i1,3,,1,0", "field y: the label is missing"},
      {"u1,i1,3,1e999,1,0", "field y: '1e999' is not a finite number"},
      {"u1,i1,3,4.5,-1,0", "field w: '-1' is not a finite number >= 0 (sample weight)"},
      {"u1,i1,3,4.5,nan,0", "field w: 'nan' is not a finite number >= 0 (sample weight)"},
      {"u1,i1,3,4.5,heavy,0", "field w: 'heavy' is not a finite number >= 0 (sample weight)"},
      {"u1,i1,3,4.5,1,yesterday", "field ts: 'yesterday' is not a unix timestamp in seconds"},
      {"u1,\"i1,3,4.5,1,0", "column 2: unterminated quoted field"},
  };
  for (const auto& [line, message] : cases) {
    SCOPED_TRACE(line);
    const std::string path =
        dir_.Write("m.csv", "user,item,x,y,w,ts\nu1,i1,3,4.5,1,0\n" + line + "\nu2,i2,1,2,1,0\n");
    const auto skip = test::MakeMapping(test::ConfigFromYaml(Yaml("on_error: skip\n")));
    InMemoryDataset data(skip, {path}, ReaderOptions{});
    EXPECT_EQ(data.num_rows(), 2);
    EXPECT_EQ(data.stats().rows_skipped, 1);
    const auto fail = test::MakeMapping(test::ConfigFromYaml(Yaml("on_error: fail\n")));
    try {
      InMemoryDataset failing(fail, {path}, ReaderOptions{});
      FAIL() << "expected DataError";
    } catch (const DataError& e) {
      EXPECT_EQ(std::string(e.what()), path + ":3: " + message);
    }
  }
}

// Found by fuzz_delimited (fuzz/regressions/fuzz_delimited/label_beyond_float_range,
// weight_beyond_float_range): a label or weight such as 1e300 is a finite double but became inf
// in the float batch, so training failed later with a non-finite loss instead of a malformed-row
// report naming file:line.
TEST_F(SmallSchema, LabelsAndWeightsBeyondFloatRangeAreMalformed) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"u1,i1,3,1e300,1,0", "field y: '1e300' is too large for a 32-bit float"},
      {"u1,i1,3,-3.5e38,1,0", "field y: '-3.5e38' is too large for a 32-bit float"},
      {"u1,i1,3,4.5,1e300,0", "field w: '1e300' is too large for a 32-bit float (sample weight)"},
      {"u1,i1,3,4.5,3.5e38,0", "field w: '3.5e38' is too large for a 32-bit float (sample weight)"},
  };
  const auto skip = test::MakeMapping(test::ConfigFromYaml(Yaml("on_error: skip\n")));
  const auto fail = test::MakeMapping(test::ConfigFromYaml(Yaml("on_error: fail\n")));
  for (const auto& [line, message] : cases) {
    SCOPED_TRACE(line);
    const std::string path = dir_.Write(
        "big.csv", "user,item,x,y,w,ts\nu1,i1,3,4.5,1,0\n" + line + "\nu2,i2,1,3.4e38,3.4e38,0\n");
    InMemoryDataset data(skip, {path}, ReaderOptions{});
    EXPECT_EQ(data.num_rows(), 2);
    EXPECT_EQ(data.stats().rows_skipped, 1);
    Batch b;
    ASSERT_TRUE(data.Next(&b));
    // The largest values inside the float range are kept as they are.
    EXPECT_EQ(b.labels.ToVector(), (std::vector<float>{4.5f, 3.4e38f}));
    EXPECT_EQ(b.weights.ToVector(), (std::vector<float>{1.0f, 3.4e38f}));
    try {
      InMemoryDataset failing(fail, {path}, ReaderOptions{});
      FAIL() << "expected DataError";
    } catch (const DataError& e) {
      EXPECT_EQ(std::string(e.what()), path + ":3: " + message);
    }
  }
}

// Found by fuzz_delimited (fuzz/regressions/fuzz_delimited/dense_values_overflow_statistics):
// dense values near the double limit overflowed the standardisation statistics (infinite mean,
// NaN in batches, a mapping that Deserialize refused).
TEST_F(SmallSchema, DenseValuesBeyondFloatRangeAreMalformed) {
  const std::string path = dir_.Write("huge.csv",
                                      "user,item,x,y,w,ts\n"
                                      "u1,i1,1,1,1,0\n"
                                      "u1,i1,1.7e308,1,1,0\n"
                                      "u2,i2,1.7e308,1,1,0\n"
                                      "u1,i1,-1.7e308,1,1,0\n"
                                      "u2,i2,3,1,1,0\n");
  const auto m = test::MakeMapping(test::ConfigFromYaml(Yaml("on_error: skip\n")), {path});
  const DenseStats& zx = m->dense_stats(2);  // x standardised with the training mean
  EXPECT_EQ(zx.count, 2);
  EXPECT_DOUBLE_EQ(zx.mean, 2.0);
  EXPECT_DOUBLE_EQ(zx.stddev, 1.0);
  EXPECT_EQ(DataMapping::Deserialize(m->Serialize()).Serialize(), m->Serialize());
  InMemoryDataset data(m, {path}, ReaderOptions{});
  EXPECT_EQ(data.num_rows(), 2);
  EXPECT_EQ(data.stats().rows_skipped, 3);
  try {
    test::MakeMapping(test::ConfigFromYaml(Yaml("on_error: fail\n")), {path});
    FAIL() << "expected DataError";
  } catch (const DataError& e) {
    EXPECT_EQ(std::string(e.what()),
              path + ":3: field x: '1.7e308' is too large for a 32-bit float");
  }

  // Values inside the float range are read; after the transform they are clipped to +-1e9.
  const std::string large =
      dir_.Write("large.csv", "user,item,x,y,w,ts\nu1,i1,3e38,1,1,0\nu2,i2,-3e38,1,1,0\n");
  const auto l = test::MakeMapping(test::ConfigFromYaml(Yaml()), {large});
  EXPECT_DOUBLE_EQ(l->dense_stats(2).mean, 0.0);
  EXPECT_DOUBLE_EQ(l->dense_stats(2).stddev, 3e38);
  InMemoryDataset rows(l, {large}, ReaderOptions{});
  Batch b;
  ASSERT_TRUE(rows.Next(&b));
  EXPECT_EQ(b.dense.at(0, 0), 1e9f);                                        // x: 3e38 clipped
  EXPECT_EQ(b.dense.at(1, 0), -1e9f);                                       // x: -3e38 clipped
  EXPECT_FLOAT_EQ(b.dense.at(0, 1), static_cast<float>(std::log1p(3e38)));  // lx
  EXPECT_EQ(b.dense.at(1, 1), 0.0f);         // lx of a negative value
  EXPECT_FLOAT_EQ(b.dense.at(0, 2), 1.0f);   // zx
  EXPECT_FLOAT_EQ(b.dense.at(1, 2), -1.0f);  // zx
}

TEST_F(SmallSchema, BceLabelsMustBeZeroOrOne) {
  std::string yaml = Yaml("on_error: fail\n");
  yaml.replace(yaml.find("task: mse"), 9, "task: bce");
  const std::string path =
      dir_.Write("bce.csv", "user,item,x,y,w,ts\nu1,i1,3,1.0,1,0\nu1,i1,3,0.5,1,0\n");
  try {
    InMemoryDataset data(test::MakeMapping(test::ConfigFromYaml(yaml)), {path}, ReaderOptions{});
    FAIL() << "expected DataError";
  } catch (const DataError& e) {
    EXPECT_EQ(std::string(e.what()), path + ":3: field y: '0.5' is not 0 or 1 (task bce)");
  }
}

TEST_F(SmallSchema, DuplicateJoinKeysFollowThePolicy) {
  const std::string items =
      dir_.Write("dup.csv", "item,title,tags\ni1,A (2000),a\ni1,B (2001),b\n");
  std::string yaml = Yaml("on_error: fail\n");
  yaml.replace(yaml.find(items_), items_.size(), items);
  try {
    test::MakeMapping(test::ConfigFromYaml(yaml), {ratings_});
    FAIL() << "expected DataError";
  } catch (const DataError& e) {
    EXPECT_EQ(std::string(e.what()), items + ":3: duplicate key 'i1' (first at line 2)");
  }
}

TEST(DelimitedReader, BinaryGarbageNeverCrashes) {
  test::TempDir dir;
  Rng rng(7);
  std::string garbage = "a,b,label\n";
  for (int i = 0; i < (1 << 18); ++i) {
    const uint64_t r = rng.NextU64();
    garbage += (r & 0xf) == 0   ? '\n'
               : (r & 0xf) == 1 ? ','
               : (r & 0xf) == 2 ? '"'
                                : static_cast<char>(r >> 56);
  }
  const std::string path = dir.Write("garbage.csv", garbage);
  const std::string yaml =
      "format: delimited\n"
      "delimited: {label: label, dense: [a], categorical: [{name: b, hash_buckets: 10}]}\n";
  InMemoryDataset data(test::MakeMapping(test::ConfigFromYaml(yaml)), {path}, ReaderOptions{});
  EXPECT_GT(data.stats().rows_skipped, 1000);
  EXPECT_THROW(InMemoryDataset(test::MakeMapping(test::ConfigFromYaml("on_error: fail\n" + yaml)),
                               {path}, ReaderOptions{}),
               DataError);
}

// The example configuration examples/movielens.yaml on the real data, which lives outside the
// repository: skipped, saying how to get it, when it is absent. movielens_synthetic_test.cc runs
// the same paths on generated rows.
class MovieLens : public ::testing::Test {
 protected:
  void SetUp() override {
    if (const std::string missing = testing::MovieLensMissing(); !missing.empty()) {
      GTEST_SKIP() << missing;
    }
  }
  static DataConfig Config() {
    const std::string path = CRANK_SOURCE_DIR "/examples/movielens.yaml";
    const YAML::Node root = YAML::LoadFile(path);
    return DataConfig::FromYaml(root["data"], path);
  }
};

TEST_F(MovieLens, ExampleConfigReadsRatingsJoinedWithMovies) {
  const DataConfig config = Config();
  ASSERT_EQ(config.train_files.size(), 1u);
  EXPECT_EQ(config.train_files[0],
            (testing::MovieLensDir() / "ratings.csv").lexically_normal().string());
  const auto m = test::MakeMapping(config, config.train_files);
  const DataSpec& spec = m->spec();
  EXPECT_EQ(spec.dense, (std::vector<std::string>{"movie_year", "rating_year"}));
  ASSERT_EQ(spec.num_sparse(), 5);
  EXPECT_EQ(spec.sparse[0].name, "genres");
  EXPECT_TRUE(spec.sparse[0].multi_hot);
  EXPECT_EQ(spec.sparse[0].vocabulary_size, 2 + 20);  // 19 genres + "(no genres listed)"
  EXPECT_EQ(spec.sparse[1].name, "movieId");
  EXPECT_GT(spec.sparse[1].vocabulary_size, 8000);
  EXPECT_EQ(spec.sparse[2].name, "rating_day_of_week");
  EXPECT_EQ(spec.sparse[2].vocabulary_size, 2 + 7);
  EXPECT_EQ(spec.sparse[3].name, "rating_hour");
  EXPECT_EQ(spec.sparse[3].vocabulary_size, 2 + 24);
  EXPECT_EQ(spec.sparse[4].name, "userId");
  EXPECT_EQ(spec.sparse[4].vocabulary_size, 2 + 610);
  EXPECT_EQ(spec.label, LabelKind::kReal);
  // Movie years lie around 1995; nearly every title has a year.
  EXPECT_NEAR(m->dense_stats(0).mean, 1994, 5);
  EXPECT_GT(m->dense_stats(0).count, 90000);

  ReaderOptions eval_options;
  eval_options.split = RowSplit::kEval;
  eval_options.batch_size = 100000;
  InMemoryDataset eval(m, config.eval_files, eval_options);
  EXPECT_EQ(eval.num_rows(), 10084);  // data rows 1, 11, 21, ... of 100,836
  Batch b;
  ASSERT_TRUE(eval.Next(&b));
  // The first held-out row: user 1 rated Toy Story (1995), Adventure|Animation|Children|
  // Comedy|Fantasy, 4.0 stars at 964982703 (2000-07-30 18:45:03 UTC, a Sunday).
  EXPECT_EQ(b.labels[0], 4.0f);
  EXPECT_FLOAT_EQ(b.dense.at(0, 0),
                  static_cast<float>((1995 - m->dense_stats(0).mean) / m->dense_stats(0).stddev));
  EXPECT_EQ(b.sparse[0].offsets[1], 5);  // five genres
  std::set<int64_t> genres(b.sparse[0].ids.begin(), b.sparse[0].ids.begin() + 5);
  EXPECT_EQ(genres.size(), 5u);
  EXPECT_EQ(genres.count(Vocabulary::kOovId), 0u);
  // A quoted title with a comma parsed correctly: no dense value is missing-and-not-mean.
  for (int64_t i = 0; i < b.size(); ++i) ASSERT_TRUE(std::isfinite(b.dense.at(i, 0)));
}

TEST_F(MovieLens, HoldOutSplitReproducesTheGlobalMeanBaseline) {
  const test::MeanBaseline r = test::GlobalMeanBaseline(Config());
  EXPECT_EQ(r.train_rows, 90752);
  EXPECT_EQ(r.train_rows_filtered, 10084);
  EXPECT_EQ(r.eval_rows, 10084);
  EXPECT_NEAR(r.eval_rmse, 1.0436, 5e-5);  // shared/data/README.md
}

}  // namespace
}  // namespace crank
