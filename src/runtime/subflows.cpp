// Cases that start cases: new cases, sub-flow cases, and parallel branches (child cases of the
// same flow that merge their changes back at the join).

#include <charconv>

#include "base/suggest.hpp"
#include "runtime/core.hpp"

namespace escalon::detail {

namespace {
constexpr int max_subflow_depth = 8;

// "FLOW-N", the id of a case started without one: made for every such start, so without fmt.
std::string numbered_id(std::string_view flow, std::uint64_t n) {
  char digits[24];
  const auto end = std::to_chars(digits, digits + sizeof digits, n).ptr;
  std::string id;
  id.reserve(flow.size() + 1 + static_cast<std::size_t>(end - digits));
  id.append(flow).append(1, '-').append(digits, end);
  return id;
}

// The case's data laid out for another version of its flow, by field name (fields the other
// version lacks are left out, new ones are null). Used where expressions compiled against one
// version read a case running another.
std::vector<Value> by_name(const Flow& from, const Flow& to, const std::vector<Value>& values) {
  std::vector<Value> out(to.data.size());
  for (std::size_t j = 0; j < to.data.size(); ++j)
    if (const DataField* old = from.find_field(to.data[j].name))
      out[j] = values[static_cast<std::size_t>(old - from.data.data())];
  return out;
}
}  // namespace

// Creates a case and runs it into its start step. Throws DataError / EventError for bad input
// before anything is created.
Case& Op::create_case(FlowRt* rt, const Map& data, std::string id, TimePoint now, const std::string& actor,
                      const std::string& channel, Case* parent) {
  const Flow& f = *rt->flow;
  std::vector<Value> values(f.data.size());
  for (auto& ch : checked_changes(f, data)) values[static_cast<std::size_t>(ch.slot)] = std::move(ch.value);
  for (std::size_t i = 0; i < f.data.size(); ++i) {
    if (values[i].is_null() && f.data[i].default_value) values[i] = *f.data[i].default_value;
    if (values[i].is_null() && f.data[i].required)
      throw DataError(fmt::format("flow '{}' needs '{}' ({}) to start a case", f.id, f.data[i].name, f.data[i].type.str()));
  }
  // A closed case may have left memory: the store knows every id ever used.
  const auto used = [&](const std::string& x) { return m.cases.contains(x) || (m.store() && m.store()->find_case(x)); };
  if (id.empty() && m.shared()) {
    do id = numbered_id(f.id, m.store()->next_case_number(f.id));  // unique across the engines
    while (used(id));
  } else if (id.empty()) {
    std::uint64_t& counter = m.cases.counters[f.id];
    do id = numbered_id(f.id, ++counter);
    while (used(id));
    u.counters_changed = true;
  } else if (used(id)) {
    throw EventError(Refusal::duplicate_id, fmt::format("a case with id '{}' already exists", id));
  }
  auto fresh = std::make_unique<Case>();
  fresh->id = id;
  fresh->rt = rt;
  fresh->data = std::move(values);
  fresh->started = now;
  fresh->clocks.resize(rt->clock_count);
  if (parent) {
    fresh->parent = parent;
    fresh->parent_visit = parent->visit;
    fresh->depth = parent->depth + 1;
    parent->children.push_back(id);
  }
  Case& c = m.cases.add(std::move(fresh));
  own(c);
  Record r = make(c, RecordType::started, now);
  r.actor = actor;
  r.channel = channel;
  r.target = f.id;
  Map start_data;
  for (std::size_t i = 0; i < f.data.size(); ++i)
    if (!c.data[i].is_null()) start_data[f.data[i].name] = c.data[i];
  r.data = Value(std::move(start_data));
  r.message = parent ? fmt::format("version {}, sub-flow of case '{}' (step '{}')", f.version, parent->id,
                                   parent->current().name)
                     : "version " + std::to_string(f.version);
  commit(&c, std::move(r));
  // An SLA whose length cannot be counted (its calendar has no working time left, it would end
  // after year 9999) puts the new case into an incident; the call and other cases carry on.
  for (std::size_t i = 0; i < f.slas.size() && c.status == CaseStatus::active; ++i)
    if (rt->sla_start[i].empty())  // `start_in:` SLAs start when the case gets there (update_slas)
      guarded(c, now, [&] { return fmt::format("starting SLA '{}'", f.slas[i].name); }, [&] { start_sla(c, i, now); });
  move_to(c, f.start_index, now);
  return c;
}

// Sets up SLA `i` counting from `at`; not running yet: the current step decides (pause_in, role).
void start_sla(Case& c, std::size_t i, TimePoint at) {
  const Sla& sla = c.flow().slas[i];
  ClockState& k = c.clocks[i];
  k.kind = ClockKind::sla;
  k.index = static_cast<std::int32_t>(i);
  k.cal = c.rt->calendar(sla.calendar);
  k.business = sla.within.is_business() && k.cal;
  k.total = clockmath::total_for(sla.within, k.cal, at);
  k.started = k.since = at;
  k.rungs.resize(sla.escalate.size());
  k.active = true;
  k.running = false;
}

std::string Op::unique_child_id(const Case& parent, std::string_view name) const {
  std::string id = fmt::format("{}/{}", parent.id, name);
  for (int n = 2; m.cases.contains(id) || (m.store() && m.store()->find_case(id)); ++n)
    id = fmt::format("{}/{}-{}", parent.id, name, n);
  return id;
}

void Op::start_branches(Case& c, TimePoint at) {
  const Step& s = c.current();
  c.arrivals = 0;
  for (std::size_t i = 0; i < s.parallel_index.size(); ++i) {
    auto fresh = std::make_unique<Case>();
    fresh->id = unique_child_id(c, s.parallel[i]);
    fresh->rt = c.rt;
    fresh->data = c.data;
    fresh->fork_data = c.data;
    fresh->started = at;
    fresh->clocks.resize(c.clocks.size());
    fresh->parent = &c;
    fresh->parent_visit = c.visit;
    fresh->depth = c.depth;
    fresh->join_step = s.join_index;
    c.children.push_back(fresh->id);
    Case& b = m.cases.add(std::move(fresh));
    own(b);
    Record r = make(b, RecordType::started, at);
    r.actor = engine_actor;
    r.channel = "parallel";
    r.target = c.flow().id;
    r.message = fmt::format("branch '{}' of case '{}' (step '{}')", s.parallel[i], c.id, s.name);
    commit(&b, std::move(r));
    move_to(b, s.parallel_index[i], at, s.stage);  // inside the parent's stage: not entered again
    if (c.status != CaseStatus::active || c.step < 0 || c.current().kind != StepKind::parallel) return;
  }
}

// A branch reached its join step.
void Op::arrive(Case& b, TimePoint at) {
  b.status = CaseStatus::completed;
  for (std::size_t i = 0; i < b.clocks.size(); ++i) stop_clock(b, i);
  Record r = make(b, RecordType::completed, at);
  r.target = "joined";
  r.message = fmt::format("arrived at join '{}'", b.flow().steps[static_cast<std::size_t>(b.join_step)].name);
  commit(&b, std::move(r));
  tell_parent(b, at, {});
}

void Op::branch_arrived(Case& parent, const Case& b, TimePoint at) {
  const Step& s = parent.current();
  std::vector<Change> changes;
  for (std::size_t i = 0; i < b.data.size(); ++i)
    if (!(b.data[i] == b.fork_data[i]) || b.data[i].kind() != b.fork_data[i].kind())
      changes.push_back({static_cast<std::int32_t>(i), b.data[i]});
  apply_changes(parent, changes, at, engine_actor, "parallel");
  ++parent.arrivals;
  const Step& join = parent.flow().steps[static_cast<std::size_t>(s.join_index)];
  const auto branches = static_cast<std::int32_t>(s.parallel.size());
  const bool met = join.join_mode == JoinMode::all   ? parent.arrivals >= branches
                   : join.join_mode == JoinMode::any ? parent.arrivals >= 1
                                                     : parent.arrivals >= join.join_n;
  if (!met) return;
  cancel_children(parent, at, fmt::format("join '{}' is complete", join.name));
  move_to(parent, s.join_index, at);
}

void Op::start_subflow(Case& c, TimePoint at) {
  const Step& s = c.current();
  if (c.depth >= max_subflow_depth) {
    raise_incident(c, at, fmt::format("sub-flows nest deeper than {} levels (step '{}')", max_subflow_depth, s.name));
    return;
  }
  // The child version the parent's `input:` and `output:` were compiled against.
  FlowRt* rt = m.flows.find(s.subflow, s.subflow_version);
  if (!rt) {
    raise_incident(c, at,
                   s.subflow_version ? fmt::format("sub-flow '{}' version {} of step '{}' is not loaded", s.subflow,
                                                   s.subflow_version, s.name)
                                     : fmt::format("sub-flow '{}' of step '{}' is not loaded", s.subflow, s.name));
    return;
  }
  guarded(c, at, [&] { return fmt::format("sub-flow '{}' could not start", s.subflow); }, [&] {
    Ctx x;
    fill(x, c, at, nullptr);
    Map input;
    for (const auto& a : s.input) input[a.field] = a.value.evaluate(x.ctx);
    create_case(rt, input, unique_child_id(c, s.name), at, engine_actor, "subflow", &c);
  });
}

// A sub-flow case ended (failure empty: completed); its parent resumes after this step.
void Op::tell_parent(Case& c, TimePoint at, std::string failure) {
  if (!c.parent) return;
  u.jobs.push_back({.c = c.parent, .visit = c.parent_visit, .attempt = 0, .at = at, .child = &c,
                    .failure = std::move(failure)});
}

void Op::resume_parent(const Job& j) {
  Case& parent = *j.c;
  const Case& child = *j.child;
  if (parent.visit != j.visit || parent.status != CaseStatus::active) return;
  if (parent.current().kind == StepKind::parallel) {
    if (j.failure.empty())
      branch_arrived(parent, child, j.at);
    else
      raise_incident(parent, j.at, j.failure);
    return;
  }
  if (parent.current().kind != StepKind::subflow) return;
  const Step& s = parent.current();
  if (!j.failure.empty()) {
    if (s.on_failure_index < 0) {
      raise_incident(parent, j.at, j.failure);
      return;
    }
    Record r = make(parent, RecordType::event, j.at);
    r.event = "subflow-failed";
    r.actor = engine_actor;
    r.message = j.failure;
    commit(&parent, std::move(r));
    move_to(parent, s.on_failure_index, j.at);
    return;
  }
  bool ok = false;
  guarded(parent, j.at, [&] { return fmt::format("sub-flow '{}' output", s.subflow); }, [&] {
    // `output:` was compiled against the pinned child version; a child migrated to another
    // version is read by field name.
    const FlowRt* pinned = s.subflow_version ? m.flows.find(s.subflow, s.subflow_version) : nullptr;
    std::vector<Value> remapped;
    Ctx x;
    fill(x, child, j.at, nullptr);
    if (pinned && pinned != child.rt) {
      remapped = by_name(child.flow(), *pinned->flow, child.data);
      x.ctx.fields = std::span<const Value>(remapped);
    }
    if (!x.ctx.case_info) {  // the parent's `output:` may read the child's case.* even if the child's flow never does
      x.info = case_info(child);
      x.ctx.case_info = &x.info;
    }
    std::vector<Change> changes;
    for (const auto& a : s.output) {
      const DataField* f = parent.flow().find_field(a.field);
      changes.push_back({static_cast<std::int32_t>(f - parent.flow().data.data()),
                         f->type.coerce(a.value.evaluate(x.ctx), a.field)});
    }
    apply_changes(parent, changes, j.at, engine_actor, "subflow");
    ok = true;
  });
  if (ok) move_to(parent, s.next_index, j.at);
}

void Op::cancel_children(Case& c, TimePoint at, const std::string& reason) {
  for (const auto& id : c.children) {
    Case* child = m.cases.find(id);
    if (child && child->open()) cancel_case(*child, at, reason, EventOptions{.actor = engine_actor, .channel = "subflow"});
  }
}

}  // namespace escalon::detail
