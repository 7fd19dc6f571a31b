// Authorization (docs/security.md): calls that carry roles are checked against the flow's
// `role:` and `allow:` and EngineOptions::access; refused calls throw PermissionError, leave a
// `rejected` record and change nothing; calls without roles are the host's own.

#include <unistd.h>

#include <filesystem>
#include <fstream>

#include <fmt/format.h>

#include "escalon/engine.hpp"
#include "escalon/loader.hpp"
#include "escalon/scenario.hpp"
#include "support.hpp"

using namespace escalon;
using namespace std::chrono_literals;
using escalon::test::compile;

namespace {

const char* desk_flow = R"(flow: desk
roles: [front-office, back-office, supervisor]
data:
  note: { type: string }
  tries: { type: int, default: 0 }
start: intake
steps:
  intake:
    role: front-office
    on:
      submit: review
      fast-track: { to: review, allow: [supervisor, user:lead] }
  review:
    role: back-office
    deadline: { within: 4h }
    on:
      approve: lookup
  lookup:
    call: crm.lookup
    retry: { attempts: 1 }
    next: done
  done:
    end: true
)";

std::vector<std::string> roles(std::initializer_list<const char*> r) { return {r.begin(), r.end()}; }

EventOptions as(const char* actor, std::initializer_list<const char*> r) {
  return {.actor = actor, .roles = roles(r)};
}

struct Desk {
  ManualClock clock{"2026-11-23T08:00:00Z"};
  Engine engine;
  explicit Desk(EngineOptions o = {}) : engine(with_clock(std::move(o), clock)) {
    engine.add_flows(compile(desk_flow));
    engine.on_action("crm.lookup", [](ActionContext&) { throw Error("CRM down"); });
  }
  static EngineOptions with_clock(EngineOptions o, ManualClock& c) {
    o.clock = &c;
    return o;
  }
  std::string start() { return engine.start("desk", {}, {.actor = "ana", .roles = roles({"front-office"})}); }
  Record last(const std::string& id) { return engine.history(id).back(); }
};

}  // namespace

TEST_CASE("calls without roles are the host's own and are not checked", "[access]") {
  Desk d;
  const auto id = d.engine.start("desk");
  d.engine.send(id, "fast-track");
  d.engine.update(id, {{"note", "x"}});
  d.engine.cancel(id, "duplicate");
  CHECK(d.engine.get(id).status == CaseStatus::cancelled);
}

TEST_CASE("start needs the start step's role or the policy's start grant", "[access]") {
  Desk d;
  CHECK_THROWS_MATCHES(d.engine.start("desk", {}, {.actor = "bo", .roles = roles({"back-office"})}), PermissionError,
                       Catch::Message("'bo' (roles: back-office) may not start a case of flow 'desk'; that needs one of: "
                                      "front-office"));
  CHECK(d.engine.case_count() == 0);
  CHECK(!d.start().empty());

  Desk granted({.access = {.start = {"user:bot"}}});
  CHECK_NOTHROW(granted.engine.start("desk", {}, {.actor = "bot", .roles = roles({})}));
  CHECK_THROWS_AS(granted.engine.start("desk", {}, {.actor = "other-bot", .roles = roles({})}), PermissionError);
}

TEST_CASE("an event needs its transition's allow, else the step's role", "[access]") {
  Desk d;
  const auto id = d.start();
  try {
    d.engine.send(id, "submit", {}, as("bo", {"back-office"}));
    FAIL("sent");
  } catch (const PermissionError& e) {
    CHECK(e.code() == Refusal::not_permitted);
    CHECK(std::string(e.what()) ==
          "'bo' (roles: back-office) may not send 'submit' in step 'intake' of case 'desk-1'; that needs one of: "
          "front-office");
  }
  const Record r = d.last(id);
  CHECK(r.type == RecordType::rejected);
  CHECK(r.actor == "bo");
  CHECK(r.event == "submit");
  CHECK(d.engine.get(id).steps.at(0) == "intake");

  // allow: replaces the step's role for that transition.
  CHECK_THROWS_WITH(d.engine.send(id, "fast-track", {}, as("ana", {"front-office"})),
                    Catch::EndsWith("that needs one of: supervisor, user:lead"));
  d.engine.send(id, "fast-track", {}, as("lead", {}));
  CHECK(d.engine.get(id).steps.at(0) == "review");
  const auto id2 = d.start();
  d.engine.send(id2, "fast-track", {}, as("sam", {"supervisor"}));
  CHECK(d.engine.get(id2).steps.at(0) == "review");
  const auto id3 = d.start();
  d.engine.send(id3, "submit", {}, as("ana", {"front-office"}));
  CHECK_THROWS_AS(d.engine.send(id3, "approve", {}, as("ana", {"front-office"})), PermissionError);
  d.engine.send(id3, "approve", {}, as("bo", {"back-office"}));
  CHECK(d.engine.get(id3).status == CaseStatus::incident);  // the lookup failed: CRM down
}

TEST_CASE("the policy's send and admin grants take any event", "[access]") {
  Desk d({.access = {.admin = {"user:root"}, .send = {"supervisor"}}});
  const auto id = d.start();
  d.engine.send(id, "submit", {}, as("sam", {"supervisor"}));
  d.engine.send(id, "approve", {}, as("root", {}));
  CHECK(d.engine.get(id).steps.at(0) == "lookup");
}

TEST_CASE("update needs the current step's role or the policy's update grant", "[access]") {
  Desk d({.access = {.update = {"supervisor"}}});
  const auto id = d.start();
  d.engine.update(id, {{"note", "called back"}}, as("ana", {"front-office"}));
  CHECK_THROWS_WITH(d.engine.update(id, {{"note", "x"}}, as("bo", {"back-office"})),
                    "'bo' (roles: back-office) may not update case 'desk-1' in step 'intake'; that needs one of: "
                    "front-office, supervisor");
  CHECK(d.engine.get(id).data.at("note") == Value("called back"));
  d.engine.update(id, {{"note", "y"}}, as("sam", {"supervisor"}));
  CHECK(d.engine.get(id).data.at("note") == Value("y"));
}

TEST_CASE("cancel, reschedule, retry, resolve and migrate are the policy's alone", "[access]") {
  SECTION("granted to nobody: refused to every caller with roles, naming the setting") {
    Desk d;
    const auto id = d.start();
    CHECK_THROWS_WITH(d.engine.cancel(id, "dup", as("ana", {"front-office"})),
                      "'ana' (roles: front-office) may not cancel case 'desk-1'; no role is granted it "
                      "(EngineOptions::access.cancel or .admin)");
    d.engine.send(id, "submit", {}, as("ana", {"front-office"}));
    CHECK_THROWS_AS(d.engine.reschedule(id, d.clock.now() + 1h, as("bo", {"back-office"})), PermissionError);
    d.engine.send(id, "approve", {}, as("bo", {"back-office"}));
    REQUIRE(d.engine.get(id).status == CaseStatus::incident);
    CHECK_THROWS_AS(d.engine.retry(id, as("bo", {"back-office"})), PermissionError);
    CHECK_THROWS_AS(d.engine.resolve(id, {}, "done", as("bo", {"back-office"})), PermissionError);
    CHECK_THROWS_WITH(d.engine.migrate({.flow = "desk"}, as("bo", {"back-office"})),
                      "'bo' (roles: back-office) may not migrate cases of flow 'desk'; no role is granted it "
                      "(EngineOptions::access.migrate or .admin)");
    CHECK(d.engine.get(id).status == CaseStatus::incident);
  }
  SECTION("granted: the named roles and people may") {
    Desk d({.access = {.admin = {"user:root"}, .cancel = {"supervisor"}, .reschedule = {"back-office"},
                       .repair = {"supervisor"}, .migrate = {"user:ops"}}});
    const auto id = d.start();
    d.engine.send(id, "submit", {}, as("ana", {"front-office"}));
    const TimePoint later = d.clock.now() + 8h;
    d.engine.reschedule(id, later, as("bo", {"back-office"}));
    CHECK(d.engine.get(id).deadlines.at(0).due == later);
    d.engine.send(id, "approve", {}, as("bo", {"back-office"}));
    d.engine.retry(id, as("sam", {"supervisor"}));
    d.engine.resolve(id, {}, "done", as("sam", {"supervisor"}));
    CHECK(d.engine.get(id).status == CaseStatus::completed);
    CHECK(d.engine.migrate({.flow = "desk"}, as("ops", {})) == 0);
    const auto other = d.start();
    CHECK_THROWS_AS(d.engine.cancel(other, "dup", as("bo", {"back-office"})), PermissionError);
    d.engine.cancel(other, "dup", as("root", {}));
    CHECK(d.engine.get(other).status == CaseStatus::cancelled);
  }
}

TEST_CASE("required: a call without roles is refused; timers still fire", "[access]") {
  Desk d({.authorization = Authorization::required});
  CHECK_THROWS_WITH(d.engine.start("desk"),
                    "start a case of flow 'desk' refused: the call carries no roles and this engine requires them "
                    "(EngineOptions::authorization is required)");
  const auto id = d.start();
  CHECK_THROWS_AS(d.engine.send(id, "submit"), PermissionError);
  d.engine.send(id, "submit", {}, as("ana", {"front-office"}));
  d.clock.advance(5h);
  d.engine.run_due();  // the engine's own work needs no roles
  CHECK(d.engine.get(id).deadlines.at(0).overdue);
}

TEST_CASE("off: roles are ignored", "[access]") {
  Desk d({.authorization = Authorization::off});
  const auto id = d.start();
  d.engine.send(id, "submit", {}, as("bo", {"back-office"}));  // refused under automatic
  d.engine.cancel(id, "dup", as("x", {}));
  CHECK(d.engine.get(id).status == CaseStatus::cancelled);
  CHECK(d.last(id).actor == "x");
}

TEST_CASE("a permission refusal does not bind the call's idempotency key", "[access]") {
  Desk d;
  const auto id = d.start();
  EventOptions wrong = as("bo", {"back-office"});
  wrong.key = "k-1";
  CHECK_THROWS_AS(d.engine.send(id, "submit", {}, wrong), PermissionError);
  CHECK_THROWS_AS(d.engine.send(id, "submit", {}, wrong), PermissionError);  // checked again, not replayed
  EventOptions right = as("ana", {"front-office"});
  right.key = "k-1";
  d.engine.send(id, "submit", {}, right);
  CHECK(d.engine.get(id).steps.at(0) == "review");
  d.engine.send(id, "submit", {}, right);  // a retry of the applied call: replayed
  CHECK(d.engine.get(id).steps.at(0) == "review");
}

TEST_CASE("allow: names declared roles or user:NAME, and only on events", "[access][loader]") {
  const auto problems = [](const char* text) {
    std::vector<std::string> out;
    for (const auto& d : validate_text(text, "f.yaml").diagnostics)
      if (d.severity == Severity::error) out.push_back(d.str());
    return out;
  };
  const auto bad_role = problems(R"(flow: f
roles: [desk]
start: a
steps:
  a:
    on:
      go: { to: b, allow: [dsk] }
  b: { end: true }
)");
  CHECK(bad_role == std::vector<std::string>{"f.yaml:7:28: error: unknown role 'dsk' in `allow`; did you mean 'desk'?"});
  const auto on_branch = problems(R"(flow: f
start: a
steps:
  a:
    decide:
      - { to: b, allow: [desk] }
  b: { end: true }
)");
  REQUIRE(!on_branch.empty());
  CHECK_THAT(on_branch[0], Catch::Contains("a `decide` branch takes no event"));
}

TEST_CASE("scenarios name the actor's roles and list refused calls", "[access][scenario]") {
  const auto dir = std::filesystem::temp_directory_path() / fmt::format("escalon-access-{}", ::getpid());
  std::filesystem::create_directories(dir);
  const auto file = dir / "desk-day.yaml";
  std::ofstream(file) << R"(clock: 2026-11-23T08:00:00Z
cases:
  - { id: c1, flow: desk, actor: ana, roles: [front-office] }
events:
  - { at: 2026-11-23T08:05:00Z, case: c1, send: submit, actor: bo, roles: [back-office] }
  - { at: 2026-11-23T08:06:00Z, case: c1, send: submit, actor: ana, roles: [front-office] }
until: 2026-11-23T09:00:00Z
)";
  const auto r = run_scenario(load_scenario(file.string()), compile(desk_flow));
  REQUIRE(r.refused.size() == 1);
  CHECK(r.refused[0] == file.string() + ":5:5: 'bo' (roles: back-office) may not send 'submit' in step 'intake' of case "
                                        "'c1'; that needs one of: front-office");
  REQUIRE(r.cases.size() == 1);
  CHECK(r.cases[0].step == "review");
  std::filesystem::remove_all(dir);
}
