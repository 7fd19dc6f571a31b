// The part of the PostgreSQL store that writes a unit's records and cases: their rows as JSON
// parameters of one statement, and where each case's hash chain stands (postgres_store.cpp
// declares what it uses from here).

#include <fmt/format.h>

#include <pqxx/pqxx>

#include <map>

#include "base/json.hpp"
#include "escalon/store.hpp"
#include "store/seal.hpp"

namespace escalon::pg {
namespace {
// Rows for json_to_recordset, as one JSON parameter: PostgreSQL's JSON parser takes any text
// (quotes, backslashes, braces, commas, control characters, UTF-8) without array literals
// escaped by hand. Bytes of 0x80 and up pass as they are, so the database's encoding decides
// about them exactly as for a text parameter.
class JsonRows {
 public:
  void row() {
    text_ += text_.size() == 1 ? "{" : "},{";
    first_ = true;
  }
  void text(std::string_view key, std::string_view v) {
    name(key);
    text_ += '"';
    for (const char ch : v) {
      const auto u = static_cast<unsigned char>(ch);
      if (ch == '"' || ch == '\\') {
        text_ += '\\';
        text_ += ch;
      } else if (u >= 0x20) {
        text_ += ch;
      } else {
        text_ += ch == '\n' ? "\\n" : ch == '\t' ? "\\t" : fmt::format("\\u{:04x}", u);
      }
    }
    text_ += '"';
  }
  void number(std::string_view key, std::int64_t v) {
    name(key);
    text_ += std::to_string(v);
  }
  void boolean(std::string_view key, bool v) {
    name(key);
    text_ += v ? "true" : "false";
  }
  std::string done() && {
    text_ += text_.size() == 1 ? "]" : "}]";
    return std::move(text_);
  }

 private:
  void name(std::string_view key) {
    text_ += first_ ? "\"" : ",\"";
    text_ += key;
    text_ += "\":";
    first_ = false;
  }
  std::string text_ = "[";
  bool first_ = true;
};

// A unit's records and cases in one statement, so one round trip whatever their number. New
// cases insert (a taken id skips), known ones update only from the expected revision; the
// write ends any lease on the case. The result names a case that was not written (a
// conflict: the caller rolls back), moves record_seq past records numbered elsewhere (a copied
// store), and queues the NOTIFY, which PostgreSQL delivers only if the unit commits.
// The `= ANY(ARRAY(...))` is for the planner: it guesses 100 rows from json_to_recordset and
// then joined by a sequential scan of all cases for every commit; the array makes it probe
// the primary key.
}  // namespace

extern const char* const unit_statement;
const char* const unit_statement = R"(
WITH rec AS (
  INSERT INTO records(seq, case_id, at, type, json, digest, link, prev)
  SELECT seq, case_id, at, type, json, digest, link, prev
  FROM json_to_recordset($1::json)
    AS r(seq bigint, case_id text, at bigint, type text, json text, digest text, link text, prev bigint)
  RETURNING seq),
fresh AS (
  SELECT * FROM json_to_recordset($2::json)
    AS v(n bigint, id text, flow text, seq bigint, open boolean, state text, revision bigint, due bigint, expected bigint,
         secret text, head text)),
ins AS (
  INSERT INTO cases(id, flow, seq, open, state, revision, next_due, secret, head)
  SELECT id, flow, seq, open, state, revision, NULLIF(due, 0), NULLIF(secret, ''), NULLIF(head, '')
  FROM fresh WHERE expected = 0 ORDER BY n
  ON CONFLICT (id) DO NOTHING RETURNING id),
upd AS (
  UPDATE cases c SET seq = v.seq, open = v.open, state = v.state, revision = v.revision, next_due = NULLIF(v.due, 0),
                     lease_owner = NULL, lease_until = NULL, secret = NULLIF(v.secret, ''),
                     head = coalesce(NULLIF(v.head, ''), c.head)
  FROM fresh v WHERE v.expected <> 0 AND c.id = v.id AND c.revision = v.expected
    AND c.id = ANY(ARRAY(SELECT id FROM fresh WHERE expected <> 0))
  RETURNING c.id)
SELECT (SELECT id FROM (SELECT id FROM fresh EXCEPT ALL SELECT id FROM ins EXCEPT ALL SELECT id FROM upd) lost ORDER BY id LIMIT 1),
       (SELECT setval('record_seq', top) FROM (SELECT max(seq) AS top FROM rec) t, record_seq
        WHERE top IS NOT NULL AND (CASE WHEN is_called THEN last_value ELSE last_value - 1 END) < top),
       (SELECT pg_notify($3, $4) WHERE $4 <> '')
)";

std::string records_json(std::span<const StoredRecord> records) {
  JsonRows rows;
  for (const auto& r : records) {
    rows.row();
    rows.number("seq", static_cast<std::int64_t>(r.seq));
    rows.text("case_id", r.case_id);
    rows.number("at", r.at.time_since_epoch().count());
    rows.text("type", r.type);
    rows.text("json", r.json);
    rows.text("digest", r.digest);
    rows.text("link", r.link);
    rows.number("prev", static_cast<std::int64_t>(r.prev));
  }
  return std::move(rows).done();
}

std::string cases_json(std::span<const StoredCase> cases, const std::map<std::string, std::string, std::less<>>& heads) {
  JsonRows rows;
  for (std::size_t i = 0; i < cases.size(); ++i) {
    const auto& c = cases[i];
    rows.row();
    rows.number("n", static_cast<std::int64_t>(i));  // start order follows the batch
    rows.text("id", c.id);
    rows.text("flow", c.flow);
    rows.number("seq", static_cast<std::int64_t>(c.seq));
    rows.boolean("open", c.open);
    rows.text("state", c.state);
    rows.number("revision", static_cast<std::int64_t>(c.revision));
    rows.number("due", c.next_due.time_since_epoch().count());
    rows.number("expected", static_cast<std::int64_t>(c.expected));
    rows.text("secret", c.secret);
    auto h = heads.find(c.id);
    rows.text("head", h == heads.end() ? std::string_view{} : std::string_view(h->second));
  }
  return std::move(rows).done();
}

// Where each case's chain stands. The case rows are locked first (in id order: no deadlock)
// and the tips read after, in a statement of their own that sees every commit before the
// lock: a unit without the case's row (a delivery outcome) has no revision to check, and two
// units reading one tip would fork the chain.
std::map<std::string, detail::ChainTip, std::less<>> lock_chain_tips(pqxx::work& tx, const StoreBatch& b,
                                                                    const std::string& server) {
  std::map<std::string, detail::ChainTip, std::less<>> tips;
  if (b.records.empty()) return tips;
  nlohmann::json ids = nlohmann::json::array();
  for (const auto& r : b.records) ids.push_back(r.case_id);
  tx.exec_params("SELECT id FROM cases WHERE id IN (SELECT json_array_elements_text($1::json)) ORDER BY id FOR UPDATE",
                 ids.dump());
  // Each case's newest record, not its row: delivery outcomes are journaled without the row.
  for (const auto& row : tx.exec_params("SELECT DISTINCT ON (case_id) case_id, coalesce(link, ''), seq FROM records "
                                        "WHERE case_id IN (SELECT json_array_elements_text($1::json)) "
                                        "ORDER BY case_id, seq DESC",
                                        ids.dump()))
    tips[row[0].as<std::string>()] = {row[1].as<std::string>(), row[2].as<std::uint64_t>()};
  // Numbers are taken before the lock: another engine may have committed a later number for
  // the case meanwhile (a delivery outcome). Chaining behind it would break the order the
  // chain is read in; the unit runs again with new numbers instead.
  for (const auto& r : b.records)
    if (auto it = tips.find(r.case_id); it != tips.end() && it->second.seq >= r.seq)
      throw ConflictError(fmt::format("{}: case '{}' has record {} from another engine, after this unit's record {}; "
                                      "apply the call again",
                                      server, r.case_id, it->second.seq, r.seq));
  return tips;
}

}  // namespace escalon::pg
