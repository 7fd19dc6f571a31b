// The `sql` action (docs/sql.md): SqlConnections keeps the host's databases by name; sql_action
// reads a step's inputs, runs its one statement with bound parameters and returns the first row.

#include <fmt/format.h>

#include <map>
#include <mutex>
#include <set>

#include "escalon/sql.hpp"
#include "integrations/sql_connection.hpp"

namespace escalon {

namespace sql {

SqlError error(const std::string& connection, std::string_view what) {
  return SqlError(fmt::format("sql connection '{}': {}", connection, what));
}

std::optional<std::string> param_text(const std::string& connection, std::size_t index, const Value& v) {
  switch (v.kind()) {
    case Value::Kind::null: return std::nullopt;
    case Value::Kind::boolean: return v.as_bool() ? "true" : "false";
    case Value::Kind::integer: return std::to_string(v.as_int());
    case Value::Kind::number: return fmt::format("{}", v.as_number());  // shortest text that reads back exactly
    case Value::Kind::string: return v.as_string();
    case Value::Kind::datetime: return format_iso8601(v.as_datetime());
    case Value::Kind::date: return format_iso_date(v.as_date());
    default: break;
  }
  // A duration has no one SQL form (seconds? an interval?), lists and maps none at all: the flow
  // says what it means in the expression instead.
  throw error(connection, fmt::format("parameter {} is a {}, which SQL has no one form for; convert it in the "
                                      "expression (a text, a number, a datetime or a date)",
                                      index, kind_name(v.kind())));
}

void check_columns(const std::string& connection, const std::vector<std::string>& columns) {
  std::set<std::string_view> seen;
  for (const auto& c : columns)
    if (!seen.insert(c).second)
      throw error(connection, fmt::format("the result has two columns named '{}'; rename one with AS", c));
}

}  // namespace sql

struct SqlConnections::Impl {
  mutable std::mutex m;  // guards the map only: each connection serializes its own statements
  std::map<std::string, std::shared_ptr<sql::Connection>, std::less<>> connections;

  // Checked before opening too, so a second add of a name does not open a database in vain.
  void check_new(const std::string& name) const {
    if (name.empty()) throw SqlError("an sql connection needs a name");
    std::lock_guard lk(m);
    if (connections.count(name)) throw SqlError(fmt::format("sql connection '{}' is configured twice", name));
  }
  void add(const std::string& name, std::unique_ptr<sql::Connection> c) {
    std::lock_guard lk(m);
    if (!connections.emplace(name, std::move(c)).second)
      throw SqlError(fmt::format("sql connection '{}' is configured twice", name));
  }
};

SqlConnections::SqlConnections() : impl_(std::make_unique<Impl>()) {}
SqlConnections::~SqlConnections() = default;

void SqlConnections::add_sqlite(std::string name, const std::string& path, SqlAccess access) {
  impl_->check_new(name);
  impl_->add(name, sql::open_sqlite(name, path, access));
}

void SqlConnections::add_postgres(std::string name, std::string url, SqlAccess access) {
  impl_->check_new(name);
  impl_->add(name, sql::open_postgres(name, std::move(url), access));
}

std::vector<std::string> SqlConnections::names() const {
  std::lock_guard lk(impl_->m);
  std::vector<std::string> out;
  for (const auto& [name, c] : impl_->connections) out.push_back(name);
  return out;
}

SqlConnections::Result SqlConnections::run(std::string_view name, std::string_view query, const List& params,
                                           std::size_t max_rows) const {
  std::shared_ptr<sql::Connection> c;
  {
    std::lock_guard lk(impl_->m);
    if (auto it = impl_->connections.find(name); it != impl_->connections.end()) c = it->second;
  }
  if (!c) {
    const auto known = names();
    throw SqlError(fmt::format("no sql connection '{}'; the host configured {}", name,
                               known.empty() ? std::string("none") : fmt::format("{}", fmt::join(known, ", "))));
  }
  return c->run(query, params, max_rows);
}

namespace {

constexpr const char* inputs_text = "connection, query, params";

const std::string& text_input(const Map& in, const char* key) {
  const Value* v = nullptr;
  if (auto it = in.find(key); it != in.end()) v = &it->second;
  if (!v || v->is_null()) throw SqlError(fmt::format("action 'sql' needs the input '{}' (with: {{ {} }})", key, inputs_text));
  if (v->kind() != Value::Kind::string)
    throw SqlError(fmt::format("action 'sql': the input '{}' is a {}, not a text (quote it: \"'...'\")", key,
                               kind_name(v->kind())));
  return v->as_string();
}

}  // namespace

ActionHandler sql_action(std::shared_ptr<SqlConnections> connections) {
  if (!connections) throw SqlError("sql_action needs the SqlConnections it runs statements on");
  return [connections = std::move(connections)](ActionContext& a) {
    const Map& in = a.inputs();
    for (const auto& [key, v] : in)
      if (key != "connection" && key != "query" && key != "params")
        throw SqlError(fmt::format("action 'sql' has no input '{}'; its inputs are {}", key, inputs_text));
    const std::string& connection = text_input(in, "connection");
    const std::string& query = text_input(in, "query");
    List params;
    if (auto it = in.find("params"); it != in.end() && !it->second.is_null()) {
      if (it->second.kind() != Value::Kind::list)
        throw SqlError(fmt::format("action 'sql': the input 'params' is a {}, not a list (write \"[customer]\")",
                                   kind_name(it->second.kind())));
      params = it->second.as_list();
    }
    const auto result = connections->run(connection, query, params, 1);
    // No row: every column's field becomes null, so the flow branches on `field == null` and no
    // value of an earlier lookup in the same case survives.
    if (result.rows.empty()) {
      for (const auto& c : result.columns) a.set(c, nullptr);
      return;
    }
    for (const auto& [column, value] : result.rows.front()) a.set(column, value);
  };
}

}  // namespace escalon
