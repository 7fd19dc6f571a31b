// Parsing PostgreSQL store locations (see postgres_location.hpp). Sees libpq, not libpqxx.

#include "store/postgres_location.hpp"

#include <libpq-fe.h>

#include <fmt/format.h>

#include <cctype>
#include <map>

#include "escalon/store.hpp"

namespace escalon::pg {

// Where a store is, for messages (never the password): host:port/database, as libpq resolves
// them from the location and the PG* environment.
std::string describe(const std::string& conninfo, const std::string& schema) {
  std::map<std::string, std::string> v;
  if (PQconninfoOption* d = PQconndefaults()) {
    for (auto* o = d; o->keyword; ++o)
      if (o->val) v[o->keyword] = o->val;
    PQconninfoFree(d);
  }
  if (PQconninfoOption* p = PQconninfoParse(conninfo.c_str(), nullptr)) {
    for (auto* o = p; o->keyword; ++o)
      if (o->val && *o->val) v[o->keyword] = o->val;
    PQconninfoFree(p);
  }
  const std::string host = v["host"].empty() ? "local socket" : v["host"];
  const std::string db = !v["dbname"].empty() ? v["dbname"] : v["user"];
  return fmt::format("PostgreSQL {}:{}/{}{}", host, v["port"].empty() ? "5432" : v["port"], db,
                     schema.empty() ? "" : " schema " + schema);
}

// libpq's messages span lines ("ERROR:  ...\nDETAIL: ..."); a StoreError is one line.
std::string reason(const std::exception& e) {
  std::string s = e.what();
  if (s.starts_with("ERROR:  ")) s.erase(0, 8);
  for (auto& ch : s)
    if (ch == '\n' || ch == '\t') ch = ' ';
  while (!s.empty() && s.back() == ' ') s.pop_back();
  return s;
}

namespace {

std::string percent_decode(std::string_view s) {
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size() && std::isxdigit(static_cast<unsigned char>(s[i + 1])) &&
        std::isxdigit(static_cast<unsigned char>(s[i + 2]))) {
      out += static_cast<char>(std::stoi(std::string(s.substr(i + 1, 2)), nullptr, 16));
      i += 2;
    } else {
      out += s[i];
    }
  }
  return out;
}

bool libpq_keyword(std::string_view key) {
  if (key == "ssl") return true;  // a URI-only alias of sslmode=require
  bool found = false;
  if (PQconninfoOption* d = PQconndefaults()) {
    for (auto* o = d; o->keyword; ++o) found = found || key == o->keyword;
    PQconninfoFree(d);
  }
  return found;
}

}  // namespace

Location parse_location(std::string_view location) {
  const std::size_t scheme = location.starts_with("postgresql:") ? 11 : 9;
  const auto q = location.find('?');
  std::string base(location.substr(0, q));
  // "postgresql:" alone: libpq's defaults and PG* environment, which "postgresql://" means.
  if (!location.substr(scheme).starts_with("//")) base = "postgresql://" + base.substr(scheme);
  Location out;
  std::string kept;
  std::string_view opts = q == std::string_view::npos ? std::string_view() : location.substr(q + 1);
  while (!opts.empty()) {
    const auto amp = opts.find('&');
    const std::string_view opt = opts.substr(0, amp);
    opts = amp == std::string_view::npos ? std::string_view() : opts.substr(amp + 1);
    const auto eq = opt.find('=');
    const std::string_view key = opt.substr(0, eq);
    const std::string value = eq == std::string_view::npos ? std::string() : percent_decode(opt.substr(eq + 1));
    if (key == "sync") {
      if (value != "on" && value != "off")
        throw StoreError(fmt::format("store option sync={} is not known; use sync=off (no wait for the server's WAL flush) or sync=on", value));
      out.sync = value;
    } else if (key == "schema") {
      if (value.empty()) throw StoreError("store option schema= needs a name: ?schema=escalon");
      out.schema = value;
    } else if (!key.empty() && libpq_keyword(key)) {
      kept += (kept.empty() ? "?" : "&") + std::string(opt);
    } else if (!key.empty()) {
      throw StoreError(fmt::format("unknown store option '{}'; Escalon's are sync=off|on and schema=NAME, the others go to libpq "
                                   "(host, port, dbname, user, password, sslmode, connect_timeout, application_name, options, ...)",
                                   key));
    }
  }
  out.conninfo = base + kept;
  return out;
}

}  // namespace escalon::pg
