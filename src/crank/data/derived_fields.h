#ifndef CRANK_DATA_DERIVED_FIELDS_H_
#define CRANK_DATA_DERIVED_FIELDS_H_

// Values computed from a column (the `derive` key of a schema field): the year in a movie
// title and calendar fields of a unix timestamp. Pure functions, thread-safe.

#include <cstdint>
#include <string_view>

#include "crank/data/config.h"

namespace crank {

// The year of the last "(dddd)" in `text` ("Toy Story (1995)" -> 1995,
// "Babylon 5 (1994) (TV)" -> 1994), or NaN when there is none.
double TitleYear(std::string_view text);

// Calendar fields of a unix time in seconds, UTC, proleptic Gregorian calendar.
struct CivilTime {
  int64_t year = 1970;
  int month = 1;        // 1..12
  int day = 1;          // 1..31
  int day_of_week = 3;  // 0 = Monday .. 6 = Sunday (1970-01-01 was a Thursday)
  int hour = 0;         // 0..23
};
CivilTime CivilFromUnixSeconds(int64_t seconds);

// The field `derive` (kYear, kMonth, kDay, kDayOfWeek or kHour) of a unix time.
// Precondition: derive is one of those.
int64_t TimestampField(int64_t seconds, Derive derive);

}  // namespace crank

#endif  // CRANK_DATA_DERIVED_FIELDS_H_
