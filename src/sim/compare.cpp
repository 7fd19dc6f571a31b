// What a simulation prints: the report with the simulation's own figures, and two runs
// compared side by side (escalon simulate --compare).
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <cmath>
#include <set>

#include "escalon/report.hpp"
#include "escalon/simulate.hpp"
#include "sim/model.hpp"

namespace escalon {
namespace {
double pct(double x) { return 100.0 * x; }
// "3", or "3x2" for agents who each work on two cases at once.
std::string agents_text(std::int32_t agents, std::int32_t capacity) {
  return capacity > 1 ? fmt::format("{}x{}", agents, capacity) : std::to_string(agents);
}
}  // namespace

namespace detail {
bool skilled(const SimTeamStats& t) { return t.serves.size() != 1 || t.serves.front() != t.team; }

std::string serves_text(const SimTeamStats& t) {
  if (t.serves.size() == 1) return t.serves.front();
  std::vector<std::string> rest(t.serves.begin() + 1, t.serves.end());
  return fmt::format("{} first, then {}", t.serves.front(), fmt::join(rest, ", "));
}
}  // namespace detail

std::vector<SimCompareRow> compare(const SimResult& a, const SimResult& b) {
  using Unit = SimCompareRow::Unit;
  std::vector<SimCompareRow> rows;
  const auto add = [&](std::string what, Unit unit, std::optional<double> x, std::optional<double> y) {
    rows.push_back({std::move(what), unit, x, y});
  };
  const auto n = [](std::size_t v) { return std::optional<double>(static_cast<double>(v)); };
  add("cases opened", Unit::count, n(a.report.opened), n(b.report.opened));
  add("cases completed", Unit::count, n(a.report.completed), n(b.report.completed));
  add("cases open at the end", Unit::count, n(a.report.open), n(b.report.open));
  std::set<std::string> slas;
  for (const auto* r : {&a, &b})
    for (const auto& [name, s] : r->report.slas) slas.insert(name);
  const auto met = [](const SimResult& r, const std::string& name) -> std::optional<double> {
    const auto it = r.report.slas.find(name);
    if (it == r.report.slas.end() || it->second.met + it->second.breached == 0) return std::nullopt;
    return 100.0 * static_cast<double>(it->second.met) / static_cast<double>(it->second.met + it->second.breached);
  };
  for (const auto& name : slas) add(fmt::format("SLA {} met", name), Unit::percent, met(a, name), met(b, name));
  std::set<std::int32_t> levels;
  for (const auto* r : {&a, &b})
    for (const auto& [level, count] : r->report.escalations) levels.insert(level);
  const auto escalations = [&](const SimResult& r, std::int32_t level) {
    const auto it = r.report.escalations.find(level);
    return n(it == r.report.escalations.end() ? 0 : it->second);
  };
  for (std::int32_t level : levels)
    add(fmt::format("escalations, level {}", level), Unit::count, escalations(a, level), escalations(b, level));
  std::vector<std::string> teams;
  for (const auto* r : {&a, &b})
    for (const auto& st : r->roles)
      if (std::find(teams.begin(), teams.end(), st.role) == teams.end()) teams.push_back(st.role);
  const auto team = [](const SimResult& r, const std::string& name) -> const SimRoleStats* {
    for (const auto& st : r.roles)
      if (st.role == name) return &st;
    return nullptr;
  };
  const auto of = [&](const SimResult& r, const std::string& name, auto&& f) -> std::optional<double> {
    const SimRoleStats* st = team(r, name);
    return st ? std::optional<double>(f(*st)) : std::nullopt;
  };
  const auto secs = [](Duration d) { return static_cast<double>(d.count()) / 1000.0; };
  for (const auto& t : teams) {
    add(t + ": agents", Unit::count, of(a, t, [](const auto& s) { return s.agents; }), of(b, t, [](const auto& s) { return s.agents; }));
    add(t + ": mean wait", Unit::duration, of(a, t, [&](const auto& s) { return secs(s.mean_wait); }),
        of(b, t, [&](const auto& s) { return secs(s.mean_wait); }));
    add(t + ": p90 wait", Unit::duration, of(a, t, [&](const auto& s) { return secs(s.p90_wait); }),
        of(b, t, [&](const auto& s) { return secs(s.p90_wait); }));
    add(t + ": busy", Unit::percent, of(a, t, [](const auto& s) { return 100 * s.utilization; }),
        of(b, t, [](const auto& s) { return 100 * s.utilization; }));
    add(t + ": queued at the end", Unit::count, of(a, t, [](const auto& s) { return static_cast<double>(s.queued_at_end); }),
        of(b, t, [](const auto& s) { return static_cast<double>(s.queued_at_end); }));
  }
  // Teams with skills that are not named after a role have no rows above: their agents and load.
  std::vector<std::string> skilled;
  for (const auto* r : {&a, &b})
    for (const auto& t : r->teams)
      if (detail::skilled(t) && std::find(teams.begin(), teams.end(), t.team) == teams.end() &&
          std::find(skilled.begin(), skilled.end(), t.team) == skilled.end())
        skilled.push_back(t.team);
  const auto team_of = [](const SimResult& r, const std::string& name, auto&& f) -> std::optional<double> {
    for (const auto& t : r.teams)
      if (t.team == name) return f(t);
    return std::nullopt;
  };
  for (const auto& t : skilled) {
    const auto agents = [](const SimTeamStats& s) { return static_cast<double>(s.agents); };
    const auto busy = [](const SimTeamStats& s) { return 100 * s.utilization; };
    add(t + " (team): agents", Unit::count, team_of(a, t, agents), team_of(b, t, agents));
    add(t + " (team): busy", Unit::percent, team_of(a, t, busy), team_of(b, t, busy));
  }
  const auto backlog = [&](const SimResult& r) { return r.samples.empty() ? std::nullopt : n(r.samples.back().open); };
  add("backlog at the end (open cases, sub-flows too)", Unit::count, backlog(a), backlog(b));
  return rows;
}

namespace detail {
void sum_up_waits(SimRoleStats& st) {
  if (st.waits.empty()) return;
  std::vector<Duration> w;
  Duration sum{0};
  std::size_t waited = 0;
  for (const auto& [at, d] : st.waits) {
    w.push_back(d);
    sum += d;
    waited += d.count() > 0 ? 1 : 0;
  }
  st.mean_wait = sum / static_cast<std::int64_t>(w.size());
  st.waited_share = static_cast<double>(waited) / static_cast<double>(w.size());
  std::sort(w.begin(), w.end());
  st.p90_wait = w[std::min(w.size() - 1, static_cast<std::size_t>(std::ceil(0.9 * static_cast<double>(w.size()))) - 1)];
  st.max_wait = w.back();
}

std::string compare_cell(SimCompareRow::Unit unit, std::optional<double> v) {
  if (!v) return "-";
  switch (unit) {
    case SimCompareRow::Unit::count: return fmt::format("{:.0f}", *v);
    case SimCompareRow::Unit::percent: return fmt::format("{:.1f}%", *v);
    case SimCompareRow::Unit::duration:
      return format_duration(std::chrono::round<std::chrono::seconds>(Duration{static_cast<std::int64_t>(*v * 1000)}));
  }
  return "-";
}
std::string compare_change(const SimCompareRow& r) {
  if (!r.a || !r.b) return "";
  const double d = *r.b - *r.a;
  if (d == 0) return "=";
  if (r.unit == SimCompareRow::Unit::percent) return fmt::format("{:+.1f} pts", d);
  if (r.unit == SimCompareRow::Unit::duration) return (d < 0 ? "-" : "+") + compare_cell(r.unit, std::abs(d));
  return fmt::format("{:+.0f}", d);
}
}  // namespace detail

std::string compare_text(const SimResult& a, std::string_view a_name, const SimResult& b, std::string_view b_name) {
  std::string out = fmt::format("Comparison: {} ({} days from {}, seed {}) and {} ({} days from {}, seed {})\n", a_name,
                                std::chrono::duration_cast<std::chrono::days>(a.to - a.from).count(), format_iso8601(a.from),
                                a.seed, b_name, std::chrono::duration_cast<std::chrono::days>(b.to - b.from).count(),
                                format_iso8601(b.from), b.seed);
  std::size_t w = 4, wa = a_name.size(), wb = b_name.size();
  const auto rows = compare(a, b);
  for (const auto& r : rows) {
    w = std::max(w, r.what.size());
    wa = std::max(wa, detail::compare_cell(r.unit, r.a).size());
    wb = std::max(wb, detail::compare_cell(r.unit, r.b).size());
  }
  out += fmt::format("  {:<{}}  {:>{}}  {:>{}}  {}\n", "", w, a_name, wa, b_name, wb, "change");
  for (const auto& r : rows)
    out += fmt::format("  {:<{}}  {:>{}}  {:>{}}  {}\n", r.what, w, detail::compare_cell(r.unit, r.a), wa,
                       detail::compare_cell(r.unit, r.b), wb, detail::compare_change(r));
  return out;
}

std::string SimResult::text() const {
  std::string out = report_text(report);
  out += fmt::format("\nSimulation: {} days from {} (seed {})\n", std::chrono::duration_cast<std::chrono::days>(to - from).count(),
                     format_iso8601(from), seed);
  std::string arr;
  for (const auto& [f, n] : arrivals) arr += fmt::format("{}{} {}", arr.empty() ? "" : ", ", f, n);
  out += fmt::format("Arrivals: {}{}\n", arr.empty() ? "none" : arr,
                     replayed ? fmt::format(" (replayed from a store: {} cases at their real times)", replayed) : "");
  std::size_t refused_total = 0;
  for (const auto& [k, n] : refused) refused_total += n;
  out += fmt::format("Events sent: {}, refused: {}; actions called: {}, failed: {}\n", events_sent, refused_total, actions_called,
                     actions_failed);
  for (const auto& [k, n] : refused) {
    auto why = refused_why.find(k);
    out += fmt::format("  refused {:>5}  {}{}{}\n", n, k, why == refused_why.end() ? "" : " -- first: ",
                       why == refused_why.end() ? "" : why->second);
  }
  if (!roles.empty()) {
    out += fmt::format("Staff:{:<18} {:>6} {:>8} {:>6} {:>7} {:>10} {:>10} {:>9} {:>7}\n", "", "agents", "handled", "busy", "waited",
                       "mean wait", "p90 wait", "max queue", "queued");
    for (const auto& r : roles)
      out += fmt::format("  {:<22} {:>6} {:>8} {:>5.0f}% {:>6.0f}% {:>10} {:>10} {:>9} {:>7}\n", r.role,
                         r.agents == 0 ? std::string("-") : agents_text(r.agents, r.capacity), r.handled,
                         pct(r.utilization), pct(r.waited_share), format_duration(std::chrono::round<std::chrono::seconds>(r.mean_wait)),
                         format_duration(std::chrono::round<std::chrono::seconds>(r.p90_wait)), r.max_queue, r.queued_at_end);
  }
  if (std::any_of(teams.begin(), teams.end(), detail::skilled)) {
    out += fmt::format("Teams:{:<18} {:>6} {:>9} {:>6}  {}\n", "", "agents", "on duty", "busy", "handled");
    for (const auto& t : teams) {
      std::vector<std::string> handled_by_role;
      for (const auto& role : t.serves) {
        const auto it = t.handled.find(role);
        handled_by_role.push_back(fmt::format("{} {}", role, it == t.handled.end() ? 0 : it->second));
      }
      out += fmt::format("  {:<22} {:>6} {:>8}h {:>5.0f}%  {}{}\n", t.team,
                         agents_text(t.agents, t.capacity),
                         std::chrono::duration_cast<std::chrono::hours>(t.on_duty).count(), pct(t.utilization),
                         fmt::join(handled_by_role, ", "),
                         detail::skilled(t) ? fmt::format(" ({})", detail::serves_text(t)) : std::string());
    }
  }
  if (queue_moves > 0)
    out += fmt::format("Reassigned while waiting: {} cases moved to another team's queue\n", queue_moves);
  if (!unmodelled.empty()) {
    out += "Steps the model does not cover (cases there wait for deadlines only):\n";
    for (const auto& [k, n] : unmodelled) out += fmt::format("  {:<38} {:>6} visits\n", k, n);
  }
  return out;
}

}  // namespace escalon
