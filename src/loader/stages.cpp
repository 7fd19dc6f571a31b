// FlowBuilder: `stages:`, named groups of steps whose transitions and deadline apply in every
// step of the group. A stage is read after the step names and before the step bodies, so a
// step's own checks (a task step needs a way out) know the stage it is in.
//
// Stages do not nest: a step is in one stage at most. With nesting, "which `on:` wins" would
// need an order over several stages, a stage deadline would run inside another one's, and the
// time a report gives a stage would no longer add up to the case's time. Two levels are
// still expressible: a stage for the outer phase, and a step's own `on:` and `deadline:`.

#include <fmt/format.h>

#include <algorithm>

#include "loader/builder.hpp"
#include "base/suggest.hpp"

namespace escalon::detail {

void FlowBuilder::stages(const YAML::Node& n) {
  MapReader m(rep_, src_, n, "`stages`", std::vector<std::string>{});
  if (!m.ok()) return;
  for (const auto& [k, v] : m.entries()) {
    Stage st;
    st.name = k.Scalar();
    st.where = loc(k);
    if (!is_kebab_id(st.name)) {
      rep_.error(loc(k), fmt::format("stage name '{}' must be lowercase letters, digits and '-' (e.g. before-repair)", st.name));
      continue;
    }
    if (flow_.step_index(st.name) >= 0) {
      rep_.error(loc(k), fmt::format("stage '{}' has the name of a step; give it another name (`start_in:` and "
                                     "`pause_in:` name steps and stages alike)",
                                     st.name));
      continue;
    }
    MapReader sm(rep_, src_, v, fmt::format("stage '{}'", st.name), {"title", "description", "steps", "on", "deadline"});
    if (!sm.ok()) continue;
    if (auto t = sm.get("title")) st.title = read_string(rep_, src_, *t, "`title`").value_or("");
    if (auto t = sm.get("description")) st.description = read_string(rep_, src_, *t, "`description`").value_or("");
    stage_members(st, sm);
    const auto index = static_cast<std::int32_t>(flow_.stages.size());
    for (auto i : st.step_index) flow_.steps[static_cast<std::size_t>(i)].stage = index;
    if (auto o = sm.get("on")) {
      ExprEnv ev = env_;
      ev.event = Type::of(Type::Kind::map);  // a stage has no form: its events' fields are untyped
      st.on = transitions(*o, fmt::format("stage '{}'", st.name), ev);
    }
    if (auto d = sm.get("deadline")) {
      st.deadline = deadline(*d);
      if (st.deadline && !st.deadline->at.empty()) {
        rep_.error(st.deadline->where, fmt::format("the deadline of stage '{}' needs `within:`; an `at:` due time "
                                                   "belongs to a step's deadline",
                                                   st.name));
        st.deadline.reset();
      }
    }
    flow_.stages.push_back(std::move(st));
  }
}

void FlowBuilder::stage_members(Stage& st, const MapReader& sm) {
  auto list = sm.get("steps");
  if (!list) {
    rep_.error(sm.where(), fmt::format("stage '{}' needs `steps: [STEP, ...]`, the steps it applies in", st.name));
    return;
  }
  for (auto& [name, node] : read_string_list(rep_, src_, *list, "`steps`")) {
    const auto idx = step_ref_named(name, loc(node), fmt::format("stage '{}'", st.name));
    if (idx < 0) continue;
    const Step& s = flow_.steps[static_cast<std::size_t>(idx)];
    if (s.stage >= 0) {
      rep_.error(loc(node), fmt::format("step '{}' is already in stage '{}'; a step is in one stage at most (stages "
                                        "do not overlap or nest)",
                                        name, flow_.stages[static_cast<std::size_t>(s.stage)].name));
      continue;
    }
    if (std::find(st.step_index.begin(), st.step_index.end(), idx) != st.step_index.end()) {
      rep_.error(loc(node), fmt::format("step '{}' is listed twice in stage '{}'", name, st.name));
      continue;
    }
    st.steps.push_back(name);
    st.step_index.push_back(idx);
  }
  if (st.steps.empty() && list->IsSequence() && list->size() == 0)
    rep_.error(loc(*list), fmt::format("stage '{}' lists no steps", st.name));
}

// Once the step bodies are read: the kinds of the members, and stage events no member leaves
// to the stage.
void FlowBuilder::check_stages() {
  for (const auto& st : flow_.stages) {
    for (std::size_t i = 0; i < st.step_index.size(); ++i) {
      const Step& s = flow_.steps[static_cast<std::size_t>(st.step_index[i])];
      if (s.kind == StepKind::end)
        rep_.error(st.where, fmt::format("end step '{}' cannot be in stage '{}': a case there is closed and takes no "
                                         "events; list only the steps the stage applies in",
                                         s.name, st.name));
    }
    std::vector<std::string> seen;
    for (const auto& t : st.on) {
      if (std::find(seen.begin(), seen.end(), t.event) != seen.end()) continue;
      seen.push_back(t.event);
      const bool overridden = !st.step_index.empty() && std::all_of(st.step_index.begin(), st.step_index.end(), [&](auto i) {
        const auto& on = flow_.steps[static_cast<std::size_t>(i)].on;
        return std::any_of(on.begin(), on.end(), [&](const Transition& x) { return x.event == t.event; });
      });
      if (overridden)
        rep_.warning(t.where, fmt::format("every step of stage '{}' handles event '{}' itself, so the stage's "
                                          "transition never applies",
                                          st.name, t.event));
    }
  }
}

// A name in `start_in:`, `pause_in:` or `stop_in:`: a step or a stage.
bool FlowBuilder::scope_ref(const std::string& name, const SourceLocation& where, std::string_view what) {
  if (flow_.step_index(name) >= 0 || flow_.find_stage(name)) return true;
  std::vector<std::string> names;
  for (const auto& s : flow_.steps) names.push_back(s.name);
  for (const auto& s : flow_.stages) names.push_back(s.name);
  std::string hint = did_you_mean(name, names);
  rep_.error(where, fmt::format("unknown step or stage '{}' in {}{}", name, what,
                                hint.empty() ? fmt::format("; the steps and stages are {}", name_list(names)) : hint));
  return false;
}

}  // namespace escalon::detail
