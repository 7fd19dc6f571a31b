// Clock arithmetic, free of engine state. A deadline or SLA is a length `total` measured in
// wall or business time: `consumed` before `since`, and counting from `since` while `running`.
// Escalation shares, warnings and the due time are points on that clock; `after:` levels and
// repeats are offsets from the due time or from the previous firing.

#include <algorithm>
#include <limits>

#include "base/time_math.hpp"
#include "runtime/core.hpp"

namespace escalon::detail::clockmath {

TimePoint advance(const ClockState& k, TimePoint from, Duration d) {
  if (d <= Duration{0}) return from;
  return k.business && k.cal ? k.cal->add_business_time(from, d) : add_time(from, d, format_duration(d));
}

Duration measured(const ClockState& k, TimePoint a, TimePoint b) {
  return k.business && k.cal ? k.cal->business_time_between(a, b) : b - a;
}

TimePoint due_instant(const ClockState& k) { return advance(k, k.since, k.total - k.consumed); }

TimePoint share_instant(const ClockState& k, double share) {
  const Duration threshold{static_cast<std::int64_t>(static_cast<double>(k.total.count()) * share)};
  return advance(k, k.since, threshold - k.consumed);
}

TimePoint after(const ClockState& k, TimePoint from, const DurationSpec& d) {
  if (!d.is_business() || !k.cal) return add_time(from, d.length, d.str());
  return k.cal->due(from, d);
}

Duration elapsed(const ClockState& k, TimePoint now) {
  return k.consumed + (k.running ? measured(k, k.since, now) : Duration{0});
}

Duration total_for(const DurationSpec& d, const Calendar* cal, TimePoint start) {
  return d.basis == TimeBasis::business_days && cal ? cal->business_time_between(start, cal->add_business_days(start, d.days))
                                                    : d.length;
}

const Deadline* deadline_of(const Case& c, const ClockState& k) {
  if (k.kind == ClockKind::deadline) return &*c.flow().steps[static_cast<std::size_t>(k.index)].deadline;
  if (k.kind == ClockKind::stage) return &*c.flow().stages[static_cast<std::size_t>(k.index)].deadline;
  return nullptr;
}

const std::vector<Escalation>& ladder(const Case& c, const ClockState& k) {
  static const std::vector<Escalation> none;
  if (k.kind == ClockKind::sla) return c.flow().slas[static_cast<std::size_t>(k.index)].escalate;
  if (const Deadline* d = deadline_of(c, k)) return d->escalate;
  return none;
}

std::optional<Point> next_point(const Case& c, const ClockState& k) {
  if (!k.active) return std::nullopt;
  if (k.kind == ClockKind::timer) return Point{k.at, PointKind::timer};
  if (!k.running) return std::nullopt;
  std::optional<Point> best;
  auto consider = [&](TimePoint t, PointKind kind, std::int32_t rung) {
    if (!best || t < best->at) best = Point{t, kind, rung};  // ties: the earlier candidate wins
  };
  if (k.kind == ClockKind::sla && !k.warned) {
    const auto& sla = c.flow().slas[static_cast<std::size_t>(k.index)];
    if (sla.warn_at) consider(share_instant(k, *sla.warn_at), PointKind::warn, -1);
  }
  const auto& rungs = ladder(c, k);
  for (std::size_t i = 0; i < rungs.size(); ++i) {
    const Escalation& e = rungs[i];
    const RungState& st = k.rungs[i];
    if (st.count == 0) {
      consider(e.anchor == Escalation::Anchor::share ? share_instant(k, e.share) : after(k, due_instant(k), e.offset),
               PointKind::rung, static_cast<std::int32_t>(i));
    } else if (e.repeat && (!e.max || st.count <= *e.max) && st.count < std::numeric_limits<std::int32_t>::max()) {
      consider(after(k, st.last, *e.repeat), PointKind::rung, static_cast<std::int32_t>(i));
    }
  }
  if (!k.done) consider(due_instant(k), PointKind::due, -1);
  return best;
}

TimePoint next_due_of(const Case& c) {
  std::optional<TimePoint> best;
  for (const auto& k : c.clocks) {
    std::optional<Point> p;
    try {
      p = next_point(c, k);
    } catch (const Error&) {
      continue;  // a clock whose arithmetic fails is stopped, with an incident, where it fails (Op::schedule)
    }
    if (p && (!best || p->at < *best)) best = p->at;
  }
  return best.value_or(TimePoint{});
}

// `catch_up: latest`: of the repeats of a level missed while the engine was down, only the
// latest fires on recovery (the skipped ones keep their numbers, so the latest is numbered as
// if all had fired).
void catch_up_latest(const Case& c, ClockState& k, TimePoint now) {
  if (!k.running) return;
  const Deadline* dl = deadline_of(c, k);
  if (!dl || dl->catch_up != CatchUp::latest) return;
  const auto& rungs = dl->escalate;
  for (std::size_t i = 0; i < rungs.size(); ++i) {
    const Escalation& e = rungs[i];
    RungState& st = k.rungs[i];
    if (!e.repeat || st.count == 0) continue;
    try {
      while ((!e.max || st.count <= *e.max) && st.count < std::numeric_limits<std::int32_t>::max()) {
        const TimePoint next = after(k, st.last, *e.repeat);
        if (next > now) break;
        const TimePoint after_next = after(k, next, *e.repeat);
        if (after_next > now || (e.max && st.count + 1 > *e.max)) break;  // `next` is the latest missed one
        ++st.count;
        st.last = next;
      }
    } catch (const Error&) {
      // A repeat past the end of time or of the calendar was not missed; scheduling reports it.
    }
  }
}

// Reinitialises a clock slot. The generation carries on, so timer entries of the clock's
// previous use can never match the new one.
void reset(ClockState& k) {
  const auto gen = k.gen + 1;
  k = ClockState{};
  k.gen = gen;
}

void retime(ClockState& k, ReschedulePolicy policy, const Calendar* cal, const DurationSpec* rule, bool business,
            TimePoint now) {
  switch (policy) {
    case ReschedulePolicy::keep:
      // The same due time, now measured in wall time so that it no longer depends on a calendar.
      if (k.running) {
        const TimePoint due = due_instant(k);
        k.consumed = k.since - k.started;
        k.total = due - k.started;
        k.business = false;
      }
      k.cal = cal;
      return;
    case ReschedulePolicy::recompute:
      k.cal = cal;
      k.business = business;
      k.since = k.started;
      k.consumed = Duration{0};
      if (rule) k.total = total_for(*rule, cal, k.started);
      return;
    case ReschedulePolicy::carry:
      if (k.running) {
        k.consumed += measured(k, k.since, now);  // counted on the old calendar
        k.since = now;
      }
      k.cal = cal;
      k.business = business;
      return;
  }
}

}  // namespace escalon::detail::clockmath
