// Stages (a group of steps sharing transitions and a deadline), SLAs that start in a step or
// stage, refusal reasons and forms demanded only of the events that complete a step.

#include <fmt/format.h>

#include "escalon/engine.hpp"
#include "escalon/loader.hpp"
#include "escalon/report.hpp"
#include "support.hpp"

using namespace escalon;
using namespace std::chrono_literals;
using escalon::test::at;

namespace {

constexpr const char* staged_flow = R"(flow: staged
version: 1
roles: [front, lead, tech]
data:
  consent: { type: bool, default: false }
  note: { type: string }
sla:
  repair-time: { within: 2h, start_in: repair, pause_in: [parts], warn_at: 50%, notify: [lead] }
stages:
  before-repair:
    steps: [intake, quote, pickup]
    on:
      cancel: cancelled
      note: { set: { note: event.text } }
    deadline: { within: 3h, escalate: [ { at: 50%, notify: lead, message: half the time is gone } ], expire: timed-out }
  repair:
    steps: [fix, parts]
start: intake
steps:
  intake:
    role: front
    form: { device: { type: string, required: true } }
    form_for: [submit]
    on:
      submit: { to: quote, when: consent, reason: consent to data processing is required }
      give-consent: { set: { consent: "true" } }
  quote:
    on:
      accept: pickup
      cancel: declined
  pickup:
    on: { picked: fix }
  fix:
    role: tech
    on: { need-parts: parts, done: closed }
  parts:
    on: { arrived: fix }
  closed: { end: true, outcome: repaired }
  cancelled: { end: true, outcome: cancelled }
  declined: { end: true, outcome: declined }
  timed-out: { end: true, outcome: timed-out }
)";

FlowPtr staged() {
  static const FlowPtr f = [] {
    auto r = validate_text(staged_flow, "staged.yaml");
    for (const auto& d : r.diagnostics) INFO(d.str());
    REQUIRE(r.error_count() == 0);
    REQUIRE(r.diagnostics.empty());
    return r.flows.at(0);
  }();
  return f;
}

struct Desk {
  ManualClock clock{"2026-11-23T08:00:00Z"};
  std::vector<Record> records;
  std::vector<Notification> notes;
  MemoryStore store;
  std::unique_ptr<Engine> engine;

  Desk() { open(); }
  void open() {
    engine = std::make_unique<Engine>(EngineOptions{
        .clock = &clock, .journal_sink = [this](const Record& r) { records.push_back(r); }, .store = &store});
    const std::vector<FlowPtr> flows{staged()};
    engine->add_flows(flows);
    engine->on_notify([this](const Notification& n) { notes.push_back(n); });
    engine->recover();
  }
  void until(const char* iso) {
    clock.set(at(iso));
    engine->run_due();
  }
  std::string step(const std::string& id) const { return engine->get(id).steps.at(0); }
  std::vector<const Record*> of(RecordType t) const {
    std::vector<const Record*> out;
    for (const auto& r : records)
      if (r.type == t) out.push_back(&r);
    return out;
  }
  void ready(const std::string& id) {
    engine->send(id, "give-consent");
    engine->send(id, "submit", {{"device", "phone"}});
  }
};

}  // namespace

TEST_CASE("a stage transition applies in each of its steps", "[stages]") {
  for (const char* where : {"intake", "pickup"}) {
    Desk d;
    const auto id = d.engine->start("staged");
    if (std::string(where) == "pickup") {
      d.ready(id);
      d.engine->send(id, "accept");
    }
    REQUIRE(d.step(id) == where);
    d.engine->send(id, "cancel");
    CHECK(d.step(id) == "cancelled");
    CHECK(d.engine->get(id).status == CaseStatus::completed);
    const auto left = d.of(RecordType::stage_left);
    REQUIRE(left.size() == 1);
    CHECK(left[0]->target == "before-repair");
  }
}

TEST_CASE("a step's own transition wins over its stage's for the same event", "[stages]") {
  Desk d;
  const auto id = d.engine->start("staged");
  d.ready(id);
  REQUIRE(d.step(id) == "quote");
  d.engine->send(id, "cancel");
  CHECK(d.step(id) == "declined");
}

TEST_CASE("an internal stage transition records data and stays in the step", "[stages]") {
  Desk d;
  const auto id = d.engine->start("staged");
  d.engine->send(id, "note", {{"text", "customer calls back at 3"}});
  CHECK(d.step(id) == "intake");
  CHECK(d.engine->get(id).data.at("note") == Value("customer calls back at 3"));
}

TEST_CASE("a form is demanded only of the events named in form_for", "[stages][forms]") {
  Desk d;
  const auto id = d.engine->start("staged");
  d.engine->send(id, "give-consent");  // the step's own event, not in form_for: no form
  try {
    d.engine->send(id, "submit");
    FAIL("submit without the form was accepted");
  } catch (const EventError& e) {
    CHECK(e.code() == Refusal::bad_data);
    CHECK(std::string(e.what()).find("form field 'device'") != std::string::npos);
  }
  d.engine->send(id, "cancel");  // the stage's event: never the step's form
  CHECK(d.step(id) == "cancelled");
}

TEST_CASE("a refused guard tells the transition's reason", "[stages][reasons]") {
  Desk d;
  const auto id = d.engine->start("staged");
  try {
    d.engine->send(id, "submit", {{"device", "phone"}}, {.actor = "agent-7", .key = "k1"});
    FAIL("submit without consent was accepted");
  } catch (const EventError& e) {
    CHECK(e.code() == Refusal::guard_refused);
    CHECK(e.reason() == "consent to data processing is required");
    CHECK(e.message() == "event 'submit' in step 'intake' refused: consent to data processing is required");
  }
  const auto rejected = d.of(RecordType::rejected);
  REQUIRE(rejected.size() == 1);
  CHECK(rejected[0]->message == "event 'submit' in step 'intake' refused: consent to data processing is required");
  // A retry with the same key hears the same reason, also from an engine reopened on the store.
  d.engine.reset();
  d.open();
  try {
    d.engine->send(id, "submit", {{"device", "phone"}}, {.actor = "agent-7", .key = "k1"});
    FAIL("the retry was accepted");
  } catch (const EventError& e) {
    CHECK(e.reason() == "consent to data processing is required");
  }
  CHECK(d.step(id) == "intake");
}

TEST_CASE("a stage deadline runs from entering the stage until leaving it", "[stages][deadlines]") {
  Desk d;
  const auto id = d.engine->start("staged");  // 08:00
  d.until("2026-11-23T08:30:00Z");
  d.ready(id);                                // quote: the stage deadline is not restarted
  d.until("2026-11-23T09:00:00Z");
  d.engine->send(id, "accept");               // pickup
  d.until("2026-11-23T09:29:59Z");
  CHECK(d.of(RecordType::escalated).empty());
  d.until("2026-11-23T09:30:00Z");            // 50% of 3h after 08:00
  const auto esc = d.of(RecordType::escalated);
  REQUIRE(esc.size() == 1);
  CHECK(esc[0]->message == "stage 'before-repair': half the time is gone");
  CHECK(esc[0]->step == "pickup");
  const auto view = d.engine->get(id);
  REQUIRE(view.deadlines.size() == 1);
  CHECK(view.deadlines[0].stage == "before-repair");
  CHECK(view.deadlines[0].due == at("2026-11-23T11:00:00Z"));
  // Restarted on the store, the deadline still expires on time.
  d.engine.reset();
  d.open();
  d.until("2026-11-23T11:00:00Z");
  CHECK(d.step(id) == "timed-out");
  const auto expired = d.of(RecordType::expired);
  REQUIRE(expired.size() == 1);
  CHECK(expired[0]->message == "deadline of stage 'before-repair'");
}

TEST_CASE("leaving a stage stops its deadline", "[stages][deadlines]") {
  Desk d;
  const auto id = d.engine->start("staged");
  d.ready(id);
  d.engine->send(id, "accept");
  d.engine->send(id, "picked");  // into stage repair
  d.until("2026-11-24T08:00:00Z");
  CHECK(d.step(id) == "fix");
  CHECK(d.of(RecordType::expired).empty());
  CHECK(d.of(RecordType::escalated).empty());
  const auto entered = d.of(RecordType::stage_entered);
  REQUIRE(entered.size() == 2);
  CHECK(entered[0]->target == "before-repair");
  CHECK(entered[1]->target == "repair");
  CHECK(entered[1]->step == "fix");
}

TEST_CASE("an SLA with start_in starts when the case first reaches its stage", "[stages][sla]") {
  Desk d;
  const auto id = d.engine->start("staged");
  auto sla = d.engine->get(id).slas.at(0);
  CHECK(sla.state == SlaView::State::not_started);
  d.ready(id);
  d.engine->send(id, "accept");
  d.until("2026-11-23T09:00:00Z");
  d.engine->send(id, "picked");  // fix: the repair SLA starts now, due 11:00
  sla = d.engine->get(id).slas.at(0);
  CHECK(sla.state == SlaView::State::running);
  CHECK(sla.due == at("2026-11-23T11:00:00Z"));
  d.until("2026-11-23T09:30:00Z");
  d.engine->send(id, "need-parts");  // paused with 1h30 left
  d.until("2026-11-23T10:30:00Z");
  d.engine->send(id, "arrived");     // resumed: due 12:00
  const auto resumed = d.of(RecordType::resumed);
  REQUIRE(resumed.size() == 1);
  CHECK(resumed[0]->due == at("2026-11-23T12:00:00Z"));
  CHECK(Record::from_json(resumed[0]->to_json()).due == at("2026-11-23T12:00:00Z"));  // as stores keep it
  CHECK(d.engine->get(id).slas.at(0).due == at("2026-11-23T12:00:00Z"));
  d.until("2026-11-23T12:00:00Z");
  std::vector<const Notification*> breach;
  for (const auto& n : d.notes)
    if (n.reason == "sla-breached") breach.push_back(&n);
  REQUIRE(breach.size() == 1);
  CHECK(breach[0]->to == std::vector<std::string>{"lead"});
  const auto warn = std::find_if(d.notes.begin(), d.notes.end(), [](const Notification& n) { return n.reason == "sla-warning"; });
  REQUIRE(warn != d.notes.end());
  CHECK(warn->at == at("2026-11-23T11:00:00Z"));  // 1h counted: 09:00-09:30 and 10:30-11:00
}

TEST_CASE("stage diagnostics", "[stages][loader]") {
  const auto diag = [](std::string_view text) {
    std::vector<std::string> out;
    for (const auto& d : validate_text(text, "f.yaml").diagnostics) out.push_back(d.str());
    return out;
  };
  CHECK(diag(R"(flow: f
stages:
  s: { steps: [a], on: { go: z } }
start: a
steps:
  a: { on: { go: z } }
  z: { end: true }
)") == std::vector<std::string>{
             "f.yaml:3:30: warning: every step of stage 's' handles event 'go' itself, so the stage's transition never applies"});
  // A step that only the stage's transitions lead out of is neither a dead end nor unreachable.
  CHECK(diag(R"(flow: f
stages:
  s: { steps: [a, b], on: { stop: z } }
start: a
steps:
  a: { on: { next: b } }
  b: {}
  z: { end: true }
)").empty());
}

TEST_CASE("a stage deadline carries over to a new flow version", "[stages][versions]") {
  Desk d;
  const auto id = d.engine->start("staged");  // 08:00: the stage deadline is due 11:00
  d.until("2026-11-23T09:00:00Z");
  // Version 2 adds a stage (its cases' clocks gain none: the layout comes from the version)
  // and keeps before-repair as it was.
  std::string v2 = staged_flow;
  v2.replace(v2.find("version: 1"), 10, "version: 2");
  v2.replace(v2.find("  repair:\n    steps: [fix, parts]"), 33, "  repair:\n    steps: [fix, parts]\n    deadline: { within: 1h, expire: closed }");
  auto r = validate_text(v2, "staged-v2.yaml");
  for (const auto& x : r.diagnostics) INFO(x.str());
  REQUIRE(r.error_count() == 0);
  d.engine->add_flows(r.flows);
  CHECK(d.engine->migrate({.flow = "staged", .to = 2}) == 1);
  auto view = d.engine->get(id);
  CHECK(view.version == 2);
  REQUIRE(view.deadlines.size() == 1);
  CHECK(view.deadlines[0].stage == "before-repair");
  CHECK(view.deadlines[0].due == at("2026-11-23T11:00:00Z"));  // kept, not restarted at 09:00
  d.until("2026-11-23T11:00:00Z");
  CHECK(d.step(id) == "timed-out");
}

TEST_CASE("report gives the time cases spent in each stage", "[stages][report]") {
  Desk d;
  const auto a = d.engine->start("staged");   // 08:00 before-repair
  d.until("2026-11-23T08:30:00Z");
  d.ready(a);                                  // quote: same stage
  d.until("2026-11-23T09:00:00Z");
  d.engine->send(a, "accept");
  d.until("2026-11-23T10:00:00Z");
  d.engine->send(a, "picked");                 // 10:00 leaves before-repair (2h), enters repair
  d.until("2026-11-23T12:00:00Z");
  d.engine->send(a, "done");                   // 12:00 leaves repair (2h)
  const auto b = d.engine->start("staged");   // 12:00
  d.until("2026-11-23T13:00:00Z");
  d.engine->cancel(b, "customer withdrew");    // cancelled inside the stage after 1h
  const auto r = make_report(d.store);
  REQUIRE(r.stages.count("staged/before-repair") == 1);
  const auto& before = r.stages.at("staged/before-repair");
  CHECK(before.visits == 2);
  CHECK(before.mean == Duration{std::chrono::minutes{90}});
  CHECK(before.p90 == Duration{std::chrono::hours{2}});
  REQUIRE(r.stages.count("staged/repair") == 1);
  CHECK(r.stages.at("staged/repair").visits == 1);
  CHECK(r.stages.at("staged/repair").mean == Duration{std::chrono::hours{2}});
  CHECK(report_text(r).find("Time per stage:") != std::string::npos);
  CHECK(report_json(r).find("\"time_per_stage\"") != std::string::npos);
}

TEST_CASE("parallel branches run inside their parent's stage without entering it again", "[stages][parallel]") {
  auto r = validate_text(R"(flow: split
stages:
  work:
    steps: [fork, a, b, meet]
    deadline: { within: 2h, escalate: [ { at: 50%, notify: lead } ] }
start: fork
steps:
  fork: { parallel: { branches: [a, b], join: meet } }
  a: { on: { done: meet } }
  b: { on: { done: meet } }
  meet: { join: all, next: z }
  z: { end: true }
)",
                         "split.yaml");
  for (const auto& x : r.diagnostics) INFO(x.str());
  REQUIRE(r.error_count() == 0);
  ManualClock clock{"2026-11-23T08:00:00Z"};
  std::vector<Record> records;
  Engine engine({.clock = &clock, .journal_sink = [&](const Record& x) { records.push_back(x); }});
  engine.add_flows(r.flows);
  const auto id = engine.start("split");
  clock.advance(90min);
  engine.run_due();
  std::size_t entered = 0, escalated = 0;
  for (const auto& x : records) {
    entered += x.type == RecordType::stage_entered;
    escalated += x.type == RecordType::escalated;
  }
  CHECK(entered == 1);    // the parent only
  CHECK(escalated == 1);  // one stage deadline, not one per branch
  for (const auto& child : engine.get(id).children) engine.send(child, "done");
  CHECK(engine.get(id).status == CaseStatus::completed);
}

TEST_CASE("a step's other events get the form's types without having to carry it", "[stages][forms]") {
  auto r = validate_text(R"yaml(flow: visit
data:
  slot: datetime
start: book
steps:
  book:
    form: { slot: { type: datetime, required: true } }
    form_for: [booked]
    on:
      booked: z
      reschedule: { to: z, when: "event.slot > now()", reason: the new slot must be in the future }
  z: { end: true }
)yaml",
                         "visit.yaml");
  REQUIRE(r.error_count() == 0);
  ManualClock clock{"2026-11-23T08:00:00Z"};
  Engine engine({.clock = &clock});
  engine.add_flows(r.flows);
  const auto id = engine.start("visit");
  try {
    engine.send(id, "reschedule", {{"slot", "2026-11-20T08:00:00Z"}});  // text from JSON, read as a datetime
    FAIL("a slot in the past was accepted");
  } catch (const EventError& e) {
    CHECK(e.reason() == "the new slot must be in the future");
  }
  engine.send(id, "reschedule", {{"slot", "2026-11-24T08:00:00Z"}});
  CHECK(engine.get(id).status == CaseStatus::completed);
  CHECK(engine.get(id).data.at("slot") == Value(at("2026-11-24T08:00:00Z")));
}

TEST_CASE("migrating between versions with and without stages keeps the journal and stored cases sound", "[stages][versions]") {
  Desk d;
  const auto id = d.engine->start("staged");  // intake, in before-repair; deadline due 11:00
  d.until("2026-11-23T09:40:00Z");            // its level (50%) fired at 09:30
  // Version 2: no stage before-repair (its deadline and fired level go); intake handles cancel
  // and times out itself.
  std::string v2 = staged_flow;
  v2.replace(v2.find("version: 1"), 10, "version: 2");
  const auto from = v2.find("  before-repair:");
  v2.erase(from, v2.find("  repair:") - from);
  v2.replace(v2.find("    form_for: [submit]\n"), 0, "    deadline: { within: 3h, expire: timed-out }\n");
  v2.replace(v2.find("      give-consent:"), 0, "      cancel: cancelled\n");
  auto r = validate_text(v2, "staged-v2.yaml");
  for (const auto& x : r.diagnostics) UNSCOPED_INFO(x.str());
  REQUIRE(r.error_count() == 0);
  d.engine->add_flows(r.flows);
  REQUIRE(d.engine->migrate({.flow = "staged", .to = 2}) == 1);
  for (const auto& dl : d.engine->get(id).deadlines) CHECK(dl.stage.empty());  // the step's own only
  const auto left = d.of(RecordType::stage_left);
  REQUIRE(left.size() == 1);
  CHECK(left[0]->target == "before-repair");
  // And back to version 1 under a new number: the stage is entered again, its deadline starts.
  std::string v3 = staged_flow;
  v3.replace(v3.find("version: 1"), 10, "version: 3");
  auto r3 = validate_text(v3, "staged-v3.yaml");
  REQUIRE(r3.error_count() == 0);
  d.engine->add_flows(r3.flows);
  REQUIRE(d.engine->migrate({.flow = "staged", .to = 3}) == 1);
  CHECK(d.of(RecordType::stage_entered).size() == 2);
  const auto dls = d.engine->get(id).deadlines;
  REQUIRE(dls.size() == 1);
  CHECK(dls[0].stage == "before-repair");
  CHECK(dls[0].due == at("2026-11-23T12:40:00Z"));
  // The stored case loads back.
  d.engine.reset();
  d.open();
  CHECK(d.engine->get(id).version == 3);
}

TEST_CASE("a fired level the new version's ladder lacks does not damage the stored case", "[stages][versions]") {
  Desk d;
  const auto id = d.engine->start("staged");
  d.until("2026-11-23T09:40:00Z");  // the stage's level 1 fired at 09:30
  std::string v2 = staged_flow;
  v2.replace(v2.find("version: 1"), 10, "version: 2");
  const std::string ladder = ", escalate: [ { at: 50%, notify: lead, message: half the time is gone } ]";
  v2.erase(v2.find(ladder), ladder.size());  // the same stage deadline without a ladder
  auto r = validate_text(v2, "staged-v2.yaml");
  REQUIRE(r.error_count() == 0);
  d.engine->add_flows(r.flows);
  REQUIRE(d.engine->migrate({.flow = "staged", .to = 2}) == 1);
  CHECK(d.engine->get(id).deadlines.at(0).level == 0);
  d.engine.reset();
  CHECK_NOTHROW(d.open());  // recovery reads the stored case back
  CHECK(d.engine->get(id).deadlines.at(0).due == at("2026-11-23T11:00:00Z"));
}
