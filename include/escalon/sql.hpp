#pragma once
/// @file sql.hpp
/// The built-in `sql` action: a flow step looks up or writes data in a database the host
/// configured, without host code per query (docs/sql.md).
///
/// @code
///   auto dbs = std::make_shared<escalon::SqlConnections>();
///   dbs->add_sqlite("crm", "/srv/crm.db");                               // read-only
///   dbs->add_postgres("tickets", "postgresql://app@db/tickets", escalon::SqlAccess::read_write);
///   engine.on_action("sql", escalon::sql_action(dbs));
/// @endcode
///
/// A step then runs one statement with bound parameters; the first row's columns become data
/// fields of the same names:
/// @code{.yaml}
///   lookup-contract:
///     call: sql
///     with:
///       connection: "'crm'"
///       query: "'SELECT contract, warranty_until FROM contracts WHERE customer = ?1'"
///       params: "[customer]"
///     next: check
/// @endcode
///
/// Connections are the host's: a flow names one, it never carries a path, URL or password.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "escalon/engine.hpp"
#include "escalon/error.hpp"

namespace escalon {

/// What a flow may do on a connection. read_only refuses every statement that writes, in the
/// database itself (a read-only SQLite handle, a PostgreSQL READ ONLY transaction), not by
/// reading the SQL text.
enum class SqlAccess : std::uint8_t { read_only, read_write };

/// A statement failed: unknown connection, a refused or failing statement, a value that cannot
/// be bound or read. The message names the connection and carries the database's own error.
class SqlError : public Error {
 public:
  using Error::Error;
};

/// The databases flows may use, by name. Thread-safe: handlers run on several threads at once;
/// each connection runs one statement at a time.
class SqlConnections {
 public:
  SqlConnections();
  ~SqlConnections();
  SqlConnections(const SqlConnections&) = delete;
  SqlConnections& operator=(const SqlConnections&) = delete;

  /// An SQLite file, opened now (a missing or unreadable file throws SqlError here, at the
  /// host's start, not at a case's first lookup). A read_only file is never created.
  void add_sqlite(std::string name, const std::string& path, SqlAccess access = SqlAccess::read_only);
  /// A PostgreSQL database (a libpq URI or key=value string). Connected at first use and again
  /// after the connection broke, so a database that is down fails attempts (which the step
  /// retries), not the host.
  void add_postgres(std::string name, std::string url, SqlAccess access = SqlAccess::read_only);

  /// The configured names, sorted.
  [[nodiscard]] std::vector<std::string> names() const;

  /// One result row: column name and value, in column order.
  using Row = std::vector<std::pair<std::string, Value>>;
  struct Result {
    std::vector<std::string> columns;  ///< the statement's columns (also when no row came back)
    std::vector<Row> rows;             ///< at most `max_rows` rows
  };
  /// Runs one statement on connection `name` with `params` bound to ?1.. / $1.. in order.
  /// Throws SqlError.
  [[nodiscard]] Result run(std::string_view name, std::string_view query, const List& params,
                           std::size_t max_rows = 1) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

/// The handler of `call: sql` (register it under any name; "sql" is the documented one).
/// Inputs: `connection` (text), `query` (text, one statement), `params` (a list, optional).
/// Results: the first row's columns by name; with no row, every column's field is set to null.
[[nodiscard]] ActionHandler sql_action(std::shared_ptr<SqlConnections> connections);

}  // namespace escalon
