#pragma once
/// @file calendar_spec.hpp
/// A business calendar as written in a flow file or calendar file: time zone, weekly hours,
/// holidays and exceptions. escalon/calendar.hpp compiles it into a Calendar; escalon/flow.hpp
/// includes it for the calendars a flow declares.

#include <array>
#include <chrono>
#include <map>
#include <string>
#include <vector>

#include "escalon/error.hpp"

namespace escalon {

/// Working time within one local day, in minutes from local midnight: [start, end).
struct WorkInterval {
  int start_minute = 0;
  int end_minute = 0;
  friend bool operator==(const WorkInterval&, const WorkInterval&) = default;
};

/// A business calendar as written: time zone, weekly hours, holidays and exceptions.
struct CalendarSpec {
  std::string name;
  std::string timezone;                              ///< IANA name, e.g. Europe/Zagreb
  std::array<std::vector<WorkInterval>, 7> weekly;   ///< index 0 = Monday ... 6 = Sunday
  std::vector<std::chrono::year_month_day> holidays; ///< sorted
  /// Dates with other hours than usual (an empty list: closed that day).
  std::map<std::chrono::year_month_day, std::vector<WorkInterval>> exceptions;
  SourceLocation where;
};

}  // namespace escalon
