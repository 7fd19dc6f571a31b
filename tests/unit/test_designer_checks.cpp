// Checks for process designers (issue "designer"): escalation levels listed out of firing order
// with `at:` and `after:` mixed, rule-table rows that overlap or are shadowed, rule decisions
// without a default row, and YAML merge keys. Broken flows with one exact message each are in
// tests/flows/invalid/; here are the warnings, the cases that must load, and the runtime behind
// the claims. Europe/Zagreb is UTC+1 in November; the office is open 08:00-16:00 local
// (07:00-15:00Z) on weekdays.

#include <fmt/format.h>

#include "escalon/engine.hpp"
#include "escalon/loader.hpp"
#include "support.hpp"

using namespace escalon;
using namespace std::chrono_literals;
using escalon::test::at;

namespace {

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
