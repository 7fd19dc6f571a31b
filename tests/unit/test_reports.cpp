// The KPIs of `report` and of the run summary against docs/flow-format.md, "KPI definitions".
// tests/reports/repair-scenario.yaml lists its seven cases; every figure below is worked out
// by hand from it in the comments.

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "escalon/engine.hpp"
#include "escalon/loader.hpp"
#include "escalon/report.hpp"
#include "escalon/scenario.hpp"
#include "calendar/local_time.hpp"
#include "support.hpp"

using namespace escalon;
using namespace std::chrono_literals;
using escalon::test::at;

namespace {

const std::string dir = std::string(ESCALON_SOURCE_DIR) + "/tests/reports/";

struct RepairDesk {
  MemoryStore store;
  ScenarioResult run;
  RepairDesk() {
    const auto flows = load_flows({dir + "repair.yaml"});
    run = run_scenario(load_scenario(dir + "repair-scenario.yaml"), flows, &store);
  }
  [[nodiscard]] std::map<std::string, std::string> slas_of(const std::string& id) const {
    for (const auto& c : run.cases)
      if (c.id == id) return {c.slas.begin(), c.slas.end()};
    FAIL("no case " << id);
    return {};
  }
};

// A one-case flow: the quote of the designer who found that an expired deadline counted as met.
const char* quote_flow = R"(flow: quote
start: quote
steps:
  quote:
    deadline: { within: 1d, expire: timed-out }
    on: { accepted: done }
  done: { end: true, outcome: accepted }
  timed-out: { end: true, outcome: no-reply }
)";

}  // namespace

TEST_CASE("report: a quote that timed out is a missed deadline", "[report]") {
  ManualClock clock{"2026-11-23T08:00:00Z"};
  MemoryStore store;
  Engine engine{{.clock = &clock, .store = &store}};
  engine.add_flows(test::compile(quote_flow));
  engine.start("quote", {}, {.id = "q1"});
  clock.advance(25h);
  engine.run_due();
  REQUIRE(engine.get("q1").steps.at(0) == "timed-out");
  const auto r = make_report(store);
  CHECK(r.deadlines_ended == 1);
  CHECK(r.deadlines_met == 0);  // was 1: the expiry left the step exactly at the due time
  CHECK(report_text(r).find("Deadlines: 1 ended, 0 met (0%)\n") != std::string::npos);
}

TEST_CASE("report: deadlines are met only when the step is left before the due time", "[report]") {
  ManualClock clock{"2026-11-23T08:00:00Z"};
  MemoryStore store;
  Engine engine{{.clock = &clock, .store = &store}};
  engine.add_flows(test::compile(R"(flow: answer
start: ask
steps:
  ask:
    deadline: { within: 30m }
    on: { answered: done }
  done: { end: true }
)"));
  for (const char* id : {"early", "on-time", "late", "cancelled-early", "cancelled-late", "open"})
    engine.start("answer", {}, {.id = id});
  clock.set(at("2026-11-23T08:29:59.999Z"));
  engine.send("early", "answered");             // met
  engine.cancel("cancelled-early", "duplicate"); // before the due time: not decided, left out
  clock.set(at("2026-11-23T08:30:00Z"));
  engine.send("on-time", "answered");           // at the due instant: it fell due first, missed
  clock.set(at("2026-11-23T09:00:00Z"));
  engine.send("late", "answered");              // missed
  engine.cancel("cancelled-late", "duplicate"); // cancelled after the due time: missed
  const auto r = make_report(store);
  CHECK(r.deadlines_ended == 4);
  CHECK(r.deadlines_met == 1);
  // The open case's deadline fell due at 08:30: overdue in its work queue, not "ended".
  CHECK(r.queues.at("(unassigned)").overdue == 1);
  CHECK(make_report(store, at("2026-11-23T08:29:59Z")).queues.at("(unassigned)").overdue == 0);
  CHECK(make_report(store, at("2026-11-23T08:30:00Z")).queues.at("(unassigned)").overdue == 1);
}

TEST_CASE("report: the repair desk's figures", "[report]") {
  RepairDesk d;
  REQUIRE(d.run.refused.empty());
  const auto r = make_report(d.store);
  CHECK(r.opened == 7);
  CHECK(r.completed == 5);  // a b c d h
  CHECK(r.cancelled == 1);  // e
  CHECK(r.open == 1);       // g
  // First contact: a (front office only). h went to the workshop. b, c, d ended at fail: true
  // end steps (refused, cancelled, timed out): left out. Before: 3 of 5 (a, b, c).
  CHECK(r.fcr == 1);
  CHECK(r.fcr_completed == 2);
  CHECK(r.fcr_failed == 3);
  // Intake: a b c h met, d met (08:15 < 08:30), g missed (09:00), e cancelled at 09:00 after
  // 08:30: missed. Quote: h met, d expired: missed. Repair: h met. g's quote is still open.
  // Before: 9 ended, 9 met... less g: 8 (e left out, d's expiry counted met).
  CHECK(r.deadlines_ended == 10);
  CHECK(r.deadlines_met == 7);
  // resolution (3d, stop_in: [done]): a h met; b c d completed elsewhere and e cancelled:
  // stopped; g open.
  const auto& res = r.slas.at("resolution");
  CHECK(res.met == 2);
  CHECK(res.breached == 0);
  CHECK(res.stopped == 4);
  CHECK(res.not_applicable == 0);
  CHECK(res.open == 1);
  // workshop-ola (4h of workshop time): h met (08:10-12:00, 3h50m); d breached 12:15, g 13:00;
  // a b c e never reached the workshop: not applicable (a b c reached an end step, which
  // wrote sla-met; before, those counted as met: 4 met, 2 breached, 67%).
  const auto& ola = r.slas.at("workshop-ola");
  CHECK(ola.met == 1);
  CHECK(ola.breached == 2);
  CHECK(ola.stopped == 0);
  CHECK(ola.not_applicable == 4);
  CHECK(ola.open == 0);
  // Intake visits: a 10m, b 5m, c 20m, d 15m, g 60m, h 10m (e was cancelled there: no visit
  // ended). Mean 20m; nearest rank p50 = 3rd of 6 = 10m, p90 = 6th = 60m.
  const auto& intake = r.steps.at("repair/intake");
  CHECK(intake.visits == 6);
  CHECK(intake.mean == 20min);
  CHECK(intake.p50 == 10min);
  CHECK(intake.p90 == 60min);
  CHECK(r.zone == "Europe/Budapest");
  CHECK(r.zones == std::vector<std::string>{"Europe/Budapest"});
  CHECK(r.unreadable_flows.empty());
  const std::string text = report_text(r);
  CHECK(text.find("First-contact resolution: 1 of 2 resolved cases (50%); 3 ended unresolved (fail: true), left out\n") !=
        std::string::npos);
  CHECK(text.find("Deadlines: 10 ended, 7 met (70%)\n") != std::string::npos);
  CHECK(text.find("  workshop-ola                  1        2    33%        0      4      0        0\n") != std::string::npos);
}

TEST_CASE("run summary: SLA states of closed cases come from their records", "[report]") {
  RepairDesk d;
  using M = std::map<std::string, std::string>;
  // Before: "running" (memory) or "paused" (store) on closed cases, "met" for the OLA of
  // cases that never reached the workshop.
  CHECK(d.slas_of("a") == M{{"resolution", "met"}, {"workshop-ola", "not applicable"}});
  CHECK(d.slas_of("b") == M{{"resolution", "stopped"}, {"workshop-ola", "not applicable"}});
  CHECK(d.slas_of("d") == M{{"resolution", "stopped"}, {"workshop-ola", "breached"}});
  CHECK(d.slas_of("e") == M{{"resolution", "stopped"}, {"workshop-ola", "not applicable"}});
  CHECK(d.slas_of("g") == M{{"resolution", "running"}, {"workshop-ola", "breached"}});
  CHECK(d.slas_of("h") == M{{"resolution", "met"}, {"workshop-ola", "met"}});
}

TEST_CASE("sla_outcomes: not started, paused, and a team clock never reached", "[report]") {
  auto rec = [](RecordType t, const char* target) {
    Record r;
    r.type = t;
    r.target = target;
    return r;
  };
  const std::vector<std::string> names{"resolution", "ola"};
  std::vector<Record> h{rec(RecordType::started, "flow"), rec(RecordType::deadline_set, "resolution")};
  using V = std::vector<std::pair<std::string, SlaOutcome>>;
  CHECK(sla_outcomes(h, names) == V{{"resolution", SlaOutcome::running}, {"ola", SlaOutcome::not_started}});
  h.push_back(rec(RecordType::paused, "resolution"));
  CHECK(sla_outcomes(h, names) == V{{"resolution", SlaOutcome::paused}, {"ola", SlaOutcome::not_started}});
  h.push_back(rec(RecordType::sla_met, "ola"));  // reached stop_in, never counted
  CHECK(sla_outcomes(h, names) == V{{"resolution", SlaOutcome::paused}, {"ola", SlaOutcome::not_applicable}});
  h.push_back(rec(RecordType::completed, ""));
  CHECK(sla_outcomes(h, names) == V{{"resolution", SlaOutcome::stopped}, {"ola", SlaOutcome::not_applicable}});
  CHECK(sla_outcome_name(SlaOutcome::not_applicable) == "not applicable");
}

TEST_CASE("report: no cases in a denominator gives no percentage", "[report]") {
  MemoryStore store;
  const auto r = make_report(store);
  const std::string text = report_text(r);
  CHECK(text.find("First-contact resolution: 0 of 0 resolved cases (n/a)\n") != std::string::npos);
  CHECK(text.find("Deadlines: 0 ended, 0 met (n/a)\n") != std::string::npos);
  const auto j = nlohmann::json::parse(report_json(r));
  CHECK(j["deadlines"]["percent"].is_null());
  CHECK(j["first_contact_resolution"]["percent"].is_null());
  CHECK(report_csv(r).find("deadlines_met_percent,,\n") != std::string::npos);
}

TEST_CASE("report: local time in the flows' zone, JSON in UTC", "[report]") {
  RepairDesk d;
  const auto r = make_report(d.store);
  // 08:00Z is 09:00 in Budapest (CET, +01:00); the last record is d's expiry, Tue 08:15Z.
  CHECK(report_text(r, {.zone = r.zone})
            .starts_with("Escalon report: 2026-11-23T09:00:00+01:00 .. 2026-11-24T09:15:00+01:00 (86 records; times in "
                         "Europe/Budapest)\n"));
  CHECK(report_text(r).starts_with("Escalon report: 2026-11-23T08:00:00Z .. 2026-11-24T08:15:00Z (86 records; times in UTC)\n"));
  CHECK(report_text(r, {.zone = "America/New_York"}).starts_with("Escalon report: 2026-11-23T03:00:00-05:00 .. "));
  CHECK_THROWS_WITH(report_text(r, {.zone = "Europe/Budapset"}),
                    "unknown time zone 'Europe/Budapset' (did you mean Europe/Budapest?); use an IANA name such as "
                    "Europe/Zagreb, or UTC");
  const auto j = nlohmann::json::parse(report_json(r));
  CHECK(j["from"] == "2026-11-23T08:00:00Z");
}

TEST_CASE("local time: offsets follow daylight saving time", "[report]") {
  using detail::format_local;
  // Budapest: CET (+01:00) until 2026-03-29 01:00Z, then CEST (+02:00) until 2026-10-25 01:00Z.
  CHECK(format_local(at("2026-03-29T00:59:59Z"), "Europe/Budapest") == "2026-03-29T01:59:59+01:00");
  CHECK(format_local(at("2026-03-29T01:00:00Z"), "Europe/Budapest") == "2026-03-29T03:00:00+02:00");
  CHECK(format_local(at("2026-10-25T00:30:00Z"), "Europe/Budapest") == "2026-10-25T02:30:00+02:00");
  CHECK(format_local(at("2026-10-25T01:30:00Z"), "Europe/Budapest") == "2026-10-25T02:30:00+01:00");
  CHECK(format_local(at("2026-12-24T08:00:00.250Z"), "Europe/Budapest") == "2026-12-24T09:00:00.250+01:00");
  CHECK(format_local(at("2026-12-24T08:00:00Z"), "Asia/Kolkata") == "2026-12-24T13:30:00+05:30");
  CHECK(format_local(at("2026-12-24T08:00:00Z"), "UTC") == "2026-12-24T08:00:00Z");
  CHECK(format_local(at("2026-12-24T08:00:00Z"), "") == "2026-12-24T08:00:00Z");
  CHECK_NOTHROW(detail::check_zone("Europe/Warsaw"));
  CHECK_THROWS_WITH(detail::check_zone("Mars/Olympus"), "unknown time zone 'Mars/Olympus'; use an IANA name such as Europe/Zagreb, or UTC");
}

TEST_CASE("report: an escalation's goto, a moved deadline, incidents, cases nobody was assigned", "[report]") {
  ManualClock clock{"2026-11-23T08:00:00Z"};
  MemoryStore store;
  Engine engine{{.clock = &clock, .store = &store}};
  engine.add_flows(test::compile(R"(flow: desk
start: ask
steps:
  ask:
    deadline:
      within: 1h
      escalate:
        - { at: 50%, goto: lead }
    on: { answered: done, look-up: lookup }
  lead:
    deadline: { within: 1h }
    on: { answered: done }
  lookup:
    call: crm.lookup
    retry: { attempts: 1 }
    next: done
  done: { end: true }
)"));
  for (const char* id : {"x1", "x2", "x3"}) engine.start("desk", {}, {.id = id});
  clock.set(at("2026-11-23T08:10:00Z"));
  engine.send("x2", "look-up");  // no handler: the one attempt fails, an incident
  engine.send("x3", "look-up");
  engine.resolve("x3");          // resolved: goes on to done
  clock.set(at("2026-11-23T09:00:00Z"));
  engine.run_due();              // x1: the 50% level moved it to lead at 08:30 (due 09:30)
  REQUIRE(engine.get("x1").steps.at(0) == "lead");
  engine.reschedule("x1", at("2026-11-23T10:30:00Z"));
  clock.set(at("2026-11-23T10:00:00Z"));
  engine.send("x1", "answered");  // after the first due time, before the moved one
  const auto r = make_report(store);
  // ask: x1 left at 08:30 by the goto (before 09:00), x2 and x3 at 08:10: met; lead: x1 left
  // at 10:00, judged on its last due time 10:30: met. lookup has no deadline.
  CHECK(r.deadlines_ended == 4);
  CHECK(r.deadlines_met == 4);
  CHECK(r.incidents == 1);  // x2; x3's was resolved
  CHECK(r.open == 1);
  // Nobody was ever assigned x1 or x3: one assignee or none is a first-contact resolution.
  CHECK(r.fcr == 2);
  CHECK(r.fcr_completed == 2);
}

TEST_CASE("report: a stage's deadline is neither an SLA nor the step's own expiry", "[report]") {
  ManualClock clock{"2026-11-23T08:00:00Z"};
  MemoryStore store;
  Engine engine{{.clock = &clock, .store = &store}};
  engine.add_flows(test::compile(R"(flow: staged
start: a
stages:
  early:
    steps: [a, b]
    on: { cancel-request: withdrawn }
    deadline: { within: 2h, expire: timed-out }
sla:
  resolution: { within: 1d }
steps:
  a:
    deadline: { within: 1h }
    on: { next: b }
  b:
    deadline: { within: 3h }
    on: { done: done }
  done: { end: true }
  withdrawn: { end: true, fail: true }
  timed-out: { end: true, fail: true }
)"));
  engine.start("staged", {}, {.id = "s1"});
  engine.start("staged", {}, {.id = "s2"});
  clock.set(at("2026-11-23T08:15:00Z"));
  engine.send("s2", "cancel-request");  // the stage's transition
  clock.set(at("2026-11-23T08:30:00Z"));
  engine.send("s1", "next");
  clock.set(at("2026-11-23T10:30:00Z"));
  engine.run_due();  // the stage deadline (due 10:00) moves s1 from b to timed-out
  REQUIRE(engine.get("s1").steps.at(0) == "timed-out");
  const auto r = make_report(store);
  // s1: a left 08:30 (due 09:00), b left 10:00 by the stage's expiry (its own due 11:30);
  // s2: a left 08:15. All met: only a step's own expire: is a miss of that step's deadline.
  CHECK(r.deadlines_ended == 3);
  CHECK(r.deadlines_met == 3);
  // The stage deadline's deadline-set ("stage:early") is no SLA.
  REQUIRE(r.slas.size() == 1);
  CHECK(r.slas.at("resolution").met == 2);
  CHECK(r.fcr_completed == 0);
  CHECK(r.fcr_failed == 2);
}
