// Empty PostgreSQL stores for tests: a schema each, dropped when the run ends (store_locations.hpp).

#include "store_locations.hpp"

#define CATCH_CONFIG_EXTERNAL_INTERFACES  // the listener below
#include <catch2/catch.hpp>
#include <libpq-fe.h>
#include <unistd.h>

#include <cstdlib>
#include <iostream>
#include <mutex>

namespace escalon::test {
namespace {

class Schemas {
 public:
  std::string next() {
    std::lock_guard lk(mutex_);
    names_.push_back("escalon_test_" + std::to_string(::getpid()) + "_" + std::to_string(names_.size() + 1));
    return names_.back();
  }
  // At the end of the run, not in a static destructor: libpq's TLS (libcrypto) is gone by then.
  void drop() {
    std::lock_guard lk(mutex_);
    if (names_.empty()) return;
    const std::string uri = test_pg_uri();
    PGconn* c = PQconnectdb(uri == "postgresql:" || uri == "postgres:" ? "" : uri.c_str());
    if (PQstatus(c) == CONNECTION_OK) {
      PQclear(PQexec(c, "SET client_min_messages TO warning"));  // no NOTICE per dropped table
      for (const auto& n : names_) PQclear(PQexec(c, ("DROP SCHEMA IF EXISTS " + n + " CASCADE").c_str()));
    } else {
      std::cerr << "store_locations: cannot drop test schemas: " << PQerrorMessage(c);
    }
    PQfinish(c);
    names_.clear();
  }

 private:
  std::mutex mutex_;
  std::vector<std::string> names_;
};

Schemas& schemas() {
  static Schemas s;
  return s;
}

}  // namespace

void drop_test_schemas() { schemas().drop(); }

void pg_exec(const std::string& sql) {
  const std::string uri = test_pg_uri();
  PGconn* c = PQconnectdb(uri.c_str());
  PQclear(PQexec(c, "SET client_min_messages TO warning"));
  PGresult* r = PQexec(c, sql.c_str());
  const auto status = PQresultStatus(r);
  const std::string error = PQerrorMessage(c);
  PQclear(r);
  PQfinish(c);
  INFO(sql);
  REQUIRE(error == "");
  REQUIRE((status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK));
}

std::int64_t pg_query_int(const std::string& sql) {
  const std::string uri = test_pg_uri();
  PGconn* c = PQconnectdb(uri.c_str());
  PGresult* r = PQexec(c, sql.c_str());
  const bool ok = PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1;
  const std::string error = PQerrorMessage(c);
  const std::int64_t v = ok ? std::atoll(PQgetvalue(r, 0, 0)) : 0;
  PQclear(r);
  PQfinish(c);
  INFO(sql);
  REQUIRE(error == "");
  REQUIRE(ok);
  return v;
}

std::string test_pg_uri() {
  const char* v = std::getenv("ESCALON_TEST_PG");
  return v ? v : "";
}

std::string fresh_pg_location() {
  const std::string uri = test_pg_uri();
  if (uri.empty()) return uri;
  return uri + (uri.find('?') == std::string::npos ? "?" : "&") + "schema=" + schemas().next();
}

std::vector<std::string> test_store_locations(const std::filesystem::path& tmp) {
  std::vector<std::string> out{"memory:", "sqlite:" + (tmp / "store.db").string()};
  if (auto pg = fresh_pg_location(); !pg.empty()) out.push_back(pg);
  return out;
}

}  // namespace escalon::test

namespace {
struct DropSchemas : Catch::TestEventListenerBase {
  using TestEventListenerBase::TestEventListenerBase;
  void testRunEnded(const Catch::TestRunStats& stats) override {
    escalon::test::drop_test_schemas();
    TestEventListenerBase::testRunEnded(stats);
  }
};
}  // namespace

CATCH_REGISTER_LISTENER(DropSchemas)
