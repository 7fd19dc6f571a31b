// Text and values that come in through the API are checked before anything changes: text that is
// not UTF-8 (the journal and case states are JSON) and values nested without end are refused as
// bad_data, with or without a store, and the engine goes on (issue "Hardening").

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "base/utf8.hpp"
#include "escalon/engine.hpp"
#include "escalon/store.hpp"
#include "support.hpp"

using namespace escalon;

namespace {

const char* note_flow = R"(flow: note
data:
  customer: { type: string, required: true }
  text: string
start: open
steps:
  open:
    role: agent
    on:
      note: { to: open, set: { text: "event.text" } }
      fix: fixed
  fixed:
    call: crm.note
    next: done
  done:
    end: true
)";

void refused_as_bad_data(const std::function<void()>& call, const std::string& message) {
  try {
    call();
  } catch (const EventError& e) {
    CHECK(e.code() == Refusal::bad_data);
    CHECK(e.message() == message);
    return;
  }
  FAIL("not refused: " << message);
}

}  // namespace

TEST_CASE("invalid_utf8 finds the first byte that is not UTF-8", "[hardening][utf8]") {
  using detail::invalid_utf8;
  CHECK_FALSE(invalid_utf8(""));
  CHECK_FALSE(invalid_utf8("plain ascii"));
  CHECK_FALSE(invalid_utf8("caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80"));  // é € 😀
  CHECK(invalid_utf8("ab\xFF") == 2u);
  CHECK(invalid_utf8("\xC3") == 0u);               // truncated
  CHECK(invalid_utf8("\xC0\xAF") == 0u);           // overlong '/'
  CHECK(invalid_utf8("x\xED\xA0\x80") == 1u);      // a UTF-16 surrogate
  CHECK(invalid_utf8("\xF4\x90\x80\x80") == 0u);   // above U+10FFFF
  CHECK(invalid_utf8("\xE2\x82") == 0u);           // truncated at the end
  CHECK(invalid_utf8(std::string_view("a\0b", 3)) == std::nullopt);  // NUL is valid UTF-8
}

TEST_CASE("text that is not UTF-8 is refused at the call, and nothing is stored", "[hardening][utf8]") {
  MemoryStore store;
  ManualClock clock{"2026-11-23T08:00:00Z"};
  Engine engine({.clock = &clock, .store = &store});
  engine.add_flows(test::compile(note_flow, "note.yaml"));
  engine.on_action("crm.note", [](ActionContext&) {});
  const auto id = engine.start("note", {{"customer", "ACME"}});
  const auto records = store.record_count();
  refused_as_bad_data([&] { engine.send(id, "note", {{"text", "caf\xE9"}}); },
                      "payload field 'text' is not valid UTF-8 (byte 0xe9 at offset 3); text must be UTF-8");
  refused_as_bad_data([&] { engine.send(id, "note", {{"text", Map{{"x\xFF", 1}}}}); },
                      "a key in payload field 'text' is not valid UTF-8 (byte 0xff at offset 1); text must be UTF-8");
  refused_as_bad_data([&] { engine.send(id, "n\xFFte"); },
                      "the event name is not valid UTF-8 (byte 0xff at offset 1); text must be UTF-8");
  refused_as_bad_data([&] { engine.send(id, "note", {}, {.actor = "\x80"}); },
                      "the actor is not valid UTF-8 (byte 0x80 at offset 0); text must be UTF-8");
  refused_as_bad_data([&] { engine.update(id, {{"text", List{"ok", "\xC3"}}}); },
                      "update field 'text'[1] is not valid UTF-8 (byte 0xc3 at offset 0); text must be UTF-8");
  refused_as_bad_data([&] { engine.cancel(id, "dup\xFE"); },
                      "the reason is not valid UTF-8 (byte 0xfe at offset 3); text must be UTF-8");
  refused_as_bad_data([&] { (void)engine.start("note", {{"customer", "\xFF"}}); },
                      "start data field 'customer' is not valid UTF-8 (byte 0xff at offset 0); text must be UTF-8");
  refused_as_bad_data([&] { (void)engine.start("note", {{"customer", "A"}}, {.id = "c\xFF"}); },
                      "the case id is not valid UTF-8 (byte 0xff at offset 1); text must be UTF-8");
  CHECK(store.record_count() == records);
  // The engine and the store go on as before.
  engine.send(id, "note", {{"text", "caf\xC3\xA9"}});
  CHECK(engine.get(id).data.at("text") == Value("caf\xC3\xA9"));
}

TEST_CASE("a value nested deeper than max_value_depth is refused at the call", "[hardening][utf8]") {
  ManualClock clock{"2026-11-23T08:00:00Z"};
  Engine engine({.clock = &clock});
  engine.add_flows(test::compile(note_flow, "note.yaml"));
  const auto id = engine.start("note", {{"customer", "ACME"}});
  Value deep = 1;
  // Deep enough to matter, shallow enough that the host's own Value can be destroyed (its
  // destructor recurses too: 100,000 levels overflow the stack under ASan).
  for (std::size_t i = 0; i < 1'000; ++i) deep = List{deep};
  try {
    engine.send(id, "note", {{"text", deep}});
    FAIL("not refused");
  } catch (const EventError& e) {
    CHECK(e.code() == Refusal::bad_data);
    CHECK_THAT(e.message(), Catch::Contains(fmt::format("nests deeper than {} levels", max_value_depth)));
  }
}

TEST_CASE("an action result that is not UTF-8 fails the action and a handler message that is not is stored replaced",
          "[hardening][utf8]") {
  MemoryStore store;
  ManualClock clock{"2026-11-23T08:00:00Z"};
  Engine engine({.clock = &clock, .store = &store});
  engine.add_flows(test::compile(note_flow, "note.yaml"));
  int calls = 0;
  engine.on_action("crm.note", [&](ActionContext& ctx) {
    if (++calls == 1) ctx.set("text", "\xFF");
    else throw std::runtime_error("CRM said \xFF\xFE");
  });
  const auto id = engine.start("note", {{"customer", "ACME"}});
  engine.send(id, "fix");
  const auto h = store.history(id);
  REQUIRE(h.size() >= 2);
  std::vector<std::string> failures;
  for (const auto& r : h)
    if (r.type == RecordType::action_failed) failures.push_back(r.message);
  REQUIRE(failures.size() >= 1);
  CHECK(failures[0] == "action 'crm.note' result: the result field 'text' is not valid UTF-8 (byte 0xff at offset 0); "
                       "text must be UTF-8");
  // Every record was written (the second failure's message with U+FFFD for the bad bytes).
  CHECK(engine.get(id).status != CaseStatus::completed);
}

TEST_CASE("a stored flow version whose hash Escalon never wrote is a damaged store, not a changed flow",
          "[hardening][store]") {
  MemoryStore store;
  const auto flows = test::compile(note_flow, "note.yaml");
  const StoredFlow damaged{.id = "note", .version = 1, .hash = "sha255:0123", .file = "note.yaml", .source = note_flow};
  store.commit(StoreBatch{.flows = std::span(&damaged, 1)});
  Engine engine({.store = &store});
  try {
    engine.add_flows(flows);
    FAIL("accepted");
  } catch (const StoreError& e) {
    CHECK(e.message() == "the store is damaged: flow 'note' version 1 is stored with hash 'sha255:0123', which is not a "
                         "content hash (sha256:<64 hex digits>); restore the store from a backup");
  }
}

TEST_CASE("a stored clock whose next point falls past year 9999 is that case's incident at recovery",
          "[hardening][store]") {
  MemoryStore store;
  const char* timed = R"(flow: timed
data:
  customer: { type: string, required: true }
start: open
steps:
  open:
    role: agent
    deadline: { within: 2h }
    on: { done: closed }
  closed:
    end: true
)";
  const auto flows = test::compile(timed, "timed.yaml");
  ManualClock clock{"2026-11-23T08:00:00Z"};
  std::string id, other;
  {
    Engine engine({.clock = &clock, .store = &store});
    engine.add_flows(flows);
    id = engine.start("timed", {{"customer", "ACME"}});
    other = engine.start("timed", {{"customer", "Globex"}});
  }
  // The deadline's clock as a damaged (or hand-edited) store could hold it: running since an
  // hour before the end of time, two hours to go.
  auto sc = *store.find_case(id);
  auto state = nlohmann::json::parse(sc.state);
  const auto last = std::chrono::duration_cast<std::chrono::milliseconds>(max_time.time_since_epoch()).count();
  for (auto& k : state["clocks"])
    if (k.value("active", false) && k.value("total", 0) == 7'200'000) {
      k["started"] = last - 3'600'000;
      k["since"] = last - 3'600'000;
    }
  sc.state = state.dump();
  sc.expected = sc.revision;
  sc.revision += 1;
  store.commit(StoreBatch{.cases = std::span(&sc, 1)});
  Engine engine({.clock = &clock, .store = &store});
  engine.add_flows(flows);
  CHECK(engine.recover() == 2);
  CHECK(engine.get(id).status == CaseStatus::incident);
  CHECK_THAT(engine.get(id).incident, Catch::Contains("recovering its clocks") && Catch::Contains("9999-12-31T23:59:59.999Z"));
  CHECK(engine.get(other).status == CaseStatus::active);
}
