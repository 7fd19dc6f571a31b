// Issue "Hardening", runtime side: nothing a flow, a payload, a scenario or a stored case holds
// may loop, overflow time arithmetic or crash the host; each failure is an incident on that
// case or an error naming the place, with the exact message checked here.

#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <fstream>

#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include "escalon/calendar.hpp"
#include "escalon/engine.hpp"
#include "escalon/scenario.hpp"
#include "escalon/simulate.hpp"
#include "support.hpp"

using namespace escalon;
using namespace std::chrono_literals;
using escalon::test::at;

namespace {

std::size_t count(const std::vector<Record>& h, RecordType t) {
  return static_cast<std::size_t>(std::count_if(h.begin(), h.end(), [&](const Record& r) { return r.type == t; }));
}

// A decision that sends the case to a wait that ends at once, which leads back to the decision.
const char* spin_flow = R"(flow: spin
data:
  stop: { type: bool, default: false }
start: check
steps:
  check:
    decide:
      - { to: done, when: stop }
      - { to: pause }
  pause: { wait: { until: now() }, next: check, on: { halt: done } }
  done: { end: true }
)";

}  // namespace

TEST_CASE("a loop of automatic steps within one call is an incident naming the cycle", "[runtime][hardening]") {
  ManualClock clock{"2026-11-23T08:00:00Z"};
  Engine engine({.clock = &clock, .max_moves_per_call = 500});
  engine.add_flows(test::compile(spin_flow, "spin.yaml"));
  const std::string calm = engine.start("spin", {{"stop", true}});
  const std::string id = engine.start("spin");
  const auto v = engine.get(id);
  CHECK(v.status == CaseStatus::incident);
  CHECK(v.incident ==
        "more than 500 steps entered in one call: the steps 'check' -> 'pause' -> 'check' loop without waiting for "
        "anyone; let a task step, a wait that ends later or a branch that leaves the loop break the cycle");
  const auto h = engine.history(id);
  CHECK(count(h, RecordType::entered) == 500);  // bounded by the limit, not by memory
  CHECK(engine.get(calm).status == CaseStatus::completed);
  // The other cases and later calls carry on; the looping case waits for a person.
  clock.advance(1h);
  CHECK_NOTHROW(engine.run_due());
  const std::string other = engine.start("spin", {{"stop", true}});
  CHECK(engine.get(other).status == CaseStatus::completed);
}

TEST_CASE("the default move limit is 10,000 per case and call", "[runtime][hardening]") {
  CHECK(EngineOptions{}.max_moves_per_call == 10'000);
  ManualClock clock{"2026-11-23T08:00:00Z"};
  Engine engine({.clock = &clock});
  engine.add_flows(test::compile(spin_flow, "spin.yaml"));
  const std::string id = engine.start("spin");
  CHECK(engine.get(id).incident.starts_with("more than 10000 steps entered in one call: the steps 'check' -> 'pause'"));
  CHECK(count(engine.history(id), RecordType::entered) == 10'000);
}

// ----------------------------------------------------------------------------- time arithmetic

namespace {

CalendarSpec office_spec() {
  CalendarSpec s;
  s.name = "office";
  s.timezone = "Europe/Zagreb";
  for (int d = 0; d < 5; ++d) s.weekly[static_cast<std::size_t>(d)] = {{8 * 60, 16 * 60}};
  return s;
}

const char* far_flow = R"(flow: far
calendar: office
calendars:
  office: { timezone: Europe/Zagreb, hours: { mon-fri: "08:00-16:00" } }
start: a
steps:
  a:
    deadline: { within: 2 days }
    on: { go: b }
  b:
    deadline: { within: 3 business days }
    on: { go: z }
  z: { end: true }
)";

}  // namespace

TEST_CASE("calendar arithmetic that would leave year 9999 is an EvalError, never a wrapped instant",
          "[calendar][hardening]") {
  const Calendar office(office_spec());
  // 9999-12-31 is a Friday: two working hours are left that day, none after it.
  CHECK(office.add_business_time(at("9999-12-31T13:00:00Z"), 2h) == at("9999-12-31T15:00:00Z"));
  CHECK_THROWS_WITH(office.add_business_time(at("9999-12-31T13:00:00Z"), 3h),
                    "3h of working time on calendar 'office' from 9999-12-31T13:00:00Z would end after "
                    "9999-12-31T23:59:59.999Z, the last instant Escalon handles");
  CHECK_THROWS_WITH(office.add_business_days(at("9999-12-30T08:00:00Z"), 2),
                    "2 business days on calendar 'office' from 9999-12-30T08:00:00Z would end after "
                    "9999-12-31T23:59:59.999Z, the last instant Escalon handles");
  CHECK_THROWS_WITH(office.next_open(at("9999-12-31T16:00:00Z")),
                    "waiting for the next opening on calendar 'office' from 9999-12-31T16:00:00Z would end after "
                    "9999-12-31T23:59:59.999Z, the last instant Escalon handles");
  CHECK_THROWS_WITH(office.due(at("9999-12-31T00:00:00Z"), parse_duration_spec("2 days")),
                    "2d from 9999-12-31T00:00:00Z would end after 9999-12-31T23:59:59.999Z, the last instant Escalon handles");
  const auto always = Calendar::always_open();
  CHECK_THROWS_WITH(always.add_business_days(at("2026-11-23T08:00:00Z"), INT64_MAX),
                    "9223372036854775807 business days from 2026-11-23T08:00:00Z would end after "
                    "9999-12-31T23:59:59.999Z, the last instant Escalon handles");
  CHECK_THROWS_AS(always.add_business_time(at("9999-12-31T23:00:00Z"), Duration{INT64_MAX}), EvalError);
  // More than ten years of working time is not "no working time within ten years".
  CHECK(office.add_business_days(at("2026-11-23T08:00:00Z"), 5000) > at("2045-01-01T00:00:00Z"));
}

TEST_CASE("business durations are bounded where they are written", "[time][hardening]") {
  CHECK_THROWS_WITH(parse_duration_spec("100001 business days"),
                    Catch::StartsWith("invalid duration \"100001 business days\": it is too long (at most 100000 business days); "));
  CHECK_THROWS_WITH(parse_duration_spec("9223372036854775807 business minutes"),
                    Catch::StartsWith("invalid duration \"9223372036854775807 business minutes\": it is too long (at most "
                                      "1000000 business hours); "));
  CHECK(parse_duration_spec("100000 business days").days == 100000);
  CHECK(parse_duration_spec("60000000 business minutes").length == 1'000'000h);
}

TEST_CASE("a deadline that would fall due after year 9999 puts that case into an incident", "[runtime][hardening]") {
  ManualClock clock{"9999-12-30T12:00:00Z"};
  Engine engine({.clock = &clock});
  engine.add_flows(test::compile(far_flow, "far.yaml"));
  const std::string id = engine.start("far");
  CHECK(engine.get(id).status == CaseStatus::incident);
  CHECK(engine.get(id).incident ==
        "entering step 'a': 2d from 9999-12-30T12:00:00Z would end after 9999-12-31T23:59:59.999Z, the last instant "
        "Escalon handles");
  CHECK(engine.get(id).deadlines.empty());  // no wrapped or out-of-range due time is kept
  for (const auto& r : engine.history(id)) CHECK(in_time_range(r.at));
  // A business deadline: 3 working days from Thursday noon reach past Friday, the last day.
  engine.resolve(id, {}, "b");
  CHECK(engine.get(id).incident ==
        "entering step 'b': 3 business days on calendar 'office' from 9999-12-30T12:00:00Z would end after "
        "9999-12-31T23:59:59.999Z, the last instant Escalon handles");
  CHECK_NOTHROW(engine.run_due());
}

TEST_CASE("an escalation's `max` is at most 1,000,000 instead of being truncated to 32 bits", "[loader][hardening]") {
  const std::string yaml = R"(flow: nag
start: a
steps:
  a:
    deadline:
      within: 1h
      escalate:
        - { after: 1h, notify: boss, repeat: every 1h, max: 4294967297 }
    on: { done: z }
  z: { end: true }
)";
  const auto r = validate_text(yaml, "nag.yaml", ".");
  REQUIRE(!r.ok());
  CHECK(r.diagnostics.at(0).str() == "nag.yaml:8:61: error: `max` must be between 1 and 1000000 (it is 4294967297)");
}

// ----------------------------------------------------------------------------- calendars without working time

TEST_CASE("a calendar that opens only on exception dates is a located load error", "[loader][calendar][hardening]") {
  const std::string yaml = R"(flow: demo
calendar: office
calendars:
  office:
    timezone: Europe/Zagreb
    hours: { mon-sun: closed }
    exceptions: { 2026-12-23: "08:00-12:00", 2026-12-24: "08:00-12:00" }
start: a
steps:
  a:
    deadline: { within: 1 business day }
    on: { done: z }
  z: { end: true }
)";
  const auto r = validate_text(yaml, "closed.yaml", ".");
  REQUIRE(!r.ok());
  CHECK(r.diagnostics.at(0).str() ==
        "closed.yaml:6:12: error: calendar 'office' has no weekly working hours, so it has no working time after its "
        "last exception (2026-12-24); give `hours:` at least one open day");
}

TEST_CASE("business time that cannot be counted at run time is an incident on that case only",
          "[runtime][calendar][hardening]") {
  const char* yaml = R"(flow: desk
calendar: office
calendars:
  office: { timezone: Europe/Zagreb, hours: { mon-fri: "08:00-16:00" } }
sla:
  response: { within: 2 business days }
start: a
steps:
  a: { on: { go: b } }
  b:
    deadline: { within: 4 business hours }
    on: { go: z }
  z: { end: true }
)";
  ManualClock clock{"2026-11-23T08:00:00Z"};
  Engine engine({.clock = &clock});
  engine.add_flows(test::compile(yaml, "desk.yaml"));
  const std::string waiting = engine.start("desk");
  const std::string counting = engine.start("desk");
  engine.send(counting, "go");
  // The office closes for good (open one morning, long past): the Calendar API allows it.
  CalendarSpec closed;
  closed.name = "office";
  closed.timezone = "Europe/Zagreb";
  closed.exceptions[std::chrono::year{2020} / 1 / 2] = {{8 * 60, 12 * 60}};
  CHECK_NOTHROW(engine.update_calendar(closed));
  CHECK(engine.get(counting).status == CaseStatus::incident);
  CHECK(engine.get(counting).incident == "calendar 'office' changed: calendar 'office' has no working time within ten years");
  CHECK(engine.get(waiting).status == CaseStatus::incident);  // its SLA runs on the office calendar too
  // A new case's SLA, and a deadline entered later, give incidents too; the calls return.
  const std::string fresh = engine.start("desk");
  CHECK(engine.get(fresh).incident == "starting SLA 'response': calendar 'office' has no working time within ten years");
  clock.advance(24h);
  CHECK_NOTHROW(engine.run_due());
}

// ----------------------------------------------------------------------------- before 1970

TEST_CASE("clocks before 1970 stay where they are; clocks outside years 1-9999 are refused", "[runtime][hardening]") {
  const char* yaml = R"(flow: old
start: a
steps:
  a:
    deadline:
      within: 1h
      escalate: [ { at: 100%, notify: boss } ]
    on: { done: z }
  z: { end: true }
)";
  for (bool with_store : {false, true}) {
    CAPTURE(with_store);
    MemoryStore store;
    ManualClock clock{"1965-03-01T08:00:00Z"};
    Engine engine({.clock = &clock, .store = with_store ? &store : nullptr});
    engine.add_flows(test::compile(yaml, "old.yaml"));
    const std::string id = engine.start("old");
    clock.advance(2h);
    engine.run_due();
    const auto h = engine.history(id);
    REQUIRE(h.size() >= 4);
    CHECK(h.front().at == at("1965-03-01T08:00:00Z"));
    CHECK(h.back().type == RecordType::escalated);
    CHECK(h.back().at == at("1965-03-01T09:00:00Z"));
  }
  CHECK_THROWS_WITH(ManualClock{"0000-12-31T00:00:00Z"},
                    "'0000-12-31T00:00:00Z' is not an ISO-8601 instant in the years 1 to 9999 such as 2026-11-23T08:00:00Z");
  ManualClock end{"9999-12-31T23:00:00Z"};
  CHECK_THROWS_WITH(end.advance(2h), "a clock cannot move past 9999-12-31T23:59:59.999Z, the last instant Escalon handles "
                                     "(advance by 2h from 9999-12-31T23:00:00Z)");
  CHECK_THROWS_WITH(end.advance(Duration{INT64_MAX}), Catch::StartsWith("a clock cannot move past 9999-12-31T23:59:59.999Z"));
  CHECK(end.now() == at("9999-12-31T23:00:00Z"));
}

// ----------------------------------------------------------------------------- stored cases

namespace {

const char* fork_flow = R"(flow: fork
start: split
steps:
  split: { parallel: { branches: [left, right], join: meet } }
  left: { deadline: { within: 1h }, on: { done: meet } }
  right: { on: { done: meet } }
  meet: { join: all, next: z }
  z: { end: true }
)";

}  // namespace

TEST_CASE("recovery refuses a stored case with a damaged family or field, naming the case and the field",
          "[store][recovery][hardening]") {
  MemoryStore good;
  ManualClock clock{"2026-11-23T08:00:00Z"};
  {
    Engine engine({.clock = &clock, .store = &good});
    engine.add_flows(test::compile(fork_flow, "fork.yaml"));
    (void)engine.start("fork");
  }
  const auto originals = good.open_cases();
  REQUIRE(originals.size() == 3);
  using nlohmann::json;
  struct Damage {
    std::string id;  // the stored case it is done to
    std::function<void(json&)> apply;
    std::string message;
  };
  const std::string fork = "stored case 'fork-1' is damaged: its field ";
  const std::string left = "stored case 'fork-1/left' is damaged: its field ";
  const std::vector<Damage> damages{
      {"fork-1", [](json& j) { j["children"][0] = 42; }, fork + "'children[0]' must be a case id, not 42"},
      {"fork-1", [](json& j) { j["children"][1] = "other-7/left"; },
       fork + "'children[1]' names 'other-7/left', which is not an id 'fork-1/NAME'"},
      {"fork-1", [](json& j) { j["children"] = "fork-1/left"; }, fork + "'children' must be a list, not \"fork-1/left\""},
      {"fork-1", [](json& j) { j["depth"] = 3; }, fork + "'depth' is 3 for a case without a parent"},
      {"fork-1", [](json& j) { j["depth"] = 99; }, fork + "'depth' must be a whole number from 0 to 8, not 99"},
      {"fork-1", [](json& j) { j["arrivals"] = 5; }, fork + "'arrivals' counts 5 branches arrived of 2 children"},
      {"fork-1", [](json& j) { j["visit"] = -1; }, fork + "'visit' must be a whole number from 0 to 4294967295, not -1"},
      {"fork-1", [](json& j) { j["started"] = 400000000000000; },
       fork + "'started' must be an instant in the years 1 to 9999 (milliseconds since 1970), not 400000000000000"},
      {"fork-1", [](json& j) { j["last_at"] = "now"; },
       fork + "'last_at' must be an instant in the years 1 to 9999 (milliseconds since 1970), not \"now\""},
      {"fork-1", [](json& j) { j["assignee"] = nullptr; }, fork + "'assignee' must be text, not null"},
      {"fork-1", [](json& j) { j["data"] = json::array(); }, fork + "'data' must be an object, not []"},
      {"fork-1", [](json& j) { j["clocks"][0] = "x"; }, fork + "'clocks[0]' must be an object, not \"x\""},
      {"fork-1", [](json& j) { j.erase("entered"); }, fork + "'entered' is missing"},
      {"fork-1", [](json& j) { j["id"] = "fork-9"; },
       "stored case 'fork-9' is damaged: its field 'id' does not match the id 'fork-1' it is stored under"},
      {"fork-1/left", [](json& j) { j["parent"] = 7; }, left + "'parent' must be text, not 7"},
      {"fork-1/left", [](json& j) { j["parent"] = "fork-2"; },
       left + "'parent' names 'fork-2', but a sub-flow case or branch of it has an id 'fork-2/NAME'"},
      {"fork-1/left", [](json& j) { j["join_step"] = 0; }, left + "'join_step' is 0, which is no join step of flow 'fork' v1"},
      {"fork-1/left", [](json& j) { j["clocks"][0]["total"] = -5; },
       left + "'clocks[0].total' must be a whole number from 0 to 315537897599999, not -5"},
      {"fork-1/left", [](json& j) { j["clocks"][0]["since"] = "soon"; },
       left + "'clocks[0].since' must be an instant in the years 1 to 9999 (milliseconds since 1970), not \"soon\""},
      {"fork-1/left", [](json& j) { j["clocks"][0]["rungs"] = json::array({json::array({1})}); },
       left + "'clocks[0].rungs[0]' must be [count, time], not [1]"},
  };
  for (const auto& d : damages) {
    CAPTURE(d.message);
    std::vector<StoredCase> cases = originals;
    for (auto& sc : cases) {
      sc.expected = 0;
      if (sc.id != d.id) continue;
      auto j = json::parse(sc.state);
      d.apply(j);
      sc.state = j.dump();
    }
    MemoryStore store;
    Record r;
    r.seq = 1;
    r.case_id = "fork-1";
    store.commit({std::span<const Record>(&r, 1), cases, {}, good.flows()});
    Engine engine({.clock = &clock, .store = &store});
    engine.add_flows(test::compile(fork_flow, "fork.yaml"));
    CHECK_THROWS_WITH(engine.recover(), d.message);
    CHECK(engine.case_count() == 0);
    for (const auto& sc : store.open_cases())  // nothing written back
      for (const auto& c : cases)
        if (c.id == sc.id) CHECK(sc.state == c.state);
  }
  // The undamaged family recovers.
  MemoryStore store;
  std::vector<StoredCase> cases = originals;
  for (auto& sc : cases) sc.expected = 0;
  Record r;
  r.seq = 1;
  r.case_id = "fork-1";
  store.commit({std::span<const Record>(&r, 1), cases, {}, good.flows()});
  Engine engine({.clock = &clock, .store = &store});
  engine.add_flows(test::compile(fork_flow, "fork.yaml"));
  CHECK(engine.recover() == 3);
}

// ----------------------------------------------------------------------------- simulation

TEST_CASE("a simulation that would leave year 9999 is refused before it runs", "[simulate][hardening]") {
  const auto flows = test::compile(R"(flow: queue
roles: [agent]
start: serve
steps:
  serve: { role: agent, on: { done: finished } }
  finished: { end: true }
)",
                                   "queue.yaml");
  const auto model = SimModel::parse(R"(model: edge
start: 9999-12-31T00:00:00Z
arrivals:
  queue: { per_day: 10 }
staff:
  agent: { agents: 1 }
steps:
  queue/serve:
    work: { exponential: 5m }
    events: [ { send: done, p: 1 } ]
)");
  CHECK_THROWS_WITH(simulate(flows, model, {.days = 1, .seed = 1}),
                    "a simulation of 1 days from 9999-12-31T00:00:00Z would run past 9999-12-31T23:59:59.999Z, the last "
                    "instant Escalon handles; start it before 9999-12-23T00:00:00Z or simulate fewer days");
  CHECK_THROWS_WITH(simulate(flows, model, {.days = 30, .seed = 1, .start = at("9999-12-01T00:00:00Z")}),
                    Catch::StartsWith("a simulation of 30 days from 9999-12-01T00:00:00Z would run past"));
  const auto r = simulate(flows, model, {.days = 2, .seed = 1, .start = at("9999-12-20T00:00:00Z")});
  CHECK(r.to == at("9999-12-22T00:00:00Z"));
}

// ----------------------------------------------------------------------------- journal time

TEST_CASE("journal time never runs backwards when an `at:` deadline moves into the past", "[runtime][hardening]") {
  const char* yaml = R"(flow: visit
data:
  slot: datetime
start: scheduled
steps:
  scheduled:
    deadline:
      at: slot
      escalate:
        - { at: 100%, notify: dispatch }
        - { after: 1h, notify: supervisor, repeat: every 1h, max: 3 }
    on: { done: closed }
  closed: { end: true }
)";
  for (bool with_store : {false, true}) {
    CAPTURE(with_store);
    MemoryStore store;
    ManualClock clock{"2026-11-23T08:00:00Z"};
    Engine engine({.clock = &clock, .store = with_store ? &store : nullptr});
    engine.add_flows(test::compile(yaml, "visit.yaml"));
    const std::string a = engine.start("visit", {{"slot", at("2026-11-23T11:00:00Z")}});
    const std::string b = engine.start("visit", {{"slot", at("2026-11-23T12:00:00Z")}});
    clock.set(at("2026-11-23T10:30:00Z"));
    engine.update(b, {{"slot", at("2026-11-23T06:00:00Z")}});  // due and two repeats already past
    clock.set(at("2026-11-23T10:40:00Z"));
    engine.update(b, {{"slot", at("2026-11-23T05:00:00Z")}});  // and earlier still
    engine.reschedule(a, at("2026-11-23T07:00:00Z"));
    clock.set(at("2026-11-23T16:00:00Z"));
    engine.run_due();
    TimePoint last = min_time;
    std::size_t n = 0;
    for (const auto& id : {a, b})
      for (const auto& r : engine.history(id)) CHECK(r.at >= at("2026-11-23T08:00:00Z"));
    std::string jsonl = engine.journal_jsonl();
    for (std::size_t pos = 0; (pos = jsonl.find("\"at\":\"", pos)) != std::string::npos; ++n) {
      pos += 6;
      const auto t = parse_iso8601(jsonl.substr(pos, jsonl.find('"', pos) - pos));
      REQUIRE(t);
      CHECK(*t >= last);
      last = *t;
    }
    CHECK(n > 10);
    CHECK(last <= at("2026-11-23T16:00:00Z"));
  }
}

TEST_CASE("a scenario set before 1970 runs at its own times, with or without a store", "[scenario][hardening]") {
  const auto flows = test::compile(R"(flow: old
start: a
steps:
  a:
    deadline:
      within: 1h
      escalate: [ { at: 100%, notify: houston } ]
    on: { done: z }
  z: { end: true }
)",
                                   "old.yaml");
  Scenario sc;
  sc.clock = at("1969-07-20T20:00:00Z");
  sc.until = at("1969-07-20T23:00:00Z");
  sc.cases.push_back({.id = "eagle", .flow = "old"});
  for (bool with_store : {false, true}) {
    CAPTURE(with_store);
    MemoryStore store;
    const auto r = run_scenario(sc, flows, with_store ? &store : nullptr);
    REQUIRE(r.journal.size() >= 4);
    CHECK(r.journal.front().at == at("1969-07-20T20:00:00Z"));
    CHECK(r.journal.back().type == RecordType::escalated);
    CHECK(r.journal.back().at == at("1969-07-20T21:00:00Z"));
  }
}

TEST_CASE("ISO-8601 text outside years 1-9999 is no instant, wherever it is read", "[time][hardening]") {
  CHECK(parse_iso8601("0001-01-01T00:00:00Z") == min_time);
  CHECK(parse_iso8601("9999-12-31T23:59:59.999Z") == max_time);
  CHECK(parse_iso8601("1969-07-20T20:17:40Z") == TimePoint{Duration{-14182940000}});
  CHECK(!parse_iso8601("0000-12-31T23:00:00Z"));
  CHECK(!parse_iso8601("0001-01-01T00:30:00+01:00"));  // 0000-12-31T23:30Z
  CHECK(!parse_iso8601("9999-12-31T23:30:00-01:00"));  // 10000-01-01T00:30Z
  // A scenario's clock was moved up to 0001-01-01 and its cases run there: now a located error.
  const auto dir = std::filesystem::temp_directory_path() / fmt::format("escalon-hardening-{}", ::getpid());
  std::filesystem::create_directories(dir);
  const auto file = (dir / "year0.yaml").string();
  std::ofstream(file) << "clock: 0000-06-01T00:00:00Z\ncases:\n  - { id: x, flow: old }\n";
  CHECK_THROWS_WITH(load_scenario(file),
                    Catch::Contains("year0.yaml:1:8: error: `clock` '0000-06-01T00:00:00Z' is not an instant"));
  std::filesystem::remove_all(dir);
}
