// FlowBuilder: `calendars:` (time zone, weekly hours, holidays, exceptions) and `roles:`, from the
// flow file or its library files.

#include <fmt/format.h>

#include <algorithm>
#include <array>

#include "escalon/calendar.hpp"
#include "loader/builder.hpp"
#include "base/suggest.hpp"

namespace escalon::detail {
namespace {

std::optional<int> parse_clock(std::string_view s) {  // "08:00" -> minutes; "24:00" allowed as an end
  if (s.size() != 5 || s[2] != ':') return std::nullopt;
  auto dig = [](char c) { return c >= '0' && c <= '9'; };
  if (!dig(s[0]) || !dig(s[1]) || !dig(s[3]) || !dig(s[4])) return std::nullopt;
  const int h = (s[0] - '0') * 10 + (s[1] - '0'), m = (s[3] - '0') * 10 + (s[4] - '0');
  if (m > 59 || h > 24 || (h == 24 && m != 0)) return std::nullopt;
  return h * 60 + m;
}

std::optional<std::chrono::year_month_day> parse_date(std::string_view s) {
  if (s.size() != 10 || s[4] != '-' || s[7] != '-') return std::nullopt;
  int y = 0;
  unsigned mo = 0, d = 0;
  for (int i : {0, 1, 2, 3}) { if (s[i] < '0' || s[i] > '9') return std::nullopt; y = y * 10 + (s[i] - '0'); }
  for (int i : {5, 6}) { if (s[i] < '0' || s[i] > '9') return std::nullopt; mo = mo * 10 + static_cast<unsigned>(s[i] - '0'); }
  for (int i : {8, 9}) { if (s[i] < '0' || s[i] > '9') return std::nullopt; d = d * 10 + static_cast<unsigned>(s[i] - '0'); }
  std::chrono::year_month_day ymd{std::chrono::year{y}, std::chrono::month{mo}, std::chrono::day{d}};
  if (!ymd.ok() || y < 1) return std::nullopt;  // year 0 is outside the years 1 to 9999 Escalon keeps
  return ymd;
}

}  // namespace

void FlowBuilder::calendars(const Source& src, const YAML::Node& n) {
  MapReader m(rep_, src, n, "`calendars`", std::vector<std::string>{});
  for (const auto& [k, v] : m.entries()) {
    const std::string& name = k.Scalar();
    if (!is_kebab_id(name)) {
      rep_.error(loc(src, k), fmt::format("calendar name '{}' must be lowercase letters, digits and '-'", name));
      continue;
    }
    if (auto it = flow_.calendars.find(name); it != flow_.calendars.end()) {
      rep_.error(loc(src, k), fmt::format("calendar '{}' is already defined at {}", name, it->second.where.str()));
      continue;
    }
    if (auto c = calendar(src, name, v)) flow_.calendars.emplace(name, std::move(*c));
    else failed_calendars_.insert(name);
  }
}

std::optional<CalendarSpec> FlowBuilder::calendar(const Source& src, const std::string& name, const YAML::Node& n) {
  MapReader m(rep_, src, n, fmt::format("calendar '{}'", name), {"timezone", "hours", "holidays", "exceptions", "description"});
  if (!m.ok()) return std::nullopt;
  CalendarSpec spec;
  spec.name = name;
  spec.where = m.where();
  bool ok = true;
  if (auto tz = m.get("timezone")) {
    if (auto s = read_string(rep_, src, *tz, "`timezone`")) {
      spec.timezone = *s;
    } else {
      ok = false;
    }
  } else {
    rep_.error(m.where(), fmt::format("calendar '{}' needs a `timezone` (an IANA name such as Europe/Zagreb)", name));
    ok = false;
  }
  if (auto h = m.get("hours")) ok = hours(src, *h, spec) && ok;
  else {
    rep_.error(m.where(), fmt::format("calendar '{}' needs `hours`, e.g. hours: {{ mon-fri: \"08:00-16:00\" }}", name));
    ok = false;
  }
  if (auto h = m.get("holidays")) {
    if (!h->IsSequence()) {
      rep_.error(loc(src, *h), "`holidays` must be a list of dates (YYYY-MM-DD)");
    } else {
      for (const auto& d : *h) {
        if (!rep_.count(src, d)) break;
        auto s = read_string(rep_, src, d, "a holiday");
        if (!s) continue;
        if (auto ymd = parse_date(*s)) spec.holidays.push_back(*ymd);
        else rep_.error(loc(src, d), fmt::format("holiday '{}' is not a date; write YYYY-MM-DD, e.g. 2026-12-25", *s));
      }
      std::sort(spec.holidays.begin(), spec.holidays.end());
    }
  }
  if (auto h = m.get("exceptions")) {
    MapReader em(rep_, src, *h, "`exceptions`", std::vector<std::string>{});
    for (const auto& [k, v] : em.entries()) {
      auto ymd = parse_date(k.Scalar());
      if (!ymd) {
        rep_.error(loc(src, k), fmt::format("exception date '{}' is not a date; write YYYY-MM-DD", k.Scalar()));
        continue;
      }
      if (auto ivs = intervals(src, v)) spec.exceptions[*ymd] = *ivs;
    }
  }
  if (!ok) return std::nullopt;
  // Opening only on exception dates, a calendar runs out of working time after the last one:
  // every business deadline of every case would then fail at run time.
  const bool weekly = std::any_of(spec.weekly.begin(), spec.weekly.end(), [](const auto& d) { return !d.empty(); });
  const auto last_open = std::find_if(spec.exceptions.rbegin(), spec.exceptions.rend(), [](const auto& e) { return !e.second.empty(); });
  if (!weekly && last_open != spec.exceptions.rend()) {
    const auto& d = last_open->first;
    rep_.error(loc(src, *m.get("hours")),
               fmt::format("calendar '{}' has no weekly working hours, so it has no working time after its last "
                           "exception ({:04}-{:02}-{:02}); give `hours:` at least one open day",
                           name, static_cast<int>(d.year()), static_cast<unsigned>(d.month()), static_cast<unsigned>(d.day())));
    return std::nullopt;
  }
  // The zone and "any working time at all" are checked by compiling the calendar.
  try {
    Calendar c(spec);
  } catch (const Error& e) {
    SourceLocation where = spec.where;
    if (e.message().starts_with("unknown time zone")) {
      where = loc(src, *m.get("timezone"));
      const auto hint = did_you_mean(spec.timezone, std::vector<std::string>{"Europe/Zagreb", "Europe/Budapest",
                                                                             "Europe/Warsaw", "Europe/Vienna",
                                                                             "Europe/Berlin", "Europe/London", "UTC"});
      rep_.error(where, e.message() + hint);
    } else {
      rep_.error(where, e.message());
    }
    return std::nullopt;
  }
  return spec;
}

bool FlowBuilder::hours(const Source& src, const YAML::Node& n, CalendarSpec& spec) {
  static const std::vector<std::string> days = {"mon", "tue", "wed", "thu", "fri", "sat", "sun"};
  MapReader m(rep_, src, n, "`hours`", std::vector<std::string>{});
  if (!m.ok()) return false;
  std::array<bool, 7> set{};
  bool ok = true;
  for (const auto& [k, v] : m.entries()) {
    // "mon-fri", "sat", "mon,wed,fri"
    std::vector<int> which;
    std::string key = k.Scalar();
    bool bad = false;
    std::size_t pos = 0;
    while (pos <= key.size() && !bad) {
      std::size_t comma = key.find(',', pos);
      std::string part = key.substr(pos, comma == std::string::npos ? std::string::npos : comma - pos);
      part.erase(std::remove(part.begin(), part.end(), ' '), part.end());
      auto idx = [&](const std::string& d) {
        auto it = std::find(days.begin(), days.end(), d);
        return it == days.end() ? -1 : static_cast<int>(it - days.begin());
      };
      if (auto dash = part.find('-'); dash != std::string::npos) {
        const int a = idx(part.substr(0, dash)), b = idx(part.substr(dash + 1));
        if (a < 0 || b < 0 || b < a) bad = true;
        else for (int d = a; d <= b; ++d) which.push_back(d);
      } else if (int d = idx(part); d >= 0) {
        which.push_back(d);
      } else {
        bad = true;
      }
      if (comma == std::string::npos) break;
      pos = comma + 1;
    }
    if (bad || which.empty()) {
      rep_.error(loc(src, k), fmt::format("'{}' is not a day or range of days; write e.g. mon-fri, sat or mon,wed", key));
      ok = false;
      continue;
    }
    auto ivs = intervals(src, v);
    if (!ivs) { ok = false; continue; }
    for (int d : which) {
      if (set[static_cast<std::size_t>(d)]) {
        rep_.error(loc(src, k), fmt::format("'{}' is given hours twice in `hours`", days[static_cast<std::size_t>(d)]));
        ok = false;
      }
      set[static_cast<std::size_t>(d)] = true;
      spec.weekly[static_cast<std::size_t>(d)] = *ivs;
    }
  }
  return ok;
}

std::optional<std::vector<WorkInterval>> FlowBuilder::intervals(const Source& src, const YAML::Node& n) {
  std::vector<std::pair<std::string, YAML::Node>> parts;
  if (n.IsSequence()) {
    for (const auto& item : n)
      if (auto s = read_string(rep_, src, item, "working hours")) parts.emplace_back(*s, item);
  } else if (auto s = read_string(rep_, src, n, "working hours")) {
    std::string text = *s;
    std::size_t pos = 0;
    while (true) {
      std::size_t comma = text.find(',', pos);
      parts.emplace_back(text.substr(pos, comma == std::string::npos ? std::string::npos : comma - pos), n);
      if (comma == std::string::npos) break;
      pos = comma + 1;
    }
  } else {
    return std::nullopt;
  }
  std::vector<WorkInterval> out;
  for (auto& [p, node] : parts) {
    p.erase(std::remove(p.begin(), p.end(), ' '), p.end());
    if (p == "closed") continue;
    const auto dash = p.find('-');
    std::optional<int> a, b;
    if (dash != std::string::npos) { a = parse_clock(p.substr(0, dash)); b = parse_clock(p.substr(dash + 1)); }
    if (!a || !b || *a >= *b || *a >= 24 * 60) {
      rep_.error(loc(src, node), fmt::format("'{}' is not a time range; write HH:MM-HH:MM with the end after the start "
                                             "(e.g. 08:00-16:00), several separated by commas, or closed",
                                             p));
      return std::nullopt;
    }
    out.push_back({*a, *b});
  }
  std::sort(out.begin(), out.end(), [](auto& x, auto& y) { return x.start_minute < y.start_minute; });
  for (std::size_t i = 1; i < out.size(); ++i)
    if (out[i].start_minute < out[i - 1].end_minute) {
      rep_.error(loc(src, n), "working hours overlap; list separate ranges such as 08:00-12:00, 13:00-17:00");
      return std::nullopt;
    }
  return out;
}

void FlowBuilder::roles(const Source& src, const YAML::Node& n) {
  roles_declared_ = true;
  auto add = [&](const std::string& r, const YAML::Node& at) {
    if (!is_kebab_id(r)) {
      rep_.error(loc(src, at), fmt::format("role '{}' must be lowercase letters, digits and '-'", r));
      return;
    }
    if (!roles_.count(r)) {
      roles_[r] = loc(src, at);
      flow_.roles.push_back(r);
    }
  };
  if (n.IsMap()) {
    MapReader m(rep_, src, n, "`roles`", std::vector<std::string>{});
    for (const auto& [k, v] : m.entries()) add(k.Scalar(), k);
    return;
  }
  for (const auto& [r, at] : read_string_list(rep_, src, n, "`roles`")) add(r, at);
}

}  // namespace escalon::detail
