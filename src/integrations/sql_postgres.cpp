// The `sql` action on a PostgreSQL database. The only file of the integrations that sees libpqxx.
//
// Parameters go to the server apart from the statement (PQexecParams, through exec_params), as
// text with no type: the server gives each $n the type the statement needs. PQexecParams runs
// exactly one statement: the server refuses a second. A read-only connection runs every statement
// in a READ ONLY transaction, so the server refuses writes whatever the SQL looks like.

#include <pqxx/pqxx>

#include <fmt/format.h>

#include <mutex>

#include "integrations/sql_connection.hpp"

namespace escalon::sql {
namespace {

// Type OIDs of pg_type (fixed in the catalog since PostgreSQL 7).
constexpr pqxx::oid bool_oid = 16, int8_oid = 20, int2_oid = 21, int4_oid = 23, float4_oid = 700, float8_oid = 701,
                    date_oid = 1082, timestamptz_oid = 1184, numeric_oid = 1700, bytea_oid = 17;
// SQLSTATE read_only_sql_transaction: a write in a READ ONLY transaction.
constexpr const char* read_only_state = "25006";

// The server's message without libpq's "ERROR:  " prefix and the lines after the first (the
// statement quoted back with a caret): one line for the journal and the incident.
std::string first_line(const char* what) {
  std::string s(what);
  if (s.rfind("ERROR:", 0) == 0) s.erase(0, s.find_first_not_of(' ', 6));
  if (const auto nl = s.find('\n'); nl != std::string::npos) s.erase(nl);
  return s;
}

class PostgresConnection final : public Connection {
 public:
  PostgresConnection(std::string name, std::string url, SqlAccess access)
      : name_(std::move(name)), url_(std::move(url)), access_(access) {}

  SqlConnections::Result run(std::string_view query, const List& params, std::size_t max_rows) override {
    std::lock_guard lk(m_);  // a pqxx::connection runs one transaction at a time
    std::vector<std::optional<std::string>> texts;
    for (std::size_t i = 0; i < params.size(); ++i) texts.push_back(param_text(name_, i + 1, params[i]));
    std::vector<const char*> args;  // nullptr is SQL null to libpqxx
    for (const auto& t : texts) args.push_back(t ? t->c_str() : nullptr);
    try {
      pqxx::connection& c = connection();
      const std::string sql(query);
      // Converted before the commit: a result that cannot become case data (bytes, a number
      // beyond a double) rolls the write back, so the step's retry does not write twice.
      SqlConnections::Result out;
      if (access_ == SqlAccess::read_only) {
        pqxx::read_transaction tx(c);
        out = convert(tx.exec_params(sql, pqxx::prepare::make_dynamic_params(args)), max_rows);
        tx.commit();
      } else {
        pqxx::work tx(c);
        out = convert(tx.exec_params(sql, pqxx::prepare::make_dynamic_params(args)), max_rows);
        tx.commit();
      }
      return out;
    } catch (const pqxx::broken_connection& e) {
      conn_.reset();  // the next attempt connects again
      throw error(name_, fmt::format("the connection to PostgreSQL failed: {}", first_line(e.what())));
    } catch (const pqxx::sql_error& e) {
      if (e.sqlstate() == read_only_state)
        throw error(name_, fmt::format("the connection is read-only and the statement writes ({}); the host configures "
                                       "a connection for writes with SqlAccess::read_write",
                                       first_line(e.what())));
      throw error(name_, first_line(e.what()));
    } catch (const pqxx::failure& e) {
      throw error(name_, first_line(e.what()));
    }
  }

 private:
  pqxx::connection& connection() {
    if (!conn_) {
      conn_ = std::make_unique<pqxx::connection>(url_);
      // Timestamps come back in UTC and ISO form, whatever the server's defaults: convert()
      // reads them. Through set_variable, which libpqxx sets again when it reconnects by itself
      // (a plain SET would be lost with the old session). A statement that waits on a lock or
      // never ends fails its attempt instead of holding the connection for every case.
      conn_->set_client_encoding("UTF8");
      conn_->set_variable("TimeZone", "'UTC'");
      conn_->set_variable("DateStyle", "'ISO, YMD'");
      conn_->set_variable("statement_timeout", "'30s'");
    }
    return *conn_;
  }

  SqlConnections::Result convert(const pqxx::result& r, std::size_t max_rows) const {
    SqlConnections::Result out;
    for (pqxx::row_size_type i = 0; i < r.columns(); ++i) out.columns.emplace_back(r.column_name(i));
    check_columns(name_, out.columns);
    for (pqxx::result::size_type n = 0; n < r.size() && out.rows.size() < max_rows; ++n) {
      SqlConnections::Row row;
      for (pqxx::row_size_type i = 0; i < r.columns(); ++i) row.emplace_back(out.columns[i], value(r[n][i], r.column_type(i)));
      out.rows.push_back(std::move(row));
    }
    return out;
  }

  // Typed from the column's type: numbers as numbers, dates and timestamps with a time zone as
  // such; every other type as the server's text (a timestamp without zone stays text: it names no
  // single instant, and a datetime field refuses it).
  Value value(const pqxx::field& f, pqxx::oid type) const {
    if (f.is_null()) return Value();
    try {
      switch (type) {
        case bool_oid: return f.as<bool>();
        case int2_oid:
        case int4_oid:
        case int8_oid: return f.as<std::int64_t>();
        case float4_oid:
        case float8_oid:
        case numeric_oid: return f.as<double>();
        default: break;
      }
    } catch (const std::exception&) {  // libpqxx's message quotes the whole value: 400 digits, say
      throw error(name_, fmt::format("column '{}' holds a number beyond a double; cast it to text in the query", f.name()));
    }
    if (type == bytea_oid) throw error(name_, fmt::format("column '{}' holds bytes, which case data cannot hold", f.name()));
    std::string text = f.as<std::string>();
    if (type == date_oid)
      if (const auto d = parse_iso_date(text)) return *d;
    if (type == timestamptz_oid) {
      // "2027-05-31 08:00:00+00" (UTC, ISO style: see connection()) -> "2027-05-31T08:00:00Z".
      std::string iso = text;
      if (iso.size() > 10 && iso[10] == ' ') iso[10] = 'T';
      if (iso.size() > 3 && iso.compare(iso.size() - 3, 3, "+00") == 0) iso.replace(iso.size() - 3, 3, "Z");
      // Microseconds (now() has them) to the engine's milliseconds.
      if (const auto dot = iso.find('.', 19); dot != std::string::npos) {
        const auto digits = iso.find_first_not_of("0123456789", dot + 1);
        if (digits != std::string::npos && digits > dot + 4) iso.erase(dot + 4, digits - dot - 4);
      }
      if (const auto t = parse_iso8601(iso)) return *t;
    }
    return text;
  }

  std::string name_, url_;
  SqlAccess access_;
  std::unique_ptr<pqxx::connection> conn_;
  std::mutex m_;
};

}  // namespace

std::unique_ptr<Connection> open_postgres(const std::string& name, std::string url, SqlAccess access) {
  if (url.empty()) throw error(name, "no PostgreSQL URL");
  // libpq waits for an unreachable server as long as TCP does (minutes): a step's attempt
  // should fail within its time and retry.
  if (url.find("connect_timeout") == std::string::npos) {
    if (url.rfind("postgresql://", 0) == 0 || url.rfind("postgres://", 0) == 0)
      url += url.find('?') == std::string::npos ? "?connect_timeout=10" : "&connect_timeout=10";
    else
      url += " connect_timeout=10";
  }
  return std::make_unique<PostgresConnection>(name, std::move(url), access);
}

}  // namespace escalon::sql
