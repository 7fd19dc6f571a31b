// Checks for process designers (issue "designer"): escalation levels listed out of firing order
// with `at:` and `after:` mixed, rule-table rows that overlap or are shadowed, rule decisions
// without a default row, and YAML merge keys. Broken flows with one exact message each are in
// tests/flows/invalid/; here are the warnings, the cases that must load, and the runtime behind
// the claims. Europe/Zagreb is UTC+1 in November; the office is open 08:00-16:00 local
// (07:00-15:00Z) on weekdays.

#include <fmt/format.h>

#include "escalon/engine.hpp"
#include "escalon/loader.hpp"
#include "escalon/rule_table.hpp"
#include "expr/rules.hpp"
#include "support.hpp"

using namespace escalon;
using namespace std::chrono_literals;
using escalon::test::at;

namespace {

const std::string src_dir = ESCALON_SOURCE_DIR;

std::vector<std::string> messages(const LoadResult& r) {
  std::vector<std::string> out;
  for (const auto& d : r.diagnostics) out.push_back(d.str());
  return out;
}

// A flow with one task step `a` whose deadline is `deadline` (YAML flow-map text).
std::string ladder_flow(const std::string& deadline, const std::string& extra_data = "") {
  return fmt::format(R"(flow: ladder
calendar: office
calendars:
  office: {{ timezone: Europe/Zagreb, hours: {{ mon-fri: "08:00-16:00" }} }}
data:
  slot: datetime
{}start: a
steps:
  a:
    deadline: {}
    on: {{ done: z }}
  z: {{ end: true }}
)",
                     extra_data, deadline);
}

// Levels fired for the case, as (level, instant).
std::vector<std::pair<int, TimePoint>> fired(Engine& engine, const std::string& id) {
  std::vector<std::pair<int, TimePoint>> out;
  for (const auto& r : engine.history(id))
    if (r.type == RecordType::escalated) out.emplace_back(r.level, r.at);
  return out;
}

// A flow whose only rule table is `table` (YAML block text under `rules:`), used by decision `a`.
std::string rule_flow(const std::string& table) {
  return R"(flow: rules
data:
  amount: int
  product: string
  limit: int
rules:
  route:
)" + table + R"(start: a
steps:
  a: { rule: route }
  z: { end: true }
)";
}

}  // namespace

TEST_CASE("mixed at and after levels listed in firing order load and fire in list order", "[designer][escalation]") {
  // 1 business hour from Monday 08:00Z: due 09:00Z; 175% at 09:45Z; `after: 1 business hour` at
  // 10:00Z (200%); 250% at 10:30Z.
  const auto r = validate_text(ladder_flow(
      "{ within: 1 business hour, escalate: [{ at: 175%, notify: a }, { after: 1 business hour, notify: b }, "
      "{ at: 250%, notify: c }] }"));
  INFO(fmt::format("{}", fmt::join(messages(r), "\n")));
  REQUIRE(r.ok());
  REQUIRE(r.diagnostics.empty());
  ManualClock clock{"2026-11-23T08:00:00Z"};
  Engine engine{{.clock = &clock}};
  engine.add_flows(r.flows);
  const auto id = engine.start("ladder", {});
  clock.advance(5h);
  engine.run_due();
  CHECK(fired(engine, id) == std::vector<std::pair<int, TimePoint>>{{1, at("2026-11-23T09:45:00Z")},
                                                                    {2, at("2026-11-23T10:00:00Z")},
                                                                    {3, at("2026-11-23T10:30:00Z")}});
}

TEST_CASE("a wall-time after level on a business deadline fires within that much working time", "[designer][escalation]") {
  // Entered Monday 14:30Z, half an hour before closing: 1 business hour is due Tuesday 07:30Z.
  // `after: 30m` fires at 08:00Z, 150% of the deadline in working time; `at: 160%` (1h36m of
  // working time) at 08:06Z. Listed in that order, they load; listed the other way round, the
  // `after:` level is out of order whatever the entry time.
  const auto ok = validate_text(
      ladder_flow("{ within: 1 business hour, escalate: [{ after: 30m, notify: a }, { at: 160%, notify: b }] }"));
  REQUIRE(ok.ok());
  REQUIRE(ok.diagnostics.empty());
  ManualClock clock{"2026-11-23T14:30:00Z"};
  Engine engine{{.clock = &clock}};
  engine.add_flows(ok.flows);
  const auto id = engine.start("ladder", {});
  clock.advance(20h);
  engine.run_due();
  CHECK(fired(engine, id) == std::vector<std::pair<int, TimePoint>>{{1, at("2026-11-24T08:00:00Z")},
                                                                    {2, at("2026-11-24T08:06:00Z")}});

  const auto bad = validate_text(
      ladder_flow("{ within: 1 business hour, escalate: [{ at: 160%, notify: b }, { after: 30m, notify: a }] }"), "f.yaml");
  CHECK(messages(bad) == std::vector<std::string>{
                             "f.yaml:10:78: error: escalation level 2 (after: 30m, fires by 150% of the deadline at the "
                             "latest) fires before level 1 (at: 160%); list levels in the order they fire"});
}

TEST_CASE("ladders whose order the load cannot decide are accepted", "[designer][escalation]") {
  // Each pair can fire either way round depending on the entry time, the calendar or the data.
  for (const char* deadline : {
           // wall deadline: 1 business hour after 09:00 can be 10:00 (175% is 10:30) or the next morning
           "{ within: 2h, escalate: [{ at: 175%, notify: a }, { after: 1 business hour, notify: b }] }",
           // business days have as much working time as the calendar gives them
           "{ within: 2 business days, escalate: [{ at: 150%, notify: a }, { after: 4 business hours, notify: b }] }",
           // an `at:` deadline has no length until a case runs
           "{ at: slot, escalate: [{ at: 150%, notify: a }, { after: 1h, notify: b }] }",
           // a wall offset on a business deadline: at most 100% + 200% of working time, maybe less
           "{ within: 1 business hour, escalate: [{ at: 250%, notify: a }, { after: 2h, notify: b }] }",
       }) {
    INFO(deadline);
    const auto r = validate_text(ladder_flow(deadline));
    CHECK(messages(r).empty());
  }
}

TEST_CASE("levels out of order are found past the neighbouring level and in SLA ladders", "[designer][escalation]") {
  const std::string flow = R"(flow: sla
calendar: office
calendars:
  office: { timezone: Europe/Zagreb, hours: { mon-fri: "08:00-16:00" } }
sla:
  resolution:
    within: 4 business hours
    escalate:
      - { after: 2 business hours, notify: a }
      - { after: 1 business day, notify: b }
      - { at: 140%, notify: c }
      - { after: 1 business hour, notify: d }
start: a
steps:
  a: { on: { done: z } }
  z: { end: true }
)";
  CHECK(messages(validate_text(flow, "s.yaml")) ==
        std::vector<std::string>{
            "s.yaml:11:9: error: escalation level 3 (at: 140%) fires before level 1 (after: 2 business hours, fires at "
            "150% of the deadline); list levels in the order they fire",
            "s.yaml:12:9: error: escalation level 4 (after: 1 business hour, fires at 125% of the deadline) fires "
            "before level 1 (after: 2 business hours, fires at 150% of the deadline); list levels in the order they "
            "fire"});
}

TEST_CASE("a hit-first row that an earlier row covers is a warning", "[designer][rules]") {
  const auto r = validate_text(rule_flow(R"(    inputs: [amount, product]
    outputs: { to: string }
    rows:
      - ["> 10", tv, z]
      - ["> 20", tv, z]
      - ["< 5", -, z]
      - ["<= 4", "in ['tv', 'pc']", z]
      - [-, -, z]
      - [3, pc, z]
      - ["< limit", tv, z]
      - ["< limit", tv, z]
)"),
                               "r.yaml");
  CHECK(r.ok());
  const std::string covered = "warning: rule table 'route' (hit policy first): this row never applies, since the row at line {} "
                              "matches every input it matches; remove it or move it above that row";
  CHECK(messages(r) == std::vector<std::string>{"r.yaml:12:9: " + fmt::format(fmt::runtime(covered), 11),
                                                "r.yaml:14:9: " + fmt::format(fmt::runtime(covered), 13),
                                                "r.yaml:16:9: " + fmt::format(fmt::runtime(covered), 13),
                                                "r.yaml:17:9: " + fmt::format(fmt::runtime(covered), 15),
                                                "r.yaml:18:9: " + fmt::format(fmt::runtime(covered), 15)});
}

TEST_CASE("unique rows that cannot both match, or may only at run time, load", "[designer][rules]") {
  const auto r = validate_text(rule_flow(R"(    hit: unique
    inputs: [amount, product]
    outputs: { to: string }
    rows:
      - ["> 730", tv, z]
      - ["<= 730", tv, z]
      - ["> 10", pc, z]
      - ["< 5", pc, z]
      - [-, "not in ['tv', 'pc']", z]
      - ["< limit", radio, z]
      - ["> amount", radio, z]
)"));
  REQUIRE(messages(r).size() == 1);  // the decision's missing default row, below
  CHECK(messages(r)[0].find("warning: decision 'a' has no default branch") != std::string::npos);
  CHECK(r.ok());
}

TEST_CASE("a rule decision whose table has no default row warns like decide without one", "[designer][rules]") {
  const auto no_default = validate_text(rule_flow(R"(    inputs: [product]
    outputs: { to: string }
    rows:
      - [tv, z]
      - ["!= 'tv'", z]
)"),
                                        "d.yaml");
  CHECK(messages(no_default) ==
        std::vector<std::string>{"d.yaml:15:14: warning: decision 'a' has no default branch (rule table 'route' has no "
                                 "row of `-` in every input); a case that matches no row stops with an incident"});
  const auto with_default = validate_text(rule_flow(R"(    inputs: [product]
    outputs: { to: string }
    rows:
      - [tv, z]
      - ["-", z]
)"));
  CHECK(messages(with_default).empty());
  // The wording follows the warning for `decide:` without a branch lacking `when`.
  const auto decide = validate_text("flow: d\ndata: { vip: bool }\nstart: a\nsteps:\n  a: { decide: [{ to: z, when: vip }] }\n"
                                    "  z: { end: true }\n",
                                    "e.yaml");
  REQUIRE(messages(decide).size() == 1);
  CHECK(messages(decide)[0].starts_with("e.yaml:5:17: warning: decision 'a' has no default branch ("));
}

TEST_CASE("the overlap check finds rows through an index and stops at its bounds", "[designer][rules]") {
  // 5,000 rows with a value each: 12.5 million pairs, past the budget of a million, but the
  // index pairs each row only with rows naming the same value, so the duplicate at the end is found.
  std::string rows;
  for (int i = 0; i < 5000; ++i) rows += fmt::format("      - [p{}, {}, z]\n", i, i % 3);
  rows += "      - [p17, 2, z]\n";
  const auto big = validate_text(rule_flow("    hit: unique\n    inputs: [product, amount]\n    outputs: { to: string }\n"
                                           "    rows:\n" +
                                           rows),
                                 "big.yaml");
  const auto m = messages(big);
  REQUIRE(m.size() == 2);
  CHECK(m[0] == "big.yaml:5012:9: error: rule table 'route' has hit policy unique, but the rows at lines 29 and 5012 both "
                "match the input product = p17, amount = 2; make them exclusive or use hit: first");

  // Reports stop at 20 a table; comparisons at the budget shared by a flow's tables.
  std::string same;
  for (int i = 0; i < 30; ++i) same += "      - [-, -, z]\n";
  const auto r = validate_text(rule_flow("    inputs: [product, amount]\n    outputs: { to: string }\n    rows:\n" + same));
  REQUIRE(r.flows.size() == 1);
  RuleTable t = r.flows[0]->rules.at(0);
  CHECK(r.warning_count() == 20);
  t.hit = HitPolicy::unique;
  std::vector<std::vector<detail::CellSet>> cells(t.rows.size(), std::vector<detail::CellSet>(2));
  for (auto& row : cells)
    for (auto& c : row) c.kind = detail::CellSet::Kind::any;
  detail::RowCheckBudget budget{.pairs = 5, .max_clashes = 20};
  CHECK(detail::check_rule_rows(t, cells, budget).size() == 5);
  CHECK(budget.pairs == 0);
  CHECK(detail::check_rule_rows(t, cells, budget).empty());
}

TEST_CASE("merge keys merge steps, deadlines, transitions and rule outputs", "[designer][loader][yaml]") {
  const auto r = validate({src_dir + "/tests/flows/valid/merge-keys.yaml"});
  INFO(fmt::format("{}", fmt::join(messages(r), "\n")));
  REQUIRE(r.ok());
  REQUIRE(r.diagnostics.empty());
  const Flow& f = *r.flows.at(0);
  const Step* back = f.find_step("back-office");
  REQUIRE(back);
  CHECK(back->role == "back-office");                        // written in the step: wins
  CHECK(back->guide == "Ask for the product and the fault.");  // merged
  REQUIRE(back->deadline);
  CHECK(back->deadline->within->str() == "4 business hours");
  CHECK(back->deadline->expire == "closed");
  REQUIRE(back->deadline->escalate.size() == 2);
  CHECK(back->deadline->escalate[1].priority == "high");
  REQUIRE(back->on.size() == 3);
  CHECK(back->on[0].event == "submit");
  CHECK(back->on[0].target == "closed");  // `to` written in the map wins over the merged one
  REQUIRE(back->on[0].set.size() == 1);
  CHECK(back->on[0].set[0].value.text() == "high");
  CHECK(back->on[1].event == "escalate");
  CHECK(back->on[1].target == "closed");  // of a list, the first map that has a key gives it
  REQUIRE(back->on[1].set.size() == 1);
  CHECK(back->on[1].set[0].value.text() == "urgent");
  const RuleTable* t = f.find_rule("routing");
  REQUIRE(t);
  REQUIRE(t->outputs.size() == 2);
  CHECK(t->outputs[0].name == "team");
  CHECK(t->outputs[1].name == "to");
  CHECK(back->on[1].where.line == 39);  // the transition's own map
}

// The loader walks the nodes for merge keys only when the text holds `<<` or `merge`: a key
// tagged !!merge whose `<<` is written with escapes must still merge.
TEST_CASE("a merge key written as a tagged, escaped scalar merges too", "[designer][loader][yaml]") {
  const auto r = validate_text("flow: tagged\nstart: y\nsteps:\n  y: &b { role: agent, on: { done: a } }\n"
                               "  a: { !!merge \"\\x3c\\x3c\": *b, on: { done: z } }\n  z: { end: true }\n",
                               "tagged.yaml");
  INFO(fmt::format("{}", fmt::join(messages(r), "\n")));
  REQUIRE(r.flows.size() == 1);
  const Step* a = r.flows[0]->find_step("a");
  REQUIRE(a);
  CHECK(a->role == "agent");
  REQUIRE(a->on.size() == 1);
  CHECK(a->on[0].target == "z");
}

TEST_CASE("messages about merged keys point where they are written", "[designer][loader][yaml]") {
  const auto r = validate_text(R"(flow: m
start: a
steps:
  a:
    on:
      go: &go { to: nowhere, when: "true" }
      again: { <<: *go, when: "false" }
      quoted: { '<<': *go }
  z: { end: true }
)",
                               "m.yaml");
  // `again` merges the `to` of `go`: the one node, reported once where it is written. A quoted
  // '<<' is an ordinary key.
  CHECK(messages(r) == std::vector<std::string>{
                           "m.yaml:6:21: error: unknown step 'nowhere' in `to`; the steps are a, z",
                           "m.yaml:8:17: error: unknown key '<<' in transition of event 'quoted'; allowed here: to, when, "
                           "set, reason, allow, description",
                       });
}
