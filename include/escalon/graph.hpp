#pragma once
/// @file graph.hpp
/// A flow's state graph (Boost.Graph, confined to src/graph): structural checks and rendering.

#include <string>
#include <vector>

#include "escalon/error.hpp"
#include "escalon/flow.hpp"

namespace escalon {

/// Reports steps unreachable from `start` (error), steps from which no end step can be
/// reached (error: dead ends and closed cycles), end steps with outgoing transitions (error),
/// events emitted but handled nowhere and other doubtful things (warnings).
/// References to undefined steps are the loader's errors and are assumed resolved here.
[[nodiscard]] std::vector<Diagnostic> check_flow_graph(const Flow& flow);

enum class GraphFormat { dot, mermaid };

/// The flow as a graph with deadlines, escalations and guards on it, rule-driven edges labelled
/// with their rows' conditions, and each SLA as a note (steps where it pauses marked). DOT renders with
/// Graphviz (`dot -Tsvg`); Mermaid renders in Markdown viewers that support it.
[[nodiscard]] std::string render_graph(const Flow& flow, GraphFormat format);

}  // namespace escalon
