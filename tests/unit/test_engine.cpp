// Runtime behaviour on a manual clock. Expected instants are worked out by hand in the
// comments (Europe/Zagreb is UTC+1 in November; office hours 08:00-16:00 local).

#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <thread>

#include <fmt/format.h>

#include "escalon/engine.hpp"
#include "escalon/loader.hpp"
#include "escalon/scenario.hpp"
#include "support.hpp"

using namespace escalon;
using namespace std::chrono_literals;
using escalon::test::at;

namespace {

std::vector<FlowPtr> flows_from(const std::string& yaml, const std::string& name = "test.yaml") {
  auto r = validate_text(yaml, name, std::string(ESCALON_SOURCE_DIR) + "/flows");
  std::string diags;
  for (const auto& d : r.diagnostics) diags += d.str() + "\n";
  INFO(diags);
  REQUIRE(r.ok());
  return r.flows;
}

std::vector<std::string> types(const std::vector<Record>& h) {
  std::vector<std::string> out;
  for (const auto& r : h) out.emplace_back(record_type_name(r.type));
  return out;
}

// A copy, so that `find_record(engine.history(id), ...)` never points into a temporary.
std::optional<Record> find_record(const std::vector<Record>& h, RecordType t, int nth = 0) {
  for (const auto& r : h)
    if (r.type == t && nth-- == 0) return r;
  return std::nullopt;
}

std::size_t count(const std::vector<Record>& h, RecordType t) {
  return static_cast<std::size_t>(std::count_if(h.begin(), h.end(), [&](const Record& r) { return r.type == t; }));
}

const char* ticket_flow = R"(flow: ticket
calendar: office
calendars:
  office: { timezone: Europe/Zagreb, hours: { mon-fri: "08:00-16:00" } }
data:
  customer: { type: string, required: true }
  priority: { type: enum, values: [low, normal, high], default: normal }
  amount: { type: int, default: 0 }
  note: string
  slot: datetime
sla:
  response: { within: 4 business hours, pause_in: [waiting], warn_at: 50% }
start: new
steps:
  new:
    role: agent
    form: { note: { type: string, required: true } }
    deadline:
      within: 1h
      escalate:
        - { at: 50%, notify: team-lead }
        - { at: 100%, notify: supervisor, reassign: "user:boss", priority: high }
        - { after: 30m, notify: director, repeat: every 15m, max: 2 }
    on:
      take: { to: working, when: "amount < 1000" }
      reject: closed
  working:
    role: agent
    on:
      ask: waiting
      done: closed
      note: { set: { note: event.text } }
  waiting:
    deadline: { within: 2 days, expire: closed }
    on:
      reply: working
  closed: { end: true, outcome: done }
)";

}  // namespace

TEST_CASE("a case starts with defaults, checked data and a journal", "[runtime]") {
  ManualClock clock{"2026-11-23T08:00:00Z"};
  Engine engine{{.clock = &clock}};
  auto flows = flows_from(ticket_flow);
  engine.add_flows(flows);
  const auto id = engine.start("ticket", {{"customer", "ACME"}}, {.actor = "agent-1", .channel = "phone"});
  CHECK(id == "ticket-1");
  const auto c = engine.get(id);
  CHECK(c.status == CaseStatus::active);
  CHECK(c.steps == std::vector<std::string>{"new"});
  CHECK(c.role == "agent");
  CHECK(c.assignee == "agent");
  CHECK(c.priority == "normal");
  CHECK(c.data.at("amount") == Value(0));
  REQUIRE(c.deadlines.size() == 1);
  CHECK(c.deadlines[0].due == at("2026-11-23T09:00:00Z"));
  REQUIRE(c.slas.size() == 1);
  CHECK(c.slas[0].state == SlaView::State::running);
  CHECK(c.slas[0].due == at("2026-11-23T12:00:00Z"));  // 09:00 local + 4 business hours = 13:00 local
  CHECK(types(engine.history(id)) ==
        std::vector<std::string>{"started", "entered", "assigned", "deadline-set", "deadline-set"});
  CHECK(engine.history(id)[0].actor == "agent-1");

  CHECK_THROWS_WITH(engine.start("ticket", {}), "flow 'ticket' needs 'customer' (string) to start a case");
  CHECK_THROWS_WITH(engine.start("ticket", {{"customer", "x"}, {"amount", "lots"}}), Catch::Contains("amount: expected int"));
  CHECK_THROWS_WITH(engine.start("ticket", {{"customer", "x"}, {"priority", "urgent"}}),
                    Catch::Contains("\"urgent\" is not one of low, normal, high"));
  CHECK_THROWS_WITH(engine.start("ticket", {{"customr", "x"}}), "flow 'ticket' has no data field 'customr'; did you mean 'customer'?");
  CHECK_THROWS_WITH(engine.start("tickets", {}), "unknown flow 'tickets'; did you mean 'ticket'?");
  CHECK_THROWS_AS(engine.start("ticket", {{"customer", "x"}}, {.id = "ticket-1"}), EventError);
  CHECK(engine.case_count() == 1);  // nothing half-started
}

TEST_CASE("events move cases; guards, forms and set apply; bad events change nothing", "[runtime]") {
  ManualClock clock{"2026-11-23T08:00:00Z"};
  Engine engine{{.clock = &clock}};
  engine.add_flows(flows_from(ticket_flow));
  const auto id = engine.start("ticket", {{"customer", "ACME"}, {"amount", 5000}});
  const auto before = engine.history(id).size();

  // The form demands `note`.
  CHECK_THROWS_WITH(engine.send(id, "take"), "event 'take' must carry form field 'note' (string) in step 'new'");
  // The guard does not hold (amount < 1000).
  CHECK_THROWS_WITH(engine.send(id, "take", {{"note", "x"}}), "event 'take' in step 'new': no transition applies (every `when` is false)");
  // Not handled here, with a suggestion.
  CHECK_THROWS_WITH(engine.send(id, "tak", {{"note", "x"}}),
                    "step 'new' of case 'ticket-1' does not handle event 'tak'; did you mean 'take'?");
  CHECK_THROWS_WITH(engine.send(id, "done"), "step 'new' of case 'ticket-1' does not handle event 'done'; it handles take, reject");
  CHECK_THROWS_AS(engine.send("nope", "take"), CaseError);
  CHECK_THROWS_WITH(engine.send("nope", "take"), "unknown case 'nope'");
  // Wrong payload type for the form.
  CHECK_THROWS_WITH(engine.send(id, "reject", {{"note", 5}}), "form field 'note': expected string, got int 5");

  const auto h = engine.history(id);
  CHECK(h.size() == before + 5);  // five `rejected` records, nothing else
  for (std::size_t i = before; i < h.size(); ++i) CHECK(h[i].type == RecordType::rejected);
  CHECK(engine.get(id).steps[0] == "new");
  CHECK(engine.get(id).data.count("note") == 0);
  // The refused call for an unknown case is in the engine journal too.
  CHECK(engine.journal_jsonl().find(R"("case":"nope","type":"rejected","event":"take","message":"unknown case 'nope'")") != std::string::npos);

  engine.update(id, {{"amount", 10}}, {.actor = "agent-1"});
  clock.advance(10min);
  engine.send(id, "take", {{"note", "checked"}}, {.actor = "agent-1", .channel = "chat"});
  auto c = engine.get(id);
  CHECK(c.steps[0] == "working");
  CHECK(c.data.at("note") == Value("checked"));
  const auto ev = find_record(engine.history(id), RecordType::event);
  REQUIRE(ev);
  CHECK(ev->actor == "agent-1");
  CHECK(ev->channel == "chat");
  CHECK(ev->at == at("2026-11-23T08:10:00Z"));

  // An internal transition (no `to`) records data without moving or restarting anything.
  engine.send(id, "note", {{"text", "called back"}});
  CHECK(engine.get(id).steps[0] == "working");
  CHECK(engine.get(id).data.at("note") == Value("called back"));
  const auto change = find_record(engine.history(id), RecordType::data_changed, 2);
  REQUIRE(change);
  CHECK(change->target == "note");
  CHECK(change->old_value == Value("checked"));
  CHECK(change->new_value == Value("called back"));

  engine.send(id, "done");
  c = engine.get(id);
  CHECK(c.status == CaseStatus::completed);
  CHECK(c.outcome == "done");
  CHECK_THROWS_WITH(engine.send(id, "done"), "case 'ticket-1' is completed; it takes no events");
}

TEST_CASE("an escalation ladder fires each level once, in time order, with repeats and max", "[runtime][escalation]") {
  ManualClock clock{"2026-11-23T08:00:00Z"};
  std::vector<Notification> notes;
  Engine engine{{.clock = &clock}};
  engine.on_notify([&](const Notification& n) { notes.push_back(n); });
  engine.add_flows(flows_from(ticket_flow));
  const auto id = engine.start("ticket", {{"customer", "ACME"}});
  clock.advance(3h);
  // 50% at 08:30, 100% at 09:00, the due time itself at 09:00, after 30m at 09:30, repeats at
  // 09:45 and 10:00 (max 2), and the SLA warning at 50% of 4 business hours (10:00Z).
  CHECK(engine.run_due() == 7);
  CHECK(engine.run_due() == 0);  // nothing fires twice
  const auto h = engine.history(id);
  std::vector<std::pair<int, int>> levels;
  std::vector<TimePoint> times;
  for (const auto& r : h)
    if (r.type == RecordType::escalated) {
      levels.emplace_back(r.level, r.repeat);
      times.push_back(r.at);
    }
  CHECK(levels == std::vector<std::pair<int, int>>{{1, 0}, {2, 0}, {3, 0}, {3, 1}, {3, 2}});
  CHECK(times == std::vector<TimePoint>{at("2026-11-23T08:30:00Z"), at("2026-11-23T09:00:00Z"), at("2026-11-23T09:30:00Z"),
                                        at("2026-11-23T09:45:00Z"), at("2026-11-23T10:00:00Z")});
  // The SLA warning reaches the role of the step the case is in (the SLA names no `notify:`).
  const auto warnings = std::count_if(notes.begin(), notes.end(), [](const Notification& n) {
    return n.reason == "sla-warning" && n.to == std::vector<std::string>{"agent"} && n.at == at("2026-11-23T10:00:00Z");
  });
  CHECK(warnings == 1);
  std::erase_if(notes, [](const Notification& n) { return n.reason != "escalation"; });
  REQUIRE(notes.size() == 5);
  CHECK(notes[0].to == std::vector<std::string>{"team-lead"});
  CHECK(notes[1].to == std::vector<std::string>{"supervisor"});
  CHECK(notes[4].repeat == 2);
  // Level 2 reassigned and raised the priority.
  auto c = engine.get(id);
  CHECK(c.assignee == "user:boss");
  CHECK(c.priority == "high");
  CHECK(c.level() == 3);
  CHECK(c.overdue());
  // Journal times never go backwards.
  for (std::size_t i = 1; i < h.size(); ++i) CHECK(h[i - 1].at <= h[i].at);
  // The SLA warning (50% of 4 business hours) came at 10:00Z, after the level-3 repeat of the same instant.
  const auto warn = find_record(h, RecordType::sla_warning);
  REQUIRE(warn);
  CHECK(warn->at == at("2026-11-23T10:00:00Z"));
}

TEST_CASE("leaving a step cancels its deadline; expiry moves the case", "[runtime][escalation]") {
  ManualClock clock{"2026-11-23T08:00:00Z"};
  Engine engine{{.clock = &clock}};
  engine.add_flows(flows_from(ticket_flow));
  const auto id = engine.start("ticket", {{"customer", "ACME"}});
  clock.advance(20min);
  engine.send(id, "take", {{"note", "n"}});
  clock.advance(5h);
  engine.run_due();
  CHECK(count(engine.history(id), RecordType::escalated) == 0);  // the `new` ladder was cancelled
  engine.send(id, "ask");
  CHECK(engine.get(id).deadlines.at(0).due == at("2026-11-25T13:20:00Z"));  // 2 wall days
  clock.advance(49h);
  engine.run_due();
  auto c = engine.get(id);
  CHECK(c.status == CaseStatus::completed);
  const auto exp = find_record(engine.history(id), RecordType::expired);
  REQUIRE(exp);
  CHECK(exp->at == at("2026-11-25T13:20:00Z"));
  CHECK(exp->step == "waiting");
  CHECK(exp->target == "closed");
}

TEST_CASE("SLAs pause and resume, warn once, breach once", "[runtime][sla]") {
  ManualClock clock{"2026-11-23T08:00:00Z"};  // Monday 09:00 local
  Engine engine{{.clock = &clock}};
  engine.add_flows(flows_from(ticket_flow));
  const auto id = engine.start("ticket", {{"customer", "ACME"}});
  clock.advance(30min);
  engine.send(id, "take", {{"note", "n"}});  // 09:30 local
  clock.advance(30min);
  engine.send(id, "ask");                    // 10:00 local: 1h counted, paused
  auto s = engine.get(id).slas.at(0);
  CHECK(s.state == SlaView::State::paused);
  CHECK(s.elapsed == 1h);
  CHECK(s.remaining == 3h);
  clock.advance(24h);                        // Tuesday 10:00 local: still paused, nothing fires
  CHECK(engine.run_due() == 0);
  engine.send(id, "reply");                  // resumes; 3h left -> due Tue 13:00 local = 12:00Z
  s = engine.get(id).slas.at(0);
  CHECK(s.state == SlaView::State::running);
  CHECK(s.due == at("2026-11-24T12:00:00Z"));
  clock.advance(4h);
  engine.run_due();
  const auto h = engine.history(id);
  CHECK(count(h, RecordType::paused) == 1);
  CHECK(count(h, RecordType::resumed) == 1);
  CHECK(count(h, RecordType::sla_warning) == 1);
  CHECK(find_record(h, RecordType::sla_warning)->at == at("2026-11-24T10:00:00Z"));  // 2h counted
  REQUIRE(count(h, RecordType::sla_breached) == 1);
  CHECK(find_record(h, RecordType::sla_breached)->at == at("2026-11-24T12:00:00Z"));
  s = engine.get(id).slas.at(0);
  CHECK(s.state == SlaView::State::breached);
  CHECK(s.remaining == -1h);
  engine.send(id, "done");
  CHECK(count(engine.history(id), RecordType::sla_met) == 0);  // breached stays breached
}

TEST_CASE("an SLA met in time records sla-met and stops", "[runtime][sla]") {
  ManualClock clock{"2026-11-23T08:00:00Z"};
  Engine engine{{.clock = &clock}};
  engine.add_flows(flows_from(ticket_flow));
  const auto id = engine.start("ticket", {{"customer", "ACME"}});
  engine.send(id, "reject", {{"note", "spam"}});
  const auto h = engine.history(id);
  REQUIRE(count(h, RecordType::sla_met) == 1);
  CHECK(engine.get(id).slas.at(0).state == SlaView::State::met);
  clock.advance(100h);
  CHECK(engine.run_due() == 0);
}

TEST_CASE("actions: results merge, failures retry with backoff, then an incident a person resolves", "[runtime][action]") {
  const char* yaml = R"(flow: order
data:
  item: { type: string, required: true }
  order_id: string
  tries: { type: int, default: 0 }
start: place
steps:
  place:
    call: erp.order
    with: { what: item }
    retry: { attempts: 3, backoff: 1m, factor: 2 }
    next: placed
  placed: { end: true }
)";
  ManualClock clock{"2026-11-23T08:00:00Z"};
  Engine engine{{.clock = &clock}};
  engine.add_flows(flows_from(yaml));
  int calls = 0;
  bool fail = true;
  std::vector<int> attempts;
  engine.on_action("erp.order", [&](ActionContext& a) {
    ++calls;
    attempts.push_back(a.attempt());
    CHECK(a.inputs().at("what") == Value("tv"));
    if (fail) throw std::runtime_error("ERP timeout");
    a.set("order_id", "PO-" + std::to_string(calls));
  });
  const auto id = engine.start("order", {{"item", "tv"}});
  CHECK(calls == 1);
  CHECK(engine.get(id).steps[0] == "place");
  clock.advance(1min);  // retry 2 after 1m
  engine.run_due();
  CHECK(calls == 2);
  clock.advance(1min);  // retry 3 is 2m after retry 2
  engine.run_due();
  CHECK(calls == 2);
  clock.advance(1min);
  engine.run_due();
  CHECK(calls == 3);
  auto c = engine.get(id);
  CHECK(c.status == CaseStatus::incident);
  CHECK(c.incident == "action 'erp.order' failed after 3 attempts: ERP timeout");
  CHECK(attempts == std::vector<int>{1, 2, 3});
  const auto h = engine.history(id);
  CHECK(count(h, RecordType::action_failed) == 3);
  CHECK(find_record(h, RecordType::action_failed, 2)->at == at("2026-11-23T08:03:00Z"));
  CHECK_THROWS_WITH(engine.send(id, "anything"), Catch::Contains("until the incident is retried or resolved"));

  fail = false;
  engine.retry(id, {.actor = "ops"});
  c = engine.get(id);
  CHECK(c.status == CaseStatus::completed);
  CHECK(c.data.at("order_id") == Value("PO-4"));
  CHECK(attempts.back() == 1);  // a retry by a person starts counting again
  CHECK(count(engine.history(id), RecordType::resolved) == 1);

  // Resolving by hand skips the action.
  fail = true;
  const auto id2 = engine.start("order", {{"item", "tv"}});
  clock.advance(10min);
  engine.run_due();
  REQUIRE(engine.get(id2).status == CaseStatus::incident);
  CHECK_THROWS_WITH(engine.resolve(id2, {{"order_idd", "x"}}), "flow 'order' has no data field 'order_idd'; did you mean 'order_id'?");
  engine.resolve(id2, {{"order_id", "PO-manual"}}, {}, {.actor = "ops"});
  CHECK(engine.get(id2).status == CaseStatus::completed);
  CHECK(engine.get(id2).data.at("order_id") == Value("PO-manual"));
}

TEST_CASE("a handler's bad results or missing handler never corrupt the engine", "[runtime][action]") {
  const char* yaml = R"(flow: bad
data: { n: int }
start: a
steps:
  a: { call: calc, retry: { attempts: 1 }, next: z, on_error: manual }
  manual: { on: { fixed: z } }
  z: { end: true }
)";
  ManualClock clock{"2026-11-23T08:00:00Z"};
  Engine engine{{.clock = &clock}};
  engine.add_flows(flows_from(yaml));
  auto no_handler = engine.start("bad");
  CHECK(engine.get(no_handler).steps[0] == "manual");  // on_error
  CHECK(find_record(engine.history(no_handler), RecordType::action_failed)->message ==
        "no handler is registered for action 'calc' (Engine::on_action)");
  engine.on_action("calc", [](ActionContext& a) { a.set("n", "not a number"); });
  auto wrong_type = engine.start("bad");
  CHECK(engine.get(wrong_type).steps[0] == "manual");
  CHECK(find_record(engine.history(wrong_type), RecordType::action_failed)->message == "action 'calc' result: n: expected int, got string \"not a number\"");
  engine.on_action("calc", [](ActionContext& a) { a.set("m", 1); });
  auto unknown = engine.start("bad");
  CHECK(find_record(engine.history(unknown), RecordType::action_failed)->message ==
        "action 'calc' returned 'm', which is not a data field of flow 'bad'");
  engine.on_action("calc", [](ActionContext&) { throw 42; });
  auto odd = engine.start("bad");
  CHECK(find_record(engine.history(odd), RecordType::action_failed)->message == "the handler threw a non-standard exception");
  CHECK(engine.get(odd).data.count("n") == 0);
}

TEST_CASE("handlers may call the engine again", "[runtime][action]") {
  const char* yaml = R"(flow: chain
data: { other: string }
start: a
steps:
  a: { call: spawn, next: z }
  z: { end: true }
)";
  ManualClock clock{"2026-11-23T08:00:00Z"};
  Engine engine{{.clock = &clock}};
  engine.add_flows(flows_from(yaml));
  int depth = 0;
  engine.on_action("spawn", [&](ActionContext& a) {
    if (++depth < 3) a.set("other", engine.start("chain"));
  });
  std::vector<std::string> seen;
  engine.on_notify([&](const Notification& n) { seen.push_back(engine.get(n.case_id).id); });
  const auto id = engine.start("chain");
  CHECK(engine.get(id).status == CaseStatus::completed);
  CHECK(engine.case_count() == 3);
}

TEST_CASE("decisions and rule tables choose the next step", "[runtime][decision]") {
  const char* yaml = R"(flow: route
data:
  product: string
  vip: { type: bool, default: false }
  team: string
rules:
  routing:
    inputs: [product]
    outputs: { to: string, team: string }
    rows:
      - [tv, tv-desk, tv-team]
      - [-, general, front]
start: triage
steps:
  triage:
    decide:
      - { to: vip-desk, when: vip }
      - { to: by-rule, set: { team: "'unset'" } }
  by-rule: { rule: routing }
  vip-desk: { role: vip, on: { done: z } }
  tv-desk: { role: tv, assign: rule('routing').team, on: { done: z } }
  general: { role: front, on: { done: z } }
  z: { end: true }
)";
  ManualClock clock{"2026-11-23T08:00:00Z"};
  Engine engine{{.clock = &clock}};
  engine.add_flows(flows_from(yaml));
  CHECK(engine.get(engine.start("route", {{"vip", true}})).steps[0] == "vip-desk");
  const auto tv = engine.start("route", {{"product", "tv"}});
  CHECK(engine.get(tv).steps[0] == "tv-desk");
  CHECK(engine.get(tv).assignee == "tv-team");
  CHECK(engine.get(tv).data.at("team") == Value("unset"));
  CHECK(engine.get(engine.start("route", {{"product", "fridge"}})).steps[0] == "general");
  CHECK(types(engine.history(tv)) ==
        std::vector<std::string>{"started", "entered", "data-changed", "left", "entered", "left", "entered", "assigned"});
}

TEST_CASE("a decision with no applicable branch raises an incident", "[runtime][decision]") {
  const char* yaml = R"(flow: stuck
data: { x: int }
start: d
steps:
  d: { decide: [ { to: z, when: "x > 1" } ] }
  z: { end: true }
)";
  ManualClock clock{"2026-11-23T08:00:00Z"};
  Engine engine{{.clock = &clock}};
  auto r = validate_text(yaml, "stuck.yaml");
  REQUIRE(r.error_count() == 0);
  engine.add_flows(r.flows);
  const auto id = engine.start("stuck", {{"x", 0}});
  CHECK(engine.get(id).status == CaseStatus::incident);
  engine.resolve(id, {}, "z");
  CHECK(engine.get(id).status == CaseStatus::completed);
}

TEST_CASE("wait steps wait for a duration or until a datetime", "[runtime][wait]") {
  const char* yaml = R"(flow: waits
data: { slot: datetime }
start: cool
steps:
  cool: { wait: { for: 2h }, next: until }
  until: { wait: { until: slot - 1h }, next: z, on: { cancel: z } }
  z: { end: true }
)";
  ManualClock clock{"2026-11-23T08:00:00Z"};
  Engine engine{{.clock = &clock}};
  engine.add_flows(flows_from(yaml));
  const auto id = engine.start("waits", {{"slot", "2026-11-23T15:00:00Z"}});
  clock.advance(1h);
  engine.run_due();
  CHECK(engine.get(id).steps[0] == "cool");
  clock.advance(1h);
  engine.run_due();
  CHECK(engine.get(id).steps[0] == "until");
  clock.set(at("2026-11-23T14:00:00Z"));
  engine.run_due();
  CHECK(engine.get(id).status == CaseStatus::completed);
  const auto done = find_record(engine.history(id), RecordType::completed);
  CHECK(done->at == at("2026-11-23T14:00:00Z"));
}

TEST_CASE("an `at:` deadline follows the data it reads; reschedule moves it by API", "[runtime][deadline]") {
  const char* yaml = R"(flow: visit
data: { slot: datetime }
start: book
steps:
  book: { on: { booked: { to: visit, set: { slot: event.slot } } } }
  visit:
    deadline: { at: slot + 2h, escalate: [ { at: 100%, notify: dispatch } ] }
    on: { fixed: z, moved: { set: { slot: event.slot } } }
  z: { end: true }
)";
  ManualClock clock{"2026-11-23T08:00:00Z"};
  Engine engine{{.clock = &clock}};
  engine.add_flows(flows_from(yaml));
  const auto id = engine.start("visit");
  engine.send(id, "booked", {{"slot", "2026-11-24T09:00:00Z"}});
  CHECK(engine.get(id).deadlines.at(0).due == at("2026-11-24T11:00:00Z"));
  engine.send(id, "moved", {{"slot", "2026-11-25T09:00:00Z"}});  // the customer moved the visit
  CHECK(engine.get(id).deadlines.at(0).due == at("2026-11-25T11:00:00Z"));
  engine.update(id, {{"slot", "2026-11-26T09:00:00Z"}});
  CHECK(engine.get(id).deadlines.at(0).due == at("2026-11-26T11:00:00Z"));
  engine.reschedule(id, at("2026-11-23T12:00:00Z"));
  clock.advance(5h);
  engine.run_due();
  const auto h = engine.history(id);
  CHECK(count(h, RecordType::deadline_set) == 4);
  REQUIRE(count(h, RecordType::escalated) == 1);
  CHECK(find_record(h, RecordType::escalated)->at == at("2026-11-23T12:00:00Z"));
  // Moving the deadline again does not fire the level a second time.
  engine.reschedule(id, at("2026-11-23T14:00:00Z"));
  clock.advance(5h);
  engine.run_due();
  CHECK(count(engine.history(id), RecordType::escalated) == 1);
}

TEST_CASE("work queues: query by role, assignee, overdue and level, sorted by priority", "[runtime][query]") {
  ManualClock clock{"2026-11-23T08:00:00Z"};
  Engine engine{{.clock = &clock}};
  engine.add_flows(flows_from(ticket_flow));
  const auto a = engine.start("ticket", {{"customer", "A"}, {"priority", "low"}});
  clock.advance(1min);
  const auto b = engine.start("ticket", {{"customer", "B"}, {"priority", "high"}});
  clock.advance(1min);
  const auto c = engine.start("ticket", {{"customer", "C"}});
  engine.send(c, "take", {{"note", "n"}});
  auto agents = engine.query({.role = "agent"});
  REQUIRE(agents.size() == 3);
  CHECK(agents[0].id == b);  // high first
  CHECK(agents[1].id == c);  // normal
  CHECK(agents[2].id == a);  // low
  CHECK(engine.query({.step = "working"}).size() == 1);
  CHECK(engine.query({.overdue = true}).empty());
  clock.advance(62min);  // a and b are past 1h; c has no deadline in `working`
  engine.run_due();
  CHECK(engine.query({.overdue = true}).size() == 2);
  CHECK(engine.query({.min_level = 2}).size() == 2);
  CHECK(engine.query({.assignee = "user:boss"}).size() == 2);
  CHECK(engine.query({.role = "agent", .limit = 1}).size() == 1);
  engine.cancel(a, "duplicate", {.actor = "sup"});
  CHECK(engine.query({.role = "agent"}).size() == 2);
  CHECK(engine.query({.status = CaseStatus::cancelled}).size() == 1);
  CHECK_THROWS_WITH(engine.cancel(a), "case 'ticket-1' is already cancelled");
  clock.advance(10h);
  engine.run_due();
  CHECK(find_record(engine.history(a), RecordType::cancelled)->message == "duplicate");
  CHECK(count(engine.history(a), RecordType::escalated) == 2);  // nothing after the cancel
}

TEST_CASE("same flows, inputs and clock give the same journal, byte for byte", "[runtime][determinism]") {
  auto run = [] {
    ManualClock clock{"2026-11-23T08:00:00Z"};
    Engine engine{{.clock = &clock}};
    engine.load({std::string(ESCALON_SOURCE_DIR) + "/flows"});
    for (int i = 0; i < 20; ++i) {
      const auto id = engine.start("technician-visit", {{"customer", "C" + std::to_string(i)}});
      clock.advance(std::chrono::minutes{7 * i % 30});
      engine.send(id, "submit", {{"preferred_slots", List{"2026-11-25T09:00:00Z"}}, {"product", "tv"}, {"parts_needed", i % 3 == 0}});
    }
    for (int h = 0; h < 72; ++h) {
      clock.advance(1h);
      engine.run_due();
    }
    return engine.journal_jsonl();
  };
  const auto a = run();
  const auto b = run();
  CHECK(a.size() > 10000);
  CHECK(a == b);
}

TEST_CASE("concurrent sends and queries from many threads are safe", "[runtime][threads]") {
  ManualClock clock{"2026-11-23T08:00:00Z"};
  Engine engine{{.clock = &clock}};
  engine.add_flows(flows_from(ticket_flow));
  constexpr int threads = 4, per_thread = 200;
  std::vector<std::vector<std::string>> ids(threads);
  for (int t = 0; t < threads; ++t)
    for (int i = 0; i < per_thread; ++i) ids[static_cast<std::size_t>(t)].push_back(engine.start("ticket", {{"customer", "x"}}));
  const auto shared = engine.start("ticket", {{"customer", "shared"}});
  engine.send(shared, "take", {{"note", "n"}});
  std::atomic<int> shared_notes{0};
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t)
    pool.emplace_back([&, t] {
      for (const auto& id : ids[static_cast<std::size_t>(t)]) {
        engine.send(id, "take", {{"note", "n"}});
        engine.send(shared, "note", {{"text", "t" + std::to_string(t)}});
        ++shared_notes;
        (void)engine.query({.role = "agent", .limit = 5});
        engine.send(id, "done");
      }
    });
  for (auto& th : pool) th.join();
  CHECK(engine.query({.status = CaseStatus::completed}).size() == threads * per_thread);
  // Every note to the shared case was applied, one after the other.
  const auto h = engine.history(shared);
  CHECK(count(h, RecordType::event) == 1 + static_cast<std::size_t>(shared_notes.load()));
  // The journal is one sequence.
  std::uint64_t last = 0;
  for (const auto& r : h) {
    CHECK(r.seq > last);
    last = r.seq;
  }
}

TEST_CASE("the technician-visit flow from flows/ runs end to end", "[runtime][flows]") {
  ManualClock clock{"2026-11-23T08:00:00Z"};  // Monday 09:00 in Zagreb
  Engine engine{{.clock = &clock}};
  engine.load({std::string(ESCALON_SOURCE_DIR) + "/flows"});
  std::vector<Notification> notes;
  engine.on_notify([&](const Notification& n) { notes.push_back(n); });
  const auto id = engine.start("technician-visit", {{"customer", "ACME"}}, {.channel = "phone"});
  clock.advance(5min);
  engine.send(id, "submit",
              {{"preferred_slots", List{"2026-11-25T09:00:00Z"}}, {"product", "TV"}, {"parts_needed", true}},
              {.actor = "agent-17", .channel = "phone"});
  CHECK(engine.get(id).steps[0] == "order-parts");  // the guard saw the form's parts_needed
  clock.advance(30h);
  engine.run_due();
  auto c = engine.get(id);
  CHECK(c.assignee == "parts-lead");
  CHECK(c.priority == "high");
  // L1 at 80% of 1 business day: 6h24m of working time after Mon 09:05 local = Mon 15:29 local.
  const auto h = engine.history(id);
  REQUIRE(count(h, RecordType::escalated) == 2);
  CHECK(find_record(h, RecordType::escalated, 0)->at == at("2026-11-23T14:29:00Z"));
  CHECK(find_record(h, RecordType::escalated, 1)->at == at("2026-11-24T08:05:00Z"));
  CHECK(find_record(h, RecordType::sla_warning)->at == at("2026-11-24T12:00:00Z"));
  engine.send(id, "parts-arrived");
  // 4 business hours from Tue 15:05 local: 55 min on Tuesday, 3h05 on Wednesday -> 11:05 local.
  CHECK(engine.get(id).deadlines.at(0).due == at("2026-11-25T10:05:00Z"));
  engine.send(id, "booked", {{"slot", "2026-11-26T09:00:00Z"}});
  CHECK(engine.get(id).deadlines.at(0).due == at("2026-11-26T11:00:00Z"));  // at: slot + 2h
  clock.set(at("2026-11-26T12:00:00Z"));
  engine.send(id, "fixed");
  c = engine.get(id);
  CHECK(c.status == CaseStatus::completed);
  CHECK(c.slas.at(0).state == SlaView::State::breached);
  CHECK(std::any_of(notes.begin(), notes.end(),
                    [](const Notification& n) { return n.reason == "sla-breached" && n.message == "SLA 'resolution' breached"; }));
}

TEST_CASE("a team clock (OLA) counts only while the case is with that team", "[runtime][sla]") {
  const char* yaml = R"(flow: handover
roles: [front-office, back-office]
sla:
  customer: { within: 8h }
  back-office-ola: { within: 2h, role: back-office }
start: front
steps:
  front: { role: front-office, on: { hand-over: back } }
  back: { role: back-office, on: { ask-front: front-again, solved: done } }
  front-again: { role: front-office, on: { answered: back } }
  done: { end: true }
)";
  ManualClock clock{"2026-11-23T08:00:00Z"};
  Engine engine{{.clock = &clock}};
  engine.add_flows(flows_from(yaml));
  const auto id = engine.start("handover");
  clock.advance(1h);
  CHECK(engine.get(id).slas[1].state == SlaView::State::paused);  // not with the back office yet
  engine.send(id, "hand-over");
  clock.advance(30min);
  engine.send(id, "ask-front");
  clock.advance(3h);  // the front office takes its time: not the back office's
  engine.send(id, "answered");
  clock.advance(1h);
  auto c = engine.get(id);
  CHECK(c.slas[0].elapsed == 5h + 30min);  // the customer's clock saw everything
  CHECK(c.slas[1].elapsed == 90min);       // the back office: 30 min + 1 h
  CHECK(c.slas[1].state == SlaView::State::running);
  clock.advance(31min);
  engine.run_due();
  CHECK(engine.get(id).slas[1].state == SlaView::State::breached);
  const auto h = engine.history(id);
  CHECK(find_record(h, RecordType::sla_breached)->target == "back-office-ola");
  CHECK(find_record(h, RecordType::sla_breached)->at == at("2026-11-23T14:00:00Z"));
}

TEST_CASE("a calendar change moves running deadlines by each deadline's policy", "[runtime][calendar]") {
  const char* yaml = R"(flow: policies
calendar: office
calendars:
  office: { timezone: UTC, hours: { mon-fri: "08:00-16:00" } }
data: { policy: { type: enum, values: [keep, recompute, carry] } }
sla:
  resolution: { within: 8 business hours }
start: pick
steps:
  pick:
    decide:
      - { to: keep, when: policy == keep }
      - { to: recompute, when: policy == recompute }
      - { to: carry }
  keep: { deadline: { within: 8 business hours, on_change: keep }, on: { x: z } }
  recompute: { deadline: { within: 8 business hours, on_change: recompute }, on: { x: z } }
  carry: { deadline: { within: 8 business hours, on_change: carry }, on: { x: z } }
  z: { end: true }
)";
  ManualClock clock{"2026-11-23T08:00:00Z"};  // Monday 08:00 UTC
  Engine engine{{.clock = &clock}};
  engine.add_flows(flows_from(yaml));
  const auto keep = engine.start("policies", {{"policy", "keep"}});
  const auto recompute = engine.start("policies", {{"policy", "recompute"}});
  const auto carry = engine.start("policies", {{"policy", "carry"}});
  CHECK(engine.get(keep).deadlines.at(0).due == at("2026-11-23T16:00:00Z"));
  clock.advance(4h);
  // The office closes on Monday after all (a new holiday), announced at noon.
  CalendarSpec closed_monday;
  closed_monday.name = "office";
  closed_monday.timezone = "UTC";
  for (int d = 0; d < 5; ++d) closed_monday.weekly[static_cast<std::size_t>(d)] = {{8 * 60, 16 * 60}};
  closed_monday.holidays = {std::chrono::year{2026} / std::chrono::November / 23};
  CHECK(engine.update_calendar(closed_monday) == 1);
  CHECK(engine.get(keep).deadlines.at(0).due == at("2026-11-23T16:00:00Z"));       // keep: unchanged
  CHECK(engine.get(recompute).deadlines.at(0).due == at("2026-11-24T16:00:00Z"));  // from Monday 08:00 again: all of Tuesday
  CHECK(engine.get(carry).deadlines.at(0).due == at("2026-11-24T12:00:00Z"));      // 4h used, 4h left from Tuesday 08:00
  CHECK(engine.get(carry).slas.at(0).due == at("2026-11-24T12:00:00Z"));          // SLAs carry
  const auto moved = find_record(engine.history(carry), RecordType::deadline_set, 2);
  REQUIRE(moved);
  CHECK(moved->message == "calendar 'office' changed");
  CalendarSpec unknown = closed_monday;
  unknown.name = "elsewhere";
  CHECK(engine.update_calendar(unknown) == 0);
}

TEST_CASE("a level that a recomputed deadline puts in the past happens when it was recomputed", "[runtime][calendar]") {
  const char* yaml = R"(flow: short-days
calendar: office
calendars:
  office: { timezone: UTC, hours: { mon-fri: "08:00-10:00" } }
start: wait
steps:
  wait:
    deadline:
      within: 8 business hours
      on_change: recompute
      escalate: [ { at: 50%, notify: lead } ]
    on: { x: z }
  z: { end: true }
)";
  ManualClock clock{"2026-11-23T08:00:00Z"};  // Monday
  Engine engine{{.clock = &clock}};
  engine.add_flows(flows_from(yaml));
  const auto id = engine.start("short-days");
  CHECK(engine.get(id).deadlines.at(0).due == at("2026-11-26T10:00:00Z"));  // 2 h a day: Thursday 10:00
  clock.advance(6h);
  CHECK(engine.run_due() == 0);  // 50 % is Tuesday 10:00
  // At 14:00 the office turns out to work 08:00-16:00: recomputed, 50 % was Monday 12:00.
  CalendarSpec longer;
  longer.name = "office";
  longer.timezone = "UTC";
  for (int d = 0; d < 5; ++d) longer.weekly[static_cast<std::size_t>(d)] = {{8 * 60, 16 * 60}};
  CHECK(engine.update_calendar(longer) == 1);
  CHECK(engine.get(id).deadlines.at(0).due == at("2026-11-23T16:00:00Z"));
  // The level cannot have happened before the change that put it in the past.
  const auto h = engine.history(id);
  const auto set = find_record(h, RecordType::deadline_set, 1);
  const auto level = find_record(h, RecordType::escalated);
  REQUIRE(set);
  REQUIRE(level);
  CHECK(set->at == at("2026-11-23T14:00:00Z"));
  CHECK(level->at == at("2026-11-23T14:00:00Z"));
  CHECK(set->seq < level->seq);
  for (std::size_t i = 1; i < h.size(); ++i) CHECK(h[i - 1].at <= h[i].at);
}

TEST_CASE("scenarios run in time order and report refused events", "[runtime][scenario]") {
  const auto flows = load_flows({std::string(ESCALON_SOURCE_DIR) + "/flows"});
  const auto sc = load_scenario(std::string(ESCALON_SOURCE_DIR) + "/examples/scenarios/technician-visit.yaml");
  const auto r = run_scenario(sc, flows);
  REQUIRE(r.cases.size() == 2);
  CHECK(r.cases[0].status == "completed");
  CHECK(r.cases[1].step == "closed-no-reply");  // 3 days without the customer's reply
  REQUIRE(r.refused.size() == 1);
  CHECK(r.refused[0].find("does not handle event 'booked'") != std::string::npos);
  for (std::size_t i = 0; i < r.journal.size(); ++i) CHECK(r.journal[i].seq == i + 1);
  for (std::size_t i = 1; i < r.journal.size(); ++i) CHECK(r.journal[i - 1].at <= r.journal[i].at);
  // The visit deadline followed the moved slot (update at 2026-11-25T16:00Z): slot + 2h.
  bool moved = false;
  for (const auto& rec : r.journal)
    moved = moved || (rec.type == RecordType::deadline_set && rec.step == "visit" && rec.due == at("2026-11-27T15:00:00Z"));
  CHECK(moved);
  CHECK_THROWS_AS(load_scenario(std::string(ESCALON_SOURCE_DIR) + "/flows/technician-visit.yaml"), FlowError);
}

namespace {
const char* parent_flow = R"(flow: parent
data:
  item: { type: string, required: true }
  order: string
start: intake
steps:
  intake: { on: { go: parts } }
  parts:
    subflow: { flow: child, input: { item: item }, output: { order: order_id }, on_failure: manual }
    next: done
  manual: { on: { fixed: done } }
  done: { end: true }
)";
const char* child_flow = R"(flow: child
data:
  item: { type: string, required: true }
  order_id: string
start: order
steps:
  order: { call: erp.order, retry: { attempts: 1 }, next: confirm }
  confirm: { on: { confirmed: z, lost: broken } }
  broken: { on: { x: z } }
  z: { end: true }
)";
}  // namespace

// Writes flows to a temporary folder and loads them together (sub-flows are checked across files).
std::vector<FlowPtr> load_together(const std::vector<std::pair<std::string, std::string>>& files) {
  const auto dir = std::filesystem::temp_directory_path() / ("escalon-flows-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  std::vector<std::string> paths;
  for (const auto& [name, text] : files) {
    std::ofstream(dir / name) << text;
    paths.push_back((dir / name).string());
  }
  auto flows = load_flows(std::span<const std::string>(paths));
  std::filesystem::remove_all(dir);
  return flows;
}

TEST_CASE("a sub-flow runs as a child case; its output and failure reach the parent", "[runtime][subflow]") {
  ManualClock clock{"2026-11-23T08:00:00Z"};
  Engine engine{{.clock = &clock}};
  engine.add_flows(load_together({{"parent.yaml", parent_flow}, {"child.yaml", child_flow}}));
  int n = 0;
  engine.on_action("erp.order", [&](ActionContext& a) {
    CHECK(a.data().at("item") == Value("tv"));
    a.set("order_id", "PO-" + std::to_string(++n));
  });
  const auto p = engine.start("parent", {{"item", "tv"}});
  engine.send(p, "go");
  auto pv = engine.get(p);
  REQUIRE(pv.children.size() == 1);
  const auto child = pv.children[0];
  CHECK(child == p + "/parts");
  CHECK(engine.get(child).parent == p);
  CHECK(engine.get(child).steps[0] == "confirm");
  CHECK(engine.get(p).steps[0] == "parts");
  engine.send(child, "confirmed");
  pv = engine.get(p);
  CHECK(engine.get(child).status == CaseStatus::completed);
  CHECK(pv.status == CaseStatus::completed);
  CHECK(pv.data.at("order") == Value("PO-1"));  // output: { order: order_id }

  // A child that fails (its action has no retries left) sends the parent to on_failure.
  engine.on_action("erp.order", [](ActionContext&) { throw std::runtime_error("ERP down"); });
  const auto p2 = engine.start("parent", {{"item", "tv"}});
  engine.send(p2, "go");
  CHECK(engine.get(p2).steps[0] == "manual");
  const auto h = engine.history(p2);
  CHECK(find_record(h, RecordType::event, 1)->event == "subflow-failed");
  CHECK(find_record(h, RecordType::event, 1)->message.find("ERP down") != std::string::npos);

  // Cancelling the parent cancels its child.
  engine.on_action("erp.order", [](ActionContext& a) { a.set("order_id", "PO-x"); });
  const auto p3 = engine.start("parent", {{"item", "tv"}});
  engine.send(p3, "go");
  const auto c3 = engine.get(p3).children.at(0);
  engine.cancel(p3, "customer withdrew");
  CHECK(engine.get(c3).status == CaseStatus::cancelled);
  CHECK(find_record(engine.history(c3), RecordType::cancelled)->message == "case 'parent-3' was cancelled");
}

TEST_CASE("an escalation can emit an event to its own case", "[runtime][escalation]") {
  const char* yaml = R"(flow: nudge
start: a
steps:
  a:
    deadline: { within: 1h, escalate: [ { at: 100%, emit: timeout }, { after: 1h, emit: nobody-listens } ] }
    on: { timeout: b }
  b: { on: { done: z } }
  z: { end: true }
)";
  ManualClock clock{"2026-11-23T08:00:00Z"};
  Engine engine{{.clock = &clock}};
  auto r = validate_text(yaml, "nudge.yaml");
  REQUIRE(r.error_count() == 0);
  REQUIRE(r.warning_count() == 1);  // nobody-listens is handled nowhere
  engine.add_flows(r.flows);
  const auto id = engine.start("nudge");
  clock.advance(3h);
  engine.run_due();
  CHECK(engine.get(id).steps[0] == "b");
  const auto ev = find_record(engine.history(id), RecordType::event);
  REQUIRE(ev);
  CHECK(ev->event == "timeout");
  CHECK(ev->actor == "escalon");
  CHECK(ev->at == at("2026-11-23T09:00:00Z"));
}

TEST_CASE("the background runner fires deadlines on the system clock and stops cleanly", "[runtime][runner]") {
  const char* yaml = R"(flow: quick
start: a
steps:
  a: { deadline: { within: 150ms, expire: z, escalate: [ { at: 50%, notify: lead } ] } }
  z: { end: true }
)";
  std::atomic<int> notes{0};
  std::string id;
  {
    Engine engine;  // system clock
    engine.add_flows(flows_from(yaml));
    engine.on_notify([&](const Notification&) { ++notes; });
    engine.start_runner(std::chrono::milliseconds{50});
    engine.start_runner();  // idempotent
    id = engine.start("quick");
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds{5};
    while (engine.get(id).status != CaseStatus::completed && std::chrono::steady_clock::now() < deadline)
      std::this_thread::sleep_for(std::chrono::milliseconds{10});
    CHECK(engine.get(id).status == CaseStatus::completed);
    CHECK(notes == 1);
    engine.stop_runner();
    engine.start_runner();
  }  // the destructor stops the running runner
  SUCCEED("no hang, no crash");
}

TEST_CASE("parallel branches run at once and meet at a join (all / any)", "[runtime][parallel]") {
  auto yaml = [](const char* mode) {
    return fmt::format(R"(flow: par
data: {{ called: {{ type: bool, default: false }}, van: string, note: string }}
start: split
steps:
  split: {{ parallel: {{ branches: [call-customer, book-van], join: meet }} }}
  call-customer: {{ role: agent, on: {{ called: {{ to: meet, set: {{ called: "true" }} }} }} }}
  book-van:
    role: dispatcher
    deadline: {{ within: 1h, escalate: [ {{ at: 100%, notify: lead }} ] }}
    on: {{ booked: {{ to: meet, set: {{ van: event.van }} }} }}
  meet: {{ join: {}, next: done }}
  done: {{ end: true }}
)",
                       mode);
  };
  ManualClock clock{"2026-11-23T08:00:00Z"};
  Engine engine{{.clock = &clock}};
  engine.add_flows(flows_from(yaml("all")));
  const auto id = engine.start("par");
  auto v = engine.get(id);
  CHECK(v.steps[0] == "split");
  CHECK(v.children == std::vector<std::string>{id + "/call-customer", id + "/book-van"});
  // Each branch is in its team's work queue.
  REQUIRE(engine.query({.role = "agent"}).size() == 1);
  CHECK(engine.query({.role = "agent"})[0].id == id + "/call-customer");
  CHECK(engine.query({.role = "dispatcher"})[0].parent == id);
  // Events to the case go to the branch that handles them.
  engine.send(id, "called");
  CHECK(engine.get(id).steps[0] == "split");
  CHECK(engine.get(id + "/call-customer").status == CaseStatus::completed);
  clock.advance(2h);
  engine.run_due();  // the van branch escalates on its own deadline
  CHECK(count(engine.history(id + "/book-van"), RecordType::escalated) == 1);
  CHECK_THROWS_AS(engine.send(id, "called"), EventError);  // nobody waits for it any more
  engine.send(id, "booked", {{"van", "V7"}});
  v = engine.get(id);
  CHECK(v.status == CaseStatus::completed);
  CHECK(v.data.at("called") == Value(true));  // both branches' changes merged
  CHECK(v.data.at("van") == Value("V7"));

  Engine any_engine{{.clock = &clock}};
  any_engine.add_flows(flows_from(yaml("any")));
  const auto id2 = any_engine.start("par");
  any_engine.send(id2, "booked", {{"van", "V9"}});
  v = any_engine.get(id2);
  CHECK(v.status == CaseStatus::completed);
  CHECK(v.data.at("van") == Value("V9"));
  CHECK(v.data.at("called") == Value(false));
  CHECK(any_engine.get(id2 + "/call-customer").status == CaseStatus::cancelled);
  CHECK(find_record(any_engine.history(id2 + "/call-customer"), RecordType::cancelled)->message == "join 'meet' is complete");
}

TEST_CASE("an escalation level can move the case to another step", "[runtime][escalation]") {
  const char* yaml = R"(flow: hop
data: { priority: { type: enum, values: [normal, high], default: normal } }
start: first-line
steps:
  first-line:
    role: agent
    deadline: { within: 30m, escalate: [ { at: 100%, notify: lead, goto: second-line, priority: high } ] }
    on: { solved: z }
  second-line: { role: expert, on: { solved: z } }
  z: { end: true }
)";
  ManualClock clock{"2026-11-23T08:00:00Z"};
  Engine engine{{.clock = &clock}};
  engine.add_flows(flows_from(yaml));
  const auto id = engine.start("hop");
  clock.advance(45min);
  engine.run_due();
  const auto v = engine.get(id);
  CHECK(v.steps[0] == "second-line");
  CHECK(v.assignee == "expert");
  CHECK(v.priority == "high");
  CHECK(v.deadlines.empty());  // the first-line deadline ended with the step
  const auto h = engine.history(id);
  CHECK(types(h) == std::vector<std::string>{"started", "entered", "assigned", "deadline-set", "escalated", "data-changed",
                                             "left", "entered", "assigned"});
  CHECK(find_record(h, RecordType::left)->at == at("2026-11-23T08:30:00Z"));
}
