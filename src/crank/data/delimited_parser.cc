#include "crank/data/delimited_parser.h"

#include <charconv>
#include <cmath>
#include <cstring>
#include <limits>

#include "crank/base/error.h"
#include "crank/data/derived_fields.h"
#include "crank/data/token_hash.h"

namespace crank {
namespace {

bool IsTimestampDerive(Derive d) {
  return d == Derive::kYear || d == Derive::kMonth || d == Derive::kDay ||
         d == Derive::kDayOfWeek || d == Derive::kHour;
}

// Unix seconds from a timestamp field; |t| < 1e13 keeps the calendar arithmetic exact.
bool ParseTimestamp(std::string_view text, int64_t* seconds) {
  double v = 0.0;
  if (ParseNumber(text, &v) != NumberStatus::kOk || std::fabs(v) >= 1e13) return false;
  *seconds = static_cast<int64_t>(std::floor(v));
  return true;
}

}  // namespace

DelimitedParser::DelimitedParser(const DataConfig& config, const Schema& schema)
    : config_(config.delimited), schema_(schema), task_(config.task) {
  for (const JoinSpec& j : config_.joins) {
    joins_.push_back(std::make_unique<JoinTable>(j, config.on_error, config.max_line_bytes));
  }
  joined_.assign(joins_.size(), nullptr);
}

DelimitedParser::~DelimitedParser() = default;

void DelimitedParser::BeginFile(const std::string& path) {
  path_ = path;
  expects_header_ = true;
}

DelimitedParser::Source DelimitedParser::MakeSource(const std::string& column) const {
  Source s;
  s.column = column;
  for (size_t j = 0; j < config_.joins.size(); ++j) {
    const auto& cols = config_.joins[j].columns;
    for (size_t c = 0; c < cols.size(); ++c) {
      if (cols[c] == column) {
        s.join = static_cast<int>(j);
        s.index = c;
        return s;
      }
    }
  }
  for (size_t i = 0; i < fields_.size(); ++i) {
    if (fields_[i] == column) {
      s.index = i;
      return s;
    }
  }
  s.join = -2;  // not found
  return s;
}

void DelimitedParser::ParseHeader(std::string_view line) {
  if (line.substr(0, 3) == "\xEF\xBB\xBF") line.remove_prefix(3);  // UTF-8 byte order mark
  std::string error;
  if (!SplitDelimited(line, config_.delimiter, &fields_, &scratch_, &error)) {
    throw DataError(fmt::format("{}: header: {}", path_, error));
  }
  header_columns_ = fields_.size();
  const auto missing = [&](const std::string& what, const std::string& column) {
    std::string names;
    for (const auto& f : fields_) names += (names.empty() ? "" : ", ") + std::string(f);
    return DataError(fmt::format("{}: the header has no column '{}' ({}); columns: {}", path_,
                                 column, what, names));
  };
  label_ = MakeSource(config_.label);
  has_label_ = label_.join != -2;
  if (!config_.weight.empty()) {
    weight_ = MakeSource(config_.weight);
    if (weight_.join == -2 && has_label_) throw missing("the weight column", config_.weight);
  }
  join_keys_.clear();
  for (const JoinSpec& j : config_.joins) {
    const Source s = MakeSource(j.key);
    if (s.join != -1) throw missing("the key of the join with " + j.file, j.key);
    join_keys_.push_back(s.index);
  }
  dense_.clear();
  for (const DenseField& f : schema_.dense) {
    dense_.push_back(MakeSource(f.column));
    if (dense_.back().join == -2) throw missing("dense field " + f.name, f.column);
  }
  sparse_.clear();
  for (const SparseField& f : schema_.sparse) {
    sparse_.push_back(MakeSource(f.column));
    if (sparse_.back().join == -2) throw missing("categorical field " + f.name, f.column);
  }
  expects_header_ = false;
}

std::string_view DelimitedParser::Text(const Source& s) const {
  if (s.join < 0) return fields_[s.index];
  const std::string_view* row = joined_[static_cast<size_t>(s.join)];
  return row == nullptr ? std::string_view() : row[s.index];
}

bool DelimitedParser::Parse(std::string_view line, RawRow* row, std::string* error) {
  if (!SplitDelimited(line, config_.delimiter, &fields_, &scratch_, error)) return false;
  if (fields_.size() != header_columns_) {
    *error = fmt::format("expected {} columns (as in the header), found {}", header_columns_,
                         fields_.size());
    return false;
  }
  row->Reset(schema_.dense.size(), schema_.sparse.size());
  for (size_t j = 0; j < joins_.size(); ++j) joined_[j] = joins_[j]->Find(fields_[join_keys_[j]]);

  if (has_label_) {
    if (!ParseLabel(Text(label_), task_, label_.column, &row->label, error)) return false;
    row->has_label = true;
    if (!config_.weight.empty()) {
      const std::string_view t = Text(weight_);
      double w = 0.0;
      if (ParseNumber(t, &w) != NumberStatus::kOk || w < 0.0) {
        *error = fmt::format("field {}: {} is not a finite number >= 0 (sample weight)",
                             weight_.column, QuoteToken(t));
        return false;
      }
      if (w > std::numeric_limits<float>::max()) {  // batches hold floats
        *error = fmt::format("field {}: {} is too large for a 32-bit float (sample weight)",
                             weight_.column, QuoteToken(t));
        return false;
      }
      row->weight = w;
    }
  }

  for (size_t i = 0; i < dense_.size(); ++i) {
    const DenseField& f = schema_.dense[i];
    const std::string_view t = Text(dense_[i]);
    double v = RawRow::kMissing;
    if (f.derive == Derive::kTitleYear) {
      v = TitleYear(t);
    } else if (IsTimestampDerive(f.derive)) {
      int64_t seconds = 0;
      if (!t.empty()) {
        if (!ParseTimestamp(t, &seconds)) {
          *error = fmt::format("field {}: {} is not a unix timestamp in seconds", f.column,
                               QuoteToken(t));
          return false;
        }
        v = static_cast<double>(TimestampField(seconds, f.derive));
      }
    } else {
      const NumberStatus st = ParseNumber(t, &v);
      if (st == NumberStatus::kEmpty) {
        v = RawRow::kMissing;
      } else if (st != NumberStatus::kOk) {
        *error = fmt::format("field {}: {} is not a {}number", f.column, QuoteToken(t),
                             st == NumberStatus::kNonFinite ? "finite " : "");
        return false;
      } else if (std::abs(v) > std::numeric_limits<float>::max()) {
        // Batches hold floats; larger values would also overflow the training statistics.
        *error =
            fmt::format("field {}: {} is too large for a 32-bit float", f.column, QuoteToken(t));
        return false;
      }
    }
    row->dense[i] = v;
  }

  for (size_t i = 0; i < sparse_.size(); ++i) {
    const SparseField& f = schema_.sparse[i];
    std::string_view t = Text(sparse_[i]);
    std::vector<uint64_t>& keys = row->keys[i];
    if (f.multi_hot) {
      while (!t.empty()) {
        const size_t cut = t.find(f.separator);
        const std::string_view piece = t.substr(0, cut);
        if (!piece.empty()) keys.push_back(HashBytes(piece));
        if (cut == std::string_view::npos) break;
        t.remove_prefix(cut + 1);
      }
    } else if (f.derive == Derive::kNone) {
      if (!t.empty()) keys.push_back(HashBytes(t));
    } else {
      // A derived categorical token is the decimal text of the derived integer.
      double v = RawRow::kMissing;
      if (f.derive == Derive::kTitleYear) {
        v = TitleYear(t);
      } else if (!t.empty()) {
        int64_t seconds = 0;
        if (!ParseTimestamp(t, &seconds)) {
          *error = fmt::format("field {}: {} is not a unix timestamp in seconds", f.column,
                               QuoteToken(t));
          return false;
        }
        v = static_cast<double>(TimestampField(seconds, f.derive));
      }
      if (!std::isnan(v)) {
        char buf[24];
        const auto r = std::to_chars(buf, buf + sizeof(buf), static_cast<int64_t>(v));
        keys.push_back(HashBytes(std::string_view(buf, static_cast<size_t>(r.ptr - buf))));
      }
    }
  }
  return true;
}

}  // namespace crank
