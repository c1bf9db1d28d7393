#ifndef CRANK_DATA_CONFIG_H_
#define CRANK_DATA_CONFIG_H_

// The `data:` section of a crank configuration: input format, schema, error policy, hold-out
// split. Plain structs with in-class defaults; FromYaml fills them from the YAML node of the
// data section and Validate() checks them. docs/data_format.md is the reference for every key.
//
// Two formats:
//  - criteo: Kaggle Display Advertising TSV (label, I1..I13, C1..C26). The schema is fixed;
//    only the categorical encodings are configurable.
//  - delimited: CSV/TSV with a header line, described by a schema (label, dense, categorical
//    and multi-hot columns, joins, derived fields).

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace YAML {
class Node;
}  // namespace YAML

namespace crank {

enum class DataFormat { kCriteo, kDelimited };

// The task's label: kBinary (task: bce) requires labels 0 or 1; kReal (task: mse) any finite
// number.
enum class LabelKind { kBinary, kReal };

// What happens to a malformed row: kSkip counts it (warning with file:line for the first 5,
// total in the reader's stats), kFail throws DataError at the first one.
enum class ErrorPolicy { kSkip, kFail };

// Dense transforms: kLog1p is log(1 + max(x, 0)); kStandardize is (x - mean) / stddev with
// mean and stddev measured over the training rows (stddev 0 is treated as 1).
enum class DenseTransform { kNone, kLog1p, kStandardize };

// What a missing dense value becomes before the transform: 0 or the training mean.
enum class MissingValue { kZero, kMean };

// Fields computed from a column instead of read as is. kTitleYear takes the last "(dddd)" of
// a text such as "Toy Story (1995)". The others read the column as a unix timestamp in
// seconds, UTC: kYear (e.g. 2000), kMonth (1..12), kDay (1..31), kDayOfWeek (0 = Monday ..
// 6 = Sunday), kHour (0..23).
enum class Derive { kNone, kTitleYear, kYear, kMonth, kDay, kDayOfWeek, kHour };

// How a categorical token becomes an id in [0, V). Id 0 always means "missing".
//  - kHash: id = hash(token) % hash_buckets + 1, V = hash_buckets + 1.
//  - kVocabulary: ids are assigned in one counting pass over the training rows: tokens seen at
//    least min_count times get ids 2, 3, ... in order of decreasing count (ties: smaller token
//    hash first); every other token (rare or unseen) maps to the shared out-of-vocabulary
//    id 1. V = 2 + number of kept tokens.
struct VocabularyOptions {
  int64_t min_count = 1;
  // Keep at most this many tokens (the most frequent); 0 = no limit.
  int64_t max_size = 0;
  // Resource bound of the counting pass: at most this many distinct tokens are held per
  // feature. Beyond it the counter (TokenCounter: Misra-Gries with median purges) keeps the
  // frequent tokens and its counts become lower bounds, each at most the reported undercount
  // below the truth. About 32 bytes of memory per held token.
  int64_t max_distinct = 2'000'000;
};

struct Encoding {
  enum class Kind { kHash, kVocabulary };
  Kind kind = Kind::kHash;
  int64_t hash_buckets = 100'000;  // used when kind == kHash
  VocabularyOptions vocabulary;    // used when kind == kVocabulary
};

// A dense (float) field. `column` is the source column (defaults to `name`).
struct DenseField {
  std::string name;
  std::string column;
  Derive derive = Derive::kNone;
  DenseTransform transform = DenseTransform::kNone;
  MissingValue missing = MissingValue::kZero;
};

// A categorical field: one token per row, or, when multi_hot, a list of tokens separated by
// `separator` (e.g. "Comedy|Drama"). Empty cells are missing (one id 0).
struct SparseField {
  std::string name;
  std::string column;
  Derive derive = Derive::kNone;
  bool multi_hot = false;
  char separator = '|';
  Encoding encoding;
};

// Brings `columns` of a second delimited file (with a header line) into every row, matched on
// the column `key` present in both files. Rows whose key is absent from the joined file see
// the joined columns as empty (missing).
struct JoinSpec {
  std::string file;
  std::string key;
  std::vector<std::string> columns;
  char delimiter = ',';
};

// Row filter that lets one file serve training and evaluation: data row i of each file
// (0-based, counting every non-blank line after the header, malformed ones included) is held
// out when every > 0 and i % every == offset. every = 10, offset = 0 holds out the data rows
// 1, 11, 21, ... (1-based), which reproduces the MovieLens reference numbers.
struct Holdout {
  int64_t every = 0;  // 0 = no hold-out
  int64_t offset = 0;
  bool enabled() const { return every > 0; }
  bool IsHeldOut(int64_t row_index) const { return every > 0 && row_index % every == offset; }
};

// Criteo TSV. Labels: kAuto decides per file from the column count of its first non-blank line
// (40 = labelled, 39 = unlabelled); kPresent / kAbsent require 40 / 39 columns.
enum class CriteoLabels { kAuto, kPresent, kAbsent };

// How the hashed encoding sees a Criteo token (up to 16 hex digits): kValue uses the token's
// hexadecimal value itself (Criteo tokens are already hashes; this matches the reference
// implementations: int(token, 16) % buckets + 1), kMix64 mixes it first (for tokens that are
// not uniformly distributed).
enum class TokenHash { kValue, kMix64 };

struct CriteoConfig {
  static constexpr int kNumDense = 13;
  static constexpr int kNumSparse = 26;

  CriteoLabels labels = CriteoLabels::kAuto;
  TokenHash token_hash = TokenHash::kValue;
  Encoding encoding;                       // default for C1..C26
  std::map<std::string, Encoding> fields;  // per-field overrides, keys "C1".."C26"
  // Whether `encoding` was given (hash_buckets or vocabulary in the criteo section, or
  // --hash-buckets / --min-count). While false it is the fallback (hashing into 100,000 buckets)
  // and ResolveDefaultEncoding chooses it from the training input.
  bool encoding_given = false;
};

struct DelimitedConfig {
  char delimiter = ',';
  std::string label;   // label column; a file without it yields unlabelled rows
  std::string weight;  // optional sample-weight column ("" = none)
  std::vector<JoinSpec> joins;
  std::vector<DenseField> dense;    // D, in this order
  std::vector<SparseField> sparse;  // categorical and multi-hot, in config order
};

struct DataConfig {
  DataFormat format = DataFormat::kCriteo;
  LabelKind task = LabelKind::kBinary;
  ErrorPolicy on_error = ErrorPolicy::kSkip;
  int64_t max_line_bytes = int64_t{1} << 20;  // longer lines are malformed
  // How many malformed rows a pass over the input may skip (on_error: skip) before it stops
  // with DataError: a fraction in [0, 1) of the rows read so far, checked once
  // kMinRowsForBadFraction rows are read (0: none at all), a count (an integer >= 1), or -1:
  // no limit (the default; input without line ends stops anyway, see LineReader).
  double max_bad_rows = -1;
  static constexpr int64_t kMinRowsForBadFraction = 1000;
  std::vector<std::string> train_files;  // optional; the CLI may override them
  std::vector<std::string> eval_files;
  Holdout holdout;
  CriteoConfig criteo;        // format == kCriteo
  DelimitedConfig delimited;  // format == kDelimited

  // Parses the data section. `yaml_path` names the YAML file in error messages
  // ("path:line: data.key: ...") and is the base for relative file paths (train, eval,
  // join files), which are made absolute. Unknown keys, wrong types and invalid values throw
  // ConfigError naming the key and its line. The result is validated.
  static DataConfig FromYaml(const YAML::Node& data, const std::string& yaml_path);
  // Parses a YAML text holding the data section itself (as ToYaml writes it).
  static DataConfig FromYamlString(const std::string& text, const std::string& name_for_errors);
  // The resolved configuration as YAML (the data section's content); FromYamlString of it
  // gives an equal configuration.
  std::string ToYaml() const;
  // Throws ConfigError with key "data.key" (what() "data.key: what") when a value is out of
  // range or inconsistent.
  void Validate() const;
};

// The Criteo default encoding when none is given (docs/defaults.md, "The encoding rule"): a
// vocabulary per field of the tokens seen at least kDefaultMinCount times in the training rows,
// the kDefaultMaxSize most frequent at most (bounds the tables at 26 x 1,000,002 rows).
inline constexpr int64_t kDefaultMinCount = 2;
inline constexpr int64_t kDefaultMaxSize = 1'000'000;

// Chooses the default encoding of a Criteo configuration whose encoding was not given
// (criteo.encoding_given false; otherwise, and for delimited data, nothing changes and "" is
// returned): the vocabulary above when the counting pass can read the training input before
// training does, else hashing into 100,000 buckets. The counting pass cannot when a training
// file is a pipe or device (FirstUnrereadableFile: it would be read to its end before training
// starts) or when several ranks each read only their byte range of it (`split_by_bytes`: the
// counting pass would make every rank read all of it). A missing file or a directory is left
// to the reader's error. Sets criteo.encoding_given and returns one log line saying which encoding
// and why.
std::string ResolveDefaultEncoding(DataConfig* config, const std::vector<std::string>& train_files,
                                   bool split_by_bytes);

// The first of `train_files` that is a pipe, character device or socket (which can be read only
// once), or "" when there is none.
std::string FirstUnrereadableFile(const std::vector<std::string>& train_files);

// The lines of `files` together (a last line without a newline counts), counting no further
// than `limit`: min(lines, limit). -1 when a file is not a regular file or cannot be opened
// (a pipe can be read only once; a missing file is left to the reader's error). Reads at most
// the first `limit` lines.
int64_t CountLinesUpTo(const std::vector<std::string>& files, int64_t limit);

// Names used in YAML and messages.
const char* ToString(DataFormat v);
const char* ToString(LabelKind v);
const char* ToString(ErrorPolicy v);
const char* ToString(DenseTransform v);
const char* ToString(MissingValue v);
const char* ToString(Derive v);
const char* ToString(CriteoLabels v);
const char* ToString(TokenHash v);

}  // namespace crank

#endif  // CRANK_DATA_CONFIG_H_
