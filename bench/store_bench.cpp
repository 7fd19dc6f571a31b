// Store benchmarks (issue "Durable cases"):
//   store_bench events DIR [N] [full|normal]   durable sends/s through the engine vs a raw SQLite
//                                              insert loop with the same WAL and sync settings
//   store_bench recover DIR [N]                recovery time for N open cases
#include <sqlite3.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <escalon/escalon.hpp>
#include <filesystem>
#include <string>

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

std::vector<FlowPtr> bench_flows() { return validate_text(flow_yaml, "durable.yaml").flows; }

void remove_db(const std::string& p) {
  for (const char* ext : {"", "-wal", "-shm"}) std::filesystem::remove(p + ext);
}

// The baseline: what SQLite itself does per durable transaction with one ~300-byte row.
double raw_rate(const std::string& path, int n, const std::string& sync) {
  remove_db(path);
  sqlite3* db = nullptr;
  sqlite3_open(path.c_str(), &db);
  sqlite3_exec(db, "PRAGMA journal_mode=WAL", nullptr, nullptr, nullptr);
  sqlite3_exec(db, (std::string("PRAGMA synchronous=") + (sync == "normal" ? "NORMAL" : "FULL")).c_str(), nullptr, nullptr, nullptr);
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

int events(const std::string& dir, int n, const std::string& sync) {
  const std::string path = dir + "/store-bench.db";
  const double raw = raw_rate(path, n, sync);
  remove_db(path);
  ManualClock clock{"2026-11-23T08:00:00Z"};
  auto store = open_store("sqlite:" + path + (sync == "normal" ? "?sync=normal" : ""));
  Engine engine({.clock = &clock, .keep_journal = false, .store = store.get()});
  engine.add_flows(bench_flows());
  std::vector<std::string> ids;
  for (int i = 0; i < 100; ++i) ids.push_back(engine.start("durable"));
  const auto t0 = Stopwatch::now();
  for (int i = 0; i < n; ++i) engine.send(ids[static_cast<std::size_t>(i) % ids.size()], "ping");
  const double s = since(t0);
  const double rate = n / s;
  std::printf("durable events (sync=%s): engine %.0f sends/s (each: event + data-changed records and the case state in one "
              "transaction); raw SQLite insert loop %.0f tx/s; engine/raw = %.0f%%\n",
              sync.c_str(), rate, raw, 100.0 * rate / raw);
  store.reset();
  remove_db(path);
  return 0;
}

int recover(const std::string& dir, int n) {
  const std::string path = dir + "/recover-bench.db";
  remove_db(path);
  ManualClock clock{"2026-11-23T08:00:00Z"};
  {
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
  remove_db(path);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  const std::string what = argc > 1 ? argv[1] : "";
  const std::string dir = argc > 2 ? argv[2] : ".";
  const int n = argc > 3 ? std::atoi(argv[3]) : 0;
  if (what == "events") return events(dir, n ? n : 2000, argc > 4 ? argv[4] : "full");
  if (what == "recover") return recover(dir, n ? n : 100000);
  std::fprintf(stderr, "usage: store_bench events DIR [N] [full|normal] | recover DIR [N]\n");
  return 2;
}
