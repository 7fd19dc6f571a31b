#pragma once
// One database behind SqlConnections (sql.cpp), each kind in its own file so that only that file
// sees its database library's headers: sql_sqlite.cpp (sqlite3.h), sql_postgres.cpp (libpqxx).

#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "escalon/sql.hpp"

namespace escalon::sql {

class Connection {
 public:
  virtual ~Connection() = default;
  /// Runs one statement with `params` bound in order; at most `max_rows` rows come back. Throws
  /// SqlError naming the connection. Implementations serialize their own calls.
  virtual SqlConnections::Result run(std::string_view query, const List& params, std::size_t max_rows) = 0;
};

[[nodiscard]] std::unique_ptr<Connection> open_sqlite(const std::string& name, const std::string& path, SqlAccess access);
[[nodiscard]] std::unique_ptr<Connection> open_postgres(const std::string& name, std::string url, SqlAccess access);

/// A parameter as the text a database parses (PostgreSQL infers each parameter's type from the
/// statement, so text fits every column type); nullopt for null. Throws SqlError for values SQL
/// has no one form for (durations, lists, maps).
[[nodiscard]] std::optional<std::string> param_text(const std::string& connection, std::size_t index, const Value& v);

/// "connection 'crm': <what>": every error names the connection, since a flow may use several.
[[nodiscard]] SqlError error(const std::string& connection, std::string_view what);

/// Refuses a result with two columns of one name: they would set the same data field.
void check_columns(const std::string& connection, const std::vector<std::string>& columns);

}  // namespace escalon::sql
