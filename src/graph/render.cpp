// Rendering a flow graph. DOT goes through Boost's write_graphviz_dp, which quotes and escapes
// every label; Mermaid has no library here, so its few special characters are replaced with
// the entity codes Mermaid documents (#quot; #124; ...).

#include <boost/graph/graphviz.hpp>
#include <fmt/format.h>

#include <algorithm>
#include <locale>
#include <sstream>

#include "escalon/graph.hpp"
#include "graph/flow_graph.hpp"

namespace escalon {

namespace {

std::string step_label(const Step& s, const Flow& flow, std::string_view newline) {
  std::vector<std::string> lines{s.name};
  if (s.kind != StepKind::task) lines.push_back(fmt::format("({})", step_kind_name(s.kind)));
  if (!s.role.empty()) lines.push_back(fmt::format("role: {}", s.role));
  if (!s.call.empty()) lines.push_back(fmt::format("call {}", s.call));
  if (!s.subflow.empty()) lines.push_back(fmt::format("sub-flow {}", s.subflow));
  if (!s.rule.empty()) lines.push_back(fmt::format("rule {}", s.rule));
  if (s.wait_for) lines.push_back(fmt::format("wait {}", s.wait_for->str()));
  if (!s.wait_until.empty()) lines.push_back(fmt::format("wait until {}", s.wait_until.text()));
  if (s.kind == StepKind::join)
    lines.push_back(s.join_mode == JoinMode::all ? "join all" : s.join_mode == JoinMode::any ? "join any" : fmt::format("join {}", s.join_n));
  if (!s.outcome.empty()) lines.push_back(fmt::format("outcome: {}", s.outcome));
  if (s.deadline) {
    lines.push_back(detail::describe_deadline(*s.deadline));
    for (std::size_t l = 0; l < s.deadline->escalate.size(); ++l) lines.push_back(detail::describe_rung(s.deadline->escalate[l], l + 1));
  }
  for (auto& m : detail::sla_marks(s, flow)) lines.push_back(std::move(m));
  return fmt::format("{}", fmt::join(lines, newline));
}

const char* shape_of(StepKind k) {
  switch (k) {
    case StepKind::decision: return "diamond";
    case StepKind::end: return "doublecircle";
    case StepKind::action: return "component";
    case StepKind::wait: return "octagon";
    case StepKind::subflow: return "box3d";
    case StepKind::parallel:
    case StepKind::join: return "trapezium";
    default: return "box";
  }
}

std::string edge_style(detail::EdgeKind k) {
  switch (k) {
    case detail::EdgeKind::expire: return "dashed";
    case detail::EdgeKind::escalation: return "dotted";
    case detail::EdgeKind::error: return "dashed";
    default: return "solid";
  }
}

std::string edge_color(detail::EdgeKind k) {
  switch (k) {
    case detail::EdgeKind::expire: return "firebrick";
    case detail::EdgeKind::escalation: return "darkorange";
    case detail::EdgeKind::error: return "red";
    default: return "black";
  }
}

std::string stage_title(const Stage& st, std::string_view newline) {
  std::vector<std::string> lines{fmt::format("stage {}", st.name)};
  if (!st.title.empty()) lines.push_back(st.title);
  if (st.deadline) {
    lines.push_back(detail::describe_deadline(*st.deadline));
    for (std::size_t l = 0; l < st.deadline->escalate.size(); ++l)
      lines.push_back(detail::describe_rung(st.deadline->escalate[l], l + 1));
  }
  return fmt::format("{}", fmt::join(lines, newline));
}

// A stage is a cluster around its steps; its transitions leave the cluster's border once
// (ltail) instead of once from every step.
std::string dot_stages(const Flow& flow) {
  std::string out;
  for (std::size_t i = 0; i < flow.stages.size(); ++i) {
    const Stage& st = flow.stages[i];
    if (st.step_index.empty()) continue;
    out += fmt::format("subgraph cluster_{} {{\nlabel={};\nstyle=\"rounded,dashed\";\ncolor=steelblue;\n", i,
                       boost::escape_dot_string(stage_title(st, "\n")));
    for (const auto& name : st.steps) out += fmt::format("{};\n", boost::escape_dot_string(name));
    out += "}\n";
    const std::string& first = st.steps.front();
    for (const auto& e : detail::stage_edges(st)) {
      if (e.target < 0) continue;
      out += fmt::format("{}->{} [color={}, label={}, ltail=cluster_{}, style={}];\n", boost::escape_dot_string(first),
                         boost::escape_dot_string(flow.steps[static_cast<std::size_t>(e.target)].name), edge_color(e.kind),
                         boost::escape_dot_string(e.label), i, edge_style(e.kind));
    }
  }
  return out;
}

std::string render_dot(const Flow& flow) {
  detail::FlowGraph g = detail::build_flow_graph(flow);
  boost::remove_edge_if([&](const auto& e) { return g[e].stage >= 0; }, g);  // drawn once per stage below
  // A point-shaped vertex marks where cases start.
  const auto start = boost::add_vertex(g);
  if (flow.start_index >= 0)
    boost::add_edge(start, static_cast<std::size_t>(flow.start_index), detail::EdgeInfo{.kind = detail::EdgeKind::start, .label = ""}, g);
  // A note per SLA: its target, calendar, team, pause and stop steps (no edges: a legend).
  const std::size_t first_sla = boost::num_vertices(g);
  for (std::size_t i = 0; i < flow.slas.size(); ++i) boost::add_vertex(g);
  const std::size_t n = boost::num_vertices(g);
  std::vector<std::string> id(n), label(n), shape(n), style(n);
  for (std::size_t i = 0; i < flow.steps.size(); ++i) {
    const Step& s = flow.steps[i];
    id[i] = s.name;
    label[i] = step_label(s, flow, "\n");
    shape[i] = shape_of(s.kind);
    // A dashed border where an SLA's clock stands still.
    const bool pauses =
        std::any_of(flow.slas.begin(), flow.slas.end(), [&](const Sla& sla) { return detail::names_step(sla.pause_in, s, flow); });
    style[i] = s.kind == StepKind::end ? "filled" : pauses ? "rounded,dashed" : "rounded";
  }
  id[start] = "__start__";
  label[start] = "";
  shape[start] = "point";
  style[start] = "filled";
  for (std::size_t i = 0; i < flow.slas.size(); ++i) {
    id[first_sla + i] = fmt::format("__sla_{}__", i);
    label[first_sla + i] = fmt::format("{}", fmt::join(detail::describe_sla(flow.slas[i], flow), "\n"));
    shape[first_sla + i] = "note";
    style[first_sla + i] = "filled";
  }
  boost::dynamic_properties dp;
  auto vidx = boost::get(boost::vertex_index, g);
  dp.property("node_id", boost::make_iterator_property_map(id.begin(), vidx));
  dp.property("label", boost::make_iterator_property_map(label.begin(), vidx));
  dp.property("shape", boost::make_iterator_property_map(shape.begin(), vidx));
  dp.property("style", boost::make_iterator_property_map(style.begin(), vidx));
  std::map<detail::FlowGraph::edge_descriptor, std::string> elabel, estyle, ecolor;
  for (auto [e, e_end] = boost::edges(g); e != e_end; ++e) {
    elabel[*e] = g[*e].label;
    estyle[*e] = edge_style(g[*e].kind);
    ecolor[*e] = edge_color(g[*e].kind);
  }
  dp.property("label", boost::make_assoc_property_map(elabel));
  dp.property("style", boost::make_assoc_property_map(estyle));
  dp.property("color", boost::make_assoc_property_map(ecolor));
  std::ostringstream out;
  out.imbue(std::locale::classic());  // numbers without a host locale's digit grouping
  boost::write_graphviz_dp(out, g, dp, "node_id");
  std::string dot = out.str();
  // write_graphviz_dp has no graph attributes; add layout and a title after the header.
  const auto brace = dot.find('{');
  std::string title = flow.title.empty() ? flow.id : flow.title;
  for (auto& c : title)
    if (c == '"' || c == '\\') c = '\'';
  dot.insert(brace + 1, fmt::format("\nlabel=\"{} (v{})\";\nlabelloc=t;\nrankdir=LR;{}\nnode [fontname=Helvetica fontsize=10];\n"
                                    "edge [fontname=Helvetica fontsize=9];",
                                    title, flow.version, flow.stages.empty() ? "" : "\ncompound=true;"));
  if (!flow.stages.empty()) dot.insert(dot.rfind('}'), dot_stages(flow));
  return dot;
}

std::string mermaid_text(std::string_view s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '"': out += "#quot;"; break;
      case '|': out += "#124;"; break;
      case '<': out += "#lt;"; break;
      case '>': out += "#gt;"; break;
      case '\n': out += "<br/>"; break;
      default: out += c;
    }
  }
  return out;
}

std::string render_mermaid(const Flow& flow) {
  const detail::FlowGraph g = detail::build_flow_graph(flow);
  std::ostringstream out;
  out.imbue(std::locale::classic());  // node ids s1000, not s1.000 under a host's locale
  out << "flowchart LR\n";
  out << "  start((\" \"))\n";
  for (std::size_t i = 0; i < flow.steps.size(); ++i) {
    const Step& s = flow.steps[i];
    const std::string text = mermaid_text(step_label(s, flow, "\n"));
    const char* open = "[\"";
    const char* close = "\"]";
    if (s.kind == StepKind::decision) { open = "{\""; close = "\"}"; }
    if (s.kind == StepKind::end) { open = "([\""; close = "\"])"; }
    out << "  s" << i << open << text << close << "\n";
  }
  // A note per SLA (Mermaid flowcharts have no notes: a flag-shaped node without edges).
  for (std::size_t i = 0; i < flow.slas.size(); ++i)
    out << "  sla" << i << ">\"" << mermaid_text(fmt::format("{}", fmt::join(detail::describe_sla(flow.slas[i], flow), "\n")))
        << "\"]\n";
  // A stage is a subgraph; its transitions leave the subgraph once.
  for (std::size_t i = 0; i < flow.stages.size(); ++i) {
    const Stage& st = flow.stages[i];
    if (st.step_index.empty()) continue;
    out << "  subgraph stage" << i << "[\"" << mermaid_text(stage_title(st, "\n")) << "\"]\n";
    for (auto s : st.step_index) out << "    s" << s << "\n";
    out << "  end\n";
    for (const auto& e : detail::stage_edges(st)) {
      if (e.target < 0) continue;
      out << "  stage" << i << " " << (e.kind == detail::EdgeKind::event ? "-->" : "-.->") << "|\"" << mermaid_text(e.label)
          << "\"| s" << e.target << "\n";
    }
  }
  if (flow.start_index >= 0) out << "  start --> s" << flow.start_index << "\n";
  for (auto [e, e_end] = boost::edges(g); e != e_end; ++e) {
    const auto& info = g[*e];
    if (info.stage >= 0) continue;  // drawn once per stage above
    const char* arrow = info.kind == detail::EdgeKind::expire || info.kind == detail::EdgeKind::escalation ||
                                info.kind == detail::EdgeKind::error
                            ? "-.->"
                            : "-->";
    out << "  s" << boost::source(*e, g) << " " << arrow;
    if (!info.label.empty()) out << "|\"" << mermaid_text(info.label) << "\"|";
    out << " s" << boost::target(*e, g) << "\n";
  }
  return out.str();
}

}  // namespace

std::string render_graph(const Flow& flow, GraphFormat format) {
  return format == GraphFormat::dot ? render_dot(flow) : render_mermaid(flow);
}

}  // namespace escalon
