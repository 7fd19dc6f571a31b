// What a host developer meets when embedding the engine (issue "Embedding without surprises"):
// a forgotten recover(), refusal codes to branch on, calls without handlers, owned stores and
// clocks, the engine handed to handlers, handlers that start cases which call handlers.

#include <unistd.h>

#include <filesystem>

#include <fmt/format.h>

#include "escalon/engine.hpp"
#include "escalon/loader.hpp"
#include "escalon/version.hpp"
#include "support.hpp"

using namespace escalon;
using namespace std::chrono_literals;
using escalon::test::at;

namespace {

std::vector<FlowPtr> compile(const std::string& yaml) { return test::compile(yaml, "embed.yaml"); }

// A ticket with a form, a guard, a deadline, an action that can fail and a hook that calls.
const char* ticket_flow = R"(flow: ticket
data:
  customer: { type: string, required: true }
  amount: { type: int, default: 0 }
  ref: string
start: intake
steps:
  intake:
    role: agent
    form:
      amount: { type: int, required: true }
    on:
      submit: { to: book, when: "event.amount > 0" }
      park: waiting
  waiting:
    role: agent
    on_enter:
      - call: crm.note
    on: { resume: intake }
  book:
    call: erp.book
    retry: { attempts: 2, backoff: 1m }
    next: booked
  booked:
    role: agent
    deadline: { within: 2h }
    on: { close: done }
  done:
    end: true
)";

// A visit whose deadline is the booked slot, with a level at the due time and one an hour on.
const char* visit_flow = R"(flow: visit
data:
  slot: datetime
start: scheduled
steps:
  scheduled:
    role: dispatch
    deadline:
      at: slot
      escalate:
        - { at: 100%, notify: dispatch }
        - { after: 1h, notify: supervisor }
    on: { done: closed }
  closed:
    end: true
)";

std::filesystem::path temp_file(const char* name) {
  return std::filesystem::temp_directory_path() / fmt::format("escalon-embed-{}-{}", ::getpid(), name);
}

Refusal refusal_of(const std::function<void()>& call) {
  try {
    call();
  } catch (const EventError& e) {
    return e.code();
  }
  FAIL("the call was not refused");
  return Refusal::bad_request;
}

}  // namespace

TEST_CASE("a host that forgets recover() gets it from its first call; the stored cases stay whole",
          "[embedding][recovery]") {
  const auto file = temp_file("forgot.db");
  std::filesystem::remove(file);
  ManualClock clock{"2026-11-23T08:00:00Z"};
  std::string open_id, closed_id;
  {
    Engine engine({.clock = &clock, .store = open_store("sqlite:" + file.string())});
    engine.add_flows(compile(ticket_flow));
    open_id = engine.start("ticket", {{"customer", "ACME"}});
    closed_id = engine.start("ticket", {{"customer", "Globex"}});
    engine.cancel(closed_id, "duplicate");
  }
  Engine engine({.clock = &clock, .store = open_store("sqlite:" + file.string())});
  engine.add_flows(compile(ticket_flow));
  // No recover(): the first start recovers, numbers its records after the stored ones and
  // skips ids already used (the old failure: UNIQUE constraint failed: records.seq).
  const auto id = engine.start("ticket", {{"customer", "Initech"}});
  CHECK(id != open_id);
  CHECK(id != closed_id);
  CHECK(engine.case_count() == 2);  // the recovered open case and the new one
  engine.send(open_id, "park", {{"amount", 0}});
  CHECK(engine.get(open_id).steps.at(0) == "waiting");
  CHECK(engine.recover() == 0);  // not refused: already done
  // The stored journal has no gap and no duplicate sequence number.
  std::uint64_t expected = 0;
  std::vector<std::uint64_t> seqs;
  for (const auto& c : {open_id, closed_id, id})
    for (const auto& r : engine.history(c)) seqs.push_back(r.seq);
  std::sort(seqs.begin(), seqs.end());
  for (auto s : seqs) CHECK(s == ++expected);
  std::filesystem::remove(file);
}

TEST_CASE("an implicit recovery that cannot load a stored case changes nothing and leaves the engine usable",
          "[embedding][recovery]") {
  MemoryStore store;
  ManualClock clock{"2026-11-23T08:00:00Z"};
  {
    Engine engine({.clock = &clock, .store = &store});
    engine.add_flows(compile(ticket_flow));
    (void)engine.start("ticket", {{"customer", "ACME"}});
  }
  // A store that lost its flow versions cannot rebuild `ticket` from them.
  test::NoFlowsStore forgetful{store};
  Engine engine({.clock = &clock, .store = &forgetful});
  engine.load({ESCALON_SOURCE_DIR "/flows"});  // every flow but `ticket`
  CHECK_THROWS_AS(engine.start("complaint", {{"customer", "B"}}), StoreError);
  CHECK_THROWS_WITH(engine.start("complaint", {{"customer", "B"}}),
                    Catch::Contains("runs flow 'ticket' version 1, which is not loaded"));
  CHECK(engine.case_count() == 0);
  engine.add_flows(compile(ticket_flow));
  const auto id = engine.start("ticket", {{"customer", "C"}});
  CHECK(engine.get(id).status == CaseStatus::active);
  CHECK(engine.case_count() == 2);
}

TEST_CASE("every refused call carries a code, the same before and after a restart", "[embedding][errors]") {
  MemoryStore store;
  ManualClock clock{"2026-11-23T08:00:00Z"};
  std::string a, closed;
  const auto codes = [&](Engine& engine) {
    std::map<std::string, Refusal> got;
    got["unknown flow"] = refusal_of([&] { (void)engine.start("tikcet"); });
    got["unknown case"] = refusal_of([&] { engine.send("", "submit"); });
    got["duplicate id"] = refusal_of([&] { (void)engine.start("ticket", {{"customer", "X"}}, {.id = closed}); });
    got["closed"] = refusal_of([&] { engine.send(closed, "submit", {{"amount", 5}}); });
    got["not handled"] = refusal_of([&] { engine.send(a, "close"); });
    got["guard"] = refusal_of([&] { engine.send(a, "submit", {{"amount", 0}}); });
    got["bad payload"] = refusal_of([&] { engine.send(a, "submit", {{"amount", "many"}}); });
    got["missing form field"] = refusal_of([&] { engine.send(a, "submit"); });
    got["bad start data"] = refusal_of([&] { (void)engine.start("ticket", {{"customer", 42}}); });
    got["unknown field"] = refusal_of([&] { engine.update(a, {{"custmer", "x"}}); });
    got["no deadline"] = refusal_of([&] { engine.reschedule(a, clock.now() + 1h); });
    got["no incident"] = refusal_of([&] { engine.retry(a); });
    return got;
  };
  const std::map<std::string, Refusal> expected{
      {"unknown flow", Refusal::unknown_flow}, {"unknown case", Refusal::unknown_case},
      {"duplicate id", Refusal::duplicate_id}, {"closed", Refusal::closed},
      {"not handled", Refusal::not_handled},   {"guard", Refusal::guard_refused},
      {"bad payload", Refusal::bad_data},      {"missing form field", Refusal::bad_data},
      {"bad start data", Refusal::bad_data},   {"unknown field", Refusal::bad_data},
      {"no deadline", Refusal::wrong_state},   {"no incident", Refusal::wrong_state}};
  {
    Engine engine({.clock = &clock, .store = &store});
    engine.add_flows(compile(ticket_flow));
    a = engine.start("ticket", {{"customer", "ACME"}});
    closed = engine.start("ticket", {{"customer", "Globex"}});
    engine.cancel(closed);
    CHECK(codes(engine) == expected);
    CHECK_THROWS_AS(engine.send("nope", "x"), CaseError);
  }
  Engine again({.clock = &clock, .store = &store});
  again.add_flows(compile(ticket_flow));
  CHECK(codes(again) == expected);
  CHECK(refusal_name(Refusal::guard_refused) == "guard_refused");
  // An unknown id gained no history on the way: it is still unknown, never "closed".
  CHECK(refusal_of([&] { again.send("", "submit"); }) == Refusal::unknown_case);
}

TEST_CASE("a case in an incident refuses events with `incident`; resolve to a step the flow lacks is a bad request",
          "[embedding][errors]") {
  ManualClock clock{"2026-11-23T08:00:00Z"};
  Engine engine({.clock = &clock});
  engine.add_flows(compile(ticket_flow));
  engine.on_action("erp.book", [](ActionContext&) { throw std::runtime_error("ERP down"); });
  engine.on_action("crm.note", [](ActionContext&) {});
  const auto id = engine.start("ticket", {{"customer", "ACME"}});
  engine.send(id, "submit", {{"amount", 3}});
  clock.advance(1h);
  engine.run_due();  // the retry fails too: incident
  REQUIRE(engine.get(id).status == CaseStatus::incident);
  CHECK(refusal_of([&] { engine.send(id, "close"); }) == Refusal::incident);
  CHECK(refusal_of([&] { engine.resolve(id, {}, "nowhere"); }) == Refusal::bad_request);
  engine.resolve(id, {{"ref", "manual"}});
  CHECK(engine.get(id).steps.at(0) == "booked");
}

TEST_CASE("calls without a handler are listed at load and, on request, refused before a case reaches them",
          "[embedding][handlers]") {
  ManualClock clock{"2026-11-23T08:00:00Z"};
  {
    Engine engine({.clock = &clock});
    engine.add_flows(compile(ticket_flow));
    auto missing = engine.missing_handlers();
    REQUIRE(missing.size() == 2);
    CHECK(missing[0].message.find("calls 'crm.note'") != std::string::npos);  // the hook, in file order
    CHECK(missing[0].where.line == 18);
    CHECK(missing[1].message.find("step 'book' calls 'erp.book'") != std::string::npos);
    CHECK(missing[1].where.file == "embed.yaml");
    engine.on_action("erp.book", [](ActionContext&) {});
    CHECK(engine.missing_handlers().size() == 1);
  }
  Engine strict({.clock = &clock, .require_handlers = true});
  strict.add_flows(compile(ticket_flow));
  strict.on_action("erp.book", [](ActionContext&) {});
  CHECK_THROWS_WITH(strict.start("ticket", {{"customer", "A"}}),
                    Catch::Contains("1 call without a handler") && Catch::Contains("crm.note"));
  CHECK_THROWS_WITH(strict.start_runner(), Catch::Contains("crm.note"));
  CHECK(strict.case_count() == 0);
  strict.on_action("crm.note", [](ActionContext&) {});
  CHECK(strict.get(strict.start("ticket", {{"customer", "A"}})).status == CaseStatus::active);
  // A flow loaded later with a new call is checked again.
  std::string second = std::string(ticket_flow).replace(0, 12, "flow: ticket2");
  second.replace(second.find("call: erp.book"), 14, "call: erp.cancel");
  strict.add_flows(compile(second));
  CHECK_THROWS_WITH(strict.start("ticket", {{"customer", "B"}}), Catch::Contains("erp.cancel"));
}

TEST_CASE("the engine owns a store and a clock given as smart pointers, and hands itself to handlers",
          "[embedding][lifetime]") {
  const auto file = temp_file("owned.db");
  std::filesystem::remove(file);
  std::string child;
  {
    // Declared in any order: the engine keeps the store and the clock alive.
    auto clock = std::make_shared<ManualClock>("2026-11-23T08:00:00Z");
    Engine engine({.clock = clock, .store = open_store("sqlite:" + file.string())});
    clock.reset();  // the engine still holds it
    engine.add_flows(compile(ticket_flow));
    engine.on_action("crm.note", [&](ActionContext& a) {
      // No captured engine: the context gives it, and the call joins the handler's unit.
      child = a.engine().start("ticket", {{"customer", a.data().at("customer").as_string() + " (follow-up)"}});
    });
    engine.on_action("erp.book", [](ActionContext&) {});
    const auto id = engine.start("ticket", {{"customer", "ACME"}});
    engine.send(id, "park", {{"amount", 0}});
    REQUIRE(!child.empty());
    CHECK(engine.get(child).data.at("customer") == Value("ACME (follow-up)"));
  }
  Engine reopened({.store = open_store("sqlite:" + file.string())});
  reopened.add_flows(compile(ticket_flow));
  CHECK(reopened.recover() == 2);
  ActionContext detached("c", "s", "a", 1, {}, {});
  CHECK_THROWS_WITH(detached.engine(), Catch::Contains("made without an engine"));
  std::filesystem::remove(file);
}

TEST_CASE("handlers that start cases whose handlers start cases run one after another, not nested",
          "[embedding][handlers]") {
  const char* chain = R"(flow: chain
data:
  n: { type: int, default: 0 }
start: work
steps:
  work:
    call: chain.next
    next: done
  done:
    end: true
)";
  ManualClock clock{"2026-11-23T08:00:00Z"};
  Engine engine({.clock = &clock});
  engine.add_flows(compile(chain));
  int depth = 0, deepest = 0, calls = 0;
  engine.on_action("chain.next", [&](ActionContext& a) {
    ++depth;
    deepest = std::max(deepest, depth);
    ++calls;
    const auto n = a.data().at("n").as_int();
    if (n < 200) (void)a.engine().start("chain", {{"n", n + 1}});
    --depth;
  });
  (void)engine.start("chain");
  CHECK(calls == 201);
  CHECK(deepest == 1);  // queued in the unit: the stack does not grow with the chain
  CHECK(engine.query({.status = CaseStatus::completed}).size() == 201);
}

TEST_CASE("an `at:` deadline already past keeps its real schedule: a level `after:` it fires on time, not late",
          "[embedding][deadline]") {
  ManualClock clock{"2026-11-23T10:00:00Z"};
  Engine engine({.clock = &clock});
  engine.add_flows(compile(visit_flow));
  // Entered at 10:00 for a visit slot of 09:30: the due time lies in the past.
  const auto id = engine.start("visit", {{"slot", at("2026-11-23T09:30:00Z")}});
  engine.run_due();
  auto d = engine.get(id).deadlines.at(0);
  CHECK(d.due == at("2026-11-23T09:30:00Z"));
  CHECK(d.level == 1);  // the due time has passed: level 1 fired at once
  clock.set(at("2026-11-23T10:31:00Z"));
  engine.run_due();
  CHECK(engine.get(id).deadlines.at(0).level == 2);  // due + 1h = 10:30 (clamped, it waited until 11:00)
  std::vector<TimePoint> fired;
  for (const auto& r : engine.history(id))
    if (r.type == RecordType::escalated) fired.push_back(r.at);
  CHECK(fired == std::vector<TimePoint>{at("2026-11-23T10:00:00Z"), at("2026-11-23T10:30:00Z")});
}

TEST_CASE("one engine writes a SQLite store while read-only stores read it, each from one snapshot",
          "[embedding][sqlite]") {
  const auto file = temp_file("live.db");
  std::filesystem::remove(file);
  const std::string location = "sqlite:" + file.string();
  CHECK_THROWS_WITH(open_store(location + "?mode=ro"), Catch::Contains("does not exist"));
  CHECK(!std::filesystem::exists(file));  // a reader creates nothing
  ManualClock clock{"2026-11-23T08:00:00Z"};
  Engine engine({.clock = &clock, .store = open_store(location + "?sync=normal")});
  engine.add_flows(compile(ticket_flow));
  const auto a = engine.start("ticket", {{"customer", "ACME"}});
  // A second writer is refused, in this process as in another; readers are not.
  CHECK_THROWS_WITH(open_store(location), Catch::Contains("locked by another writer") && Catch::Contains("?mode=ro"));
  auto reader = open_store(location + "?mode=ro");
  const auto seen = reader->last_seq();
  CHECK(seen > 0);
  CHECK(reader->find_case(a).has_value());
  // The writer goes on; the reader keeps its moment, a new reader sees the new one.
  const auto b = engine.start("ticket", {{"customer", "Globex"}});
  engine.send(a, "park", {{"amount", 0}});
  CHECK(reader->last_seq() == seen);
  CHECK(!reader->find_case(b).has_value());
  auto later = open_store(location + "?mode=ro");
  CHECK(later->last_seq() > seen);
  CHECK(later->find_case(b).has_value());
  CHECK(later->history(a).size() > reader->history(a).size());
  CHECK_THROWS_WITH(reader->commit({}), Catch::Contains("read-only"));
  CHECK_THROWS_WITH(open_store(location + "?mode=rx"), Catch::Contains("unknown store option 'mode=rx'"));
  reader.reset();
  later.reset();
  std::filesystem::remove(file);
  std::filesystem::remove(file.string() + "-lock");
}

TEST_CASE("a handler whose case is cancelled while it runs has its result discarded, on the record",
          "[embedding][handlers]") {
  ManualClock clock{"2026-11-23T08:00:00Z"};
  Engine engine({.clock = &clock});
  engine.add_flows(compile(ticket_flow));
  engine.on_action("erp.book", [](ActionContext& a) {
    a.engine().cancel(a.case_id(), "the customer withdrew");  // e.g. a second desk, or the handler itself
    a.set("ref", "BK-1");
  });
  const auto id = engine.start("ticket", {{"customer", "ACME"}});
  engine.send(id, "submit", {{"amount", 2}});
  const auto c = engine.get(id);
  CHECK(c.status == CaseStatus::cancelled);
  CHECK((!c.data.contains("ref") || c.data.at("ref").is_null()));  // the result never reached the case
  const auto h = engine.history(id);
  REQUIRE(!h.empty());
  CHECK(h.back().type == RecordType::action_failed);
  CHECK(h.back().message == "the result of action 'erp.book' was discarded: the case is cancelled while it ran");
}

TEST_CASE("with a store and keep_journal off, the journal reads come whole from the store, before and after a restart",
          "[embedding][reads]") {
  MemoryStore store;
  ManualClock clock{"2026-11-23T08:00:00Z"};
  std::string id;
  std::size_t lines = 0;
  const auto count = [](const std::string& jsonl) { return static_cast<std::size_t>(std::count(jsonl.begin(), jsonl.end(), '\n')); };
  {
    Engine engine({.clock = &clock, .keep_journal = false, .store = &store});
    engine.add_flows(compile(ticket_flow));
    engine.on_action("crm.note", [](ActionContext&) {});
    id = engine.start("ticket", {{"customer", "ACME"}});
    engine.send(id, "park", {{"amount", 0}});
    lines = count(engine.journal_jsonl(id));
    CHECK(lines == engine.history(id).size());
    CHECK(lines >= 4);
  }
  Engine engine({.clock = &clock, .keep_journal = false, .store = &store});
  engine.add_flows(compile(ticket_flow));
  engine.on_action("crm.note", [](ActionContext&) {});
  engine.send(id, "resume", {{"amount", 0}});
  CHECK(count(engine.journal_jsonl(id)) > lines);  // the old records and this process's
  CHECK(count(engine.journal_jsonl()) == count(engine.journal_jsonl(id)));
}

TEST_CASE("a deadline set later to a time already past fires when it was set, never before it",
          "[embedding][deadline]") {
  MemoryStore store;
  ManualClock clock{"2026-11-23T09:00:00Z"};
  std::string id;
  {
    Engine engine({.clock = &clock, .store = &store});
    engine.add_flows(compile(visit_flow));
    id = engine.start("visit");  // no slot yet: no deadline
    clock.set(at("2026-11-23T12:00:00Z"));
    engine.update(id, {{"slot", at("2026-11-23T10:00:00Z")}});  // due 10:00, its 1h level 11:00: both past
    CHECK(engine.get(id).deadlines.at(0).level == 2);
  }
  Engine engine({.clock = &clock, .store = &store});  // and after a restart, the same
  engine.add_flows(compile(visit_flow));
  CHECK(engine.recover() == 1);
  TimePoint last{};
  for (const auto& r : engine.history(id)) {
    CHECK(r.at >= last);  // journal time never runs backwards within the case
    last = std::max(last, r.at);
    if (r.type == RecordType::escalated) CHECK(r.at == at("2026-11-23T12:00:00Z"));
  }
}

TEST_CASE("require_handlers also holds for recovery and every changing call; a damaged counter refuses recovery",
          "[embedding][handlers]") {
  MemoryStore store;
  ManualClock clock{"2026-11-23T08:00:00Z"};
  std::string id;
  {
    Engine engine({.clock = &clock, .store = &store});
    engine.add_flows(compile(ticket_flow));
    engine.on_action("crm.note", [](ActionContext&) {});
    id = engine.start("ticket", {{"customer", "ACME"}});
  }
  {
    Engine strict({.clock = &clock, .store = &store, .require_handlers = true});
    strict.add_flows(compile(ticket_flow));
    strict.on_action("crm.note", [](ActionContext&) {});
    CHECK_THROWS_WITH(strict.recover(), Catch::Contains("erp.book"));
    CHECK_THROWS_WITH(strict.send(id, "submit", {{"amount", 1}}), Catch::Contains("erp.book"));
    CHECK_THROWS_WITH(strict.run_due(), Catch::Contains("erp.book"));
    CHECK(strict.case_count() == 0);  // nothing was loaded, nothing fired
  }
  // A counter that is not a number: refused before anything is loaded.
  Record r;
  r.seq = 99;
  store.commit({std::span<const Record>(&r, 1), {}, {{"case-number/ticket", "12x"}}});
  Engine engine({.clock = &clock, .store = &store});
  engine.add_flows(compile(ticket_flow));
  CHECK_THROWS_WITH(engine.recover(), Catch::Contains("counter 'case-number/ticket' is '12x'"));
  CHECK(engine.case_count() == 0);
}

TEST_CASE("the library reports the version of its headers, as MAJOR.MINOR.PATCH", "[embedding]") {
  // A host compares these to find a shared library upgraded under it.
  CHECK(escalon::version() == ESCALON_VERSION_STRING);
  CHECK(escalon::version() == fmt::format("{}.{}.{}", ESCALON_VERSION_MAJOR, ESCALON_VERSION_MINOR, ESCALON_VERSION_PATCH));
  static_assert(escalon::version_major == ESCALON_VERSION_MAJOR && escalon::version_minor == ESCALON_VERSION_MINOR &&
                escalon::version_patch == ESCALON_VERSION_PATCH);
}
