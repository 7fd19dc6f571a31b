#pragma once
/// @file calendar.hpp
/// Business calendars: an IANA time zone (system tz database, via howardhinnant date/tz),
/// working hours per weekday, holidays and exceptions. All arithmetic is done on local working
/// intervals converted to UTC, so weekends, holidays, midnight and DST changes are exact.
///
/// Local-time edge cases are defined, not accidental:
/// - a working-hours boundary inside a DST gap (e.g. 02:30 on the spring-forward night) maps to
///   the instant the gap ends;
/// - a boundary that repeats in a DST overlap: an interval start takes the earlier instant, an
///   end the later one, so no working time is lost;
/// - a calendar with no working time at all is rejected at load; arithmetic that finds no
///   working time within ten years throws EvalError, and so does a result after max_time
///   (year 9999, time.hpp): nothing here overflows or returns an instant outside the range.
/// Thread-safety: a Calendar is immutable; all members may be called concurrently.

#include <memory>
#include <string>

#include "escalon/calendar_spec.hpp"
#include "escalon/time.hpp"

namespace escalon {

class Calendar {
 public:
  /// Compiles a spec. Throws Error (with the spec's location) for an unknown time zone or a
  /// calendar without any working time.
  explicit Calendar(const CalendarSpec& spec);
  /// Open around the clock in UTC: business time equals wall time.
  static Calendar always_open();

  [[nodiscard]] const std::string& name() const noexcept;
  [[nodiscard]] const std::string& timezone() const noexcept;

  /// The day `t` falls on in the calendar's time zone (UTC for always_open()): what `today()`
  /// and `date(datetime)` give in expressions. Throws EvalError when that day is not one Escalon
  /// handles (0001-01-01 to 9999-12-31; an offset can push the range's ends past them).
  [[nodiscard]] Date day_of(TimePoint t) const;
  /// Whether `t` is inside working time.
  [[nodiscard]] bool is_working(TimePoint t) const;
  /// `t` if it is working time, else the next opening.
  [[nodiscard]] TimePoint next_open(TimePoint t) const;
  /// The instant when `amount` of working time has passed since `from`.
  [[nodiscard]] TimePoint add_business_time(TimePoint from, Duration amount) const;
  /// The same local time `days` working days later, counted from the next opening when `from`
  /// is outside working time; clamped into that day's working time when the day is shorter.
  [[nodiscard]] TimePoint add_business_days(TimePoint from, std::int64_t days) const;
  /// Working time in [a, b); negative when b < a.
  [[nodiscard]] Duration business_time_between(TimePoint a, TimePoint b) const;
  /// When a deadline of length `spec` that starts at `from` falls due.
  [[nodiscard]] TimePoint due(TimePoint from, const DurationSpec& spec) const;

 private:
  struct Impl;
  explicit Calendar(std::shared_ptr<const Impl> impl) : impl_(std::move(impl)) {}
  std::shared_ptr<const Impl> impl_;
};

}  // namespace escalon
