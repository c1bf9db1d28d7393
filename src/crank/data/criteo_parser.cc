#include "crank/data/criteo_parser.h"

#include <algorithm>
#include <charconv>

#include "crank/base/error.h"
#include "crank/base/rng.h"
#include "crank/data/token_hash.h"

namespace crank {
namespace {

constexpr int kLabelled = 1 + CriteoConfig::kNumDense + CriteoConfig::kNumSparse;  // 40
constexpr int kUnlabelled = kLabelled - 1;                                         // 39

std::string ColumnName(int column, bool labelled) {
  if (labelled) {
    if (column == 0) return "label";
    --column;
  }
  return column < CriteoConfig::kNumDense
             ? fmt::format("I{}", column + 1)
             : fmt::format("C{}", column - CriteoConfig::kNumDense + 1);
}

int CountColumns(std::string_view line) {
  return 1 + static_cast<int>(std::count(line.begin(), line.end(), '\t'));
}

}  // namespace

CriteoParser::CriteoParser(const DataConfig& config, const Schema& schema)
    : task_(config.task), labels_(config.criteo.labels), token_hash_(config.criteo.token_hash) {
  CRANK_CHECK(schema.sparse.size() == CriteoConfig::kNumSparse);
  for (int i = 0; i < CriteoConfig::kNumSparse; ++i) {
    const std::string name = fmt::format("C{}", i + 1);
    for (size_t s = 0; s < schema.sparse.size(); ++s) {
      if (schema.sparse[s].name == name) slot_[static_cast<size_t>(i)] = static_cast<int>(s);
    }
  }
}

void CriteoParser::BeginFile(const std::string&) {
  file_columns_ = labels_ == CriteoLabels::kPresent  ? kLabelled
                  : labels_ == CriteoLabels::kAbsent ? kUnlabelled
                                                     : 0;
}

bool CriteoParser::Parse(std::string_view line, RawRow* row, std::string* error) {
  if (file_columns_ == 0) {  // labels: auto, first row of the file decides
    const int n = CountColumns(line);
    if (n == kLabelled || n == kUnlabelled) {
      file_columns_ = n;
    } else {
      *error = fmt::format(
          "expected 40 tab-separated columns (label, I1..I13, C1..C26) or 39 "
          "(without label), found {}",
          n);
      return false;
    }
  }
  const int ncols = file_columns_;
  const bool labelled = ncols == kLabelled;
  row->Reset(CriteoConfig::kNumDense, CriteoConfig::kNumSparse);

  // A wrong column count is the more useful message when both apply.
  const auto fail = [&](std::string what) {
    const int found = CountColumns(line);
    if (found != ncols) {
      *error = labelled ? fmt::format(
                              "expected 40 tab-separated columns (label, I1..I13, "
                              "C1..C26), found {}",
                              found)
                        : fmt::format(
                              "expected 39 tab-separated columns (I1..I13, C1..C26; this "
                              "file has no label), found {}",
                              found);
    } else {
      *error = std::move(what);
    }
    return false;
  };

  const char* p = line.data();
  const char* const end = p + line.size();
  for (int col = 0; col < ncols; ++col) {
    // Fields are a few bytes: a plain scan beats a memchr call per field.
    const char* q = p;
    while (q != end && *q != '\t') ++q;
    if (col + 1 < ncols) {
      if (q == end) return fail("");  // too few columns
    } else if (q != end) {
      return fail("");  // too many
    }
    const std::string_view field(p, static_cast<size_t>(q - p));
    p = q + 1;
    const int c = labelled ? col - 1 : col;  // 0..12 dense, 13..38 sparse
    if (c < 0) {
      std::string what;
      if (!ParseLabel(field, task_, "label", &row->label, &what)) return fail(std::move(what));
      row->has_label = true;
    } else if (c < CriteoConfig::kNumDense) {
      if (field.empty()) continue;  // missing (already NaN)
      int64_t v = 0;
      const auto [ptr, ec] = std::from_chars(field.data(), field.data() + field.size(), v);
      if (ec == std::errc::result_out_of_range) {
        return fail(fmt::format("field {}: {} does not fit in 64 bits", ColumnName(col, labelled),
                                QuoteToken(field)));
      }
      if (ec != std::errc() || ptr != field.data() + field.size()) {
        return fail(fmt::format("field {}: {} is not an integer", ColumnName(col, labelled),
                                QuoteToken(field)));
      }
      row->dense[static_cast<size_t>(c)] = static_cast<double>(v);
    } else {
      if (field.empty()) continue;  // missing (empty key list)
      uint64_t key = 0;
      if (!ParseHex(field, &key)) {
        return fail(fmt::format("field {}: {} is not a hexadecimal token of 1 to 16 digits",
                                ColumnName(col, labelled), QuoteToken(field)));
      }
      if (token_hash_ == TokenHash::kMix64) key = Mix64(key);
      row->keys[static_cast<size_t>(slot_[static_cast<size_t>(c - CriteoConfig::kNumDense)])]
          .push_back(key);
    }
  }
  return true;
}

}  // namespace crank
