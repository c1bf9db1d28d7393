#include "crank/data/config.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <yaml-cpp/yaml.h>

#include <filesystem>
#include <string>

#include "crank/base/error.h"
#include "crank/data/data_spec.h"
#include "crank/data/test_util.h"

namespace crank {
namespace {

// The ConfigError message for a data section given as YAML text, "" if it parses.
std::string ErrorOf(const std::string& yaml, const std::string& file = "cfg.yaml") {
  try {
    DataConfig::FromYaml(YAML::Load(yaml), file);
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "";
}

TEST(DataConfig, EmptySectionIsCriteoWithDefaults) {
  const DataConfig c = DataConfig::FromYaml(YAML::Node(), "");
  EXPECT_EQ(c.format, DataFormat::kCriteo);
  EXPECT_EQ(c.task, LabelKind::kBinary);
  EXPECT_EQ(c.on_error, ErrorPolicy::kSkip);
  EXPECT_EQ(c.max_line_bytes, 1 << 20);
  EXPECT_EQ(c.criteo.encoding.kind, Encoding::Kind::kHash);
  EXPECT_EQ(c.criteo.encoding.hash_buckets, 100000);
  EXPECT_FALSE(c.criteo.encoding_given);  // left to ResolveDefaultEncoding
  EXPECT_FALSE(c.holdout.enabled());
}

// Lines of regular files, counted up to a limit; -1 for a pipe or a file that cannot be opened.
TEST(DataConfig, CountLinesUpToCountsAcrossFilesAndStopsAtTheLimit) {
  test::TempDir dir;
  const std::string a = dir.Write("a.tsv", "1\n2\n3\n");
  const std::string b = dir.Write("b.tsv", "4\n5");  // the last line has no newline
  const std::string empty = dir.Write("empty.tsv", "");
  EXPECT_EQ(CountLinesUpTo({a}, 100), 3);
  EXPECT_EQ(CountLinesUpTo({a, b}, 100), 5);
  EXPECT_EQ(CountLinesUpTo({a, empty, b}, 100), 5);
  EXPECT_EQ(CountLinesUpTo({a, b}, 4), 4);
  EXPECT_EQ(CountLinesUpTo({a, b}, 3), 3);
  EXPECT_EQ(CountLinesUpTo({b, a}, 1), 1);
  EXPECT_EQ(CountLinesUpTo({empty}, 100), 0);
  // Longer than one read buffer (64 KiB).
  const std::string big = dir.Write("big.tsv", std::string(100000, 'x') + "\n" +
                                                   std::string(70000, 'y') + "\nz\n");
  EXPECT_EQ(CountLinesUpTo({big}, 1000), 3);
  EXPECT_EQ(CountLinesUpTo({dir.Path("absent.tsv")}, 100), -1);
  const std::string fifo = dir.Path("fifo");
  ASSERT_EQ(mkfifo(fifo.c_str(), 0600), 0);
  EXPECT_EQ(CountLinesUpTo({a, fifo}, 100), -1);
}

// The default encoding follows from the training input: a vocabulary (min_count 2, at most
// 1,000,000 tokens per field) when the files can be counted before training, hashing into
// 100,000 buckets for a pipe or a byte-sharded input; a given encoding is kept.
TEST(DataConfig, DefaultEncodingFollowsTheInput) {
  test::TempDir dir;
  const std::string file = dir.Write("train.tsv", "0\n");
  DataConfig c = DataConfig::FromYaml(YAML::Node(), "");
  std::string line = ResolveDefaultEncoding(&c, {file}, false);
  EXPECT_NE(line.find("vocabulary"), std::string::npos) << line;
  EXPECT_TRUE(c.criteo.encoding_given);
  EXPECT_EQ(c.criteo.encoding.kind, Encoding::Kind::kVocabulary);
  EXPECT_EQ(c.criteo.encoding.vocabulary.min_count, kDefaultMinCount);
  EXPECT_EQ(c.criteo.encoding.vocabulary.max_size, kDefaultMaxSize);
  EXPECT_EQ(kDefaultMinCount, 2);
  // Resolved once: a second call changes nothing and says nothing.
  EXPECT_EQ(ResolveDefaultEncoding(&c, {file}, true), "");
  EXPECT_EQ(c.criteo.encoding.kind, Encoding::Kind::kVocabulary);
  // The resolved encoding is written out and read back as given.
  const DataConfig back = DataConfig::FromYamlString(c.ToYaml(), "resolved");
  EXPECT_TRUE(back.criteo.encoding_given);
  EXPECT_EQ(back.criteo.encoding.kind, Encoding::Kind::kVocabulary);
  EXPECT_EQ(back.criteo.encoding.vocabulary.max_size, kDefaultMaxSize);

  // Several ranks reading byte ranges: hashing, and the log line says why.
  c = DataConfig();
  line = ResolveDefaultEncoding(&c, {file}, true);
  EXPECT_EQ(c.criteo.encoding.kind, Encoding::Kind::kHash);
  EXPECT_EQ(c.criteo.encoding.hash_buckets, 100000);
  EXPECT_TRUE(c.criteo.encoding_given);
  EXPECT_NE(line.find("input_sharding bytes"), std::string::npos) << line;

  // A pipe cannot be counted and then read again: hashing, naming the file.
  const std::string fifo = dir.Path("fifo");
  ASSERT_EQ(mkfifo(fifo.c_str(), 0600), 0);
  EXPECT_EQ(FirstUnrereadableFile({file, fifo}), fifo);
  EXPECT_EQ(FirstUnrereadableFile({file, dir.Path("absent.tsv")}), "");
  c = DataConfig();
  line = ResolveDefaultEncoding(&c, {file, fifo}, false);
  EXPECT_EQ(c.criteo.encoding.kind, Encoding::Kind::kHash);
  EXPECT_NE(line.find(fifo + " is not a regular file"), std::string::npos) << line;

  // A given encoding, hashed or not, is kept.
  for (const char* yaml : {"criteo: {hash_buckets: 100000}\n", "criteo: {hash_buckets: 7}\n",
                           "criteo: {vocabulary: {min_count: 5}}\n"}) {
    c = test::ConfigFromYaml(yaml);
    EXPECT_TRUE(c.criteo.encoding_given) << yaml;
    const Encoding before = c.criteo.encoding;
    EXPECT_EQ(ResolveDefaultEncoding(&c, {file}, false), "") << yaml;
    EXPECT_EQ(c.criteo.encoding.kind, before.kind) << yaml;
    EXPECT_EQ(c.criteo.encoding.hash_buckets, before.hash_buckets) << yaml;
    EXPECT_EQ(c.criteo.encoding.vocabulary.min_count, before.vocabulary.min_count) << yaml;
  }
  // Per-field encodings stay; the default of the other fields is chosen.
  c = test::ConfigFromYaml("criteo: {fields: {C3: {hash_buckets: 50}}}\n");
  EXPECT_FALSE(c.criteo.encoding_given);
  ResolveDefaultEncoding(&c, {file}, false);
  EXPECT_EQ(c.criteo.encoding.kind, Encoding::Kind::kVocabulary);
  EXPECT_EQ(c.criteo.fields.at("C3").hash_buckets, 50);
  // Delimited data has its encodings in its schema: nothing to choose.
  c = test::ConfigFromYaml(
      "format: delimited\ndelimited: {label: y, categorical: [{name: a, hash_buckets: 3}]}\n");
  EXPECT_EQ(ResolveDefaultEncoding(&c, {file}, false), "");
}

TEST(DataConfig, UnknownKeysAreErrorsNamingThem) {
  EXPECT_EQ(ErrorOf("format: criteo\nbatchsize: 3\n"),
            "cfg.yaml:2: data: unknown key 'batchsize' (expected one of: format, task, on_error, "
            "max_bad_rows, max_line_bytes, train, eval, holdout, criteo, delimited)");
  EXPECT_EQ(ErrorOf("criteo: {hash_bucket: 10}\n"),
            "cfg.yaml:1: data.criteo: unknown key 'hash_bucket' (expected one of: labels, "
            "token_hash, hash_buckets, vocabulary, fields)");
  EXPECT_EQ(ErrorOf("format: delimited\n"
                    "delimited:\n"
                    "  label: y\n"
                    "  categorical:\n"
                    "    - {name: a, hash_buckets: 3, min_count: 2}\n"),
            "cfg.yaml:5: data.delimited.categorical[0]: unknown key 'min_count' (expected one of: "
            "name, column, derive, hash_buckets, vocabulary)");
}

TEST(DataConfig, BadValuesAreErrorsNamingTheKey) {
  EXPECT_EQ(ErrorOf("format: parquet\n"),
            "cfg.yaml:1: data.format: expected one of criteo, delimited, found 'parquet'");
  EXPECT_EQ(ErrorOf("criteo: {hash_buckets: abc}\n"),
            "cfg.yaml:1: data.criteo.hash_buckets: expected an integer, found 'abc'");
  EXPECT_EQ(
      ErrorOf("criteo: {hash_buckets: 0}\n"),
      "cfg.yaml:1: data.criteo.hash_buckets: expected an integer in [1, 1099511627776], found 0");
  EXPECT_EQ(ErrorOf("holdout: {every: 10, offset: 10}\n"),
            "cfg.yaml:1: data.holdout.offset: expected an integer in [0, 9], found 10");
  EXPECT_EQ(ErrorOf("holdout: {offset: 1}\n"),
            "cfg.yaml:1: data.holdout: needs `every` (hold out one data row in every N)");
  EXPECT_EQ(ErrorOf("criteo: {fields: {C27: {hash_buckets: 5}}}\n"),
            "cfg.yaml:1: data.criteo.fields: unknown field 'C27' (expected C1..C26)");
  EXPECT_EQ(
      ErrorOf("criteo: {fields: {C3: {}}}\n"),
      "cfg.yaml:1: data.criteo.fields.C3: give hash_buckets: N or vocabulary: {min_count: N}");
  EXPECT_EQ(ErrorOf("format: delimited\n"),
            "cfg.yaml:1: data: format: delimited needs a `delimited` section (the schema)");
  EXPECT_EQ(ErrorOf("format: criteo\ndelimited: {label: y}\n"),
            "cfg.yaml:2: data.delimited: is only allowed with format: delimited");
  EXPECT_EQ(ErrorOf("format: delimited\n"
                    "delimited:\n"
                    "  label: y\n"
                    "  dense: [a]\n"
                    "  categorical: [{name: a, hash_buckets: 4, vocabulary: {}}]\n"),
            "cfg.yaml:5: data.delimited.categorical[0]: give either hash_buckets or vocabulary, "
            "not both");
  EXPECT_EQ(
      ErrorOf("format: delimited\n"
              "delimited:\n"
              "  label: y\n"
              "  dense: [a, {name: a, transform: log2}]\n"),
      "cfg.yaml:4: data.delimited.dense[1].transform: expected one of none, log1p, standardize, "
      "found 'log2'");
  EXPECT_EQ(ErrorOf("format: delimited\n"
                    "delimited:\n"
                    "  label: y\n"
                    "  dense: [a, a]\n"),
            "cfg.yaml:4: data.delimited.dense[1].name: 'a' is used by another field");
  EXPECT_EQ(
      ErrorOf("format: delimited\n"
              "delimited:\n"
              "  delimiter: ';;'\n"
              "  label: y\n"
              "  dense: [a]\n"),
      "cfg.yaml:3: data.delimited.delimiter: expected a single character (or \"tab\"), found ';;'");
  EXPECT_EQ(ErrorOf("format: delimited\ndelimited: {dense: [a]}\n"),
            "cfg.yaml:2: data.delimited: needs `label` (the label column)");
  EXPECT_EQ(
      ErrorOf("format: delimited\n"
              "delimited:\n"
              "  label: y\n"
              "  multi_hot: [{name: g, separator: ',', hash_buckets: 9}]\n"),
      "cfg.yaml:4: data.delimited.multi_hot[0].separator: must differ from the delimiter, quote "
      "and newline");
  EXPECT_EQ(ErrorOf("max_line_bytes: [1]\n"),
            "cfg.yaml:1: data.max_line_bytes: expected an integer, found a list");
}

// Found by fuzz_data_config_yaml (fuzz/regressions/fuzz_data_config_yaml/non_ascii_*,
// invalid_utf8_names_collide_minimized): a one-byte delimiter or separator >= 0x80 was accepted
// but cannot be written by ToYaml, and names differing only in invalid bytes were both written
// as U+FFFD, so the resolved configuration did not read back.
// Values that pass the key and type checks but not Validate() are named with the line of their
// key too (of the nearest enclosing key or list item when the key itself is not in the text).
TEST(DataConfig, ValidateErrorsNameTheLineOfTheKey) {
  EXPECT_EQ(ErrorOf("format: delimited\n"
                    "delimited:\n"
                    "  label: y\n"
                    "  dense:\n"
                    "    - a\n"
                    "    - {name: b}\n"
                    "    - name: c\n"
                    "      column: x\n"
                    "    - column: y\n"
                    "      name: a\n"),
            "cfg.yaml:10: data.delimited.dense[3].name: 'a' is used by another field");
  // A list item index counts within its own list (categorical and multi_hot separately).
  EXPECT_EQ(ErrorOf("format: delimited\n"
                    "delimited:\n"
                    "  delimiter: ','\n"
                    "  label: y\n"
                    "  categorical: [{name: u, hash_buckets: 9}, {name: i, hash_buckets: 9}]\n"
                    "  multi_hot:\n"
                    "    - name: g\n"
                    "      hash_buckets: 9\n"
                    "      separator: ','\n"),
            "cfg.yaml:9: data.delimited.multi_hot[0].separator: must differ from the delimiter, "
            "quote and newline");
  EXPECT_EQ(ErrorOf("format: delimited\n"
                    "delimited:\n"
                    "  label: y\n"
                    "  categorical: [{name: u, hash_buckets: 9}]\n"
                    "  multi_hot:\n"
                    "    - {name: u, hash_buckets: 9}\n"),
            "cfg.yaml:6: data.delimited.multi_hot[0].name: 'u' is used by another field");
  // Without a file name the message is the key's alone, as Validate() gives it.
  EXPECT_EQ(ErrorOf("format: delimited\ndelimited: {label: y, dense: [a, a]}\n", ""),
            "data.delimited.dense[1].name: 'a' is used by another field");
}

TEST(DataConfig, TextThatIsNotUtf8IsRefusedNamingTheKey) {
  const std::string delimited = "format: delimited\ndelimited:\n  label: y\n";
  EXPECT_EQ(ErrorOf(delimited + "  delimiter: \"\xcd\"\n  dense: [x]\n"),
            "cfg.yaml:4: data.delimited.delimiter: expected UTF-8 text, found invalid bytes");
  EXPECT_EQ(ErrorOf(delimited + "  multi_hot: [{name: g, separator: \"\xe9\", hash_buckets: 4}]\n"),
            "cfg.yaml:4: data.delimited.multi_hot[0].separator: expected UTF-8 text, found invalid "
            "bytes");
  EXPECT_EQ(ErrorOf(delimited + "  dense: [\"a\xbb\xb3\", \"a\xbb\xbb\"]\n"),
            "cfg.yaml:4: data.delimited.dense[0]: expected UTF-8 text, found invalid bytes");
  EXPECT_EQ(
      ErrorOf(delimited + "  dense: [x]\n  categorical: [{name: \"u\xff\", hash_buckets: 4}]\n"),
      "cfg.yaml:5: data.delimited.categorical[0].name: expected UTF-8 text, found invalid "
      "bytes");
  EXPECT_EQ(ErrorOf("train: \"\xff.tsv\"\n"),
            "cfg.yaml:1: data.train: expected UTF-8 text, found invalid bytes");
  EXPECT_EQ(ErrorOf("train: [a.tsv, \"\xc0\xaf.tsv\"]\n"),  // an overlong form of '/'
            "cfg.yaml:1: data.train[1]: expected UTF-8 text, found invalid bytes");
  EXPECT_EQ(
      ErrorOf("format: delimited\ndelimited: {label: \"\xed\xa0\x80\", dense: [x]}\n"),
      "cfg.yaml:2: data.delimited.label: expected UTF-8 text, found invalid bytes");  // a surrogate

  // Valid UTF-8 text is accepted and reads back unchanged from the resolved configuration.
  const DataConfig c = DataConfig::FromYamlString(
      delimited +
          "  dense: [\"gr\xc3\xb6\xc3\x9f"
          "e\"]\n  categorical: [{name: \"\xe2\x82\xac\", hash_buckets: 4}]\n",
      "");
  const DataConfig again = DataConfig::FromYamlString(c.ToYaml(), "");
  EXPECT_EQ(again.delimited.dense.at(0).name,
            "gr\xc3\xb6\xc3\x9f"
            "e");
  EXPECT_EQ(again.delimited.sparse.at(0).name, "\xe2\x82\xac");
  EXPECT_EQ(again.ToYaml(), c.ToYaml());
  // A single character beyond ASCII is more than one byte: not a delimiter.
  EXPECT_EQ(ErrorOf(delimited + "  delimiter: \"\xc3\xa9\"\n  dense: [x]\n"),
            "cfg.yaml:4: data.delimited.delimiter: expected a single character (or \"tab\"), "
            "found '\xc3\xa9'");
}

// Found by fuzz_data_config_yaml (fuzz/regressions/fuzz_data_config_yaml/null_key_in_criteo_
// fields*): a null key under criteo.fields let yaml-cpp's YAML::InvalidNode escape FromYaml.
TEST(DataConfig, NullKeyInCriteoFieldsIsAConfigErrorNamingTheSection) {
  EXPECT_EQ(ErrorOf("format: criteo\ncriteo:\n  fields:\n    ~: {hash_buckets: 4}\n"),
            "cfg.yaml:4: data.criteo.fields: expected a field name (C1..C26) as key, found "
            "nothing");
  EXPECT_EQ(ErrorOf("criteo:\n fields:\n :\n"),
            "cfg.yaml:3: data.criteo.fields: expected a field name (C1..C26) as key, found "
            "nothing");
  EXPECT_EQ(ErrorOf("criteo: {fields: {C2: {hash_buckets: 3}, [C1]: {hash_buckets: 4}}}\n"),
            "cfg.yaml:1: data.criteo.fields: expected a field name (C1..C26) as key, found a "
            "list");
  EXPECT_THROW(DataConfig::FromYamlString("criteo:\n fields:\n :\n", "x"), ConfigError);
}

TEST(DataConfig, DuplicateKeysAreErrorsNamingKeyAndLine) {
  EXPECT_EQ(ErrorOf("format: criteo\ntask: bce\nformat: delimited\n"),
            "cfg.yaml:3: data: duplicate key 'format' (first at line 1)");
  EXPECT_EQ(ErrorOf("criteo: {hash_buckets: 5, hash_buckets: 6}\n"),
            "cfg.yaml:1: data.criteo: duplicate key 'hash_buckets' (first at line 1)");
  EXPECT_EQ(ErrorOf("criteo:\n  fields:\n    C3: {hash_buckets: 5}\n    C4: {hash_buckets: 5}\n"
                    "    C3: {vocabulary: {}}\n"),
            "cfg.yaml:5: data.criteo.fields: duplicate key 'C3' (first at line 3)");
  EXPECT_EQ(ErrorOf("format: delimited\n"
                    "delimited:\n"
                    "  label: y\n"
                    "  dense: [{name: a, transform: log1p, name: b}]\n"),
            "cfg.yaml:4: data.delimited.dense[0]: duplicate key 'name' (first at line 4)");
  EXPECT_EQ(ErrorOf("format: delimited\n"
                    "delimited:\n"
                    "  label: y\n"
                    "  dense: [a]\n"
                    "  label: z\n"),
            "cfg.yaml:5: data.delimited: duplicate key 'label' (first at line 3)");
  EXPECT_EQ(ErrorOf("holdout: {every: 5, offset: 1, \"every\": 6}\n"),
            "cfg.yaml:1: data.holdout: duplicate key 'every' (first at line 1)");
  EXPECT_EQ(ErrorOf("criteo: {vocabulary: {min_count: 2,\n  min_count: 3}}\n"),
            "cfg.yaml:2: data.criteo.vocabulary: duplicate key 'min_count' (first at line 1)");
  EXPECT_THROW(DataConfig::FromYamlString("task: mse\ntask: mse\n", "x"), ConfigError);
}

TEST(DataConfig, ParsingDoesNotModifyTheNode) {
  YAML::Node node = YAML::Load("format: criteo\n");
  DataConfig::FromYaml(node, "");
  EXPECT_EQ(node.size(), 1u);
}

TEST(DataConfig, RelativePathsAreResolvedAgainstTheYamlFile) {
  const DataConfig c = DataConfig::FromYaml(
      YAML::Load("train: [a.tsv, /abs/b.tsv]\neval: ../c.tsv\n"), "/some/dir/run.yaml");
  EXPECT_EQ(c.train_files, (std::vector<std::string>{"/some/dir/a.tsv", "/abs/b.tsv"}));
  EXPECT_EQ(c.eval_files, (std::vector<std::string>{"/some/c.tsv"}));
}

TEST(DataConfig, ToYamlRoundTrips) {
  const std::string yaml =
      "format: delimited\n"
      "task: mse\n"
      "on_error: fail\n"
      "max_line_bytes: 4096\n"
      "train: [/d/r.csv]\n"
      "holdout: {every: 5, offset: 2}\n"
      "delimited:\n"
      "  delimiter: tab\n"
      "  label: rating\n"
      "  weight: w\n"
      "  join: [{file: /d/m.csv, key: movieId, columns: [title, genres], delimiter: ';'}]\n"
      "  dense:\n"
      "    - year_raw\n"
      "    - {name: year, column: title, derive: title_year, transform: standardize, missing: "
      "mean}\n"
      "  categorical:\n"
      "    - {name: hour, column: ts, derive: hour, vocabulary: {min_count: 3, max_size: 9, "
      "max_distinct: 99}}\n"
      "    - {name: user, hash_buckets: 1000}\n"
      "  multi_hot:\n"
      "    - {name: genres, separator: '|', vocabulary: {}}\n";
  const DataConfig a = DataConfig::FromYamlString(yaml, "");
  const std::string out = a.ToYaml();
  const DataConfig b = DataConfig::FromYamlString(out, "");
  EXPECT_EQ(b.ToYaml(), out);
  EXPECT_EQ(b.delimited.delimiter, '\t');
  EXPECT_EQ(b.delimited.joins.at(0).delimiter, ';');
  EXPECT_EQ(b.delimited.sparse.at(0).encoding.vocabulary.max_distinct, 99);
  EXPECT_EQ(b.delimited.sparse.at(2).separator, '|');
  EXPECT_TRUE(b.delimited.sparse.at(2).multi_hot);
  EXPECT_EQ(b.holdout.offset, 2);
  EXPECT_EQ(b.train_files, a.train_files);

  const DataConfig criteo = DataConfig::FromYamlString(
      "criteo: {labels: absent, token_hash: mix64, vocabulary: {min_count: 4}, "
      "fields: {C3: {hash_buckets: 77}}}\n",
      "");
  const DataConfig criteo2 = DataConfig::FromYamlString(criteo.ToYaml(), "");
  EXPECT_EQ(criteo2.ToYaml(), criteo.ToYaml());
  EXPECT_EQ(criteo2.criteo.labels, CriteoLabels::kAbsent);
  EXPECT_EQ(criteo2.criteo.encoding.kind, Encoding::Kind::kVocabulary);
  EXPECT_EQ(criteo2.criteo.fields.at("C3").hash_buckets, 77);
}

TEST(Schema, CriteoFieldsUseOverridesAndSortByName) {
  const DataConfig c = DataConfig::FromYamlString(
      "criteo: {hash_buckets: 10, fields: {C2: {hash_buckets: 3}}}\n", "");
  const Schema s = ResolveSchema(c);
  ASSERT_EQ(s.sparse.size(), 26u);
  EXPECT_EQ(s.sparse[0].name, "C1");
  EXPECT_EQ(s.sparse[11].name, "C2");
  EXPECT_EQ(s.sparse[11].encoding.hash_buckets, 3);
  EXPECT_EQ(s.sparse[0].encoding.hash_buckets, 10);
  EXPECT_EQ(s.dense[12].transform, DenseTransform::kLog1p);
}

}  // namespace
}  // namespace crank
