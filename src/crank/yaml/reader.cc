#include "crank/yaml/reader.h"

#include <cerrno>
#include <charconv>
#include <cstring>
#include <fstream>
#include <sstream>
#include <type_traits>
#include <utility>

namespace crank {
namespace {

// 1-based line of `n`, or `fallback` when yaml-cpp has no position for it.
int LineOr(const YAML::Node& n, int fallback) {
  const int line = n.IsDefined() ? n.Mark().line : -1;
  return line >= 0 ? line + 1 : fallback;
}

std::string DescribeNode(const YAML::Node& n) {
  if (!n.IsDefined() || n.IsNull()) return "nothing";
  if (n.IsScalar()) return "'" + n.Scalar() + "'";
  if (n.IsSequence()) return "a list";
  return "a mapping";
}

}  // namespace

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

// ---- KeyPositions

void KeyPositions::Record(const std::string& path, int line) {
  if (line > 0) lines_[path] = line;
}

int KeyPositions::LineOf(std::string_view key) const {
  // The longest recorded path that is `key` or encloses it (followed by '.' or '[').
  for (std::string_view k = key;;) {
    if (const auto it = lines_.find(k); it != lines_.end()) return it->second;
    const size_t cut = k.find_last_of(".[");
    if (cut == std::string_view::npos) break;
    k = k.substr(0, cut);
  }
  const auto root = lines_.find(std::string_view());
  return root != lines_.end() ? root->second : 0;
}

ConfigError KeyPositions::Locate(const ConfigError& e, const std::string& file) const {
  if (file.empty() || !e.file().empty()) return e;
  if (e.key().empty()) return e.At(file, 0);
  return e.At(file, LineOf(e.key()));
}

// ---- YamlReader

YamlReader::YamlReader(YAML::Node node, std::string path, std::string prefix,
                       std::shared_ptr<Document> doc, int line, int key_line)
    : node_(std::move(node)),
      path_(std::move(path)),
      prefix_(std::move(prefix)),
      doc_(std::move(doc)),
      line_(line),
      key_line_(key_line) {}

YamlReader YamlReader::Root(const YAML::Node& node, std::string path, std::string file,
                            YamlDialect dialect, bool keys_under_path) {
  auto doc = std::make_shared<Document>();
  doc->file = std::move(file);
  doc->dialect = dialect;
  const int line = LineOr(node, 0);
  // Keys of errors found later name the whole path ("data.holdout"): the root stands for
  // `path` and for anything not recorded below it.
  doc->positions.Record(path, line);
  doc->positions.Record("", line);
  std::string prefix = keys_under_path ? path + "." : std::string();
  return YamlReader(node.IsDefined() ? node : YAML::Node(YAML::NodeType::Undefined),
                    std::move(path), std::move(prefix), std::move(doc), line, line);
}

void YamlReader::Fail(const std::string& what) const {
  throw ConfigError(doc_->file, doc_->file.empty() ? 0 : line_, path_, what);
}

void YamlReader::FailAtKey(const std::string& what) const {
  throw ConfigError(doc_->file, doc_->file.empty() ? 0 : key_line_, path_, what);
}

bool YamlReader::Has(const char* key) const {
  if (!node_.IsMap()) return false;
  const YAML::Node& n = node_;  // const lookup: operator[] on a non-const node inserts the key
  return n[key].IsDefined();
}

YamlReader YamlReader::Child(const char* key) const {
  const std::string path = prefix_ + key;
  YAML::Node child(YAML::NodeType::Undefined);
  int key_line = line_;
  if (node_.IsMap()) {
    for (const auto& kv : node_) {
      if (kv.first.IsScalar() && kv.first.Scalar() == key) {
        key_line = LineOr(kv.first, line_);
        break;
      }
    }
    const YAML::Node& n = node_;
    const YAML::Node found = n[key];
    // A key yaml-cpp cannot look up (e.g. a null key read back as "") gives an invalid node,
    // on which every query but IsDefined throws: treat it as absent.
    if (found.IsDefined()) {
      child = found;
      doc_->positions.Record(path, key_line);
    }
  }
  return YamlReader(child, path, path + ".", doc_, LineOr(child, line_), key_line);
}

YamlReader YamlReader::KeyOf(const YAML::Node& key) const {
  const int line = LineOr(key, line_);
  return YamlReader(key, path_, prefix_, doc_, line, line);
}

YamlReader YamlReader::Item(size_t i) const {
  const YAML::Node& n = node_;
  const YAML::Node item = n[i];
  const std::string path = fmt::format("{}[{}]", path_, i);
  const int line = LineOr(item, line_);
  doc_->positions.Record(path, line);
  return YamlReader(item, path, path + ".", doc_, line, line);
}

void YamlReader::ExpectMap() const {
  const bool key_first = doc_->dialect == YamlDialect::kKeyFirst;
  if (!node_.IsMap()) {
    Fail(key_first ? std::string("expected a mapping of keys")
                   : "expected a mapping of keys, found " + Describe());
  }
  // yaml-cpp keeps both entries of a key given twice; a lookup would see only the first.
  std::map<std::string, int> first_line;  // key -> its 1-based line
  for (const auto& kv : node_) {
    if (key_first ? !kv.first.IsScalar() : (!kv.first.IsScalar() && !kv.first.IsNull())) {
      continue;  // CheckKeys refuses keys that are not names
    }
    const YamlReader key = KeyOf(kv.first);
    const std::string name = kv.first.IsNull() ? "~" : kv.first.Scalar();
    const auto [it, inserted] = first_line.emplace(name, key.line_);
    if (inserted) continue;
    if (key_first) {
      throw ConfigError(doc_->file, key.line_, path_ + "." + name,
                        fmt::format("duplicate key (first at line {})", it->second));
    }
    key.Fail(fmt::format("duplicate key '{}' (first at line {})", name, it->second));
  }
}

void YamlReader::ExpectMapOrNull() const {
  if (!IsNull()) ExpectMap();
}

void YamlReader::CheckKeys(std::span<const char* const> allowed) const {
  const bool key_first = doc_->dialect == YamlDialect::kKeyFirst;
  if (key_first && IsNull()) return;  // an empty section
  ExpectMap();
  for (const auto& kv : node_) {
    const YamlReader key = KeyOf(kv.first);
    if (key_first && !kv.first.IsScalar()) {  // a null key (`~:`, `:`), a list or mapping
      key.Fail(fmt::format("expected a key name, found {}",
                           kv.first.IsNull() ? "a null key" : "a list or mapping"));
    }
    const std::string name = kv.first.Scalar();
    bool ok = false;
    for (const char* a : allowed) ok = ok || name == a;
    if (ok) continue;
    std::string list;
    for (const char* a : allowed) list += (list.empty() ? "" : ", ") + std::string(a);
    if (key_first) {
      throw ConfigError(doc_->file, key.line_, path_ + "." + name,
                        fmt::format("unknown key (known: {})", list));
    }
    key.Fail(fmt::format("unknown key '{}' (expected one of: {})", name, list));
  }
}

void YamlReader::ExpectSequence() const {
  if (!node_.IsSequence()) Fail("expected a list, found " + Describe());
}

std::string YamlReader::Describe() const { return DescribeNode(node_); }

std::string YamlReader::AsString() const {
  if (!node_.IsScalar()) Fail("expected a text value, found " + Describe());
  // YAML text is Unicode: other bytes would not survive the emitter (names, paths, columns).
  if (!IsUtf8(node_.Scalar())) Fail("expected UTF-8 text, found invalid bytes");
  return node_.Scalar();
}

int64_t YamlReader::AsInt(int64_t min, int64_t max) const {
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

char YamlReader::AsChar() const {
  const std::string s = AsString();
  if (s == "tab" || s == "\\t") return '\t';
  if (s.size() != 1) Fail(fmt::format("expected a single character (or \"tab\"), found '{}'", s));
  if (s[0] == '\n' || s[0] == '\r' || s[0] == '"')
    Fail("a newline or quote cannot separate fields");
  return s[0];
}

std::vector<std::string> YamlReader::AsStringList() const {
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

template <typename T>
void YamlReader::ReadScalar(const char* key, T* out, const char* type_name) const {
  if (!Has(key)) return;
  const YamlReader v = Child(key);
  try {
    *out = v.node_.template as<T>();
  } catch (const YAML::Exception&) {
    throw ConfigError(doc_->file, v.key_line_, v.path_,
                      fmt::format("expected {}, got {}", type_name, v.Describe()));
  }
}

void YamlReader::Read(const char* key, bool* out) const { ReadScalar(key, out, "true or false"); }
void YamlReader::Read(const char* key, int* out) const { ReadScalar(key, out, "an integer"); }
void YamlReader::Read(const char* key, int64_t* out) const { ReadScalar(key, out, "an integer"); }
void YamlReader::Read(const char* key, uint64_t* out) const { ReadScalar(key, out, "an integer"); }
void YamlReader::Read(const char* key, float* out) const { ReadScalar(key, out, "a number"); }
void YamlReader::Read(const char* key, double* out) const { ReadScalar(key, out, "a number"); }
void YamlReader::Read(const char* key, std::string* out) const { ReadScalar(key, out, "a string"); }

void YamlReader::Read(const char* key, std::vector<int64_t>* out) const {
  if (!Has(key)) return;
  const YamlReader v = Child(key);
  try {
    *out = v.node_.as<std::vector<int64_t>>();
    return;
  } catch (const YAML::Exception&) {
  }
  int line = v.key_line_;
  std::string got = v.Describe();
  // Name the first item that is not an integer, at its line.
  for (size_t i = 0; v.node_.IsSequence() && i < v.node_.size(); ++i) {
    const YAML::Node item = v.node_[i];
    int64_t unused = 0;
    if (item.IsScalar() && YAML::convert<int64_t>::decode(item, unused)) continue;
    line = LineOr(item, line);
    got = fmt::format("{} at [{}]", DescribeNode(item), i);
    break;
  }
  throw ConfigError(doc_->file, line, v.path_,
                    fmt::format("expected a list of integers, got {}", got));
}

YAML::Node LoadYaml(const std::string& text, const std::string& name_for_errors) {
  try {
    return YAML::Load(text);
  } catch (const YAML::Exception& e) {
    throw ConfigError(name_for_errors, e.mark.line + 1, "", "invalid YAML: " + e.msg);
  }
}

std::string ReadConfigFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw IoError(fmt::format("cannot read config {}: {}", path, std::strerror(errno)));
  std::stringstream ss;
  ss << in.rdbuf();
  if (in.bad()) throw IoError(fmt::format("cannot read config {}: read failed", path));
  return ss.str();
}

}  // namespace crank
