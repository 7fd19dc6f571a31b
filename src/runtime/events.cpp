// Events and refused calls. Every check runs before anything changes: a refused call leaves
// one `rejected` record and the case as it was.

#include "base/suggest.hpp"
#include "runtime/core.hpp"
#include "runtime/views.hpp"

namespace escalon::detail {

void Op::reject(Case* c, std::string_view case_id, std::string_view event, const EventOptions& o, TimePoint at,
                Refusal code, std::string why, std::string reason) {
  Record r;
  if (c) r = make(*c, RecordType::rejected, at);
  r.type = RecordType::rejected;
  r.at = at;
  r.case_id = std::string(case_id);
  r.event = std::string(event);
  r.actor = o.actor;
  r.channel = o.channel;
  r.message = why;
  if (c) {
    // The call's key: a retry is refused the same way. Not for a permission refusal: the key
    // names the call, not who made it, and the same call by someone allowed must go through.
    if (code != Refusal::not_permitted) remember_key(code, why, reason);
    else keyed = {};
    commit(c, std::move(r));
    throw_refusal(code, why, std::move(reason));
  }
  // A call for an unknown case changes no case: with a store it leaves no trace there (an id
  // nobody used must not gain a history); without one it stays in the engine's journal.
  if (!m.store()) {
    r.seq = ++m.record_seq;
    if (m.options.journal_sink) m.options.journal_sink(r);
    if (m.options.keep_journal) m.journal.append(r, nullptr);
  }
  throw CaseError(why);
}

// The case a call names, taken for this unit. A closed case that left memory is read back from
// the store, so that a call to it is refused as before it left (and before a restart): with
// the same error and a `rejected` record; it leaves memory again when the unit commits.
Case& Op::find(std::string_view id, std::string_view event, const EventOptions& o, TimePoint at) {
  if (claimed && claimed->id == id) return *claimed;  // taken at the start of the call
  if (Case* c = claim(id)) return *c;
  if (m.store())
    if (auto sc = m.store()->find_case(id)) {
      LoadedCase l = load_stored(m, *sc);
      l.c->set_parent_id(std::move(l.parent));  // not linked: a closed case needs no family of its own
      Case& c = m.cases.add(std::move(l.c));
      own(c);
      return c;
    }
  reject(nullptr, id, event, o, at, Refusal::unknown_case, fmt::format("unknown case '{}'", id));
}

// The payload must carry the step's form (`required`: an event that completes the step, see
// form_for), with the form's types: the converted payload, and the changes to data fields the
// form names. Other events of the step are converted too (their guards read `event.FIELD` with
// the form's types) but need not carry it.
Map Op::checked_form(Case& c, std::string_view event, const Map& payload, const EventOptions& o, TimePoint at,
                     std::vector<Change>& changes, bool required) {
  const Step& s = c.current();
  Map checked = payload;
  for (const auto& f : s.form) {
    auto it = checked.find(f.name);
    if (it == checked.end() || it->second.is_null()) {
      if (f.required && required)
        reject(&c, c.id, event, o, at, Refusal::bad_data,
               fmt::format("event '{}' must carry form field '{}' ({}) in step '{}'", event, f.name, f.type.str(), s.name));
      continue;
    }
    try {
      it->second = f.type.coerce(it->second, fmt::format("form field '{}'", f.name));
    } catch (const DataError& e) {
      reject(&c, c.id, event, o, at, Refusal::bad_data, e.message());
    }
    if (const DataField* d = c.flow().find_field(f.name))
      changes.push_back({static_cast<std::int32_t>(d - c.flow().data.data()), it->second});
  }
  return checked;
}

void Op::not_handled(Case& c, std::string_view event, const EventOptions& o, TimePoint at) {
  const Step& s = c.current();
  std::vector<std::string> handled;
  const auto add = [&](const std::vector<Transition>& on) {
    for (const auto& t : on)
      if (std::find(handled.begin(), handled.end(), t.event) == handled.end()) handled.push_back(t.event);
  };
  add(s.on);
  if (const Stage* stage = c.flow().stage_of(c.step)) add(stage->on);
  std::string hint = did_you_mean(event, handled);
  reject(&c, c.id, event, o, at, Refusal::not_handled,
         fmt::format("step '{}' of case '{}' does not handle event '{}'{}", s.name, c.id, event,
                     !hint.empty()     ? hint
                     : handled.empty() ? std::string("; it handles no events")
                                       : fmt::format("; it handles {}", fmt::join(handled, ", "))));
}

// Every guard for the event is false: the caller is told the designer's reasons, when the
// transitions give them (EventError::reason), else that no `when` holds.
void Op::guard_refused(Case& c, std::string_view event, const Candidates& candidates,
                       const EventOptions& o, TimePoint at) {
  std::vector<std::string_view> reasons;
  for (const Transition* t : candidates)
    if (!t->reason.empty() && std::find(reasons.begin(), reasons.end(), t->reason) == reasons.end())
      reasons.push_back(t->reason);
  const std::string& step = c.current().name;
  if (reasons.empty())
    reject(&c, c.id, event, o, at, Refusal::guard_refused,
           fmt::format("event '{}' in step '{}': no transition applies (every `when` is false)", event, step));
  reject(&c, c.id, event, o, at, Refusal::guard_refused,
         fmt::format("event '{}' in step '{}' refused: {}", event, step, fmt::join(reasons, "; ")),
         fmt::format("{}", fmt::join(reasons, "; ")));
}

void Op::apply_event(Case& c, std::string_view event, const Map& payload, const EventOptions& o, TimePoint at) {
  if (c.status != CaseStatus::active)
    reject(&c, c.id, event, o, at, c.status == CaseStatus::incident ? Refusal::incident : Refusal::closed,
           fmt::format("case '{}' is {}; it takes no events{}", c.id, case_status_name(c.status),
                       c.status == CaseStatus::incident ? " until the incident is retried or resolved" : ""));
  const Step& s = c.current();
  // The step's own transitions for the event win over its stage's.
  const Stage* stage = c.flow().stage_of(c.step);
  Candidates candidates;
  for (const auto& t : s.on)
    if (t.event == event) candidates.push_back(&t);
  const bool own = !candidates.empty();
  if (!own && stage)
    for (const auto& t : stage->on)
      if (t.event == event) candidates.push_back(&t);
  if (candidates.empty()) not_handled(c, event, o, at);
  authorize_event(c, event, candidates, o, at);
  std::vector<Change> changes;
  Map checked;
  // The form is the step's: its own completing events must carry it, its other events may; a
  // stage's events (cancel) know nothing of it.
  const bool form = own && !s.form.empty();
  if (form)
    checked = checked_form(c, event, payload, o, at, changes,
                           s.form_for.empty() || std::find(s.form_for.begin(), s.form_for.end(), event) != s.form_for.end());
  // Most events carry no payload: then `event` is an empty map that costs no allocation.
  static const Value empty_event{Map{}};
  const Value ev = payload.empty() ? empty_event : Value(form ? checked : payload);
  Ctx x;
  fill(x, c, at, &ev);
  // Guards and `set` see the values the form captured, as if already stored.
  std::vector<Value> tentative;
  if (!changes.empty()) {
    tentative = c.data;
    for (const auto& ch : changes) tentative[static_cast<std::size_t>(ch.slot)] = ch.value;
    x.ctx.fields = std::span<const Value>(tentative);
  }
  const Transition* chosen = nullptr;
  try {
    for (const Transition* t : candidates)
      if (t->when.test(x.ctx)) {
        chosen = t;
        break;
      }
    if (!chosen) guard_refused(c, event, candidates, o, at);
    auto more = changes_for(c, chosen->set, x.ctx);
    changes.insert(changes.end(), more.begin(), more.end());
  } catch (const EventError&) {
    throw;
  } catch (const Error& e) {
    // A guard or `set` that cannot be evaluated on this case's data refuses the event.
    reject(&c, c.id, event, o, at, Refusal::guard_refused,
           fmt::format("event '{}' in step '{}': {}", event, s.name, e.message()));
  }
  // Every check passed: apply.
  Record r = make(c, RecordType::event, at);
  r.event = std::string(event);
  r.actor = o.actor;
  r.channel = o.channel;
  if (!payload.empty()) r.data = ev;
  commit(&c, std::move(r));
  apply_changes(c, changes, at, o.actor, o.channel);
  if (chosen->target_index >= 0 && c.status == CaseStatus::active) move_to(c, chosen->target_index, at);
}

// Values for data fields from outside (start data, update, resolve, action results), checked
// and converted against the flow's schema. Throws DataError naming the field.
std::vector<Change> Op::checked_changes(const Flow& f, const Map& values) {
  std::vector<Change> out;
  for (const auto& [k, v] : values) {
    const DataField* field = f.find_field(k);
    if (!field) {
      std::vector<std::string> names;
      for (const auto& d : f.data) names.push_back(d.name);
      throw DataError(fmt::format("flow '{}' has no data field '{}'{}", f.id, k, did_you_mean(k, names)));
    }
    out.push_back({static_cast<std::int32_t>(field - f.data.data()), field->type.coerce(v, k)});
  }
  return out;
}

// As checked_changes, but a failure is recorded as the case's `rejected` call.
std::vector<Change> Op::checked_changes(Case& c, const Map& values, std::string_view call, const EventOptions& o,
                                        TimePoint at) {
  try {
    return checked_changes(c.flow(), values);
  } catch (const DataError& e) {
    reject(&c, c.id, call, o, at, Refusal::bad_data, e.message());
  }
}

}  // namespace escalon::detail
