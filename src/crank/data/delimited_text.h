#ifndef CRANK_DATA_DELIMITED_TEXT_H_
#define CRANK_DATA_DELIMITED_TEXT_H_

// Field splitting for CSV/TSV lines and the in-memory table of a joined file.

#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "crank/data/config.h"

namespace crank {

// Splits `line` at `delimiter` with RFC 4180 quoting: a field that starts with '"' runs to the
// matching '"', "" inside it stands for one '"', and the closing quote must be followed by the
// delimiter or the end of the line (quoted fields cannot span lines). A quote inside an
// unquoted field is an ordinary character. Fields point into `line`, or into *scratch for
// quoted fields with escaped quotes; they stay valid until *scratch is next modified. Returns
// false with *error set on an unterminated quote or text after a closing quote.
bool SplitDelimited(std::string_view line, char delimiter, std::vector<std::string_view>* fields,
                    std::string* scratch, std::string* error);

// Parses a number for a dense, weight or label field: optional surrounding spaces, an
// optional sign, decimal or scientific notation (std::from_chars). "nan" and "inf" parse but
// are reported as kNonFinite.
enum class NumberStatus { kOk, kEmpty, kInvalid, kNonFinite };
NumberStatus ParseNumber(std::string_view text, double* value);

// The rows of a joined file (JoinSpec), held in memory and looked up by key. Malformed lines
// and duplicate keys follow `policy` (skip: the first row of a key wins). Immutable after
// construction; concurrent Find is safe.
class JoinTable {
 public:
  JoinTable(const JoinSpec& spec, ErrorPolicy policy, int64_t max_line_bytes);
  JoinTable(const JoinTable&) = delete;
  JoinTable& operator=(const JoinTable&) = delete;

  // The values of spec.columns for `key`, or nullptr when the key is absent.
  const std::string_view* Find(std::string_view key) const {
    const auto it = index_.find(key);
    return it == index_.end() ? nullptr : views_.data() + it->second * columns_;
  }
  size_t rows() const { return columns_ == 0 ? 0 : views_.size() / columns_; }
  const JoinSpec& spec() const { return spec_; }

 private:
  struct Hash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const;
  };

  JoinSpec spec_;
  size_t columns_ = 0;
  std::string arena_;                    // the values, back to back
  std::vector<size_t> ends_;             // end of each value in arena_
  std::vector<std::string_view> views_;  // rows x columns, into arena_
  std::unordered_map<std::string, size_t, Hash, std::equal_to<>> index_;  // key -> row
};

}  // namespace crank

#endif  // CRANK_DATA_DELIMITED_TEXT_H_
