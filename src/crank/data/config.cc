#include "crank/data/config.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <map>
#include <set>
#include <string_view>
#include <utility>

#include "crank/base/enum_names.h"
#include "crank/base/error.h"
#include "crank/yaml/emitter.h"
#include "crank/yaml/reader.h"

namespace crank {
namespace {

namespace fs = std::filesystem;

const EnumName<DataFormat> kFormats[] = {{"criteo", DataFormat::kCriteo},
                                         {"delimited", DataFormat::kDelimited}};
const EnumName<LabelKind> kTasks[] = {{"bce", LabelKind::kBinary}, {"mse", LabelKind::kReal}};
const EnumName<ErrorPolicy> kPolicies[] = {{"skip", ErrorPolicy::kSkip},
                                           {"fail", ErrorPolicy::kFail}};
const EnumName<DenseTransform> kTransforms[] = {{"none", DenseTransform::kNone},
                                                {"log1p", DenseTransform::kLog1p},
                                                {"standardize", DenseTransform::kStandardize}};
const EnumName<MissingValue> kMissing[] = {{"zero", MissingValue::kZero},
                                           {"mean", MissingValue::kMean}};
const EnumName<Derive> kDerives[] = {{"none", Derive::kNone}, {"title_year", Derive::kTitleYear},
                                     {"year", Derive::kYear}, {"month", Derive::kMonth},
                                     {"day", Derive::kDay},   {"day_of_week", Derive::kDayOfWeek},
                                     {"hour", Derive::kHour}};
const EnumName<CriteoLabels> kCriteoLabels[] = {{"auto", CriteoLabels::kAuto},
                                                {"present", CriteoLabels::kPresent},
                                                {"absent", CriteoLabels::kAbsent}};
const EnumName<TokenHash> kTokenHashes[] = {{"value", TokenHash::kValue},
                                            {"mix64", TokenHash::kMix64}};

using Ctx = YamlReader;

std::string ResolvePath(const std::string& p, const fs::path& base) {
  fs::path path(p);
  if (path.is_relative()) path = base / path;
  return fs::absolute(path).lexically_normal().string();
}

std::vector<std::string> ResolvePaths(const Ctx& c, const fs::path& base) {
  std::vector<std::string> out;
  for (const std::string& p : c.AsStringList()) {
    if (p.empty()) c.Fail("a file path is empty");
    out.push_back(ResolvePath(p, base));
  }
  return out;
}

VocabularyOptions ParseVocabulary(const Ctx& c) {
  VocabularyOptions v;
  if (c.IsNull()) return v;  // `vocabulary:` or `vocabulary: {}` = defaults
  c.CheckKeys({"min_count", "max_size", "max_distinct"});
  if (c.Has("min_count")) v.min_count = c.Child("min_count").AsInt(1, INT64_MAX);
  if (c.Has("max_size")) v.max_size = c.Child("max_size").AsInt(0, INT64_MAX);
  if (c.Has("max_distinct")) v.max_distinct = c.Child("max_distinct").AsInt(1, INT64_MAX);
  return v;
}

constexpr int64_t kMaxBuckets = int64_t{1} << 40;

// Reads `hash_buckets` / `vocabulary` of `c` (a mapping). Returns false when neither is given.
bool ParseEncoding(const Ctx& c, Encoding* e) {
  const bool hash = c.Has("hash_buckets");
  const bool vocab = c.Has("vocabulary");
  if (hash && vocab) c.Fail("give either hash_buckets or vocabulary, not both");
  if (hash) {
    e->kind = Encoding::Kind::kHash;
    e->hash_buckets = c.Child("hash_buckets").AsInt(1, kMaxBuckets);
  } else if (vocab) {
    e->kind = Encoding::Kind::kVocabulary;
    e->vocabulary = ParseVocabulary(c.Child("vocabulary"));
  }
  return hash || vocab;
}

JoinSpec ParseJoin(const Ctx& c, const fs::path& base) {
  c.CheckKeys({"file", "key", "columns", "delimiter"});
  JoinSpec j;
  if (!c.Has("file")) c.Fail("a join needs `file`");
  if (!c.Has("key")) c.Fail("a join needs `key` (the column present in both files)");
  if (!c.Has("columns")) c.Fail("a join needs `columns` (the columns it brings in)");
  j.file = ResolvePaths(c.Child("file"), base).at(0);
  j.key = c.Child("key").AsString();
  j.columns = c.Child("columns").AsStringList();
  if (c.Has("delimiter")) j.delimiter = c.Child("delimiter").AsChar();
  return j;
}

DenseField ParseDense(const Ctx& c) {
  DenseField f;
  if (c.node().IsScalar()) {
    f.name = c.AsString();
  } else {
    c.CheckKeys({"name", "column", "derive", "transform", "missing"});
    if (!c.Has("name")) c.Fail("a dense field needs `name`");
    f.name = c.Child("name").AsString();
    if (c.Has("column")) f.column = c.Child("column").AsString();
    if (c.Has("derive")) f.derive = c.Child("derive").AsEnum(kDerives);
    if (c.Has("transform")) f.transform = c.Child("transform").AsEnum(kTransforms);
    if (c.Has("missing")) f.missing = c.Child("missing").AsEnum(kMissing);
  }
  if (f.column.empty()) f.column = f.name;
  return f;
}

SparseField ParseSparse(const Ctx& c, bool multi_hot) {
  SparseField f;
  f.multi_hot = multi_hot;
  if (multi_hot) {
    c.CheckKeys({"name", "column", "separator", "hash_buckets", "vocabulary"});
  } else {
    c.CheckKeys({"name", "column", "derive", "hash_buckets", "vocabulary"});
  }
  if (!c.Has("name")) c.Fail("a categorical field needs `name`");
  f.name = c.Child("name").AsString();
  if (c.Has("column")) f.column = c.Child("column").AsString();
  if (f.column.empty()) f.column = f.name;
  if (c.Has("derive")) f.derive = c.Child("derive").AsEnum(kDerives);
  if (c.Has("separator")) f.separator = c.Child("separator").AsChar();
  if (!ParseEncoding(c, &f.encoding)) {
    c.Fail("give hash_buckets: N or vocabulary: {min_count: N}");
  }
  return f;
}

CriteoConfig ParseCriteo(const Ctx& c) {
  CriteoConfig cc;
  if (c.IsNull()) return cc;
  c.CheckKeys({"labels", "token_hash", "hash_buckets", "vocabulary", "fields"});
  if (c.Has("labels")) cc.labels = c.Child("labels").AsEnum(kCriteoLabels);
  if (c.Has("token_hash")) cc.token_hash = c.Child("token_hash").AsEnum(kTokenHashes);
  cc.encoding_given = ParseEncoding(c, &cc.encoding);
  if (c.Has("fields")) {
    const Ctx fields = c.Child("fields");
    fields.ExpectMap();
    for (const auto& kv : fields.node()) {
      // A null or structured key has no name to look up.
      if (!kv.first.IsScalar()) {
        const Ctx key = fields.KeyOf(kv.first);
        key.Fail("expected a field name (C1..C26) as key, found " + key.Describe());
      }
      const std::string name = kv.first.Scalar();
      Ctx f = fields.Child(name.c_str());
      f.CheckKeys({"hash_buckets", "vocabulary"});
      Encoding e;
      if (!ParseEncoding(f, &e)) f.Fail("give hash_buckets: N or vocabulary: {min_count: N}");
      cc.fields[name] = e;
    }
  }
  return cc;
}

DelimitedConfig ParseDelimited(const Ctx& c, const fs::path& base) {
  DelimitedConfig d;
  c.CheckKeys({"delimiter", "label", "weight", "join", "dense", "categorical", "multi_hot"});
  if (c.Has("delimiter")) d.delimiter = c.Child("delimiter").AsChar();
  if (!c.Has("label")) c.Fail("needs `label` (the label column)");
  d.label = c.Child("label").AsString();
  if (c.Has("weight") && !c.Child("weight").IsNull()) d.weight = c.Child("weight").AsString();
  if (c.Has("join")) {
    const Ctx j = c.Child("join");
    if (j.node().IsSequence()) {
      for (size_t i = 0; i < j.node().size(); ++i) d.joins.push_back(ParseJoin(j.Item(i), base));
    } else {
      d.joins.push_back(ParseJoin(j, base));
    }
  }
  if (c.Has("dense")) {
    const Ctx l = c.Child("dense");
    l.ExpectSequence();
    for (size_t i = 0; i < l.node().size(); ++i) d.dense.push_back(ParseDense(l.Item(i)));
  }
  for (const char* key : {"categorical", "multi_hot"}) {
    if (!c.Has(key)) continue;
    const Ctx l = c.Child(key);
    l.ExpectSequence();
    for (size_t i = 0; i < l.node().size(); ++i) {
      d.sparse.push_back(ParseSparse(l.Item(i), std::string(key) == "multi_hot"));
    }
  }
  return d;
}

void EmitEncoding(YAML::Emitter& out, const Encoding& e) {
  if (e.kind == Encoding::Kind::kHash) {
    out << YAML::Key << "hash_buckets" << YAML::Value << e.hash_buckets;
  } else {
    out << YAML::Key << "vocabulary" << YAML::Value << YAML::Flow << YAML::BeginMap;
    out << YAML::Key << "min_count" << YAML::Value << e.vocabulary.min_count;
    out << YAML::Key << "max_size" << YAML::Value << e.vocabulary.max_size;
    out << YAML::Key << "max_distinct" << YAML::Value << e.vocabulary.max_distinct;
    out << YAML::EndMap;
  }
}

std::string CharName(char c) { return c == '\t' ? "tab" : std::string(1, c); }

void EmitFiles(YAML::Emitter& out, const char* key, const std::vector<std::string>& files) {
  if (files.empty()) return;
  out << YAML::Key << key << YAML::Value << YAML::BeginSeq;
  for (const auto& f : files) out << f;
  out << YAML::EndSeq;
}

void ValidateEncoding(const Encoding& e, const std::string& path) {
  if (e.kind == Encoding::Kind::kHash) {
    if (e.hash_buckets < 1 || e.hash_buckets > kMaxBuckets) {
      throw ConfigError(path + ".hash_buckets",
                        fmt::format("expected 1..{}, found {}", kMaxBuckets, e.hash_buckets));
    }
  } else {
    const VocabularyOptions& v = e.vocabulary;
    if (v.min_count < 1) {
      throw ConfigError(path + ".vocabulary.min_count",
                        fmt::format("expected >= 1, found {}", v.min_count));
    }
    if (v.max_size < 0) {
      throw ConfigError(path + ".vocabulary.max_size",
                        fmt::format("expected >= 0, found {}", v.max_size));
    }
    if (v.max_distinct < 1) {
      throw ConfigError(path + ".vocabulary.max_distinct",
                        fmt::format("expected >= 1, found {}", v.max_distinct));
    }
  }
}

}  // namespace

const char* ToString(DataFormat v) { return NameOf(kFormats, v); }
const char* ToString(LabelKind v) { return NameOf(kTasks, v); }
const char* ToString(ErrorPolicy v) { return NameOf(kPolicies, v); }
const char* ToString(DenseTransform v) { return NameOf(kTransforms, v); }
const char* ToString(MissingValue v) { return NameOf(kMissing, v); }
const char* ToString(Derive v) { return NameOf(kDerives, v); }
const char* ToString(CriteoLabels v) { return NameOf(kCriteoLabels, v); }
const char* ToString(TokenHash v) { return NameOf(kTokenHashes, v); }

DataConfig DataConfig::FromYaml(const YAML::Node& data, const std::string& yaml_path) {
  const YamlReader c = YamlReader::Root(data, "data", yaml_path, YamlDialect::kSectionFirst);
  const fs::path base = yaml_path.empty() ? fs::path() : fs::path(yaml_path).parent_path();
  DataConfig cfg;
  if (c.IsNull()) return cfg;  // an empty data section: Criteo with defaults
  c.CheckKeys({"format", "task", "on_error", "max_bad_rows", "max_line_bytes", "train", "eval",
               "holdout", "criteo", "delimited"});
  if (c.Has("format")) cfg.format = c.Child("format").AsEnum(kFormats);
  if (c.Has("task")) cfg.task = c.Child("task").AsEnum(kTasks);
  if (c.Has("on_error")) cfg.on_error = c.Child("on_error").AsEnum(kPolicies);
  c.Read("max_bad_rows", &cfg.max_bad_rows);
  if (c.Has("max_line_bytes")) {
    cfg.max_line_bytes = c.Child("max_line_bytes").AsInt(16, int64_t{1} << 30);
  }
  if (c.Has("train")) cfg.train_files = ResolvePaths(c.Child("train"), base);
  if (c.Has("eval")) cfg.eval_files = ResolvePaths(c.Child("eval"), base);
  if (c.Has("holdout")) {
    const Ctx h = c.Child("holdout");
    h.CheckKeys({"every", "offset"});
    if (!h.Has("every")) h.Fail("needs `every` (hold out one data row in every N)");
    cfg.holdout.every = h.Child("every").AsInt(2, INT64_MAX);
    if (h.Has("offset")) cfg.holdout.offset = h.Child("offset").AsInt(0, cfg.holdout.every - 1);
  }
  if (cfg.format == DataFormat::kCriteo) {
    if (c.Has("delimited")) c.Child("delimited").Fail("is only allowed with format: delimited");
    cfg.criteo = ParseCriteo(c.Child("criteo"));
  } else {
    if (c.Has("criteo")) c.Child("criteo").Fail("is only allowed with format: criteo");
    if (!c.Has("delimited")) c.Fail("format: delimited needs a `delimited` section (the schema)");
    cfg.delimited = ParseDelimited(c.Child("delimited"), base);
  }
  try {
    cfg.Validate();
  } catch (const ConfigError& e) {
    throw c.positions().Locate(e, yaml_path);
  }
  return cfg;
}

DataConfig DataConfig::FromYamlString(const std::string& text, const std::string& name_for_errors) {
  return FromYaml(LoadYaml(text, name_for_errors), name_for_errors);
}

std::string DataConfig::ToYaml() const {
  YAML::Emitter out;
  out << YAML::BeginMap;
  out << YAML::Key << "format" << YAML::Value << ToString(format);
  out << YAML::Key << "task" << YAML::Value << ToString(task);
  out << YAML::Key << "on_error" << YAML::Value << ToString(on_error);
  out << YAML::Key << "max_bad_rows" << YAML::Value << YamlNumber(max_bad_rows);
  out << YAML::Key << "max_line_bytes" << YAML::Value << max_line_bytes;
  EmitFiles(out, "train", train_files);
  EmitFiles(out, "eval", eval_files);
  if (holdout.enabled()) {
    out << YAML::Key << "holdout" << YAML::Value << YAML::Flow << YAML::BeginMap;
    out << YAML::Key << "every" << YAML::Value << holdout.every;
    out << YAML::Key << "offset" << YAML::Value << holdout.offset << YAML::EndMap;
  }
  if (format == DataFormat::kCriteo) {
    out << YAML::Key << "criteo" << YAML::Value << YAML::BeginMap;
    out << YAML::Key << "labels" << YAML::Value << ToString(criteo.labels);
    out << YAML::Key << "token_hash" << YAML::Value << ToString(criteo.token_hash);
    EmitEncoding(out, criteo.encoding);
    if (!criteo.fields.empty()) {
      out << YAML::Key << "fields" << YAML::Value << YAML::BeginMap;
      for (const auto& [name, e] : criteo.fields) {
        out << YAML::Key << name << YAML::Value << YAML::Flow << YAML::BeginMap;
        EmitEncoding(out, e);
        out << YAML::EndMap;
      }
      out << YAML::EndMap;
    }
    out << YAML::EndMap;
  } else {
    const DelimitedConfig& d = delimited;
    out << YAML::Key << "delimited" << YAML::Value << YAML::BeginMap;
    out << YAML::Key << "delimiter" << YAML::Value << YAML::DoubleQuoted << CharName(d.delimiter);
    out << YAML::Key << "label" << YAML::Value << d.label;
    if (!d.weight.empty()) out << YAML::Key << "weight" << YAML::Value << d.weight;
    if (!d.joins.empty()) {
      out << YAML::Key << "join" << YAML::Value << YAML::BeginSeq;
      for (const JoinSpec& j : d.joins) {
        out << YAML::BeginMap << YAML::Key << "file" << YAML::Value << j.file;
        out << YAML::Key << "key" << YAML::Value << j.key;
        out << YAML::Key << "columns" << YAML::Value << YAML::Flow << j.columns;
        out << YAML::Key << "delimiter" << YAML::Value << YAML::DoubleQuoted
            << CharName(j.delimiter);
        out << YAML::EndMap;
      }
      out << YAML::EndSeq;
    }
    if (!d.dense.empty()) {
      out << YAML::Key << "dense" << YAML::Value << YAML::BeginSeq;
      for (const DenseField& f : d.dense) {
        out << YAML::Flow << YAML::BeginMap << YAML::Key << "name" << YAML::Value << f.name;
        out << YAML::Key << "column" << YAML::Value << f.column;
        out << YAML::Key << "derive" << YAML::Value << ToString(f.derive);
        out << YAML::Key << "transform" << YAML::Value << ToString(f.transform);
        out << YAML::Key << "missing" << YAML::Value << ToString(f.missing) << YAML::EndMap;
      }
      out << YAML::EndSeq;
    }
    for (const bool multi : {false, true}) {
      bool any = false;
      for (const SparseField& f : d.sparse) any = any || f.multi_hot == multi;
      if (!any) continue;
      out << YAML::Key << (multi ? "multi_hot" : "categorical") << YAML::Value << YAML::BeginSeq;
      for (const SparseField& f : d.sparse) {
        if (f.multi_hot != multi) continue;
        out << YAML::Flow << YAML::BeginMap << YAML::Key << "name" << YAML::Value << f.name;
        out << YAML::Key << "column" << YAML::Value << f.column;
        if (multi) {
          out << YAML::Key << "separator" << YAML::Value << YAML::DoubleQuoted
              << CharName(f.separator);
        } else {
          out << YAML::Key << "derive" << YAML::Value << ToString(f.derive);
        }
        EmitEncoding(out, f.encoding);
        out << YAML::EndMap;
      }
      out << YAML::EndSeq;
    }
    out << YAML::EndMap;
  }
  out << YAML::EndMap;
  return EmittedText(out);
}

void DataConfig::Validate() const {
  if (!(max_bad_rows == -1.0 ||
        (std::isfinite(max_bad_rows) && max_bad_rows >= 0.0 &&
         (max_bad_rows < 1.0 || max_bad_rows == std::floor(max_bad_rows))))) {
    throw ConfigError("data.max_bad_rows",
                      fmt::format("expected a fraction in [0, 1), a count (an integer >= 1) or -1 "
                                  "(no limit), found {}",
                                  max_bad_rows));
  }
  if (max_line_bytes < 16 || max_line_bytes > (int64_t{1} << 30)) {
    throw ConfigError("data.max_line_bytes",
                      fmt::format("expected 16..{}, found {}", int64_t{1} << 30, max_line_bytes));
  }
  if (holdout.every != 0 &&
      (holdout.every < 2 || holdout.offset < 0 || holdout.offset >= holdout.every)) {
    throw ConfigError(
        "data.holdout",
        fmt::format("expected every >= 2 and 0 <= offset < every, found every {} offset {}",
                    holdout.every, holdout.offset));
  }
  if (format == DataFormat::kCriteo) {
    ValidateEncoding(criteo.encoding, "data.criteo");
    for (const auto& [name, e] : criteo.fields) {
      int index = 0;
      const bool is_c = name.size() >= 2 && name[0] == 'C' &&
                        std::from_chars(name.data() + 1, name.data() + name.size(), index).ptr ==
                            name.data() + name.size();
      if (!is_c || index < 1 || index > CriteoConfig::kNumSparse || name[1] == '0') {
        throw ConfigError("data.criteo.fields",
                          fmt::format("unknown field '{}' (expected C1..C26)", name));
      }
      ValidateEncoding(e, "data.criteo.fields." + name);
    }
    return;
  }
  const DelimitedConfig& d = delimited;
  const char delim = d.delimiter;
  if (delim == '\n' || delim == '\r' || delim == '"' || delim == '\0') {
    throw ConfigError("data.delimited.delimiter", "a newline, NUL or quote cannot separate fields");
  }
  if (d.label.empty()) throw ConfigError("data.delimited.label", "the label column name is empty");
  if (d.dense.empty() && d.sparse.empty()) {
    throw ConfigError("data.delimited", "the schema has no dense, categorical or multi_hot fields");
  }
  std::set<std::string> names;
  for (size_t i = 0; i < d.dense.size(); ++i) {
    const DenseField& f = d.dense[i];
    const std::string path = fmt::format("data.delimited.dense[{}]", i);
    if (f.name.empty() || f.column.empty())
      throw ConfigError(path, "name and column must not be empty");
    if (!names.insert(f.name).second) {
      throw ConfigError(path + ".name", fmt::format("'{}' is used by another field", f.name));
    }
  }
  size_t num_categorical = 0, num_multi_hot = 0;  // the index in its YAML list
  for (const SparseField& f : d.sparse) {
    const std::string path = f.multi_hot
                                 ? fmt::format("data.delimited.multi_hot[{}]", num_multi_hot++)
                                 : fmt::format("data.delimited.categorical[{}]", num_categorical++);
    if (f.name.empty() || f.column.empty())
      throw ConfigError(path, "name and column must not be empty");
    if (!names.insert(f.name).second) {
      throw ConfigError(path + ".name", fmt::format("'{}' is used by another field", f.name));
    }
    if (f.multi_hot && f.derive != Derive::kNone) {
      throw ConfigError(path + ".derive", "a multi_hot field cannot be derived");
    }
    if (f.multi_hot && (f.separator == delim || f.separator == '"' || f.separator == '\n')) {
      throw ConfigError(path + ".separator", "must differ from the delimiter, quote and newline");
    }
    ValidateEncoding(f.encoding, path);
  }
  for (size_t i = 0; i < d.joins.size(); ++i) {
    const JoinSpec& j = d.joins[i];
    const std::string path = fmt::format("data.delimited.join[{}]", i);
    if (j.file.empty() || j.key.empty() || j.columns.empty()) {
      throw ConfigError(path, "file, key and columns must not be empty");
    }
    if (j.delimiter == '\n' || j.delimiter == '\r' || j.delimiter == '"' || j.delimiter == '\0') {
      throw ConfigError(path + ".delimiter", "a newline, NUL or quote cannot separate fields");
    }
  }
}

std::string FirstUnrereadableFile(const std::vector<std::string>& train_files) {
  for (const std::string& f : train_files) {
    std::error_code ec;
    const fs::file_status st = fs::status(f, ec);
    // A directory or a missing file is left to the reader's error.
    if (!ec && (fs::is_fifo(st) || fs::is_character_file(st) || fs::is_socket(st))) return f;
  }
  return "";
}

int64_t CountLinesUpTo(const std::vector<std::string>& files, int64_t limit) {
  int64_t lines = 0;
  std::vector<char> buf(1 << 16);
  for (const std::string& f : files) {
    std::error_code ec;
    if (!fs::is_regular_file(f, ec) || ec) return -1;
    std::FILE* in = std::fopen(f.c_str(), "rb");
    if (in == nullptr) return -1;
    bool open_line = false;  // bytes after the last newline read
    size_t n = 0;
    while (lines < limit && (n = std::fread(buf.data(), 1, buf.size(), in)) > 0) {
      const char* p = buf.data();
      const char* end = p + n;
      while (lines < limit) {
        const void* nl = std::memchr(p, '\n', static_cast<size_t>(end - p));
        if (nl == nullptr) break;
        ++lines;
        p = static_cast<const char*>(nl) + 1;
      }
      open_line = p < end;
    }
    const bool failed = std::ferror(in) != 0;
    std::fclose(in);
    if (failed) return -1;
    if (open_line && lines < limit) ++lines;
    if (lines >= limit) return limit;
  }
  return lines;
}

std::string ResolveDefaultEncoding(DataConfig* config, const std::vector<std::string>& train_files,
                                   bool split_by_bytes) {
  if (config->format != DataFormat::kCriteo || config->criteo.encoding_given) return "";
  CriteoConfig& c = config->criteo;
  c.encoding_given = true;
  const std::string pipe = FirstUnrereadableFile(train_files);
  const int64_t buckets = c.encoding.hash_buckets;
  if (!pipe.empty()) {
    return fmt::format(
        "Criteo encoding: hashing into {} buckets per field, not the default vocabulary "
        "(min_count {}): {} is not a regular file (a pipe or device), so the counting pass "
        "cannot read it before training; give --hash-buckets N to choose",
        buckets, kDefaultMinCount, pipe);
  }
  if (split_by_bytes) {
    return fmt::format(
        "Criteo encoding: hashing into {} buckets per field, not the default vocabulary "
        "(min_count {}): with input_sharding bytes each rank reads only its byte range, and the "
        "counting pass would make every rank read all of the training data; give --min-count N "
        "to count anyway",
        buckets, kDefaultMinCount);
  }
  c.encoding.kind = Encoding::Kind::kVocabulary;
  c.encoding.vocabulary.min_count = kDefaultMinCount;
  c.encoding.vocabulary.max_size = kDefaultMaxSize;
  return fmt::format(
      "Criteo encoding: a vocabulary per field of the tokens seen at least {} times in the "
      "training rows (at most {} per field; rarer and unseen tokens share the OOV row), counted "
      "in one pass before training (the default; --hash-buckets N hashes instead)",
      kDefaultMinCount, kDefaultMaxSize);
}

}  // namespace crank
