// Agents' duty: shifts and breaks within the team's calendar (src/sim/duty.hpp).

#include "sim/duty.hpp"

#include <algorithm>

namespace escalon::detail {

namespace {
// A shift that never meets the calendar's working time (18:00-22:00 on an 8-to-4 calendar)
// would be searched for ever. A step jumps to an opening, a shift start or a break's end (a few
// steps a day), so 1200 steps cover more than a year of any real roster.
constexpr int max_steps = 3 * 400;
}  // namespace

Duty::Duty(const Calendar* calendar, const date::time_zone* zone, const SimShift* shift,
           std::vector<std::pair<std::int32_t, std::int32_t>> breaks)
    : calendar_(calendar), zone_(zone), shift_(shift), breaks_(std::move(breaks)) {}

LocalTime Duty::local(TimePoint t) const {
  const auto lt = zone_->to_local(std::chrono::floor<std::chrono::seconds>(t));
  const auto day = date::floor<date::days>(lt);
  return {day, static_cast<std::int32_t>((lt - day).count()), static_cast<int>((date::weekday(day).c_encoding() + 6) % 7)};
}

// A local time that does not exist (the hour skipped in spring) is the instant the clocks
// jump; one that exists twice (autumn) is its first.
TimePoint Duty::at(date::local_days day, std::int32_t second) const {
  return std::chrono::time_point_cast<Duration>(zone_->to_sys(day + std::chrono::seconds{second}, date::choose::earliest));
}

// `second` of the local day `l` is on, which comes after the instant `t` that `l` is: in the
// hour that autumn repeats, at() gives its first pass, before `t`; then count from `t`.
TimePoint Duty::later(TimePoint t, const LocalTime& l, date::local_days day, std::int32_t second) const {
  const TimePoint when = at(day, second);
  if (when > t) return when;
  const auto ahead = (day - l.day) + std::chrono::seconds{second - l.second};
  return ahead > std::chrono::seconds{0} ? t + ahead : t + std::chrono::seconds{1};
}

bool Duty::in_shift(const LocalTime& l) const {
  if (!shift_) return true;
  const auto d = static_cast<std::size_t>(l.weekday), yesterday = static_cast<std::size_t>((l.weekday + 6) % 7);
  if (shift_->from < shift_->to) return shift_->days[d] && l.second >= shift_->from && l.second < shift_->to;
  return (shift_->days[d] && l.second >= shift_->from) || (shift_->days[yesterday] && l.second < shift_->to);
}

bool Duty::on(const LocalTime& l) const {
  if (!in_shift(l)) return false;
  return std::none_of(breaks_.begin(), breaks_.end(), [&](const auto& b) { return l.second >= b.first && l.second < b.second; });
}

TimePoint Duty::next_shift_start(const LocalTime& l, TimePoint t) const {
  for (int k = 0; k <= 7; ++k) {
    if (!shift_->days[static_cast<std::size_t>((l.weekday + k) % 7)]) continue;
    const TimePoint start = at(l.day + date::days{k}, shift_->from);
    if (start > t) return start;
  }
  return TimePoint::max();
}

TimePoint Duty::next_on(TimePoint t, bool use_calendar) const {
  for (int i = 0; i < max_steps; ++i) {
    TimePoint next = t;
    if (use_calendar && calendar_ && !calendar_->is_working(t)) {
      next = calendar_->next_open(t);
    } else {
      const LocalTime l = local(t);
      if (!in_shift(l)) {
        next = next_shift_start(l, t);
      } else {
        const auto b = std::find_if(breaks_.begin(), breaks_.end(), [&](const auto& br) { return l.second >= br.first && l.second < br.second; });
        if (b == breaks_.end()) return t;
        next = later(t, l, l.day, b->second);
      }
    }
    if (next == TimePoint::max()) return next;
    t = next > t ? next : t + std::chrono::seconds{1};  // a clock change must not hold the search in place
  }
  return TimePoint::max();
}

TimePoint Duty::next_off(TimePoint t) const {
  const LocalTime l = local(t);
  TimePoint off = TimePoint::max();
  if (shift_) {
    // 24:00 is the next day's midnight; a shift past midnight ends the day after it started.
    const bool ends_tomorrow = shift_->to <= shift_->from && l.second >= shift_->from;
    off = later(t, l, ends_tomorrow ? l.day + date::days{1} : l.day, shift_->to);
  }
  for (const auto& [from, to] : breaks_) {
    const TimePoint start = later(t, l, from > l.second ? l.day : l.day + date::days{1}, from);
    off = std::min(off, start);
  }
  return off;
}

Duration Duty::between(TimePoint a, TimePoint b) const {
  if (calendar_only()) return calendar_ ? calendar_->business_time_between(a, b) : b - a;
  Duration sum{0};
  for (TimePoint t = a; t < b;) {
    t = next_on(t, false);
    if (t >= b) break;
    const TimePoint end = std::min(std::max(next_off(t), t + std::chrono::seconds{1}), b);
    sum += calendar_ ? calendar_->business_time_between(t, end) : end - t;
    t = end;
  }
  return sum;
}

std::vector<std::pair<std::int32_t, std::int32_t>> agent_breaks(const std::vector<SimBreak>& breaks, std::int32_t index,
                                                                std::int32_t count) {
  std::vector<std::pair<std::int32_t, std::int32_t>> out;
  for (const auto& b : breaks) {
    const std::int64_t room = b.to - b.from - b.length;
    const std::int32_t start =
        b.from + static_cast<std::int32_t>(count > 1 ? room * index / (count - 1) : 0);
    out.emplace_back(start, start + b.length);
  }
  return out;
}

std::vector<Duty> roster(const SimStaff& team, const Calendar* calendar, const date::time_zone* zone) {
  // The team's breaks spread over all agents who take them, across shifts (one agent on each
  // of two shifts must not lunch at once); a shift's own over its agents.
  std::int32_t sharing = team.shifts.empty() ? team.agents : 0, next = 0;
  for (const auto& shift : team.shifts) sharing += shift.breaks ? 0 : shift.agents;
  std::vector<Duty> out;
  const auto add = [&](const SimShift* shift, std::int32_t n) {
    for (std::int32_t i = 0; i < n; ++i)
      out.emplace_back(calendar, zone, shift,
                       shift && shift->breaks ? agent_breaks(*shift->breaks, i, n) : agent_breaks(team.breaks, next++, sharing));
  };
  if (team.shifts.empty()) add(nullptr, team.agents);
  for (const auto& shift : team.shifts) add(&shift, shift.agents);
  return out;
}

}  // namespace escalon::detail
