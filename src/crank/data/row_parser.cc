#include "crank/data/row_parser.h"

#include <cmath>
#include <limits>

#include "crank/base/error.h"
#include "crank/data/criteo_parser.h"
#include "crank/data/delimited_parser.h"
#include "crank/data/delimited_text.h"

namespace crank {

std::unique_ptr<RowParser> MakeRowParser(const DataConfig& config, const Schema& schema) {
  if (config.format == DataFormat::kCriteo) return std::make_unique<CriteoParser>(config, schema);
  return std::make_unique<DelimitedParser>(config, schema);
}

std::string QuoteToken(std::string_view token) {
  constexpr size_t kMaxShown = 64;
  std::string out = "'";
  for (size_t i = 0; i < token.size() && i < kMaxShown; ++i) {
    const unsigned char c = static_cast<unsigned char>(token[i]);
    if (c >= 0x20 && c < 0x7f && c != '\\') {
      out += static_cast<char>(c);
    } else {
      out += fmt::format("\\x{:02x}", c);
    }
  }
  if (token.size() > kMaxShown)
    out += fmt::format("...' ({} bytes)", token.size());
  else
    out += "'";
  return out;
}

bool ParseLabel(std::string_view text, LabelKind kind, const std::string& name, double* label,
                std::string* error) {
  if (kind == LabelKind::kBinary && text.size() == 1 && (text[0] == '0' || text[0] == '1')) {
    *label = text[0] - '0';  // fast path
    return true;
  }
  double v = 0.0;
  const NumberStatus st = ParseNumber(text, &v);
  if (st == NumberStatus::kEmpty) {
    *error = fmt::format("field {}: the label is missing", name);
    return false;
  }
  if (kind == LabelKind::kBinary) {
    if (st != NumberStatus::kOk || (v != 0.0 && v != 1.0)) {
      *error = fmt::format("field {}: {} is not 0 or 1 (task bce)", name, QuoteToken(text));
      return false;
    }
  } else if (st != NumberStatus::kOk) {
    *error = fmt::format("field {}: {} is not a {}number", name, QuoteToken(text),
                         st == NumberStatus::kNonFinite ? "finite " : "");
    return false;
  } else if (std::abs(v) > std::numeric_limits<float>::max()) {  // batches hold floats
    *error = fmt::format("field {}: {} is too large for a 32-bit float", name, QuoteToken(text));
    return false;
  }
  *label = v;
  return true;
}

}  // namespace crank
