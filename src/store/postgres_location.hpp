#pragma once
// Where a PostgreSQL store is: its location parsed into libpq's connection string and
// Escalon's own options, and how it is named in messages (postgres_location.cpp).

#include <exception>
#include <string>
#include <string_view>

namespace escalon::pg {

struct Location {
  std::string conninfo;  // what libpq gets: the URI without Escalon's options
  std::string sync;      // "", "on" or "off": synchronous_commit for the session
  std::string schema;
};

/// "postgresql://...?sync=off&schema=NAME&sslmode=...": Escalon's options taken out, libpq's
/// kept. Throws StoreError for an option neither knows.
[[nodiscard]] Location parse_location(std::string_view location);

/// Where a store is, for messages (never the password): host:port/database, as libpq resolves
/// them from the location and the PG* environment.
[[nodiscard]] std::string describe(const std::string& conninfo, const std::string& schema);

/// libpq's messages span lines ("ERROR:  ...\nDETAIL: ..."); a StoreError is one line.
[[nodiscard]] std::string reason(const std::exception& e);

}  // namespace escalon::pg
