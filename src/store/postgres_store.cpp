// PostgreSQL store: one store shared by several engine processes. The only code that sees
// libpqxx and libpq.
//
// Schema (version 3; the row meta('escalon/schema') holds it), in the connection's current schema
// (`?schema=NAME` picks one, created if missing):
//   records(seq PRIMARY KEY, case_id, at, type, json, digest, link, prev)
//                                                          the journal; `at` in ms since the epoch;
//                                                          each a link of its case's hash chain
//   cases(id PRIMARY KEY, flow, seq, open, state, revision, next_due, started, lease_owner, lease_until,
//         secret, head)                                    with the key of its sealed personal values
//                                                          and its chain's head (schema 3)
//   meta(key PRIMARY KEY, value)                           engine counters, the schema version
//   flows(id, version, hash, file, source)                 every flow version cases may run on
//   start_keys(key PRIMARY KEY, case_id, fingerprint)      idempotency keys of starts
//   case_numbers(flow PRIMARY KEY, n)                      generated case numbers, shared by engines
//   outbox(key, channel, case_id, ord, attempts, next_attempt, dead, error, notification)
//                                                          notifications not delivered yet (schema 2)
//   sequence record_seq                                    record numbers, shared by engines
// A unit of work is one transaction. Due timers are handed out with leases (claim_due); a commit
// that sets a due time sends NOTIFY escalon_due with the earliest one, delivered at commit.

#include <libpq-fe.h>
#include <pqxx/pqxx>

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <mutex>
#include <set>

#include "escalon/store.hpp"
#include "base/json.hpp"
#include "store/postgres_location.hpp"
#include "store/seal.hpp"
#include "store/stores.hpp"

namespace escalon {
// In postgres_unit.cpp: a unit's records and cases in one statement.
namespace pg {
extern const char* const unit_statement;
std::string records_json(std::span<const StoredRecord> records);
std::string cases_json(std::span<const StoredCase> cases, const std::map<std::string, std::string, std::less<>>& heads);
std::map<std::string, detail::ChainTip, std::less<>> lock_chain_tips(pqxx::work& tx, const StoreBatch& b,
                                                                    const std::string& server);
}  // namespace pg

namespace {

using pg::describe;
using pg::Location;
using pg::parse_location;
using pg::reason;

constexpr int schema_version = 3;
constexpr const char* schema_key = "escalon/schema";  // meta() leaves out keys under "escalon/"
constexpr std::size_t page_rows = 1000;               // rows per query of the streaming reads

const char* const create_schema = R"(
CREATE TABLE meta(key text PRIMARY KEY, value text NOT NULL);
CREATE TABLE records(seq bigint PRIMARY KEY, case_id text NOT NULL, at bigint NOT NULL, type text NOT NULL,
                     json text NOT NULL);
CREATE INDEX records_case ON records(case_id, seq);
CREATE TABLE cases(id text PRIMARY KEY, flow text NOT NULL, seq bigint NOT NULL, open boolean NOT NULL,
                   state text NOT NULL, revision bigint NOT NULL, next_due bigint,
                   started bigserial NOT NULL UNIQUE, lease_owner text, lease_until timestamptz);
CREATE INDEX cases_due ON cases(next_due) WHERE open AND next_due IS NOT NULL;
CREATE TABLE flows(id text NOT NULL, version bigint NOT NULL, hash text NOT NULL, file text NOT NULL,
                   source text NOT NULL, PRIMARY KEY(id, version));
CREATE TABLE start_keys(key text PRIMARY KEY, case_id text NOT NULL, fingerprint text NOT NULL);
CREATE TABLE case_numbers(flow text PRIMARY KEY, n bigint NOT NULL);
CREATE SEQUENCE record_seq;
)";
// Each step brings a store from version i + 1 to i + 2 (create_schema makes version 1).
const char* const migrations[] = {
    // 2: the outbox of notifications (docs/delivery.md); rows leave once delivered.
    R"(CREATE TABLE outbox(key text NOT NULL, channel text NOT NULL, case_id text NOT NULL, ord bigint NOT NULL,
                          attempts integer NOT NULL, next_attempt bigint NOT NULL, dead boolean NOT NULL,
                          error text NOT NULL, notification text NOT NULL, lease_owner text, lease_until timestamptz,
                          PRIMARY KEY(key, channel));
       CREATE INDEX outbox_case ON outbox(case_id, ord);)",
    // 3: the journal's hash chain per case; the keys of sealed personal values (docs/security.md).
    R"(ALTER TABLE records ADD COLUMN digest text, ADD COLUMN link text, ADD COLUMN prev bigint;
       ALTER TABLE cases ADD COLUMN secret text, ADD COLUMN head text;)",
};
static_assert(std::size(migrations) == schema_version - 1);
const char* const our_relations =
    "('records', 'cases', 'meta', 'flows', 'start_keys', 'case_numbers', 'record_seq', 'outbox')";

const char* const case_columns =
    "id, flow, seq, open, state, revision, coalesce(next_due, 0), coalesce(secret, ''), coalesce(head, '')";

// Notifications of one channel, as the listening connection receives them.
class DueReceiver final : public pqxx::notification_receiver {
 public:
  using pqxx::notification_receiver::notification_receiver;
  void operator()(const std::string& payload, int) override { payloads.push_back(payload); }
  std::vector<std::string> payloads;
};

StoredCase case_row(const pqxx::row& r) {
  StoredCase c{.id = r[0].as<std::string>(), .flow = r[1].as<std::string>(), .seq = r[2].as<std::uint64_t>(),
               .open = r[3].as<bool>(), .state = r[4].as<std::string>()};
  c.revision = c.expected = r[5].as<std::uint64_t>();
  c.next_due = TimePoint{Duration{r[6].as<std::int64_t>()}};
  c.secret = r[7].as<std::string>();
  c.head = r[8].as<std::string>();
  return c;
}

// An outbox row read with outbox_columns (or the same columns in the same order).
const char* const outbox_columns = "key, channel, case_id, ord, attempts, next_attempt, dead, error, notification";
OutboxEntry outbox_row(const pqxx::row& r) {
  OutboxEntry e{.key = r[0].as<std::string>(), .channel = r[1].as<std::string>(), .case_id = r[2].as<std::string>()};
  e.order = r[3].as<std::uint64_t>();
  e.attempts = r[4].as<std::int32_t>();
  e.next_attempt = TimePoint{Duration{r[5].as<std::int64_t>()}};
  e.dead = r[6].as<bool>();
  e.error = r[7].as<std::string>();
  e.notification = r[8].as<std::string>();
  return e;
}

std::int64_t due_value(const StoredCase& c) { return c.next_due.time_since_epoch().count(); }

class PostgresStore final : public Store {
 private:
  Location where_;
  std::string server_;
  std::string channel_;
  std::mutex mutex_;  // one connection, one thread at a time (group commit writes beside readers)
  std::unique_ptr<pqxx::connection> conn_;
  std::mutex listen_mutex_;
  std::unique_ptr<pqxx::connection> listen_;  // LISTEN escalon_due; opened by the first wait_for_work
  std::unique_ptr<DueReceiver> receiver_;     // declared after listen_: goes first

  // A channel per schema, so that stores in other schemas of the database do not wake ours.
  static std::string channel_name(const std::string& schema) {
    std::string out = "escalon_due";
    if (schema.empty()) return out;
    out += '_';
    for (unsigned char ch : schema) out += std::isalnum(ch) ? static_cast<char>(std::tolower(ch)) : '_';
    return out.substr(0, 63);  // NAMEDATALEN - 1
  }

  Record parse_record(const std::string& json, std::string_view case_id) const {
    try {
      return Record::from_json(json);
    } catch (const Error& e) {
      if (case_id.empty()) throw StoreError(fmt::format("{}: a journal record is damaged: {}", server_, e.message()));
      throw StoreError(fmt::format("{}: a journal record of case '{}' is damaged: {}", server_, case_id, e.message()));
    }
  }

  std::unique_ptr<pqxx::connection> connect() const {
    try {
      auto c = std::make_unique<pqxx::connection>(where_.conninfo);
      pqxx::nontransaction tx(*c);
      if (!where_.sync.empty()) tx.exec0("SET synchronous_commit TO " + where_.sync);
      if (!where_.schema.empty()) tx.exec0("SET search_path TO " + tx.quote_name(where_.schema));
      c->prepare("escalon_unit", pg::unit_statement);  // parsed on first use, after search_path is set
      return c;
    } catch (const pqxx::broken_connection& e) {
      throw StoreError(fmt::format("{}: cannot connect: {}", server_, reason(e)));
    } catch (const pqxx::failure& e) {
      throw StoreError(fmt::format("{}: cannot set up the session: {}", server_, reason(e)));
    }
  }

  // Runs `f` on the connection under the lock. A lost connection is dropped, so the next call
  // connects again (once; if that fails, so does the call).
  template <class F>
  auto with(std::string_view what, F&& f) {
    std::lock_guard lk(mutex_);
    try {
      if (!conn_) conn_ = connect();
      return f(*conn_);
    } catch (const Error&) {
      throw;
    } catch (const pqxx::in_doubt_error& e) {
      conn_.reset();
      throw StoreError(fmt::format("{}: cannot {}: the connection was lost during COMMIT, so whether it was stored is unknown ({})",
                                   server_, what, reason(e)));
    } catch (const pqxx::broken_connection& e) {
      conn_.reset();
      throw StoreError(fmt::format("{}: cannot {}: the connection was lost: {}", server_, what, reason(e)));
    } catch (const std::exception& e) {
      if (conn_ && !conn_->is_open()) conn_.reset();
      throw StoreError(fmt::format("{}: cannot {}: {}", server_, what, reason(e)));
    }
  }

  // Reads a table in pages of page_rows (keyset paging): `read(tx, page)` runs one query for the
  // rows after the last one read and appends them to `page`; `visit` sees each page with the
  // store unlocked, so a visitor may call the store and millions of rows are never held at once.
  template <class Item, class Read, class Visit>
  void paged(std::string_view what, Read&& read, Visit&& visit) {
    for (;;) {
      std::vector<Item> page;
      with(what, [&](pqxx::connection& c) {
        pqxx::nontransaction tx(c);
        read(tx, page);
      });
      for (const auto& item : page) visit(item);
      if (page.size() < page_rows) return;
    }
  }

  void prepare_schema(pqxx::connection& c);
  void write_unit(pqxx::work& tx, const StoreBatch& b);
  void write_flows(pqxx::work& tx, std::span<const StoredFlow> flows);
  void write_meta(pqxx::work& tx, const std::map<std::string, std::string>& meta);
  void write_start_keys(pqxx::work& tx, std::span<const StartKey> keys);
  void write_outbox(pqxx::work& tx, const StoreBatch& b);

 public:
  explicit PostgresStore(Location where)
      : where_(std::move(where)), server_(describe(where_.conninfo, where_.schema)), channel_(channel_name(where_.schema)) {
    with("open the store", [&](pqxx::connection& c) { prepare_schema(c); });
  }

  ~PostgresStore() override {
    receiver_.reset();  // unregisters from its connection, which must still be there
  }

  void commit(const StoreBatch& b) override {
    with("commit a unit of work", [&](pqxx::connection& c) {
      pqxx::work tx(c);
      write_unit(tx, b);
      write_flows(tx, b.flows);
      write_meta(tx, b.meta);
      write_start_keys(tx, b.start_keys);
      write_outbox(tx, b);
      tx.commit();
    });
  }

  std::vector<StoredCase> open_cases() override {
    std::vector<StoredCase> out;
    for_each_case(true, [&](const StoredCase& c) { out.push_back(c); });
    return out;
  }

  std::optional<StoredCase> find_case(std::string_view id) override {
    return with("read a case", [&](pqxx::connection& c) -> std::optional<StoredCase> {
      pqxx::nontransaction tx(c);
      const auto r = tx.exec_params(fmt::format("SELECT {} FROM cases WHERE id = $1", case_columns), std::string(id));
      if (r.empty()) return std::nullopt;
      return case_row(r[0]);
    });
  }

  // Page by page, the store unlocked while `visit` runs: a visitor may call the store again.
  void for_each_case(std::optional<bool> open, const std::function<void(const StoredCase&)>& visit) override {
    std::int64_t after = 0;
    paged<StoredCase>("read cases", [&](pqxx::nontransaction& tx, std::vector<StoredCase>& page) {
      const auto r = tx.exec_params(fmt::format("SELECT {}, started FROM cases WHERE started > $1 {} ORDER BY started LIMIT $2",
                                                case_columns, !open ? "" : *open ? "AND open" : "AND NOT open"),
                                    after, static_cast<std::int64_t>(page_rows));
      for (const auto& row : r) {
        page.push_back(case_row(row));
        after = row[9].as<std::int64_t>();
      }
    }, visit);
  }

  std::vector<Record> history(std::string_view case_id) override {
    std::string secret;
    const auto rows = with("read the journal", [&](pqxx::connection& c) {
      pqxx::nontransaction tx(c);
      std::vector<std::string> out;
      for (const auto& row : tx.exec_params("SELECT json FROM records WHERE case_id = $1 ORDER BY seq", std::string(case_id)))
        out.push_back(row[0].as<std::string>());
      const auto key = tx.exec_params("SELECT coalesce(secret, '') FROM cases WHERE id = $1", std::string(case_id));
      if (!key.empty()) secret = key[0][0].as<std::string>();
      return out;
    });
    std::vector<Record> out;
    for (const auto& json : rows) {
      out.push_back(parse_record(json, case_id));
      detail::open_record(out.back(), secret);
    }
    return out;
  }

  // By case, then seq (keyset pages: the store is unlocked while `visit` runs).
  void for_each_stored_record(const std::function<void(const StoredRecord&)>& visit) override {
    std::string after_case;
    std::int64_t after_seq = 0;
    paged<StoredRecord>("read the journal", [&](pqxx::nontransaction& tx, std::vector<StoredRecord>& page) {
      for (const auto& r : tx.exec_params(
               "SELECT seq, case_id, at, type, json, coalesce(digest, ''), coalesce(link, ''), coalesce(prev, 0) FROM records "
               "WHERE (case_id, seq) > ($1, $2) ORDER BY case_id, seq LIMIT $3",
               after_case, after_seq, static_cast<std::int64_t>(page_rows))) {
        page.push_back({.seq = r[0].as<std::uint64_t>(), .case_id = r[1].as<std::string>(),
                        .at = TimePoint{Duration{r[2].as<std::int64_t>()}}, .type = r[3].as<std::string>(),
                        .json = r[4].as<std::string>(), .digest = r[5].as<std::string>(), .link = r[6].as<std::string>(),
                        .prev = r[7].as<std::uint64_t>()});
        after_case = page.back().case_id;
        after_seq = static_cast<std::int64_t>(page.back().seq);
      }
    }, visit);
  }

  // Dead row versions (an erased key, dropped notifications) go with VACUUM; what a page kept
  // of them is overwritten as the table is reused (docs/security.md says what remains).
  void scrub() override {
    with("vacuum after an erasure", [&](pqxx::connection& c) {
      pqxx::nontransaction tx(c);
      tx.exec0("VACUUM cases, outbox");
    });
  }

  void erase_unchained(std::string_view case_id) override {
    with("erase an older record's personal values", [&](pqxx::connection& c) {
      pqxx::work tx(c);
      for (const auto& row : tx.exec_params("SELECT seq, json FROM records WHERE case_id = $1 AND digest IS NULL AND "
                                            "json LIKE '%\"personal\":%'",
                                            std::string(case_id)))
        tx.exec_params("UPDATE records SET json = $1 WHERE seq = $2", detail::erased_record_json(row[1].as<std::string>()),
                       row[0].as<std::int64_t>());
      tx.commit();
    });
    scrub();
  }

  std::uint64_t last_seq() override {
    return with("read the journal", [&](pqxx::connection& c) {
      pqxx::nontransaction tx(c);
      return tx.exec1("SELECT coalesce(max(seq), 0) FROM records")[0].as<std::uint64_t>();
    });
  }

  TimePoint last_time() override {
    return with("read the journal", [&](pqxx::connection& c) {
      pqxx::nontransaction tx(c);
      const auto r = tx.exec("SELECT at FROM records ORDER BY seq DESC LIMIT 1");
      return r.empty() ? TimePoint{} : TimePoint{Duration{r[0][0].as<std::int64_t>()}};
    });
  }

  // Case numbers live in case_numbers (engines take them there); readers of meta() see them
  // as the `case-number/FLOW` counters the other stores keep.
  std::map<std::string, std::string> meta() override {
    return with("read meta", [&](pqxx::connection& c) {
      pqxx::nontransaction tx(c);
      std::map<std::string, std::string> out;
      for (const auto& row : tx.exec("SELECT key, value FROM meta WHERE key NOT LIKE 'escalon/%'"))
        out[row[0].as<std::string>()] = row[1].as<std::string>();
      for (const auto& row : tx.exec("SELECT flow, n FROM case_numbers")) {
        auto& v = out["case-number/" + row[0].as<std::string>()];
        const auto n = row[1].as<std::uint64_t>();
        if (v.empty() || std::strtoull(v.c_str(), nullptr, 10) < n) v = std::to_string(n);
      }
      return out;
    });
  }

  std::vector<StoredFlow> flows() override {
    return with("read flow versions", [&](pqxx::connection& c) {
      pqxx::nontransaction tx(c);
      std::vector<StoredFlow> out;
      for (const auto& r : tx.exec("SELECT id, version, hash, file, source FROM flows ORDER BY id, version"))
        out.push_back({r[0].as<std::string>(), r[1].as<std::int64_t>(), r[2].as<std::string>(), r[3].as<std::string>(),
                       r[4].as<std::string>()});
      return out;
    });
  }

  std::vector<std::string> due_cases(TimePoint upto, std::size_t limit) override {
    return with("read due cases", [&](pqxx::connection& c) {
      pqxx::nontransaction tx(c);
      std::vector<std::string> out;
      for (const auto& r : tx.exec_params("SELECT id FROM cases WHERE open AND next_due IS NOT NULL AND next_due <= $1 "
                                          "ORDER BY next_due, started LIMIT NULLIF($2::bigint, 0)",
                                          upto.time_since_epoch().count(), static_cast<std::int64_t>(limit)))
        out.push_back(r[0].as<std::string>());
      return out;
    });
  }

  void for_each_record(const std::function<void(const Record&)>& visit) override {
    std::int64_t after = 0;
    std::map<std::string, std::string, std::less<>> secrets;  // of the cases with personal records
    paged<std::string>("read the journal", [&](pqxx::nontransaction& tx, std::vector<std::string>& page) {
      for (const auto& r : tx.exec_params("SELECT seq, json FROM records WHERE seq > $1 ORDER BY seq LIMIT $2", after,
                                          static_cast<std::int64_t>(page_rows))) {
        after = r[0].as<std::int64_t>();
        page.push_back(r[1].as<std::string>());
      }
    }, [&](const std::string& json) {
      Record r = parse_record(json, {});
      if (!r.personal.empty()) {
        auto it = secrets.find(r.case_id);
        if (it == secrets.end()) {
          if (secrets.size() > 10000) secrets.clear();
          const auto c = find_case(r.case_id);
          it = secrets.emplace(r.case_id, c ? c->secret : std::string()).first;
        }
        detail::open_record(r, it->second);
      }
      visit(r);
    });
  }

  std::optional<StartKey> find_start_key(std::string_view key) override {
    return with("read a start key", [&](pqxx::connection& c) -> std::optional<StartKey> {
      pqxx::nontransaction tx(c);
      const auto r = tx.exec_params("SELECT case_id, fingerprint FROM start_keys WHERE key = $1", std::string(key));
      if (r.empty()) return std::nullopt;
      return StartKey{std::string(key), r[0][0].as<std::string>(), r[0][1].as<std::string>()};
    });
  }

  void for_each_start_key(const std::function<void(const StartKey&)>& visit) override {
    std::string after;
    paged<StartKey>("read start keys", [&](pqxx::nontransaction& tx, std::vector<StartKey>& page) {
      for (const auto& r : tx.exec_params("SELECT key, case_id, fingerprint FROM start_keys WHERE key > $1 ORDER BY key LIMIT $2",
                                          after, static_cast<std::int64_t>(page_rows))) {
        after = r[0].as<std::string>();
        page.push_back({after, r[1].as<std::string>(), r[2].as<std::string>()});
      }
    }, visit);
  }

  void for_each_outbox(const std::function<void(const OutboxEntry&)>& visit) override {
    with("read the outbox", [&](pqxx::connection& c) {
      pqxx::nontransaction tx(c);
      for (const auto& r : tx.exec(fmt::format("SELECT {} FROM outbox ORDER BY case_id, ord, channel", outbox_columns)))
        visit(outbox_row(r));
    });
  }

  bool shared() const override { return true; }
  std::uint64_t next_case_number(std::string_view flow) override;
  void take_seqs(std::span<std::uint64_t> out) override;
  std::vector<std::string> claim_due(TimePoint upto, std::size_t limit, std::string_view owner,
                                     std::chrono::milliseconds lease) override;
  void release_claims(std::span<const std::string> ids, std::string_view owner) override;
  bool wait_for_work(TimePoint before, std::chrono::milliseconds timeout) override;
  std::optional<TimePoint> earliest_due() override;
  std::vector<OutboxEntry> claim_outbox(TimePoint upto, std::size_t limit, std::string_view owner,
                                        std::chrono::milliseconds lease) override;

};

// Two processes may open a new database at once: an advisory lock, held until the transaction
// ends, lets one create the tables while the other waits and then finds them.
void PostgresStore::prepare_schema(pqxx::connection& c) {
  pqxx::work tx(c);
  tx.exec_params("SELECT pg_advisory_xact_lock(hashtext('escalon-schema:' || coalesce(NULLIF($1, ''), current_schema(), '')))",
                 where_.schema);
  if (!where_.schema.empty()) tx.exec0("CREATE SCHEMA IF NOT EXISTS " + tx.quote_name(where_.schema));
  const auto schema = tx.exec1("SELECT current_schema()")[0];
  if (schema.is_null())
    throw StoreError(fmt::format("{}: no schema to create the store's tables in (search_path names none that exists); give one "
                                 "with ?schema=NAME",
                                 server_));
  const std::string in = fmt::format("{} (schema {})", server_.substr(0, server_.find(" schema ")), schema.as<std::string>());
  std::set<std::string> found;
  for (const auto& r : tx.exec(fmt::format("SELECT relname FROM pg_class WHERE relnamespace = (SELECT oid FROM pg_namespace WHERE nspname = current_schema()) "
                                           "AND relname IN {}",
                                           our_relations)))
    found.insert(r[0].as<std::string>());
  if (found.empty()) {
    tx.exec0(create_schema);
    for (const char* m : migrations) tx.exec0(m);
    tx.exec_params("INSERT INTO meta(key, value) VALUES($1, $2)", schema_key, std::to_string(schema_version));
    tx.commit();
    return;
  }
  std::string names;
  for (const auto& n : found) names += (names.empty() ? "" : ", ") + n;
  const auto other = [&] {
    return StoreError(fmt::format("{} has tables of another program named like Escalon's ({}), not an Escalon store (nothing "
                                  "was changed); give another database or ?schema=NAME",
                                  in, names));
  };
  const auto columns = tx.exec1("SELECT count(*) FROM information_schema.columns WHERE table_schema = current_schema() "
                                "AND table_name = 'meta' AND column_name IN ('key', 'value')")[0].as<int>();
  if (columns != 2) throw other();
  const auto v = tx.exec_params("SELECT value FROM meta WHERE key = $1", schema_key);
  if (v.empty()) throw other();
  const int version = std::atoi(v[0][0].c_str());
  if (version > schema_version)
    throw StoreError(fmt::format("{} was written by a newer Escalon (schema {}, this one knows up to {}); upgrade Escalon "
                                 "(nothing was changed)",
                                 in, version, schema_version));
  for (int m = std::max(version, 1); m < schema_version; ++m) tx.exec0(migrations[m - 1]);
  if (version < schema_version)
    tx.exec_params("UPDATE meta SET value = $2 WHERE key = $1", schema_key, std::to_string(schema_version));
  tx.commit();
}

void PostgresStore::write_unit(pqxx::work& tx, const StoreBatch& b) {
  const auto& cases = b.cases;
  if (b.records.empty() && cases.empty()) return;
  const auto tips = pg::lock_chain_tips(tx, b, server_);
  const auto sealed = detail::seal_batch(b, [&](const std::string& id) {
    auto it = tips.find(id);
    return it == tips.end() ? detail::ChainTip{} : it->second;
  });
  std::optional<std::int64_t> earliest;  // the unit's earliest due time, for engines in wait_for_work
  for (const auto& c : cases)
    if (c.open && c.next_due != TimePoint{} && (!earliest || due_value(c) < *earliest)) earliest = due_value(c);
  const auto lost = tx.exec_prepared1("escalon_unit", pg::records_json(sealed.records), pg::cases_json(cases, sealed.heads), channel_,
                                      earliest ? std::to_string(*earliest) : std::string())[0];
  if (lost.is_null()) {
    for (const auto& entry : sealed.heads) {  // cases whose records came without their row
      const std::string& id = entry.first;
      if (std::none_of(cases.begin(), cases.end(), [&](const StoredCase& c) { return c.id == id; }))
        tx.exec_params("UPDATE cases SET head = $1 WHERE id = $2", entry.second, id);
    }
    return;
  }
  const auto id = lost.as<std::string>();
  const auto& c = *std::find_if(cases.begin(), cases.end(), [&](const StoredCase& k) { return k.id == id; });
  const auto held = tx.exec_params("SELECT revision FROM cases WHERE id = $1", id);
  throw ConflictError(fmt::format("{}: case '{}' was changed by another writer (stored revision {}, this write expected {}); "
                                  "reload the case and apply the call again",
                                  server_, id, held.empty() ? 0 : held[0][0].as<std::uint64_t>(), c.expected));
}

void PostgresStore::write_flows(pqxx::work& tx, std::span<const StoredFlow> flows) {
  for (const auto& f : flows) {
    const auto r = tx.exec_params("INSERT INTO flows(id, version, hash, file, source) VALUES($1, $2, $3, $4, $5) "
                                  "ON CONFLICT (id, version) DO NOTHING",
                                  f.id, f.version, f.hash, f.file, f.source);
    if (r.affected_rows() == 1) continue;  // already stored: only the same content may be
    const auto held = tx.exec_params("SELECT hash FROM flows WHERE id = $1 AND version = $2", f.id, f.version);
    if (!held.empty() && held[0][0].as<std::string>() != f.hash)
      throw ConflictError(fmt::format("{}: flow '{}' version {} is already stored with other content", server_, f.id, f.version));
  }
}

void PostgresStore::write_meta(pqxx::work& tx, const std::map<std::string, std::string>& meta) {
  for (const auto& [k, v] : meta) {
    tx.exec_params("INSERT INTO meta(key, value) VALUES($1, $2) ON CONFLICT (key) DO UPDATE SET value = excluded.value", k, v);
    // A counter written as meta (an engine numbering its own cases, a copied store) moves the
    // shared numbering past it, so that next_case_number never hands out a number in use.
    if (k.starts_with("case-number/") && !v.empty() && std::all_of(v.begin(), v.end(), [](char ch) { return ch >= '0' && ch <= '9'; }))
      tx.exec_params("INSERT INTO case_numbers(flow, n) VALUES($1, $2::bigint) "
                     "ON CONFLICT (flow) DO UPDATE SET n = greatest(case_numbers.n, excluded.n)",
                     k.substr(12), v);
  }
}

void PostgresStore::write_start_keys(pqxx::work& tx, std::span<const StartKey> keys) {
  for (const auto& k : keys) {
    const auto r = tx.exec_params("INSERT INTO start_keys(key, case_id, fingerprint) VALUES($1, $2, $3) ON CONFLICT (key) DO NOTHING",
                                  k.key, k.case_id, k.fingerprint);
    if (r.affected_rows() != 1)
      throw ConflictError(fmt::format("{}: start key '{}' was taken by another writer (another engine started a case with it "
                                      "first; reload and find it)",
                                      server_, k.key));
  }
}

void PostgresStore::write_outbox(pqxx::work& tx, const StoreBatch& b) {
  for (const auto& e : b.outbox)
    tx.exec_params("INSERT INTO outbox(key, channel, case_id, ord, attempts, next_attempt, dead, error, notification) "
                   "VALUES($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (key, channel) DO UPDATE SET "
                   "attempts = excluded.attempts, next_attempt = excluded.next_attempt, dead = excluded.dead, "
                   "error = excluded.error, lease_owner = NULL, lease_until = NULL",
                   e.key, e.channel, e.case_id, static_cast<std::int64_t>(e.order), e.attempts,
                   static_cast<std::int64_t>(e.next_attempt.time_since_epoch().count()), e.dead, e.error, e.notification);
  for (const auto& d : b.delivered) tx.exec_params("DELETE FROM outbox WHERE key = $1 AND channel = $2", d.key, d.channel);
}

std::uint64_t PostgresStore::next_case_number(std::string_view flow) {
  return with("number a case", [&](pqxx::connection& c) {
    pqxx::nontransaction tx(c);  // its own short transaction: a failed unit leaves a gap
    return tx.exec_params1("INSERT INTO case_numbers(flow, n) VALUES($1, 1) "
                           "ON CONFLICT (flow) DO UPDATE SET n = case_numbers.n + 1 RETURNING n",
                           std::string(flow))[0]
        .as<std::uint64_t>();
  });
}

void PostgresStore::take_seqs(std::span<std::uint64_t> out) {
  if (out.empty()) return;
  with("number records", [&](pqxx::connection& c) {
    pqxx::nontransaction tx(c);
    const auto r = tx.exec_params("SELECT nextval('record_seq') FROM generate_series(1, $1)", static_cast<std::int64_t>(out.size()));
    for (std::size_t i = 0; i < out.size(); ++i) out[i] = r[static_cast<pqxx::result::size_type>(i)][0].as<std::uint64_t>();
    std::sort(out.begin(), out.end());
  });
}

// SKIP LOCKED: engines claiming at once take different cases instead of waiting on each other;
// the row lock, and PostgreSQL's re-check of the WHERE clause on a row another claim just
// updated, keep a case from going to two owners while a lease lives.
std::vector<std::string> PostgresStore::claim_due(TimePoint upto, std::size_t limit, std::string_view owner,
                                                  std::chrono::milliseconds lease) {
  return with("claim due timers", [&](pqxx::connection& c) {
    pqxx::nontransaction tx(c);
    const auto r = tx.exec_params(
        "UPDATE cases SET lease_owner = $1, lease_until = now() + $2::bigint * interval '1 millisecond' "
        "WHERE id IN (SELECT id FROM cases WHERE open AND next_due IS NOT NULL AND next_due <= $3 "
        "AND (lease_until IS NULL OR lease_until < now() OR lease_owner = $1) "
        "ORDER BY next_due LIMIT NULLIF($4::bigint, 0) FOR UPDATE SKIP LOCKED) RETURNING id, next_due",
        std::string(owner), static_cast<std::int64_t>(lease.count()), upto.time_since_epoch().count(),
        static_cast<std::int64_t>(limit));
    std::vector<std::pair<std::int64_t, std::string>> due;
    for (const auto& row : r) due.emplace_back(row[1].as<std::int64_t>(), row[0].as<std::string>());
    std::sort(due.begin(), due.end());
    std::vector<std::string> out;
    for (auto& [t, id] : due) out.push_back(std::move(id));
    return out;
  });
}

void PostgresStore::release_claims(std::span<const std::string> ids, std::string_view owner) {
  if (ids.empty()) return;
  with("release timer claims", [&](pqxx::connection& c) {
    pqxx::work tx(c);
    for (const auto& id : ids)
      tx.exec_params("UPDATE cases SET lease_owner = NULL, lease_until = NULL WHERE id = $1 AND lease_owner = $2", id,
                     std::string(owner));
    tx.commit();
  });
}

// Only the first live entry of each (case, channel) queue can be claimed, so that two engines
// never deliver one queue out of order; SKIP LOCKED lets engines claim side by side.
std::vector<OutboxEntry> PostgresStore::claim_outbox(TimePoint upto, std::size_t limit, std::string_view owner,
                                                     std::chrono::milliseconds lease) {
  return with("claim outbox entries", [&](pqxx::connection& c) {
    pqxx::nontransaction tx(c);
    const auto r = tx.exec_params(
        "WITH heads AS (SELECT DISTINCT ON (case_id, channel) key, channel FROM outbox WHERE NOT dead "
        "ORDER BY case_id, channel, ord), "
        "due AS (SELECT o.key, o.channel FROM outbox o JOIN heads h ON o.key = h.key AND o.channel = h.channel "
        "WHERE o.next_attempt <= $3 AND (o.lease_until IS NULL OR o.lease_until < now() OR o.lease_owner = $1) "
        "ORDER BY o.next_attempt LIMIT NULLIF($4::bigint, 0) FOR UPDATE OF o SKIP LOCKED) "
        "UPDATE outbox o SET lease_owner = $1, lease_until = now() + $2::bigint * interval '1 millisecond' FROM due "
        "WHERE o.key = due.key AND o.channel = due.channel "
        "RETURNING o.key, o.channel, o.case_id, o.ord, o.attempts, o.next_attempt, o.dead, o.error, o.notification",
        std::string(owner), static_cast<std::int64_t>(lease.count()), upto.time_since_epoch().count(),
        static_cast<std::int64_t>(limit));
    std::vector<OutboxEntry> out;
    for (const auto& row : r) out.push_back(outbox_row(row));
    std::sort(out.begin(), out.end(), [](const OutboxEntry& a, const OutboxEntry& b) { return a.next_attempt < b.next_attempt; });
    return out;
  });
}

std::optional<TimePoint> PostgresStore::earliest_due() {
  return with("read the earliest timer", [&](pqxx::connection& c) -> std::optional<TimePoint> {
    pqxx::nontransaction tx(c);
    const auto v = tx.exec1("SELECT min(next_due) FROM cases WHERE open AND next_due IS NOT NULL")[0];
    if (v.is_null()) return std::nullopt;
    return TimePoint{Duration{v.as<std::int64_t>()}};
  });
}

// Notifications that came while nobody waited count too: a commit between the engine's last
// claim and this call must wake it (a spurious wake-up costs one claim_due).
bool PostgresStore::wait_for_work(TimePoint before, std::chrono::milliseconds timeout) {
  std::lock_guard lk(listen_mutex_);
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  try {
    if (!listen_) {
      listen_ = connect();
      receiver_ = std::make_unique<DueReceiver>(*listen_, channel_);
    }
    for (;;) {
      listen_->get_notifs();
      bool woken = false;
      for (const auto& p : receiver_->payloads) woken = woken || std::strtoll(p.c_str(), nullptr, 10) <= before.time_since_epoch().count();
      receiver_->payloads.clear();
      if (woken) return true;
      const auto left = std::chrono::duration_cast<std::chrono::microseconds>(deadline - std::chrono::steady_clock::now()).count();
      if (left <= 0) return false;
      listen_->await_notification(left / 1000000, left % 1000000);
    }
  } catch (const Error&) {
    throw;
  } catch (const std::exception& e) {
    receiver_.reset();
    listen_.reset();
    throw StoreError(fmt::format("{}: cannot wait for due timers (LISTEN {}): {}", server_, channel_, reason(e)));
  }
}

}  // namespace

std::unique_ptr<Store> open_postgres_store(std::string_view location) { return std::make_unique<PostgresStore>(parse_location(location)); }

}  // namespace escalon
