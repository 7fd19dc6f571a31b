// Recovery through a store: a restarted engine carries on exactly where the stored cases were.

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <set>

#include <nlohmann/json.hpp>

#include "escalon/engine.hpp"
#include "escalon/loader.hpp"
#include "escalon/scenario.hpp"
#include "escalon/store.hpp"
#include "support.hpp"

using namespace escalon;
using namespace std::chrono_literals;
using escalon::test::at;

namespace {

std::vector<FlowPtr> flows() { return load_flows({std::string(ESCALON_SOURCE_DIR) + "/flows"}); }

std::string journal_of(Store& s, const std::vector<std::string>& ids) {
  std::string out;
  for (const auto& id : ids)
    for (const auto& r : s.history(id)) out += r.to_json() + "\n";
  return out;
}

const char* ladder_flow = R"(flow: ladder
start: a
steps:
  a:
    deadline:
      within: 1h
      catch_up: latest
      escalate:
        - { at: 50%, notify: lead }
        - { at: 100%, notify: boss, repeat: every 1h, max: 20 }
    on: { done: z }
  z: { end: true }
)";

// The same script of calls, optionally with a restart (and an outage) after step `restart_after`.
std::string run_script(bool restart, std::vector<std::string>& ids, const std::function<std::unique_ptr<Store>()>& open) {
  auto owned = open();
  Store& store = *owned;
  ManualClock clock{"2026-11-23T08:00:00Z"};
  auto engine = std::make_unique<Engine>(EngineOptions{.clock = &clock, .store = &store});
  engine->add_flows(flows());
  ids.clear();
  for (int i = 0; i < 6; ++i) {
    ids.push_back(engine->start("technician-visit", {{"customer", "C" + std::to_string(i)}}));
    clock.advance(7min);
    engine->send(ids.back(), "submit",
                 {{"preferred_slots", List{"2026-11-26T09:00:00Z"}}, {"product", "tv"}, {"parts_needed", i % 2 == 0}});
  }
  clock.advance(3h);
  engine->run_due();
  engine->send(ids[1], "booked", {{"slot", "2026-11-25T09:00:00Z"}});
  engine->send(ids[3], "customer-unreachable");
  if (restart) {
    engine.reset();              // the process goes away...
    owned.reset();
    clock.advance(18h);          // ...for 18 hours
    owned = open();
    engine = std::make_unique<Engine>(EngineOptions{.clock = &clock, .store = owned.get()});
    engine->add_flows(flows());
    CHECK(engine->recover() == 9);  // 6 visits and the spare-parts sub-flows of the 3 that need parts
  } else {
    clock.advance(18h);
    engine->run_due();
  }
  engine->send(ids[0], "parts-arrived");
  engine->send(ids[3], "customer-replied");
  clock.advance(2 * 24h);
  engine->run_due();
  engine->send(ids[1], "fixed");
  return journal_of(*owned, ids);
}

}  // namespace

TEST_CASE("a restarted engine gives the same journal as one that never stopped", "[store][recovery]") {
  std::vector<std::string> a_ids, b_ids, c_ids;
  const auto memory = [] { return std::unique_ptr<Store>(std::make_unique<MemoryStore>()); };
  const auto uninterrupted = run_script(false, a_ids, memory);
  CHECK(uninterrupted.size() > 5000);
  // The same run with the engine stopped and started again, kept in memory...
  static MemoryStore shared;
  const auto restarted = run_script(true, b_ids, [] { return std::unique_ptr<Store>(std::make_unique<test::ForwardingStore>(shared)); });
  CHECK(a_ids == b_ids);
  CHECK(restarted == uninterrupted);
  // ...and in a SQLite file, closed and reopened in between.
  const auto file = std::filesystem::temp_directory_path() / ("escalon-restart-" + std::to_string(::getpid()) + ".db");
  std::filesystem::remove(file);
  const auto in_sqlite = run_script(true, c_ids, [&] { return open_store("sqlite:" + file.string()); });
  CHECK(in_sqlite == uninterrupted);
  for (const char* ext : {"", "-wal", "-shm"}) std::filesystem::remove(file.string() + ext);
}

TEST_CASE("deadlines that fell due while the engine was down fire on recovery, once, in time order", "[store][recovery]") {
  MemoryStore store;
  ManualClock clock{"2026-11-23T08:00:00Z"};
  std::string id;
  {
    Engine engine({.clock = &clock, .store = &store});
    engine.add_flows(flows());
    id = engine.start("technician-visit", {{"customer", "ACME"}});
    engine.send(id, "submit", {{"preferred_slots", List{"2026-11-26T09:00:00Z"}}, {"product", "tv"}, {"parts_needed", true}});
  }
  clock.advance(40h);
  std::vector<Notification> notes;
  Engine engine({.clock = &clock, .store = &store});
  engine.add_flows(flows());
  engine.on_notify([&](const Notification& n) { notes.push_back(n); });
  CHECK(engine.recover() == 2);  // the visit and its spare-parts sub-flow
  std::erase_if(notes, [&](const Notification& n) { return n.case_id != id || n.reason != "escalation"; });
  auto c = engine.get(id);
  CHECK(c.steps[0] == "order-parts");
  CHECK(c.assignee == "parts-lead");  // level 2 reassigned while "down"
  CHECK(c.priority == "high");
  CHECK(notes.size() == 1);           // level 1 notified parts-lead (level 2 only reassigns)
  const auto h = engine.history(id);
  std::vector<TimePoint> escalations;
  for (const auto& r : h)
    if (r.type == RecordType::escalated) escalations.push_back(r.at);
  // 80% of the business day from Monday 09:00 local: 6h24m of working time = 15:24 local.
  CHECK(escalations == std::vector<TimePoint>{at("2026-11-23T14:24:00Z"), at("2026-11-24T08:00:00Z")});
  CHECK(engine.run_due() == 0);  // nothing twice
  // A third engine sees the same state and fires nothing again.
  Engine again({.clock = &clock, .store = &store});
  again.add_flows(flows());
  CHECK(again.recover() == 2);
  CHECK(again.history(id).size() == h.size());
}

TEST_CASE("catch_up: latest fires only the newest missed repeat", "[store][recovery]") {
  MemoryStore store;
  ManualClock clock{"2026-11-23T08:00:00Z"};
  auto fl = load_flows({});
  std::string id;
  {
    Engine engine({.clock = &clock, .store = &store});
    engine.add_flows(std::vector<FlowPtr>{validate_text(ladder_flow, "ladder.yaml").flows.at(0)});
    id = engine.start("ladder");
    clock.advance(61min);
    CHECK(engine.run_due() == 3);  // 50%, 100%, due
  }
  clock.advance(10h);  // now 19:01: the repeats at 10:00, 11:00 ... 19:00 were missed
  Engine engine({.clock = &clock, .store = &store});
  engine.add_flows(std::vector<FlowPtr>{validate_text(ladder_flow, "ladder.yaml").flows.at(0)});
  engine.recover();
  const auto h = engine.history(id);
  std::vector<std::pair<int, TimePoint>> repeats;
  for (const auto& r : h)
    if (r.type == RecordType::escalated && r.level == 2) repeats.emplace_back(r.repeat, r.at);
  REQUIRE(repeats.size() == 2);
  CHECK(repeats[0].first == 0);
  CHECK(repeats[0].second == at("2026-11-23T09:00:00Z"));
  CHECK(repeats[1].first == 10);  // numbered as if all had fired
  CHECK(repeats[1].second == at("2026-11-23T19:00:00Z"));
}

TEST_CASE("recovery refuses what it cannot trust, and changes nothing", "[store][recovery]") {
  MemoryStore store;
  ManualClock clock{"2026-11-23T08:00:00Z"};
  {
    Engine engine({.clock = &clock, .store = &store});
    engine.add_flows(flows());
    (void)engine.start("technician-visit", {{"customer", "ACME"}});
  }
  // A store that lost its flow versions (the table of an older schema, say) cannot rebuild them.
  test::NoFlowsStore forgetful{store};
  Engine no_flows({.clock = &clock, .store = &forgetful});
  CHECK_THROWS_WITH(no_flows.recover(), Catch::Contains("runs flow 'technician-visit' version 1, which is not loaded"));
  CHECK(no_flows.case_count() == 0);

  Engine no_store({.clock = &clock});
  CHECK_THROWS_WITH(no_store.recover(), Catch::Contains("needs a store"));

  MemoryStore damaged;
  Record r;
  damaged.commit({std::span<const Record>(&r, 1), std::vector<StoredCase>{{"x", "f", 1, true, "{not json"}}, {}});
  Engine e2({.clock = &clock, .store = &damaged});
  e2.add_flows(flows());
  CHECK_THROWS_AS(e2.recover(), StoreError);
}

TEST_CASE("a failing store stops changes but keeps what was committed", "[store]") {
  MemoryStore inner;
  test::ForwardingStore store{inner};
  bool fail = false;
  store.before_commit = [&](const StoreBatch&) {
    if (fail) throw std::runtime_error("disk full");
  };
  ManualClock clock{"2026-11-23T08:00:00Z"};
  Engine engine({.clock = &clock, .store = &store});
  engine.add_flows(flows());
  const auto id = engine.start("technician-visit", {{"customer", "ACME"}});
  const auto before = inner.record_count();
  CHECK(engine.store_failure().empty());
  fail = true;
  CHECK_THROWS_WITH(engine.send(id, "submit", {{"preferred_slots", List{}}, {"product", "x"}}),
                    Catch::Contains("the store could not commit: disk full"));
  CHECK_THAT(engine.store_failure(), Catch::Contains("disk full"));
  CHECK_THROWS_WITH(engine.start("technician-visit", {{"customer", "B"}}), Catch::Contains("the store failed earlier"));
  CHECK(inner.record_count() == before);
  // A new engine on the intact store finds the case where it was last committed.
  fail = false;
  Engine fresh({.clock = &clock, .store = &store});
  fresh.add_flows(flows());
  CHECK(fresh.recover() == 1);
  CHECK(fresh.get(id).steps[0] == "intake");
}

TEST_CASE("the SQLite store refuses files it must not touch, and leaves them unchanged", "[store][sqlite]") {
  const auto dir = std::filesystem::temp_directory_path() / ("escalon-sqlite-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  const auto path = [&](const char* name) { return (dir / name).string(); };
  auto read = [](const std::string& p) {
    std::ifstream in(p, std::ios::binary);
    return std::string((std::istreambuf_iterator<char>(in)), {});
  };

  std::ofstream(path("notes.txt")) << "not a database\n";
  CHECK_THROWS_WITH(open_store("sqlite:" + path("notes.txt")), Catch::Contains("is not an SQLite file"));
  CHECK(read(path("notes.txt")) == "not a database\n");

  {  // another program's database
    auto s = open_store("sqlite:" + path("other.db"));  // creates an Escalon store...
  }
  {
    // ...which another program then marks as its own
    std::string cmd = "sqlite3 " + path("foreign.db") + " 'CREATE TABLE t(x); INSERT INTO t VALUES(1);'";
    REQUIRE(std::system(cmd.c_str()) == 0);
  }
  const auto before = read(path("foreign.db"));
  CHECK_THROWS_WITH(open_store("sqlite:" + path("foreign.db")), Catch::Contains("an SQLite database of another program"));
  CHECK(read(path("foreign.db")) == before);

  {  // written by a newer Escalon
    auto s = open_store("sqlite:" + path("newer.db"));
  }
  REQUIRE(std::system(("sqlite3 " + path("newer.db") + " 'PRAGMA user_version=99;'").c_str()) == 0);
  CHECK_THROWS_WITH(open_store("sqlite:" + path("newer.db")), Catch::Contains("was written by a newer Escalon (schema 99"));

  {  // one writer at a time
    auto first = open_store("sqlite:" + path("busy.db"));
    ManualClock clock{"2026-11-23T08:00:00Z"};
    Engine engine({.clock = &clock, .store = first.get()});
    engine.add_flows(flows());
    (void)engine.start("technician-visit", {{"customer", "A"}});
    CHECK_THROWS_WITH(open_store("sqlite:" + path("busy.db")), Catch::Contains("locked by another writer"));
  }
  {  // and after the first closed, the file opens and the case is there
    auto again = open_store("sqlite:" + path("busy.db"));
    CHECK(again->open_cases().size() == 1);
    CHECK(again->last_seq() > 0);
  }

  {  // a damaged file: an error, never a crash
    auto s = open_store("sqlite:" + path("broken.db"));
    ManualClock clock{"2026-11-23T08:00:00Z"};
    Engine engine({.clock = &clock, .store = s.get()});
    engine.add_flows(flows());
    for (int i = 0; i < 50; ++i) (void)engine.start("technician-visit", {{"customer", std::string(200, 'x')}});
  }
  {
    std::fstream f(path("broken.db"), std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(4096 + 100);
    const std::string junk(3000, '\x5a');
    f.write(junk.data(), static_cast<std::streamsize>(junk.size()));
  }
  try {
    auto s = open_store("sqlite:" + path("broken.db"));
    (void)s->open_cases();
    (void)s->history("technician-visit-1");
  } catch (const StoreError& e) {
    CHECK(std::string(e.what()).find("broken.db") != std::string::npos);
  }
  CHECK_THROWS_WITH(open_store("mysql://x"), Catch::Contains("unknown store"));
  CHECK_THROWS_WITH(open_store("sqlite:x.db?sync=sometimes"), Catch::Contains("unknown store option"));
  std::filesystem::remove_all(dir);
}

TEST_CASE("journal time never runs backwards, even across a restart with an earlier clock", "[store]") {
  struct Settable final : Clock {
    TimePoint t;
    TimePoint now() const override { return t; }
  } clock;
  clock.t = at("2026-11-23T10:00:00Z");
  MemoryStore store;
  std::string id;
  {
    Engine engine({.clock = &clock, .store = &store});
    engine.add_flows(flows());
    id = engine.start("technician-visit", {{"customer", "A"}});
    clock.t = at("2026-11-23T09:00:00Z");  // the system clock is set back an hour
    engine.send(id, "submit", {{"preferred_slots", List{"2026-11-26T09:00:00Z"}}, {"product", "tv"}});
  }
  Engine engine({.clock = &clock, .store = &store});  // and restarts with the early clock
  engine.add_flows(flows());
  engine.recover();
  engine.send(id, "customer-unreachable");
  const auto h = engine.history(id);
  for (std::size_t i = 1; i < h.size(); ++i) CHECK(h[i - 1].at <= h[i].at);
  CHECK(h.back().at == at("2026-11-23T10:00:00Z"));
}

TEST_CASE("a scenario run on a store continues where the previous run stopped", "[store][scenario]") {
  const auto dir = std::filesystem::temp_directory_path() / ("escalon-continue-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  const std::string cases = "cases:\n  - { id: c1, flow: technician-visit, data: { customer: ACME } }\n";
  std::ofstream(dir / "day1.yaml") << "clock: 2026-11-23T08:00:00Z\n" << cases
                                   << "events:\n  - { at: 2026-11-23T08:05:00Z, case: c1, send: submit, "
                                      "data: { product: tv, preferred_slots: [2026-11-26T09:00:00Z] } }\n"
                                      "until: 2026-11-23T12:30:00Z\n";
  std::ofstream(dir / "day2.yaml") << "clock: 2026-11-23T08:00:00Z\n" << cases
                                   << "events:\n  - { at: 2026-11-23T08:05:00Z, case: c1, send: submit, "
                                      "data: { product: tv, preferred_slots: [2026-11-26T09:00:00Z] } }\n"
                                      "  - { at: 2026-11-24T10:00:00Z, case: c1, send: booked, data: { slot: 2026-11-26T09:00:00Z } }\n"
                                      "until: 2026-11-24T12:00:00Z\n";
  MemoryStore store;
  const auto fl = flows();
  const auto day1 = run_scenario(load_scenario((dir / "day1.yaml").string()), fl, &store);
  REQUIRE(day1.cases.size() == 1);
  CHECK(day1.cases[0].step == "schedule");
  const auto day2 = run_scenario(load_scenario((dir / "day2.yaml").string()), fl, &store);
  CHECK(day2.skipped.size() == 2);  // the start and the submit
  CHECK(day2.refused.empty());
  REQUIRE(day2.cases.size() == 1);
  CHECK(day2.cases[0].step == "visit");
  CHECK(std::none_of(day2.journal.begin(), day2.journal.end(), [](const Record& r) { return r.type == RecordType::started; }));
  // Day 2 goes on from day 1's records: numbers continue, time does not go back.
  CHECK(day2.journal.front().seq == day1.journal.back().seq + 1);
  CHECK(day2.journal.front().at >= day1.journal.back().at);
  // The 12:30 repeat of the dispatch ladder fired on day 1; day 2 fires the later repeats, not that one again.
  const auto h = store.history("c1");
  std::set<std::pair<int, std::int64_t>> seen;
  for (const auto& r : h)
    if (r.type == RecordType::escalated) CHECK(seen.insert({r.repeat, r.at.time_since_epoch().count()}).second);
  std::filesystem::remove_all(dir);
}

TEST_CASE("recovery refuses damaged case state with a StoreError naming the case, and changes nothing",
          "[store][recovery][hardening]") {
  MemoryStore good;
  ManualClock clock{"2026-11-23T08:00:00Z"};
  {
    Engine engine({.clock = &clock, .store = &good});
    engine.add_flows(flows());
    (void)engine.start("technician-visit", {{"customer", "ACME"}});
  }
  const StoredCase original = good.open_cases().at(0);
  // Each damage is applied to a copy of the stored state; recovery must refuse it, not crash.
  const std::vector<std::pair<std::function<void(nlohmann::json&)>, std::string>> damages{
      {[](nlohmann::json& j) { j["step"] = -1; }, "it is in step -1"},
      {[](nlohmann::json& j) { j["step"] = 999; }, "it is in step 999"},
      {[](nlohmann::json& j) { j["status"] = 17; }, "unknown status 17"},
      {[](nlohmann::json& j) { j["clocks"][1]["index"] = 4242; }, "names step 4242"},
      {[](nlohmann::json& j) { j["clocks"][0]["index"] = -3; }, "names SLA -3"},
      {[](nlohmann::json& j) { j["clocks"][0]["rungs"] = nlohmann::json::array(); }, "escalation levels where the flow has"},
      {[](nlohmann::json& j) { j["clocks"][1]["level"] = 99; }, "a level its ladder lacks"},
      {[](nlohmann::json& j) { j["clocks"][0]["kind"] = 9; }, "unknown kind"},
      {[](nlohmann::json& j) { j["clocks"].erase(0); }, "wrong number of clocks"},
  };
  for (const auto& [damage, message] : damages) {
    CAPTURE(message);
    auto j = nlohmann::json::parse(original.state);
    REQUIRE(j["clocks"][1]["active"].get<bool>());  // the intake deadline runs
    damage(j);
    MemoryStore store;
    StoredCase broken = original;
    broken.state = j.dump();
    broken.expected = 0;
    Record r;
    r.seq = 1;
    r.case_id = broken.id;
    store.commit({std::span<const Record>(&r, 1), std::span<const StoredCase>(&broken, 1), {}, good.flows()});
    Engine engine({.clock = &clock, .store = &store});
    engine.add_flows(flows());
    CHECK_THROWS_WITH(engine.recover(), Catch::Contains("stored case '" + original.id + "'") && Catch::Contains(message));
    CHECK(engine.case_count() == 0);
    CHECK(store.open_cases().at(0).state == broken.state);  // nothing written back
  }
}
