#include "crank/data/delimited_text.h"

#include <charconv>
#include <cmath>
#include <cstdlib>
#include <cstring>

#include "crank/base/error.h"
#include "crank/base/log.h"
#include "crank/data/line_reader.h"
#include "crank/data/row_parser.h"
#include "crank/data/token_hash.h"

namespace crank {

bool SplitDelimited(std::string_view line, char delimiter, std::vector<std::string_view>* fields,
                    std::string* scratch, std::string* error) {
  fields->clear();
  scratch->clear();
  scratch->reserve(line.size());  // no reallocation below: views into it stay valid
  const char* p = line.data();
  const char* const end = p + line.size();
  for (;;) {
    if (p < end && *p == '"') {
      const char* q = p + 1;
      const char* start = q;
      bool escaped = false;
      size_t scratch_start = scratch->size();
      for (;;) {
        const auto* quote =
            static_cast<const char*>(std::memchr(q, '"', static_cast<size_t>(end - q)));
        if (quote == nullptr) {
          *error = fmt::format("column {}: unterminated quoted field", fields->size() + 1);
          return false;
        }
        if (quote + 1 < end && quote[1] == '"') {  // "" -> "
          if (!escaped) {
            escaped = true;
            scratch_start = scratch->size();
          }
          scratch->append(q, static_cast<size_t>(quote + 1 - q));
          q = quote + 2;
          continue;
        }
        if (escaped) {
          scratch->append(q, static_cast<size_t>(quote - q));
          fields->emplace_back(scratch->data() + scratch_start, scratch->size() - scratch_start);
        } else {
          fields->emplace_back(start, static_cast<size_t>(quote - start));
        }
        p = quote + 1;
        break;
      }
      if (p == end) return true;
      if (*p != delimiter) {
        *error = fmt::format("column {}: unexpected text after a closing quote", fields->size());
        return false;
      }
      ++p;
      continue;
    }
    const auto* d =
        static_cast<const char*>(std::memchr(p, delimiter, static_cast<size_t>(end - p)));
    if (d == nullptr) {
      fields->emplace_back(p, static_cast<size_t>(end - p));
      return true;
    }
    fields->emplace_back(p, static_cast<size_t>(d - p));
    p = d + 1;
  }
}

NumberStatus ParseNumber(std::string_view text, double* value) {
  while (!text.empty() && text.front() == ' ') text.remove_prefix(1);
  while (!text.empty() && text.back() == ' ') text.remove_suffix(1);
  if (text.empty()) return NumberStatus::kEmpty;
  if (text.front() == '+' && text.size() > 1 && text[1] != '-') text.remove_prefix(1);
  const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), *value);
  if (ptr != text.data() + text.size()) return NumberStatus::kInvalid;
  if (ec == std::errc::result_out_of_range) {
    // Rare: tell overflow (not finite) from underflow (a tiny number) with strtod.
    const std::string copy(text);
    *value = std::strtod(copy.c_str(), nullptr);
    return std::isfinite(*value) ? NumberStatus::kOk : NumberStatus::kNonFinite;
  }
  if (ec != std::errc()) return NumberStatus::kInvalid;
  return std::isfinite(*value) ? NumberStatus::kOk : NumberStatus::kNonFinite;
}

size_t JoinTable::Hash::operator()(std::string_view s) const {
  return static_cast<size_t>(HashBytes(s));
}

JoinTable::JoinTable(const JoinSpec& spec, ErrorPolicy policy, int64_t max_line_bytes)
    : spec_(spec), columns_(spec.columns.size()) {
  LineReader reader(spec.file, max_line_bytes);
  std::vector<std::string_view> fields;
  std::string scratch, error;
  std::vector<size_t> source;  // header index of each spec column
  size_t key_column = 0, header_columns = 0;
  bool have_header = false;
  int64_t skipped = 0;
  std::vector<int64_t> row_line;  // row -> its line number, for duplicate-key messages

  const auto bad_row = [&](const std::string& what) {
    const std::string msg = fmt::format("{}:{}: {}", spec.file, reader.line_number(), what);
    if (policy == ErrorPolicy::kFail) throw DataError(msg);
    if (++skipped <= 5) LogWarning("skipping malformed row: {}", msg);
  };

  std::string_view line;
  for (;;) {
    const LineReader::Status st = reader.Next(&line);
    if (st == LineReader::Status::kEnd) break;
    if (st == LineReader::Status::kTooLong) {
      if (!have_header) {
        throw DataError(fmt::format("{}:{}: the header line is longer than the maximum of {} bytes",
                                    spec.file, reader.line_number(), max_line_bytes));
      }
      bad_row(fmt::format("line is longer than the maximum of {} bytes", max_line_bytes));
      continue;
    }
    if (line.empty()) continue;
    if (!have_header) {
      if (line.substr(0, 3) == "\xEF\xBB\xBF") line.remove_prefix(3);  // UTF-8 byte order mark
      if (!SplitDelimited(line, spec.delimiter, &fields, &scratch, &error)) {
        throw DataError(fmt::format("{}:{}: header: {}", spec.file, reader.line_number(), error));
      }
      header_columns = fields.size();
      const auto find = [&](const std::string& name) {
        for (size_t i = 0; i < fields.size(); ++i) {
          if (fields[i] == name) return i;
        }
        std::string names;
        for (const auto& f : fields) names += (names.empty() ? "" : ", ") + std::string(f);
        throw DataError(fmt::format("{}:{}: the header has no column '{}' (columns: {})", spec.file,
                                    reader.line_number(), name, names));
      };
      key_column = find(spec.key);
      for (const std::string& c : spec.columns) source.push_back(find(c));
      have_header = true;
      continue;
    }
    if (!SplitDelimited(line, spec.delimiter, &fields, &scratch, &error)) {
      bad_row(error);
      continue;
    }
    if (fields.size() != header_columns) {
      bad_row(fmt::format("expected {} columns (as in the header), found {}", header_columns,
                          fields.size()));
      continue;
    }
    const std::string_view key = fields[key_column];
    if (const auto it = index_.find(key); it != index_.end()) {
      bad_row(fmt::format("duplicate key {} (first at line {})", QuoteToken(key),
                          row_line[it->second]));
      continue;
    }
    index_.emplace(std::string(key), row_line.size());
    row_line.push_back(reader.line_number());
    for (const size_t s : source) {
      arena_.append(fields[s]);
      ends_.push_back(arena_.size());
    }
  }
  if (skipped > 0) LogWarning("{}: skipped {} malformed rows in total", spec.file, skipped);
  views_.reserve(ends_.size());
  size_t begin = 0;
  for (const size_t e : ends_) {
    views_.emplace_back(arena_.data() + begin, e - begin);
    begin = e;
  }
}

}  // namespace crank
