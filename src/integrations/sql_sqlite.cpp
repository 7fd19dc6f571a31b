// The `sql` action on an SQLite file. The only file of the integrations that sees sqlite3.h.
//
// Read-only is enforced twice: the handle is opened SQLITE_OPEN_READONLY (the database refuses
// writes), and a statement that would write is refused before it runs (sqlite3_stmt_readonly), so
// the message says why instead of SQLite's "attempt to write a readonly database".

#include <sqlite3.h>

#include <fmt/format.h>

#include <mutex>

#include "integrations/sql_connection.hpp"

namespace escalon::sql {
namespace {

struct CloseDb {
  void operator()(sqlite3* db) const noexcept { sqlite3_close_v2(db); }
};
struct FinalizeStmt {
  void operator()(sqlite3_stmt* st) const noexcept { sqlite3_finalize(st); }
};
using Db = std::unique_ptr<sqlite3, CloseDb>;
using Stmt = std::unique_ptr<sqlite3_stmt, FinalizeStmt>;

class SqliteConnection final : public Connection {
 public:
  SqliteConnection(std::string name, const std::string& path, SqlAccess access) : name_(std::move(name)), access_(access) {
    // No SQLITE_OPEN_CREATE, also for read_write: a mistyped path must not become an empty database.
    const int flags = (access == SqlAccess::read_only ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE) | SQLITE_OPEN_FULLMUTEX;
    sqlite3* raw = nullptr;
    const int rc = sqlite3_open_v2(path.c_str(), &raw, flags, nullptr);
    db_.reset(raw);  // owned also when the open failed: the handle holds the message
    if (rc != SQLITE_OK)
      throw error(name_, fmt::format("cannot open {}: {}", path, raw ? sqlite3_errmsg(raw) : sqlite3_errstr(rc)));
    // Another process writing the file holds its lock briefly; wait for it rather than fail
    // (also for the first read below).
    sqlite3_busy_timeout(db_.get(), 5000);
    // SQLite opens lazily: reading the schema now refuses a file that is not a database at the
    // host's start instead of at a case's first lookup.
    if (sqlite3_exec(db_.get(), "SELECT count(*) FROM sqlite_master", nullptr, nullptr, nullptr) != SQLITE_OK)
      throw error(name_, fmt::format("cannot read {}: {}", path, sqlite3_errmsg(db_.get())));
    // A flow may not ATTACH other files: it would reach databases the host never configured.
    sqlite3_limit(db_.get(), SQLITE_LIMIT_ATTACHED, 0);
    sqlite3_set_authorizer(db_.get(), &authorize, nullptr);
  }

  SqlConnections::Result run(std::string_view query, const List& params, std::size_t max_rows) override {
    std::lock_guard lk(m_);  // sqlite3_errmsg belongs to the handle: one statement at a time
    Stmt st = prepare(query);
    bind(st.get(), params);
    SqlConnections::Result out;
    const int n = sqlite3_column_count(st.get());
    for (int i = 0; i < n; ++i) out.columns.emplace_back(sqlite3_column_name(st.get(), i));
    check_columns(name_, out.columns);
    // A statement that writes runs to its end (all its rows), so a write is complete even when
    // RETURNING gives more rows than are read; a read stops at max_rows.
    const bool writes = !sqlite3_stmt_readonly(st.get());
    for (;;) {
      const int rc = sqlite3_step(st.get());
      if (rc == SQLITE_DONE) break;
      if (rc != SQLITE_ROW) throw error(name_, sqlite3_errmsg(db_.get()));
      if (out.rows.size() < max_rows)
        out.rows.push_back(row(st.get(), out.columns));
      else if (!writes)
        break;
    }
    return out;
  }

 private:
  // Each statement commits on its own. BEGIN or SAVEPOINT would leave the shared handle inside
  // a transaction (holding a snapshot, or the file's write lock, for every later case);
  // sqlite3_stmt_readonly() lets them through, so they are refused here, with ATTACH and PRAGMA
  // (which could change how the connection reads or writes).
  static int authorize(void* /*unused*/, int action, const char* /*a*/, const char* /*b*/, const char* /*db*/,
                       const char* /*trigger*/) {
    switch (action) {
      case SQLITE_TRANSACTION:
      case SQLITE_SAVEPOINT:
      case SQLITE_ATTACH:
      case SQLITE_DETACH:
      case SQLITE_PRAGMA: return SQLITE_DENY;
      default: return SQLITE_OK;
    }
  }

  Stmt prepare(std::string_view query) const {
    sqlite3_stmt* raw = nullptr;
    const char* tail = nullptr;
    if (sqlite3_prepare_v2(db_.get(), query.data(), static_cast<int>(query.size()), &raw, &tail) != SQLITE_OK) {
      if (sqlite3_errcode(db_.get()) == SQLITE_AUTH)
        throw error(name_, "transactions, savepoints, ATTACH and PRAGMA are not allowed: each statement of the sql "
                           "action commits on its own");
      throw error(name_, sqlite3_errmsg(db_.get()));
    }
    Stmt st(raw);
    if (!st) throw error(name_, "the query is empty");
    // The rest must hold no statement (whitespace, comments and `;` are fine). Prepared, not
    // scanned: SQLite alone knows where its statements end.
    const std::string_view rest(tail, static_cast<std::size_t>(query.data() + query.size() - tail));
    sqlite3_stmt* next = nullptr;
    const int rc = sqlite3_prepare_v2(db_.get(), rest.data(), static_cast<int>(rest.size()), &next, nullptr);
    const Stmt second(next);
    if (rc != SQLITE_OK || second)
      throw error(name_, "the query holds more than one statement; the sql action runs exactly one");
    if (access_ == SqlAccess::read_only && !sqlite3_stmt_readonly(st.get()))
      throw error(name_, "the connection is read-only and the statement writes; the host configures a connection "
                         "for writes with SqlAccess::read_write");
    return st;
  }

  void bind(sqlite3_stmt* st, const List& params) const {
    const auto wanted = static_cast<std::size_t>(sqlite3_bind_parameter_count(st));
    if (params.size() != wanted)
      throw error(name_, fmt::format("the query takes {} parameter{} and params has {}", wanted, wanted == 1 ? "" : "s",
                                     params.size()));
    for (std::size_t i = 0; i < params.size(); ++i) {
      const Value& v = params[i];
      const int at = static_cast<int>(i + 1);
      int rc = SQLITE_OK;
      // Typed where SQLite has the type, so `WHERE id = ?1` compares integers with integers.
      if (v.kind() == Value::Kind::integer)
        rc = sqlite3_bind_int64(st, at, v.as_int());
      else if (v.kind() == Value::Kind::number)
        rc = sqlite3_bind_double(st, at, v.as_number());
      else if (v.kind() == Value::Kind::boolean)
        rc = sqlite3_bind_int(st, at, v.as_bool() ? 1 : 0);
      else if (const auto text = param_text(name_, i + 1, v))
        rc = sqlite3_bind_text64(st, at, text->data(), text->size(), SQLITE_TRANSIENT, SQLITE_UTF8);
      else
        rc = sqlite3_bind_null(st, at);
      if (rc != SQLITE_OK) throw error(name_, fmt::format("parameter {}: {}", i + 1, sqlite3_errmsg(db_.get())));
    }
  }

  // SQLite's types are the row's own (a column may hold several): each value as it is stored.
  SqlConnections::Row row(sqlite3_stmt* st, const std::vector<std::string>& columns) const {
    SqlConnections::Row r;
    for (int i = 0; i < static_cast<int>(columns.size()); ++i) {
      const std::string& name = columns[static_cast<std::size_t>(i)];
      switch (sqlite3_column_type(st, i)) {
        case SQLITE_INTEGER: r.emplace_back(name, std::int64_t{sqlite3_column_int64(st, i)}); break;
        case SQLITE_FLOAT: r.emplace_back(name, sqlite3_column_double(st, i)); break;
        case SQLITE_NULL: r.emplace_back(name, Value()); break;
        case SQLITE_TEXT: {
          const auto* p = reinterpret_cast<const char*>(sqlite3_column_text(st, i));
          r.emplace_back(name, std::string(p, static_cast<std::size_t>(sqlite3_column_bytes(st, i))));
          break;
        }
        default:
          throw error(name_, fmt::format("column '{}' holds a blob, which case data cannot hold", name));
      }
    }
    return r;
  }

  std::string name_;
  SqlAccess access_;
  Db db_;
  std::mutex m_;
};

}  // namespace

std::unique_ptr<Connection> open_sqlite(const std::string& name, const std::string& path, SqlAccess access) {
  return std::make_unique<SqliteConnection>(name, path, access);
}

}  // namespace escalon::sql
