#pragma once
/// @file time.hpp
/// Time points and durations. Escalon keeps time as UTC milliseconds: exact, cheap to compare
/// and byte-for-byte reproducible in journals.

#include <chrono>
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
