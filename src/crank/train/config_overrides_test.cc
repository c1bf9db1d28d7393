#include "crank/train/config_overrides.h"

#include <gtest/gtest.h>

#include "crank/base/error.h"
#include "crank/train/job_config.h"

namespace crank {
namespace {

TEST(ApplyOverrides, EmptyOverridesChangeNothing) {
  JobConfig c;
  const std::string before = c.ToYaml();
  c.ApplyOverrides({});
  EXPECT_EQ(c.ToYaml(), before);
}

TEST(ApplyOverrides, EmbeddingDimAlsoSetsTheLastBottomWidthUnlessBottomIsGiven) {
  JobConfig c;
  ConfigOverrides o;
  o.embedding_dim = 8;
  c.ApplyOverrides(o);
  EXPECT_EQ(c.model.embedding_dim, 8);
  EXPECT_EQ(c.model.bottom, (std::vector<int64_t>{256, 64, 8}));
  EXPECT_NO_THROW(c.Validate());

  JobConfig d;
  o.bottom = std::vector<int64_t>{32, 4};
  d.ApplyOverrides(o);
  EXPECT_EQ(d.model.bottom, (std::vector<int64_t>{32, 4}));
  EXPECT_THROW(d.Validate(), ConfigError);  // dot needs 8 == 4
}

TEST(ApplyOverrides, FormatCriteoResetsADelimitedDataSection) {
  JobConfig c = JobConfig::FromYamlString(
      "data:\n  format: delimited\n  on_error: fail\n  delimited: {label: y, dense: [a]}\n",
      "job.yaml");
  ConfigOverrides o;
  o.format = "delimited";
  c.ApplyOverrides(o);  // the schema is there: kept
  EXPECT_EQ(c.data.format, DataFormat::kDelimited);
  o.format = "criteo";
  c.ApplyOverrides(o);
  EXPECT_EQ(c.data.format, DataFormat::kCriteo);
  EXPECT_EQ(c.data.on_error, ErrorPolicy::kSkip);  // the Criteo defaults

  JobConfig criteo;
  o.format = "delimited";
  EXPECT_THROW(criteo.ApplyOverrides(o), ConfigError);
  o.format = "parquet";
  try {
    criteo.ApplyOverrides(o);
    FAIL() << "expected ConfigError";
  } catch (const ConfigError& e) {
    EXPECT_STREQ(e.what(), "--format: expected criteo or delimited, got 'parquet'");
  }
}

TEST(ApplyOverrides, HashBucketsSetEveryCriteoFieldAndNeedCriteo) {
  JobConfig c = JobConfig::FromYamlString(
      "data: {criteo: {fields: {C3: {vocabulary: {min_count: 2}}}}}\n", "job.yaml");
  ConfigOverrides o;
  o.hash_buckets = 77;
  c.ApplyOverrides(o);
  EXPECT_EQ(c.data.criteo.encoding.kind, Encoding::Kind::kHash);
  EXPECT_EQ(c.data.criteo.encoding.hash_buckets, 77);
  EXPECT_TRUE(c.data.criteo.encoding_given);  // not replaced by the default from the data
  EXPECT_TRUE(c.data.criteo.fields.empty());

  JobConfig d = JobConfig::FromYamlString(
      "data:\n  format: delimited\n  delimited: {label: y, dense: [a]}\n", "job.yaml");
  EXPECT_THROW(d.ApplyOverrides(o), ConfigError);
}

TEST(ApplyOverrides, MinCountMakesEveryCriteoFieldAVocabulary) {
  JobConfig c =
      JobConfig::FromYamlString("data: {criteo: {fields: {C3: {hash_buckets: 10}}}}\n", "job.yaml");
  ConfigOverrides o;
  o.min_count = 5;
  c.ApplyOverrides(o);
  EXPECT_EQ(c.data.criteo.encoding.kind, Encoding::Kind::kVocabulary);
  EXPECT_EQ(c.data.criteo.encoding.vocabulary.min_count, 5);
  EXPECT_TRUE(c.data.criteo.encoding_given);
  EXPECT_TRUE(c.data.criteo.fields.empty());
  c.Validate();
}

TEST(ApplyOverrides, MinCountExcludesHashBucketsAndNeedsCriteo) {
  JobConfig c;
  ConfigOverrides o;
  o.min_count = 5;
  o.hash_buckets = 1000;
  try {
    c.ApplyOverrides(o);
    FAIL() << "expected ConfigError";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("--min-count and --hash-buckets exclude each other"),
              std::string::npos)
        << e.what();
  }
  o.hash_buckets.reset();
  o.min_count = 0;
  EXPECT_THROW(c.ApplyOverrides(o), ConfigError);
  o.min_count = 2;
  JobConfig d = JobConfig::FromYamlString(
      "data:\n  format: delimited\n  delimited: {label: y, dense: [a]}\n", "job.yaml");
  EXPECT_THROW(d.ApplyOverrides(o), ConfigError);
}

TEST(ApplyOverrides, PerOptimizerLearningRatesWinOverTheSharedOne) {
  JobConfig c;
  ConfigOverrides o;
  o.learning_rate = 0.5;
  o.dense_learning_rate = 0.25;
  c.ApplyOverrides(o);
  EXPECT_FLOAT_EQ(c.embedding_optimizer.learning_rate, 0.5f);
  EXPECT_FLOAT_EQ(c.dense_optimizer.learning_rate, 0.25f);
}

TEST(ApplyOverrides, NamesAreCheckedAgainstTheirTablesNamingTheFlag) {
  JobConfig c;
  ConfigOverrides o;
  o.interaction = "cross";
  o.pooling = "sqrtn";
  o.precision = "bf16";
  o.bad_rows = "fail";
  o.train_files = std::vector<std::string>{"a.tsv"};
  o.epochs = 3;
  c.ApplyOverrides(o);
  EXPECT_EQ(c.model.interaction, Interaction::kCross);
  EXPECT_EQ(c.model.pooling, Pooling::kSqrtn);
  EXPECT_EQ(c.train.precision, GemmPrecision::kBf16);
  EXPECT_EQ(c.data.on_error, ErrorPolicy::kFail);
  EXPECT_EQ(c.data.train_files, std::vector<std::string>{"a.tsv"});
  EXPECT_EQ(c.train.epochs, 3);

  const auto error_of = [](ConfigOverrides bad) {
    JobConfig j;
    try {
      j.ApplyOverrides(bad);
    } catch (const ConfigError& e) {
      return std::string(e.what());
    }
    return std::string();
  };
  ConfigOverrides bad;
  bad.interaction = "bilinear";
  EXPECT_EQ(error_of(bad), "--interaction: expected dot, cross or concat, got 'bilinear'");
  bad = {};
  bad.bad_rows = "ignore";
  EXPECT_EQ(error_of(bad), "--bad-rows: expected skip or fail, got 'ignore'");
  bad = {};
  bad.precision = "fp16";
  EXPECT_EQ(error_of(bad), "--precision: expected auto, fp32 or bf16, got 'fp16'");
}

}  // namespace
}  // namespace crank
