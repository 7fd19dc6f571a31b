// Erasure, retention and the tamper-evident journal (docs/security.md): personal values are
// sealed per case in every store, an erased case's values are gone from the SQLite file and
// its WAL, retention erases on time, and `verify` names the record that was changed, removed
// or inserted.

#include <fmt/format.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <thread>

#include "escalon/engine.hpp"
#include "escalon/loader.hpp"
#include "escalon/store.hpp"
#include "store_locations.hpp"
#include "support.hpp"

using namespace escalon;
using namespace std::chrono_literals;
using escalon::test::compile;
namespace fs = std::filesystem;

namespace {

const char* visit_flow = R"(flow: visit
roles: [dispatch, supervisor]
retention: 30 days
data:
  customer: { type: string, required: true, pii: true }
  phone:    { type: string, pii: true }
  device:   { type: string }
start: book
steps:
  book:
    role: dispatch
    on:
      booked: done
    deadline:
      within: 1h
      escalate:
        - { at: 100%, notify: supervisor, message: "Call {customer} on {phone} about the {device}" }
  done:
    end: true
)";

constexpr const char* name = "Zofia Quintrell-Ybarra";
constexpr const char* phone = "+385 91 777 4242";

struct Dir {
  fs::path path = fs::temp_directory_path() / fmt::format("escalon-erasure-{}-{}", ::getpid(), counter()++);
  Dir() { fs::create_directories(path); }
  ~Dir() { fs::remove_all(path); }
  static int& counter() {
    static int n = 0;
    return n;
  }
};

// The bytes of the store file and of its WAL (what is on disk for anyone with the file).
std::string disk_bytes(const fs::path& db) {
  std::string out;
  for (const auto& p : {db, fs::path(db.string() + "-wal")}) {
    std::ifstream in(p, std::ios::binary);
    out.append(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  return out;
}

bool contains(const std::string& bytes, std::string_view what) { return bytes.find(what) != std::string::npos; }

struct Failing final : Channel {
  void deliver(const Notification&, std::int32_t) override { throw Error("mail server down"); }
};

Value field(const Record& r, const char* name) {
  const Value* v = r.data.find(name);
  return v ? *v : Value();
}

void sqlite(const fs::path& db, const std::string& sql) {
  const std::string cmd = fmt::format("sqlite3 '{}' \"{}\"", db.string(), sql);
  REQUIRE(std::system(cmd.c_str()) == 0);
}

}  // namespace

TEST_CASE("an erased case leaves no personal value or key in the SQLite file or its WAL", "[erasure]") {
  Dir dir;
  const fs::path db = dir.path / "cases.db";
  ManualClock clock{"2026-11-23T08:00:00Z"};
  std::string id;
  std::string secret;
  {
    Engine engine({.clock = &clock, .store = open_store("sqlite:" + db.string())});
    engine.add_flows(compile(visit_flow));
    engine.add_channel("mail", std::make_shared<Failing>());
    id = engine.start("visit", {{"customer", name}, {"device", "washer"}});
    engine.update(id, {{"phone", phone}});
    clock.advance(1h);
    engine.run_due();  // the escalation's mail fails: it waits in the outbox, with the name in it
    REQUIRE(engine.outbox().size() == 1);

    // At rest the journal and the case state hold the values sealed; only the outbox, which
    // must send them, holds the text. The engine reads them back.
    secret = open_store("sqlite:" + db.string() + "?mode=ro")->find_case(id)->secret;
    REQUIRE(secret.size() == 64);
    const std::string before = disk_bytes(db);
    CHECK(contains(before, name));  // the outbox's notification
    CHECK(contains(before, secret));
    CHECK(field(engine.history(id).front(), "customer") == Value(name));
    CHECK(engine.get(id).data.at("phone") == Value(phone));

    engine.cancel(id, "customer withdrew");
    engine.erase(id, "GDPR request 2026-11-23", {.actor = "dpo"});

    const std::string after = disk_bytes(db);
    CHECK_FALSE(contains(after, name));
    CHECK_FALSE(contains(after, phone));
    CHECK_FALSE(contains(after, secret));
    CHECK(engine.outbox().empty());

    const auto h = engine.history(id);
    REQUIRE(h.back().type == RecordType::erased);
    CHECK(h.back().actor == "dpo");
    CHECK(h.back().message == "GDPR request 2026-11-23");
    CHECK(h.back().data.find("notifications_dropped")->as_int() == 1);
    CHECK(field(h.front(), "customer") == Value("[erased]"));
    CHECK(field(h.front(), "device") == Value("washer"));  // not personal: kept
    const auto changed = std::find_if(h.begin(), h.end(), [](const Record& r) { return r.type == RecordType::data_changed; });
    REQUIRE(changed != h.end());
    CHECK(changed->new_value == Value("[erased]"));
    const auto view = engine.get(id);
    CHECK(view.data.find("customer") == view.data.end());
    CHECK(view.data.at("device") == Value("washer"));

    // Again: nothing is left to erase, and no second record.
    engine.erase(id, "again");
    CHECK(engine.history(id).size() == h.size());
  }
  // After a restart, and for readers: the same, and the chain still holds.
  auto store = open_store("sqlite:" + db.string());
  CHECK(field(store->history(id).front(), "customer") == Value("[erased]"));
  const auto report = verify_journal(*store);
  CAPTURE(report.problems);
  CHECK(report.ok());
  CHECK(report.records == store->history(id).size());
}

TEST_CASE("erase: only closed cases, only with the erase permission, and the in-memory journal too", "[erasure]") {
  ManualClock clock{"2026-11-23T08:00:00Z"};
  Engine engine({.clock = &clock, .access = {.erase = {"privacy"}}});
  engine.add_flows(compile(visit_flow));
  const auto id = engine.start("visit", {{"customer", name}, {"phone", phone}});
  CHECK_THROWS_MATCHES(engine.erase(id, "too early"), EventError,
                       Catch::Matchers::Predicate<EventError>([](const EventError& e) {
                         return e.code() == Refusal::wrong_state &&
                                std::string_view(e.what()).find("cancel it first") != std::string_view::npos;
                       }));
  engine.send(id, "booked");
  const std::vector<std::string> dispatch{"dispatch"};
  CHECK_THROWS_AS(engine.erase(id, "not mine", {.actor = "dan", .roles = dispatch}), PermissionError);
  engine.erase(id, "customer request", {.actor = "pia", .roles = std::vector<std::string>{"privacy"}});
  const std::string journal = engine.journal_jsonl(id, {.personal = true});
  CHECK_FALSE(contains(journal, name));
  CHECK_FALSE(contains(journal, phone));
  CHECK(contains(journal, R"("type":"erased")"));
  CHECK(engine.history(id).back().actor == "pia");
}

TEST_CASE("every store seals personal values and erases them", "[erasure][store]") {
  Dir dir;
  for (const auto& where : escalon::test::test_store_locations(dir.path)) {
    CAPTURE(where);
    ManualClock clock{"2026-11-23T08:00:00Z"};
    auto store = open_store(where);
    Engine engine({.clock = &clock, .store = store.get()});
    engine.add_flows(compile(visit_flow));
    const auto id = engine.start("visit", {{"customer", name}, {"phone", phone}});
    CHECK(field(engine.history(id).front(), "customer") == Value(name));
    engine.cancel(id);
    engine.erase(id, "request");
    bool seen = false;
    store->for_each_record([&](const Record& r) {
      if (r.case_id == id && r.type == RecordType::started) {
        seen = true;
        CHECK(field(r, "customer") == Value("[erased]"));
      }
    });
    CHECK(seen);
    CHECK(store->find_case(id)->secret.empty());
    CHECK(verify_journal(*store).ok());
  }
}

TEST_CASE("retention erases closed cases once their flow's period has passed", "[erasure][retention]") {
  ManualClock clock{"2026-11-23T08:00:00Z"};
  Dir dir;
  auto store = open_store("sqlite:" + (dir.path / "cases.db").string());
  Engine engine({.clock = &clock, .store = store.get()});
  engine.add_flows(compile(visit_flow));
  const auto closed = engine.start("visit", {{"customer", name}});
  engine.send(closed, "booked");
  const auto open = engine.start("visit", {{"customer", "Still Open"}});
  clock.advance(24h * 30 - 1min);
  CHECK(engine.apply_retention().empty());
  clock.advance(2min);
  CHECK(engine.apply_retention() == std::vector<std::string>{closed});
  CHECK(engine.history(closed).back().type == RecordType::erased);
  CHECK(engine.history(closed).back().actor == "escalon");
  CHECK(engine.get(open).data.at("customer") == Value("Still Open"));  // open cases are kept
  CHECK(engine.apply_retention().empty());  // erased once
}

TEST_CASE("the runner applies the engine's retention on the manual clock", "[erasure][retention]") {
  const char* plain = R"(flow: plain
data:
  customer: { type: string, pii: true }
start: a
steps:
  a: { on: { done: z } }
  z: { end: true }
)";
  ManualClock clock{"2026-11-23T08:00:00Z"};
  Engine engine({.clock = &clock, .retention = 24h * 7});
  engine.add_flows(compile(plain));
  const auto id = engine.start("plain", {{"customer", name}});
  engine.send(id, "done");
  clock.advance(24h * 8);
  engine.start_runner(10ms);
  bool erased = false;
  for (int i = 0; i < 1000 && !erased; ++i) {
    erased = engine.history(id).back().type == RecordType::erased;
    if (!erased) std::this_thread::sleep_for(10ms);
  }
  engine.stop_runner();
  CHECK(erased);
  CHECK_FALSE(contains(engine.journal_jsonl(id, {.personal = true}), name));
}

TEST_CASE("verify names the first record of a case that was changed, removed or inserted", "[verify]") {
  Dir dir;
  const fs::path pristine = dir.path / "pristine.db";
  ManualClock clock{"2026-11-23T08:00:00Z"};
  std::string a, b;
  {
    Engine engine({.clock = &clock, .store = open_store("sqlite:" + pristine.string())});
    engine.add_flows(compile(visit_flow));
    a = engine.start("visit", {{"customer", name}, {"device", "washer"}});
    b = engine.start("visit", {{"customer", "Other"}});
    clock.advance(1h);
    engine.run_due();
    engine.send(a, "booked");
  }
  std::vector<std::uint64_t> seqs;
  {
    auto store = open_store("sqlite:" + pristine.string() + "?mode=ro");
    for (const auto& r : store->history(a)) seqs.push_back(r.seq);
    const auto report = verify_journal(*store);
    CHECK(report.ok());
    CHECK(report.cases == 2);
    CHECK(report.digest.size() == 64);
    CHECK(verify_journal(*store).digest == report.digest);
  }
  REQUIRE(seqs.size() >= 6);
  const auto last = seqs.back();
  const auto mid = seqs[2];
  const auto after_mid = seqs[3];

  const auto broken = [&](const std::string& sql) {
    const fs::path copy = dir.path / "copy.db";
    fs::copy_file(pristine, copy, fs::copy_options::overwrite_existing);
    sqlite(copy, sql);
    auto store = open_store("sqlite:" + copy.string() + "?mode=ro");
    const auto report = verify_journal(*store);
    REQUIRE(report.problems.size() == 1);
    return report.problems.front();
  };
  CHECK(broken(fmt::format("UPDATE records SET json = replace(json, 'washer', 'dryer') WHERE seq = {}", seqs[0])) ==
        fmt::format("case '{}': record {} was changed: its content does not match its digest", a, seqs[0]));
  CHECK(broken(fmt::format("UPDATE records SET at = at + 1 WHERE seq = {}", mid)) ==
        fmt::format("case '{}': record {} was changed: its column 'at' does not match its content", a, mid));
  CHECK(broken(fmt::format("DELETE FROM records WHERE seq = {}", mid)) ==
        fmt::format("case '{}': record {} was removed (record {} follows it in the chain)", a, mid, after_mid));
  CHECK(broken(fmt::format("DELETE FROM records WHERE seq = {}", last)) ==
        fmt::format("case '{}': its last records were removed, or its head was changed: the head matches none of its "
                    "records (the last one left is record {})",
                    a, seqs[seqs.size() - 2]));
  // A forged record: a copy of the last one under a new number, pointing where the last points.
  CHECK(broken(fmt::format("INSERT INTO records(seq, case_id, at, type, json, digest, link, prev) SELECT 9999, case_id, at, "
                           "type, replace(json, '\\\"seq\\\":{}', '\\\"seq\\\":9999'), digest, link, prev FROM records "
                           "WHERE seq = {}",
                           last, last)) ==
        fmt::format("case '{}': record 9999 was inserted (it follows record {}, which record {} follows already)", a,
                    seqs[seqs.size() - 2], last));
  CHECK(broken(fmt::format("INSERT INTO records(seq, case_id, at, type, json) SELECT 9999, case_id, at, type, "
                           "replace(json, '\\\"seq\\\":{}', '\\\"seq\\\":9999') FROM records WHERE seq = {}",
                           last, last)) ==
        fmt::format("case '{}': record 9999 was inserted: it carries no link of the chain", a));
  CHECK(broken(fmt::format("DELETE FROM records WHERE case_id = '{}'", b)) ==
        fmt::format("case '{}': all its records were removed (its head is set)", b));
}

TEST_CASE("verify on PostgreSQL reports an edited record", "[verify][sql]") {
  if (escalon::test::test_pg_uri().empty()) {
    SUCCEED("ESCALON_TEST_PG is not set: tests/postgres/run.sh runs this inside a throwaway server");
    return;
  }
  const std::string where = escalon::test::fresh_pg_location();
  ManualClock clock{"2026-11-23T08:00:00Z"};
  auto store = open_store(where);
  Engine engine({.clock = &clock, .store = store.get()});
  engine.add_flows(compile(visit_flow));
  const auto id = engine.start("visit", {{"customer", name}, {"device", "washer"}});
  engine.send(id, "booked");
  REQUIRE(verify_journal(*store).ok());
  const auto first = engine.history(id).front().seq;
  const auto schema = where.substr(where.find("schema=") + 7);
  escalon::test::pg_exec(fmt::format("UPDATE {}.records SET json = replace(json, 'washer', 'dryer') WHERE seq = {}", schema, first));
  const auto report = verify_journal(*store);
  REQUIRE(report.problems.size() == 1);
  CHECK(report.problems.front() ==
        fmt::format("case '{}': record {} was changed: its content does not match its digest", id, first));
}

TEST_CASE("erasing a case erases its sub-flow cases with it", "[erasure]") {
  const char* parent = R"(flow: parent
data:
  customer: { type: string, pii: true }
start: ask
steps:
  ask:
    subflow:
      flow: child
      input: { who: customer }
    next: done
  done: { end: true }
)";
  const char* child = R"(flow: child
data:
  who: { type: string, pii: true }
start: work
steps:
  work: { on: { finish: over } }
  over: { end: true }
)";
  ManualClock clock{"2026-11-23T08:00:00Z"};
  Engine engine({.clock = &clock});
  Dir dir;
  std::ofstream(dir.path / "parent.yaml") << parent;
  std::ofstream(dir.path / "child.yaml") << child;
  engine.load({dir.path.string()});
  const auto id = engine.start("parent", {{"customer", name}});
  const auto kids = engine.query({.flow = "child"});
  REQUIRE(kids.size() == 1);
  engine.send(kids[0].id, "finish");
  REQUIRE(engine.get(id).status == CaseStatus::completed);
  engine.erase(id, "request");
  CHECK(engine.history(kids[0].id).back().type == RecordType::erased);
  CHECK_FALSE(contains(engine.journal_jsonl({}, {.personal = true}), name));
}

TEST_CASE("a damaged or swapped case key is refused on load, not taken for an erasure", "[erasure][store]") {
  Dir dir;
  const fs::path db = dir.path / "cases.db";
  ManualClock clock{"2026-11-23T08:00:00Z"};
  std::string id;
  {
    Engine engine({.clock = &clock, .store = open_store("sqlite:" + db.string())});
    engine.add_flows(compile(visit_flow));
    id = engine.start("visit", {{"customer", name}});
  }
  const auto reopen = [&] {
    Engine engine({.clock = &clock, .store = open_store("sqlite:" + db.string())});
    engine.add_flows(compile(visit_flow));
    return engine.recover();
  };
  sqlite(db, fmt::format("UPDATE cases SET secret = 'not-a-key' WHERE id = '{}'", id));
  CHECK_THROWS_WITH(reopen(), Catch::Contains(fmt::format("stored case '{}' is damaged: its key is not 64 hex digits", id)));
  sqlite(db, fmt::format("UPDATE cases SET secret = '{}' WHERE id = '{}'", std::string(64, 'a'), id));
  CHECK_THROWS_WITH(reopen(), Catch::Contains(fmt::format(
                                  "stored case '{}' is damaged: its field 'customer' does not open with the case's key", id)));
}

TEST_CASE("an engine that has not recovered refuses to erase an open case without loading it", "[erasure]") {
  Dir dir;
  const std::string where = "sqlite:" + (dir.path / "cases.db").string();
  ManualClock clock{"2026-11-23T08:00:00Z"};
  std::string id;
  {
    Engine engine({.clock = &clock, .store = open_store(where)});
    engine.add_flows(compile(visit_flow));
    id = engine.start("visit", {{"customer", name}});
  }
  Engine engine({.clock = &clock, .store = open_store(where)});
  engine.add_flows(compile(visit_flow));
  CHECK_THROWS_MATCHES(engine.erase(id, "too early"), EventError,
                       Catch::Matchers::Predicate<EventError>([](const EventError& e) { return e.code() == Refusal::wrong_state; }));
  CHECK(engine.recover() == 1);  // loaded once, by recovery, with its clocks
  engine.send(id, "booked");
  CHECK(engine.get(id).status == CaseStatus::completed);
}

TEST_CASE("records of an older store, written before values were sealed, are erased too", "[erasure][retention]") {
  Dir dir;
  const fs::path db = dir.path / "cases.db";
  ManualClock clock{"2026-11-23T08:00:00Z"};
  std::string id;
  {
    Engine engine({.clock = &clock, .store = open_store("sqlite:" + db.string())});
    engine.add_flows(compile(visit_flow));
    id = engine.start("visit", {{"customer", "Placeholder"}});
    engine.send(id, "booked");
  }
  // As an older Escalon left it: the start record in the clear and outside the chain, no key.
  sqlite(db, fmt::format("UPDATE records SET json = json_set(json, '$.data.customer', 'Legacy Lindqvist-Oyelaran') "
                         "WHERE case_id = '{0}' AND type = 'started'; "
                         "UPDATE records SET digest = NULL, link = NULL, prev = NULL WHERE case_id = '{0}'; "
                         "UPDATE cases SET secret = NULL, head = NULL, state = json_set(state, '$.data.customer', "
                         "'Legacy Lindqvist-Oyelaran') WHERE id = '{0}'",
                         id));
  const auto legacy = open_store("sqlite:" + db.string() + "?mode=ro")->history(id).size();
  REQUIRE(contains(disk_bytes(db), "Legacy Lindqvist-Oyelaran"));
  clock.advance(24h * 31);
  Engine engine({.clock = &clock, .store = open_store("sqlite:" + db.string())});
  engine.add_flows(compile(visit_flow));  // retention: 30 days
  CHECK(engine.apply_retention() == std::vector<std::string>{id});
  CHECK_FALSE(contains(disk_bytes(db), "Legacy Lindqvist-Oyelaran"));
  CHECK(field(engine.history(id).front(), "customer") == Value("[erased]"));
  const auto report = verify_journal(*open_store("sqlite:" + db.string() + "?mode=ro"));
  CAPTURE(report.problems);
  CHECK(report.ok());
  CHECK(report.unchained == legacy);  // the erased record is the first of the chain
}

TEST_CASE("an engine with no flows loaded erases a case of a stored flow that names a sub-flow", "[erasure]") {
  // escalon erase loads no flow files: the case's flow version is rebuilt from the store's copy,
  // whose sub-flow (spare-parts-order) is read from beside it.
  Dir dir;
  const std::string where = "sqlite:" + (dir.path / "cases.db").string();
  ManualClock clock{"2026-11-23T08:00:00Z"};
  std::string id;
  {
    Engine engine({.clock = &clock, .store = open_store(where)});
    engine.load({std::string(ESCALON_SOURCE_DIR) + "/flows"});
    id = engine.start("technician-visit", {{"customer", name}});
    engine.cancel(id, "withdrawn");
  }
  Engine engine({.clock = &clock, .store = open_store(where)});
  engine.erase(id, "request");
  CHECK(engine.history(id).back().type == RecordType::erased);
  CHECK(field(engine.history(id).front(), "customer") == Value("[erased]"));
}
