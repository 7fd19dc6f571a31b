// Business calendar arithmetic. Each local day's working intervals are converted to UTC
// instants through the zone (so DST days have 23 or 25 hours and intervals move with them);
// every operation then walks days forward. A walk stops after ten years without working time
// (a calendar that never opens again cannot loop forever) and at the end of year 9999 (the
// last instant Escalon handles, time.hpp): both are EvalErrors, never a wrapped instant.

#include "escalon/calendar.hpp"

#include <date/tz.h>
#include <fmt/format.h>

#include <set>

#include "escalon/error.hpp"
#include "base/time_math.hpp"

namespace escalon {

namespace {
constexpr int max_closed_days = 3660;  // consecutive days without working time searched
using LocalDay = date::local_days;
// Local days after this one hold no instant Escalon handles, whatever the zone's offset.
constexpr LocalDay last_day{date::year{9999} / 12 / 31};

std::int32_t day_number(const std::chrono::year_month_day& ymd) {
  return static_cast<std::int32_t>(std::chrono::sys_days(ymd).time_since_epoch().count());
}
}  // namespace

struct Calendar::Impl {
  std::string name;
  std::string tz_name;
  const date::time_zone* zone = nullptr;
  bool always = false;
  std::array<std::vector<WorkInterval>, 7> weekly;
  std::set<std::int32_t> holidays;
  std::map<std::int32_t, std::vector<WorkInterval>> exceptions;

  const std::vector<WorkInterval>& intervals(LocalDay d) const {
    static const std::vector<WorkInterval> none;
    const auto n = static_cast<std::int32_t>(d.time_since_epoch().count());
    if (auto it = exceptions.find(n); it != exceptions.end()) return it->second;
    if (holidays.count(n)) return none;
    const unsigned wd = date::weekday(d).iso_encoding() - 1;  // Monday = 0
    return weekly[wd];
  }

  LocalDay local_day(TimePoint t) const { return date::floor<date::days>(zone->to_local(t)); }

  // A local time of day on `d` as an instant; see calendar.hpp for the DST rules.
  TimePoint to_sys(LocalDay d, Duration time_of_day, bool is_end) const {
    const date::local_time<Duration> lt = d + time_of_day;
    const auto info = zone->get_info(date::floor<std::chrono::seconds>(lt));
    switch (info.result) {
      case date::local_info::unique: return TimePoint{(lt - info.first.offset).time_since_epoch()};
      case date::local_info::nonexistent: return TimePoint{info.first.end.time_since_epoch()};
      case date::local_info::ambiguous:
        return TimePoint{(lt - (is_end ? info.second.offset : info.first.offset)).time_since_epoch()};
    }
    return TimePoint{(lt - info.first.offset).time_since_epoch()};
  }

  template <class F>  // F(TimePoint begin, TimePoint end) -> bool (true = stop)
  bool for_each_interval(LocalDay d, F&& f) const {
    for (const auto& iv : intervals(d)) {
      const auto b = to_sys(d, std::chrono::minutes{iv.start_minute}, false);
      const auto e = to_sys(d, std::chrono::minutes{iv.end_minute}, true);
      if (e > b && f(b, e)) return true;
    }
    return false;
  }

  [[noreturn]] void no_time() const {
    throw EvalError(fmt::format("calendar '{}' has no working time within ten years", name));
  }
  // Stops a walk that reached the end of the supported range, or checks a result against it.
  TimePoint checked(TimePoint result, LocalDay d, const std::string& what, TimePoint from) const {
    if (d > last_day || result > max_time) detail::beyond_time_range(fmt::format("{} on calendar '{}'", what, name), from);
    return result;
  }
};

Calendar::Calendar(const CalendarSpec& spec) {
  auto impl = std::make_shared<Impl>();
  impl->name = spec.name;
  impl->tz_name = spec.timezone;
  try {
    impl->zone = date::locate_zone(spec.timezone);
  } catch (const std::exception&) {
    throw Error(fmt::format("unknown time zone '{}'; use an IANA name such as Europe/Zagreb", spec.timezone),
                spec.where);
  }
  impl->weekly = spec.weekly;
  bool any = false;
  for (const auto& day : spec.weekly) any = any || !day.empty();
  for (const auto& h : spec.holidays) impl->holidays.insert(day_number(h));
  for (const auto& [d, ivs] : spec.exceptions) {
    impl->exceptions[day_number(d)] = ivs;
    any = any || !ivs.empty();
  }
  if (!any)
    throw Error(fmt::format("calendar '{}' has no working time; give it `hours:`", spec.name), spec.where);
  impl_ = std::move(impl);
}

Calendar Calendar::always_open() {
  auto impl = std::make_shared<Impl>();
  impl->name = "always";
  impl->tz_name = "UTC";
  impl->always = true;
  return Calendar(std::shared_ptr<const Impl>(std::move(impl)));
}

const std::string& Calendar::name() const noexcept { return impl_->name; }
const std::string& Calendar::timezone() const noexcept { return impl_->tz_name; }

Date Calendar::day_of(TimePoint t) const {
  const auto day = impl_->always ? std::chrono::floor<std::chrono::days>(t).time_since_epoch().count()
                                 : impl_->local_day(t).time_since_epoch().count();
  if (!in_date_range(day))
    throw EvalError(fmt::format("{} falls on a day before 0001-01-01 or after 9999-12-31 in {}, the days Escalon handles",
                                format_iso8601(t), impl_->tz_name));
  return Date{static_cast<std::int32_t>(day)};
}

bool Calendar::is_working(TimePoint t) const {
  if (impl_->always) return true;
  return impl_->for_each_interval(impl_->local_day(t), [&](TimePoint b, TimePoint e) { return b <= t && t < e; });
}

TimePoint Calendar::next_open(TimePoint t) const {
  if (impl_->always) return t;
  LocalDay d = impl_->local_day(t) - date::days{1};  // an interval of yesterday may still run (DST)
  TimePoint found{};
  for (int closed = 0; closed < max_closed_days; ++closed, d += date::days{1}) {
    impl_->checked(TimePoint{}, d, "waiting for the next opening", t);
    if (impl_->for_each_interval(d, [&](TimePoint b, TimePoint e) {
          if (t < e) { found = std::max(b, t); return true; }
          return false;
        }))
      return impl_->checked(found, d, "waiting for the next opening", t);
  }
  impl_->no_time();
}

TimePoint Calendar::add_business_time(TimePoint from, Duration amount) const {
  if (amount <= Duration{0}) return from;
  const auto what = [&] { return fmt::format("{} of working time", format_duration(amount)); };
  if (impl_->always) return detail::add_time(from, amount, what());
  const Duration total = amount;
  LocalDay d = impl_->local_day(from) - date::days{1};
  TimePoint result{};
  for (int closed = 0; closed < max_closed_days; d += date::days{1}) {
    impl_->checked(TimePoint{}, d, fmt::format("{} of working time", format_duration(total)), from);
    bool open = false;
    if (impl_->for_each_interval(d, [&](TimePoint b, TimePoint e) {
          open = true;
          if (e <= from) return false;
          const TimePoint s = std::max(b, from);
          if (amount <= e - s) { result = s + amount; return true; }
          amount -= e - s;
          return false;
        }))
      return impl_->checked(result, d, what(), from);
    closed = open ? 0 : closed + 1;
  }
  impl_->no_time();
}

TimePoint Calendar::add_business_days(TimePoint from, std::int64_t days) const {
  const auto what = [&] { return fmt::format("{} business day{}", days, days == 1 ? "" : "s"); };
  if (impl_->always) {
    // More days than the supported range holds cannot be multiplied without overflow.
    if (days > (max_time - min_time) / std::chrono::hours{24}) detail::beyond_time_range(what(), from);
    return detail::add_time(from, std::chrono::hours{24} * std::max<std::int64_t>(days, 0), what());
  }
  const TimePoint start = next_open(from);
  const LocalDay start_day = impl_->local_day(start);
  const Duration tod = std::chrono::duration_cast<Duration>(impl_->zone->to_local(start) - start_day);
  LocalDay d = start_day;
  for (std::int64_t k = 0, closed = 0; k < days;) {
    if (closed > max_closed_days) impl_->no_time();
    d += date::days{1};
    impl_->checked(TimePoint{}, d, what(), from);
    if (!impl_->intervals(d).empty()) {
      ++k;
      closed = 0;
    } else {
      ++closed;
    }
  }
  // Clamp into the day's working time: before opening -> opening; in a break or after
  // closing -> the close of the interval before.
  const auto& ivs = impl_->intervals(d);
  const WorkInterval* prev = nullptr;
  for (const auto& iv : ivs) {
    const Duration b = std::chrono::minutes{iv.start_minute}, e = std::chrono::minutes{iv.end_minute};
    if (tod < b) {
      if (prev) return impl_->checked(impl_->to_sys(d, std::chrono::minutes{prev->end_minute}, true), d, what(), from);
      return impl_->checked(impl_->to_sys(d, b, false), d, what(), from);
    }
    if (tod <= e) return impl_->checked(impl_->to_sys(d, tod, false), d, what(), from);
    prev = &iv;
  }
  return impl_->checked(impl_->to_sys(d, std::chrono::minutes{prev->end_minute}, true), d, what(), from);
}

Duration Calendar::business_time_between(TimePoint a, TimePoint b) const {
  if (b < a) return -business_time_between(b, a);
  if (impl_->always) return b - a;
  Duration total{0};
  const LocalDay last = impl_->local_day(b);
  for (LocalDay d = impl_->local_day(a) - date::days{1}; d <= last; d += date::days{1}) {
    impl_->for_each_interval(d, [&](TimePoint s, TimePoint e) {
      const TimePoint lo = std::max(s, a), hi = std::min(e, b);
      if (hi > lo) total += hi - lo;
      return false;
    });
  }
  return total;
}

TimePoint Calendar::due(TimePoint from, const DurationSpec& spec) const {
  switch (spec.basis) {
    case TimeBasis::wall: return detail::add_time(from, spec.length, spec.str());
    case TimeBasis::business_hours: return add_business_time(from, spec.length);
    case TimeBasis::business_days: return add_business_days(from, spec.days);
  }
  return from;
}

}  // namespace escalon
