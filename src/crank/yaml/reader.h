#ifndef CRANK_YAML_READER_H_
#define CRANK_YAML_READER_H_

// The one strict reader of crank's YAML configuration files.
//
// A YamlReader stands for one node of a loaded document together with its dotted key path
// ("data.delimited.dense[1]"). Its getters refuse what a configuration must not contain:
// unknown keys, a key given twice, keys that are not names (null, list or mapping keys), values
// of the wrong type, integers out of range, text that is not UTF-8 and names outside an enum's
// name table. Every refusal is a ConfigError carrying the file, the 1-based line and the key as
// fields (what() is "file:line: key: what").
//
// Every key and list item a reader visits has its line recorded in the KeyPositions shared by
// all readers of one document, so an error found later by a Validate() (a ConfigError with a
// key and no file) can be located at the line of its key: KeyPositions::Locate.
//
// Messages come in two wordings, kept as the two configuration sections always worded them:
//  - YamlDialect::kKeyFirst ("train.epoch: unknown key (known: ...)", "got 'x'") for the
//    sections of a job file;
//  - YamlDialect::kSectionFirst ("data: unknown key 'x' (expected one of: ...)", "found 'x'")
//    for the data section.
//
// Readers never modify the YAML nodes (lookups are const). Not thread-safe: one document is
// read by one thread.

#include <yaml-cpp/yaml.h>

#include <cstdint>
#include <initializer_list>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "crank/base/enum_names.h"
#include "crank/base/error.h"

namespace crank {

// Whether `s` is well-formed UTF-8 (no overlong forms, surrogates or code points > U+10FFFF).
bool IsUtf8(std::string_view s);

// The 1-based lines of the keys and list items of one document, by dotted path.
class KeyPositions {
 public:
  void Record(const std::string& path, int line);
  // The line of `key`, or of its nearest enclosing key or list item that was recorded
  // ("model.bottom" -> the line of "model" when bottom is absent); 0 when none was.
  int LineOf(std::string_view key) const;
  // `e` located in `file` at the line of its key. An error without a key gets the file only;
  // an error that has a file already is returned as is.
  ConfigError Locate(const ConfigError& e, const std::string& file) const;

 private:
  std::map<std::string, int, std::less<>> lines_;
};

enum class YamlDialect { kKeyFirst, kSectionFirst };

class YamlReader {
 public:
  // The root of a document (or section) loaded from `file` ("" = no file: messages carry the
  // key only). `path` is the key path the root stands for ("config", "data"). With
  // `keys_under_path` the keys below are named under it ("data.format"); without, they are
  // named on their own ("train.epochs" in a document named "config").
  static YamlReader Root(const YAML::Node& node, std::string path, std::string file,
                         YamlDialect dialect, bool keys_under_path = true);

  const YAML::Node& node() const { return node_; }
  const std::string& path() const { return path_; }
  const std::string& file() const { return doc_->file; }
  int line() const { return line_; }
  const KeyPositions& positions() const { return doc_->positions; }
  // Absent or null (`key:` with no value, `~`).
  bool IsNull() const { return !node_.IsDefined() || node_.IsNull(); }

  // Throws ConfigError(file, line of this node, path, what).
  [[noreturn]] void Fail(const std::string& what) const;
  // Throws ConfigError at the line of this node's key (its own line for an item or the root).
  [[noreturn]] void FailAtKey(const std::string& what) const;

  // ---- mappings
  // Whether this is a mapping holding `key`.
  bool Has(const char* key) const;
  // The value of `key` (an absent, null reader when the key is not there).
  YamlReader Child(const char* key) const;
  // The reader for a key node of this mapping, for messages about the key itself.
  YamlReader KeyOf(const YAML::Node& key) const;
  // Requires a mapping with no key given twice.
  void ExpectMap() const;
  // ExpectMap, unless absent or null (an empty section).
  void ExpectMapOrNull() const;
  // ExpectMap, then requires every key to be a name in `allowed`. With kKeyFirst an absent or
  // null node is an empty section (nothing to check).
  void CheckKeys(std::span<const char* const> allowed) const;
  void CheckKeys(std::initializer_list<const char*> allowed) const {
    CheckKeys(std::span<const char* const>(allowed.begin(), allowed.size()));
  }

  // ---- lists
  void ExpectSequence() const;
  size_t size() const { return node_.size(); }
  YamlReader Item(size_t i) const;

  // ---- scalars (kSectionFirst wording)
  std::string AsString() const;  // UTF-8 text
  int64_t AsInt(int64_t min, int64_t max) const;
  char AsChar() const;  // a single byte; "tab" and "\t" mean the tab character
  std::vector<std::string> AsStringList() const;  // a text or a list of texts
  template <typename E>
  E AsEnum(std::span<const EnumName<E>> names) const {
    const std::string s = AsString();
    if (const auto v = ParseName(names, s)) return *v;
    Fail(fmt::format("expected one of {}, found '{}'", ListNames(names, ", ", ", "), s));
  }
  template <typename E, size_t N>
  E AsEnum(const EnumName<E> (&names)[N]) const {
    return AsEnum(std::span<const EnumName<E>>(names));
  }

  // ---- typed values of a mapping (kKeyFirst wording): reads `key` into *out when present,
  // leaves *out as is otherwise. ConfigError "path.key: expected <type>, got <what>" at the
  // line of the key.
  void Read(const char* key, bool* out) const;
  void Read(const char* key, int* out) const;
  void Read(const char* key, int64_t* out) const;
  void Read(const char* key, uint64_t* out) const;
  void Read(const char* key, float* out) const;
  void Read(const char* key, double* out) const;
  void Read(const char* key, std::string* out) const;
  void Read(const char* key, std::vector<int64_t>* out) const;
  // An enum by its name table; "path.key: expected a or b, got 'x'".
  template <typename E>
  void Read(const char* key, std::span<const EnumName<E>> names, E* out) const {
    std::string text;
    Read(key, &text);
    if (!Has(key)) return;
    if (const auto v = ParseName(names, text)) {
      *out = *v;
      return;
    }
    Child(key).FailAtKey(
        fmt::format("expected {}, got '{}'", ListNames(names, ", ", " or "), text));
  }

  template <typename E, size_t N>
  void Read(const char* key, const EnumName<E> (&names)[N], E* out) const {
    Read(key, std::span<const EnumName<E>>(names), out);
  }

  // What the node is, for messages: 'text', a list, a mapping or nothing.
  std::string Describe() const;

 private:
  struct Document {
    std::string file;
    YamlDialect dialect;
    KeyPositions positions;
  };
  YamlReader(YAML::Node node, std::string path, std::string prefix, std::shared_ptr<Document> doc,
             int line, int key_line);
  template <typename T>
  void ReadScalar(const char* key, T* out, const char* type_name) const;

  YAML::Node node_;
  std::string path_;
  std::string prefix_;  // of the keys below: path_ + "." or ""
  std::shared_ptr<Document> doc_;
  int line_ = 0;      // of the value (the parent's when the value has no position)
  int key_line_ = 0;  // of the key this value belongs to (line_ for items and the root)
};

// Loads YAML text: ConfigError "name:line: invalid YAML: ..." when it does not parse.
YAML::Node LoadYaml(const std::string& text, const std::string& name_for_errors);
// Reads a whole file: IoError when it cannot be read.
std::string ReadConfigFile(const std::string& path);

}  // namespace crank

#endif  // CRANK_YAML_READER_H_
