#pragma once
// The flow as a Boost.Graph graph: one vertex per step, one edge per way a case can move
// (events, decision branches, next, errors, expiries, escalation gotos, parallel branches).
// Internal to src/graph: Boost.Graph never reaches a public header.

#include <boost/graph/adjacency_list.hpp>

#include <string>

#include "escalon/flow.hpp"

namespace escalon::detail {

enum class EdgeKind { event, branch, next, error, expire, escalation, parallel, start };

struct EdgeInfo {
  EdgeKind kind = EdgeKind::event;
  std::string label;
  std::int32_t stage = -1;  // a stage's transition or deadline, repeated from each of its steps
};

using FlowGraph = boost::adjacency_list<boost::vecS, boost::vecS, boost::bidirectionalS, boost::no_property, EdgeInfo>;

FlowGraph build_flow_graph(const Flow& flow);

// "every 1 business hour", "80% -> notify parts-lead" ...
std::string describe_rung(const Escalation& e, std::size_t level);
std::string describe_deadline(const Deadline& d);
// The ways out a stage gives each of its steps, once per stage (for drawing): the step the edge
// leaves from is the stage's first.
struct StageEdge {
  std::int32_t target = -1;
  EdgeKind kind = EdgeKind::event;
  std::string label;
};
std::vector<StageEdge> stage_edges(const Stage& st);
// A rule row's condition for an edge label: "age > 730d, channel = web" (cells that test
// anything are left out; "otherwise" when none tests), shortened to about 48 characters.
std::string rule_row_condition(const RuleTable& t, const RuleRow& row);
// An SLA for a legend: its name, target, calendar, team, pause and stop steps, warning, ladder.
std::vector<std::string> describe_sla(const Sla& sla, const Flow& flow);
// Whether a list of `pause_in`/`stop_in` names holds the step, itself or through its stage.
bool names_step(const std::vector<std::string>& names, const Step& step, const Flow& flow);
// The SLAs a step pauses ("SLA resolution paused") or meets ("SLA resolution met here", for
// explicit stop_in), one line each.
std::vector<std::string> sla_marks(const Step& step, const Flow& flow);

}  // namespace escalon::detail
