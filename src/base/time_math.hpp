#pragma once
// Checked time arithmetic: every instant Escalon computes stays within [min_time, max_time]
// (time.hpp), and a sum that would leave it is an error where it arises, never a wrapped or
// out-of-range value stored in a clock or written to a journal.

#include <fmt/format.h>

#include <optional>
#include <string_view>

#include "escalon/error.hpp"
#include "escalon/time.hpp"

namespace escalon::detail {

// `t + d`, or nullopt when the sum leaves the supported range (or int64).
[[nodiscard]] inline std::optional<TimePoint> checked_add(TimePoint t, Duration d) noexcept {
  std::int64_t r = 0;
  if (__builtin_add_overflow(t.time_since_epoch().count(), d.count(), &r)) return std::nullopt;
  const TimePoint out{Duration{r}};
  if (!in_time_range(out)) return std::nullopt;
  return out;
}

// "2 business days from 9999-12-30T08:00:00Z would end after 9999-12-31T23:59:59.999Z, the
// last instant Escalon handles": `what` says what was added.
[[noreturn]] inline void beyond_time_range(std::string_view what, TimePoint from) {
  throw EvalError(fmt::format("{} from {} would end after {}, the last instant Escalon handles", what,
                              format_iso8601(from), format_iso8601(max_time)));
}

// `t + d`, or an EvalError naming `what` when the sum leaves the supported range.
[[nodiscard]] inline TimePoint add_time(TimePoint t, Duration d, std::string_view what) {
  if (auto r = checked_add(t, d)) return *r;
  if (d < Duration{0})
    throw EvalError(fmt::format("{} before {} would be before {}, the first instant Escalon handles", what,
                                format_iso8601(t), format_iso8601(min_time)));
  beyond_time_range(what, t);
}

}  // namespace escalon::detail
