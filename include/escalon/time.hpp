#pragma once
/// @file time.hpp
/// Time points and durations. Escalon keeps time as UTC milliseconds: exact, cheap to compare
/// and byte-for-byte reproducible in journals.

#include <chrono>
#include <compare>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace escalon {

using Duration = std::chrono::milliseconds;
using TimePoint = std::chrono::sys_time<Duration>;

/// The instants Escalon handles: 0001-01-01T00:00:00Z to 9999-12-31T23:59:59.999Z, what
/// ISO-8601 text with a four-digit year can say (and so what journals and stores hold). Time
/// arithmetic that leaves this range is an error where it happens, never a wrapped value.
inline constexpr TimePoint min_time{std::chrono::sys_days{std::chrono::year{1} / 1 / 1}};
inline constexpr TimePoint max_time{std::chrono::sys_days{std::chrono::year{9999} / 12 / 31} + std::chrono::hours{24} -
                                    Duration{1}};
[[nodiscard]] constexpr bool in_time_range(TimePoint t) noexcept { return t >= min_time && t <= max_time; }

/// A calendar day without a time of day (the `date` data type): the number of days since
/// 1970-01-01. Which instant a day begins at depends on a time zone; a Date names the day itself,
/// e.g. a purchase date or a birthday. The days Escalon handles are those of min_time..max_time:
/// 0001-01-01 to 9999-12-31.
struct Date {
  std::int32_t days = 0;

  [[nodiscard]] constexpr std::chrono::sys_days sys_days() const noexcept {
    return std::chrono::sys_days{std::chrono::days{days}};
  }
  [[nodiscard]] static constexpr Date of(std::chrono::sys_days d) noexcept {
    return Date{static_cast<std::int32_t>(d.time_since_epoch().count())};
  }
  friend constexpr auto operator<=>(const Date&, const Date&) noexcept = default;
};

inline constexpr Date min_date = Date::of(std::chrono::sys_days{std::chrono::year{1} / 1 / 1});
inline constexpr Date max_date = Date::of(std::chrono::sys_days{std::chrono::year{9999} / 12 / 31});
[[nodiscard]] constexpr bool in_date_range(std::int64_t days) noexcept {
  return days >= min_date.days && days <= max_date.days;
}

/// Parses a day written "YYYY-MM-DD" (ISO-8601 calendar date, four-digit year 0001..9999), with
/// the month's real length (2025-02-29 is refused, 2024-02-29 accepted). nullopt otherwise,
/// including for datetimes: a date field takes the day, not an instant.
[[nodiscard]] std::optional<Date> parse_iso_date(std::string_view text);
/// Why `text` is not a date, for messages: "February 2025 has 28 days",
/// "2025-06-01T10:00:00Z is a datetime, not a day", "write the day as YYYY-MM-DD, e.g. 2025-06-01".
[[nodiscard]] std::string iso_date_problem(std::string_view text);
/// Formats as "2025-06-01".
[[nodiscard]] std::string format_iso_date(Date d);

/// Parses an ISO-8601 instant with an explicit offset: "2026-11-23T08:00:00Z",
/// "2026-11-23T09:00:00+01:00", optional fractional seconds. nullopt when malformed;
/// a local time without offset is rejected because it does not name one instant.
[[nodiscard]] std::optional<TimePoint> parse_iso8601(std::string_view text);

/// Formats as "2026-11-23T08:00:00Z", adding ".mmm" only when the milliseconds are not zero.
[[nodiscard]] std::string format_iso8601(TimePoint t);

/// Formats a duration compactly for people: "1d2h", "15m", "90s", "250ms", "-2h".
[[nodiscard]] std::string format_duration(Duration d);

/// How a deadline or SLA length is measured.
enum class TimeBasis {
  wall,            ///< elapsed real time
  business_hours,  ///< only working time of the calendar counts
  business_days,   ///< the same local time N working days later
};

/// A length as a process designer writes it: "15 minutes", "2h", "1 business day".
struct DurationSpec {
  TimeBasis basis = TimeBasis::wall;
  /// For wall and business_hours: the length. For business_days: the number of days in `days`.
  Duration length{0};
  std::int64_t days = 0;

  [[nodiscard]] bool is_business() const noexcept { return basis != TimeBasis::wall; }
  /// The canonical text ("4 business hours", "2 business days", "15m").
  [[nodiscard]] std::string str() const;
  friend bool operator==(const DurationSpec&, const DurationSpec&) = default;
};

/// Parses a duration spec. Accepts "90s", "2h", "1h30m", "15 minutes", "3 days", "1 week",
/// "4 business hours", "30 business minutes", "2 business days". Throws escalon::Error with a
/// message that lists the accepted forms.
[[nodiscard]] DurationSpec parse_duration_spec(std::string_view text);

/// A plain wall-clock duration ("2h", "15 minutes"); business units are rejected.
[[nodiscard]] Duration parse_duration(std::string_view text);

}  // namespace escalon
