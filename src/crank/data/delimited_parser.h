#ifndef CRANK_DATA_DELIMITED_PARSER_H_
#define CRANK_DATA_DELIMITED_PARSER_H_

// DelimitedParser: CSV/TSV lines with a header line -> RawRow, following a DelimitedConfig
// schema. Each file's first non-blank line is its header (a UTF-8 byte order mark is ignored);
// columns are found by name, so files may order them differently. A file without the label
// column yields unlabelled rows (for predict); a configured weight column must then be absent
// too. Joined files are loaded once, at construction.
//
// Malformed rows: unbalanced quotes, a column count different from the header's, a label that
// is not 0/1 (bce) or not finite (mse), a weight that is not a finite number >= 0, a dense
// value that is not a finite number, a label (mse), weight or dense value beyond the float
// range, a timestamp that is not a number.

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "crank/data/delimited_text.h"
#include "crank/data/row_parser.h"

namespace crank {

class DelimitedParser : public RowParser {
 public:
  DelimitedParser(const DataConfig& config, const Schema& schema);
  ~DelimitedParser() override;

  void BeginFile(const std::string& path) override;
  bool ExpectsHeader() const override { return expects_header_; }
  void ParseHeader(std::string_view line) override;
  bool Parse(std::string_view line, RawRow* row, std::string* error) override;

 private:
  // Where a value comes from: a column of the file (join < 0) or of a joined table.
  struct Source {
    std::string column;
    int join = -1;
    size_t index = 0;  // header index, or index in JoinSpec::columns
  };
  std::string_view Text(const Source& s) const;
  Source MakeSource(const std::string& column) const;

  const DelimitedConfig config_;
  const Schema schema_;
  LabelKind task_;
  std::vector<std::unique_ptr<JoinTable>> joins_;

  // Per file, set by ParseHeader.
  std::string path_;
  bool expects_header_ = true;
  size_t header_columns_ = 0;
  bool has_label_ = false;
  Source label_, weight_;
  std::vector<size_t> join_keys_;  // header index of each join's key
  std::vector<Source> dense_, sparse_;

  // Per line.
  std::vector<std::string_view> fields_;
  std::string scratch_;
  std::vector<const std::string_view*> joined_;  // per join: the matched row or nullptr
};

}  // namespace crank

#endif  // CRANK_DATA_DELIMITED_PARSER_H_
