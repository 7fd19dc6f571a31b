// Personal data (docs/security.md): `pii: true` fields are "***" in journal_jsonl() and in the
// journal's copy of messages unless asked for, with the permission to read them when the
// caller carries roles; notifications keep the whole text for the people they go to.

#include <fmt/format.h>

#include "escalon/engine.hpp"
#include "escalon/loader.hpp"
#include "support.hpp"

using namespace escalon;
using namespace std::chrono_literals;
using escalon::test::compile;

namespace {

const char* visit_flow = R"(flow: visit
roles: [dispatch, supervisor]
data:
  customer: { type: string, required: true, pii: true }
  phone:    { type: string, pii: true }
  device:   { type: string }
start: book
steps:
  book:
    role: dispatch
    form:
      phone: { type: string }
    on:
      booked: done
    deadline:
      within: 1h
      escalate:
        - { at: 100%, notify: supervisor, message: "Call {customer} on {phone} about the {device}" }
  done:
    end: true
)";

std::size_t count(const std::string& text, std::string_view what) {
  std::size_t n = 0;
  for (auto at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

}  // namespace

TEST_CASE("personal data is hidden in journal_jsonl unless asked for", "[personal]") {
  ManualClock clock{"2026-11-23T08:00:00Z"};
  Engine engine({.clock = &clock, .access = {.read_personal = {"supervisor"}}});
  engine.add_flows(compile(visit_flow));
  std::vector<Notification> told;
  engine.on_notify([&](const Notification& n) { told.push_back(n); });
  const auto id = engine.start("visit", {{"customer", "Ana Horvat"}, {"device", "washer"}});
  engine.update(id, {{"phone", "+385 91 555 0101"}});
  clock.advance(1h);
  engine.run_due();
  engine.send(id, "booked", {{"phone", "+385 91 555 0202"}});

  const std::string hidden = engine.journal_jsonl(id);
  CHECK(count(hidden, "Ana Horvat") == 0);
  CHECK(count(hidden, "555") == 0);
  CHECK(count(hidden, "washer") == 2);  // not personal: start data and the escalation message
  CHECK(hidden.find(R"("data":{"customer":"***","device":"washer"},"message":"version 1","personal":["customer"])") !=
        std::string::npos);
  CHECK(hidden.find(R"("target":"phone","old":null,"new":"***")") != std::string::npos);
  CHECK(hidden.find(R"("message":"Call *** on *** about the washer")") != std::string::npos);
  CHECK(hidden.find(R"("event":"booked","data":{"phone":"***"})") != std::string::npos);

  // The notification goes to people who need the number: it keeps it.
  REQUIRE(told.size() == 1);
  CHECK(told[0].message == "Call Ana Horvat on +385 91 555 0101 about the washer");

  const std::string shown = engine.journal_jsonl(id, {.personal = true});
  CHECK(count(shown, "Ana Horvat") == 1);
  CHECK(count(shown, "+385 91 555 0202") == 2);  // the event's payload and the data change
  CHECK(engine.journal_jsonl(id, {.personal = true, .actor = "sam", .roles = std::vector<std::string>{"supervisor"}}) ==
        shown);
  CHECK_THROWS_MATCHES(
      engine.journal_jsonl(id, {.personal = true, .actor = "dan", .roles = std::vector<std::string>{"dispatch"}}),
      PermissionError,
      Catch::Message("'dan' (roles: dispatch) may not read personal data; that needs one of: supervisor"));
  // The host's own reads keep the stored values.
  CHECK(engine.get(id).data.at("customer") == Value("Ana Horvat"));
  CHECK(engine.history(id).front().data.as_map().at("customer") == Value("Ana Horvat"));
}

TEST_CASE("records remember which fields were personal, also through the store", "[personal]") {
  ManualClock clock{"2026-11-23T08:00:00Z"};
  MemoryStore store;
  {
    Engine engine({.clock = &clock, .store = &store});
    engine.add_flows(compile(visit_flow));
    (void)engine.start("visit", {{"customer", "Ana Horvat"}}, {.id = "v-1"});
  }
  Engine again({.clock = &clock, .store = &store});
  again.add_flows(compile(visit_flow));
  CHECK(count(again.journal_jsonl("v-1"), "Ana Horvat") == 0);
  const Record back = Record::from_json(store.history("v-1").front().to_json());
  CHECK(back.personal == std::vector<std::string>{"customer"});
  CHECK(back.redacted().data.as_map().at("customer") == Value("***"));
}

TEST_CASE("pii marks a whole data field and takes a boolean", "[personal][loader]") {
  const auto errors = [](const std::string& data) {
    std::vector<std::string> out;
    const auto text = fmt::format("flow: f\ndata:\n{}start: a\nsteps:\n  a: {{ end: true }}\n", data);
    for (const auto& d : validate_text(text, "f.yaml").diagnostics)
      if (d.severity == Severity::error) out.push_back(d.str());
    return out;
  };
  CHECK(errors("  name: { type: string, pii: true }\n").empty());
  CHECK(errors("  name: { type: string, pii: maybe }\n").size() == 1);
  const auto nested = errors("  address: { type: map, fields: { street: { type: string, pii: true } } }\n");
  REQUIRE(nested.size() == 1);
  CHECK_THAT(nested[0], Catch::Contains("`pii` marks a whole data field as personal data"));
}

// The in-memory journal keeps records packed (texts numbered, values aside): what it gives
// back must be exactly what the sink saw, record for record, values and personal marks too,
// with the refused calls for unknown cases in their place.
TEST_CASE("the in-memory journal gives back every record as it was made", "[personal][journal]") {
  ManualClock clock{"2026-11-23T08:00:00Z"};
  std::vector<Record> seen;
  Engine engine({.clock = &clock, .journal_sink = [&](const Record& r) { seen.push_back(r); }});
  engine.add_flows(compile(visit_flow));
  const auto a = engine.start("visit", {{"customer", "Ana Horvat"}, {"device", "washer"}});
  const auto b = engine.start("visit", {{"customer", "Ivo Kos"}});
  engine.update(a, {{"phone", "+385 91 555 0101"}});
  CHECK_THROWS_AS(engine.send("visit-99", "booked"), CaseError);
  clock.advance(1h);
  engine.run_due();
  engine.send(b, "booked", {{"phone", "+385 91 555 0202"}}, {.actor = "sam", .channel = "phone"});
  CHECK_THROWS_AS(engine.send(b, "booked"), EventError);

  std::string all;
  std::vector<std::string> of_a, of_b;
  for (const auto& r : seen) {
    all += r.to_json() + "\n";
    if (r.case_id == a) of_a.push_back(r.to_json());
    if (r.case_id == b) of_b.push_back(r.to_json());
  }
  CHECK(engine.journal_jsonl({}, {.personal = true}) == all);
  auto json = [](const std::vector<Record>& h) {
    std::vector<std::string> out;
    for (const auto& r : h) out.push_back(r.to_json());
    return out;
  };
  CHECK(json(engine.history(a)) == of_a);
  CHECK(json(engine.history(b)) == of_b);
  CHECK(of_a.size() > 5);
  CHECK(all.find("visit-99") != std::string::npos);
  CHECK(engine.history(b).front().personal == std::vector<std::string>{"customer"});
}
