// Structural checks on the flow graph. Reachability from `start` is a breadth-first search;
// "can this step still end?" is a breadth-first search from every end step on the reversed
// graph; strongly connected components tell a closed loop from a plain dead end.

#include <boost/graph/breadth_first_search.hpp>
#include <boost/graph/reverse_graph.hpp>
#include <boost/graph/strong_components.hpp>
#include <fmt/format.h>
#include <algorithm>

#include <algorithm>

#include "escalon/graph.hpp"
#include "graph/flow_graph.hpp"

namespace escalon::detail {

namespace {
std::string rung_actions(const Escalation& e) {
  std::vector<std::string> parts;
  if (!e.notify.empty()) parts.push_back(fmt::format("notify {}", fmt::join(e.notify, ", ")));
  if (!e.reassign.empty()) parts.push_back(fmt::format("reassign {}", e.reassign));
  if (!e.priority.empty()) parts.push_back(fmt::format("priority {}", e.priority));
  for (const auto& s : e.set) parts.push_back(fmt::format("set {} = {}", s.field, s.value.text()));
  if (!e.emit.empty()) parts.push_back(fmt::format("emit {}", e.emit));
  if (!e.go_to.empty()) parts.push_back(fmt::format("goto {}", e.go_to));
  if (parts.empty()) parts.emplace_back("mark level");
  return fmt::format("{}", fmt::join(parts, ", "));
}
}  // namespace

std::string describe_rung(const Escalation& e, std::size_t level) {
  std::string when = e.anchor == Escalation::Anchor::share ? fmt::format("{:g}%", e.share * 100)
                                                           : fmt::format("+{}", e.offset.str());
  std::string out = fmt::format("L{} at {}: {}", level, when, rung_actions(e));
  if (e.repeat) out += fmt::format(", every {}", e.repeat->str());
  if (e.max) out += fmt::format(" (max {})", *e.max);
  return out;
}

std::string describe_deadline(const Deadline& d) {
  std::string out = d.within ? fmt::format("deadline {}", d.within->str()) : fmt::format("deadline at {}", d.at.text());
  if (!d.calendar.empty()) out += fmt::format(" ({})", d.calendar);
  return out;
}

namespace {

// One cell's test as people write it: the compiled text is "? > 730d", "? == 'web'" (a bare
// word), "? == (expr)", "? in [a, b]".
// "(a + b)" is wrapped in one pair of brackets, "(a) + (b)" is not.
bool bracketed(std::string_view v) {
  if (v.size() < 2 || v.front() != '(' || v.back() != ')') return false;
  int depth = 0;
  for (std::size_t i = 0; i < v.size(); ++i) {
    depth += v[i] == '(' ? 1 : v[i] == ')' ? -1 : 0;
    if (depth == 0 && i + 1 < v.size()) return false;
  }
  return true;
}

std::string cell_condition(const std::string& column, std::string_view test) {
  if (test.starts_with("? ")) test.remove_prefix(2);
  if (test.starts_with("== ") && test.size() > 4) {
    std::string_view v = test.substr(3);
    const bool wrapped = bracketed(v) || (v.front() == '\'' && v.back() == '\'' && v.find('\'', 1) == v.size() - 1);
    return fmt::format("{} = {}", column, wrapped ? v.substr(1, v.size() - 2) : v);
  }
  return fmt::format("{} {}", column, test);
}

// At most `limit` bytes, cut where a UTF-8 character starts, with "..." when cut.
std::string shorten(std::string s, std::size_t limit) {
  if (s.size() <= limit) return s;
  std::size_t cut = limit - 3;
  while (cut > 0 && (static_cast<unsigned char>(s[cut]) & 0xC0) == 0x80) --cut;
  return s.substr(0, cut) + "...";
}

}  // namespace

std::string rule_row_condition(const RuleTable& t, const RuleRow& row) {
  constexpr std::size_t limit = 48;
  std::string out;
  for (std::size_t i = 0; i < row.tests.size() && i < t.inputs.size(); ++i) {
    if (row.tests[i].empty()) continue;
    const std::string c = cell_condition(t.inputs[i].name, row.tests[i].text());
    if (out.empty()) {
      out = shorten(c, limit);
    } else if (out.size() + 2 + c.size() <= limit) {
      out += ", " + c;
    } else {  // the start of one more condition when there is room for a useful part of it
      const std::size_t room = out.size() + 2 < limit ? limit - out.size() - 2 : 0;
      out += room >= 12 ? ", " + shorten(c, room) : std::string(", ...");
      break;
    }
  }
  return out.empty() ? "otherwise" : out;
}

std::vector<std::string> describe_sla(const Sla& sla, const Flow& flow) {
  std::vector<std::string> lines{fmt::format("SLA {}: within {}", sla.name, sla.within.str())};
  const std::string& cal = sla.calendar.empty() && sla.within.is_business() ? flow.calendar : sla.calendar;
  if (!cal.empty()) lines.push_back(fmt::format("calendar {}", cal));
  if (!sla.start_in.empty()) lines.push_back(fmt::format("starts in {}", sla.start_in));
  if (!sla.role.empty()) lines.push_back(fmt::format("team clock: counts in {} steps", sla.role));
  if (!sla.pause_in.empty()) lines.push_back(fmt::format("paused in {}", fmt::join(sla.pause_in, ", ")));
  lines.push_back(sla.stop_in.empty() ? std::string("met at an end step") : fmt::format("met in {}", fmt::join(sla.stop_in, ", ")));
  if (sla.warn_at) lines.push_back(fmt::format("warning at {:g}%", *sla.warn_at * 100));
  for (std::size_t l = 0; l < sla.escalate.size(); ++l) lines.push_back(describe_rung(sla.escalate[l], l + 1));
  return lines;
}

bool names_step(const std::vector<std::string>& names, const Step& step, const Flow& flow) {
  for (const auto& n : names) {
    if (n == step.name) return true;
    for (const auto& st : flow.stages)  // a stage names each of its steps
      if (st.name == n && std::find(st.steps.begin(), st.steps.end(), step.name) != st.steps.end()) return true;
  }
  return false;
}

std::vector<std::string> sla_marks(const Step& step, const Flow& flow) {
  std::vector<std::string> out;
  for (const auto& sla : flow.slas) {
    if (names_step(sla.pause_in, step, flow)) out.push_back(fmt::format("SLA {} paused", sla.name));
    if (names_step(sla.stop_in, step, flow)) out.push_back(fmt::format("SLA {} met here", sla.name));
  }
  return out;
}

namespace {
// "submit [parts_needed]": the event and its guard.
std::string event_label(const Transition& t) {
  return t.when.empty() ? t.event : fmt::format("{} [{}]", t.event, t.when.text());
}
}  // namespace

// One per transition of the stage (in `on:` order, so index k is st.on[k]), then the deadline's
// expiry and its levels' moves.
std::vector<StageEdge> stage_edges(const Stage& st) {
  std::vector<StageEdge> out;
  for (const auto& t : st.on) {
    out.push_back({t.target_index, EdgeKind::event, event_label(t)});
  }
  if (!st.deadline) return out;
  out.push_back({st.deadline->expire_index, EdgeKind::expire, fmt::format("expire ({})", describe_deadline(*st.deadline))});
  for (std::size_t l = 0; l < st.deadline->escalate.size(); ++l)
    out.push_back({st.deadline->escalate[l].go_to_index, EdgeKind::escalation, describe_rung(st.deadline->escalate[l], l + 1)});
  return out;
}

FlowGraph build_flow_graph(const Flow& flow) {
  FlowGraph g(flow.steps.size());
  auto add = [&](std::size_t from, std::int32_t to, EdgeKind k, std::string label) {
    if (to >= 0) boost::add_edge(from, static_cast<std::size_t>(to), EdgeInfo{.kind = k, .label = std::move(label)}, g);
  };
  for (std::size_t i = 0; i < flow.steps.size(); ++i) {
    const Step& s = flow.steps[i];
    for (const auto& t : s.on) {
      add(i, t.target_index, EdgeKind::event, event_label(t));
    }
    for (const auto& b : s.branches) add(i, b.target_index, EdgeKind::branch, b.when.empty() ? "else" : b.when.text());
    if (!s.rule.empty())
      if (const RuleTable* t = flow.find_rule(s.rule)) {
        std::size_t col = 0;
        while (col < t->outputs.size() && t->outputs[col].name != "to") ++col;
        for (const auto& row : t->rows) {
          if (col >= row.outputs.size()) continue;
          std::string target = row.outputs[col].text();
          if (target.size() >= 2 && (target.front() == '\'' || target.front() == '"')) target = target.substr(1, target.size() - 2);
          add(i, flow.step_index(target), EdgeKind::branch, rule_row_condition(*t, row));
        }
      }
    add(i, s.next_index, EdgeKind::next, s.kind == StepKind::action ? "done" : "next");
    add(i, s.on_error_index, EdgeKind::error, "error");
    add(i, s.on_failure_index, EdgeKind::error, "failed");
    for (auto b : s.parallel_index) add(i, b, EdgeKind::parallel, "branch");
    if (s.deadline) {
      add(i, s.deadline->expire_index, EdgeKind::expire, fmt::format("expire ({})", describe_deadline(*s.deadline)));
      for (std::size_t l = 0; l < s.deadline->escalate.size(); ++l)
        add(i, s.deadline->escalate[l].go_to_index, EdgeKind::escalation, describe_rung(s.deadline->escalate[l], l + 1));
    }
  }
  // A stage's transitions and its deadline's moves leave from each of its steps, where the step
  // does not handle the event itself.
  for (std::size_t si = 0; si < flow.stages.size(); ++si) {
    const Stage& st = flow.stages[si];
    const auto edges = stage_edges(st);
    for (auto i : st.step_index) {
      const Step& s = flow.steps[static_cast<std::size_t>(i)];
      for (std::size_t k = 0; k < edges.size(); ++k) {
        const bool own = k < st.on.size() && std::any_of(s.on.begin(), s.on.end(), [&](const Transition& x) {
                           return x.event == st.on[k].event;
                         });
        if (own || edges[k].target < 0) continue;
        boost::add_edge(static_cast<std::size_t>(i), static_cast<std::size_t>(edges[k].target),
                        EdgeInfo{.kind = edges[k].kind, .label = edges[k].label, .stage = static_cast<std::int32_t>(si)}, g);
      }
    }
  }
  // SLA ladders can move a case from any step where the clock runs.
  for (const auto& sla : flow.slas)
    for (std::size_t l = 0; l < sla.escalate.size(); ++l)
      for (std::size_t i = 0; i < flow.steps.size(); ++i)
        if (flow.steps[i].kind != StepKind::end)
          add(i, sla.escalate[l].go_to_index, EdgeKind::escalation, fmt::format("SLA {} {}", sla.name, describe_rung(sla.escalate[l], l + 1)));
  return g;
}

namespace {

template <class Graph>
std::vector<bool> reached_from(const Graph& g, const std::vector<std::size_t>& sources) {
  const auto n = boost::num_vertices(g);
  std::vector<bool> seen(n, false);
  std::vector<boost::default_color_type> color(n, boost::white_color);
  auto cmap = boost::make_iterator_property_map(color.begin(), boost::get(boost::vertex_index, g));
  struct Visitor : boost::default_bfs_visitor {
    std::vector<bool>* seen;
    void discover_vertex(typename boost::graph_traits<Graph>::vertex_descriptor v, const Graph&) const { (*seen)[v] = true; }
  } vis;
  vis.seen = &seen;
  for (auto s : sources)
    if (color[s] == boost::white_color) boost::breadth_first_visit(g, s, boost::visitor(vis).color_map(cmap));
  return seen;
}

}  // namespace
}  // namespace escalon::detail

namespace escalon {

std::vector<Diagnostic> check_flow_graph(const Flow& flow) {
  using namespace detail;
  std::vector<Diagnostic> out;
  if (flow.start_index < 0 || flow.steps.empty()) return out;
  const FlowGraph g = build_flow_graph(flow);
  const std::size_t n = flow.steps.size();

  const auto reachable = reached_from(g, {static_cast<std::size_t>(flow.start_index)});
  for (std::size_t i = 0; i < n; ++i)
    if (!reachable[i])
      out.push_back({Severity::error, flow.steps[i].where,
                     fmt::format("step '{}' is unreachable from start step '{}'; connect it or remove it",
                                 flow.steps[i].name, flow.start)});

  std::vector<std::size_t> ends;
  for (std::size_t i = 0; i < n; ++i)
    if (flow.steps[i].kind == StepKind::end) ends.push_back(i);
  if (ends.empty()) {
    out.push_back({Severity::error, flow.where,
                   fmt::format("flow '{}' has no end step; add one with `end: true`", flow.id)});
    return out;
  }
  for (auto e : ends)
    if (boost::out_degree(e, g) > 0)
      out.push_back({Severity::error, flow.steps[e].where,
                     fmt::format("end step '{}' has outgoing transitions; a case that ends cannot move on", flow.steps[e].name)});

  const auto rev = boost::make_reverse_graph(g);
  const auto can_end = reached_from(rev, ends);
  std::vector<std::size_t> comp(n);
  const auto ncomp = boost::strong_components(g, boost::make_iterator_property_map(comp.begin(), boost::get(boost::vertex_index, g)));
  std::vector<std::vector<std::string>> members(ncomp);
  for (std::size_t i = 0; i < n; ++i) members[comp[i]].push_back(flow.steps[i].name);

  for (std::size_t i = 0; i < n; ++i) {
    if (can_end[i] || !reachable[i]) continue;
    const Step& s = flow.steps[i];
    // Report where the trap is, not every step that leads into it: a step with an edge into
    // another (necessarily trapped) component is upstream of the real problem.
    bool upstream = false;
    for (auto [e, e_end] = boost::out_edges(i, g); e != e_end; ++e) upstream = upstream || comp[boost::target(*e, g)] != comp[i];
    if (upstream) continue;
    bool self_loop = false;
    for (auto [e, e_end] = boost::out_edges(i, g); e != e_end; ++e) self_loop = self_loop || boost::target(*e, g) == i;
    std::string msg;
    if (boost::out_degree(i, g) == 0)
      msg = fmt::format("step '{}' is a dead end: nothing leads out of it and it is not an end step; add a transition "
                        "or `end: true`",
                        s.name);
    else if (members[comp[i]].size() > 1 || self_loop)
      msg = fmt::format("step '{}' is in a closed loop ({}) with no way to an end step", s.name,
                        fmt::join(members[comp[i]], ", "));
    else
      msg = fmt::format("no end step can be reached from step '{}'", s.name);  // unreachable in practice; kept for safety
    out.push_back({Severity::error, s.where, std::move(msg)});
  }

  for (const auto& s : flow.steps) {
    if (s.kind != StepKind::parallel || s.join_index < 0) continue;
    const Step& j = flow.steps[static_cast<std::size_t>(s.join_index)];
    if (j.kind == StepKind::join && j.join_mode == JoinMode::n_of_m && static_cast<std::size_t>(j.join_n) > s.parallel.size())
      out.push_back({Severity::error, j.where,
                     fmt::format("join '{}' waits for {} branches, but parallel step '{}' starts only {}", j.name, j.join_n,
                                 s.name, s.parallel.size())});
  }
  return out;
}

}  // namespace escalon
