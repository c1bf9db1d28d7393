#include "crank/data/derived_fields.h"

#include <limits>

#include "crank/base/error.h"

namespace crank {

double TitleYear(std::string_view text) {
  // Scan backwards for '(' d d d d ')'.
  for (size_t i = text.size(); i >= 6; --i) {
    const size_t s = i - 6;
    if (text[s] != '(' || text[s + 5] != ')') continue;
    int year = 0;
    bool digits = true;
    for (size_t k = s + 1; k < s + 5; ++k) {
      const unsigned d = static_cast<unsigned char>(text[k]) - '0';
      digits = digits && d < 10;
      year = year * 10 + static_cast<int>(d);
    }
    if (digits) return year;
  }
  return std::numeric_limits<double>::quiet_NaN();
}

CivilTime CivilFromUnixSeconds(int64_t seconds) {
  constexpr int64_t kDay = 86400;
  int64_t days = seconds / kDay;
  int64_t rem = seconds % kDay;
  if (rem < 0) {
    rem += kDay;
    --days;
  }
  CivilTime t;
  t.hour = static_cast<int>(rem / 3600);
  t.day_of_week = static_cast<int>(((days % 7) + 7 + 3) % 7);
  // Howard Hinnant's civil_from_days.
  const int64_t z = days + 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const int64_t doe = z - era * 146097;
  const int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const int64_t mp = (5 * doy + 2) / 153;
  t.day = static_cast<int>(doy - (153 * mp + 2) / 5 + 1);
  t.month = static_cast<int>(mp < 10 ? mp + 3 : mp - 9);
  t.year = yoe + era * 400 + (t.month <= 2 ? 1 : 0);
  return t;
}

int64_t TimestampField(int64_t seconds, Derive derive) {
  const CivilTime t = CivilFromUnixSeconds(seconds);
  switch (derive) {
    case Derive::kYear:
      return t.year;
    case Derive::kMonth:
      return t.month;
    case Derive::kDay:
      return t.day;
    case Derive::kDayOfWeek:
      return t.day_of_week;
    case Derive::kHour:
      return t.hour;
    default:
      CRANK_CHECK(false, "TimestampField: {} is not a timestamp field", ToString(derive));
  }
  return 0;
}

}  // namespace crank
