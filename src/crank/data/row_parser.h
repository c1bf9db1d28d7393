#ifndef CRANK_DATA_ROW_PARSER_H_
#define CRANK_DATA_ROW_PARSER_H_

// RowParser: turns one line of text into a RawRow (values and token keys before the mapping).
// One implementation per input format (CriteoParser, DelimitedParser); RowSource drives them.

#include <cstdint>
#include <limits>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "crank/data/config.h"
#include "crank/data/data_spec.h"

namespace crank {

// One parsed row. Dense values are raw (before transforms); NaN marks a missing value. Token
// keys are grouped per sparse feature in Schema::sparse order; an empty list is missing.
struct RawRow {
  bool has_label = false;
  double label = 0.0;
  double weight = 1.0;
  std::vector<double> dense;                // D
  std::vector<std::vector<uint64_t>> keys;  // F lists

  static constexpr double kMissing = std::numeric_limits<double>::quiet_NaN();
  // Clears the row for num_dense / num_sparse fields, keeping capacity.
  void Reset(size_t num_dense, size_t num_sparse) {
    has_label = false;
    label = 0.0;
    weight = 1.0;
    dense.assign(num_dense, kMissing);
    keys.resize(num_sparse);
    for (auto& k : keys) k.clear();
  }
};

class RowParser {
 public:
  virtual ~RowParser() = default;

  // Called before the first line of every file.
  virtual void BeginFile(const std::string& path) = 0;
  // True while the current file's header line is still to come (delimited formats).
  virtual bool ExpectsHeader() const = 0;
  // Consumes the header line. Throws DataError "path: ..." when it lacks a needed column.
  virtual void ParseHeader(std::string_view line) = 0;
  // Parses one non-blank data line into *row. On a malformed line returns false and sets
  // *error to "field X: 'token' is not ..." (no file:line; the caller adds it).
  virtual bool Parse(std::string_view line, RawRow* row, std::string* error) = 0;
};

// The parser for config.format. `schema` must be ResolveSchema(config). Join tables of a
// delimited schema are loaded here (IoError / DataError for their files).
std::unique_ptr<RowParser> MakeRowParser(const DataConfig& config, const Schema& schema);

// A token for messages: quoted as 'text', non-printable bytes as \xNN, cut after 64 bytes.
std::string QuoteToken(std::string_view token);

// Parses a label: kBinary accepts numbers equal to 0 or 1 ("1", "0.0"), kReal any finite
// number. Returns false with *error "field NAME: ..." otherwise.
bool ParseLabel(std::string_view text, LabelKind kind, const std::string& name, double* label,
                std::string* error);

}  // namespace crank

#endif  // CRANK_DATA_ROW_PARSER_H_
