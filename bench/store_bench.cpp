// Store benchmarks (issue "Durable cases"):
//   store_bench events DIR [N] [full|normal]   durable sends/s through the engine vs a raw SQLite
//                                              insert loop with the same WAL and sync settings
//   store_bench recover DIR [N] [keep]         recovery time for N open cases (keep: reuse the
//                                              store a previous `keep` run wrote, and leave it, so
//                                              that a profiler sees recovery alone)
//   store_bench evict DIR [N]                  N cases opened and closed at sync=normal: peak RSS
//                                              must stay flat (closed cases leave memory)
#include <sqlite3.h>
#include <sys/resource.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <escalon/escalon.hpp>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>

using namespace escalon;
using Stopwatch = std::chrono::steady_clock;

namespace {

double since(Stopwatch::time_point t0) { return std::chrono::duration<double>(Stopwatch::now() - t0).count(); }

const char* flow_yaml = R"(flow: durable
data: { n: { type: int, default: 0 } }
start: a
steps:
  a:
    role: agent
    deadline: { within: 4h, escalate: [ { at: 50%, notify: lead }, { at: 100%, notify: boss } ] }
    on: { ping: { set: { n: n + 1 } }, done: z }
  z: { end: true }
)";

// `events DIR N MODE pii`: the counter is personal data, so each send seals a value (the
// cost of docs/security.md's sealing next to the plain run).
bool pii_counter = false;

std::vector<FlowPtr> bench_flows() {
  std::string text = flow_yaml;
  if (pii_counter) text.replace(text.find("default: 0 }"), 12, "default: 0, pii: true }");
  return validate_text(text, "durable.yaml").flows;
}

void remove_db(const std::string& p) {
  for (const char* ext : {"", "-wal", "-shm"}) std::filesystem::remove(p + ext);
}

// A fresh SQLite file with the store's journal settings (WAL, the given synchronous mode).
sqlite3* open_raw(const std::string& path, const std::string& sync) {
  remove_db(path);
  sqlite3* db = nullptr;
  sqlite3_open(path.c_str(), &db);
  sqlite3_exec(db, "PRAGMA journal_mode=WAL", nullptr, nullptr, nullptr);
  sqlite3_exec(db, (std::string("PRAGMA synchronous=") + (sync == "normal" ? "NORMAL" : "FULL")).c_str(), nullptr, nullptr, nullptr);
  return db;
}

// The baseline: what SQLite itself does per durable transaction with one ~300-byte row.
double raw_rate(const std::string& path, int n, const std::string& sync) {
  sqlite3* db = open_raw(path, sync);
  sqlite3_exec(db, "CREATE TABLE t(seq INTEGER PRIMARY KEY, case_id TEXT, json TEXT)", nullptr, nullptr, nullptr);
  sqlite3_stmt* st = nullptr;
  sqlite3_prepare_v2(db, "INSERT INTO t(seq, case_id, json) VALUES(?, 'durable-1', ?)", -1, &st, nullptr);
  const std::string row(300, 'x');
  const auto t0 = Stopwatch::now();
  for (int i = 0; i < n; ++i) {
    sqlite3_exec(db, "BEGIN", nullptr, nullptr, nullptr);
    sqlite3_bind_int64(st, 1, i + 1);
    sqlite3_bind_text(st, 2, row.data(), static_cast<int>(row.size()), SQLITE_STATIC);
    sqlite3_step(st);
    sqlite3_reset(st);
    sqlite3_exec(db, "COMMIT", nullptr, nullptr, nullptr);
  }
  const double s = since(t0);
  sqlite3_finalize(st);
  sqlite3_close(db);
  remove_db(path);
  return n / s;
}

// A second baseline: SQLite writing by hand what one engine call writes (two journal rows and
// the case row, same schema and indexes). The gap to this one is the engine's own cost; the
// gap between the two baselines is what the durable case model costs in pages per commit.
// `Rows` leaves parts out, to show what each index costs a commit in pages (events prints them).
struct Rows {
  bool case_index = true;  // records_case(case_id, seq): a case's history in order
  bool due_index = true;   // cases_due(next_due): what falls due next
  bool case_row = true;    // the case's state
};

double raw_same_rows_rate(const std::string& path, int n, const std::string& sync, Rows rows = {}) {
  sqlite3* db = open_raw(path, sync);
  const std::string schema =
      std::string("CREATE TABLE records(seq INTEGER PRIMARY KEY, case_id TEXT NOT NULL, at INTEGER NOT NULL, type TEXT NOT NULL, json TEXT NOT NULL);"
                  "CREATE TABLE cases(id TEXT PRIMARY KEY, flow TEXT NOT NULL, seq INTEGER NOT NULL, open INTEGER NOT NULL, state TEXT NOT NULL,"
                  " revision INTEGER NOT NULL DEFAULT 0, next_due INTEGER);") +
      (rows.case_index ? "CREATE INDEX records_case ON records(case_id, seq);" : "") +
      (rows.due_index ? "CREATE INDEX cases_due ON cases(next_due) WHERE open = 1 AND next_due IS NOT NULL;" : "");
  sqlite3_exec(db, schema.c_str(), nullptr, nullptr, nullptr);
  sqlite3_stmt* rec = nullptr;
  sqlite3_stmt* cas = nullptr;
  sqlite3_prepare_v2(db, "INSERT INTO records VALUES(?, ?, ?, 'event', ?)", -1, &rec, nullptr);
  sqlite3_prepare_v2(db,
                     "INSERT INTO cases VALUES(?, 'durable', ?, 1, ?, ?, ?) ON CONFLICT(id) DO UPDATE SET seq=excluded.seq, "
                     "state=excluded.state, revision=excluded.revision, next_due=excluded.next_due",
                     -1, &cas, nullptr);
  const std::string record(130, 'x'), state(570, 'y');
  std::vector<std::string> ids;
  for (int i = 0; i < 100; ++i) ids.push_back("durable-" + std::to_string(i + 1));
  std::int64_t seq = 0;
  const auto t0 = Stopwatch::now();
  for (int i = 0; i < n; ++i) {
    const std::string& id = ids[static_cast<std::size_t>(i) % ids.size()];
    sqlite3_exec(db, "BEGIN", nullptr, nullptr, nullptr);
    for (int r = 0; r < 2; ++r) {
      sqlite3_bind_int64(rec, 1, ++seq);
      sqlite3_bind_text(rec, 2, id.data(), static_cast<int>(id.size()), SQLITE_STATIC);
      sqlite3_bind_int64(rec, 3, seq);
      sqlite3_bind_text(rec, 4, record.data(), static_cast<int>(record.size()), SQLITE_STATIC);
      sqlite3_step(rec);
      sqlite3_reset(rec);
    }
    if (rows.case_row) {
      sqlite3_bind_text(cas, 1, id.data(), static_cast<int>(id.size()), SQLITE_STATIC);
      sqlite3_bind_int64(cas, 2, seq);
      sqlite3_bind_text(cas, 3, state.data(), static_cast<int>(state.size()), SQLITE_STATIC);
      sqlite3_bind_int64(cas, 4, i);
      sqlite3_bind_int64(cas, 5, 1795420800000 + i);
      sqlite3_step(cas);
      sqlite3_reset(cas);
    }
    sqlite3_exec(db, "COMMIT", nullptr, nullptr, nullptr);
  }
  const double s = since(t0);
  sqlite3_finalize(rec);
  sqlite3_finalize(cas);
  sqlite3_close(db);
  remove_db(path);
  return n / s;
}

// Durable sends per second through the engine with `threads` callers, each on its own cases.
double engine_rate(const std::string& path, int n, const std::string& sync, int threads, bool group) {
  remove_db(path);
  ManualClock clock{"2026-11-23T08:00:00Z"};
  auto store = open_store("sqlite:" + path + (sync == "normal" ? "?sync=normal" : ""));
  Engine engine({.clock = &clock, .keep_journal = false, .store = store.get(), .group_commit = group});
  engine.add_flows(bench_flows());
  std::vector<std::vector<std::string>> ids(static_cast<std::size_t>(threads));
  for (auto& mine : ids)
    for (int i = 0; i < 25; ++i) mine.push_back(engine.start("durable"));
  const int per_thread = n / threads;
  const auto t0 = Stopwatch::now();
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t)
    pool.emplace_back([&, t] {
      const auto& mine = ids[static_cast<std::size_t>(t)];
      for (int i = 0; i < per_thread; ++i) engine.send(mine[static_cast<std::size_t>(i) % mine.size()], "ping");
    });
  for (auto& th : pool) th.join();
  const double s = since(t0);
  store.reset();
  remove_db(path);
  return per_thread * threads / s;
}

int events(const std::string& dir, int n, const std::string& sync) {
  const std::string path = dir + "/store-bench.db";
  const double raw = raw_rate(path, n, sync);
  std::printf("durable events, sync=%s, %d sends per run (each send: event + data-changed records and the case state)\n",
              sync.c_str(), n);
  const double same = raw_same_rows_rate(path, n, sync);
  std::printf("  %-44s %9.0f /s\n", "raw SQLite insert loop, 1 row per transaction", raw);
  std::printf("  %-44s %9.0f /s  %4.0f%% of raw\n", "raw SQLite, an engine call's rows by hand", same, 100.0 * same / raw);
  for (const auto& [threads, group] : std::vector<std::pair<int, bool>>{{1, false}, {4, false}, {1, true}, {4, true}, {16, true}}) {
    const double rate = engine_rate(path, n, sync, threads, group);
    const std::string label = fmt::format("engine, {} thread{}, {}", threads, threads == 1 ? "" : "s",
                                          group ? "group commit" : "commit per call");
    std::printf("  %-44s %9.0f /s  %4.0f%% of raw, %4.0f%% of by-hand\n", label.c_str(), rate, 100.0 * rate / raw,
                100.0 * rate / same);
  }
  // The by-hand loop with parts left out: the pages each index adds to a commit bound the engine.
  std::printf("  by hand, with parts left out (what each index costs a commit):\n");
  for (const auto& [label, rows] : std::vector<std::pair<const char*, Rows>>{
           {"without records_case", {.case_index = false}},
           {"without cases_due", {.due_index = false}},
           {"without either index", {.case_index = false, .due_index = false}},
           {"journal rows only, no index", {.case_index = false, .due_index = false, .case_row = false}}}) {
    const double rate = raw_same_rows_rate(path, n, sync, rows);
    std::printf("  %-44s %9.0f /s  %4.0f%% of raw\n", label, rate, 100.0 * rate / raw);
  }
  return 0;
}

int recover(const std::string& dir, int n, bool keep) {
  const std::string path = dir + fmt::format("/recover-bench-{}.db", n);
  const bool reuse = keep && std::filesystem::exists(path);
  if (!reuse) remove_db(path);
  ManualClock clock{"2026-11-23T08:00:00Z"};
  if (!reuse) {
    auto store = open_store("sqlite:" + path + "?sync=normal");
    Engine engine({.clock = &clock, .keep_journal = false, .store = store.get()});
    engine.add_flows(bench_flows());
    const auto t0 = Stopwatch::now();
    for (int i = 0; i < n; ++i) (void)engine.start("durable");
    std::printf("recover: wrote %d open cases in %.1f s (sync=normal)\n", n, since(t0));
  }
  const auto size = std::filesystem::file_size(path) + (std::filesystem::exists(path + "-wal") ? std::filesystem::file_size(path + "-wal") : 0);
  auto store = open_store("sqlite:" + path);
  Engine engine({.clock = &clock, .keep_journal = false, .store = store.get()});
  engine.add_flows(bench_flows());
  const auto t0 = Stopwatch::now();
  const auto recovered = engine.recover();
  const double s = since(t0);
  std::printf("recover: %zu open cases (each with a pending deadline and a 2-level ladder) recovered in %.2f s "
              "(%.0f cases/s); store %.0f MiB; next due %s\n",
              recovered, s, static_cast<double>(recovered) / s, static_cast<double>(size) / 1048576.0,
              format_iso8601(*engine.next_due()).c_str());
  store.reset();
  if (!keep) remove_db(path);
  return 0;
}

long peak_rss_kib() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return u.ru_maxrss;
}

// Closed cases leave memory once committed, and the engine keeps no copy of the journal when a
// store has it: a host that runs for months holds only its open cases.
int evict(const std::string& dir, int n) {
  const std::string path = dir + "/evict-bench.db";
  remove_db(path);
  ManualClock clock{"2026-11-23T08:00:00Z"};
  auto store = open_store("sqlite:" + path + "?sync=normal");
  Engine engine({.clock = &clock, .store = store.get()});  // keep_journal stays on: the store is the journal
  engine.add_flows(bench_flows());
  const long empty = peak_rss_kib();
  const auto t0 = Stopwatch::now();
  for (int i = 1; i <= n; ++i) {
    const auto id = engine.start("durable");
    engine.send(id, "ping");
    engine.send(id, "done");
    if (i % (n / 10 > 0 ? n / 10 : 1) == 0)
      std::printf("evict: %8d cases opened and closed, %zu in memory, peak RSS %5.1f MiB above the empty engine (%.0f s)\n", i,
                  engine.case_count(), static_cast<double>(peak_rss_kib() - empty) / 1024.0, since(t0));
  }
  const double s = since(t0);
  const auto size = std::filesystem::file_size(path) + (std::filesystem::exists(path + "-wal") ? std::filesystem::file_size(path + "-wal") : 0);
  std::printf("evict: %d cases (start, 2 events each) in %.1f s (%.0f calls/s); peak RSS %.1f MiB above the empty engine "
              "(%.1f MiB); store %.0f MiB\n",
              n, s, 3.0 * n / s, static_cast<double>(peak_rss_kib() - empty) / 1024.0, static_cast<double>(empty) / 1024.0,
              static_cast<double>(size) / 1048576.0);
  store.reset();
  remove_db(path);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  const std::string what = argc > 1 ? argv[1] : "";
  const std::string dir = argc > 2 ? argv[2] : ".";
  const int n = argc > 3 ? std::atoi(argv[3]) : 0;
  pii_counter = argc > 5 && std::string(argv[5]) == "pii";
  if (what == "events") return events(dir, n ? n : 2000, argc > 4 ? argv[4] : "full");
  if (what == "recover") return recover(dir, n ? n : 100000, argc > 4 && std::string(argv[4]) == "keep");
  if (what == "evict") return evict(dir, n ? n : 1000000);
  std::fprintf(stderr, "usage: store_bench events DIR [N] [full|normal] [pii] | recover DIR [N] [keep] | evict DIR [N]\n");
  return 2;
}
