#include "escalon/clock.hpp"

#include <fmt/format.h>

#include "escalon/error.hpp"
#include "base/time_math.hpp"

namespace escalon {

TimePoint SystemClock::now() const {
  return std::chrono::time_point_cast<Duration>(std::chrono::system_clock::now());
}

ManualClock::ManualClock(std::string_view iso8601) : ms_(0) {
  auto t = parse_iso8601(iso8601);
  if (!t)
    throw Error(fmt::format("'{}' is not an ISO-8601 instant in the years 1 to 9999 such as 2026-11-23T08:00:00Z",
                            iso8601));
  ms_.store(t->time_since_epoch().count());
}

void ManualClock::advance(Duration d) {
  if (d < Duration{0}) throw Error(fmt::format("a clock cannot move backwards (advance by {})", format_duration(d)));
  auto now = ms_.load(std::memory_order_acquire);
  while (true) {
    const auto to = detail::checked_add(TimePoint{Duration{now}}, d);
    if (!to)
      throw Error(fmt::format("a clock cannot move past {}, the last instant Escalon handles (advance by {} from {})",
                              format_iso8601(max_time), format_duration(d), format_iso8601(TimePoint{Duration{now}})));
    if (ms_.compare_exchange_weak(now, to->time_since_epoch().count(), std::memory_order_acq_rel)) return;
  }
}

void ManualClock::set(TimePoint t) {
  if (t > max_time)
    throw Error(fmt::format("a clock cannot move past {}, the last instant Escalon handles (set to {})",
                            format_iso8601(max_time), format_iso8601(t)));
  const auto now = ms_.load(std::memory_order_acquire);
  if (t.time_since_epoch().count() < now)
    throw Error(fmt::format("a clock cannot move backwards (from {} to {})", format_iso8601(TimePoint{Duration{now}}),
                            format_iso8601(t)));
  ms_.store(t.time_since_epoch().count(), std::memory_order_release);
}

}  // namespace escalon
