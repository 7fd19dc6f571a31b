#pragma once
/// @file clock.hpp
/// Where the engine gets the time. Hosts in production use SystemClock; tests, scenarios and
/// simulations use ManualClock and move it themselves, so that a week of deadlines runs in a
/// millisecond and every run gives the same journal.

#include <atomic>
#include <string_view>

#include "escalon/time.hpp"

namespace escalon {

class Clock {
 public:
  virtual ~Clock() = default;
  /// The current time. Must be thread-safe.
  [[nodiscard]] virtual TimePoint now() const = 0;
};

/// The system's UTC clock, in milliseconds.
class SystemClock final : public Clock {
 public:
  [[nodiscard]] TimePoint now() const override;
};

/// A clock that moves only when told to.
/// @code
///   escalon::ManualClock clock{"2026-11-23T08:00:00Z"};
///   clock.advance(std::chrono::hours{30});
///   engine.run_due();   // fires what fell due, in time order
/// @endcode
/// Thread-safe: reads and moves are atomic.
class ManualClock final : public Clock {
 public:
  /// `start` should be within min_time..max_time (time.hpp); before 1970 is fine.
  explicit ManualClock(TimePoint start) noexcept : ms_(start.time_since_epoch().count()) {}
  /// Throws escalon::Error when `iso8601` is not an instant such as 2026-11-23T08:00:00Z, or is
  /// outside the years 1 to 9999.
  explicit ManualClock(std::string_view iso8601);

  [[nodiscard]] TimePoint now() const override { return TimePoint{Duration{ms_.load(std::memory_order_acquire)}}; }
  /// Moves forward (a negative amount is an error: time does not run backwards; so is moving
  /// past max_time, and the clock then stays where it was).
  void advance(Duration d);
  /// Moves to `t`, which must not be earlier than now() nor later than max_time.
  void set(TimePoint t);

 private:
  std::atomic<std::int64_t> ms_;
};

}  // namespace escalon
