// Deadlines, SLAs, waits and retries: starting them, scheduling their next point, and firing
// points in time order. Processing a point happens at the point's own time, so the journal
// does not depend on how late run_due() was called.

#include <cassert>

#include "runtime/core.hpp"

namespace escalon::detail {

using namespace clockmath;

void Op::schedule(Case& c, std::size_t idx) {
  ClockState& k = c.clocks[idx];
  assert((!k.running || k.active) && "a running clock is active");
  ++k.gen;
  touch(c);
  std::optional<Point> p;
  try {
    p = next_point(c, k);
  } catch (const Error&) {
    // Its next point cannot be computed (past year 9999, a calendar with no working time left):
    // the clock stops, so no view or snapshot computes it again, and the caller's exception
    // boundary puts the case into an incident with the reason.
    k.active = k.running = false;
    throw;
  }
  if (p) {
    m.timers.push(p->at, c, idx, k.gen);
    m.timers.compact(m.cases);
    if (m.runner_on) m.wake.notify_one();
  }
}

void Op::stop_clock(Case& c, std::size_t idx) {
  ClockState& k = c.clocks[idx];
  touch(c);
  k.active = false;
  ++k.gen;
}

// Starts the current step's deadline, measured from `from` (when the step was entered; a
// migrated case's deadline is measured from its original entry) and recorded at `at`.
void Op::start_deadline(Case& c, TimePoint at, std::optional<TimePoint> from) {
  const Step& s = c.current();
  ClockState& k = c.clocks[c.deadline_clock()];
  reset(k);
  k.kind = ClockKind::deadline;
  k.index = c.step;
  k.visit = c.visit;
  const TimePoint start = from.value_or(at);
  k.started = k.since = start;
  k.rungs.resize(s.deadline->escalate.size());
  if (s.deadline->within) {
    const DurationSpec& d = *s.deadline->within;
    k.cal = c.rt->calendar(s.deadline->calendar);
    k.business = d.is_business() && k.cal;
    k.total = total_for(d, k.cal, start);
    k.active = k.running = true;
    record_deadline(c, k, at);
    schedule(c, c.deadline_clock());
    return;
  }
  // `at:` is absolute; no deadline while the expression gives null (e.g. no slot booked yet).
  Ctx x;
  fill(x, c, at, nullptr);
  const Value due = s.deadline->at.evaluate(x.ctx);
  if (due.kind() == Value::Kind::datetime) set_absolute_deadline(c, due.as_datetime(), at);
}

// Starts the deadline of stage `stage`, which the case enters now. It runs until the case moves
// to a step outside the stage, whatever steps it passes through inside.
void Op::start_stage_deadline(Case& c, std::int32_t stage, TimePoint at) {
  const Stage& st = c.flow().stages[static_cast<std::size_t>(stage)];
  ClockState& k = c.clocks[c.stage_clock()];
  reset(k);
  k.kind = ClockKind::stage;
  k.index = stage;
  k.started = k.since = at;
  k.rungs.resize(st.deadline->escalate.size());
  const DurationSpec& d = *st.deadline->within;
  k.cal = c.rt->calendar(st.deadline->calendar);
  k.business = d.is_business() && k.cal;
  k.total = total_for(d, k.cal, at);
  k.active = k.running = true;
  record_deadline(c, k, at, "stage:" + st.name);
  schedule(c, c.stage_clock());
}

// Sets (or moves) the running deadline of the current step to an absolute due time. Levels
// already fired stay fired: every level fires once per deadline.
void Op::set_absolute_deadline(Case& c, TimePoint due, TimePoint at) {
  const Step& s = c.current();
  ClockState& k = c.clocks[c.deadline_clock()];
  if (!k.active || k.visit != c.visit) {
    reset(k);
    k.kind = ClockKind::deadline;
    k.index = c.step;
    k.visit = c.visit;
    k.started = at;
    k.rungs.resize(s.deadline->escalate.size());
  }
  k.business = false;
  // The due time is absolute, but `after: 1 business day` levels still count on the calendar.
  k.cal = c.rt->calendar(s.deadline->calendar);
  // A due time already past (a back-dated visit) is not moved up to now: the deadline counts
  // from it, so levels `after:` it fire on their real schedule (those already past at once).
  if (due < k.started) k.started = due;
  k.floor = at;
  k.since = k.started;
  k.consumed = Duration{0};
  k.total = due - k.started;
  k.done = due <= at && k.done;
  k.active = k.running = true;
  record_deadline(c, k, at);
  schedule(c, c.deadline_clock());
}

void Op::record_deadline(Case& c, ClockState& k, TimePoint at, const std::string& sla) {
  Record r = make(c, RecordType::deadline_set, at);
  try {
    r.due = due_instant(k);
  } catch (const Error&) {
    k.active = k.running = false;  // as in schedule(): a clock whose due time cannot be computed stops
    ++k.gen;
    throw;
  }
  r.target = sla;
  commit(&c, std::move(r));
}

// A deadline with `at:` follows the data it reads (e.g. the booked slot).
void Op::data_changed(Case& c, TimePoint at) {
  if (c.status != CaseStatus::active || c.step < 0) return;
  const auto& dl = c.current().deadline;
  if (!dl || dl->at.empty()) return;
  ClockState& k = c.clocks[c.deadline_clock()];
  Ctx x;
  fill(x, c, at, nullptr);
  Value due;
  try {
    due = dl->at.evaluate(x.ctx);
  } catch (const EvalError& e) {
    raise_incident(c, at, e.what());
    return;
  }
  if (due.kind() != Value::Kind::datetime) return;
  if (k.active && due_instant(k) == due.as_datetime()) return;
  set_absolute_deadline(c, due.as_datetime(), at);
}

// Pauses, resumes or stops each SLA for the step just entered.
void Op::update_slas(Case& c, TimePoint at) {
  const auto step = static_cast<std::size_t>(c.step);
  for (std::size_t i = 0; i < c.flow().slas.size(); ++i) {
    const Sla& sla = c.flow().slas[i];
    ClockState& k = c.clocks[i];
    // A `start_in:` SLA starts the first time the case gets there (before that its clock is
    // blank: not of the SLA kind).
    if (const auto& start = c.rt->sla_start[i]; !start.empty() && k.kind != ClockKind::sla) {
      // A parallel branch is part of its parent's case: its steps do not start the parent's SLAs.
      if (!start[step] || c.join_step >= 0) continue;
      start_sla(c, i, at);
    }
    if (!k.active || k.met) continue;
    if (c.rt->sla_stop[i][step]) {
      if (k.running) k.consumed += measured(k, k.since, at);
      k.running = false;
      k.met = true;
      if (!k.done) {
        Record r = make(c, RecordType::sla_met, at);
        r.target = sla.name;
        commit(&c, std::move(r));
      }
      schedule(c, i);
      continue;
    }
    const bool run = !c.rt->sla_pause[i][step] && (sla.role.empty() || c.current().role == sla.role);
    if (run == k.running) continue;
    if (run) {
      const bool first = k.consumed == Duration{0} && k.since == k.started && !k.warned;
      k.since = at;
      k.running = true;
      if (first) {
        record_deadline(c, k, at, sla.name);
      } else {
        // The time it lost while paused moves its due time: say when it is due now.
        Record r = make(c, RecordType::resumed, at);
        r.target = sla.name;
        r.due = due_instant(k);
        commit(&c, std::move(r));
      }
    } else {
      k.consumed += measured(k, k.since, at);
      k.running = false;
      Record r = make(c, RecordType::paused, at);
      r.target = sla.name;
      commit(&c, std::move(r));
    }
    schedule(c, i);
  }
}

namespace {
// Who hears an SLA's warning and breach: its `notify:`, else the role of the current step.
std::vector<std::string> sla_recipients(const Case& c, const ClockState& k) {
  std::vector<std::string> to = c.flow().slas[static_cast<std::size_t>(k.index)].notify;
  if (to.empty() && c.step >= 0 && !c.current().role.empty()) to.push_back(c.current().role);
  return to;
}
}  // namespace

void Op::fire(Case& c, std::size_t idx, const Point& p) {
  ClockState& k = c.clocks[idx];
  const TimePoint at = p.at;
  switch (p.kind) {
    case PointKind::timer:
      stop_clock(c, idx);
      if (k.purpose == TimerPurpose::wait) {
        if (c.step == k.index && c.visit == k.visit) move_to(c, c.current().next_index, at);
      } else if (k.purpose == TimerPurpose::retry) {
        u.jobs.push_back({.c = &c, .visit = k.visit, .attempt = k.attempt, .at = at});
      }
      return;
    case PointKind::warn: {
      k.warned = true;
      const Sla& sla = c.flow().slas[static_cast<std::size_t>(k.index)];
      Record r = make(c, RecordType::sla_warning, at);
      r.target = sla.name;
      commit(&c, std::move(r));
      notify(c, at, sla_recipients(c, k), fmt::format("SLA '{}' is at {:.0f}% of its time", sla.name, *sla.warn_at * 100),
             "sla-warning", 0, 0);
      break;
    }
    case PointKind::due:
      k.done = true;
      if (k.kind == ClockKind::sla) {
        const std::string& name = c.flow().slas[static_cast<std::size_t>(k.index)].name;
        Record r = make(c, RecordType::sla_breached, at);
        r.target = name;
        commit(&c, std::move(r));
        notify(c, at, sla_recipients(c, k), fmt::format("SLA '{}' breached", name), "sla-breached", 0, 0);
      } else if (const Deadline* dl = deadline_of(c, k); dl && dl->expire_index >= 0) {
        Record r = make(c, RecordType::expired, at);
        r.target = dl->expire;
        if (k.kind == ClockKind::stage)
          r.message = fmt::format("deadline of stage '{}'", c.flow().stages[static_cast<std::size_t>(k.index)].name);
        commit(&c, std::move(r));
        move_to(c, dl->expire_index, at);
        return;
      }
      break;
    case PointKind::rung: {
      const Escalation& e = ladder(c, k)[static_cast<std::size_t>(p.rung)];
      RungState& st = k.rungs[static_cast<std::size_t>(p.rung)];
      ++st.count;
      st.last = at;
      k.level = std::max(k.level, p.rung + 1);
      escalate(c, k, e, p.rung + 1, st.count - 1, at);
      if (!k.active) return;  // the level moved the case on, or closed it
      break;
    }
  }
  schedule(c, idx);
}

void Op::escalate(Case& c, const ClockState& k, const Escalation& e, std::int32_t level, std::int32_t repeat,
                  TimePoint at) {
  const std::uint32_t visit = c.visit;
  Record r = make(c, RecordType::escalated, at);
  r.level = level;
  r.repeat = repeat;
  r.target = fmt::format("{}", fmt::join(e.notify, ","));
  // The notification gets the whole text; the journal keeps it with personal data hidden.
  const std::string text = e.body.empty() ? e.message : render(c, e.body, at, &k, level);
  r.message = e.body.personal() ? render(c, e.body, at, &k, level, true) : text;
  const std::string kept = r.message;
  // A ladder that is not the step's own says whose it is.
  const auto idx = static_cast<std::size_t>(k.index);
  if (k.kind == ClockKind::sla || k.kind == ClockKind::stage)
    r.message = fmt::format("{} '{}'{}{}", k.kind == ClockKind::sla ? "SLA" : "stage",
                            k.kind == ClockKind::sla ? c.flow().slas[idx].name : c.flow().stages[idx].name,
                            kept.empty() ? "" : ": ", kept);
  commit(&c, std::move(r));
  if (!e.notify.empty())
    notify(c, at, e.notify, text.empty() ? fmt::format("escalation level {}", level) : text, "escalation", level, repeat,
           e.subject.empty() ? std::string() : render(c, e.subject, at, &k, level));
  if (!e.reassign.empty()) assign(c, e.reassign, at);
  bool ok = false;
  guarded(c, at, [&] { return fmt::format("escalation level {}", level); }, [&] {
    Ctx x;
    fill(x, c, at, nullptr);
    auto changes = changes_for(c, e.set, x.ctx);
    if (!e.priority.empty() && c.rt->priority_slot >= 0) changes.push_back({c.rt->priority_slot, Value(e.priority)});
    apply_changes(c, changes, at, engine_actor);
    ok = true;
  });
  if (!ok) return;
  if (!e.emit.empty() && c.visit == visit) {
    try {
      apply_event(c, e.emit, Map{}, EventOptions{.actor = engine_actor, .channel = "escalation"}, at);
    } catch (const EventError&) {
      // recorded as `rejected`; an escalation does not fail because its event was refused
    }
  }
  if (e.go_to_index >= 0 && c.visit == visit && c.status == CaseStatus::active) move_to(c, e.go_to_index, at);
}

void Op::start_timer(Case& c, TimerPurpose purpose, TimePoint when, std::int32_t attempt) {
  ClockState& k = c.clocks[c.timer_clock()];
  reset(k);
  k.kind = ClockKind::timer;
  k.purpose = purpose;
  k.index = c.step;
  k.visit = c.visit;
  k.at = when;
  k.attempt = attempt;
  k.active = true;
  schedule(c, c.timer_clock());
}

// Fires every point due up to `now`, in (time, scheduling order). A case held by another unit
// that has not committed yet (its caller runs a handler) is left alone: that unit, or a later
// call, fires its points (at their own times), so nobody waits here and no cycle of waits can
// form. Each point runs behind the case's exception boundary.
void Op::restart_clocks(Case& c, TimePoint now, const char* doing) {
  for (std::size_t i = 0; i < c.clocks.size(); ++i) {
    if (!c.clocks[i].active) continue;
    // A stored clock whose next point cannot be computed (it would fall past year 9999) is
    // that case's incident; the other cases are loaded by now, so a throw would leave half a load.
    guarded(c, now, [doing] { return std::string(doing); }, [&] {
      clockmath::catch_up_latest(c, c.clocks[i], now);
      schedule(c, i);
    });
  }
}

void Op::fire_due(TimePoint now) {
  std::size_t fired = 0;
  std::vector<TimerEntry> held;
  run_jobs();
  TimePoint last = min_time;
  [[maybe_unused]] const std::uint64_t runs = m.handler_runs;
  while (!m.timers.empty() && m.timers.top().at <= now) {
    const TimerEntry e = m.timers.top();
    m.timers.pop();
    Case* c = m.cases.at(e.slot, e.case_gen);
    if (!c || e.clock >= c->clocks.size() || c->clocks[e.clock].gen != e.gen) continue;
    if (!claimable(*c)) {
      held.push_back(e);
      continue;
    }
    const auto p = next_point(*c, c->clocks[e.clock]);
    if (!p || p->at != e.at) continue;  // defensive: the generation already rules this out
    // A point of a deadline set to a time already past happens when it was set (ClockState::floor).
    // Such a point can join the heap during this loop (a rescheduled `at:` deadline) with a due
    // time before the last one fired: it is the time it happens at that moves forward, and that
    // only while this loop keeps the lock. A handler releases it, and meanwhile calls of other
    // threads may set a point at the engine's latest time, later than points still due here.
    const TimePoint set_or_due = std::max(e.at, c->clocks[e.clock].floor);
    assert((set_or_due >= last || runs != m.handler_runs) && "timer points happen in time order");
    last = set_or_due;
    // Nor does a point happen before its case's newest record. A recomputed deadline (migration,
    // calendar change) whose level is already past fires when it was recomputed; a thread whose
    // call wrote to the case at a later time is another way.
    const TimePoint when = std::max(set_or_due, c->last_at);
    own(*c);
    ++fired;
    guarded(*c, when, [] { return std::string(); }, [&] { fire(*c, e.clock, Point{when, p->kind, p->rung}); });
    run_jobs();
  }
  for (const auto& e : held) m.timers.push(e);
  u.fired += fired;
  u.held = held.size();
}

}  // namespace escalon::detail
