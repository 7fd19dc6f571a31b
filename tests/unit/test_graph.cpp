#include "support.hpp"

#include <cstdio>
#include <cstdlib>
#include <fstream>

#include "escalon/graph.hpp"
#include "escalon/loader.hpp"

using namespace escalon;

namespace {
FlowPtr example() {
  auto flows = load_flows({std::string(ESCALON_SOURCE_DIR) + "/tests/flows/valid/issue-example.yaml"});
  REQUIRE(flows.size() == 1);
  return flows[0];
}
}  // namespace

TEST_CASE("DOT output carries steps, guards, deadlines and escalations", "[graph]") {
  const auto dot = render_graph(*example(), GraphFormat::dot);
  CHECK(dot.rfind("digraph G {", 0) == 0);
  CHECK(dot.find("rankdir=LR;") != std::string::npos);
  CHECK(dot.find("intake->\"order-parts\"  [color=black, label=\"submit [parts_needed]\", style=solid];") != std::string::npos);
  CHECK(dot.find("L2 at 100%: reassign parts-lead, set priority = high") != std::string::npos);
  CHECK(dot.find("every 1 business hour") != std::string::npos);
  CHECK(dot.find("\"waiting-customer\"->closed  [color=firebrick, label=\"expire (deadline 3d)\", style=dashed];") != std::string::npos);
  CHECK(dot.find("__start__->intake") != std::string::npos);
}

TEST_CASE("DOT output renders with Graphviz", "[graph][graphviz]") {
  if (std::system("command -v dot >/dev/null 2>&1") != 0) {
    WARN("Graphviz `dot` is not installed; scripts/setup.sh installs it");
    return;
  }
  const std::string dot_file = "escalon-graph-test.dot", svg_file = "escalon-graph-test.svg";
  std::ofstream(dot_file) << render_graph(*example(), GraphFormat::dot);
  REQUIRE(std::system(("dot -Tsvg " + dot_file + " -o " + svg_file).c_str()) == 0);
  std::ifstream in(svg_file);
  std::string svg((std::istreambuf_iterator<char>(in)), {});
  CHECK(svg.find("<svg") != std::string::npos);
  CHECK(svg.find("order&#45;parts") != std::string::npos);
  std::remove(dot_file.c_str());
  std::remove(svg_file.c_str());
}

TEST_CASE("Mermaid output escapes labels", "[graph]") {
  const auto m = render_graph(*example(), GraphFormat::mermaid);
  CHECK(m.rfind("flowchart LR\n", 0) == 0);
  CHECK(m.find("start --> s0") != std::string::npos);
  CHECK(m.find("s0 -->|\"submit [parts_needed]\"| s1") != std::string::npos);
  CHECK(m.find("s3 -.->|\"expire (deadline 3d)\"| s5") != std::string::npos);
  CHECK(m.find("s5([\"closed<br/>(end)\"])") != std::string::npos);
}

TEST_CASE("graph checks: unreachable steps, dead ends, closed loops", "[graph]") {
  auto check = [](const char* yaml) {
    auto r = validate_text(yaml, "g.yaml");
    std::vector<std::string> out;
    for (const auto& d : r.diagnostics) out.push_back(d.str());
    return out;
  };
  CHECK(check("flow: g\nstart: a\nsteps:\n  a: { on: { x: z } }\n  b: { on: { x: z } }\n  z: { end: true }\n") ==
        std::vector<std::string>{"g.yaml:5:3: error: step 'b' is unreachable from start step 'a'; connect it or remove it"});
  // A self-loop with no exit.
  CHECK(check("flow: g\nstart: a\nsteps:\n  a: { on: { x: b, y: z } }\n  b: { on: { again: b } }\n  z: { end: true }\n") ==
        std::vector<std::string>{"g.yaml:5:3: error: step 'b' is in a closed loop (b) with no way to an end step"});
  // Expiry is a way out: a step whose only exit is its deadline is fine.
  CHECK(check("flow: g\nstart: a\nsteps:\n  a: { deadline: { within: 1h, expire: z } }\n  z: { end: true }\n").empty());
  // An escalation goto is a way out too.
  CHECK(check("flow: g\nstart: a\nsteps:\n  a: { on: { x: a }, deadline: { within: 1h, escalate: [ { at: 100%, goto: z } ] } }\n  z: { end: true }\n").empty());
}
