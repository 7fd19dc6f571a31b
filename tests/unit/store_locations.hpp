#pragma once
// Where the store contract runs (test_store_contract.cpp), for any test that wants every store:
// memory, SQLite in a temporary folder, and PostgreSQL when ESCALON_TEST_PG holds a libpq URI
// (tests/postgres/run.sh sets it inside pg_virtualenv; a developer may point it at any database
// they may create schemas in).
//
// Each PostgreSQL location is an empty store of its own: ESCALON_TEST_PG with ?schema=NAME, a
// schema new to this test (the store creates it on open). The schemas this process made are
// dropped when the Catch2 run ends, so a developer database is left as it was (a killed run leaves
// schemas named escalon_test_PID_N behind).

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace escalon::test {

/// ESCALON_TEST_PG, or empty when PostgreSQL tests are off.
[[nodiscard]] std::string test_pg_uri();

/// A location of an empty PostgreSQL store (a fresh schema in ESCALON_TEST_PG's database);
/// empty when ESCALON_TEST_PG is not set.
[[nodiscard]] std::string fresh_pg_location();

/// "memory:", "sqlite:TMP/store.db" and, with ESCALON_TEST_PG, fresh_pg_location(): every
/// store kind, each empty.
[[nodiscard]] std::vector<std::string> test_store_locations(const std::filesystem::path& tmp);

/// Runs SQL on ESCALON_TEST_PG's database (its own connection); fails the test on an error.
void pg_exec(const std::string& sql);

/// The one value (an integer) of a query on ESCALON_TEST_PG's database; fails the test otherwise.
[[nodiscard]] std::int64_t pg_query_int(const std::string& sql);

/// Drops the schemas fresh_pg_location made (a Catch2 listener calls it when the run ends).
void drop_test_schemas();

}  // namespace escalon::test
