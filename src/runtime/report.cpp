// KPIs from the journal, in one pass over the records.

#include "escalon/report.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <set>

#include "base/json.hpp"

namespace escalon {
namespace {

struct CaseTrack {
  std::string flow;
  bool top_level = true;
  bool closed = false;
  bool incident = false;
  std::string step;
  TimePoint entered{};
  std::string assignee;
  std::set<std::string> teams;
  std::optional<TimePoint> due;  // the running step deadline
};

// Time per step for people: whole seconds (the JSON and CSV forms keep milliseconds).
std::string seconds(Duration d) { return format_duration(std::chrono::round<std::chrono::seconds>(d)); }

double pct(std::size_t part, std::size_t whole) { return whole ? 100.0 * static_cast<double>(part) / static_cast<double>(whole) : 0.0; }

Duration nearest_rank(std::vector<Duration>& v, double q) {
  const auto k = static_cast<std::size_t>(std::ceil(q * static_cast<double>(v.size())));
  std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(std::max<std::size_t>(k, 1) - 1), v.end());
  return v[std::max<std::size_t>(k, 1) - 1];
}

}  // namespace

namespace {

// Follows one record: what the case is doing now, and the report's running counts.
void track(Report& r, std::map<std::string, CaseTrack>& cases, std::map<std::string, std::vector<Duration>>& times,
           const Record& rec) {
  CaseTrack& c = cases[rec.case_id];
  switch (rec.type) {
    case RecordType::started:
      c.flow = rec.target;
      c.top_level = rec.message.find("sub-flow of") == std::string::npos && rec.message.find("branch '") == std::string::npos;
      if (c.top_level) ++r.opened;
      break;
    case RecordType::entered:
      c.step = rec.step;
      c.entered = rec.at;
      c.due.reset();
      break;
    case RecordType::left:
      times[c.flow + "/" + rec.step].push_back(rec.at - c.entered);
      if (c.due) {
        ++r.deadlines_ended;
        if (rec.at <= *c.due) ++r.deadlines_met;
        c.due.reset();
      }
      break;
    case RecordType::deadline_set:
      if (rec.target.empty()) c.due = rec.due;  // a step deadline (SLAs name themselves in target)
      break;
    case RecordType::assigned:
      c.assignee = rec.target;
      c.teams.insert(rec.target);
      break;
    case RecordType::escalated:
      if (rec.repeat == 0) ++r.escalations[rec.level];
      else ++r.escalation_repeats;
      break;
    case RecordType::sla_met: ++r.slas[rec.target].met; break;
    case RecordType::sla_breached: ++r.slas[rec.target].breached; break;
    case RecordType::sla_warning: ++r.slas[rec.target].warnings; break;
    case RecordType::incident: c.incident = true; break;
    case RecordType::resolved: c.incident = false; break;
    case RecordType::completed:
      c.closed = true;
      if (c.top_level) {
        ++r.completed;
        ++r.fcr_completed;
        if (c.teams.size() <= 1) ++r.fcr;
      }
      break;
    case RecordType::cancelled:
      c.closed = true;
      if (c.top_level) ++r.cancelled;
      break;
    default: break;
  }
}

}  // namespace

Report make_report(Store& store, std::optional<TimePoint> now) {
  Report r;
  std::map<std::string, CaseTrack> cases;
  std::map<std::string, std::vector<Duration>> times;
  bool first = true;
  store.for_each_record([&](const Record& rec) {
    if (first) r.from = rec.at;
    first = false;
    r.to = rec.at;
    ++r.records;
    track(r, cases, times, rec);
  });
  const TimePoint at = now.value_or(r.to);
  r.to = at;
  for (const auto& [id, c] : cases) {
    if (c.closed || c.flow.empty()) continue;
    if (c.top_level) ++r.open;
    if (c.incident) ++r.incidents;
    auto& q = r.queues[c.assignee.empty() ? "(unassigned)" : c.assignee];
    ++q.backlog;
    if (c.due && at > *c.due) ++q.overdue;
  }
  for (auto& [key, v] : times) {
    Report::StepTime st;
    st.visits = v.size();
    Duration sum{0};
    for (auto d : v) sum += d;
    st.mean = sum / static_cast<std::int64_t>(v.size());
    st.p50 = nearest_rank(v, 0.5);
    st.p90 = nearest_rank(v, 0.9);
    r.steps[key] = st;
  }
  return r;
}

std::string report_text(const Report& r) {
  std::string out = fmt::format("Escalon report: {} .. {} ({} records)\n", format_iso8601(r.from), format_iso8601(r.to), r.records);
  out += fmt::format("Cases: opened {}, completed {}, cancelled {}, open {}, in incident {}\n", r.opened, r.completed, r.cancelled,
                     r.open, r.incidents);
  out += fmt::format("First-contact resolution: {} of {} completed cases ({:.0f}%)\n", r.fcr, r.fcr_completed, pct(r.fcr, r.fcr_completed));
  out += fmt::format("Deadlines: {} ended, {} met ({:.0f}%)\n", r.deadlines_ended, r.deadlines_met, pct(r.deadlines_met, r.deadlines_ended));
  std::string levels;
  for (const auto& [l, n] : r.escalations) levels += fmt::format("{}level {}: {}", levels.empty() ? "" : ", ", l, n);
  out += fmt::format("Escalations: {} (repeats: {})\n", levels.empty() ? "none" : levels, r.escalation_repeats);
  if (!r.slas.empty()) {
    out += "SLAs:\n";
    for (const auto& [name, s] : r.slas)
      out += fmt::format("  {:<24} met {:>5}  breached {:>5}  met {:>3.0f}%  warnings {:>5}\n", name, s.met, s.breached,
                         pct(s.met, s.met + s.breached), s.warnings);
  }
  if (!r.steps.empty()) {
    out += fmt::format("Time per step:{:<27} {:>6} {:>10} {:>10} {:>10}\n", "", "visits", "mean", "p50", "p90");
    for (const auto& [k, s] : r.steps)
      out += fmt::format("  {:<38} {:>6} {:>10} {:>10} {:>10}\n", k, s.visits, seconds(s.mean), seconds(s.p50), seconds(s.p90));
  }
  if (!r.queues.empty()) {
    out += fmt::format("Work queues (open cases):{:<14} {:>8} {:>8}\n", "", "backlog", "overdue");
    for (const auto& [who, q] : r.queues) out += fmt::format("  {:<37} {:>8} {:>8}\n", who, q.backlog, q.overdue);
  }
  return out;
}

std::string report_json(const Report& r) {
  nlohmann::ordered_json j;
  j["from"] = format_iso8601(r.from);
  j["to"] = format_iso8601(r.to);
  j["records"] = r.records;
  j["cases"] = {{"opened", r.opened}, {"completed", r.completed}, {"cancelled", r.cancelled}, {"open", r.open}, {"incidents", r.incidents}};
  j["first_contact_resolution"] = {{"resolved", r.fcr}, {"completed", r.fcr_completed}, {"percent", pct(r.fcr, r.fcr_completed)}};
  j["deadlines"] = {{"ended", r.deadlines_ended}, {"met", r.deadlines_met}, {"percent", pct(r.deadlines_met, r.deadlines_ended)}};
  auto esc = nlohmann::ordered_json::object();
  for (const auto& [l, n] : r.escalations) esc[std::to_string(l)] = n;
  j["escalations"] = {{"by_level", esc}, {"repeats", r.escalation_repeats}};
  auto slas = nlohmann::ordered_json::object();
  for (const auto& [name, s] : r.slas)
    slas[name] = {{"met", s.met}, {"breached", s.breached}, {"warnings", s.warnings}, {"percent_met", pct(s.met, s.met + s.breached)}};
  j["slas"] = slas;
  auto steps = nlohmann::ordered_json::object();
  for (const auto& [k, s] : r.steps)
    steps[k] = {{"visits", s.visits},
                {"mean_s", static_cast<double>(s.mean.count()) / 1000.0},
                {"p50_s", static_cast<double>(s.p50.count()) / 1000.0},
                {"p90_s", static_cast<double>(s.p90.count()) / 1000.0}};
  j["time_per_step"] = steps;
  auto queues = nlohmann::ordered_json::object();
  for (const auto& [who, q] : r.queues) queues[who] = {{"backlog", q.backlog}, {"overdue", q.overdue}};
  j["queues"] = queues;
  return j.dump(2) + "\n";
}

std::string report_csv(const Report& r) {
  std::string out = "metric,group,value\n";
  auto row = [&](std::string_view metric, std::string_view group, auto value) {
    // Groups are flow/step names, roles and user:NAME: no commas or quotes can occur in them.
    out += fmt::format("{},{},{}\n", metric, group, value);
  };
  row("cases_opened", "", r.opened);
  row("cases_completed", "", r.completed);
  row("cases_cancelled", "", r.cancelled);
  row("cases_open", "", r.open);
  row("cases_in_incident", "", r.incidents);
  row("first_contact_resolution_percent", "", fmt::format("{:.1f}", pct(r.fcr, r.fcr_completed)));
  row("deadlines_ended", "", r.deadlines_ended);
  row("deadlines_met_percent", "", fmt::format("{:.1f}", pct(r.deadlines_met, r.deadlines_ended)));
  for (const auto& [l, n] : r.escalations) row("escalations", fmt::format("level {}", l), n);
  row("escalation_repeats", "", r.escalation_repeats);
  for (const auto& [name, s] : r.slas) {
    row("sla_met", name, s.met);
    row("sla_breached", name, s.breached);
    row("sla_met_percent", name, fmt::format("{:.1f}", pct(s.met, s.met + s.breached)));
  }
  for (const auto& [k, s] : r.steps) {
    row("step_visits", k, s.visits);
    row("step_mean_s", k, static_cast<double>(s.mean.count()) / 1000.0);
    row("step_p90_s", k, static_cast<double>(s.p90.count()) / 1000.0);
  }
  for (const auto& [who, q] : r.queues) {
    row("backlog", who, q.backlog);
    row("overdue", who, q.overdue);
  }
  return out;
}

}  // namespace escalon
