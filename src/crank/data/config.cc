#include "crank/data/config.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <charconv>
#include <filesystem>
#include <map>
#include <set>
#include <string_view>
#include <utility>

#include "crank/base/error.h"

namespace crank {
namespace {

namespace fs = std::filesystem;

template <typename E>
using EnumNames = std::initializer_list<std::pair<const char*, E>>;

const EnumNames<DataFormat> kFormats = {{"criteo", DataFormat::kCriteo},
                                        {"delimited", DataFormat::kDelimited}};
const EnumNames<LabelKind> kTasks = {{"bce", LabelKind::kBinary}, {"mse", LabelKind::kReal}};
const EnumNames<ErrorPolicy> kPolicies = {{"skip", ErrorPolicy::kSkip},
                                          {"fail", ErrorPolicy::kFail}};
const EnumNames<DenseTransform> kTransforms = {{"none", DenseTransform::kNone},
                                               {"log1p", DenseTransform::kLog1p},
                                               {"standardize", DenseTransform::kStandardize}};
const EnumNames<MissingValue> kMissing = {{"zero", MissingValue::kZero},
                                          {"mean", MissingValue::kMean}};
const EnumNames<Derive> kDerives = {{"none", Derive::kNone}, {"title_year", Derive::kTitleYear},
                                    {"year", Derive::kYear}, {"month", Derive::kMonth},
                                    {"day", Derive::kDay},   {"day_of_week", Derive::kDayOfWeek},
                                    {"hour", Derive::kHour}};
const EnumNames<CriteoLabels> kCriteoLabels = {{"auto", CriteoLabels::kAuto},
                                               {"present", CriteoLabels::kPresent},
                                               {"absent", CriteoLabels::kAbsent}};
const EnumNames<TokenHash> kTokenHashes = {{"value", TokenHash::kValue},
                                           {"mix64", TokenHash::kMix64}};

template <typename E>
const char* NameOf(const EnumNames<E>& names, E v) {
  for (const auto& [name, value] : names) {
    if (value == v) return name;
  }
  return "?";
}

// Whether `s` is well-formed UTF-8 (no overlong forms, surrogates or code points > U+10FFFF).
bool IsUtf8(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<unsigned char>(s[i]);
    size_t n = 0;
    unsigned char lo = 0x80, hi = 0xbf;  // range of the byte after the lead byte
    if (c < 0x80) {
      ++i;
      continue;
    } else if (c >= 0xc2 && c <= 0xdf) {
      n = 1;
    } else if (c >= 0xe0 && c <= 0xef) {
      n = 2;
      if (c == 0xe0) lo = 0xa0;
      if (c == 0xed) hi = 0x9f;
    } else if (c >= 0xf0 && c <= 0xf4) {
      n = 3;
      if (c == 0xf0) lo = 0x90;
      if (c == 0xf4) hi = 0x8f;
    } else {
      return false;
    }
    if (s.size() - i <= n) return false;
    for (size_t k = 1; k <= n; ++k) {
      const auto b = static_cast<unsigned char>(s[i + k]);
      if (b < (k == 1 ? lo : 0x80) || b > (k == 1 ? hi : 0xbf)) return false;
    }
    i += n + 1;
  }
  return true;
}

// A YAML node together with its dotted key path, for messages "file:line: path: what".
class Ctx {
 public:
  Ctx(YAML::Node node, std::string path, const std::string* file, int fallback_line)
      : node_(std::move(node)), path_(std::move(path)), file_(file) {
    const YAML::Mark mark = node_.IsDefined() ? node_.Mark() : YAML::Mark::null_mark();
    line_ = mark.line >= 0 ? mark.line + 1 : fallback_line;
  }

  const YAML::Node& node() const { return node_; }
  const std::string& path() const { return path_; }
  bool IsNull() const { return !node_.IsDefined() || node_.IsNull(); }

  [[noreturn]] void Fail(const std::string& what) const {
    std::string where;
    if (!file_->empty()) where = *file_ + (line_ > 0 ? fmt::format(":{}", line_) : "") + ": ";
    throw ConfigError(where + path_ + ": " + what);
  }

  // Const access throughout: operator[] on a non-const node would insert the key.
  bool Has(const char* key) const { return node_.IsMap() && cnode()[key].IsDefined(); }
  Ctx Child(const char* key) const {
    const YAML::Node child = node_.IsMap() ? cnode()[key] : YAML::Node();
    // A key yaml-cpp cannot look up (e.g. a null key read back as "") gives an invalid node,
    // on which every query but IsDefined throws: treat it as absent.
    return Ctx(child.IsDefined() ? child : YAML::Node(YAML::NodeType::Undefined), path_ + "." + key,
               file_, line_);
  }
  // The key node of an entry of this mapping, for messages about the key itself.
  Ctx KeyOf(const YAML::Node& key) const { return Ctx(key, path_, file_, line_); }
  Ctx Item(size_t i) const {
    return Ctx(cnode()[i], fmt::format("{}[{}]", path_, i), file_, line_);
  }

  // Also refuses a key given twice (yaml-cpp keeps both; a lookup would see only the first).
  void ExpectMap() const {
    if (!node_.IsMap()) Fail("expected a mapping of keys, found " + Describe());
    std::map<std::string, int> first_line;  // scalar key -> its 1-based line
    for (const auto& kv : node_) {
      if (!kv.first.IsScalar() && !kv.first.IsNull()) continue;  // reported where keys are read
      const Ctx key(kv.first, path_, file_, line_);
      const std::string name = kv.first.IsNull() ? "~" : kv.first.Scalar();
      const auto [it, inserted] = first_line.emplace(name, key.line_);
      if (!inserted) {
        key.Fail(fmt::format("duplicate key '{}' (first at line {})", name, it->second));
      }
    }
  }
  void ExpectSequence() const {
    if (!node_.IsSequence()) Fail("expected a list, found " + Describe());
  }
  // Throws on keys outside `allowed`: nothing in the data section is ignored silently.
  void CheckKeys(std::initializer_list<const char*> allowed) const {
    ExpectMap();
    for (const auto& kv : node_) {
      const std::string key = kv.first.Scalar();
      bool ok = false;
      for (const char* a : allowed) ok = ok || key == a;
      if (!ok) {
        std::string list;
        for (const char* a : allowed) list += (list.empty() ? "" : ", ") + std::string(a);
        Ctx(kv.first, path_, file_, line_)
            .Fail(fmt::format("unknown key '{}' (expected one of: {})", key, list));
      }
    }
  }

  std::string AsString() const {
    if (!node_.IsScalar()) Fail("expected a text value, found " + Describe());
    // YAML text is Unicode: other bytes would not survive ToYaml (names, paths, columns).
    if (!IsUtf8(node_.Scalar())) Fail("expected UTF-8 text, found invalid bytes");
    return node_.Scalar();
  }
  int64_t AsInt(int64_t min, int64_t max) const {
    const std::string s = node_.IsScalar() ? node_.Scalar() : std::string();
    int64_t v = 0;
    const auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (!node_.IsScalar() || s.empty() || ec != std::errc() || ptr != s.data() + s.size()) {
      Fail(fmt::format("expected an integer, found {}", Describe()));
    }
    if (v < min || v > max)
      Fail(fmt::format("expected an integer in [{}, {}], found {}", min, max, v));
    return v;
  }
  // A single character; "tab" and "\t" mean the tab character.
  char AsChar() const {
    const std::string s = AsString();
    if (s == "tab" || s == "\\t") return '\t';
    if (s.size() != 1) Fail(fmt::format("expected a single character (or \"tab\"), found '{}'", s));
    if (s[0] == '\n' || s[0] == '\r' || s[0] == '"')
      Fail("a newline or quote cannot separate fields");
    return s[0];
  }
  // A text or a list of texts.
  std::vector<std::string> AsStringList() const {
    std::vector<std::string> out;
    if (node_.IsScalar()) {
      out.push_back(AsString());
    } else if (node_.IsSequence()) {
      for (size_t i = 0; i < node_.size(); ++i) out.push_back(Item(i).AsString());
    } else {
      Fail("expected a text or a list of texts, found " + Describe());
    }
    return out;
  }
  // What the node is, for messages: 'text', a list, a mapping or nothing.
  std::string Describe() const {
    if (!node_.IsDefined() || node_.IsNull()) return "nothing";
    if (node_.IsScalar()) return "'" + node_.Scalar() + "'";
    if (node_.IsSequence()) return "a list";
    return "a mapping";
  }
  template <typename E>
  E AsEnum(const EnumNames<E>& names) const {
    const std::string s = AsString();
    std::string list;
    for (const auto& [name, value] : names) {
      if (s == name) return value;
      list += (list.empty() ? "" : ", ") + std::string(name);
    }
    Fail(fmt::format("expected one of {}, found '{}'", list, s));
  }

 private:
  const YAML::Node& cnode() const { return node_; }

  YAML::Node node_;
  std::string path_;
  const std::string* file_;
  int line_ = 0;
};

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
  ParseEncoding(c, &cc.encoding);
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
      throw ConfigError(fmt::format("{}.hash_buckets: expected 1..{}, found {}", path, kMaxBuckets,
                                    e.hash_buckets));
    }
  } else {
    const VocabularyOptions& v = e.vocabulary;
    if (v.min_count < 1) {
      throw ConfigError(
          fmt::format("{}.vocabulary.min_count: expected >= 1, found {}", path, v.min_count));
    }
    if (v.max_size < 0) {
      throw ConfigError(
          fmt::format("{}.vocabulary.max_size: expected >= 0, found {}", path, v.max_size));
    }
    if (v.max_distinct < 1) {
      throw ConfigError(
          fmt::format("{}.vocabulary.max_distinct: expected >= 1, found {}", path, v.max_distinct));
    }
  }
}

// YamlLineOf below `node`, whose line is `line`.
int LineAlong(const YAML::Node& node, std::string_view path, int line) {
  const auto line_of = [line](const YAML::Node& n) {
    const int l = n.Mark().line;
    return l >= 0 ? l + 1 : line;
  };
  if (!path.empty() && path[0] == '.') path.remove_prefix(1);
  if (path.empty()) return line;
  if (path[0] == '[') {
    const size_t close = path.find(']');
    size_t i = 0;
    const auto [ptr, ec] =
        std::from_chars(path.data() + 1, path.data() + std::min(close, path.size()), i);
    if (close == std::string_view::npos || ec != std::errc() || ptr != path.data() + close ||
        !node.IsSequence() || i >= node.size()) {
      return line;
    }
    const YAML::Node item = node[i];
    return LineAlong(item, path.substr(close + 1), line_of(item));
  }
  const size_t end = path.find_first_of(".[");
  const std::string_view name = path.substr(0, end);
  if (!node.IsMap()) return line;
  for (const auto& kv : node) {
    if (kv.first.IsScalar() && kv.first.Scalar() == name) {
      return LineAlong(kv.second, end == std::string_view::npos ? "" : path.substr(end),
                       line_of(kv.first));
    }
  }
  return line;
}

}  // namespace

int YamlLineOf(const YAML::Node& root, std::string_view path) {
  try {
    if (!root.IsDefined()) return 0;
    const int l = root.Mark().line;
    return LineAlong(root, path, l >= 0 ? l + 1 : 0);
  } catch (const YAML::Exception&) {  // not expected from a loaded tree; a line is optional
    return 0;
  }
}

std::string LocateConfigError(const YAML::Node& root, std::string_view root_key,
                              const std::string& file, const std::string& message) {
  if (file.empty()) return message;
  const size_t colon = message.find(": ");
  std::string_view key = std::string_view(message).substr(0, colon);
  if (colon == std::string::npos || key.empty() || key.find(' ') != std::string_view::npos) {
    return file + ": " + message;
  }
  if (!root_key.empty()) {
    if (key.substr(0, root_key.size()) != root_key) return file + ": " + message;
    key.remove_prefix(root_key.size());
  }
  const int line = YamlLineOf(root, key);
  return line > 0 ? fmt::format("{}:{}: {}", file, line, message) : file + ": " + message;
}

const char* ToString(DataFormat v) { return NameOf(kFormats, v); }
const char* ToString(LabelKind v) { return NameOf(kTasks, v); }
const char* ToString(ErrorPolicy v) { return NameOf(kPolicies, v); }
const char* ToString(DenseTransform v) { return NameOf(kTransforms, v); }
const char* ToString(MissingValue v) { return NameOf(kMissing, v); }
const char* ToString(Derive v) { return NameOf(kDerives, v); }
const char* ToString(CriteoLabels v) { return NameOf(kCriteoLabels, v); }
const char* ToString(TokenHash v) { return NameOf(kTokenHashes, v); }

DataConfig DataConfig::FromYaml(const YAML::Node& data, const std::string& yaml_path) {
  const Ctx c(data, "data", &yaml_path, 0);
  const fs::path base = yaml_path.empty() ? fs::path() : fs::path(yaml_path).parent_path();
  DataConfig cfg;
  if (c.IsNull()) return cfg;  // an empty data section: Criteo with defaults
  c.CheckKeys({"format", "task", "on_error", "max_line_bytes", "train", "eval", "holdout", "criteo",
               "delimited"});
  if (c.Has("format")) cfg.format = c.Child("format").AsEnum(kFormats);
  if (c.Has("task")) cfg.task = c.Child("task").AsEnum(kTasks);
  if (c.Has("on_error")) cfg.on_error = c.Child("on_error").AsEnum(kPolicies);
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
    throw ConfigError(LocateConfigError(data, "data", yaml_path, e.what()));
  }
  return cfg;
}

DataConfig DataConfig::FromYamlString(const std::string& text, const std::string& name_for_errors) {
  YAML::Node node;
  try {
    node = YAML::Load(text);
  } catch (const YAML::Exception& e) {
    throw ConfigError(fmt::format("{}: invalid YAML: {}", name_for_errors, e.what()));
  }
  return FromYaml(node, name_for_errors);
}

std::string DataConfig::ToYaml() const {
  YAML::Emitter out;
  out << YAML::BeginMap;
  out << YAML::Key << "format" << YAML::Value << ToString(format);
  out << YAML::Key << "task" << YAML::Value << ToString(task);
  out << YAML::Key << "on_error" << YAML::Value << ToString(on_error);
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
  return std::string(out.c_str()) + "\n";
}

void DataConfig::Validate() const {
  if (max_line_bytes < 16 || max_line_bytes > (int64_t{1} << 30)) {
    throw ConfigError(fmt::format("data.max_line_bytes: expected 16..{}, found {}",
                                  int64_t{1} << 30, max_line_bytes));
  }
  if (holdout.every != 0 &&
      (holdout.every < 2 || holdout.offset < 0 || holdout.offset >= holdout.every)) {
    throw ConfigError(fmt::format(
        "data.holdout: expected every >= 2 and 0 <= offset < every, found every {} offset {}",
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
        throw ConfigError(
            fmt::format("data.criteo.fields: unknown field '{}' (expected C1..C26)", name));
      }
      ValidateEncoding(e, "data.criteo.fields." + name);
    }
    return;
  }
  const DelimitedConfig& d = delimited;
  const char delim = d.delimiter;
  if (delim == '\n' || delim == '\r' || delim == '"' || delim == '\0') {
    throw ConfigError("data.delimited.delimiter: a newline, NUL or quote cannot separate fields");
  }
  if (d.label.empty()) throw ConfigError("data.delimited.label: the label column name is empty");
  if (d.dense.empty() && d.sparse.empty()) {
    throw ConfigError("data.delimited: the schema has no dense, categorical or multi_hot fields");
  }
  std::set<std::string> names;
  for (size_t i = 0; i < d.dense.size(); ++i) {
    const DenseField& f = d.dense[i];
    const std::string path = fmt::format("data.delimited.dense[{}]", i);
    if (f.name.empty() || f.column.empty())
      throw ConfigError(path + ": name and column must not be empty");
    if (!names.insert(f.name).second) {
      throw ConfigError(fmt::format("{}.name: '{}' is used by another field", path, f.name));
    }
  }
  size_t num_categorical = 0, num_multi_hot = 0;  // the index in its YAML list
  for (const SparseField& f : d.sparse) {
    const std::string path = f.multi_hot
                                 ? fmt::format("data.delimited.multi_hot[{}]", num_multi_hot++)
                                 : fmt::format("data.delimited.categorical[{}]", num_categorical++);
    if (f.name.empty() || f.column.empty())
      throw ConfigError(path + ": name and column must not be empty");
    if (!names.insert(f.name).second) {
      throw ConfigError(fmt::format("{}.name: '{}' is used by another field", path, f.name));
    }
    if (f.multi_hot && f.derive != Derive::kNone) {
      throw ConfigError(path + ".derive: a multi_hot field cannot be derived");
    }
    if (f.multi_hot && (f.separator == delim || f.separator == '"' || f.separator == '\n')) {
      throw ConfigError(path + ".separator: must differ from the delimiter, quote and newline");
    }
    ValidateEncoding(f.encoding, path);
  }
  for (size_t i = 0; i < d.joins.size(); ++i) {
    const JoinSpec& j = d.joins[i];
    const std::string path = fmt::format("data.delimited.join[{}]", i);
    if (j.file.empty() || j.key.empty() || j.columns.empty()) {
      throw ConfigError(path + ": file, key and columns must not be empty");
    }
    if (j.delimiter == '\n' || j.delimiter == '\r' || j.delimiter == '"' || j.delimiter == '\0') {
      throw ConfigError(path + ".delimiter: a newline, NUL or quote cannot separate fields");
    }
  }
}

}  // namespace crank
