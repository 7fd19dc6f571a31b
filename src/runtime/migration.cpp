// Changes that re-time running clocks: moving open cases to another flow version, and
// replacing a calendar. Both re-time deadlines by the same rules (clockmath::retime).

#include <algorithm>
#include <set>

#include "base/suggest.hpp"
#include "runtime/core.hpp"

namespace escalon::detail {

using namespace clockmath;

namespace {

struct MigrationPlan {
  Case* c = nullptr;
  std::int32_t step = -1;  // in the new version
  std::int32_t join_step = -1;
  std::vector<Value> data, fork_data;
  std::vector<std::string> dropped;
};

// The case's data laid out for the new version: fields kept by name and converted to their
// new type, new fields at their default, fields the new version lacks dropped.
std::vector<Value> remap_data(const Flow& from, const Flow& to, const std::vector<Value>& values,
                              const std::string& case_id, std::vector<std::string>& problems,
                              std::vector<std::string>* dropped) {
  std::vector<Value> out(to.data.size());
  if (values.empty()) return {};
  for (std::size_t j = 0; j < to.data.size(); ++j) {
    const DataField& field = to.data[j];
    const DataField* old = from.find_field(field.name);
    const Value* v = old ? &values[static_cast<std::size_t>(old - from.data.data())] : nullptr;
    if (v && !v->is_null()) {
      try {
        out[j] = field.type.coerce(*v, field.name);
      } catch (const DataError& e) {
        problems.push_back(fmt::format("case '{}': {}; map or clear the field before migrating", case_id, e.message()));
      }
    } else if (field.default_value) {
      out[j] = *field.default_value;
    }
  }
  if (dropped)
    for (std::size_t i = 0; i < from.data.size(); ++i)
      if (!values[i].is_null() && !to.find_field(from.data[i].name)) dropped->push_back(from.data[i].name);
  return out;
}

// A level the new ladder lacks (it has fewer levels now) is not kept: stored cases are checked
// against their ladder.
void clamp_level(ClockState& k) { k.level = std::min(k.level, static_cast<std::int32_t>(k.rungs.size())); }

const Calendar* same_calendar(const FlowRt& from, const FlowRt& to, const Calendar* cal) {
  for (const auto& [name, ptr] : from.calendars)
    if (ptr.get() == cal)
      if (const Calendar* same = to.calendar(name)) return same;
  return to.default_cal;
}

std::vector<std::string> step_names(const Flow& f) {
  std::vector<std::string> out;
  for (const auto& s : f.steps) out.push_back(s.name);
  return out;
}

}  // namespace

// Migration in three passes: choose the cases, plan every one (a migration that cannot move
// every chosen case moves none), then move them.
struct Migrator {
  Op& op;
  const Migration& mig;
  FlowRt* to_rt;
  std::vector<std::string> problems;

  std::vector<Case*> choose() {
    std::vector<Case*> chosen;
    auto& m = op.m;
    const auto fits = [&](const Case& c) { return c.rt != to_rt && (!mig.from || c.flow().version == mig.from); };
    if (mig.cases.empty()) {
      for (Case* c : m.cases.in_order())
        if (c->flow().id == mig.flow && c->open() && fits(*c)) chosen.push_back(c);
      return chosen;
    }
    for (const auto& id : mig.cases) {
      Case* c = m.cases.find(id);
      if (!c) throw CaseError(fmt::format("unknown case '{}'", id));
      if (c->flow().id != mig.flow)
        throw EventError(Refusal::bad_request, fmt::format("case '{}' runs flow '{}', not '{}'", id, c->flow().id, mig.flow));
      if (!c->open())
        throw EventError(Refusal::closed, fmt::format("case '{}' is {}; only open cases migrate", id, case_status_name(c->status)));
      if (fits(*c)) chosen.push_back(c);
    }
    return chosen;
  }

  void check_mapping(const std::vector<Case*>& chosen) {
    const Flow& to = *to_rt->flow;
    std::set<std::string, std::less<>> old_steps;
    for (const Case* c : chosen)
      for (const auto& s : c->flow().steps) old_steps.insert(s.name);
    const auto new_steps = step_names(to);
    for (const auto& [from_step, to_step] : mig.steps) {
      if (!chosen.empty() && !old_steps.contains(from_step))
        problems.push_back(fmt::format("steps: '{}' is not a step of the versions being migrated{}", from_step,
                                       did_you_mean(from_step, old_steps)));
      if (to.step_index(to_step) < 0)
        problems.push_back(fmt::format("steps: '{}' -> '{}': version {} has no step '{}'{}", from_step, to_step,
                                       to.version, to_step, did_you_mean(to_step, new_steps)));
    }
  }

  std::int32_t map_step(const Flow& from, std::int32_t idx) const {
    if (idx < 0) return -1;
    const std::string& name = from.steps[static_cast<std::size_t>(idx)].name;
    auto it = mig.steps.find(name);
    return to_rt->flow->step_index(it == mig.steps.end() ? name : it->second);
  }

  std::optional<MigrationPlan> plan(Case* c) {
    const Flow& to = *to_rt->flow;
    const Flow& from = c->flow();
    MigrationPlan p;
    p.c = c;
    p.step = map_step(from, c->step);
    if (p.step < 0) {
      problems.push_back(fmt::format("case '{}' is in step '{}', which version {} of '{}' does not have; map it: steps: "
                                     "{{{}: <one of {}>}}",
                                     c->id, c->current().name, to.version, to.id, c->current().name,
                                     fmt::join(step_names(to), ", ")));
      return std::nullopt;
    }
    if (c->join_step >= 0 && (p.join_step = map_step(from, c->join_step)) < 0)
      problems.push_back(fmt::format("case '{}' is a parallel branch joining at '{}', which version {} does not have; map it",
                                     c->id, from.steps[static_cast<std::size_t>(c->join_step)].name, to.version));
    if (c->status == CaseStatus::incident && to.steps[static_cast<std::size_t>(p.step)].kind != c->current().kind)
      problems.push_back(fmt::format("case '{}' is in an incident at step '{}'; resolve it first, or map it to a step of "
                                     "the same kind",
                                     c->id, c->current().name));
    p.data = remap_data(from, to, c->data, c->id, problems, &p.dropped);
    p.fork_data = remap_data(from, to, c->fork_data, c->id, problems, nullptr);
    return p;
  }

  void refuse_if_problems() const {
    if (problems.empty()) return;
    const Flow& to = *to_rt->flow;
    const std::size_t shown = std::min<std::size_t>(problems.size(), 10);
    throw EventError(Refusal::bad_request, fmt::format("cannot migrate '{}' to version {} ({} problem{}; nothing was changed): {}{}", to.id,
                                 to.version, problems.size(), problems.size() == 1 ? "" : "s",
                                 fmt::join(problems.begin(), problems.begin() + static_cast<std::ptrdiff_t>(shown), "; "),
                                 problems.size() > shown ? "; ..." : ""));
  }

  void record(Case& c, const Flow& from, const std::string& old_step, const MigrationPlan& p, const EventOptions& o,
              TimePoint now) {
    const Flow& to = *to_rt->flow;
    const Step& target = to.steps[static_cast<std::size_t>(p.step)];
    Record r = op.make(c, RecordType::migrated, now);
    r.actor = o.actor;
    r.channel = o.channel;
    r.data = Map{{"from", from.version}, {"to", to.version}, {"from_step", old_step}};
    r.message = fmt::format("version {} -> {}", from.version, to.version);
    if (old_step != target.name) r.message += fmt::format("; step {} -> {}", old_step, target.name);
    if (!p.dropped.empty()) r.message += fmt::format("; dropped fields: {}", fmt::join(p.dropped, ", "));
    op.commit(&c, std::move(r));
  }

  // SLAs carry by name: the customer was promised the old target, so it stays; an SLA only the
  // new version has starts counting now.
  void carry_slas(Case& c, const FlowRt& from_rt, const std::vector<ClockState>& old, std::uint32_t gen, TimePoint now) {
    const Flow& from = *from_rt.flow;
    const Flow& to = *to_rt->flow;
    for (std::size_t j = 0; j < to.slas.size(); ++j) {
      const Sla& sla = to.slas[j];
      ClockState& k = c.clocks[j];
      auto it = std::find_if(from.slas.begin(), from.slas.end(), [&](const Sla& s) { return s.name == sla.name; });
      if (it == from.slas.end()) {
        if (to_rt->sla_start[j].empty()) start_sla(c, j, now);  // a `start_in:` one starts when the case gets there
        continue;
      }
      k = old[static_cast<std::size_t>(it - from.slas.begin())];
      k.gen = gen;
      k.index = static_cast<std::int32_t>(j);
      if (k.cal) k.cal = same_calendar(from_rt, *to_rt, k.cal);
      k.rungs.resize(sla.escalate.size());
      clamp_level(k);
    }
  }

  // The current step's deadline across a version change, by the new deadline's `on_change`:
  // keep the due time, recompute it from the step's entry with the new rule, or carry the time
  // already used (business time on the new calendar). Levels already fired stay fired.
  void carry_deadline(Case& c, const FlowRt& from_rt, const ClockState& old, TimePoint now) {
    const Step& s = c.current();
    if (!s.deadline) return;
    const bool had = old.active && old.visit == c.visit;
    ClockState& k = c.clocks[c.deadline_clock()];
    const ReschedulePolicy policy = had ? s.deadline->on_change : ReschedulePolicy::recompute;
    if (policy == ReschedulePolicy::recompute || !old.running) {
      op.start_deadline(c, now, c.entered);
      if (had && k.active) {
        for (std::size_t i = 0; i < std::min(k.rungs.size(), old.rungs.size()); ++i) k.rungs[i] = old.rungs[i];
        k.level = old.level;
        clamp_level(k);
        k.done = old.done && due_instant(k) <= now;  // an expiry already handled is not handled again
        op.schedule(c, c.deadline_clock());
      }
      return;
    }
    const TimePoint old_due = due_instant(old);
    const auto gen = k.gen;
    k = old;
    k.gen = gen;
    k.index = c.step;
    k.rungs.resize(s.deadline->escalate.size());
    clamp_level(k);
    const Calendar* cal = c.rt->calendar(s.deadline->calendar);
    if (policy == ReschedulePolicy::keep) {
      retime(k, policy, cal ? cal : (old.cal ? same_calendar(from_rt, *c.rt, old.cal) : nullptr), nullptr, false, now);
    } else {
      retime(k, policy, cal, nullptr, s.deadline->within && s.deadline->within->is_business() && cal, now);
    }
    if (due_instant(k) != old_due) op.record_deadline(c, k, now);
  }

  // The stage deadline across a version change: kept when the case stays in a stage of the same
  // name that still has one, else started afresh (the stage is new to the case).
  // Called when the case stays in a stage of the same name.
  void carry_stage(Case& c, const FlowRt& from_rt, const std::vector<ClockState>& old, TimePoint now) {
    const Flow& from = *from_rt.flow;
    const Stage* st = c.flow().stage_of(c.step);  // moving on from a migrated step may have left it
    if (!st || !st->deadline || !c.has_stage_clock()) return;
    const auto index = static_cast<std::int32_t>(st - c.flow().stages.data());
    const std::size_t at = from.slas.size() + 2;
    if (old.size() > at && old[at].active && old[at].kind == ClockKind::stage &&
        from.stages[static_cast<std::size_t>(old[at].index)].name == st->name) {
      ClockState& k = c.clocks[c.stage_clock()];
      const auto gen = k.gen;
      k = old[at];
      k.gen = gen;
      k.index = index;
      k.rungs.resize(st->deadline->escalate.size());
      clamp_level(k);
      if (k.cal) k.cal = same_calendar(from_rt, *c.rt, k.cal);
      return;
    }
    op.start_stage_deadline(c, index, now);  // the stage had no deadline in the old version
  }

  // The stage across a version change: one of the same name goes on (its running deadline kept);
  // otherwise the old stage is left and the new one entered, as a move between them would.
  void change_stage(Case& c, const Stage* old_stage, const Stage* new_stage, bool stay, TimePoint now) {
    if (!new_stage || (old_stage && old_stage->name == new_stage->name) || !stay) return;  // move_to enters it
    Record r = op.make(c, RecordType::stage_entered, now);
    r.target = new_stage->name;
    op.commit(&c, std::move(r));
    const auto index = static_cast<std::int32_t>(new_stage - c.flow().stages.data());
    if (new_stage->deadline && c.has_stage_clock())
      op.guarded(c, now, [&] { return fmt::format("entering stage '{}'", new_stage->name); },
                 [&] { op.start_stage_deadline(c, index, now); });
  }

  void move(MigrationPlan& p, const EventOptions& o, TimePoint now) {
    Case& c = *p.c;
    FlowRt* from_rt = c.rt;
    const Flow& from = *from_rt->flow;
    const Flow& to = *to_rt->flow;
    const std::string old_step = c.current().name;
    // A step of the same kind is stayed in: its clocks carry over. A step of another kind
    // cannot be (a wait needs its timer, an action its call): the case leaves and enters it.
    const bool stay = to.steps[static_cast<std::size_t>(p.step)].kind == c.current().kind;
    const Stage* old_stage = from.stage_of(c.step);
    const Stage* new_stage = to.stage_of(p.step);
    const bool same_stage = old_stage && new_stage && old_stage->name == new_stage->name;
    if (!stay) op.leave(c, now);
    if (old_stage && !same_stage) {
      Record r = op.make(c, RecordType::stage_left, now);
      r.target = old_stage->name;
      op.commit(&c, std::move(r));
    }
    op.touch(c);
    std::vector<ClockState> old = std::move(c.clocks);
    std::uint32_t gen = 0;
    for (const auto& k : old) gen = std::max(gen, k.gen);
    ++gen;  // every timer queued for the old layout is stale from here on
    c.rt = to_rt;
    c.step = p.step;
    c.join_step = p.join_step;
    c.data = std::move(p.data);
    c.fork_data = std::move(p.fork_data);
    c.clocks.assign(to_rt->clock_count, ClockState{});
    for (auto& k : c.clocks) k.gen = gen;
    record(c, from, old_step, p, o, now);
    carry_slas(c, *from_rt, old, gen, now);
    if (!stay) {
      c.step = -1;
      // Enters: role, hooks, deadline, timer or call; a stage of the same name is not entered again.
      op.move_to(c, p.step, now, same_stage ? static_cast<std::int32_t>(new_stage - to.stages.data()) : -1);
      if (same_stage) carry_stage(c, *from_rt, old, now);
    } else {
      carry_deadline(c, *from_rt, old[from.slas.size()], now);
      const ClockState& timer = old[from.slas.size() + 1];
      if (timer.active && timer.visit == c.visit) {
        c.clocks[c.timer_clock()] = timer;
        c.clocks[c.timer_clock()].gen = gen;
      }
      op.update_slas(c, now);  // the new version may pause or stop an SLA in this step
      if (same_stage) carry_stage(c, *from_rt, old, now);
      else change_stage(c, old_stage, new_stage, stay, now);
    }
    for (std::size_t i = 0; i < c.clocks.size(); ++i)
      if (c.clocks[i].active) op.schedule(c, i);
  }
};

std::size_t Op::migrate(const Migration& mig, const EventOptions& o, TimePoint now) {
  FlowRt* to_rt = m.flows.find(mig.flow, mig.to);
  if (!to_rt) {
    if (!m.flows.find(mig.flow, 0)) throw EventError(Refusal::unknown_flow, fmt::format("unknown flow '{}'", mig.flow));
    throw EventError(Refusal::unknown_flow, fmt::format("flow '{}' version {} is not loaded; load it before migrating cases to it", mig.flow, mig.to));
  }
  if (m.shared() && mig.cases.empty()) {
    load_open_cases([&](std::string_view flow) { return flow == mig.flow; });
  } else if (m.shared()) {
    for (const auto& id : mig.cases)
      if (!m.cases.contains(id)) (void)load_family(id);
  }
  Migrator mg{*this, mig, to_rt, {}};
  auto chosen = mg.choose();
  mg.check_mapping(chosen);
  std::vector<MigrationPlan> plans;
  for (Case* c : chosen)
    if (auto p = mg.plan(c)) plans.push_back(std::move(*p));
  mg.refuse_if_problems();
  for (auto& p : plans) {
    own(*p.c);
    mg.move(p, o, now);
  }
  return plans.size();
}

// Replaces a calendar in every flow that has it; running clocks on it follow their policy.
std::size_t Op::update_calendar(const CalendarSpec& spec, TimePoint now) {
  auto fresh = std::make_shared<Calendar>(spec);  // throws for a bad zone or no working time
  std::size_t flows_changed = 0;
  std::vector<std::unique_ptr<Calendar>> retired;  // old calendars live until every clock moved off them
  if (m.shared())
    load_open_cases([&](std::string_view flow) {
      for (const auto& rt : m.flows.all())
        if (rt->flow->id == flow && rt->calendars.contains(spec.name)) return true;
      return false;
    });
  const auto cases = m.cases.in_order();
  for (const auto& rtp : m.flows.all()) {
    FlowRt& rt = *rtp;
    auto it = rt.calendars.find(spec.name);
    if (it == rt.calendars.end()) continue;
    ++flows_changed;
    const Calendar* old_cal = it->second.get();
    auto replacement = std::make_unique<Calendar>(*fresh);
    const Calendar* new_cal = replacement.get();
    for (Case* cp : cases) {
      Case& c = *cp;
      if (c.rt != &rt || !c.open()) continue;
      for (std::size_t i = 0; i < c.clocks.size(); ++i) {
        ClockState& k = c.clocks[i];
        if (!k.active || k.cal != old_cal || k.kind == ClockKind::timer) continue;
        own(c);
        // A clock that cannot be counted on the new calendar (no working time left, past year
        // 9999) puts its case into an incident; the other cases and the update carry on.
        bool moved = false;
        guarded(c, now, [&] { return fmt::format("calendar '{}' changed", spec.name); }, [&] {
          ReschedulePolicy policy = ReschedulePolicy::carry;
          const DurationSpec* rule = nullptr;
          if (const Deadline* d = deadline_of(c, k)) {
            const Deadline& dl = *d;
            if (!dl.within) {  // an `at:` due time is absolute: only its `after:` levels move
              k.cal = new_cal;
              schedule(c, i);
              moved = true;
              return;
            }
            policy = dl.on_change;
            rule = &*dl.within;
          }
          const TimePoint old_due = k.running ? due_instant(k) : TimePoint{};
          retime(k, policy, new_cal, rule, k.business, now);
          if (k.running && due_instant(k) != old_due) {
            Record r = make(c, RecordType::deadline_set, now);
            r.due = due_instant(k);
            if (k.kind == ClockKind::sla) r.target = c.flow().slas[static_cast<std::size_t>(k.index)].name;
            if (k.kind == ClockKind::stage) r.target = "stage:" + c.flow().stages[static_cast<std::size_t>(k.index)].name;
            r.message = fmt::format("calendar '{}' changed", spec.name);
            commit(&c, std::move(r));
          }
          schedule(c, i);
          moved = true;
        });
        // A clock that failed stops: views and snapshots must not count it on either calendar.
        if (!moved) k.active = k.running = false;
      }
    }
    if (rt.default_cal == old_cal) rt.default_cal = new_cal;
    retired.push_back(std::move(it->second));
    it->second = std::move(replacement);
  }
  return flows_changed;
}

}  // namespace escalon::detail
