// The Store contract, the same assertions against every store kind (store_locations.hpp):
// memory, SQLite, and PostgreSQL when ESCALON_TEST_PG is set (ctest store_postgres). The
// shared-store part (numbers, sequence numbers, leases, wake-ups) runs where shared() is true:
// a shared MemoryStore and PostgreSQL, there with a connection per thread.

#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <set>
#include <thread>

#include <fmt/format.h>

#include "escalon/store.hpp"
#include "store_locations.hpp"
#include "support.hpp"

using namespace escalon;
using namespace std::chrono_literals;
using escalon::test::at;

namespace {

// A fresh store of each kind; open() gives another object on the same store (for memory, the
// same object: a MemoryStore is shared within itself).
struct Subject {
  std::string location;
  std::shared_ptr<Store> memory;
  std::shared_ptr<Store> open() const { return memory ? memory : std::shared_ptr<Store>(open_store(location)); }
};

std::vector<Subject> subjects(const char* name) {
  static int n = 0;
  const auto tmp = std::filesystem::temp_directory_path() / fmt::format("escalon-contract-{}-{}-{}", ::getpid(), name, ++n);
  std::filesystem::remove_all(tmp);
  std::filesystem::create_directories(tmp);
  std::vector<Subject> out;
  for (const auto& loc : escalon::test::test_store_locations(tmp))
    out.push_back({loc, loc == "memory:" ? std::make_shared<MemoryStore>(true) : nullptr});
  return out;
}

Record rec(std::uint64_t seq, const std::string& case_id, const char* when = "2026-01-05T09:00:00Z") {
  Record r;
  r.seq = seq;
  r.at = at(when);
  r.case_id = case_id;
  r.type = RecordType::event;
  r.event = "note";
  r.message = fmt::format("record {} of {}", seq, case_id);
  return r;
}

StoredCase kase(const std::string& id, std::uint64_t revision, TimePoint due = {}, bool open = true) {
  return {.id = id, .flow = "repair", .seq = revision, .open = open, .state = fmt::format(R"({{"id":"{}","r":{}}})", id, revision),
          .revision = revision, .expected = revision - 1, .next_due = due};
}

void commit(Store& s, std::vector<Record> records, std::vector<StoredCase> cases = {}) {
  s.commit({.records = records, .cases = cases});
}

std::vector<std::string> ids_of(Store& s, std::optional<bool> open) {
  std::vector<std::string> out;
  s.for_each_case(open, [&](const StoredCase& c) { out.push_back(c.id); });
  return out;
}

}  // namespace

TEST_CASE("store contract: a unit comes back as it was committed", "[store-contract]") {
  for (const auto& sub : subjects("roundtrip")) {
    INFO(sub.location);
    auto s = sub.open();
    const std::vector<Record> records{rec(1, "a"), rec(2, "b"), rec(3, "a", "2026-01-05T10:00:00Z")};
    const std::vector<StoredCase> cases{kase("a", 1, at("2026-01-06T09:00:00Z")), kase("b", 1)};
    const std::vector<StoredFlow> flows{{"repair", 1, "sha256:aa", "flows/repair.yaml", "flow: repair\n"}};
    const std::vector<StartKey> keys{{"k-1", "a", "0123456789abcdef"}};
    s->commit({.records = records, .cases = cases, .meta = {{"case-number/repair", "2"}}, .flows = flows, .start_keys = keys});
    CHECK(s->last_seq() == 3);
    CHECK(s->last_time() == at("2026-01-05T10:00:00Z"));
    const auto h = s->history("a");
    REQUIRE(h.size() == 2);
    CHECK(h[0].to_json() == records[0].to_json());
    CHECK(h[1].to_json() == records[2].to_json());
    const auto a = s->find_case("a");
    REQUIRE(a);
    CHECK(a->flow == "repair");
    CHECK(a->state == cases[0].state);
    CHECK(a->revision == 1);
    CHECK(a->expected == 1);
    CHECK(a->open);
    CHECK(a->next_due == at("2026-01-06T09:00:00Z"));
    CHECK(s->find_case("b")->next_due == TimePoint{});
    CHECK_FALSE(s->find_case("zz"));
    CHECK(s->meta().at("case-number/repair") == "2");
    REQUIRE(s->flows().size() == 1);
    CHECK(s->flows()[0].source == "flow: repair\n");
    CHECK(s->flows()[0].hash == "sha256:aa");
    const auto k = s->find_start_key("k-1");
    REQUIRE(k);
    CHECK(k->case_id == "a");
    CHECK(k->fingerprint == "0123456789abcdef");
    CHECK_FALSE(s->find_start_key("k-2"));
    std::vector<std::string> listed;
    s->for_each_start_key([&](const StartKey& sk) { listed.push_back(sk.key + "=" + sk.case_id); });
    CHECK(listed == std::vector<std::string>{"k-1=a"});
    CHECK(s->open_cases().size() == 2);
  }
}

TEST_CASE("store contract: a stale or duplicate case write is refused and writes nothing of its unit", "[store-contract]") {
  for (const auto& sub : subjects("conflict")) {
    INFO(sub.location);
    auto s = sub.open();
    commit(*s, {rec(1, "a")}, {kase("a", 1)});
    // Inserting a case that exists (expected 0).
    CHECK_THROWS_AS(commit(*s, {rec(2, "c")}, {kase("c", 1), kase("a", 1)}), ConflictError);
    // Updating from a revision the store no longer holds.
    auto stale = kase("a", 3);
    CHECK_THROWS_WITH(commit(*s, {rec(2, "b")}, {kase("b", 1), stale}), Catch::Contains("case 'a'"));
    CHECK_THROWS_AS(commit(*s, {rec(2, "b")}, {kase("b", 1), stale}), ConflictError);
    CHECK(s->last_seq() == 1);
    CHECK_FALSE(s->find_case("b"));
    CHECK_FALSE(s->find_case("c"));
    CHECK(s->history("a").size() == 1);
    commit(*s, {rec(2, "a")}, {kase("a", 2)});
    CHECK(s->find_case("a")->revision == 2);
  }
}

namespace {

// Text a store must keep byte for byte: what breaks hand-made SQL, array and JSON literals.
std::string awkward(int i) {
  return fmt::format("q\"uo'te\\back\\\\slash {{brace}}, comma,\n\tline\r ünï—日本✓ NULL {} \"\" {{\"a\":[1,\"b\\\"\"]}}", i);
}

// 10 cases committed, then one unit of 50 records and 20 cases: the 10 updated, 10 new.
std::vector<StoredCase> mixed_cases(int stale_at = -1) {
  std::vector<StoredCase> out;
  for (int i = 0; i < 20; ++i) {
    auto c = kase(fmt::format("c{}-{}", i, awkward(i)), i < 10 ? 2 : 1, at("2026-01-06T09:00:00Z") + std::chrono::minutes(i), i % 3 != 0);
    c.state = awkward(100 + i);
    c.flow = "repair, \"v2\"";
    if (i == stale_at) c.expected = 7;
    out.push_back(c);
  }
  return out;
}

std::vector<Record> mixed_records(const std::vector<StoredCase>& cases, std::uint64_t first) {
  std::vector<Record> out;
  for (int i = 0; i < 50; ++i) {
    auto r = rec(first + static_cast<std::uint64_t>(i), cases[static_cast<std::size_t>(i) % cases.size()].id);
    r.message = awkward(200 + i);
    r.event = awkward(300 + i);
    out.push_back(r);
  }
  return out;
}

std::vector<StoredCase> first_ten() {
  auto cases = mixed_cases();
  cases.resize(10);
  for (auto& c : cases) {
    c.revision = 1;
    c.expected = 0;
  }
  return cases;
}

}  // namespace

TEST_CASE("store contract: a unit of 50 records and 20 new and updated cases keeps awkward text exactly", "[store-contract]") {
  for (const auto& sub : subjects("awkward")) {
    INFO(sub.location);
    auto s = sub.open();
    commit(*s, {}, first_ten());
    const auto cases = mixed_cases();
    const auto records = mixed_records(cases, 1);
    commit(*s, records, cases);
    CHECK(s->last_seq() == 50);
    for (const auto& c : cases) {
      const auto got = s->find_case(c.id);
      REQUIRE(got);
      CHECK(got->flow == c.flow);
      CHECK(got->state == c.state);
      CHECK(got->revision == c.revision);
      CHECK(got->open == c.open);
      CHECK(got->next_due == c.next_due);
      const auto h = s->history(c.id);
      std::vector<std::string> want;
      for (const auto& r : records)
        if (r.case_id == c.id) want.push_back(r.to_json());
      REQUIRE(h.size() == want.size());
      for (std::size_t i = 0; i < h.size(); ++i) CHECK(h[i].to_json() == want[i]);
    }
    CHECK(ids_of(*s, std::nullopt).size() == 20);
  }
}

TEST_CASE("store contract: one stale case among 20 makes the whole unit write nothing", "[store-contract]") {
  for (const auto& sub : subjects("onestale")) {
    INFO(sub.location);
    auto s = sub.open();
    commit(*s, {}, first_ten());
    const auto cases = mixed_cases(7);
    CHECK_THROWS_AS(commit(*s, mixed_records(cases, 1), cases), ConflictError);
    CHECK_THROWS_WITH(commit(*s, mixed_records(cases, 1), cases), Catch::Contains("case 'c7-"));
    CHECK(s->last_seq() == 0);
    CHECK(ids_of(*s, std::nullopt).size() == 10);
    CHECK(s->find_case(cases[0].id)->revision == 1);
    CHECK_FALSE(s->find_case(cases[15].id));
    // A new case whose id is taken is refused the same way.
    auto taken = mixed_cases();
    taken[12].id = taken[3].id + " ";
    commit(*s, {}, {taken[12]});
    CHECK_THROWS_AS(commit(*s, mixed_records(taken, 1), taken), ConflictError);
    CHECK(s->last_seq() == 0);
    CHECK(ids_of(*s, std::nullopt).size() == 11);
  }
}

TEST_CASE("store contract: a flow version with other content and a taken start key are conflicts", "[store-contract]") {
  for (const auto& sub : subjects("flowkey")) {
    INFO(sub.location);
    auto s = sub.open();
    const std::vector<StoredFlow> v1{{"repair", 1, "sha256:aa", "a.yaml", "x"}};
    const std::vector<StoredFlow> other{{"repair", 1, "sha256:bb", "b.yaml", "y"}};
    const std::vector<Record> r2{rec(2, "b")};
    const std::vector<StoredCase> b{kase("b", 1)};
    s->commit({.flows = v1});
    CHECK_THROWS_AS(s->commit({.records = r2, .cases = b, .flows = other}), ConflictError);
    s->commit({.flows = v1});  // the same content again is no conflict
    CHECK(s->flows().size() == 1);
    const std::vector<StartKey> key{{"k", "a", "f"}};
    s->commit({.start_keys = key});
    const std::vector<StartKey> again{{"k", "b", "g"}};
    CHECK_THROWS_AS(s->commit({.records = r2, .cases = b, .start_keys = again}), ConflictError);
    CHECK(s->last_seq() == 0);
    CHECK_FALSE(s->find_case("b"));
    CHECK(s->find_start_key("k")->case_id == "a");
  }
}

OutboxEntry entry(const std::string& key, const std::string& channel, const std::string& case_id, std::uint64_t order) {
  return {.key = key, .channel = channel, .case_id = case_id, .order = order, .attempts = 0,
          .next_attempt = at("2026-01-05T09:00:00Z"), .dead = false, .error = {},
          .notification = fmt::format(R"({{"key":"{}","text":"it's \"quoted\" ; DROP TABLE outbox; --"}})", key)};
}

std::vector<OutboxEntry> outbox_of(Store& s) {
  std::vector<OutboxEntry> out;
  s.for_each_outbox([&](const OutboxEntry& e) { out.push_back(e); });
  return out;
}

TEST_CASE("store contract: outbox entries are written with their unit, updated, and leave once delivered", "[store-contract]") {
  for (const auto& sub : subjects("outbox")) {
    INFO(sub.location);
    auto s = sub.open();
    const std::vector<Record> records{rec(1, "b"), rec(2, "a")};
    const std::vector<StoredCase> cases{kase("b", 1), kase("a", 1)};
    const std::vector<OutboxEntry> fresh{entry("b/1", "mail", "b", 1000), entry("a/2", "mail", "a", 2000),
                                         entry("a/2", "host", "a", 2000), entry("a/2-2", "mail", "a", 2001)};
    s->commit({.records = records, .cases = cases, .outbox = fresh});
    auto got = outbox_of(*s);
    REQUIRE(got.size() == 4);
    // By case, then order, then channel.
    CHECK(got[0].key == "a/2");
    CHECK(got[0].channel == "host");
    CHECK(got[1].key == "a/2");
    CHECK(got[1].channel == "mail");
    CHECK(got[2].key == "a/2-2");
    CHECK(got[3].key == "b/1");
    CHECK(got[3].notification == fresh[0].notification);
    CHECK(got[3].next_attempt == at("2026-01-05T09:00:00Z"));

    // A failed try and a delivery, in one later unit.
    OutboxEntry failed = fresh[1];
    failed.attempts = 3;
    failed.next_attempt = at("2026-01-05T09:04:00Z");
    failed.error = "connection refused";
    failed.dead = true;
    const std::vector<OutboxRef> done{{"a/2", "host"}};
    s->commit({.outbox = std::span(&failed, 1), .delivered = done});
    got = outbox_of(*s);
    REQUIRE(got.size() == 3);
    CHECK(got[0].key == "a/2");
    CHECK(got[0].channel == "mail");
    CHECK(got[0].attempts == 3);
    CHECK(got[0].dead);
    CHECK(got[0].error == "connection refused");
    CHECK(got[0].next_attempt == at("2026-01-05T09:04:00Z"));

    // A refused unit writes none of its outbox.
    const std::vector<StoredCase> stale{kase("a", 1)};
    const std::vector<OutboxEntry> more{entry("a/9", "mail", "a", 9000)};
    CHECK_THROWS_AS(s->commit({.records = std::vector<Record>{rec(9, "a")}, .cases = stale, .outbox = more}), ConflictError);
    CHECK(outbox_of(*s).size() == 3);
  }
}

TEST_CASE("store contract: cases come in start order, filtered by open; records in order, across pages", "[store-contract]") {
  for (const auto& sub : subjects("order")) {
    INFO(sub.location);
    auto s = sub.open();
    commit(*s, {rec(1, "c3")}, {kase("c3", 1)});
    commit(*s, {rec(2, "c1")}, {kase("c1", 1)});
    commit(*s, {rec(3, "c2")}, {kase("c2", 1)});
    commit(*s, {rec(4, "c1")}, {kase("c1", 2, {}, false)});
    CHECK(ids_of(*s, std::nullopt) == std::vector<std::string>{"c3", "c1", "c2"});
    CHECK(ids_of(*s, true) == std::vector<std::string>{"c3", "c2"});
    CHECK(ids_of(*s, false) == std::vector<std::string>{"c1"});
    CHECK(s->open_cases().size() == 2);
    // More than a page of a paging store (1000 rows), in one unit.
    std::vector<Record> records;
    std::vector<StoredCase> cases;
    for (int i = 0; i < 2100; ++i) records.push_back(rec(static_cast<std::uint64_t>(5 + i), fmt::format("p{:04}", 2099 - i)));
    for (int i = 0; i < 1100; ++i) cases.push_back(kase(fmt::format("p{:04}", 2099 - i), 1));
    commit(*s, records, cases);
    std::uint64_t expect = 1;
    bool ordered = true;
    s->for_each_record([&](const Record& r) { ordered = ordered && r.seq == expect++; });
    CHECK(ordered);
    CHECK(expect == 2105);
    const auto all = ids_of(*s, std::nullopt);
    REQUIRE(all.size() == 1103);
    CHECK(all[3] == "p2099");
    CHECK(all.back() == "p1000");
  }
}

TEST_CASE("store contract: due cases earliest first, open ones only, at most limit", "[store-contract]") {
  for (const auto& sub : subjects("due")) {
    INFO(sub.location);
    auto s = sub.open();
    commit(*s, {rec(1, "x")},
           {kase("late", 1, at("2026-01-03T00:00:00Z")), kase("early", 1, at("2026-01-01T00:00:00Z")),
            kase("mid", 1, at("2026-01-02T00:00:00Z")), kase("closed", 1, at("2025-12-01T00:00:00Z"), false), kase("none", 1)});
    CHECK(s->due_cases(at("2026-01-02T00:00:00Z")) == std::vector<std::string>{"early", "mid"});
    CHECK(s->due_cases(at("2026-02-01T00:00:00Z"), 1) == std::vector<std::string>{"early"});
    CHECK(s->due_cases(at("2026-02-01T00:00:00Z"), 0).size() == 3);
    CHECK(s->due_cases(at("2025-12-31T00:00:00Z")).empty());
    if (s->shared()) {
      CHECK(s->earliest_due() == at("2026-01-01T00:00:00Z"));
    } else {
      CHECK_THROWS_AS(s->next_case_number("repair"), StoreError);
    }
  }
}

TEST_CASE("store contract: case numbers are unique across engines", "[store-contract]") {
  for (const auto& sub : subjects("numbers")) {
    if (!sub.open()->shared()) continue;
    INFO(sub.location);
    std::vector<std::vector<std::uint64_t>> got(4);
    std::vector<std::thread> threads;
    for (auto& g : got)
      threads.emplace_back([&sub, &g] {
        auto s = sub.open();
        for (int i = 0; i < 50; ++i) g.push_back(s->next_case_number("repair"));
      });
    for (auto& t : threads) t.join();
    std::set<std::uint64_t> all;
    for (const auto& g : got) all.insert(g.begin(), g.end());
    CHECK(all.size() == 200);
    CHECK(*all.rbegin() == 200);
    CHECK(sub.open()->meta().at("case-number/repair") == "200");
    CHECK(sub.open()->next_case_number("other") == 1);
  }
}

TEST_CASE("store contract: record numbers increase and are never handed out twice", "[store-contract]") {
  for (const auto& sub : subjects("seqs")) {
    if (!sub.open()->shared()) continue;
    INFO(sub.location);
    std::vector<std::vector<std::uint64_t>> got(4);
    std::atomic<bool> increasing = true;
    std::vector<std::thread> threads;
    for (auto& g : got)
      threads.emplace_back([&sub, &g, &increasing] {
        auto s = sub.open();
        for (int i = 0; i < 50; ++i) {
          std::uint64_t three[3] = {};
          s->take_seqs(three);
          if (!(three[0] < three[1] && three[1] < three[2] && (g.empty() || g.back() < three[0]))) increasing = false;
          g.insert(g.end(), three, three + 3);
        }
      });
    for (auto& t : threads) t.join();
    CHECK(increasing);
    std::set<std::uint64_t> all;
    for (const auto& g : got) all.insert(g.begin(), g.end());
    CHECK(all.size() == 600);
    // Records numbered by their writer (a copied store) move the numbering past them.
    auto s = sub.open();
    commit(*s, {rec(*all.rbegin() + 500, "a")});
    std::uint64_t next[1] = {};
    s->take_seqs(next);
    CHECK(next[0] > *all.rbegin() + 500);
  }
}

TEST_CASE("store contract: a due case goes to one owner while its lease lives", "[store-contract]") {
  for (const auto& sub : subjects("claims")) {
    if (!sub.open()->shared()) continue;
    INFO(sub.location);
    std::vector<StoredCase> cases;
    for (int i = 0; i < 40; ++i) cases.push_back(kase(fmt::format("d{:02}", i), 1, at("2026-01-01T00:00:00Z") + std::chrono::minutes(i)));
    commit(*sub.open(), {rec(1, "d00")}, cases);
    // Each engine fires what it claimed: a commit with no timer left, which ends the lease.
    std::vector<std::vector<std::string>> got(4);
    std::atomic<int> conflicts = 0;
    std::vector<std::thread> threads;
    for (std::size_t i = 0; i < got.size(); ++i)
      threads.emplace_back([&sub, &got, &conflicts, i] {
        auto s = sub.open();
        for (;;) {
          const auto ids = s->claim_due(at("2026-02-01T00:00:00Z"), 3, fmt::format("engine-{}", i), 30s);
          if (ids.empty()) return;
          got[i].insert(got[i].end(), ids.begin(), ids.end());
          for (const auto& id : ids) try {
              commit(*s, {}, {kase(id, 2)});
            } catch (const ConflictError&) {
              ++conflicts;
            }
        }
      });
    for (auto& t : threads) t.join();
    CHECK(conflicts == 0);
    std::multiset<std::string> all;
    for (const auto& g : got) all.insert(g.begin(), g.end());
    CHECK(all.size() == 40);
    CHECK(std::set<std::string>(all.begin(), all.end()).size() == 40);
  }
}

TEST_CASE("store contract: leases run out, end with a commit, and can be released", "[store-contract]") {
  for (const auto& sub : subjects("leases")) {
    if (!sub.open()->shared()) continue;
    INFO(sub.location);
    auto a = sub.open();
    auto b = sub.open();
    const auto upto = at("2026-02-01T00:00:00Z");
    commit(*a, {rec(1, "x")}, {kase("x", 1, at("2026-01-01T00:00:00Z")), kase("y", 1, at("2026-01-02T00:00:00Z"))});
    CHECK(a->claim_due(upto, 1, "A", 300ms) == std::vector<std::string>{"x"});
    CHECK(b->claim_due(upto, 0, "B", 10s) == std::vector<std::string>{"y"});
    CHECK(a->claim_due(upto, 0, "A", 300ms) == std::vector<std::string>{"x"});  // its own lease, renewed
    CHECK(b->claim_due(upto, 0, "C", 10s).empty());
    std::this_thread::sleep_for(400ms);
    CHECK(b->claim_due(upto, 0, "C", 10s) == std::vector<std::string>{"x"});  // A's lease ran out
    // A commit of the case ends the lease on it.
    commit(*a, {rec(2, "x")}, {kase("x", 2, at("2026-01-01T00:00:00Z"))});
    CHECK(a->claim_due(upto, 0, "A", 10s) == std::vector<std::string>{"x"});
    // Only the owner's release frees a case.
    const std::vector<std::string> x{"x"};
    b->release_claims(x, "C");
    CHECK(b->claim_due(upto, 0, "C", 10s).empty());
    a->release_claims(x, "A");
    CHECK(b->claim_due(upto, 0, "C", 10s) == std::vector<std::string>{"x"});
  }
}

TEST_CASE("store contract: wait_for_work wakes on another engine's earlier timer and times out otherwise", "[store-contract]") {
  for (const auto& sub : subjects("wait")) {
    if (!sub.open()->shared()) continue;
    INFO(sub.location);
    auto waiter = sub.open();
    auto writer = sub.open();
    const auto before = at("2026-01-10T00:00:00Z");
    CHECK_FALSE(waiter->wait_for_work(before, 50ms));
    std::thread later([&] {
      std::this_thread::sleep_for(50ms);
      commit(*writer, {rec(1, "late")}, {kase("late", 1, before + 1h)});
    });
    CHECK_FALSE(waiter->wait_for_work(before, 400ms));
    later.join();
    std::thread earlier([&] {
      std::this_thread::sleep_for(100ms);
      commit(*writer, {rec(2, "soon")}, {kase("soon", 1, before - 1h)});
    });
    const auto t0 = std::chrono::steady_clock::now();
    CHECK(waiter->wait_for_work(before, 10s));
    CHECK(std::chrono::steady_clock::now() - t0 < 5s);
    earlier.join();
  }
}

TEST_CASE("store contract: PostgreSQL locations take Escalon's options and refuse unknown ones", "[store-contract]") {
  // Refused before any connection is tried.
  CHECK_THROWS_WITH(open_store("postgresql://localhost/db?bogus=1"), Catch::Contains("unknown store option 'bogus'"));
  CHECK_THROWS_WITH(open_store("postgresql://localhost/db?sync=maybe"), Catch::Contains("sync=maybe is not known"));
  CHECK_THROWS_WITH(open_store("postgres:?schema="), Catch::Contains("schema= needs a name"));
}

TEST_CASE("store contract: PostgreSQL refuses other programs' tables and newer schemas, and reconnects", "[store-contract]") {
  if (escalon::test::test_pg_uri().empty()) return;
  const auto loc = escalon::test::fresh_pg_location();
  const auto schema = loc.substr(loc.rfind("schema=") + 7);
  escalon::test::pg_exec("CREATE SCHEMA " + schema + "; CREATE TABLE " + schema + ".cases(x int)");
  CHECK_THROWS_WITH(open_store(loc), Catch::Contains("has tables of another program named like Escalon's (cases)"));
  escalon::test::pg_exec("DROP TABLE " + schema + ".cases");
  (void)open_store(loc);
  escalon::test::pg_exec("UPDATE " + schema + ".meta SET value = '99' WHERE key = 'escalon/schema'");
  CHECK_THROWS_WITH(open_store(loc), Catch::Contains("was written by a newer Escalon (schema 99, this one knows up to 3)"));
  // A schema-1 store (before the outbox and the hash chain) is migrated on open.
  escalon::test::pg_exec("UPDATE " + schema + ".meta SET value = '1' WHERE key = 'escalon/schema'; DROP TABLE " + schema +
                         ".outbox; ALTER TABLE " + schema + ".records DROP COLUMN digest, DROP COLUMN link, DROP COLUMN prev; " +
                         "ALTER TABLE " + schema + ".cases DROP COLUMN secret, DROP COLUMN head");
  (void)open_store(loc);
  CHECK(escalon::test::pg_query_int("SELECT count(*) FROM information_schema.tables WHERE table_schema = '" + schema +
                                    "' AND table_name = 'outbox'") == 1);
  CHECK(escalon::test::pg_query_int("SELECT count(*) FROM information_schema.columns WHERE table_schema = '" + schema +
                                    "' AND column_name IN ('digest', 'link', 'prev', 'secret', 'head')") == 5);
  CHECK(escalon::test::pg_query_int("SELECT value::int FROM " + schema + ".meta WHERE key = 'escalon/schema'") == 3);

  // The server drops the store's connection: one call fails naming the server, the next reconnects.
  auto s = open_store(loc + "&application_name=escalon_victim");
  commit(*s, {rec(1, "a")}, {kase("a", 1)});
  escalon::test::pg_exec("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'escalon_victim'");
  CHECK_THROWS_WITH((void)s->last_seq(), Catch::Contains("PostgreSQL ") && Catch::Contains("connection"));
  CHECK(s->last_seq() == 1);
}
