// FlowBuilder: `steps:`. A step's kind follows from its marker key (step_keys.hpp); each kind has
// its own function here. Also transitions (`on:`, decision branches) and hooks.

#include <fmt/format.h>

#include <algorithm>
#include <charconv>

#include "loader/builder.hpp"
#include "loader/step_keys.hpp"
#include "base/numbers.hpp"
#include "base/suggest.hpp"

namespace escalon::detail {
namespace {

using K = Type::Kind;

// Every key a step may have, in the table's order (the order "allowed here:" lists them).
const std::vector<std::string>& step_key_names() {
  static const std::vector<std::string> names = [] {
    std::vector<std::string> v;
    for (const auto& key : step_keys) v.emplace_back(key.name);
    return v;
  }();
  return names;
}

// The marker keys in the order they are looked for.
std::vector<const StepKey*> markers_in_order() {
  std::vector<const StepKey*> out;
  for (const auto& key : step_keys)
    if (key.marker != 0) out.push_back(&key);
  std::sort(out.begin(), out.end(), [](const StepKey* a, const StepKey* b) { return a->marker < b->marker; });
  return out;
}

}  // namespace

void FlowBuilder::steps(const YAML::Node& n, const std::optional<YAML::Node>& stage_node) {
  MapReader m(rep_, src_, n, "`steps`", std::vector<std::string>{});
  if (!m.ok()) return;
  if (m.entries().empty()) {
    rep_.error(loc(n), "`steps` is empty; a flow needs at least one step");
    return;
  }
  // Names first, so transitions can point forward.
  for (const auto& [k, v] : m.entries()) {
    Step s;
    s.name = k.Scalar();
    s.where = loc(k);
    if (!is_kebab_id(s.name))
      rep_.error(loc(k), fmt::format("step name '{}' must be lowercase letters, digits and '-' (e.g. order-parts)", s.name));
    flow_.steps.push_back(std::move(s));
  }
  if (stage_node) stages(*stage_node);
  std::size_t i = 0;
  for (const auto& [k, v] : m.entries()) step(flow_.steps[i++], v);
}

ExprEnv FlowBuilder::event_env(const Step& s) const {
  ExprEnv e = env_;
  Type ev = Type::of(K::map);
  if (!s.form.empty()) {
    auto fields = std::make_shared<std::map<std::string, Type, std::less<>>>();
    for (const auto& f : s.form) (*fields)[f.name] = f.type;
    ev.fields = std::move(fields);
  }
  e.event = ev;
  return e;
}

void FlowBuilder::step(Step& s, const YAML::Node& n) {
  if (n.IsNull()) {
    rep_.error(s.where, fmt::format("step '{}' is empty; give it `on:` events, `end: true`, or another kind", s.name));
    return;
  }
  MapReader m(rep_, src_, n, fmt::format("step '{}'", s.name), step_key_names());
  if (!m.ok()) return;
  if (!step_kind(s, m)) return;
  check_step_keys(s, m);
  common_step_keys(s, m);
  switch (s.kind) {
    case StepKind::task: task_step(s, m); break;
    case StepKind::action: action_step(s, m); break;
    case StepKind::decision: decision_step(s, m); break;
    case StepKind::wait: wait_step(s, m); break;
    case StepKind::subflow: subflow_step(s, m); break;
    case StepKind::parallel: parallel_step(s, m); break;
    case StepKind::join: join_step(s, m); break;
    case StepKind::end: end_step(s, m); break;
  }
}

// The kind follows from its marker key; `kind:` may say it explicitly. False when the step mixes
// the markers of two kinds.
bool FlowBuilder::step_kind(Step& s, const MapReader& m) {
  std::vector<std::string> found;
  for (const StepKey* key : markers_in_order()) {
    if (key->marker >= weak_marker && !found.empty()) continue;
    if (m.has(key->name)) {
      found.emplace_back(key->name);
      s.kind = marked_kind(*key);
    }
  }
  if (found.size() > 1) {
    rep_.error(loc(*m.get(found[1])), fmt::format("step '{}' mixes `{}` and `{}`; a step is of one kind (split it in two steps)",
                                                  s.name, found[0], found[1]));
    return false;
  }
  if (auto k = m.get("kind")) {
    std::vector<std::string> kinds;
    for (StepKind kind : step_kinds) kinds.emplace_back(step_kind_name(kind));
    auto v = read_string(rep_, src_, *k, "`kind`").value_or("");
    auto it = std::find(kinds.begin(), kinds.end(), v);
    if (it == kinds.end()) {
      rep_.error(loc(*k), fmt::format("unknown step kind '{}'; use one of {}", v, name_list(kinds)));
    } else if (found.empty() && *it != "task") {
      const StepKind named = step_kinds[it - kinds.begin()];
      rep_.error(loc(*k), fmt::format("a {} step needs `{}`", *it, marker_of(named).value_or("")));
    } else if (*it != step_kind_name(s.kind)) {
      rep_.error(loc(*k), fmt::format("`kind: {}` contradicts `{}`, which makes step '{}' a {}", *it, found[0], s.name,
                                      step_kind_name(s.kind)));
    }
  }
  return true;
}

// Keys that only some kinds use.
void FlowBuilder::check_step_keys(const Step& s, const MapReader& m) {
  for (const auto& [k, v] : m.entries()) {
    // Clang 14 cannot capture a structured binding; an init-capture names it.
    const auto key =
        std::find_if(step_keys.begin(), step_keys.end(), [&name = k.Scalar()](const StepKey& x) { return x.name == name; });
    if (key == step_keys.end() || (key->kinds & kind_bit(s.kind))) continue;
    if (s.kind == StepKind::end && key->outgoing)
      rep_.error(loc(k), fmt::format("end step '{}' cannot have outgoing transitions (`{}`); remove them, or remove "
                                     "`end: true` if the case goes on",
                                     s.name, k.Scalar()));
    else
      rep_.error(loc(k), fmt::format("key '{}' does not apply to {} step '{}'", k.Scalar(), step_kind_name(s.kind), s.name));
  }
}

// The keys several kinds share, read whatever the kind (a key that does not apply was reported).
void FlowBuilder::common_step_keys(Step& s, const MapReader& m) {
  if (auto v = m.get("title")) s.title = read_string(rep_, src_, *v, "`title`").value_or("");
  if (auto v = m.get("guide")) s.guide = read_string(rep_, src_, *v, "`guide`").value_or("");
  if (auto v = m.get("role")) {
    if (auto r = read_string(rep_, src_, *v, "`role`")) {
      s.role = *r;
      role_ref(*r, loc(*v), "`role`");
    }
  }
  if (auto v = m.get("assign")) {
    ExprEnv e = env_;
    e.expected = Type::of(K::string);
    s.assign = expr(*v, e, "`assign`");
  }
  if (auto v = m.get("form")) form(s, *v);
  const ExprEnv ev_env = event_env(s);
  if (auto v = m.get("on")) s.on = transitions(*v, fmt::format("step '{}'", s.name), ev_env);
  if (auto v = m.get("form_for")) form_events(s, *v);
  if (auto v = m.get("deadline")) s.deadline = deadline(*v);
  if (auto v = m.get("on_enter")) s.on_enter = hooks(*v, "`on_enter`");
  if (auto v = m.get("on_exit")) s.on_exit = hooks(*v, "`on_exit`");
  if (auto v = m.get("next")) {
    s.next_index = step_ref(*v, "`next`");
    if (s.next_index >= 0) s.next = v->Scalar();
  }
}

// A person works on it; `on:` events (or the deadline's `expire:`) move the case on.
void FlowBuilder::task_step(Step& s, const MapReader& m) {
  const Stage* stage = s.stage >= 0 ? &flow_.stages[static_cast<std::size_t>(s.stage)] : nullptr;
  const bool stage_exit = stage && (!stage->on.empty() || (stage->deadline && stage->deadline->expire_index >= 0));
  if (s.on.empty() && !m.has("on") && !s.deadline && !stage_exit)
    rep_.error(s.where, fmt::format("task step '{}' has no `on:` events, so a case could never leave it; add `on:`, "
                                    "or `end: true` if the case ends here",
                                    s.name));
}

// `call:` a host action `with:` inputs; `retry:`, then `on_error:` or an incident.
void FlowBuilder::action_step(Step& s, const MapReader& m) {
  auto c = read_string(rep_, src_, *m.get("call"), "`call`");
  if (c) {
    if (!is_action_name(*c)) rep_.error(loc(*m.get("call")), fmt::format("action name '{}' must be letters, digits, '.', '_' or '-'", *c));
    s.call = *c;
  }
  if (auto w = m.get("with")) s.with = assignments(src_, *w, env_, "`with`", false);
  if (auto r = m.get("retry")) retry(s, *r);
  if (auto e = m.get("on_error")) {
    s.on_error_index = step_ref(*e, "`on_error`");
    if (s.on_error_index >= 0) s.on_error = e->Scalar();
  }
  if (!m.has("next") && s.on.empty()) rep_.error(s.where, fmt::format("action step '{}' needs `next:` (where to go when the action succeeds)", s.name));
}

// `retry: { attempts, backoff, factor, max_backoff }`
void FlowBuilder::retry(Step& s, const YAML::Node& n) {
  MapReader rm(rep_, src_, n, "`retry`", {"attempts", "backoff", "factor", "max_backoff"});
  if (auto a = rm.get("attempts")) {
    auto v = read_int(rep_, src_, *a, "`attempts`");
    if (v && (*v < 1 || *v > 100)) rep_.error(loc(*a), "`attempts` must be between 1 and 100");
    else if (v) s.retry.attempts = static_cast<std::int32_t>(*v);
  }
  if (auto b = rm.get("backoff"))
    if (auto d = duration(src_, *b, "`backoff`")) {
      if (d->is_business()) rep_.error(loc(*b), "`backoff` must be wall time, e.g. 30s");
      else s.retry.backoff = d->length;
    }
  if (auto b = rm.get("max_backoff"))
    if (auto d = duration(src_, *b, "`max_backoff`")) s.retry.max_backoff = d->length;
  if (auto f = rm.get("factor")) {
    // Like the std::stod it replaces, this reads the number the text starts with.
    if (auto x = parse_c_number(f->Scalar())) {
      s.retry.factor = x->value;
      if (s.retry.factor < 1) rep_.error(loc(*f), "`factor` must be 1 or more");
    } else {
      rep_.error(loc(*f), "`factor` must be a number, e.g. 2");
    }
  }
}

// `decide:` branches in order, or the `to` output of a `rule:` table.
void FlowBuilder::decision_step(Step& s, const MapReader& m) {
  if (auto d = m.get("decide")) {
    if (m.has("rule")) rep_.error(loc(*m.get("rule")), "a decision uses either `decide:` branches or `rule:`, not both");
    if (!d->IsSequence() || d->size() == 0) {
      rep_.error(loc(*d), "`decide` must be a list of branches: - { to: STEP, when: EXPR }, the last one without `when`");
    } else {
      for (const auto& b : *d) {
        if (!rep_.count(src_, b)) break;
        auto t = transition(b, "", env_);
        if (t) s.branches.push_back(std::move(*t));
      }
      if (!s.branches.empty() && !s.branches.back().when.empty())
        rep_.warning(loc(d->operator[](d->size() - 1)),
                     fmt::format("decision '{}' has no default branch (one without `when`); a case that matches no "
                                 "branch stops with an incident",
                                 s.name));
    }
  } else {
    check_decision_rule(s, *m.get("rule"));
  }
}

void FlowBuilder::check_decision_rule(Step& s, const YAML::Node& n) {
  auto name = read_string(rep_, src_, n, "`rule`");
  if (!name) return;
  const RuleTable* t = flow_.find_rule(*name);
  if (!t) {
    std::vector<std::string> names;
    for (const auto& r : flow_.rules) names.push_back(r.name);
    std::string hint = did_you_mean(*name, names);
    rep_.error(loc(n), fmt::format("unknown rule table '{}'{}", *name, hint.empty() ? "; declare it under `rules:`" : hint));
    return;
  }
  used_rules_.insert(*name);
  s.rule = *name;
  auto out = std::find_if(t->outputs.begin(), t->outputs.end(), [](const RuleColumn& c) { return c.name == "to"; });
  if (out == t->outputs.end() || t->hit == HitPolicy::collect) {
    rep_.error(loc(n), fmt::format("rule table '{}' decides a step only with an output named `to` (the step) and hit "
                                   "policy first or unique",
                                   *name));
    return;
  }
  // As for `decide:` without a branch lacking `when`: a row of `-` in every input is the default.
  if (!partial_rules_.count(*name) && std::none_of(t->rows.begin(), t->rows.end(), [](const RuleRow& r) {
        return std::all_of(r.tests.begin(), r.tests.end(), [](const Expression& e) { return e.empty(); });
      }))
    rep_.warning(loc(n), fmt::format("decision '{}' has no default branch (rule table '{}' has no row of `-` in every "
                                     "input); a case that matches no row stops with an incident",
                                     s.name, *name));
  const std::size_t col = static_cast<std::size_t>(out - t->outputs.begin());
  for (const auto& row : t->rows) {
    if (col >= row.outputs.size()) continue;
    const auto& e = row.outputs[col];
    // Literal step names are checked now; computed ones when the decision runs.
    if (e.text().find_first_of("()+?") != std::string::npos) continue;
    std::string target = e.text();
    if (target.size() >= 2 && (target.front() == '\'' || target.front() == '"')) target = target.substr(1, target.size() - 2);
    if (flow_.step_index(target) < 0) step_ref_named(target, row.where, fmt::format("rule table '{}' (used by decision '{}')", *name, s.name));
  }
}

// `wait: { for: DURATION }` or `{ until: DATETIME-EXPRESSION }`, then `next:`.
void FlowBuilder::wait_step(Step& s, const MapReader& m) {
  MapReader wm(rep_, src_, *m.get("wait"), "`wait`", {"for", "until"});
  if (!wm.ok()) return;
  auto f = wm.get("for");
  auto u = wm.get("until");
  if ((f && u) || (!f && !u)) {
    rep_.error(wm.where(), "`wait` needs exactly one of `for: DURATION` or `until: DATETIME-EXPRESSION`");
    return;
  }
  if (f) {
    s.wait_for = duration(src_, *f, "`wait.for`");
    if (s.wait_for && s.wait_for->is_business()) calendar_ref("", loc(*f), true);
  } else {
    ExprEnv e = env_;
    e.expected = Type::of(K::datetime);
    s.wait_until = expr(*u, e, "`wait.until`");
  }
  if (!m.has("next")) rep_.error(s.where, fmt::format("wait step '{}' needs `next:` (where to go when the wait is over)", s.name));
}

// `subflow: { flow, input, output, on_failure }`; the child is resolved across flows (loader.cpp).
void FlowBuilder::subflow_step(Step& s, const MapReader& m) {
  MapReader sm(rep_, src_, *m.get("subflow"), "`subflow`", {"flow", "input", "output", "on_failure"});
  if (!sm.ok()) return;
  auto fl = sm.get("flow");
  if (!fl) {
    rep_.error(sm.where(), "`subflow` needs `flow: FLOW-ID`");
    return;
  }
  s.subflow = read_string(rep_, src_, *fl, "`subflow.flow`").value_or("");
  if (auto of = sm.get("on_failure")) {
    s.on_failure_index = step_ref(*of, "`on_failure`");
    if (s.on_failure_index >= 0) s.on_failure = of->Scalar();
  }
  // The id also names a file (`<id>.yaml` next to this one): anything but an id stops here.
  if (!s.subflow.empty() && !is_kebab_id(s.subflow)) {
    rep_.error(loc(*fl), fmt::format("sub-flow '{}' is not a flow id: ids are lowercase letters, digits and '-' (e.g. "
                                     "technician-visit)",
                                     s.subflow));
    s.subflow.clear();
  } else {
    pending_.push_back({&flow_, static_cast<std::size_t>(&s - flow_.steps.data()), &src_, *fl, sm.get("input"),
                        sm.get("output"), env_});
  }
  if (!m.has("next")) rep_.error(s.where, fmt::format("sub-flow step '{}' needs `next:` (where to go when the sub-flow ends)", s.name));
}

// `parallel: { branches: [STEP, ...], join: STEP }`
void FlowBuilder::parallel_step(Step& s, const MapReader& m) {
  MapReader pm(rep_, src_, *m.get("parallel"), "`parallel`", {"branches", "join"});
  if (!pm.ok()) return;
  if (auto b = pm.get("branches")) {
    auto list = read_string_list(rep_, src_, *b, "`branches`");
    if (list.size() < 2) rep_.error(loc(*b), "`branches` needs at least two steps to run in parallel");
    for (const auto& [name, node] : list) {
      auto idx = step_ref_named(name, loc(node), "`branches`");
      if (idx >= 0) { s.parallel.push_back(name); s.parallel_index.push_back(idx); }
    }
  } else {
    rep_.error(pm.where(), "`parallel` needs `branches: [STEP, STEP, ...]`");
  }
  if (auto j = pm.get("join")) {
    s.join_index = step_ref(*j, "`join`");
    if (s.join_index >= 0) {
      s.join = j->Scalar();
      // The join step may come later in the file: its kind is checked once all steps are read.
    }
  } else {
    rep_.error(pm.where(), "`parallel` needs `join: STEP` (a step with `join:` where the branches meet)");
  }
}

// `join: all | any | N`, then `next:`.
void FlowBuilder::join_step(Step& s, const MapReader& m) {
  const YAML::Node j = *m.get("join");
  const std::string v = j.IsScalar() ? j.Scalar() : "";
  std::int32_t n = 0;
  const bool digits = !v.empty() && v.size() < 4 && std::all_of(v.begin(), v.end(), [](char c) { return c >= '0' && c <= '9'; });
  if (digits) std::from_chars(v.data(), v.data() + v.size(), n);
  if (v == "all") s.join_mode = JoinMode::all;
  else if (v == "any") s.join_mode = JoinMode::any;
  else if (digits && n >= 1) {
    s.join_mode = JoinMode::n_of_m;
    s.join_n = n;
  } else {
    rep_.error(loc(j), "`join` must be all, any, or how many branches must arrive (e.g. 2)");
  }
  if (!m.has("next")) rep_.error(s.where, fmt::format("join step '{}' needs `next:` (where to go once the branches meet)", s.name));
}

// `end: true`, with an `outcome:` and `fail:`.
void FlowBuilder::end_step(Step& s, const MapReader& m) {
  auto e = read_bool(rep_, src_, *m.get("end"), "`end`");
  if (e && !*e) rep_.error(loc(*m.get("end")), "`end: false` means nothing; remove it (a step is a task unless it says otherwise)");
  if (auto o = m.get("outcome")) {
    s.outcome = read_string(rep_, src_, *o, "`outcome`").value_or("");
    if (!s.outcome.empty() && !is_kebab_id(s.outcome))
      rep_.error(loc(*o), fmt::format("outcome '{}' must be lowercase letters, digits and '-'", s.outcome));
  }
  if (auto f = m.get("fail")) s.fail = read_bool(rep_, src_, *f, "`fail`").value_or(false);
}

std::vector<Transition> FlowBuilder::transitions(const YAML::Node& n, const std::string& owner, const ExprEnv& env) {
  std::vector<Transition> out;
  MapReader m(rep_, src_, n, fmt::format("`on` of {}", owner), std::vector<std::string>{});
  for (const auto& [k, v] : m.entries()) {
    const std::string& ev = k.Scalar();
    if (!is_event_name(ev)) {
      rep_.error(loc(k), fmt::format("event name '{}' must be lowercase letters, digits, '-', '_' or '.'", ev));
      continue;
    }
    if (v.IsSequence()) {
      if (v.size() == 0) rep_.error(loc(v), fmt::format("event '{}' has an empty list of transitions", ev));
      for (const auto& t : v) {
        if (!rep_.count(src_, t)) break;
        if (auto tr = transition(t, ev, env)) out.push_back(std::move(*tr));
      }
      const auto first = out.end() - static_cast<std::ptrdiff_t>(std::count_if(out.begin(), out.end(), [&](auto& t) { return t.event == ev; }));
      for (auto it = first; it != out.end(); ++it)
        if (it->when.empty() && it + 1 != out.end())
          rep_.warning(it->where, fmt::format("transition without `when` for event '{}' always wins; the ones after it never run", ev));
    } else if (auto tr = transition(v, ev, env)) {
      out.push_back(std::move(*tr));
    }
  }
  return out;
}

std::optional<Transition> FlowBuilder::transition(const YAML::Node& n, const std::string& event, const ExprEnv& env) {
  Transition t;
  t.event = event;
  t.where = loc(n);
  if (n.IsScalar()) {
    t.target_index = step_ref(n, "`to`");
    if (t.target_index < 0) return std::nullopt;
    t.target = n.Scalar();
    return t;
  }
  MapReader m(rep_, src_, n, event.empty() ? "a `decide` branch" : fmt::format("transition of event '{}'", event),
              {"to", "when", "set", "reason", "allow", "description"});
  if (!m.ok()) return std::nullopt;
  if (auto to = m.get("to")) {
    t.target_index = step_ref(*to, "`to`");
    if (t.target_index >= 0) t.target = to->Scalar();
  } else if (event.empty()) {
    rep_.error(m.where(), "a `decide` branch needs `to: STEP`");
  }
  if (auto w = m.get("when")) {
    ExprEnv e = env;
    e.expected = Type::of(K::boolean);
    t.when = expr(*w, e, "`when`");
    if (t.when.empty()) return std::nullopt;  // reported; keeping it unguarded would mislead later checks
  }
  if (auto s = m.get("set")) t.set = assignments(src_, *s, env, "`set`", true);
  if (auto a = m.get("allow")) {
    if (event.empty()) rep_.error(loc(*a), "`allow` says who may send an event; a `decide` branch takes no event");
    for (auto& [r, node] : read_string_list(rep_, src_, *a, "`allow`")) {
      role_ref(r, loc(node), "`allow`");
      t.allow.push_back(r);
    }
  }
  if (auto r = m.get("reason")) {
    t.reason = read_string(rep_, src_, *r, "`reason`").value_or("");
    if (t.when.empty())
      rep_.warning(loc(*r), "`reason` is what the caller is told when `when` is false, but this transition has no `when`");
  }
  return t;
}

std::vector<Hook> FlowBuilder::hooks(const YAML::Node& n, std::string_view what) {
  std::vector<Hook> out;
  if (!n.IsSequence()) {
    rep_.error(loc(n), fmt::format("{} must be a list, e.g. - {{ call: crm.log }}", what));
    return out;
  }
  for (const auto& item : n) {
    if (!rep_.count(src_, item)) break;
    MapReader m(rep_, src_, item, fmt::format("an entry of {}", what), {"call", "with", "set", "notify", "message", "subject"});
    if (!m.ok()) continue;
    Hook h;
    h.where = m.where();
    const int kinds = int(m.has("call")) + int(m.has("set")) + int(m.has("notify"));
    if (kinds != 1) {
      rep_.error(m.where(), fmt::format("an entry of {} does one thing: `call`, `set` or `notify`", what));
      continue;
    }
    if (auto c = m.get("call")) {
      h.kind = Hook::Kind::call;
      h.action = read_string(rep_, src_, *c, "`call`").value_or("");
      if (auto w = m.get("with")) h.with = assignments(src_, *w, env_, "`with`", false);
    } else if (auto s = m.get("set")) {
      h.kind = Hook::Kind::set;
      h.with = assignments(src_, *s, env_, "`set`", true);
    } else {
      h.kind = Hook::Kind::notify;
      for (auto& [r, node] : read_string_list(rep_, src_, *m.get("notify"), "`notify`")) {
        role_ref(r, loc(node), "`notify`");
        h.notify.push_back(r);
      }
      if (auto msg = m.get("message")) h.body = message_template(*msg, "`message`", h.message);
      if (auto v = m.get("subject")) {
        std::string text;
        h.subject = message_template(*v, "`subject`", text);
      }
    }
    if (h.kind != Hook::Kind::call && m.has("with")) rep_.error(loc(*m.get("with")), "`with` goes with `call`");
    for (const char* key : {"message", "subject"})
      if (h.kind != Hook::Kind::notify && m.has(key))
        rep_.error(loc(*m.get(key)), fmt::format("`{}` goes with `notify`", key));
    out.push_back(std::move(h));
  }
  return out;
}

}  // namespace escalon::detail
