// Entering and leaving steps: one function per step kind, automatic steps followed at once,
// and the expression context a case's expressions run in.

#include <algorithm>

#include "expr/rules.hpp"
#include "runtime/core.hpp"

namespace escalon::detail {

namespace {
// Steps kept per looping case to name its cycle: cycles longer than half of this are named
// by their last steps.
constexpr std::size_t trail_length = 64;
}  // namespace

// ----------------------------------------------------------------------------- expressions

Map Op::case_info(const Case& c) {
  Map m{{"id", c.id},           {"flow", c.flow().id},  {"version", c.flow().version},
        {"started", c.started}, {"entered", c.entered}, {"assignee", c.assignee}};
  if (c.step >= 0) {
    m["step"] = c.current().name;
    m["role"] = c.current().role;
  }
  return m;
}

// The evaluation context of a case at time `at` (with `event` as payload, if any).
void Op::fill(Ctx& x, const Case& c, TimePoint at, const Value* event) {
  x.ctx.fields = std::span<const Value>(c.data);
  x.ctx.event = event;
  x.ctx.now = at;
  x.ctx.calendar = c.rt->default_cal;
  x.ctx.rules = &c.flow().rules;
  if (c.rt->uses_case) {
    x.info = case_info(c);
    x.ctx.case_info = &x.info;
  }
}

// Evaluates assignments into checked changes without touching the case.
std::vector<Change> Op::changes_for(const Case& c, const std::vector<Assignment>& set, const EvalContext& ctx) const {
  std::vector<Change> out;
  for (const auto& a : set) {
    const auto slot = c.flow().find_field(a.field) - c.flow().data.data();
    const DataField& f = c.flow().data[static_cast<std::size_t>(slot)];
    out.push_back({static_cast<std::int32_t>(slot), f.type.coerce(a.value.evaluate(ctx), a.field)});
  }
  return out;
}

void Op::apply_changes(Case& c, const std::vector<Change>& changes, TimePoint at, const std::string& actor,
                       const std::string& channel) {
  bool changed = false;
  for (const auto& ch : changes) {
    Value& v = c.data[static_cast<std::size_t>(ch.slot)];
    if (v == ch.value && v.kind() == ch.value.kind()) continue;
    Record r = make(c, RecordType::data_changed, at);
    r.target = c.flow().data[static_cast<std::size_t>(ch.slot)].name;
    r.old_value = v;
    r.new_value = ch.value;
    r.actor = actor;
    r.channel = channel;
    v = ch.value;
    commit(&c, std::move(r));
    changed = true;
  }
  if (changed) data_changed(c, at);
}

// ----------------------------------------------------------------------------- moving

// Moves the case to `target`, then follows automatic steps (decisions...) iteratively.
// `in_stage`: the stage the case counts as in when it has no step yet (a branch starts inside
// its parent's stage; a migrated case inside the stage it was in), so that stage is not entered
// again.
void Op::move_to(Case& c, std::int32_t target, TimePoint at, std::int32_t in_stage) {
  if (target < 0 || c.status != CaseStatus::active) return;
  while (target >= 0) {
    if (!count_move(c, target)) {
      raise_incident(c, at, loop_message(c));
      u.trails.erase(&c);
      return;
    }
    const std::int32_t from_stage = c.step >= 0 ? c.current().stage : in_stage;
    if (c.step >= 0) {
      leave(c, at);
      if (c.status != CaseStatus::active) return;  // an on_exit hook failed: the case stays, in an incident
    }
    if (c.join_step >= 0 && target == c.join_step) {
      arrive(c, at);
      return;
    }
    const std::int32_t to_stage = c.flow().steps[static_cast<std::size_t>(target)].stage;
    if (to_stage != from_stage) change_stage(c, from_stage, to_stage, target, at);
    target = enter(c, target, at, to_stage != from_stage ? to_stage : -1);
    if (c.status != CaseStatus::active) return;
  }
}

// Counts a step entry of `c` in this unit. A loop can run through timers that fall due at
// once (a wait until now(), a deadline of 0s), so the count is per call, not per move_to.
bool Op::count_move(Case& c, std::int32_t target) {
  if (u.serial == 0) u.serial = ++m.unit_serial;
  if (c.moves_unit != u.serial) {
    c.moves_unit = u.serial;
    c.moves = 0;
  }
  const std::uint32_t limit = std::max<std::uint32_t>(1, m.options.max_moves_per_call);
  if (c.moves + trail_length >= limit) {
    auto& trail = u.trails[&c];
    if (trail.size() == trail_length) trail.erase(trail.begin());
    trail.push_back(target);
  }
  return ++c.moves <= limit;
}

// Names the loop: the shortest cycle that the last steps entered repeat ("'check' -> 'pause'
// -> 'check'"), or the last few steps when no short cycle shows.
std::string Op::loop_message(const Case& c) const {
  std::vector<std::int32_t> trail;
  if (auto it = u.trails.find(&c); it != u.trails.end()) trail = it->second;
  const auto n = static_cast<std::ptrdiff_t>(trail.size());
  std::ptrdiff_t period = 0;
  for (std::ptrdiff_t p = 1; p * 2 <= n && !period; ++p)
    if (std::equal(trail.end() - p, trail.end(), trail.end() - 2 * p)) period = p;
  const auto name = [&](std::int32_t s) { return fmt::format("'{}'", c.flow().steps[static_cast<std::size_t>(s)].name); };
  // The cycle starts at the step that would have been entered next.
  std::vector<std::string> steps;
  if (period) steps.push_back(name(trail.back()));
  for (std::ptrdiff_t i = n - (period ? period : std::min<std::ptrdiff_t>(n, 8)); i < n; ++i)
    steps.push_back(name(trail[static_cast<std::size_t>(i)]));
  const auto limit = std::max<std::uint32_t>(1, m.options.max_moves_per_call);
  if (!period)
    return fmt::format("more than {} steps entered in one call (the last: {}); automatic steps must reach a task, an "
                       "end or a wait that ends later",
                       limit, fmt::join(steps, " -> "));
  return fmt::format("more than {} steps entered in one call: the steps {} loop without waiting for anyone; let a "
                     "task step, a wait that ends later or a branch that leaves the loop break the cycle",
                     limit, fmt::join(steps, " -> "));
}

void Op::leave(Case& c, TimePoint at) {
  const Step& s = c.current();
  if (s.kind == StepKind::subflow || s.kind == StepKind::parallel)
    cancel_children(c, at, fmt::format("case '{}' left step '{}'", c.id, s.name));
  guarded(c, at, [&] { return fmt::format("leaving step '{}'", s.name); }, [&] { run_hooks(c, s.on_exit, at, "on_exit"); });
  if (c.status != CaseStatus::active) return;
  stop_clock(c, c.deadline_clock());
  stop_clock(c, c.timer_clock());
  commit(&c, make(c, RecordType::left, at));
}

// The case moves from stage `from` to stage `to` (-1: none) on its way into step `target`: the
// old stage's deadline stops (the new one's starts in enter(), once the case is in the step).
// A move inside a stage changes neither.
void Op::change_stage(Case& c, std::int32_t from, std::int32_t to, std::int32_t target, TimePoint at) {
  const Flow& f = c.flow();
  if (from >= 0 && c.step >= 0) {  // (a branch counted as in its parent's stage never entered it itself)
    if (c.has_stage_clock()) stop_clock(c, c.stage_clock());
    Record r = make(c, RecordType::stage_left, at);
    r.target = f.stages[static_cast<std::size_t>(from)].name;
    commit(&c, std::move(r));
  }
  if (to < 0) return;
  const Stage& st = f.stages[static_cast<std::size_t>(to)];
  Record r = make(c, RecordType::stage_entered, at);
  r.step = f.steps[static_cast<std::size_t>(target)].name;
  r.target = st.name;
  commit(&c, std::move(r));
}

// Enters a step; returns the next step when the step passes on at once (decisions), else -1.
// `new_stage`: the stage the case enters with the step (its deadline starts), or -1.
std::int32_t Op::enter(Case& c, std::int32_t idx, TimePoint at, std::int32_t new_stage) {
  c.step = idx;
  ++c.visit;
  c.entered = at;
  const Step& s = c.current();
  commit(&c, make(c, RecordType::entered, at));
  std::int32_t next = -1;
  guarded(c, at, [&] { return fmt::format("entering step '{}'", s.name); }, [&] {
    assign_for_step(c, at);
    if (new_stage >= 0 && c.flow().stages[static_cast<std::size_t>(new_stage)].deadline) start_stage_deadline(c, new_stage, at);
    update_slas(c, at);
    run_hooks(c, s.on_enter, at, "on_enter");
    if (c.status != CaseStatus::active) return;
    if (s.deadline) start_deadline(c, at);
    next = enter_kind(c, at);
  });
  return c.status == CaseStatus::active ? next : -1;
}

std::int32_t Op::enter_kind(Case& c, TimePoint at) {
  const Step& s = c.current();
  switch (s.kind) {
    case StepKind::task:
      return -1;
    case StepKind::end:
      complete(c, at);
      return -1;
    case StepKind::decision:
      return decide(c, at);
    case StepKind::action:
      u.jobs.push_back({.c = &c, .visit = c.visit, .attempt = 1, .at = at});
      return -1;
    case StepKind::wait:
      start_wait(c, at);
      return -1;
    case StepKind::subflow:
      start_subflow(c, at);
      return -1;
    case StepKind::parallel:
      start_branches(c, at);
      return -1;
    case StepKind::join:
      return s.next_index;  // the parent passes through once its branches have met
  }
  return -1;
}

void Op::assign_for_step(Case& c, TimePoint at) {
  const Step& s = c.current();
  if (s.role.empty() && s.assign.empty()) return;
  std::string who = s.role;
  if (!s.assign.empty()) {
    Ctx x;
    fill(x, c, at, nullptr);
    const Value v = s.assign.evaluate(x.ctx);
    if (v.kind() == Value::Kind::string && !v.as_string().empty()) who = v.as_string();
  }
  assign(c, who, at);
}

void Op::assign(Case& c, const std::string& who, TimePoint at) {
  if (who == c.assignee) return;
  c.assignee = who;
  Record r = make(c, RecordType::assigned, at);
  r.target = who;
  commit(&c, std::move(r));
}

std::int32_t Op::decide(Case& c, TimePoint at) {
  const Step& s = c.current();
  Ctx x;
  fill(x, c, at, nullptr);
  if (!s.rule.empty()) {
    const Value out = evaluate_rule(*c.flow().find_rule(s.rule), x.ctx);
    const Value* to = out.find("to");
    if (!to || to->kind() != Value::Kind::string) {
      raise_incident(c, at, fmt::format("decision '{}': rule table '{}' matched no row", s.name, s.rule));
      return -1;
    }
    const auto idx = c.flow().step_index(to->as_string());
    if (idx < 0)
      raise_incident(c, at,
                     fmt::format("decision '{}': rule table '{}' chose unknown step '{}'", s.name, s.rule, to->as_string()));
    return idx;
  }
  for (const auto& b : s.branches) {
    if (!b.when.test(x.ctx)) continue;
    apply_changes(c, changes_for(c, b.set, x.ctx), at, engine_actor);
    return b.target_index;
  }
  raise_incident(c, at, fmt::format("decision '{}': no branch applies (add one without `when` as the default)", s.name));
  return -1;
}

void Op::start_wait(Case& c, TimePoint at) {
  const Step& s = c.current();
  TimePoint until{};
  if (s.wait_for) {
    const Calendar* cal = c.rt->default_cal;
    until = s.wait_for->is_business() && cal ? cal->due(at, *s.wait_for) : at + s.wait_for->length;
  } else {
    Ctx x;
    fill(x, c, at, nullptr);
    const Value v = s.wait_until.evaluate(x.ctx);
    if (v.kind() != Value::Kind::datetime) {
      raise_incident(c, at,
                     fmt::format("wait step '{}': `until: {}` gave {}, not a datetime", s.name, s.wait_until.text(),
                                 v.to_json()));
      return;
    }
    until = std::max(at, v.as_datetime());
  }
  start_timer(c, TimerPurpose::wait, until, 0);
}

void Op::complete(Case& c, TimePoint at) {
  c.status = CaseStatus::completed;
  for (std::size_t i = 0; i < c.clocks.size(); ++i) stop_clock(c, i);
  Record r = make(c, RecordType::completed, at);
  r.target = c.outcome();
  commit(&c, std::move(r));
  tell_parent(c, at,
              c.current().fail ? fmt::format("sub-flow case '{}' ended failed at step '{}'{}{}", c.id, c.current().name,
                                             c.outcome().empty() ? "" : ", outcome ", c.outcome())
                               : std::string());
}

void Op::raise_incident(Case& c, TimePoint at, std::string why) {
  if (!c.open()) return;  // a closed case keeps its outcome; the failure is the caller's
  c.status = CaseStatus::incident;
  c.set_incident(why);
  Record r = make(c, RecordType::incident, at);
  r.message = why;
  commit(&c, std::move(r));
  tell_parent(c, at, fmt::format("sub-flow case '{}' has an incident: {}", c.id, why));
}

void Op::run_hooks(Case& c, const std::vector<Hook>& hooks, TimePoint at, const char* when) {
  for (const auto& h : hooks) {
    switch (h.kind) {
      case Hook::Kind::set: {
        Ctx x;
        fill(x, c, at, nullptr);
        apply_changes(c, changes_for(c, h.with, x.ctx), at, engine_actor);
        break;
      }
      case Hook::Kind::notify:
        notify(c, at, h.notify, h.body.empty() ? h.message : render(c, h.body, at, nullptr, 0), when, 0, 0,
               h.subject.empty() ? std::string() : render(c, h.subject, at, nullptr, 0));
        break;
      case Hook::Kind::call:
        u.jobs.push_back({.c = &c, .visit = c.visit, .attempt = 1, .at = at, .hook = &h});
        break;
    }
  }
}

void Op::cancel_case(Case& c, TimePoint at, const std::string& reason, const EventOptions& o) {
  c.status = CaseStatus::cancelled;
  for (std::size_t i = 0; i < c.clocks.size(); ++i) stop_clock(c, i);
  Record r = make(c, RecordType::cancelled, at);
  r.actor = o.actor;
  r.channel = o.channel;
  r.message = reason;
  commit(&c, std::move(r));
  cancel_children(c, at, fmt::format("case '{}' was cancelled", c.id));
}

}  // namespace escalon::detail
