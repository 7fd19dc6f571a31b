// The `sql` action (docs/sql.md): flows/warranty-check.yaml end to end on a temporary SQLite CRM,
// parameters that stay data, typed results and the engine's type checks, read-only connections,
// refused statements; the same on PostgreSQL when ESCALON_TEST_PG is set.

#include <sqlite3.h>
#include <unistd.h>

#include <fmt/format.h>

#include <filesystem>

#include "escalon/engine.hpp"
#include "escalon/sql.hpp"
#include "store_locations.hpp"
#include "support.hpp"

using namespace escalon;
using namespace std::chrono_literals;

namespace {

namespace fs = std::filesystem;

const std::string injection = "'; DROP TABLE contracts; --";
const std::string quoted = "O'Brien \"Bob\" Ltd";

// A CRM database in a temporary file, removed again at the end of the test.
struct Crm {
  fs::path path;
  explicit Crm(const std::string& tag = "crm")
      : path(fs::temp_directory_path() / fmt::format("escalon-sql-{}-{}.db", tag, ::getpid())) {
    fs::remove(path);
    exec(R"(CREATE TABLE contracts(customer TEXT NOT NULL, contract TEXT NOT NULL, plan TEXT, warranty_until TEXT,
                                   seats INTEGER, fee REAL);
            CREATE TABLE notes(customer TEXT, text TEXT);)");
    const auto add = [&](const std::string& customer, const char* contract, const char* plan, const char* until) {
      exec(fmt::format("INSERT INTO contracts VALUES ('{}', '{}', '{}', '{}', 3, 9.5)", escape(customer), contract, plan, until));
    };
    add("ACME", "C-100", "basic", "2027-05-31");       // in warranty on 2026-11-23
    add("Old Ltd", "C-010", "basic", "2023-01-31");    // two contracts, both expired: the newest wins
    add("Old Ltd", "C-050", "basic", "2025-01-31");
    add("Gold", "C-900", "premium", "2024-12-31");     // expired, but premium
    add(quoted, "C-200", "basic", "2027-02-28");
    add(injection, "C-666", "basic", "2020-01-01");
  }
  ~Crm() { fs::remove(path); }
  Crm(const Crm&) = delete;
  Crm& operator=(const Crm&) = delete;

  static std::string escape(const std::string& s) {
    std::string out;
    for (char c : s) out += c == '\'' ? std::string("''") : std::string(1, c);
    return out;
  }
  // Setup and checks go around the code under test, straight to SQLite.
  void exec(const std::string& sql) const {
    sqlite3* db = nullptr;
    REQUIRE(sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, nullptr) == SQLITE_OK);
    char* err = nullptr;
    const int rc = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &err);
    const std::string msg = err ? err : "";
    sqlite3_free(err);
    sqlite3_close(db);
    INFO(msg);
    REQUIRE(rc == SQLITE_OK);
  }
  [[nodiscard]] std::int64_t count(const std::string& sql) const {
    sqlite3* db = nullptr;
    REQUIRE(sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK);
    sqlite3_stmt* st = nullptr;
    std::int64_t n = -1;
    if (sqlite3_prepare_v2(db, sql.c_str(), -1, &st, nullptr) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
      n = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(db);
    return n;
  }
};

// One action step whose connection, query and parameters come from the case data, so each test
// case of the action is a start; one attempt, so a failure is an incident at once.
const char* probe_flow = R"(flow: probe
start: run
data:
  conn:     { type: string, required: true }
  query:    { type: string, required: true }
  customer: string
  contract: string
  seats:    int
  fee:      number
  plan:     { type: enum, values: [basic, premium] }
  warranty_until: date
steps:
  run:
    call: sql
    with: { connection: conn, query: query, params: "[customer]" }
    retry: { attempts: 1 }
    next: done
  done: { end: true }
)";

// A data field of a case; null when not set (case data leaves null fields out).
const Value& field(const CaseView& c, const std::string& name) {
  static const Value null;
  const auto it = c.data.find(name);
  return it == c.data.end() ? null : it->second;
}

struct Host {
  ManualClock clock{"2026-11-23T08:00:00Z"};  // Monday 09:00 in Zagreb
  std::shared_ptr<SqlConnections> dbs = std::make_shared<SqlConnections>();
  Engine engine{{.clock = &clock}};
  Host() { engine.on_action("sql", sql_action(dbs)); }
  CaseView probe(const std::string& conn, const std::string& query, Value customer = "ACME", Map data = {}) {
    static const auto flows = test::compile(probe_flow, "probe.yaml");
    if (engine.flows().empty()) engine.add_flows(flows);
    data["conn"] = conn;
    data["query"] = query;
    data["customer"] = std::move(customer);
    return engine.get(engine.start("probe", std::move(data)));
  }
};

}  // namespace

TEST_CASE("warranty-check looks the contract up in the CRM and branches on it", "[sql][flows]") {
  Crm crm;
  Host h;
  h.dbs->add_sqlite("crm", crm.path.string());
  h.engine.load({std::string(ESCALON_SOURCE_DIR) + "/flows"});
  const auto check = [&](const char* customer) { return h.engine.get(h.engine.start("warranty-check", {{"customer", customer}})); };

  const CaseView acme = check("ACME");
  CHECK(acme.status == CaseStatus::completed);
  CHECK(acme.outcome == "warranty-repair");
  CHECK(acme.data.at("contract") == Value("C-100"));
  CHECK(acme.data.at("plan") == Value("basic"));
  CHECK(acme.data.at("warranty_end") == Value(*parse_iso_date("2027-05-31")));  // ISO text became a date

  const CaseView old = check("Old Ltd");  // the newest of two contracts, expired
  CHECK(old.steps == std::vector<std::string>{"quote"});
  CHECK(old.data.at("contract") == Value("C-050"));
  CHECK(check("Gold").outcome == "warranty-repair");  // expired, premium

  // No contract: the columns' fields are null (the flow reads `contract == null`), and a quote.
  const CaseView nobody = check("Nobody");
  CHECK(nobody.steps == std::vector<std::string>{"quote"});
  CHECK(field(nobody, "contract").is_null());
  CHECK(field(nobody, "warranty_end").is_null());
  h.engine.send(nobody.id, "quote-accepted", {{"amount", 79.0}});
  CHECK(h.engine.get(nobody.id).outcome == "paid-repair");

  // Every try recorded its SQL failure; after the third the case went to a person.
  crm.exec("ALTER TABLE contracts RENAME TO contracts_old");
  const CaseView down = check("ACME");
  CHECK(down.steps == std::vector<std::string>{"lookup-contract"});
  h.clock.advance(5s);
  h.engine.run_due();
  h.clock.advance(10s);
  h.engine.run_due();
  CHECK(h.engine.get(down.id).steps == std::vector<std::string>{"manual-lookup"});
  std::vector<std::string> failures;
  for (const auto& r : h.engine.history(down.id))
    if (r.type == RecordType::action_failed) failures.push_back(r.message);
  CHECK(failures == std::vector<std::string>(3, "sql connection 'crm': no such table: contracts"));
  h.engine.send(down.id, "looked-up", {{"contract", "C-100"}, {"plan", "basic"}, {"warranty_end", "2027-05-31"}});
  CHECK(h.engine.get(down.id).outcome == "warranty-repair");
}

TEST_CASE("parameters are bound as data: quotes and SQL in them find the row of that name", "[sql]") {
  Crm crm;
  Host h;
  h.dbs->add_sqlite("crm", crm.path.string());
  const std::string q = "SELECT contract FROM contracts WHERE customer = ?1";
  CHECK(h.probe("crm", q, injection).data.at("contract") == Value("C-666"));
  CHECK(h.probe("crm", q, quoted).data.at("contract") == Value("C-200"));
  // No row, not every row; and no row clears the field's earlier value.
  CHECK(field(h.probe("crm", q, "x' OR '1'='1", {{"contract", "STALE"}}), "contract").is_null());
  CHECK(crm.count("SELECT count(*) FROM contracts") == 6);                  // the table is still there
  // The same through SqlConnections::run, with several parameters of several types.
  const auto r = h.dbs->run("crm", "SELECT contract, ?2 + 1 AS n, ?3 AS f, ?4 AS z FROM contracts WHERE customer = ?1",
                            List{injection, 41, 2.5, nullptr});
  REQUIRE(r.rows.size() == 1);
  CHECK(r.rows[0] == SqlConnections::Row{{"contract", "C-666"}, {"n", 42}, {"f", 2.5}, {"z", nullptr}});
}

TEST_CASE("results are typed from the database and checked against the flow's types", "[sql]") {
  Crm crm;
  Host h;
  h.dbs->add_sqlite("crm", crm.path.string());
  const CaseView ok = h.probe("crm", "SELECT contract, seats, fee, plan, warranty_until FROM contracts WHERE customer = ?1");
  CHECK(ok.status == CaseStatus::completed);
  CHECK(ok.data.at("seats") == Value(3));
  CHECK(ok.data.at("fee") == Value(9.5));
  CHECK(ok.data.at("warranty_until") == Value(*parse_iso_date("2027-05-31")));

  // A text in an int field, and a column no data field has: incidents that say which and why.
  const CaseView wrong = h.probe("crm", "SELECT contract AS seats FROM contracts WHERE customer = ?1");
  CHECK(wrong.status == CaseStatus::incident);
  CHECK(wrong.incident == "action 'sql' failed after 1 attempt: action 'sql' result: seats: expected int, got string \"C-100\"");
  CHECK(h.probe("crm", "SELECT contract AS contract_no FROM contracts WHERE customer = ?1").incident ==
        "action 'sql' failed after 1 attempt: action 'sql' returned 'contract_no', which is not a data field of flow 'probe'");
  CHECK(h.probe("crm", "SELECT 'platinum' AS plan WHERE ?1 IS NOT NULL").incident ==
        "action 'sql' failed after 1 attempt: action 'sql' result: plan: \"platinum\" is not one of basic, premium");
  CHECK(h.probe("crm", "SELECT x'00' AS contract WHERE ?1 IS NOT NULL").incident ==
        "action 'sql' failed after 1 attempt: sql connection 'crm': column 'contract' holds a blob, which case data cannot hold");
  CHECK(h.probe("crm", "SELECT contract, plan AS contract FROM contracts WHERE customer = ?1").incident ==
        "action 'sql' failed after 1 attempt: sql connection 'crm': the result has two columns named 'contract'; rename one "
        "with AS");
}

TEST_CASE("a write on a read-only connection fails and on a read_write one it works", "[sql]") {
  Crm crm;
  Host h;
  h.dbs->add_sqlite("crm", crm.path.string());
  h.dbs->add_sqlite("crm-rw", crm.path.string(), SqlAccess::read_write);
  const std::string insert = "INSERT INTO notes(customer, text) VALUES (?1, 'called')";
  const std::string read_only =
      "action 'sql' failed after 1 attempt: sql connection 'crm': the connection is read-only and the statement writes; "
      "the host configures a connection for writes with SqlAccess::read_write";
  CHECK(h.probe("crm", insert).incident == read_only);
  // Not the SQL text's first word: a CTE that writes is a write too.
  CHECK(h.probe("crm", "WITH x AS (SELECT 1) DELETE FROM contracts WHERE customer = ?1").incident == read_only);
  CHECK(crm.count("SELECT count(*) FROM notes") == 0);
  CHECK(crm.count("SELECT count(*) FROM contracts") == 6);

  CHECK(h.probe("crm-rw", insert, injection).status == CaseStatus::completed);
  CHECK(crm.count("SELECT count(*) FROM notes WHERE customer = '''; DROP TABLE contracts; --'") == 1);
  // RETURNING sets the written row's columns.
  CHECK(h.probe("crm-rw", "UPDATE contracts SET seats = 4 WHERE customer = ?1 RETURNING seats").data.at("seats") == Value(4));
}

TEST_CASE("unknown connections, two statements and bad inputs are refused with the reason", "[sql]") {
  Crm crm;
  Host h;
  h.dbs->add_sqlite("crm", crm.path.string());
  h.dbs->add_sqlite("billing", crm.path.string());
  CHECK(h.probe("crmm", "SELECT 1 AS seats WHERE ?1 IS NOT NULL").incident ==
        "action 'sql' failed after 1 attempt: no sql connection 'crmm'; the host configured billing, crm");
  CHECK(h.probe("crm", "SELECT contract FROM contracts WHERE customer = ?1; DROP TABLE notes").incident ==
        "action 'sql' failed after 1 attempt: sql connection 'crm': the query holds more than one statement; the sql action "
        "runs exactly one");
  CHECK(crm.count("SELECT count(*) FROM notes") == 0);
  // A trailing `;` and a comment are not a second statement.
  CHECK(h.probe("crm", "SELECT contract FROM contracts WHERE customer = ?1; -- the newest").data.at("contract") ==
        Value("C-100"));
  CHECK_THROWS_WITH(h.dbs->run("crm", "SELECT ?1, ?2", List{1}),
                    "sql connection 'crm': the query takes 2 parameters and params has 1");
  // List{Value(...)}: clang reads List{List{1}} as a copy of the inner list (CWG 2137).
  CHECK_THROWS_WITH(h.dbs->run("crm", "SELECT ?1", List{Value(List{1})}),
                    Catch::StartsWith("sql connection 'crm': parameter 1 is a list, which SQL has no one form for"));
  CHECK_THROWS_WITH(h.dbs->run("crm", "  ", {}), "sql connection 'crm': the query is empty");
  CHECK_THROWS_WITH(h.dbs->run("crm", "ATTACH 'other.db' AS o", {}), Catch::Contains("not allowed"));
  // BEGIN would leave the shared handle in a transaction for every later case.
  for (const char* q : {"BEGIN", "SAVEPOINT s", "PRAGMA query_only = 0", "PRAGMA table_info(contracts)"})
    CHECK_THROWS_WITH(h.dbs->run("crm", q, {}),
                      "sql connection 'crm': transactions, savepoints, ATTACH and PRAGMA are not allowed: each statement "
                      "of the sql action commits on its own");
  CHECK_THROWS_WITH(h.dbs->add_sqlite("crm", crm.path.string()), "sql connection 'crm' is configured twice");
  CHECK_THROWS_WITH(h.dbs->add_sqlite("gone", (crm.path.string() + "-missing")),
                    Catch::StartsWith("sql connection 'gone': cannot open"));
  CHECK(h.dbs->names() == std::vector<std::string>{"billing", "crm"});

  // No row: every column is a null result, which clears what an earlier lookup set.
  ActionContext none("c", "s", "sql", 1,
                     Map{{"connection", "crm"}, {"query", "SELECT contract, plan FROM contracts WHERE customer = ?1"},
                         {"params", List{"Nobody"}}},
                     {});
  sql_action(h.dbs)(none);
  CHECK(none.results() == Map{{"contract", nullptr}, {"plan", nullptr}});

  // The action's inputs.
  ActionContext missing("c", "s", "sql", 1, Map{{"connection", "crm"}}, {});
  CHECK_THROWS_WITH(sql_action(h.dbs)(missing), "action 'sql' needs the input 'query' (with: { connection, query, params })");
  ActionContext typo("c", "s", "sql", 1, Map{{"connection", "crm"}, {"query", "SELECT 1"}, {"param", List{}}}, {});
  CHECK_THROWS_WITH(sql_action(h.dbs)(typo), "action 'sql' has no input 'param'; its inputs are connection, query, params");
  ActionContext scalar("c", "s", "sql", 1, Map{{"connection", "crm"}, {"query", "SELECT ?1 AS a"}, {"params", "ACME"}}, {});
  CHECK_THROWS_WITH(sql_action(h.dbs)(scalar),
                    "action 'sql': the input 'params' is a string, not a list (write \"[customer]\")");
}

TEST_CASE("the sql action on PostgreSQL binds parameters, types results and honours read-only", "[sql][postgres]") {
  if (test::test_pg_uri().empty()) {
    SUCCEED("ESCALON_TEST_PG is not set: tests/postgres/run.sh runs this inside a throwaway server");
    return;
  }
  // A schema of its own (dropped when the run ends), found through the connection's search_path.
  const std::string location = test::fresh_pg_location();
  const std::string schema = location.substr(location.find("schema=") + 7);
  test::pg_exec(fmt::format(R"(CREATE SCHEMA {0};
      CREATE TABLE {0}.contracts(customer text, contract text, seats int, fee numeric, plan text, until date,
                                 renewed timestamptz, paid boolean);
      CREATE TABLE {0}.notes(customer text);
      INSERT INTO {0}.contracts VALUES ('ACME', 'C-100', 3, 9.5, 'basic', '2027-05-31', '2026-05-31 10:00:00+02', true),
                                       ('{1}', 'C-666', 1, 0, 'basic', '2020-01-01', NULL, false);)",
                            schema, Crm::escape(injection)));
  const std::string uri = test::test_pg_uri();
  const std::string url = fmt::format("{}{}options=-csearch_path%3D{}", uri, uri.find('?') == std::string::npos ? "?" : "&", schema);
  Host h;
  h.dbs->add_postgres("crm", url);
  h.dbs->add_postgres("crm-rw", url, SqlAccess::read_write);

  const auto r = h.dbs->run("crm", "SELECT contract, seats, fee, until, renewed, paid, NULL AS nothing FROM contracts WHERE customer = $1",
                            List{injection});
  REQUIRE(r.rows.size() == 1);
  CHECK(r.rows[0] == SqlConnections::Row{{"contract", "C-666"}, {"seats", 1}, {"fee", 0.0}, {"until", *parse_iso_date("2020-01-01")},
                                         {"renewed", nullptr}, {"paid", false}, {"nothing", nullptr}});
  CHECK(h.dbs->run("crm", "SELECT renewed FROM contracts WHERE customer = $1", List{"ACME"}).rows[0][0].second ==
        Value(test::at("2026-05-31T08:00:00Z")));
  CHECK(h.probe("crm", "SELECT contract, seats, fee, plan FROM contracts WHERE customer = $1").data.at("fee") == Value(9.5));
  CHECK(field(h.probe("crm", "SELECT contract FROM contracts WHERE customer = $1", "x' OR '1'='1"), "contract").is_null());
  CHECK(test::pg_query_int(fmt::format("SELECT count(*) FROM {}.contracts", schema)) == 2);

  CHECK_THROWS_WITH(h.dbs->run("crm", "INSERT INTO notes VALUES ($1)", List{"ACME"}),
                    "sql connection 'crm': the connection is read-only and the statement writes (cannot execute INSERT in a "
                    "read-only transaction); the host configures a connection for writes with SqlAccess::read_write");
  CHECK_THROWS_WITH(h.dbs->run("crm-rw", "SELECT 1; DROP TABLE notes", {}),
                    "sql connection 'crm-rw': cannot insert multiple commands into a prepared statement");
  CHECK(h.probe("crm-rw", "INSERT INTO notes VALUES ($1)", injection).status == CaseStatus::completed);
  CHECK(test::pg_query_int(fmt::format("SELECT count(*) FROM {}.notes", schema)) == 1);
  CHECK_THROWS_WITH(h.dbs->run("crm", "SELECT nope FROM contracts", {}),
                    "sql connection 'crm': column \"nope\" does not exist");
  CHECK_THROWS_WITH(h.dbs->run("crm", "SELECT '1e400'::numeric AS fee", {}),
                    "sql connection 'crm': column 'fee' holds a number beyond a double; cast it to text in the query");
  // A result that cannot become case data rolls its write back: the step's retry writes once.
  CHECK_THROWS_WITH(h.dbs->run("crm-rw", "INSERT INTO notes VALUES ($1) RETURNING '1e400'::numeric AS fee", List{"B"}),
                    Catch::Contains("holds a number beyond a double"));
  CHECK(test::pg_query_int(fmt::format("SELECT count(*) FROM {}.notes", schema)) == 1);
  // Microseconds (now() has them) become the engine's milliseconds.
  CHECK(h.dbs->run("crm", "SELECT TIMESTAMPTZ '2027-05-31 10:00:00.123456+02' AS t", {}).rows[0][0].second ==
        Value(test::at("2027-05-31T08:00:00.123Z")));
  // A server that is not there fails the attempt (the step retries), not the host's start.
  h.dbs->add_postgres("down", "postgresql://nobody@127.0.0.1:1/none?connect_timeout=2");
  CHECK_THROWS_WITH(h.dbs->run("down", "SELECT 1", {}),
                    Catch::StartsWith("sql connection 'down': the connection to PostgreSQL failed:"));
}
