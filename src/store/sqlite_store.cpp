// SQLite store: the embedded default for durable cases. The only code that sees sqlite3.h.
//
// Schema (version 5; PRAGMA user_version, application_id 'ESCL' marks our files):
//   records(seq PRIMARY KEY, case_id, at, type, json, digest, link, prev)
//                                                       the journal, one row per record, each a
//                                                       link of its case's hash chain
//   cases(id PRIMARY KEY, flow, seq, open, state, revision, next_due, secret, head)
//                                                       the latest state of each case, the key
//                                                       of its personal values, its chain's head
//   meta(key PRIMARY KEY, value)                        engine counters
//   flows(id, version, hash, file, source)              every flow version cases may run on
//   start_keys(key PRIMARY KEY, case_id, fingerprint)   idempotency keys of starts
//   outbox(key, channel, case_id, ord, attempts, next_attempt, dead, error, notification)
//                                                       notifications not delivered yet
// A unit of work is one transaction; in WAL mode with synchronous=FULL a commit is on disk
// when it returns. One engine writes a file: it holds an flock on "PATH-lock" while the store
// is open (released by the kernel if the process dies). Readers (`?mode=ro`: escalon inspect,
// report, sqlite3 -readonly) open it beside the writer and read through WAL, each from one
// consistent snapshot: a read transaction taken at open and kept until the store closes.
// Deleted content is overwritten (secure_delete), so what an erasure removes leaves the file;
// scrub() then empties the WAL, the other place old pages live.

#include <fcntl.h>
#include <sqlite3.h>
#include <sys/file.h>
#include <unistd.h>

#include <fmt/format.h>

#include <cerrno>
#include <cstring>
#include <algorithm>
#include <filesystem>
#include <mutex>
#include <optional>
#include <fstream>

#include "escalon/store.hpp"
#include "store/seal.hpp"
#include "store/stores.hpp"

namespace escalon {
namespace {

constexpr int schema_version = 5;
// Read-only readers (reports, inspect) read stores from this version on: what later versions
// added is not needed to read.
constexpr int min_readable_schema = 2;
constexpr int application_id = 0x4553434C;  // "ESCL"

// Each step brings a database from version i to i + 1.
const char* const migrations[] = {
    R"(CREATE TABLE records(seq INTEGER PRIMARY KEY, case_id TEXT NOT NULL, at INTEGER NOT NULL,
                           type TEXT NOT NULL, json TEXT NOT NULL);
       CREATE INDEX records_case ON records(case_id, seq);
       CREATE TABLE cases(id TEXT PRIMARY KEY, flow TEXT NOT NULL, seq INTEGER NOT NULL,
                          open INTEGER NOT NULL, state TEXT NOT NULL);
       CREATE INDEX cases_open ON cases(open);
       CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);)",
    // 2: flow versions; optimistic case revisions; due times for shared stores. The index on
    // `open` never helped (open_cases reads in rowid order), the due-time index replaces it.
    R"(CREATE TABLE flows(id TEXT NOT NULL, version INTEGER NOT NULL, hash TEXT NOT NULL, file TEXT NOT NULL,
                         source TEXT NOT NULL, PRIMARY KEY(id, version));
       ALTER TABLE cases ADD COLUMN revision INTEGER NOT NULL DEFAULT 0;
       ALTER TABLE cases ADD COLUMN next_due INTEGER;
       DROP INDEX cases_open;
       CREATE INDEX cases_due ON cases(next_due) WHERE open = 1 AND next_due IS NOT NULL;)",
    // 3: keyed starts (StartOptions::key), found by key when a start is repeated.
    R"(CREATE TABLE start_keys(key TEXT PRIMARY KEY, case_id TEXT NOT NULL, fingerprint TEXT NOT NULL);)",
    // 4: the outbox of notifications (docs/delivery.md); rows leave once delivered.
    R"(CREATE TABLE outbox(key TEXT NOT NULL, channel TEXT NOT NULL, case_id TEXT NOT NULL, ord INTEGER NOT NULL,
                          attempts INTEGER NOT NULL, next_attempt INTEGER NOT NULL, dead INTEGER NOT NULL,
                          error TEXT NOT NULL, notification TEXT NOT NULL, PRIMARY KEY(key, channel));
       CREATE INDEX outbox_case ON outbox(case_id, ord);)",
    // 5: the journal's hash chain per case; the keys of sealed personal values (docs/security.md).
    R"(ALTER TABLE records ADD COLUMN digest TEXT;
       ALTER TABLE records ADD COLUMN link TEXT;
       ALTER TABLE records ADD COLUMN prev INTEGER;
       ALTER TABLE cases ADD COLUMN secret TEXT;
       ALTER TABLE cases ADD COLUMN head TEXT;)",
};
static_assert(std::size(migrations) == schema_version);

class Statement {
 public:
  Statement(sqlite3* db, const char* sql, const std::string& where) {
    if (sqlite3_prepare_v2(db, sql, -1, &st_, nullptr) != SQLITE_OK)
      throw StoreError(fmt::format("{}: {}", where, sqlite3_errmsg(db)));
  }
  ~Statement() { sqlite3_finalize(st_); }
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;
  sqlite3_stmt* get() const { return st_; }
  void reset() const {
    sqlite3_reset(st_);
    sqlite3_clear_bindings(st_);
  }
  void bind(int i, std::string_view s) const { sqlite3_bind_text(st_, i, s.data(), static_cast<int>(s.size()), SQLITE_TRANSIENT); }
  void bind(int i, std::int64_t v) const { sqlite3_bind_int64(st_, i, v); }

 private:
  sqlite3_stmt* st_ = nullptr;
};

std::string text_of(sqlite3_stmt* st, int col) {
  const auto* p = reinterpret_cast<const char*>(sqlite3_column_text(st, col));
  return p ? std::string(p, static_cast<std::size_t>(sqlite3_column_bytes(st, col))) : std::string();
}

class SqliteStore final : public Store {
 public:
  SqliteStore(const std::string& path, const std::string& sync, bool read_only) : path_(path), read_only_(read_only) {
    // A file that exists but is not SQLite is refused before SQLite touches it.
    std::error_code ec;
    if (std::filesystem::exists(path, ec) && std::filesystem::file_size(path, ec) > 0) {
      std::ifstream in(path, std::ios::binary);
      char head[16] = {};
      in.read(head, 16);
      if (std::string_view(head, 15) != "SQLite format 3")
        throw StoreError(fmt::format("{} is not an SQLite file; give another path for the store (nothing was changed)", path));
    }
    if (read_only && !std::filesystem::exists(path, ec))
      throw StoreError(fmt::format("{} does not exist; a read-only store (?mode=ro) is not created", path));
    if (!read_only) lock_writer();
    const int flags = read_only ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE;
    const int rc = sqlite3_open_v2(path.c_str(), &db_, flags | SQLITE_OPEN_FULLMUTEX, nullptr);
    if (rc != SQLITE_OK) {
      std::string msg = db_ ? sqlite3_errmsg(db_) : sqlite3_errstr(rc);
      sqlite3_close(db_);
      db_ = nullptr;
      unlock_writer();
      throw StoreError(fmt::format("cannot open {}: {}", path, msg));
    }
    try {
      sqlite3_busy_timeout(db_, 2000);
      check_identity();  // read-only: a file we refuse is left exactly as it was
      if (read_only) {
        open_snapshot();
        return;
      }
      exec("PRAGMA journal_mode=WAL", "WAL mode");
      exec(fmt::format("PRAGMA synchronous={}", sync == "normal" ? "NORMAL" : "FULL"), "sync mode");
      exec("PRAGMA secure_delete=ON", "secure delete");
      migrate();
      schema_ = schema_version;
      insert_record_ = std::make_unique<Statement>(
          db_, "INSERT INTO records(seq, case_id, at, type, json, digest, link, prev) VALUES(?,?,?,?,?,?,?,?)", path_);
      upsert_case_ = std::make_unique<Statement>(
          db_,
          "INSERT INTO cases(id, flow, seq, open, state, revision, next_due, secret, head) VALUES(?1,?2,?3,?4,?5,?6,?7,?9,?10) "
          "ON CONFLICT(id) DO UPDATE SET seq=excluded.seq, open=excluded.open, state=excluded.state, "
          "revision=excluded.revision, next_due=excluded.next_due, secret=excluded.secret, "
          "head=coalesce(excluded.head, cases.head) WHERE cases.revision = ?8",
          path_);
      // The case's newest record, not its row: delivery outcomes are journaled without the row.
      chain_tip_ = std::make_unique<Statement>(
          db_, "SELECT coalesce(link, ''), seq FROM records WHERE case_id = ? ORDER BY seq DESC LIMIT 1", path_);
      set_head_ = std::make_unique<Statement>(db_, "UPDATE cases SET head = ? WHERE id = ?", path_);
      insert_flow_ = std::make_unique<Statement>(
          db_, "INSERT INTO flows(id, version, hash, file, source) VALUES(?,?,?,?,?) ON CONFLICT(id, version) DO NOTHING", path_);
      upsert_meta_ = std::make_unique<Statement>(
          db_, "INSERT INTO meta(key, value) VALUES(?,?) ON CONFLICT(key) DO UPDATE SET value=excluded.value", path_);
      insert_start_key_ = std::make_unique<Statement>(
          db_, "INSERT INTO start_keys(key, case_id, fingerprint) VALUES(?,?,?) ON CONFLICT(key) DO NOTHING", path_);
      upsert_outbox_ = std::make_unique<Statement>(
          db_,
          "INSERT OR REPLACE INTO outbox(key, channel, case_id, ord, attempts, next_attempt, dead, error, notification) "
          "VALUES(?,?,?,?,?,?,?,?,?)",
          path_);
      delete_outbox_ = std::make_unique<Statement>(db_, "DELETE FROM outbox WHERE key = ? AND channel = ?", path_);
    } catch (...) {
      reset_statements();
      sqlite3_close(db_);
      unlock_writer();
      throw;
    }
  }

  ~SqliteStore() override {
    reset_statements();
    if (read_only_) sqlite3_exec(db_, "COMMIT", nullptr, nullptr, nullptr);  // ends the snapshot
    sqlite3_close(db_);
    unlock_writer();
  }

  void commit(const StoreBatch& b) override {
    std::lock_guard lk(write_mutex_);
    commit_unit(b);
    if (scrub_pending_) checkpoint();
  }

  void commit_unit(const StoreBatch& b) {
    if (read_only_)
      throw StoreError(fmt::format("{} was opened read-only (?mode=ro); open it without ?mode=ro to write", path_));
    in_transaction("begin", [&] {
      const auto sealed = detail::seal_batch(b, [&](const std::string& id) { return chain_tip(id); });
      write_records(sealed);
      for (const auto& c : b.cases) {
        const Statement& s = *upsert_case_;
        s.reset();
        s.bind(1, c.id);
        s.bind(2, c.flow);
        s.bind(3, static_cast<std::int64_t>(c.seq));
        s.bind(4, std::int64_t{c.open ? 1 : 0});
        s.bind(5, c.state);
        s.bind(6, static_cast<std::int64_t>(c.revision));
        if (c.next_due != TimePoint{}) s.bind(7, c.next_due.time_since_epoch().count());
        s.bind(8, static_cast<std::int64_t>(c.expected));
        if (!c.secret.empty()) s.bind(9, c.secret);
        if (auto h = sealed.heads.find(c.id); h != sealed.heads.end()) s.bind(10, h->second);
        step(s, "write a case");
        // A new case (expected 0) inserts; a known one updates only from the expected revision.
        if (sqlite3_changes(db_) != 1)
          throw ConflictError(fmt::format("{}: case '{}' was changed by another writer (this write expected revision {}); "
                                          "reload the case and apply the call again",
                                          path_, c.id, c.expected));
      }
      set_heads(b, sealed);
      for (const auto& f : b.flows) {
        const Statement& s = *insert_flow_;
        s.reset();
        s.bind(1, f.id);
        s.bind(2, f.version);
        s.bind(3, f.hash);
        s.bind(4, f.file);
        s.bind(5, f.source);
        step(s, "write a flow version");
        if (sqlite3_changes(db_) == 0) {  // already stored: only the same content may be
          Statement q(db_, "SELECT hash FROM flows WHERE id = ? AND version = ?", path_);
          q.bind(1, f.id);
          q.bind(2, f.version);
          if (step_row(q, "read a flow version") && text_of(q.get(), 0) != f.hash)
            throw ConflictError(fmt::format("{}: flow '{}' version {} is already stored with other content", path_, f.id, f.version));
        }
      }
      for (const auto& [k, v] : b.meta) {
        const Statement& s = *upsert_meta_;
        s.reset();
        s.bind(1, k);
        s.bind(2, v);
        step(s, "write meta");
      }
      for (const auto& k : b.start_keys) {
        const Statement& s = *insert_start_key_;
        s.reset();
        s.bind(1, k.key);
        s.bind(2, k.case_id);
        s.bind(3, k.fingerprint);
        step(s, "write a start key");
        if (sqlite3_changes(db_) != 1)  // as the other stores: another start took the key first
          throw ConflictError(fmt::format("{}: start key '{}' was taken by another writer", path_, k.key));
      }
      write_outbox(b);
    });
  }

  // BEGIN IMMEDIATE (`what` names it in an error), `work`, COMMIT; a ROLLBACK when anything throws.
  template <class F>
  void in_transaction(std::string_view what, F&& work) {
    exec("BEGIN IMMEDIATE", what);
    try {
      work();
      exec("COMMIT", "commit");
    } catch (...) {
      sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
      throw;
    }
  }

  std::vector<StoredCase> open_cases() override {
    std::vector<StoredCase> out;
    for_each_case(true, [&](const StoredCase& c) { out.push_back(c); });
    return out;
  }

  // The columns case_row reads (stores older than schema 5, opened read-only, have no key or head).
  std::string case_columns() const {
    return schema_ >= 5 ? "id, flow, seq, open, state, revision, coalesce(next_due, 0), secret, head"
                        : "id, flow, seq, open, state, revision, coalesce(next_due, 0), NULL, NULL";
  }

  std::optional<StoredCase> find_case(std::string_view id) override {
    check_snapshot();
    if (!find_case_)
      find_case_ = std::make_unique<Statement>(db_, fmt::format("SELECT {} FROM cases WHERE id = ?", case_columns()).c_str(), path_);
    const Statement& s = *find_case_;
    s.reset();
    s.bind(1, id);
    std::optional<StoredCase> out;
    if (step_row(s, "read a case")) out = case_row(s);
    s.reset();
    return out;
  }

  void for_each_case(std::optional<bool> open, const std::function<void(const StoredCase&)>& visit) override {
    check_snapshot();
    Statement s(db_,
                fmt::format("SELECT {} FROM cases {} ORDER BY rowid", case_columns(), open ? "WHERE open = ?" : "").c_str(),
                path_);
    if (open) s.bind(1, std::int64_t{*open ? 1 : 0});
    while (step_row(s, "read cases")) visit(case_row(s));
  }

  static StoredCase case_row(const Statement& s) {
    StoredCase c{.id = text_of(s.get(), 0), .flow = text_of(s.get(), 1),
                 .seq = static_cast<std::uint64_t>(sqlite3_column_int64(s.get(), 2)),
                 .open = sqlite3_column_int64(s.get(), 3) != 0, .state = text_of(s.get(), 4)};
    c.revision = c.expected = static_cast<std::uint64_t>(sqlite3_column_int64(s.get(), 5));
    c.next_due = TimePoint{Duration{sqlite3_column_int64(s.get(), 6)}};
    c.secret = text_of(s.get(), 7);
    c.head = text_of(s.get(), 8);
    return c;
  }

  // The key of a case's sealed values; empty for a case without one (or erased).
  std::string secret_of(std::string_view case_id) {
    if (schema_ < 5) return {};
    if (!find_secret_) find_secret_ = std::make_unique<Statement>(db_, "SELECT secret FROM cases WHERE id = ?", path_);
    const Statement& s = *find_secret_;
    s.reset();
    s.bind(1, case_id);
    std::string out = step_row(s, "read a case's key") ? text_of(s.get(), 0) : std::string();
    s.reset();
    return out;
  }

  detail::ChainTip chain_tip(const std::string& case_id) {
    const Statement& s = *chain_tip_;
    s.reset();
    s.bind(1, case_id);
    detail::ChainTip t;
    if (step_row(s, "read a case's chain")) t = {text_of(s.get(), 0), static_cast<std::uint64_t>(sqlite3_column_int64(s.get(), 1))};
    s.reset();
    return t;
  }

  void for_each_stored_record(const std::function<void(const StoredRecord&)>& visit) override {
    check_snapshot();
    Statement s(db_,
                schema_ >= 5 ? "SELECT seq, case_id, at, type, json, digest, link, coalesce(prev, 0) FROM records ORDER BY case_id, seq"
                             : "SELECT seq, case_id, at, type, json, NULL, NULL, 0 FROM records ORDER BY case_id, seq",
                path_);
    while (step_row(s, "read the journal")) {
      StoredRecord r{.seq = static_cast<std::uint64_t>(sqlite3_column_int64(s.get(), 0)), .case_id = text_of(s.get(), 1),
                     .at = TimePoint{Duration{sqlite3_column_int64(s.get(), 2)}}, .type = text_of(s.get(), 3),
                     .json = text_of(s.get(), 4), .digest = text_of(s.get(), 5), .link = text_of(s.get(), 6),
                     .prev = static_cast<std::uint64_t>(sqlite3_column_int64(s.get(), 7))};
      visit(r);
    }
  }

  void scrub() override {
    if (read_only_) return;
    std::lock_guard lk(write_mutex_);
    checkpoint();
  }

  void erase_unchained(std::string_view case_id) override {
    if (read_only_) return;
    std::lock_guard lk(write_mutex_);
    std::vector<std::pair<std::int64_t, std::string>> rows;
    {
      Statement s(db_, "SELECT seq, json FROM records WHERE case_id = ? AND digest IS NULL AND json LIKE '%\"personal\":%'", path_);
      s.bind(1, case_id);
      while (step_row(s, "read the journal")) rows.emplace_back(sqlite3_column_int64(s.get(), 0), text_of(s.get(), 1));
    }
    if (rows.empty()) return;
    in_transaction("begin", [&] {
      Statement s(db_, "UPDATE records SET json = ? WHERE seq = ?", path_);
      for (const auto& [seq, json] : rows) {
        s.reset();
        s.bind(1, detail::erased_record_json(json));
        s.bind(2, seq);
        step(s, "erase an older record's personal values");
      }
    });
    checkpoint();
  }

  // Old page images stay in the WAL until it is reused; TRUNCATE checkpoints and empties it. A
  // reader holding an old snapshot keeps it from emptying: then it is tried after each commit.
  void checkpoint() {
    int log = 0, done = 0;
    const int rc = sqlite3_wal_checkpoint_v2(db_, nullptr, SQLITE_CHECKPOINT_TRUNCATE, &log, &done);
    scrub_pending_ = rc != SQLITE_OK || log > 0;
  }

  std::vector<StoredFlow> flows() override {
    check_snapshot();
    std::vector<StoredFlow> out;
    Statement s(db_, "SELECT id, version, hash, file, source FROM flows ORDER BY id, version", path_);
    while (step_row(s, "read flow versions"))
      out.push_back({text_of(s.get(), 0), sqlite3_column_int64(s.get(), 1), text_of(s.get(), 2), text_of(s.get(), 3), text_of(s.get(), 4)});
    return out;
  }

  std::vector<std::string> due_cases(TimePoint upto, std::size_t limit) override {
    check_snapshot();
    std::vector<std::string> out;
    Statement s(db_, "SELECT id FROM cases WHERE open = 1 AND next_due IS NOT NULL AND next_due <= ? ORDER BY next_due, rowid LIMIT ?", path_);
    s.bind(1, upto.time_since_epoch().count());
    s.bind(2, limit ? static_cast<std::int64_t>(limit) : std::int64_t{-1});
    while (step_row(s, "read due cases")) out.push_back(text_of(s.get(), 0));
    return out;
  }

  std::vector<Record> history(std::string_view case_id) override {
    check_snapshot();
    std::vector<Record> out;
    Statement s(db_, "SELECT json FROM records WHERE case_id = ? ORDER BY seq", path_);
    s.bind(1, case_id);
    std::optional<std::string> secret;
    while (step_row(s, "read the journal")) {
      try {
        out.push_back(Record::from_json(text_of(s.get(), 0)));
        if (!out.back().personal.empty()) {
          if (!secret) secret = secret_of(case_id);
          detail::open_record(out.back(), *secret);
        }
      } catch (const Error& e) {
        throw StoreError(fmt::format("{}: a journal record of case '{}' is damaged: {}", path_, case_id, e.message()));
      }
    }
    return out;
  }

  std::uint64_t last_seq() override {
    check_snapshot();
    Statement s(db_, "SELECT coalesce(max(seq), 0) FROM records", path_);
    step_row(s, "read the journal");
    return static_cast<std::uint64_t>(sqlite3_column_int64(s.get(), 0));
  }

  TimePoint last_time() override {
    check_snapshot();
    Statement s(db_, "SELECT at FROM records ORDER BY seq DESC LIMIT 1", path_);
    if (!step_row(s, "read the journal")) return TimePoint{};
    return TimePoint{Duration{sqlite3_column_int64(s.get(), 0)}};
  }

  void for_each_record(const std::function<void(const Record&)>& visit) override {
    check_snapshot();
    Statement s(db_, "SELECT json FROM records ORDER BY seq", path_);
    std::map<std::string, std::string, std::less<>> secrets;  // of the cases with personal records
    while (step_row(s, "read the journal")) {
      try {
        Record r = Record::from_json(text_of(s.get(), 0));
        if (!r.personal.empty()) {
          auto it = secrets.find(r.case_id);
          if (it == secrets.end()) {
            if (secrets.size() > 10000) secrets.clear();
            it = secrets.emplace(r.case_id, secret_of(r.case_id)).first;
          }
          detail::open_record(r, it->second);
        }
        visit(r);
      } catch (const StoreError&) {
        throw;
      } catch (const Error& e) {
        throw StoreError(fmt::format("{}: a journal record is damaged: {}", path_, e.message()));
      }
    }
  }

  std::optional<StartKey> find_start_key(std::string_view key) override {
    check_snapshot();
    if (read_only_ && pragma_int("PRAGMA user_version") < 3) return std::nullopt;  // no keyed start yet
    Statement s(db_, "SELECT case_id, fingerprint FROM start_keys WHERE key = ?", path_);
    s.bind(1, key);
    if (!step_row(s, "read a start key")) return std::nullopt;
    return StartKey{std::string(key), text_of(s.get(), 0), text_of(s.get(), 1)};
  }

  void for_each_start_key(const std::function<void(const StartKey&)>& visit) override {
    check_snapshot();
    if (read_only_ && pragma_int("PRAGMA user_version") < 3) return;  // no keyed start yet
    Statement s(db_, "SELECT key, case_id, fingerprint FROM start_keys ORDER BY key", path_);
    while (step_row(s, "read start keys")) visit({text_of(s.get(), 0), text_of(s.get(), 1), text_of(s.get(), 2)});
  }

  void for_each_outbox(const std::function<void(const OutboxEntry&)>& visit) override {
    check_snapshot();
    if (read_only_ && pragma_int("PRAGMA user_version") < 4) return;  // no outbox yet
    Statement s(db_,
                "SELECT key, channel, case_id, ord, attempts, next_attempt, dead, error, notification FROM outbox "
                "ORDER BY case_id, ord, channel",
                path_);
    while (step_row(s, "read the outbox")) {
      OutboxEntry e{.key = text_of(s.get(), 0), .channel = text_of(s.get(), 1), .case_id = text_of(s.get(), 2)};
      e.order = static_cast<std::uint64_t>(sqlite3_column_int64(s.get(), 3));
      e.attempts = sqlite3_column_int(s.get(), 4);
      e.next_attempt = TimePoint{Duration{sqlite3_column_int64(s.get(), 5)}};
      e.dead = sqlite3_column_int(s.get(), 6) != 0;
      e.error = text_of(s.get(), 7);
      e.notification = text_of(s.get(), 8);
      visit(e);
    }
  }

  std::map<std::string, std::string> meta() override {
    check_snapshot();
    std::map<std::string, std::string> out;
    Statement s(db_, "SELECT key, value FROM meta", path_);
    while (step_row(s, "read meta")) out[text_of(s.get(), 0)] = text_of(s.get(), 1);
    return out;
  }

 private:
  std::string path_;
  bool read_only_ = false;
  int lock_fd_ = -1;
  sqlite3* db_ = nullptr;
  std::unique_ptr<Statement> insert_record_, upsert_case_, upsert_meta_, insert_flow_, find_case_, insert_start_key_;
  std::unique_ptr<Statement> upsert_outbox_, delete_outbox_, chain_tip_, set_head_, find_secret_;
  int schema_ = 0;
  // Writes come from the engine's committing thread, and scrub/erase_unchained from a caller's.
  std::mutex write_mutex_;
  bool scrub_pending_ = false;

  void reset_statements() {
    find_case_.reset();
    chain_tip_.reset();
    set_head_.reset();
    find_secret_.reset();
    insert_record_.reset();
    upsert_case_.reset();
    upsert_meta_.reset();
    insert_flow_.reset();
    insert_start_key_.reset();
    upsert_outbox_.reset();
    delete_outbox_.reset();
  }

  void write_records(const detail::SealedBatch& sealed) {
    for (const auto& r : sealed.records) {
      const Statement& s = *insert_record_;
      s.reset();
      s.bind(1, static_cast<std::int64_t>(r.seq));
      s.bind(2, r.case_id);
      s.bind(3, r.at.time_since_epoch().count());
      s.bind(4, r.type);
      s.bind(5, r.json);
      s.bind(6, r.digest);
      s.bind(7, r.link);
      s.bind(8, static_cast<std::int64_t>(r.prev));
      step(s, "write a record");
    }
  }

  // Heads of cases whose records this unit wrote without their row (delivery outcomes).
  void set_heads(const StoreBatch& b, const detail::SealedBatch& sealed) {
    for (const auto& entry : sealed.heads) {  // (clang 14 does not capture structured bindings)
      const std::string& id = entry.first;
      if (std::any_of(b.cases.begin(), b.cases.end(), [&](const StoredCase& c) { return c.id == id; })) continue;
      const Statement& s = *set_head_;
      s.reset();
      s.bind(1, entry.second);
      s.bind(2, id);
      step(s, "write a case's chain head");
    }
  }

  void write_outbox(const StoreBatch& b) {
    for (const auto& e : b.outbox) {
      const Statement& s = *upsert_outbox_;
      s.reset();
      s.bind(1, e.key);
      s.bind(2, e.channel);
      s.bind(3, e.case_id);
      s.bind(4, static_cast<std::int64_t>(e.order));
      s.bind(5, std::int64_t{e.attempts});
      s.bind(6, e.next_attempt.time_since_epoch().count());
      s.bind(7, std::int64_t{e.dead ? 1 : 0});
      s.bind(8, e.error);
      s.bind(9, e.notification);
      step(s, "write an outbox entry");
    }
    for (const auto& d : b.delivered) {
      const Statement& s = *delete_outbox_;
      s.reset();
      s.bind(1, d.key);
      s.bind(2, d.channel);
      step(s, "remove a delivered outbox entry");
    }
  }

  [[noreturn]] void fail(int rc, std::string_view what) const {
    std::string why = sqlite3_errmsg(db_);
    switch (rc & 0xff) {
      case SQLITE_FULL: why = "the disk is full"; break;
      case SQLITE_READONLY: why = "the file or its folder is read-only"; break;
      case SQLITE_BUSY:
      case SQLITE_LOCKED: why = "it is locked by another writer (one engine writes a store file)"; break;
      case SQLITE_CORRUPT: why = "the database file is corrupt"; break;
      case SQLITE_NOTADB: why = "it is not an SQLite database"; break;
      default: break;
    }
    throw StoreError(fmt::format("{}: cannot {}: {}", path_, what, why));
  }

  void exec(const std::string& sql, std::string_view what) const {
    const int rc = sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, nullptr);
    if (rc != SQLITE_OK) fail(rc, what);
  }

  void step(const Statement& s, std::string_view what) const {
    const int rc = sqlite3_step(s.get());
    if (rc != SQLITE_DONE) fail(rc, what);
  }

  bool step_row(const Statement& s, std::string_view what) const {
    const int rc = sqlite3_step(s.get());
    if (rc == SQLITE_ROW) return true;
    if (rc != SQLITE_DONE) fail(rc, what);
    return false;
  }

  int pragma_int(const char* sql) const {
    Statement s(db_, sql, path_);
    step_row(s, "read the schema");
    return sqlite3_column_int(s.get(), 0);
  }

  // One writer per file, also across processes: an flock on PATH-lock, held while the store is
  // open. (Not on the database file itself: closing any descriptor of that file would drop
  // the process's SQLite locks on it.)
  void lock_writer() {
    const std::string lock = path_ + "-lock";
    lock_fd_ = ::open(lock.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (lock_fd_ < 0)
      throw StoreError(fmt::format("{}: cannot create the writer's lock file {}: {}", path_, lock, std::strerror(errno)));
    if (::flock(lock_fd_, LOCK_EX | LOCK_NB) != 0) {
      const int err = errno;
      unlock_writer();
      if (err == EWOULDBLOCK)
        throw StoreError(fmt::format("{}: cannot lock the store: it is locked by another writer (one engine writes a store "
                                     "file; read-only tools open it with sqlite:{}?mode=ro)",
                                     path_, path_));
      throw StoreError(fmt::format("{}: cannot lock {}: {}", path_, lock, std::strerror(err)));
    }
  }

  void unlock_writer() {
    if (lock_fd_ >= 0) ::close(lock_fd_);  // closing drops the flock
    lock_fd_ = -1;
  }

  // SQLite may end a read transaction by itself (on an I/O error, say); reads after that would
  // each see another moment, so they are refused instead.
  void check_snapshot() const {
    if (read_only_ && sqlite3_get_autocommit(db_))
      throw StoreError(fmt::format("{}: the read-only snapshot ended (an I/O error?); open the store again", path_));
  }

  // A read-only store reads one moment: a read transaction, begun now and held until it closes,
  // so a report's queries all see the same journal while the writer goes on.
  void open_snapshot() {
    const int version = pragma_int("PRAGMA user_version");
    if (version < min_readable_schema)
      throw StoreError(fmt::format("{} has schema {}, older than this Escalon's {}; open it once without ?mode=ro (an "
                                   "engine, or escalon inspect --db 'sqlite:{}?mode=rw', upgrades it) to read it",
                                   path_, version, schema_version, path_));
    schema_ = version;
    exec("BEGIN", "begin a snapshot");
    (void)pragma_int("SELECT count(*) FROM meta");  // the first read fixes the snapshot
  }

  void check_identity() const {
    const int app = pragma_int("PRAGMA application_id");
    const int version = pragma_int("PRAGMA user_version");
    const int tables = pragma_int("SELECT count(*) FROM sqlite_master");
    if (app != application_id && (app != 0 || tables > 0))
      throw StoreError(fmt::format("{} is an SQLite database of another program, not an Escalon store (nothing was changed)", path_));
    if (version > schema_version)
      throw StoreError(fmt::format("{} was written by a newer Escalon (schema {}, this one knows up to {}); upgrade Escalon "
                                   "(nothing was changed)",
                                   path_, version, schema_version));
  }

  void migrate() {
    in_transaction("lock the store", [&] {  // fails at once when another engine holds the file
      check_identity();  // again, under the lock
      const int version = pragma_int("PRAGMA user_version");
      for (int v = version; v < schema_version; ++v) exec(migrations[v], fmt::format("migrate the schema to version {}", v + 1));
      // Only what differs is written: a store whose open is refused later (a damaged case) must
      // keep every byte, file change counter included (backups and checksums see a new file).
      if (pragma_int("PRAGMA application_id") != application_id)
        exec(fmt::format("PRAGMA application_id={}", application_id), "mark the store");
      if (version != schema_version) exec(fmt::format("PRAGMA user_version={}", schema_version), "mark the schema version");
    });
  }
};

}  // namespace

std::unique_ptr<Store> open_sqlite_store(const std::string& path, const std::string& sync, bool read_only) {
  return std::make_unique<SqliteStore>(path, sync, read_only);
}

}  // namespace escalon
