#include "support.hpp"

#include <cstdio>
#include <cstdlib>
#include <fstream>

#include "escalon/graph.hpp"
#include "escalon/loader.hpp"
#include "graph/flow_graph.hpp"

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

namespace {
std::string golden(const std::string& name) {
  std::ifstream in(std::string(ESCALON_SOURCE_DIR) + "/tests/graph/" + name, std::ios::binary);
  REQUIRE(in);
  return {std::istreambuf_iterator<char>(in), {}};
}
FlowPtr warranty() {
  auto flows = load_flows({std::string(ESCALON_SOURCE_DIR) + "/tests/graph/warranty.yaml"});
  REQUIRE(flows.size() == 1);
  return flows[0];
}
}  // namespace

// Golden files: rule edges carry their rows' conditions (they said "rule route (line 27)"), the
// SLAs are notes, and the step where an SLA pauses says so (and is dashed in DOT). To accept a
// change on purpose: escalon graph tests/graph/warranty.yaml [--format mermaid] > the file.
TEST_CASE("DOT golden output: rule conditions and SLA notes", "[graph]") {
  const auto dot = render_graph(*warranty(), GraphFormat::dot);
  CHECK(dot == golden("warranty.dot"));
  // DOT escapes the quotes of a condition; | < > are plain text in a quoted label.
  CHECK(dot.find("route->quote  [color=black, label=\"age <= 730d, channel = shop, model = \\\"X|Y<Z>\\\", ...\", style=solid];") !=
        std::string::npos);
}

TEST_CASE("Mermaid golden output: rule conditions and SLA notes", "[graph]") {
  const auto m = render_graph(*warranty(), GraphFormat::mermaid);
  CHECK(m == golden("warranty.mmd"));
  CHECK(m.find("s1 -->|\"age #lt;= 730d, channel = shop, model = #quot;X#124;Y#lt;Z#gt;#quot;, ...\"| s2") != std::string::npos);
  CHECK(m.find("s1 -->|\"channel in [phone, shop], model in ['alpha-mo...\"| s3") != std::string::npos);
}

TEST_CASE("rule row conditions: brackets and shortening", "[graph]") {
  auto flows = test::compile(R"yaml(flow: f
data: { n: int, m: int, s: string }
rules:
  r:
    inputs: [n, m, s, "n + m"]
    outputs: { to: string }
    rows:
      - ["(1) + (2)", "(m)", "in ['aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa']", -, done]
      - [-, -, "\"é\"", -, done]
      - [-, -, "in ['xéééééééééééééééééééééééééééééé']", -, done]
      - [-, -, -, -, done]
start: d
steps:
  d: { rule: r }
  done: { end: true }
)yaml");
  const RuleTable& t = flows[0]->rules.at(0);
  // The loader wraps an expression cell in brackets ("? == ((1) + (2))"); the label drops that
  // pair only, so "(1) + (2)" and "(m)" read as written. The third condition is cut to the
  // 24 bytes left of 48: 21 and "...".
  CHECK(detail::rule_row_condition(t, t.rows[0]) == "n = (1) + (2), m = (m), s in ['aaaaaaaaaaaaaa...");
  CHECK(detail::rule_row_condition(t, t.rows[1]) == "s = \"é\"");
  // Cut at 45 bytes, which falls inside an é (2 bytes each after "s in ['x"): back to 44.
  CHECK(detail::rule_row_condition(t, t.rows[2]) == "s in ['xéééééééééééééééééé...");
  CHECK(detail::rule_row_condition(t, t.rows[3]) == "otherwise");
}

TEST_CASE("SLA marks follow stages named in pause_in and stop_in", "[graph]") {
  auto flows = test::compile(R"(flow: f
start: a
stages:
  parts: { steps: [b, c] }
sla:
  repair: { within: 2d, start_in: a, pause_in: [parts], stop_in: [d] }
steps:
  a: { on: { go: b } }
  b: { on: { go: c } }
  c: { on: { go: d } }
  d: { on: { go: e } }
  e: { end: true }
)");
  const Flow& f = *flows[0];
  using V = std::vector<std::string>;
  CHECK(detail::sla_marks(*f.find_step("a"), f).empty());
  CHECK(detail::sla_marks(*f.find_step("b"), f) == V{"SLA repair paused"});
  CHECK(detail::sla_marks(*f.find_step("c"), f) == V{"SLA repair paused"});
  CHECK(detail::sla_marks(*f.find_step("d"), f) == V{"SLA repair met here"});
  CHECK(detail::describe_sla(f.slas[0], f) == V{"SLA repair: within 2d", "starts in a", "paused in parts", "met in d"});
  const auto dot = render_graph(f, GraphFormat::dot);
  CHECK(dot.find("c [label=\"c\nSLA repair paused\", shape=box, style=\"rounded,dashed\"];") != std::string::npos);
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

TEST_CASE("a stage is a cluster in DOT and a subgraph in Mermaid, its transitions drawn once", "[graph][stages]") {
  const auto flows = load_flows({std::string(ESCALON_SOURCE_DIR) + "/flows"});
  const auto it = std::find_if(flows.begin(), flows.end(), [](const FlowPtr& f) { return f->id == "warranty-repair"; });
  REQUIRE(it != flows.end());
  const std::string dot = render_graph(**it, GraphFormat::dot);
  CHECK(dot.find("compound=true;") != std::string::npos);
  CHECK(dot.find("subgraph cluster_0 {\nlabel=\"stage before-repair\nBefore the workshop has the device\ndeadline 10 "
                 "business days\nL1 at 30%: notify back-office\";\nstyle=\"rounded,dashed\";\ncolor=steelblue;\nintake;\n"
                 "\"check-warranty\";\nquote;\n\"book-courier\";\npickup;\n}") != std::string::npos);
  // The cancel leaves the stage once, from its border, not once per step.
  const auto count = [&](const std::string& s) {
    std::size_t n = 0;
    for (auto p = dot.find(s); p != std::string::npos; p = dot.find(s, p + 1)) ++n;
    return n;
  };
  CHECK(count("label=\"customer-cancelled\"") == 1);
  CHECK(count("intake->cancelled [color=black, label=\"customer-cancelled\", ltail=cluster_0, style=solid];") == 1);
  const std::string mmd = render_graph(**it, GraphFormat::mermaid);
  CHECK(mmd.find("  subgraph stage1[\"stage repair<br/>In the workshop\"]\n    s5\n    s6\n    s7\n  end\n") != std::string::npos);
  CHECK(mmd.find("  stage0 -->|\"customer-cancelled\"| s10\n") != std::string::npos);
  CHECK(mmd.find("customer-cancelled") == mmd.rfind("customer-cancelled"));
}
