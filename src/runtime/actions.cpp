// Host actions (`call:` steps and hooks). A handler runs with the engine lock released, so it
// may take its time and call the engine again. Its case stays with the calling unit meanwhile:
// another thread's call to that case waits until the unit commits, and a call the handler makes
// itself joins the unit (see the call boundary in engine.cpp).

#include "runtime/core.hpp"

namespace escalon::detail {

HandlerScope& handler_scope() {
  thread_local HandlerScope scope;
  return scope;
}

void Op::run_jobs() {
  while (u.next_job < u.jobs.size()) {
    Job j = std::move(u.jobs[u.next_job++]);  // moved out: running it may queue more jobs
    if (j.child)
      resume_parent(j);
    else
      run_job(j);
  }
  u.jobs.clear();
  u.next_job = 0;
}

namespace {
// Why a handler's results cannot be applied any more, or empty when they can.
std::string moved_on(const Case& c, const Job& j) {
  if (c.visit == j.visit && (c.status == CaseStatus::active || j.hook)) return {};
  if (!c.open()) return fmt::format("the case is {}", case_status_name(c.status));
  if (c.status == CaseStatus::incident) return "the case has an incident";
  return fmt::format("the case moved on to step '{}'", c.current().name);
}

// ActionContext::key: the same when a call lost in a crash is applied again (the case's stored
// visit count has not moved), different for every other call of the action.
std::string call_key(const Case& c, const Step& s, const Job& j, const std::string& name) {
  std::string where = "step";
  if (j.hook) {
    const auto in = [&](const std::vector<Hook>& hooks) { return j.hook >= hooks.data() && j.hook < hooks.data() + hooks.size(); };
    where = in(s.on_enter) ? fmt::format("on_enter-{}", j.hook - s.on_enter.data())
                           : in(s.on_exit) ? fmt::format("on_exit-{}", j.hook - s.on_exit.data()) : "hook";
  }
  return fmt::format("{}/{}/{}/{}:{}/{}", c.id, j.visit, s.name, where, name, j.attempt);
}
}  // namespace

// Runs the handler with the lock released; returns why it failed (empty: it did not).
std::string Op::call_handler(const ActionHandler& handler, ActionContext& ac, TimePoint at) {
  std::string error;
  const HandlerScope outer = handler_scope();
  handler_scope() = {&m, &u, outer.in_sink, at};
  ++m.handler_runs;
  lk.unlock();
  try {
    handler(ac);
  } catch (const std::exception& e) {
    error = e.what()[0] ? e.what() : "the handler failed";
  } catch (...) {
    error = "the handler threw a non-standard exception";
  }
  lk.lock();
  handler_scope() = outer;
  return error;
}

void Op::run_job(Job& j) {
  Case& c = *j.c;
  if (!moved_on(c, j).empty()) return;
  const Step& s = c.current();
  const std::string& name = j.hook ? j.hook->action : s.call;
  const auto& with = j.hook ? j.hook->with : s.with;
  ActionHandler handler;
  if (auto it = m.actions.find(name); it != m.actions.end()) handler = it->second;
  Map inputs, data;
  std::string error;
  try {
    Ctx x;
    fill(x, c, j.at, nullptr);
    for (const auto& a : with) inputs[a.field] = a.value.evaluate(x.ctx);
  } catch (const Error& e) {
    error = fmt::format("action '{}' inputs: {}", name, e.message());
  }
  for (std::size_t i = 0; i < c.data.size(); ++i) data[c.flow().data[i].name] = c.data[i];
  ActionContext ac(c.id, s.name, name, j.attempt, std::move(inputs), std::move(data), m.self, call_key(c, s, j, name));
  if (error.empty() && !handler) error = fmt::format("no handler is registered for action '{}' (Engine::on_action)", name);
  if (error.empty()) error = call_handler(handler, ac, j.at);
  // Only calls the handler made itself can have moved the case meanwhile (it belongs to this unit).
  if (const std::string why = moved_on(c, j); !why.empty()) {
    Record r = make(c, RecordType::action_failed, j.at);
    r.target = name;
    r.repeat = j.attempt;
    r.message = fmt::format("the result of action '{}' was discarded: {} while it ran", name, why);
    commit(&c, std::move(r));
    return;
  }
  std::vector<Change> changes;
  if (error.empty()) error = check_results(c, name, ac.results(), changes);
  if (error.empty()) {
    guarded(c, j.at, [&] { return fmt::format("after action '{}'", name); }, [&] {
      apply_changes(c, changes, j.at, engine_actor);
      if (!j.hook && c.status == CaseStatus::active) move_to(c, s.next_index, j.at);
    });
    return;
  }
  action_failed(c, j, name, error, static_cast<bool>(handler));
}

// The handler's results as changes of the case's data, or why they cannot be.
std::string Op::check_results(const Case& c, const std::string& name, const Map& results, std::vector<Change>& changes) {
  for (const auto& [k, v] : results)
    if (!c.flow().find_field(k))
      return fmt::format("action '{}' returned '{}', which is not a data field of flow '{}'", name, k, c.flow().id);
  try {
    require_valid("the result", results);
    changes = checked_changes(c.flow(), results);
  } catch (const Error& e) {  // DataError, or EventError from the text check
    return fmt::format("action '{}' result: {}", name, e.message());
  }
  return {};
}

// A failed attempt: retried with backoff, then `on_error`, then an incident (hooks: recorded only).
void Op::action_failed(Case& c, const Job& j, const std::string& name, const std::string& error, bool has_handler) {
  const Step& s = c.current();
  Record r = make(c, RecordType::action_failed, j.at);
  r.target = name;
  r.repeat = j.attempt;
  r.message = error;
  commit(&c, std::move(r));
  if (j.hook) return;
  if (j.attempt < s.retry.attempts && has_handler) {
    double delay = static_cast<double>(s.retry.backoff.count());
    for (int i = 1; i < j.attempt; ++i) delay *= s.retry.factor;
    const Duration d{static_cast<std::int64_t>(std::min(delay, static_cast<double>(s.retry.max_backoff.count())))};
    start_timer(c, TimerPurpose::retry, j.at + d, j.attempt + 1);
  } else if (s.on_error_index >= 0) {
    move_to(c, s.on_error_index, j.at);
  } else {
    raise_incident(c, j.at,
                   fmt::format("action '{}' failed after {} attempt{}: {}", name, j.attempt, j.attempt == 1 ? "" : "s",
                               error));
  }
}

// The body of Engine::resolve: an incident ends, the case goes on in `to_step` (empty: the
// failed step's `next`) with `data` applied.
void Op::resolve(std::string_view case_id, const Map& data, std::string_view to_step, const EventOptions& options,
                 TimePoint now) {
  Case& c = find(case_id, "resolve", options, now);
  if (replayed(c, "resolve", options, [&] { return detail::call_fingerprint("resolve", &data, to_step); }, now)) return;
  authorize(c, "resolve", options, now, m.options.access.repair, "repair", "resolve");
  if (c.status != CaseStatus::incident)
    reject(&c, case_id, "resolve", options, now, c.open() ? Refusal::wrong_state : Refusal::closed,
           fmt::format("case '{}' has no incident (it is {})", c.id, case_status_name(c.status)));
  std::int32_t target = c.current().next_index;
  if (!to_step.empty()) {
    target = c.flow().step_index(to_step);
    if (target < 0)
      reject(&c, case_id, "resolve", options, now, Refusal::bad_request,
             fmt::format("flow '{}' has no step '{}'", c.flow().id, to_step));
  }
  if (target < 0)
    reject(&c, case_id, "resolve", options, now, Refusal::bad_request,
           fmt::format("step '{}' has no `next`; say which step the case goes to", c.current().name));
  const auto checked = checked_changes(c, data, "resolve", options, now);
  c.status = CaseStatus::active;
  c.set_incident({});
  Record r = make(c, RecordType::resolved, now);
  r.actor = options.actor;
  r.channel = options.channel;
  r.target = c.flow().steps[static_cast<std::size_t>(target)].name;
  commit(&c, std::move(r));
  apply_changes(c, checked, now, options.actor, options.channel);
  move_to(c, target, now);
  remember_key();
}

}  // namespace escalon::detail
