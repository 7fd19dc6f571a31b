// Idempotency keys (EventOptions::key): a call repeated with its key is not applied twice,
// repeats its first outcome, survives restarts and the case's closing; scenarios continued on a
// store after a crash apply each event exactly once (issue "Hardening").

#include <unistd.h>

#include <filesystem>
#include <fstream>

#include <fmt/format.h>

#include "escalon/engine.hpp"
#include "escalon/scenario.hpp"
#include "escalon/store.hpp"
#include "support.hpp"

using namespace escalon;
using namespace std::chrono_literals;

namespace {

const char* desk_flow = R"(flow: desk
data:
  customer: { type: string, required: true }
  amount: { type: int, default: 0 }
start: intake
steps:
  intake:
    role: agent
    form:
      amount: { type: int, required: true }
    deadline: { within: 2h }
    on:
      submit: { to: review, when: "event.amount > 0" }
  review:
    role: agent
    on:
      note: review
      close: done
  done:
    end: true
)";

std::vector<FlowPtr> flows() { return test::compile(desk_flow, "desk.yaml"); }

std::size_t count(const std::vector<Record>& h, RecordType t) {
  return static_cast<std::size_t>(std::count_if(h.begin(), h.end(), [t](const Record& r) { return r.type == t; }));
}

std::filesystem::path temp_file(const char* name) {
  return std::filesystem::temp_directory_path() / fmt::format("escalon-keys-{}-{}", ::getpid(), name);
}

}  // namespace

TEST_CASE("a call repeated with its key is applied once and writes nothing the second time", "[hardening][keys]") {
  ManualClock clock{"2026-11-23T08:00:00Z"};
  Engine engine({.clock = &clock});
  engine.add_flows(flows());
  const auto id = engine.start("desk", {{"customer", "ACME"}});
  engine.send(id, "submit", {{"amount", 5}}, {.key = "k1"});
  engine.send(id, "note", {}, {.key = "k2"});
  const auto before = engine.history(id);
  engine.send(id, "note", {}, {.key = "k2"});    // the retry after a timeout
  engine.send(id, "submit", {{"amount", 5}}, {.key = "k1"});  // an older one, from another step
  CHECK(engine.history(id).size() == before.size());
  CHECK(count(before, RecordType::event) == 2);
  // Without a key the same call is a new call.
  engine.send(id, "note");
  CHECK(count(engine.history(id), RecordType::event) == 3);
}

TEST_CASE("a refused keyed call is refused again the same way, without a second record", "[hardening][keys]") {
  ManualClock clock{"2026-11-23T08:00:00Z"};
  Engine engine({.clock = &clock});
  engine.add_flows(flows());
  const auto id = engine.start("desk", {{"customer", "ACME"}});
  std::string first;
  try {
    engine.send(id, "submit", {{"amount", 0}}, {.key = "r1"});
    FAIL("not refused");
  } catch (const EventError& e) {
    CHECK(e.code() == Refusal::guard_refused);
    first = e.message();
  }
  const auto rejected = count(engine.history(id), RecordType::rejected);
  CHECK(rejected == 1);
  try {
    engine.send(id, "submit", {{"amount", 0}}, {.key = "r1"});
    FAIL("not refused");
  } catch (const EventError& e) {
    CHECK(e.code() == Refusal::guard_refused);
    CHECK(e.message() == first);
  }
  CHECK(count(engine.history(id), RecordType::rejected) == rejected);
  // A new key with a payload the guard accepts goes through.
  engine.send(id, "submit", {{"amount", 1}}, {.key = "r2"});
  CHECK(engine.get(id).steps.at(0) == "review");
}

TEST_CASE("a key reused for another call or payload is refused as key_reused", "[hardening][keys]") {
  ManualClock clock{"2026-11-23T08:00:00Z"};
  Engine engine({.clock = &clock});
  engine.add_flows(flows());
  const auto id = engine.start("desk", {{"customer", "ACME"}});
  engine.send(id, "submit", {{"amount", 5}}, {.key = "k"});
  const auto refused = [&](const std::function<void()>& call) {
    try {
      call();
    } catch (const EventError& e) {
      CHECK(e.code() == Refusal::key_reused);
      CHECK(e.message() ==
            fmt::format("idempotency key 'k' was used on case '{}' for another call or payload; a retry must repeat the "
                        "call exactly, a new call needs a new key", id));
      return;
    }
    FAIL("not refused");
  };
  refused([&] { engine.send(id, "submit", {{"amount", 6}}, {.key = "k"}); });
  refused([&] { engine.send(id, "note", {}, {.key = "k"}); });
  refused([&] { engine.update(id, {{"amount", 5}}, {.key = "k"}); });
  CHECK(engine.get(id).steps.at(0) == "review");
  CHECK(refusal_name(Refusal::key_reused) == "key_reused");
  // Keys belong to their case: another case takes the same key.
  const auto other = engine.start("desk", {{"customer", "Globex"}});
  engine.send(other, "submit", {{"amount", 5}}, {.key = "k"});
  CHECK(engine.get(other).steps.at(0) == "review");
}

TEST_CASE("a key too long for the store is a bad request", "[hardening][keys]") {
  ManualClock clock{"2026-11-23T08:00:00Z"};
  Engine engine({.clock = &clock});
  engine.add_flows(flows());
  const auto id = engine.start("desk", {{"customer", "ACME"}});
  try {
    engine.send(id, "submit", {{"amount", 5}}, {.key = std::string(201, 'k')});
    FAIL("not refused");
  } catch (const EventError& e) {
    CHECK(e.code() == Refusal::bad_request);
    CHECK(e.message() == "idempotency key is 201 bytes; at most 200 are allowed");
  }
  engine.send(id, "submit", {{"amount", 5}}, {.key = std::string(200, 'k')});
  CHECK(engine.get(id).steps.at(0) == "review");
}

TEST_CASE("keys survive a restart and the case's closing: the retry of the closing event succeeds",
          "[hardening][keys]") {
  const auto file = temp_file("restart.db");
  std::filesystem::remove(file);
  ManualClock clock{"2026-11-23T08:00:00Z"};
  std::string id, cancelled;
  {
    Engine engine({.clock = &clock, .store = open_store("sqlite:" + file.string())});
    engine.add_flows(flows());
    id = engine.start("desk", {{"customer", "ACME"}});
    cancelled = engine.start("desk", {{"customer", "Globex"}});
    engine.send(id, "submit", {{"amount", 5}}, {.key = "submit-1"});
    engine.send(id, "close", {}, {.key = "close-1"});
    engine.cancel(cancelled, "duplicate", {.key = "cancel-1"});
    CHECK_THROWS_AS(engine.send(cancelled, "submit", {{"amount", 0}}, {.key = "late"}), EventError);
  }
  Engine engine({.clock = &clock, .store = open_store("sqlite:" + file.string())});
  engine.add_flows(flows());
  const auto records = engine.history(id).size();
  engine.send(id, "close", {}, {.key = "close-1"});  // closed, but this is the call that closed it
  engine.send(id, "submit", {{"amount", 5}}, {.key = "submit-1"});
  engine.cancel(cancelled, "duplicate", {.key = "cancel-1"});
  CHECK(engine.history(id).size() == records);
  // The refusal of a closed case is remembered as such, and an unkeyed call is still refused.
  try {
    engine.send(cancelled, "submit", {{"amount", 0}}, {.key = "late"});
    FAIL("not refused");
  } catch (const EventError& e) {
    CHECK(e.code() == Refusal::closed);
  }
  CHECK_THROWS_AS(engine.send(id, "close"), EventError);
  CHECK_THROWS_AS(engine.cancel(cancelled, "duplicate", {.key = "cancel-2"}), EventError);
  std::filesystem::remove(file);
}

TEST_CASE("every changing call that names a case takes a key", "[hardening][keys]") {
  ManualClock clock{"2026-11-23T08:00:00Z"};
  Engine engine({.clock = &clock});
  engine.add_flows(flows());
  const auto id = engine.start("desk", {{"customer", "ACME"}});
  engine.update(id, {{"customer", "ACME Ltd"}}, {.key = "u"});
  engine.reschedule(id, clock.now() + 5h, {.key = "r"});
  const auto n = engine.history(id).size();
  engine.update(id, {{"customer", "ACME Ltd"}}, {.key = "u"});
  engine.reschedule(id, clock.now() + 5h, {.key = "r"});
  CHECK(engine.history(id).size() == n);
  CHECK_THROWS_AS(engine.reschedule(id, clock.now() + 6h, {.key = "r"}), EventError);  // another due time
  engine.cancel(id, "customer withdrew", {.key = "c"});
  engine.cancel(id, "customer withdrew", {.key = "c"});
  CHECK(engine.get(id).status == CaseStatus::cancelled);
}

TEST_CASE("a case remembers its newest max_keys_per_case keys", "[hardening][keys]") {
  ManualClock clock{"2026-11-23T08:00:00Z"};
  Engine engine({.clock = &clock, .max_keys_per_case = 4});
  engine.add_flows(flows());
  const auto id = engine.start("desk", {{"customer", "ACME"}});
  engine.send(id, "submit", {{"amount", 5}});
  for (int i = 0; i < 20; ++i) engine.send(id, "note", {}, {.key = fmt::format("n{}", i)});
  const auto n = count(engine.history(id), RecordType::event);
  engine.send(id, "note", {}, {.key = "n19"});  // recent: remembered
  CHECK(count(engine.history(id), RecordType::event) == n);
  engine.send(id, "note", {}, {.key = "n0"});  // long forgotten: applied again
  CHECK(count(engine.history(id), RecordType::event) == n + 1);
}

TEST_CASE("a scenario continued on a store after a crash applies each event once, however many share a time",
          "[hardening][keys]") {
  const auto dir = temp_file("scenario");
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  {
    std::ofstream f(dir / "desk.yaml");
    f << desk_flow;
    std::ofstream s(dir / "burst.yaml");
    s << "clock: 2026-11-23T08:00:00Z\ncases:\n  - { id: c1, flow: desk, data: { customer: ACME } }\nevents:\n"
      << "  - { at: 2026-11-23T08:05:00Z, case: c1, send: submit, data: { amount: 3 } }\n";
    for (int i = 0; i < 40; ++i) s << "  - { at: 2026-11-23T08:10:00Z, case: c1, send: note }\n";
    s << "  - { at: 2026-11-23T08:10:00Z, case: c1, send: note, id: last-note }\n";
  }
  const Scenario full = load_scenario((dir / "burst.yaml").string());
  REQUIRE(full.events.size() == 42);
  CHECK(full.events[1].key.starts_with("2026-11-23T08:10:00Z#"));
  CHECK(full.events[1].key.ends_with("#1"));
  CHECK(full.events[40].key.ends_with("#40"));
  CHECK(full.events[40].key.substr(0, 38) == full.events[1].key.substr(0, 38));
  CHECK(full.events[41].key == "last-note");
  const auto location = "sqlite:" + (dir / "cases.db").string();
  const auto fl = flows();
  {
    // The first run stopped after 17 of the events at 08:10 (a SIGKILL between two commits).
    Scenario part = full;
    part.events.resize(18);
    part.until = part.events.back().at;
    auto store = open_store(location);
    (void)run_scenario(part, fl, store.get());
  }
  auto store = open_store(location);
  const auto result = run_scenario(full, fl, store.get());
  CHECK(result.refused.empty());
  CHECK(result.skipped.size() == 1 + 18);  // the case, and the 18 events applied before the crash
  const auto h = store->history("c1");
  CHECK(count(h, RecordType::event) == 42);
  std::filesystem::remove_all(dir);
}

TEST_CASE("scenario event ids are unique", "[hardening][keys]") {
  const auto dir = temp_file("ids");
  std::filesystem::create_directories(dir);
  {
    std::ofstream s(dir / "twice.yaml");
    s << "clock: 2026-11-23T08:00:00Z\ncases:\n  - { id: c1, flow: desk }\nevents:\n"
      << "  - { at: 2026-11-23T08:05:00Z, case: c1, send: note, id: n }\n"
      << "  - { at: 2026-11-23T08:06:00Z, case: c1, send: note, id: n }\n";
  }
  try {
    (void)load_scenario((dir / "twice.yaml").string());
    FAIL("loaded");
  } catch (const FlowError& e) {
    CHECK_THAT(e.what(), Catch::Contains("twice.yaml:6:5: error: event id 'n' is used twice (also at line 5); ids must be unique"));
  }
  std::filesystem::remove_all(dir);
}

TEST_CASE("a keyed start repeated returns the first case, in the process and after a restart", "[hardening][keys]") {
  const auto file = temp_file("start.db");
  std::filesystem::remove(file);
  ManualClock clock{"2026-11-23T08:00:00Z"};
  std::string first;
  for (const bool group : {false, true}) {
    std::filesystem::remove(file);
    Engine engine({.clock = &clock, .store = open_store("sqlite:" + file.string()), .group_commit = group});
    engine.add_flows(flows());
    first = engine.start("desk", {{"customer", "ACME"}}, {.key = "web-form-7"});
    CHECK(engine.start("desk", {{"customer", "ACME"}}, {.key = "web-form-7"}) == first);
    CHECK(engine.case_count() == 1);
  }
  Engine engine({.clock = &clock, .store = open_store("sqlite:" + file.string())});
  engine.add_flows(flows());
  CHECK(engine.start("desk", {{"customer", "ACME"}}, {.key = "web-form-7"}) == first);
  engine.cancel(first, "test");
  CHECK(engine.start("desk", {{"customer", "ACME"}}, {.key = "web-form-7"}) == first);  // closed: still its case
  try {
    (void)engine.start("desk", {{"customer", "Globex"}}, {.key = "web-form-7"});
    FAIL("not refused");
  } catch (const EventError& e) {
    CHECK(e.code() == Refusal::key_reused);
    CHECK(e.message() == fmt::format("idempotency key 'web-form-7' started case '{}' with another flow, id or data; a "
                                     "retry must repeat the call exactly, a new call needs a new key", first));
  }
  const auto second = engine.start("desk", {{"customer", "ACME"}}, {.key = "web-form-8"});
  CHECK(second != first);
  std::filesystem::remove(file);
}

TEST_CASE("keyed starts without a store are remembered for the engine's life", "[hardening][keys]") {
  ManualClock clock{"2026-11-23T08:00:00Z"};
  Engine engine({.clock = &clock});
  engine.add_flows(flows());
  const auto a = engine.start("desk", {{"customer", "ACME"}}, {.key = "k"});
  CHECK(engine.start("desk", {{"customer", "ACME"}}, {.key = "k"}) == a);
  CHECK(engine.start("desk", {{"customer", "ACME"}}) != a);  // unkeyed: a new case
  CHECK_THROWS_AS(engine.start("desk", {{"customer", "ACME"}}, {.key = std::string(201, 'x')}), EventError);
}
