#include "crank/train/job_config.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <limits>
#include <string>

#include "crank/base/error.h"

namespace crank {
namespace {

std::string ErrorOf(const std::string& yaml) {
  try {
    JobConfig::FromYamlString(yaml, "job.yaml");
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "";
}

TEST(JobConfig, DefaultsAreTheTfrsRankingDefaults) {
  JobConfig c;
  EXPECT_EQ(c.model.embedding_dim, 16);
  EXPECT_EQ(c.model.bottom, (std::vector<int64_t>{256, 64, 16}));
  EXPECT_EQ(c.model.top, (std::vector<int64_t>{512, 256, 1}));
  EXPECT_EQ(std::string(NameOf(kInteractionNames, c.model.interaction)), "dot");
  EXPECT_TRUE(c.model.concat_dense);
  EXPECT_EQ(c.data.format, DataFormat::kCriteo);
  EXPECT_EQ(c.data.task, LabelKind::kBinary);
  EXPECT_NO_THROW(c.Validate());
}

TEST(JobConfig, YamlRoundTripIsExact) {
  JobConfig c = JobConfig::FromYamlString(R"(
model: {embedding_dim: 8, bottom: [32, 8], top: [16, 1], interaction: cross, cross: {layers: 2, projection_dim: 4}}
optimizer:
  embedding: {kind: rowwise_adagrad, learning_rate: 0.3}
  dense: {kind: sgd, learning_rate: 0.01, momentum: 0.9, schedule: warmup_poly_decay, warmup: {warmup_steps: 10, decay_steps: 20, decay_start_steps: 30}}
train: {epochs: 3, batch_size: 64, seed: 9, shuffle_buffer: 100, checkpoint_every: 5}
)",
                                          "job.yaml");
  EXPECT_EQ(c.model.embedding_dim, 8);
  EXPECT_EQ(c.model.cross_layers, 2);
  EXPECT_EQ(c.model.cross_projection_dim, 4);
  EXPECT_EQ(c.embedding_optimizer.kind, "rowwise_adagrad");
  EXPECT_FLOAT_EQ(c.dense_optimizer.momentum, 0.9f);
  EXPECT_EQ(c.dense_optimizer.warmup.decay_start_steps, 30);
  EXPECT_EQ(c.train.seed, 9u);
  const std::string yaml = c.ToYaml();
  EXPECT_EQ(JobConfig::FromYamlString(yaml, "again.yaml").ToYaml(), yaml);
}

// The resolved configuration shows every number as its shortest round-trip text.
TEST(JobConfig, SeveralRankKeysRoundTripAndAreWrittenOnlyWhenSet) {
  const JobConfig defaults;
  EXPECT_EQ(defaults.train.collective_timeout, 300);
  EXPECT_EQ(defaults.train.input_sharding, "rows");
  EXPECT_EQ(defaults.ToYaml().find("collective_timeout"), std::string::npos);
  EXPECT_EQ(defaults.ToYaml().find("input_sharding"), std::string::npos);
  const JobConfig c = JobConfig::FromYamlString(
      "train: {collective_timeout: 2.5, input_sharding: bytes}\n", "job.yaml");
  EXPECT_EQ(c.train.collective_timeout, 2.5);
  EXPECT_EQ(c.train.input_sharding, "bytes");
  const JobConfig again = JobConfig::FromYamlString(c.ToYaml(), "again.yaml");
  EXPECT_EQ(again.train.collective_timeout, 2.5);
  EXPECT_EQ(again.train.input_sharding, "bytes");
  EXPECT_NE(ErrorOf("train: {collective_timeout: -1}\n").find("train.collective_timeout"),
            std::string::npos);
  EXPECT_NE(ErrorOf("train: {input_sharding: lines}\n").find("expected rows or bytes"),
            std::string::npos);
}

TEST(JobConfig, ResolvedYamlShowsFloatsAsTheirShortestText) {
  const std::string yaml = JobConfig().ToYaml();
  EXPECT_NE(yaml.find("embedding_l2: 1e-05"), std::string::npos) << yaml;
  EXPECT_NE(yaml.find("embedding_l2_catch_up: 0\n"), std::string::npos) << yaml;
  EXPECT_NE(yaml.find("learning_rate: 0.1\n"), std::string::npos) << yaml;
  EXPECT_NE(yaml.find("learning_rate: 0.002\n"), std::string::npos) << yaml;
  EXPECT_NE(yaml.find("beta_2: 0.999\n"), std::string::npos) << yaml;
  EXPECT_NE(yaml.find("epsilon: 1e-07\n"), std::string::npos) << yaml;
  EXPECT_NE(yaml.find("log_every_seconds: 10\n"), std::string::npos) << yaml;
  EXPECT_EQ(yaml.find("0000001"), std::string::npos) << yaml;  // no 0.100000001, 0.00200000009
  EXPECT_EQ(yaml.find("99999"), std::string::npos) << yaml;    // no 9.99999975e-06
  JobConfig c = JobConfig::FromYamlString("optimizer: {dense: {learning_rate: 0.3}}\n", "a.yaml");
  EXPECT_NE(c.ToYaml().find("learning_rate: 0.3\n"), std::string::npos);
  EXPECT_FLOAT_EQ(JobConfig::FromYamlString(c.ToYaml(), "b.yaml").dense_optimizer.learning_rate,
                  0.3f);
}

// Errors carry file, line and key as fields, not only in the message.
TEST(JobConfig, ErrorsCarryFileLineAndKey) {
  try {
    JobConfig::FromYamlString("train:\n  batch_size: 64\n  epochs: 0\n", "job.yaml");
    FAIL() << "expected ConfigError";
  } catch (const ConfigError& e) {
    EXPECT_EQ(e.file(), "job.yaml");
    EXPECT_EQ(e.line(), 3);
    EXPECT_EQ(e.key(), "train.epochs");
  }
}

TEST(JobConfig, UnknownKeyNamesFileLineAndKey) {
  const std::string e = ErrorOf("train:\n  epochs: 2\n  epoch: 3\n");
  EXPECT_NE(e.find("job.yaml:3"), std::string::npos) << e;
  EXPECT_NE(e.find("train.epoch"), std::string::npos) << e;
  EXPECT_NE(ErrorOf("modle: {}\n").find("config.modle"), std::string::npos);
}

TEST(JobConfig, WrongTypeNamesTheKey) {
  const std::string e = ErrorOf("train: {batch_size: many}\n");
  EXPECT_NE(e.find("train.batch_size: expected an integer, got 'many'"), std::string::npos) << e;
  EXPECT_NE(ErrorOf("model: {bottom: 5x}\n").find("model.bottom"), std::string::npos);
  // A list or mapping where a value belongs is named as such; a list of integers names the
  // first item that is not one, at its line.
  EXPECT_EQ(ErrorOf("train:\n  epochs: [1]\n"),
            "job.yaml:2: train.epochs: expected an integer, got a list");
  EXPECT_EQ(ErrorOf("model:\n  pooling: {kind: sum}\n"),
            "job.yaml:2: model.pooling: expected a string, got a mapping");
  EXPECT_EQ(ErrorOf("model:\n  embedding_l2:\n"),
            "job.yaml:2: model.embedding_l2: expected a number, got nothing");
  EXPECT_EQ(ErrorOf("model:\n  bottom:\n    - 16\n    - wide\n"),
            "job.yaml:4: model.bottom: expected a list of integers, got 'wide' at [1]");
  EXPECT_EQ(ErrorOf("model: {top: [8, [1]]}\n"),
            "job.yaml:1: model.top: expected a list of integers, got a list at [1]");
  EXPECT_EQ(ErrorOf("model: {top: {a: 1}}\n"),
            "job.yaml:1: model.top: expected a list of integers, got a mapping");
}

// Values that are well typed but invalid are named with the line of their key (of their
// section when the key is left at its default), like unknown keys and wrong types.
TEST(JobConfig, InvalidValuesNameFileLineAndKey) {
  EXPECT_EQ(ErrorOf("train:\n  batch_size: 64\n  epochs: 0\n"),
            "job.yaml:3: train.epochs: expected at least 1, got 0");
  EXPECT_EQ(ErrorOf("optimizer:\n  dense:\n    kind: adam\n    learning_rate: -1\n"),
            "job.yaml:4: optimizer.dense.learning_rate: expected a finite value > 0; got -1");
  EXPECT_EQ(ErrorOf("optimizer:\n  embedding:\n    schedule: warmup_poly_decay\n"
                    "    warmup:\n      decay_steps: 10\n      warmup_steps: -2\n"),
            "job.yaml:6: optimizer.embedding.warmup.warmup_steps: expected >= 0; got -2");
  EXPECT_EQ(ErrorOf("model:\n  interaction: cross\n  cross:\n    layers: 0\n"),
            "job.yaml:4: model.cross.layers: expected at least 1, got 0");
  EXPECT_EQ(ErrorOf("train: {epochs: 1}\nmodel:\n  top: [8, 2]\n"),
            "job.yaml:3: model.top: the last layer must have 1 unit (one prediction), got 2");
  // model.bottom keeps its default; the error points at the model section.
  EXPECT_EQ(ErrorOf("train: {epochs: 1}\nmodel:\n  embedding_dim: 8\n"),
            "job.yaml:2: model.bottom: dot interaction needs the bottom stack's last layer (16) "
            "to equal model.embedding_dim (8)");
  EXPECT_EQ(ErrorOf("data:\n  format: delimited\n  delimited:\n    label: y\n"
                    "    dense: [a, b]\n    categorical:\n      - {name: a, hash_buckets: 5}\n"),
            "job.yaml:7: data.delimited.categorical[0].name: 'a' is used by another field");
  // Values set after loading (command-line flags) have no line: Validate() names the key.
  JobConfig c = JobConfig::FromYamlString("train:\n  epochs: 2\n", "job.yaml");
  c.train.epochs = 0;
  try {
    c.Validate();
    FAIL() << "expected ConfigError";
  } catch (const ConfigError& e) {
    EXPECT_STREQ(e.what(), "train.epochs: expected at least 1, got 0");
  }
}

// `.nan` and `.inf` are YAML numbers: every float option refuses them (and negative values
// where they make no sense) naming the key, instead of training with NaN weights.
TEST(JobConfig, NonFiniteNumbersAreRefusedNamingTheKey) {
  EXPECT_EQ(ErrorOf("model: {embedding_l2: .nan}\n"),
            "job.yaml:1: model.embedding_l2: expected a finite number >= 0, got nan");
  EXPECT_EQ(ErrorOf("model:\n  dense_l2: .inf\n"),
            "job.yaml:2: model.dense_l2: expected a finite number >= 0, got inf");
  EXPECT_EQ(ErrorOf("model:\n  dense_l2: -0.5\n"),
            "job.yaml:2: model.dense_l2: expected a finite number >= 0, got -0.5");
  EXPECT_EQ(ErrorOf("model:\n  interaction: cross\n  cross: {layers: 2,\n    diag_scale: -.inf}\n"),
            "job.yaml:4: model.cross.diag_scale: expected a finite number >= 0, got -inf");
  EXPECT_EQ(ErrorOf("model:\n  cross: {diag_scale: .NaN}\n"),
            "job.yaml:2: model.cross.diag_scale: expected a finite number >= 0, got nan");
  EXPECT_EQ(ErrorOf("train:\n  log_every_seconds: .inf\n"),
            "job.yaml:2: train.log_every_seconds: expected a finite number > 0, got inf");
  EXPECT_EQ(ErrorOf("train:\n  log_every_seconds: .nan\n"),
            "job.yaml:2: train.log_every_seconds: expected a finite number > 0, got nan");
  EXPECT_NE(ErrorOf("optimizer: {dense: {learning_rate: .nan}}\n")
                .find("job.yaml:1: optimizer.dense.learning_rate: expected a finite value > 0"),
            std::string::npos);
  EXPECT_EQ(ErrorOf("model: {embedding_l2: 0, dense_l2: 0.001, cross: {diag_scale: 1.5}}\n"), "");
  EXPECT_EQ(ErrorOf("model:\n  embedding_l2_catch_up: -1\n"),
            "job.yaml:2: model.embedding_l2_catch_up: expected a count of steps in [0, 1000000], "
            "got -1");
  EXPECT_EQ(ErrorOf("model: {embedding_l2_catch_up: 1000001}\n"),
            "job.yaml:1: model.embedding_l2_catch_up: expected a count of steps in [0, 1000000], "
            "got 1000001");
  EXPECT_NE(ErrorOf("model: {embedding_l2_catch_up: 2.5}\n").find("model.embedding_l2_catch_up"),
            std::string::npos);
  EXPECT_EQ(ErrorOf("model: {embedding_l2_catch_up: 100}\n"), "");
  JobConfig c;
  c.model.cross_diag_scale = std::numeric_limits<float>::quiet_NaN();
  try {
    c.Validate();
    FAIL() << "expected ConfigError";
  } catch (const ConfigError& e) {
    EXPECT_STREQ(e.what(), "model.cross.diag_scale: expected a finite number >= 0, got nan");
  }
}

TEST(JobConfig, InvalidValuesAreRejected) {
  EXPECT_NE(ErrorOf("train: {epochs: 0}\n").find("train.epochs"), std::string::npos);
  EXPECT_NE(ErrorOf("train: {batch_size: -1}\n").find("train.batch_size"), std::string::npos);
  EXPECT_NE(ErrorOf("model: {interaction: bilinear}\n").find("interaction"), std::string::npos);
  EXPECT_NE(ErrorOf("model: {pooling: max}\n").find("model.pooling"), std::string::npos);
  EXPECT_NE(ErrorOf("optimizer: {dense: {kind: lamb}}\n").find("optimizer.dense"),
            std::string::npos);
  EXPECT_NE(ErrorOf("optimizer: {embedding: {learning_rate: -1}}\n").find("optimizer.embedding"),
            std::string::npos);
  const std::string dot = ErrorOf("model: {embedding_dim: 8}\n");
  EXPECT_NE(dot.find("(16)"), std::string::npos) << dot;
  EXPECT_NE(dot.find("(8)"), std::string::npos) << dot;
  EXPECT_EQ(ErrorOf("model: {embedding_dim: 8, interaction: cross}\n"), "");
  EXPECT_NE(ErrorOf("train: [1, 2]\n").find("expected a mapping"), std::string::npos);
  EXPECT_NE(ErrorOf("train: {epochs: [\n").find("invalid YAML"), std::string::npos);
}

TEST(JobConfig, DuplicateKeysAreErrorsNamingKeyAndLine) {
  EXPECT_EQ(ErrorOf("train:\n  epochs: 2\n  batch_size: 64\n  epochs: 3\n"),
            "job.yaml:4: train.epochs: duplicate key (first at line 2)");
  EXPECT_EQ(ErrorOf("model: {embedding_dim: 8, embedding_dim: 16}\n"),
            "job.yaml:1: model.embedding_dim: duplicate key (first at line 1)");
  EXPECT_EQ(ErrorOf("train: {epochs: 2}\nmodel: {}\ntrain: {epochs: 3}\n"),
            "job.yaml:3: config.train: duplicate key (first at line 1)");
  EXPECT_EQ(
      ErrorOf("optimizer:\n  dense:\n    warmup: {warmup_steps: 1,\n      warmup_steps: 2}\n"),
      "job.yaml:4: optimizer.dense.warmup.warmup_steps: duplicate key (first at line 3)");
  EXPECT_EQ(ErrorOf("model:\n  cross: {layers: 2}\n  dot: {}\n  cross: {layers: 3}\n"),
            "job.yaml:4: model.cross: duplicate key (first at line 2)");
  // The data section reports its own duplicates, in its own words.
  EXPECT_EQ(ErrorOf("data:\n  format: criteo\n  format: delimited\n"),
            "job.yaml:3: data: duplicate key 'format' (first at line 2)");
}

// Found by fuzz_job_config (fuzz/regressions/fuzz_job_config/mapping_as_key*): a mapping or a
// list as key let yaml-cpp's YAML::TypedBadConversion escape FromYamlString instead of a
// ConfigError. A null key was read as the name "null"; it is now refused as not a name.
TEST(JobConfig, KeysThatAreNotNamesAreConfigErrors) {
  EXPECT_EQ(ErrorOf("{{}}"), "job.yaml:1: config: expected a key name, found a list or mapping");
  EXPECT_EQ(ErrorOf("train:\n  epochs: 2\n  ~: 1\n"),
            "job.yaml:3: train: expected a key name, found a null key");
  EXPECT_EQ(ErrorOf("model:\n  ? [bottom, top]\n  : [16, 1]\n"),
            "job.yaml:2: model: expected a key name, found a list or mapping");
  EXPECT_EQ(ErrorOf("optimizer: {dense: {? {kind: sgd} : 1}}\n"),
            "job.yaml:1: optimizer.dense: expected a key name, found a list or mapping");
  EXPECT_EQ(ErrorOf("? [a]\n: 1\n"),
            "job.yaml:1: config: expected a key name, found a list or mapping");
}

// Every configuration in examples/ loads (the YAML only: data files are not opened).
TEST(JobConfig, ExampleConfigurationsLoad) {
  int loaded = 0;
  for (const auto& entry : std::filesystem::directory_iterator(CRANK_SOURCE_DIR "/examples")) {
    if (entry.path().extension() != ".yaml") continue;
    SCOPED_TRACE(entry.path().string());
    EXPECT_NO_THROW(JobConfig::FromYamlFile(entry.path().string()));
    ++loaded;
  }
  EXPECT_GE(loaded, 1);
}

TEST(JobConfig, MissingFileIsAnIoError) {
  EXPECT_THROW(JobConfig::FromYamlFile("/nonexistent/job.yaml"), IoError);
}

TEST(JobConfig, MakesOneTablePerSparseFeature) {
  JobConfig c;
  DataSpec spec;
  spec.dense = {"a", "b"};
  spec.sparse = {{"x", 10, false}, {"y", 20, true}};
  spec.label = LabelKind::kReal;
  const RankingConfig r = c.MakeRankingConfig(spec);
  EXPECT_EQ(r.dense_features, 2);
  ASSERT_EQ(r.tables.size(), 2u);
  EXPECT_EQ(r.tables[1].vocabulary_size, 20);
  EXPECT_EQ(r.tables[1].dim, 16);
  EXPECT_EQ(r.features[0].table, "x");
  EXPECT_EQ(r.loss, LossKind::kMeanSquaredError);
  EXPECT_EQ(r.ResolvedOutputActivation(), Activation::kLinear);
}

}  // namespace
}  // namespace crank

namespace crank {
namespace {

TEST(JobConfig, EmbeddingPrecisionIsReadWrittenAndCheckedNamingTheField) {
  EXPECT_EQ(JobConfig().model.embedding_precision, EmbeddingPrecision::kFp32);
  const JobConfig c = JobConfig::FromYamlString("model:\n  embedding_precision: fp16\n", "a.yaml");
  EXPECT_EQ(c.model.embedding_precision, EmbeddingPrecision::kFp16);
  EXPECT_EQ(JobConfig::FromYamlString(c.ToYaml(), "b.yaml").model.embedding_precision,
            EmbeddingPrecision::kFp16);
  EXPECT_EQ(ErrorOf("model:\n  embedding_precision: fp8\n"),
            "job.yaml:2: model.embedding_precision: expected fp32, bf16 or fp16, got 'fp8'");
  // Every table of the model gets the precision.
  JobConfig job;
  ConfigOverrides o;
  o.embedding_precision = "bf16";
  job.ApplyOverrides(o);
  EXPECT_EQ(job.model.embedding_precision, EmbeddingPrecision::kBf16);
  const RankingConfig r =
      MakeRankingConfig(job.model, 13, {{"C1", 10}, {"C2", 20}}, LossKind::kBinaryCrossEntropy, 1);
  ASSERT_EQ(r.tables.size(), 2u);
  for (const TableConfig& t : r.tables) EXPECT_EQ(t.precision, EmbeddingPrecision::kBf16);
  o.embedding_precision = "half";
  try {
    job.ApplyOverrides(o);
    FAIL() << "expected ConfigError";
  } catch (const ConfigError& e) {
    EXPECT_EQ(std::string(e.what()),
              "--embedding-precision: expected fp32, bf16 or fp16, got 'half'");
  }
}

}  // namespace
// The default batch size follows from the training data: 256 below 20,480 rows (docs/defaults.md,
// "Small data"), 512 from there on and where the rows cannot be counted; a given one is kept.
TEST(JobConfig, DefaultBatchSizeIsSmallerOnSmallTrainingData) {
  const std::filesystem::path dir =
      std::filesystem::temp_directory_path() /
      ("crank_batch_rule_" + std::to_string(::testing::UnitTest::GetInstance()->random_seed()) +
       "_" + std::to_string(reinterpret_cast<uintptr_t>(&dir)));
  std::filesystem::create_directories(dir);
  const auto write = [&](const char* name, const std::string& text) {
    const std::string path = (dir / name).string();
    std::ofstream(path, std::ios::binary) << text;
    return path;
  };
  std::string rows;
  for (int i = 0; i < 1000; ++i) rows += "0\t1\n";
  const std::string small = write("small.tsv", rows);
  std::string many;
  for (int i = 0; i < 21; ++i) many += rows;  // 21,000 rows
  const std::string large = write("large.tsv", many);

  JobConfig c = JobConfig::FromYamlString("train: {epochs: 1}\n", "t.yaml");
  EXPECT_FALSE(c.train.batch_size_given);
  std::string line = ResolveDefaultBatchSize(&c.train, {small});
  EXPECT_EQ(c.train.batch_size, kSmallDataBatchSize);
  EXPECT_EQ(kSmallDataBatchSize, 256);
  EXPECT_TRUE(c.train.batch_size_given);
  EXPECT_NE(line.find("batch size 256: the training data holds 1000 rows"), std::string::npos)
      << line;
  // Resolved once; written out, it reads back as given.
  EXPECT_EQ(ResolveDefaultBatchSize(&c.train, {large}), "");
  EXPECT_EQ(c.train.batch_size, 256);
  EXPECT_TRUE(JobConfig::FromYamlString(c.ToYaml(), "resolved").train.batch_size_given);

  // Several files count together: 20 x 1000 is still below 20,480, 21 x 1000 is not.
  c = JobConfig();
  ResolveDefaultBatchSize(&c.train, std::vector<std::string>(20, small));
  EXPECT_EQ(c.train.batch_size, 256);
  c = JobConfig();
  EXPECT_EQ(ResolveDefaultBatchSize(&c.train, std::vector<std::string>(21, small)), "");
  EXPECT_EQ(c.train.batch_size, 512);
  c = JobConfig();
  EXPECT_EQ(ResolveDefaultBatchSize(&c.train, {large}), "");
  EXPECT_EQ(c.train.batch_size, 512);
  EXPECT_TRUE(c.train.batch_size_given);
  // Rows that cannot be counted (a missing file; a pipe, see CountLinesUpTo) keep 512.
  c = JobConfig();
  EXPECT_EQ(ResolveDefaultBatchSize(&c.train, {(dir / "absent.tsv").string()}), "");
  EXPECT_EQ(c.train.batch_size, 512);

  // Given in YAML or by a flag: kept, even on small data.
  c = JobConfig::FromYamlString("train: {batch_size: 1024}\n", "t.yaml");
  EXPECT_TRUE(c.train.batch_size_given);
  EXPECT_EQ(ResolveDefaultBatchSize(&c.train, {small}), "");
  EXPECT_EQ(c.train.batch_size, 1024);
  c = JobConfig();
  ConfigOverrides o;
  o.batch_size = 512;
  c.ApplyOverrides(o);
  EXPECT_EQ(ResolveDefaultBatchSize(&c.train, {small}), "");
  EXPECT_EQ(c.train.batch_size, 512);
  std::filesystem::remove_all(dir);
}

}  // namespace crank
