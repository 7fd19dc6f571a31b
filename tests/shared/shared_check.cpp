// Checks a store after the multi-process test (tests/shared/run_sigkill.py):
//
//   shared_check DB FLOW CASES ACK_FILE...
//
// - every rung and repeat fired exactly once: each `escalated` record goes into a table with a
//   UNIQUE constraint on (case, step, level, repeat), and each case has all 13 (levels 1-9,
//   level 10 with repeats 0-3);
// - record numbers are unique and each case's records are in time order;
// - every acknowledged `note` (its tag in an ACK_FILE) is in the journal exactly once, and no
//   tag is there twice;
// - each case's stored state equals the replay of its journal: `n` is its number of notes, the
//   deadline's level is the highest level fired.
#include <sqlite3.h>

#include <cstdio>
#include <escalon/escalon.hpp>
#include <fstream>
#include <map>
#include <set>
#include <string>
#include <vector>

using namespace escalon;

namespace {

int problems = 0;
template <class... A>
void problem(const char* fmt, A... a) {
  if (++problems <= 20) {
    std::fprintf(stderr, "shared_check: ");
    std::fprintf(stderr, fmt, a...);
    std::fprintf(stderr, "\n");
  }
}

struct Fired {
  sqlite3* db = nullptr;
  sqlite3_stmt* insert = nullptr;
  Fired() {
    sqlite3_open(":memory:", &db);
    sqlite3_exec(db, "CREATE TABLE fired(case_id TEXT, step TEXT, level INT, rep INT, UNIQUE(case_id, step, level, rep))",
                 nullptr, nullptr, nullptr);
    sqlite3_prepare_v2(db, "INSERT INTO fired VALUES(?,?,?,?)", -1, &insert, nullptr);
  }
  ~Fired() {
    sqlite3_finalize(insert);
    sqlite3_close(db);
  }
  Fired(const Fired&) = delete;
  Fired& operator=(const Fired&) = delete;
  void add(const Record& r) {
    sqlite3_reset(insert);
    sqlite3_bind_text(insert, 1, r.case_id.c_str(), -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(insert, 2, r.step.c_str(), -1, SQLITE_TRANSIENT);
    sqlite3_bind_int(insert, 3, r.level);
    sqlite3_bind_int(insert, 4, r.repeat);
    if (sqlite3_step(insert) != SQLITE_DONE)
      problem("%s: level %d repeat %d fired twice (%s)", r.case_id.c_str(), r.level, r.repeat, sqlite3_errmsg(db));
  }
};

}  // namespace

int main(int argc, char** argv) try {
  if (argc < 5) {
    std::fprintf(stderr, "usage: shared_check DB FLOW CASES ACK_FILE...\n");
    return 2;
  }
  const auto store = open_store(argv[1]);
  const std::size_t cases = std::stoul(argv[3]);
  Fired fired;
  std::set<std::uint64_t> seqs;
  std::map<std::string, int> tags;
  struct PerCase {
    std::size_t notes = 0, rungs = 0;
    std::int32_t level = 0;
    TimePoint last{};
  };
  std::map<std::string, PerCase> per;
  std::size_t records = 0;
  store->for_each_record([&](const Record& r) {
    ++records;
    if (!seqs.insert(r.seq).second) problem("record number %llu used twice", static_cast<unsigned long long>(r.seq));
    auto& pc = per[r.case_id];
    if (r.at < pc.last) problem("%s: record %llu is earlier than the one before", r.case_id.c_str(), static_cast<unsigned long long>(r.seq));
    pc.last = r.at;
    if (r.type == RecordType::escalated) {
      fired.add(r);
      ++pc.rungs;
      pc.level = std::max(pc.level, r.level);
    } else if (r.type == RecordType::event && r.event == "note") {
      ++pc.notes;
      if (const auto* tag = r.data.find("tag")) ++tags[tag->as_string()];
      else problem("%s: a note without its tag", r.case_id.c_str());
    }
  });
  std::size_t acked = 0;
  for (int i = 4; i < argc; ++i) {
    std::ifstream in(argv[i]);
    for (std::string tag; std::getline(in, tag);) {
      ++acked;
      if (tags[tag] != 1) problem("acknowledged note %s is in the journal %d times", tag.c_str(), tags[tag]);
    }
  }
  for (const auto& [tag, n] : tags)
    if (n > 1) problem("note %s is in the journal %d times", tag.c_str(), n);
  // The state each case was stored with, read back through an engine on the store.
  Engine engine({.store = store.get()});
  engine.load({argv[2]});
  std::size_t open = 0;
  store->for_each_case(std::nullopt, [&](const StoredCase& sc) {
    ++open;
    const auto& pc = per[sc.id];
    if (pc.rungs != 13) problem("%s: %zu points fired, not 13", sc.id.c_str(), pc.rungs);
    const CaseView v = engine.get(sc.id);
    if (v.data.at("n") != Value(static_cast<std::int64_t>(pc.notes)))
      problem("%s: stored n = %lld, the journal has %zu notes", sc.id.c_str(), static_cast<long long>(v.data.at("n").as_int()),
              pc.notes);
    if (v.level() != pc.level) problem("%s: stored level %d, the journal's highest is %d", sc.id.c_str(), v.level(), pc.level);
    const auto who = v.data.find("who");
    if (who == v.data.end() || !who->second.as_string().starts_with("Person "))
      problem("%s: its personal field did not come back (its key was lost?)", sc.id.c_str());
  });
  if (open != cases) problem("%zu cases stored, not %zu", open, cases);
  // Four engines, SIGKILLs and conflicts: every case's hash chain still holds.
  const ChainReport chain = verify_journal(*store);
  for (const auto& p : chain.problems) problem("chain: %s", p.c_str());
  if (chain.records != records) problem("verify read %zu records, the journal has %zu", chain.records, records);
  std::printf("shared_check: %zu cases, %zu records, %zu acknowledged notes, %zu problems\n", open, records, acked,
              static_cast<std::size_t>(problems));
  return problems == 0 ? 0 : 1;
} catch (const std::exception& e) {
  std::fprintf(stderr, "shared_check: %s\n", e.what());
  return 1;
}
