// Checks a store left behind by a killed crash_driver (see test_crash.sh).
//   crash_check DB FLOWS_DIR quick|final
#include <sqlite3.h>

#include <cstdio>
#include <escalon/escalon.hpp>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <tuple>

using namespace escalon;

namespace {
int failures = 0;
void fail(const std::string& msg) {
  std::fprintf(stderr, "FAIL: %s\n", msg.c_str());
  ++failures;
}

std::set<std::string> column_of(sqlite3* h, const char* sql) {
  std::set<std::string> out;
  sqlite3_stmt* st = nullptr;
  sqlite3_prepare_v2(h, sql, -1, &st, nullptr);
  while (sqlite3_step(st) == SQLITE_ROW) out.insert(reinterpret_cast<const char*>(sqlite3_column_text(st, 0)));
  sqlite3_finalize(st);
  return out;
}

// Straight from the file, so the check does not trust the store code it checks. `delivered_all`:
// the outbox must be empty (after the final recovery, which has a listener).
void check_file(const std::string& db, bool delivered_all = false) {
  sqlite3* h = nullptr;
  if (sqlite3_open_v2(db.c_str(), &h, SQLITE_OPEN_READONLY, nullptr) != SQLITE_OK) {
    fail("cannot open " + db);
    sqlite3_close(h);  // a failed open still allocates a handle
    return;
  }
  sqlite3_stmt* st = nullptr;
  sqlite3_prepare_v2(h, "SELECT seq, case_id, json FROM records ORDER BY seq", -1, &st, nullptr);
  std::int64_t expect = 1;
  std::map<std::string, std::int64_t> last_of_case;
  std::set<std::string> notified, delivered;  // keys of escalations that notified, and of deliveries
  // An SLA's ladder and the step's deadline ladder both number from 1: the message tells them apart.
  std::set<std::tuple<std::string, std::string, int, int, std::int64_t, std::string>> levels;
  while (sqlite3_step(st) == SQLITE_ROW) {
    const auto seq = sqlite3_column_int64(st, 0);
    if (seq != expect) fail("record " + std::to_string(expect) + " is missing (next is " + std::to_string(seq) + ")");
    expect = seq + 1;
    const std::string case_id = reinterpret_cast<const char*>(sqlite3_column_text(st, 1));
    const auto r = Record::from_json(reinterpret_cast<const char*>(sqlite3_column_text(st, 2)));
    // Delivery outcomes are journaled without a new case state (docs/delivery.md).
    if (r.type != RecordType::delivered && r.type != RecordType::delivery_failed) last_of_case[case_id] = seq;
    if (r.type == RecordType::delivered) delivered.insert(r.data.as_map().at("key").as_string());
    if (r.type == RecordType::escalated && !r.target.empty()) notified.insert(r.case_id + "/" + std::to_string(seq));
    if (r.type == RecordType::escalated &&
        !levels.insert({r.case_id, r.step, r.level, r.repeat, r.at.time_since_epoch().count(), r.message}).second)
      fail("level " + std::to_string(r.level) + " repeat " + std::to_string(r.repeat) + " fired twice for " + r.case_id);
  }
  sqlite3_finalize(st);
  sqlite3_prepare_v2(h, "SELECT id, seq FROM cases", -1, &st, nullptr);
  while (sqlite3_step(st) == SQLITE_ROW) {
    const std::string id = reinterpret_cast<const char*>(sqlite3_column_text(st, 0));
    if (last_of_case[id] != sqlite3_column_int64(st, 1))
      fail("the stored state of " + id + " is not its latest record (" + std::to_string(sqlite3_column_int64(st, 1)) + " vs " +
           std::to_string(last_of_case[id]) + ")");
  }
  sqlite3_finalize(st);
  // Every stored escalation's notification is delivered or waits in the outbox: none is lost.
  const auto waiting = column_of(h, "SELECT key FROM outbox");
  for (const auto& key : notified)
    if (!delivered.contains(key) && !waiting.contains(key)) fail("the notification " + key + " was lost");
  if (delivered_all && !waiting.empty())
    fail(std::to_string(waiting.size()) + " notifications are still in the outbox after recovery, e.g. " + *waiting.begin());
  sqlite3_close(h);
}
}  // namespace

int main(int argc, char** argv) {
  if (argc != 4) return 2;
  const std::string db = argv[1];
  const bool final = std::string(argv[3]) == "final";
  check_file(db);

  std::map<std::string, int> acked;
  std::ifstream acks(db + ".acks");
  for (std::string id; acks >> id;) {
    int n = 0;
    acks >> n;
    acked[id] = std::max(acked[id], n);
  }
  TimePoint now = *parse_iso8601("2026-11-23T08:00:00Z");
  if (std::ifstream in(db + ".clock"); in) {
    std::string s;
    in >> s;
    if (auto t = parse_iso8601(s)) now = *t;
  }
  {
    auto store = open_store("sqlite:" + db);
    for (const auto& [id, n] : acked) {
      int stored = 0;
      for (const auto& r : store->history(id))
        if (r.type == RecordType::event && r.actor == "driver") ++stored;
      if (stored < n) fail(id + ": " + std::to_string(n) + " sends were acknowledged, " + std::to_string(stored) + " are stored");
    }
    if (final) {
      ManualClock clock(now + std::chrono::hours{24 * 30});
      Engine engine({.clock = &clock, .keep_journal = false, .store = store.get()});
      engine.load({argv[2]});
      engine.on_notify([](const Notification&) {});  // the driver's channel: what it did not get, it gets now
      const auto recovered = engine.recover();
      std::size_t checked = 0;
      for (const auto& c : engine.query({}))
        for (const auto& d : c.deadlines) {
          const Step* s = nullptr;
          for (const auto& f : engine.flows())
            if (f->id == c.flow && f->version == c.version) s = f->find_step(d.step);
          if (!d.overdue || !s || !s->deadline) continue;
          ++checked;
          if (d.level != static_cast<int>(s->deadline->escalate.size()))
            fail(c.id + ": deadline of " + d.step + " is overdue but fired level " + std::to_string(d.level));
        }
      // A case active in an action step after 30 days has nothing left that would run it: its
      // call's unit was stored in part (the handler's job is not in the store).
      for (const auto& c : engine.query({.status = CaseStatus::active})) {
        for (const auto& f : engine.flows()) {
          if (f->id != c.flow || f->version != c.version) continue;
          const Step* s = f->find_step(c.steps.at(0));
          if (s && s->kind == StepKind::action) {
            fail(c.id + " is stuck in action step " + s->name + ": a unit was committed in part");
          }
        }
      }
      if (acked.empty()) fail("no send was acknowledged: the driver drove nothing, so nothing was checked");
      std::printf("final: %zu open cases recovered, %zu overdue deadlines checked, %zu acknowledged cases\n", recovered, checked,
                  acked.size());
    }
  }
  if (final) check_file(db, true);  // the recovery's own firings: still no duplicates, and all delivered
  return failures ? 1 : 0;
}
