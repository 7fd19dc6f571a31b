#pragma once
// When an agent of a simulated team may take work (src/sim/duty.cpp): inside the team's
// calendar's working time, inside the agent's shift and outside the agent's breaks. Shift and
// break times are local times of the model's time zone, like arrival hours.

#include <cstdint>
#include <optional>
#include <utility>
#include <vector>

#include "escalon/calendar.hpp"
#include "escalon/time.hpp"
#include "sim/model.hpp"

#include <date/tz.h>

namespace escalon::detail {

// A local instant split the way shifts and breaks are written.
struct LocalTime {
  date::local_days day{};
  std::int32_t second = 0;  // of the day
  int weekday = 0;          // Monday = 0
};

class Duty {
 public:
  // `breaks`: [start, end) seconds of the day, this agent's own (see agent_breaks).
  Duty(const Calendar* calendar, const date::time_zone* zone, const SimShift* shift,
       std::vector<std::pair<std::int32_t, std::int32_t>> breaks);

  // No shift and no breaks: on duty exactly when the calendar is open.
  [[nodiscard]] bool calendar_only() const noexcept { return !shift_ && breaks_.empty(); }
  [[nodiscard]] LocalTime local(TimePoint t) const;
  // Shift and breaks only; the caller has asked the calendar (once for the whole team).
  [[nodiscard]] bool on(const LocalTime& l) const;
  // The first instant at or after `t` when the agent is on duty; TimePoint::max() when the shift
  // and the calendar do not meet (the search gives up after 1200 steps: years of weeks).
  [[nodiscard]] TimePoint next_on(TimePoint t) const { return next_on(t, true); }
  // Time on duty in [a, b).
  [[nodiscard]] Duration between(TimePoint a, TimePoint b) const;
  [[nodiscard]] bool same_schedule(const Duty& o) const { return shift_ == o.shift_ && breaks_ == o.breaks_; }

 private:
  const Calendar* calendar_;
  const date::time_zone* zone_;
  const SimShift* shift_;
  std::vector<std::pair<std::int32_t, std::int32_t>> breaks_;

  [[nodiscard]] TimePoint next_on(TimePoint t, bool use_calendar) const;
  [[nodiscard]] TimePoint next_off(TimePoint t) const;  // on at t (calendar aside): when that ends
  [[nodiscard]] bool in_shift(const LocalTime& l) const;
  [[nodiscard]] TimePoint next_shift_start(const LocalTime& l, TimePoint t) const;
  [[nodiscard]] TimePoint at(date::local_days day, std::int32_t second) const;
  [[nodiscard]] TimePoint later(TimePoint t, const LocalTime& l, date::local_days day, std::int32_t second) const;
};

// Agent `index` of the `count` who share a list of breaks takes each at its own time: the
// starts spread evenly over the break's window, so that they are not all away at once unless
// the window is too short for it.
std::vector<std::pair<std::int32_t, std::int32_t>> agent_breaks(const std::vector<SimBreak>& breaks, std::int32_t index,
                                                                std::int32_t count);

// Each agent's duty, in agent order: the team's agents, or each shift's in turn.
std::vector<Duty> roster(const SimStaff& team, const Calendar* calendar, const date::time_zone* zone);

}  // namespace escalon::detail
