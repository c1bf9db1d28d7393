#ifndef CRANK_DATA_CRITEO_PARSER_H_
#define CRANK_DATA_CRITEO_PARSER_H_

// CriteoParser: Kaggle Display Advertising TSV lines -> RawRow.
//
//   label \t I1 .. I13 \t C1 .. C26      (40 columns; 39 without the label)
//
// Empty fields are missing. I-fields are 64-bit integers (kept raw; the mapping applies
// log(1 + max(x, 0))); C-fields are 1..16 hex digits whose value (or its Mix64, per
// TokenHash) is the token key. Malformed: wrong column count, a non-integer or out-of-range
// I-field, a non-hex C-field, a label that is not 0/1 (bce) or not finite (mse). Field
// splitting scans the bytes once, numbers use std::from_chars; nothing is allocated per line.

#include <array>
#include <string>
#include <string_view>

#include "crank/data/row_parser.h"

namespace crank {

class CriteoParser : public RowParser {
 public:
  CriteoParser(const DataConfig& config, const Schema& schema);

  void BeginFile(const std::string& path) override;
  bool ExpectsHeader() const override { return false; }
  void ParseHeader(std::string_view) override {}
  bool Parse(std::string_view line, RawRow* row, std::string* error) override;

 private:
  LabelKind task_;
  CriteoLabels labels_;
  TokenHash token_hash_;
  int file_columns_ = 0;  // 40 or 39 once known for the current file, 0 = not yet
  std::array<int, CriteoConfig::kNumSparse> slot_{};  // C(i+1) -> index in Schema::sparse
};

}  // namespace crank

#endif  // CRANK_DATA_CRITEO_PARSER_H_
