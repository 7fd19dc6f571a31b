// Flow versions in the store, migration of open cases, optimistic case revisions, due-case
// queries and group commit.

#include <fmt/format.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <thread>

#include "escalon/engine.hpp"
#include "escalon/loader.hpp"
#include "escalon/store.hpp"
#include "support.hpp"

using namespace escalon;
using namespace std::chrono_literals;
using escalon::test::at;

namespace {

// Version 1 of a small repair flow, and version 2 where `triage` became `assess`, `legacy_code`
// is gone, `channel_note` is new, the fix deadline is longer and recomputed, and a second SLA
// (first-response) appears.
const char* repair_v1 = R"(flow: repair
version: 1
data:
  customer: { type: string }
  legacy_code: { type: string }
  score: { type: int, default: 0 }
sla:
  resolution: { within: 24h }
start: triage
steps:
  triage:
    role: agent
    deadline: { within: 4h, escalate: [ { at: 50%, notify: lead } ] }
    on: { assess: fix }
  fix:
    role: tech
    deadline: { within: 8h, escalate: [ { at: 50%, notify: lead }, { at: 100%, notify: boss } ] }
    on: { done: closed }
  closed: { end: true }
)";

std::string repair_v2(const char* fix_policy) {
  return fmt::format(R"(flow: repair
version: 2
data:
  customer: {{ type: string }}
  score: {{ type: int, default: 0 }}
  channel_note: {{ type: string, default: none }}
sla:
  resolution: {{ within: 48h }}
  first-response: {{ within: 1h, stop_in: [fix] }}
start: assess
steps:
  assess:
    role: agent
    deadline: {{ within: 2h, escalate: [ {{ at: 50%, notify: lead }} ] }}
    on: {{ assess: fix }}
  fix:
    role: tech
    deadline: {{ within: 12h, on_change: {}, escalate: [ {{ at: 50%, notify: lead }}, {{ at: 100%, notify: boss }} ] }}
    on: {{ done: closed, park: parked }}
  parked:
    wait: {{ for: 1h }}
    next: fix
  closed: {{ end: true }}
)",
                     fix_policy);
}

FlowPtr flow_of(std::string_view yaml, std::string_view name = "repair.yaml") {
  auto r = validate_text(yaml, name);
  for (const auto& d : r.diagnostics) INFO(d.str());
  REQUIRE(r.ok());
  REQUIRE(r.flows.size() == 1);
  return r.flows.front();
}

std::vector<Record> of_type(const std::vector<Record>& h, RecordType t) {
  std::vector<Record> out;
  for (const auto& r : h)
    if (r.type == t) out.push_back(r);
  return out;
}

struct TempDir {
  std::filesystem::path dir = std::filesystem::temp_directory_path() / ("escalon-versions-" + std::to_string(::getpid()));
  TempDir() { std::filesystem::create_directories(dir); }
  ~TempDir() { std::filesystem::remove_all(dir); }
  [[nodiscard]] std::string path(const char* name) const { return (dir / name).string(); }
};

}  // namespace

TEST_CASE("the store keeps every flow version and refuses a changed flow under a stored version", "[store][versions]") {
  MemoryStore store;
  ManualClock clock{"2026-11-23T08:00:00Z"};
  {
    Engine engine({.clock = &clock, .store = &store});
    engine.add_flows(std::vector{flow_of(repair_v1)});
    engine.add_flows(std::vector{flow_of(repair_v1)});  // the same content again: nothing new
    const auto stored = store.flows();
    REQUIRE(stored.size() == 1);
    CHECK(stored[0].id == "repair");
    CHECK(stored[0].version == 1);
    CHECK(stored[0].hash == flow_of(repair_v1)->content_hash);
    CHECK(stored[0].source == repair_v1);
  }
  // A later process loads an edited file that still says version 1.
  std::string edited = repair_v1;
  edited.replace(edited.find("within: 4h"), 10, "within: 3h");
  Engine later({.clock = &clock, .store = &store});
  try {
    later.add_flows(std::vector{flow_of(edited)});
    FAIL("a changed flow under a stored version must be refused");
  } catch (const FlowError& e) {
    REQUIRE(e.diagnostics().size() == 1);
    CHECK(e.diagnostics()[0].where.file == "repair.yaml");
    CHECK_THAT(e.diagnostics()[0].message, Catch::Contains("flow 'repair' version 1 is already in the store with other content") &&
                                               Catch::Contains("give the changed flow `version: 2`"));
  }
  CHECK(later.flows().empty());
  CHECK(store.flows().size() == 1);
  // Under a new version number it is welcome, next to the old one.
  std::string bumped = edited;
  bumped.replace(bumped.find("version: 1"), 10, "version: 2");
  later.add_flows(std::vector{flow_of(bumped)});
  CHECK(store.flows().size() == 2);
}

TEST_CASE("running cases keep their version after the file moved on; new cases take the newest", "[store][versions]") {
  TempDir tmp;
  const std::string db = "sqlite:" + tmp.path("cases.db");
  ManualClock clock{"2026-11-23T08:00:00Z"};
  std::string old_case;
  {
    auto store = open_store(db);
    Engine engine({.clock = &clock, .store = store.get()});
    engine.add_flows(std::vector{flow_of(repair_v1)});
    old_case = engine.start("repair", {{"customer", "ACME"}, {"legacy_code", "X1"}});
    engine.send(old_case, "assess");
  }
  clock.advance(1h);
  auto store = open_store(db);
  Engine engine({.clock = &clock, .store = store.get()});
  engine.add_flows(std::vector{flow_of(repair_v2("keep"))});  // only version 2 is on disk now
  REQUIRE(engine.recover() == 1);
  const auto c = engine.get(old_case);
  CHECK(c.version == 1);  // rebuilt from the text the store kept
  CHECK(c.steps == std::vector<std::string>{"fix"});
  CHECK(c.data.at("legacy_code") == Value("X1"));
  CHECK(engine.get(engine.start("repair", {{"customer", "B"}})).version == 2);
  engine.send(old_case, "done");  // version 1 goes on with version 1's steps
  CHECK(engine.get(old_case).status == CaseStatus::completed);
}

TEST_CASE("migrating open cases to a new version: all or nothing, with a step mapping", "[store][versions][migrate]") {
  MemoryStore store;
  ManualClock clock{"2026-11-23T08:00:00Z"};
  Engine engine({.clock = &clock, .store = &store});
  engine.add_flows(std::vector{flow_of(repair_v1)});
  const auto in_triage = engine.start("repair", {{"customer", "A"}, {"legacy_code", "L-1"}, {"score", 3}});
  const auto in_fix = engine.start("repair", {{"customer", "B"}});
  engine.send(in_fix, "assess");
  clock.advance(5h);  // fix: 8h deadline started 08:00, level 1 (50%) fired at 12:00
  engine.run_due();
  REQUIRE(engine.get(in_fix).level() == 1);
  engine.add_flows(std::vector{flow_of(repair_v2("keep"))});

  // `triage` does not exist in version 2: nothing moves, the message says how to map it.
  const auto before = store.history(in_triage).size();
  try {
    engine.migrate({.flow = "repair", .to = 2});
    FAIL("migration without a mapping for `triage` must be refused");
  } catch (const EventError& e) {
    CHECK_THAT(std::string(e.what()),
               Catch::Contains("nothing was changed") &&
                   Catch::Contains("case 'repair-1' is in step 'triage', which version 2 of 'repair' does not have; map it"));
  }
  CHECK(engine.get(in_triage).version == 1);
  CHECK(engine.get(in_fix).version == 1);
  CHECK(store.history(in_triage).size() == before);
  CHECK_THROWS_WITH(engine.migrate({.flow = "repair", .to = 2, .steps = {{"triage", "asess"}}}),
                    Catch::Contains("version 2 has no step 'asess'; did you mean 'assess'?"));
  CHECK_THROWS_WITH(engine.migrate({.flow = "repair", .to = 3}), Catch::Contains("flow 'repair' version 3 is not loaded"));

  REQUIRE(engine.migrate({.flow = "repair", .to = 2, .steps = {{"triage", "assess"}}}, {.actor = "ops"}) == 2);
  const auto a = engine.get(in_triage);
  CHECK(a.version == 2);
  CHECK(a.steps == std::vector<std::string>{"assess"});
  CHECK(a.data.count("legacy_code") == 0);
  CHECK(a.data.at("score") == Value(std::int64_t{3}));
  CHECK(a.data.at("channel_note") == Value("none"));
  // assess has on_change keep (the default): triage's due time (08:00 + 4h) stays.
  REQUIRE(a.deadlines.size() == 1);
  CHECK(a.deadlines[0].due == at("2026-11-23T12:00:00Z"));
  const auto migrated = of_type(store.history(in_triage), RecordType::migrated);
  REQUIRE(migrated.size() == 1);
  CHECK(migrated[0].actor == "ops");
  CHECK(migrated[0].message == "version 1 -> 2; step triage -> assess; dropped fields: legacy_code");
  // SLAs: resolution carries with its original 24h target; first-response starts now.
  REQUIRE(a.slas.size() == 2);
  CHECK(a.slas[0].name == "resolution");
  CHECK(a.slas[0].due == at("2026-11-24T08:00:00Z"));
  CHECK(a.slas[1].name == "first-response");
  CHECK(a.slas[1].due == at("2026-11-23T14:00:00Z"));

  // fix keeps its due time (keep), and level 1, already fired, does not fire again.
  const auto f = engine.get(in_fix);
  CHECK(f.deadlines[0].due == at("2026-11-23T16:00:00Z"));
  CHECK(f.deadlines[0].level == 1);
  clock.advance(3h);  // 16:00: level 2 (100%)
  engine.run_due();
  const auto esc = of_type(store.history(in_fix), RecordType::escalated);
  REQUIRE(esc.size() == 2);
  CHECK(esc[0].level == 1);
  CHECK(esc[1].level == 2);
  CHECK(esc[1].at == at("2026-11-23T16:00:00Z"));
  // Version 2's own steps work for migrated cases.
  engine.send(in_fix, "park");
  CHECK(engine.get(in_fix).steps == std::vector<std::string>{"parked"});
  // A second migration finds nothing left on version 1.
  CHECK(engine.migrate({.flow = "repair", .from = 1, .to = 2}) == 0);
}

TEST_CASE("a migrated deadline follows the new step's on_change policy", "[store][versions][migrate]") {
  const auto due_after = [](const char* policy) {
    ManualClock clock{"2026-11-23T08:00:00Z"};
    Engine engine({.clock = &clock});
    engine.add_flows(std::vector{flow_of(repair_v1)});
    const auto id = engine.start("repair", {{"customer", "A"}});
    engine.send(id, "assess");  // fix entered 08:00, 8h deadline
    clock.advance(2h);
    engine.add_flows(std::vector{flow_of(repair_v2(policy))});
    engine.migrate({.flow = "repair", .steps = {{"triage", "assess"}}});
    return engine.get(id).deadlines.at(0).due;
  };
  CHECK(due_after("keep") == at("2026-11-23T16:00:00Z"));       // the old due time
  CHECK(due_after("recompute") == at("2026-11-23T20:00:00Z"));  // 12h from entering fix
  CHECK(due_after("carry") == at("2026-11-23T16:00:00Z"));      // 2h used of 8h: 6h remain
}

TEST_CASE("a migration survives a restart", "[store][versions][migrate][sqlite]") {
  TempDir tmp;
  const std::string db = "sqlite:" + tmp.path("migrate.db");
  ManualClock clock{"2026-11-23T08:00:00Z"};
  std::string id;
  {
    auto store = open_store(db);
    Engine engine({.clock = &clock, .store = store.get()});
    engine.add_flows(std::vector{flow_of(repair_v1)});
    id = engine.start("repair", {{"customer", "A"}});
    engine.add_flows(std::vector{flow_of(repair_v2("recompute"))});
    REQUIRE(engine.migrate({.flow = "repair", .steps = {{"triage", "assess"}}}) == 1);
  }
  auto store = open_store(db);
  Engine engine({.clock = &clock, .store = store.get()});
  engine.add_flows(std::vector{flow_of(repair_v2("recompute"))});
  REQUIRE(engine.recover() == 1);
  CHECK(engine.get(id).version == 2);
  CHECK(engine.get(id).steps == std::vector<std::string>{"assess"});
  CHECK(of_type(store->history(id), RecordType::migrated).size() == 1);
}

TEST_CASE("optimistic revisions: a second writer on the same case is refused, not lost", "[store][revisions]") {
  MemoryStore shared;
  ManualClock clock{"2026-11-23T08:00:00Z"};
  std::string id;
  {
    Engine first({.clock = &clock, .store = &shared});
    first.add_flows(std::vector{flow_of(repair_v1)});
    id = first.start("repair", {{"customer", "A"}});
  }
  // Two engine processes read the same case (as two hosts on one shared database would).
  Engine a({.clock = &clock, .store = &shared});
  Engine b({.clock = &clock, .store = &shared});
  a.add_flows(std::vector{flow_of(repair_v1)});
  b.add_flows(std::vector{flow_of(repair_v1)});
  REQUIRE(a.recover() == 1);
  REQUIRE(b.recover() == 1);
  a.send(id, "assess");
  CHECK_THROWS_AS(b.update(id, {{"score", 5}}), ConflictError);
  // The first writer's change is what the store holds.
  const auto open = shared.open_cases();
  REQUIRE(open.size() == 1);
  CHECK(open[0].revision == 2);
  Engine c({.clock = &clock, .store = &shared});
  c.add_flows(std::vector{flow_of(repair_v1)});
  REQUIRE(c.recover() == 1);
  CHECK(c.get(id).steps == std::vector<std::string>{"fix"});
  CHECK(c.get(id).data.at("score") == Value(std::int64_t{0}));
}

TEST_CASE("stores answer which open cases have a timer due", "[store][due]") {
  TempDir tmp;
  for (const std::string& location : {std::string("memory:"), "sqlite:" + tmp.path("due.db")}) {
    INFO(location);
    auto store = open_store(location);
    ManualClock clock{"2026-11-23T08:00:00Z"};
    Engine engine({.clock = &clock, .store = store.get()});
    engine.add_flows(std::vector{flow_of(repair_v1)});
    const auto a = engine.start("repair", {{"customer", "A"}});  // triage: level 1 at 10:00
    clock.advance(30min);
    const auto b = engine.start("repair", {{"customer", "B"}});  // level 1 at 10:30
    const auto c = engine.start("repair", {{"customer", "C"}});
    engine.send(c, "assess");  // fix: level 1 at 12:30
    CHECK(store->due_cases(at("2026-11-23T09:59:00Z")).empty());
    CHECK(store->due_cases(at("2026-11-23T10:30:00Z")) == std::vector<std::string>{a, b});
    CHECK(store->due_cases(at("2026-11-23T13:00:00Z"), 2) == std::vector<std::string>{a, b});
    CHECK(store->due_cases(at("2026-11-23T13:00:00Z")) == std::vector<std::string>{a, b, c});
    engine.send(c, "done");  // closed cases are never due
    CHECK(store->due_cases(at("2026-11-24T13:00:00Z")) == std::vector<std::string>{a, b});
  }
}

TEST_CASE("an older SQLite store is migrated on open and keeps its cases", "[store][sqlite]") {
  TempDir tmp;
  const std::string path = tmp.path("v1.db");
  // Schema version 1 as the first release wrote it, with one open case.
  const std::string sql = R"(CREATE TABLE records(seq INTEGER PRIMARY KEY, case_id TEXT NOT NULL, at INTEGER NOT NULL, type TEXT NOT NULL, json TEXT NOT NULL);
CREATE INDEX records_case ON records(case_id, seq);
CREATE TABLE cases(id TEXT PRIMARY KEY, flow TEXT NOT NULL, seq INTEGER NOT NULL, open INTEGER NOT NULL, state TEXT NOT NULL);
CREATE INDEX cases_open ON cases(open);
CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
INSERT INTO cases VALUES('old-1', 'repair', 0, 1, '{}');
PRAGMA application_id=1163084620;
PRAGMA user_version=1;)";
  std::ofstream(tmp.path("v1.sql")) << sql;
  REQUIRE(std::system(("sqlite3 " + path + " < " + tmp.path("v1.sql")).c_str()) == 0);
  auto store = open_store("sqlite:" + path);
  const auto open = store->open_cases();
  REQUIRE(open.size() == 1);
  CHECK(open[0].id == "old-1");
  CHECK(open[0].revision == 0);
  CHECK(store->flows().empty());
  CHECK(store->due_cases(at("2030-01-01T00:00:00Z")).empty());
}

TEST_CASE("group commit: concurrent callers share transactions, and none returns before its unit is stored",
          "[store][group]") {
  MemoryStore inner;
  test::ForwardingStore store{inner};
  std::atomic<int> commits{0};
  store.before_commit = [&](const StoreBatch&) {
    ++commits;
    std::this_thread::sleep_for(2ms);  // a disk that takes its time
  };
  ManualClock clock{"2026-11-23T08:00:00Z"};
  Engine engine({.clock = &clock, .store = &store, .group_commit = true});
  engine.add_flows(std::vector{flow_of(repair_v1)});
  constexpr int threads = 8, per_thread = 25;
  std::vector<std::string> ids;
  for (int t = 0; t < threads; ++t) ids.push_back(engine.start("repair", {{"customer", "T" + std::to_string(t)}}));
  const int commits_before = commits;
  std::atomic<int> not_durable{0};
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t)
    pool.emplace_back([&, t] {
      for (int i = 1; i <= per_thread; ++i) {
        engine.update(ids[static_cast<std::size_t>(t)], {{"score", i}});
        // Acknowledged means stored: the store already holds this very change.
        bool found = false;
        for (const auto& r : inner.history(ids[static_cast<std::size_t>(t)]))
          found = found || (r.type == RecordType::data_changed && r.new_value == Value(std::int64_t{i}));
        if (!found) ++not_durable;
      }
    });
  for (auto& th : pool) th.join();
  CHECK(not_durable == 0);
  const int used = commits - commits_before;
  INFO("transactions for " << threads * per_thread << " calls: " << used);
  CHECK(used < threads * per_thread);  // units were batched
  // Every case's stored state is its latest one.
  Engine again({.clock = &clock, .store = &inner});
  again.add_flows(std::vector{flow_of(repair_v1)});
  REQUIRE(again.recover() == static_cast<std::size_t>(threads));
  for (const auto& id : ids) CHECK(again.get(id).data.at("score") == Value(std::int64_t{per_thread}));
}

TEST_CASE("group commit: a failed transaction fails every caller in it and stops the engine", "[store][group]") {
  MemoryStore inner;
  test::ForwardingStore store{inner};
  std::atomic<bool> fail{false};
  store.before_commit = [&](const StoreBatch&) {
    if (fail) throw std::runtime_error("disk full");
  };
  ManualClock clock{"2026-11-23T08:00:00Z"};
  Engine engine({.clock = &clock, .store = &store, .group_commit = true});
  engine.add_flows(std::vector{flow_of(repair_v1)});
  const auto id = engine.start("repair", {{"customer", "A"}});
  const auto stored = inner.record_count();
  fail = true;
  CHECK_THROWS_WITH(engine.send(id, "assess"), Catch::Contains("the store could not commit: disk full"));
  fail = false;
  CHECK_THROWS_WITH(engine.update(id, {{"score", 1}}), Catch::Contains("the store failed earlier"));
  CHECK(inner.record_count() == stored);
}

TEST_CASE("stores themselves refuse a flow version stored again with other content", "[store][versions]") {
  TempDir tmp;
  for (const std::string& location : {std::string("memory:"), "sqlite:" + tmp.path("flows.db")}) {
    INFO(location);
    auto store = open_store(location);
    const StoredFlow v1{"repair", 1, "aaaa", "repair.yaml", repair_v1};
    store->commit({.flows = std::span(&v1, 1)});
    store->commit({.flows = std::span(&v1, 1)});  // the same content again is fine
    StoredFlow changed = v1;
    changed.hash = "bbbb";
    CHECK_THROWS_AS(store->commit({.flows = std::span<const StoredFlow>(&changed, 1)}), ConflictError);
    const auto kept = store->flows();
    REQUIRE(kept.size() == 1);
    CHECK(kept[0].hash == "aaaa");
  }
}

TEST_CASE("a version loaded from a relative path with an include is read back from the store", "[store][versions]") {
  TempDir tmp;
  std::filesystem::create_directories(tmp.dir / "flows");
  std::ofstream(tmp.dir / "flows/cal.yaml") << "calendars:\n  office: { timezone: UTC, hours: { mon-fri: \"08:00-16:00\" } }\n";
  std::ofstream(tmp.dir / "flows/desk.yaml")
      << "flow: desk\ninclude: [cal.yaml]\ncalendar: office\nstart: a\nsteps:\n"
         "  a: { deadline: { within: 1 business hour }, on: { done: z } }\n  z: { end: true }\n";
  const auto cwd = std::filesystem::current_path();
  std::filesystem::current_path(tmp.dir);  // flows/desk.yaml is stored under its relative path
  MemoryStore store;
  ManualClock clock{"2026-11-23T08:00:00Z"};
  std::string id;
  {
    Engine engine({.clock = &clock, .store = &store});
    engine.add_flows(load_flows({"flows/desk.yaml"}));
    id = engine.start("desk");
  }
  Engine engine({.clock = &clock, .store = &store});  // the flow is not loaded: only the store has it
  std::size_t recovered = 0;
  CHECK_NOTHROW(recovered = engine.recover());
  std::filesystem::current_path(cwd);
  CHECK(recovered == 1);
  CHECK(engine.get(id).deadlines.at(0).due == at("2026-11-23T09:00:00Z"));
}
