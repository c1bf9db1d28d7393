#include "crank/data/mapping.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <sstream>
#include <string>

#include "crank/base/error.h"
#include "crank/data/batch_builder.h"
#include "crank/data/in_memory_dataset.h"
#include "crank/data/synthetic_criteo.h"
#include "crank/data/test_util.h"

namespace crank {
namespace {

std::string WriteSynthetic(const test::TempDir& dir, const std::string& name, int64_t rows,
                           uint64_t seed) {
  SyntheticOptions o;
  o.rows = rows;
  o.seed = seed;
  std::ostringstream out;
  GenerateSyntheticCriteo(o, out);
  return dir.Write(name, out.str());
}

TEST(DataMapping, RoundTripGivesIdenticalBatches) {
  test::TempDir dir;
  const std::string train = WriteSynthetic(dir, "train.tsv", 3000, 1);
  const std::string eval = WriteSynthetic(dir, "eval.tsv", 1000, 2);
  const DataConfig config = test::ConfigFromYaml(
      "criteo:\n"
      "  hash_buckets: 5000\n"
      "  fields: {C1: {vocabulary: {min_count: 2}}, C10: {vocabulary: {max_size: 100}},\n"
      "           C20: {hash_buckets: 3}}\n");
  const auto built = test::MakeMapping(config, {train});
  const std::string text = built->Serialize();
  const auto restored = std::make_shared<const DataMapping>(DataMapping::Deserialize(text));
  EXPECT_EQ(restored->Serialize(), text);
  ASSERT_EQ(restored->spec().num_sparse(), built->spec().num_sparse());
  for (size_t f = 0; f < built->spec().sparse.size(); ++f) {
    EXPECT_EQ(restored->spec().sparse[f].vocabulary_size, built->spec().sparse[f].vocabulary_size);
  }
  EXPECT_EQ(built->spec().sparse[0].vocabulary_size,
            2 + static_cast<int64_t>(built->vocabulary(0)->keys().size()));
  EXPECT_GT(built->vocabulary(0)->size(), 100);
  ReaderOptions options;
  options.batch_size = 128;
  InMemoryDataset a(built, {eval}, options);
  InMemoryDataset b(restored, {eval}, options);
  test::ExpectPassesEqual(test::ReadAll(&a), test::ReadAll(&b));
}

TEST(DataMapping, DelimitedRoundTripKeepsStatisticsAndVocabularies) {
  test::TempDir dir;
  const std::string data = dir.Write("d.csv", "x,k,y\n1.5,a,1\n2.5,b,0\n,a,1\n-3,c,0\n");
  const DataConfig config = test::ConfigFromYaml(
      "format: delimited\n"
      "delimited:\n"
      "  label: y\n"
      "  dense: [{name: x, transform: standardize, missing: mean}]\n"
      "  categorical: [{name: k, vocabulary: {}}]\n");
  const auto built = test::MakeMapping(config, {data});
  const auto restored =
      std::make_shared<const DataMapping>(DataMapping::Deserialize(built->Serialize()));
  EXPECT_EQ(restored->dense_stats(0).mean, built->dense_stats(0).mean);  // bit-exact
  EXPECT_EQ(restored->dense_stats(0).stddev, built->dense_stats(0).stddev);
  EXPECT_EQ(restored->vocabulary(0)->keys(), built->vocabulary(0)->keys());
  InMemoryDataset a(built, {data}, ReaderOptions{});
  InMemoryDataset b(restored, {data}, ReaderOptions{});
  test::ExpectPassesEqual(test::ReadAll(&a), test::ReadAll(&b));
}

TEST(DataMapping, HashedConfigNeedsNoPass) {
  const DataConfig config = test::ConfigFromYaml("format: criteo\n");
  EXPECT_FALSE(DataMapping::NeedsPass(config));
  // Missing training files are not even looked at.
  const DataMapping m = DataMapping::Build(config, {"/nonexistent/file.tsv"});
  EXPECT_EQ(m.spec().num_sparse(), 26);
}

// A counting pass over a pipe would leave nothing for training to read (and a second open of a
// FIFO waits for a writer): refused before anything is opened, naming the file.
TEST(DataMapping, CountingPassRefusesAPipe) {
  test::TempDir dir;
  const std::string fifo = dir.Path("fifo");
  ASSERT_EQ(mkfifo(fifo.c_str(), 0600), 0);
  const DataConfig config = test::ConfigFromYaml("criteo: {vocabulary: {min_count: 2}}\n");
  try {
    DataMapping::Build(config, {fifo});
    FAIL() << "expected ConfigError";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find(fifo + " is not a regular file"), std::string::npos)
        << e.what();
  }
  // Hashing needs no pass: the pipe is not looked at.
  EXPECT_EQ(
      DataMapping::Build(test::ConfigFromYaml("format: criteo\n"), {fifo}).spec().num_sparse(), 26);
}

TEST(DataMapping, ConfigInMappingOmitsRunFiles) {
  DataConfig config = test::ConfigFromYaml("train: /x/train.tsv\neval: /x/eval.tsv\n");
  const DataMapping m = DataMapping::Build(config, {});
  EXPECT_TRUE(m.config().train_files.empty());
  EXPECT_EQ(m.Serialize().find("/x/train.tsv"), std::string::npos);
}

TEST(DataMapping, CorruptTextIsIoError) {
  test::TempDir dir;
  const std::string train = WriteSynthetic(dir, "train.tsv", 200, 3);
  const auto m = test::MakeMapping(
      test::ConfigFromYaml("criteo: {fields: {C1: {vocabulary: {}}}}\n"), {train});
  const std::string text = m->Serialize();
  EXPECT_THROW(DataMapping::Deserialize(""), IoError);
  EXPECT_THROW(DataMapping::Deserialize(text.substr(0, text.size() / 2)), IoError);
  EXPECT_THROW(DataMapping::Deserialize(text.substr(0, text.size() - 1)), IoError);
  EXPECT_THROW(DataMapping::Deserialize(text + "x"), IoError);
  std::string other_version = text;
  other_version[other_version.find('1')] = '2';
  EXPECT_THROW(DataMapping::Deserialize(other_version), IoError);
  std::string bad_key = text;
  const size_t vocab = bad_key.find(" vocabulary ");
  ASSERT_NE(vocab, std::string::npos);
  bad_key[bad_key.find('\n', vocab) + 3] = 'z';
  EXPECT_THROW(DataMapping::Deserialize(bad_key), IoError);
  std::string bad_config = text;
  bad_config.replace(bad_config.find("format: criteo"), 14, "format: crit3o");
  EXPECT_THROW(DataMapping::Deserialize(bad_config), IoError);
}

// Maps every line of `text` (after its header line when `header`) both ways: Apply into an
// Example then BatchBuilder::Append, and Apply straight into the builder.
void ExpectBothApplyFormsAgree(const DataMapping& m, const std::string& text, bool header) {
  std::unique_ptr<RowParser> parser = MakeRowParser(m.config(), m.schema());
  parser->BeginFile("t");
  Batch a, b;
  BatchBuilder via_example, direct;
  via_example.Begin(m.spec(), &a);
  direct.Begin(m.spec(), &b);
  RawRow raw;
  Example example;
  std::istringstream in(text);
  int64_t rows = 0;
  for (std::string line; std::getline(in, line);) {
    if (header && parser->ExpectsHeader()) {
      parser->ParseHeader(line);
      continue;
    }
    std::string error;
    ASSERT_TRUE(parser->Parse(line, &raw, &error)) << error;
    m.Apply(raw, &example);
    via_example.Append(example);
    m.Apply(raw, &direct);
    ++rows;
  }
  EXPECT_EQ(via_example.Finish(), rows);
  EXPECT_EQ(direct.Finish(), rows);
  ASSERT_GT(rows, 0);
  test::ExpectBatchesEqual(a, b);
}

TEST(DataMapping, ApplyIntoBuilderEqualsApplyThenAppend) {
  test::TempDir dir;
  const std::string train = WriteSynthetic(dir, "train.tsv", 500, 4);
  const auto criteo = test::MakeMapping(
      test::ConfigFromYaml(
          "criteo:\n"
          "  hash_buckets: 5000\n"
          "  fields: {C1: {vocabulary: {min_count: 2}}, C20: {hash_buckets: 3}}\n"),
      {train});
  std::ostringstream eval;
  SyntheticOptions o;
  o.rows = 300;
  o.seed = 5;
  GenerateSyntheticCriteo(o, eval);
  ExpectBothApplyFormsAgree(*criteo, eval.str(), false);

  // Statistics, a mean for missing values, multi-hot lists with an empty cell, weights.
  const std::string csv = "x,k,g,y,w\n1.5,a,p|q|r,1,2\n2.5,b,,0,1\n,a,q,1,0.5\n-3,c,r|p,0,1\n";
  const std::string data = dir.Write("d.csv", csv);
  const auto delimited = test::MakeMapping(
      test::ConfigFromYaml("format: delimited\n"
                           "delimited:\n"
                           "  label: y\n"
                           "  weight: w\n"
                           "  dense: [{name: x, transform: standardize, missing: mean}]\n"
                           "  categorical: [{name: k, vocabulary: {}}]\n"
                           "  multi_hot: [{name: g, hash_buckets: 7}]\n"),
      {data});
  ExpectBothApplyFormsAgree(*delimited, csv, true);
}

}  // namespace
}  // namespace crank
