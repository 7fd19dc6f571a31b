// KPIs from the journal, in one pass over the records, with the flow versions the store keeps
// for what records do not say. docs/flow-format.md, "KPI definitions", defines every figure;
// this file follows that table.

#include "escalon/report.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <filesystem>
#include <set>

#include "escalon/loader.hpp"
#include "base/json.hpp"
#include "calendar/local_time.hpp"

namespace escalon {

std::string_view sla_outcome_name(SlaOutcome o) noexcept {
  switch (o) {
    case SlaOutcome::not_started: return "not started";
    case SlaOutcome::running: return "running";
    case SlaOutcome::paused: return "paused";
    case SlaOutcome::met: return "met";
    case SlaOutcome::breached: return "breached";
    case SlaOutcome::stopped: return "stopped";
    case SlaOutcome::not_applicable: return "not applicable";
  }
  return "?";
}

namespace {

// One SLA's record moves it on. An `sla-met` for a clock that never counted (a team clock whose
// team never had the case reaches `stop_in`) is not a success: not applicable.
SlaOutcome after_record(SlaOutcome s, RecordType t) {
  switch (t) {
    case RecordType::deadline_set: return s == SlaOutcome::not_started ? SlaOutcome::running : s;
    case RecordType::paused: return s == SlaOutcome::running ? SlaOutcome::paused : s;
    case RecordType::resumed: return s == SlaOutcome::paused ? SlaOutcome::running : s;
    case RecordType::sla_met:
      if (s == SlaOutcome::running || s == SlaOutcome::paused) return SlaOutcome::met;
      return s == SlaOutcome::not_started ? SlaOutcome::not_applicable : s;
    case RecordType::sla_breached:
      return s == SlaOutcome::running || s == SlaOutcome::paused ? SlaOutcome::breached : s;
    default: return s;
  }
}

// The case closed (completed or cancelled): an SLA still counting stopped; one that never
// counted does not apply.
SlaOutcome after_close(SlaOutcome s) {
  if (s == SlaOutcome::running || s == SlaOutcome::paused) return SlaOutcome::stopped;
  return s == SlaOutcome::not_started ? SlaOutcome::not_applicable : s;
}

bool sla_record(RecordType t) {
  return t == RecordType::deadline_set || t == RecordType::paused || t == RecordType::resumed || t == RecordType::sla_met ||
         t == RecordType::sla_breached;
}

// One case's SLAs in the order they are listed: the flow's, then any other the records name.
struct SlaBook {
  std::vector<std::pair<std::string, SlaOutcome>> slas;
  SlaOutcome& at(const std::string& name) {
    for (auto& [n, s] : slas)
      if (n == name) return s;
    return slas.emplace_back(name, SlaOutcome::not_started).second;
  }
  void on(const Record& rec) {
    if (rec.type == RecordType::completed || rec.type == RecordType::cancelled)
      for (auto& [n, s] : slas) s = after_close(s);
    // A step deadline's deadline-set names no SLA, a stage deadline's names "stage:NAME".
    else if (sla_record(rec.type) && !rec.target.empty() && !rec.target.starts_with("stage:"))
      at(rec.target) = after_record(at(rec.target), rec.type);
  }
};

}  // namespace

std::vector<std::pair<std::string, SlaOutcome>> sla_outcomes(std::span<const Record> history, std::span<const std::string> names) {
  SlaBook book;
  for (const auto& n : names) book.at(n);
  for (const auto& rec : history) {
    book.on(rec);
    if (rec.type == RecordType::completed || rec.type == RecordType::cancelled) break;  // nothing counts after
  }
  return book.slas;
}

namespace {

// What a flow version adds to its records.
struct FlowFacts {
  std::set<std::string> failing_ends;  // end steps with `fail: true`
  std::vector<std::string> slas;
  std::string zone;                    // of its default calendar
};
using FlowKey = std::pair<std::string, std::int64_t>;

std::map<FlowKey, FlowFacts> read_flows(Store& store, Report& r) {
  std::map<FlowKey, FlowFacts> out;
  for (const auto& sf : store.flows()) {
    // validate_text() puts the name under base_dir: the file's own name, under its folder.
    const std::filesystem::path file(sf.file);
    const auto dir = file.parent_path().string();
    const auto res = validate_text(sf.source, file.filename().string(), dir.empty() ? "." : dir);
    // A flow's sub-flows are read from next to it: pick the flow itself.
    const auto it = std::find_if(res.flows.begin(), res.flows.end(),
                                 [&](const FlowPtr& f) { return f->id == sf.id && f->version == sf.version; });
    if (!res.ok() || it == res.flows.end()) {
      r.unreadable_flows.push_back(fmt::format("{} version {} ({})", sf.id, sf.version,
                                               res.diagnostics.empty() ? "no such flow in it" : res.diagnostics.front().str()));
      continue;
    }
    const Flow& f = **it;
    FlowFacts& facts = out[{sf.id, sf.version}];
    for (const auto& s : f.steps)
      if (s.kind == StepKind::end && s.fail) facts.failing_ends.insert(s.name);
    for (const auto& s : f.slas) facts.slas.push_back(s.name);
    if (auto cal = f.calendars.find(f.calendar); !f.calendar.empty() && cal != f.calendars.end()) facts.zone = cal->second.timezone;
  }
  return out;
}

struct CaseTrack {
  std::string flow;
  const FlowFacts* facts = nullptr;  // null: a branch, or a flow version not read back
  bool top_level = true;
  bool closed = false;
  bool incident = false;
  std::string step;
  TimePoint entered{};
  std::string assignee;
  std::set<std::string> teams;
  std::optional<TimePoint> due;  // the running step deadline
  bool expired = false;          // ... whose `expire:` was taken
  std::string stage;             // the stage the case is in, and since when
  TimePoint stage_entered{};
  SlaBook slas;
};

// "version 3" or "version 3, sub-flow of ..." (a branch's message names no version).
std::int64_t version_of(const std::string& message) {
  std::int64_t v = 0;
  if (!message.starts_with("version ")) return 0;
  std::from_chars(message.data() + 8, message.data() + message.size(), v);
  return v;
}

// Time per step for people: whole seconds (the JSON and CSV forms keep milliseconds).
std::string seconds(Duration d) { return format_duration(std::chrono::round<std::chrono::seconds>(d)); }

// Nothing to divide by: no percentage (text "n/a", JSON null, CSV empty).
std::optional<double> pct(std::size_t part, std::size_t whole) {
  if (!whole) return std::nullopt;
  return 100.0 * static_cast<double>(part) / static_cast<double>(whole);
}
std::string pct_text(std::size_t part, std::size_t whole, std::string_view fmt_spec = "{:.0f}%") {
  const auto p = pct(part, whole);
  return p ? fmt::format(fmt::runtime(fmt_spec), *p) : std::string("n/a");
}
nlohmann::ordered_json pct_json(std::size_t part, std::size_t whole) {
  const auto p = pct(part, whole);
  return p ? nlohmann::ordered_json(*p) : nlohmann::ordered_json();
}

Duration nearest_rank(std::vector<Duration>& v, double q) {
  const auto k = static_cast<std::size_t>(std::ceil(q * static_cast<double>(v.size())));
  std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(std::max<std::size_t>(k, 1) - 1), v.end());
  return v[std::max<std::size_t>(k, 1) - 1];
}

Report::StepTime step_time(std::vector<Duration>& v) {
  Report::StepTime st;
  st.visits = v.size();
  Duration sum{0};
  for (auto d : v) sum += d;
  st.mean = sum / static_cast<std::int64_t>(v.size());
  st.p50 = nearest_rank(v, 0.5);
  st.p90 = nearest_rank(v, 0.9);
  return st;
}

// The SLAs of a case that closed, or of one still open at the end of the journal.
void count_slas(Report& r, CaseTrack& c) {
  if (c.facts)  // SLAs that left no record: a team clock whose team never had the case
    for (const auto& n : c.facts->slas) c.slas.at(n);
  for (const auto& [name, s] : c.slas.slas) {
    auto& sla = r.slas[name];
    switch (c.closed ? after_close(s) : s) {
      case SlaOutcome::met: ++sla.met; break;
      case SlaOutcome::breached: ++sla.breached; break;
      case SlaOutcome::stopped: ++sla.stopped; break;
      case SlaOutcome::not_applicable: ++sla.not_applicable; break;
      default: ++sla.open;
    }
  }
}

// A step deadline is decided when its step is left (met: before the due time, and not by its
// `expire:`), or when the case closes in the step after the due time (missed).
void deadline_on_leave(Report& r, CaseTrack& c, TimePoint at, bool left) {
  if (c.due && (left || at >= *c.due)) {
    ++r.deadlines_ended;
    if (left && !c.expired && at < *c.due) ++r.deadlines_met;
  }
  c.due.reset();
  c.expired = false;
}

using Times = std::map<std::string, std::vector<Duration>>;

void on_closed(Report& r, CaseTrack& c, const Record& rec, Times& stage_times) {
  deadline_on_leave(r, c, rec.at, false);
  if (!c.stage.empty()) stage_times[c.flow + "/" + c.stage].push_back(rec.at - c.stage_entered);  // cancelled inside it
  c.closed = true;
  if (!c.top_level) {
    count_slas(r, c);
    return;
  }
  if (rec.type == RecordType::cancelled) {
    ++r.cancelled;
  } else {
    ++r.completed;
    if (c.facts && c.facts->failing_ends.count(rec.step)) {
      ++r.fcr_failed;
    } else {
      ++r.fcr_completed;
      if (c.teams.size() <= 1) ++r.fcr;
    }
  }
  count_slas(r, c);
}

// Follows one record: what the case is doing now, and the report's running counts.
void track(Report& r, std::map<std::string, CaseTrack>& cases, Times& times, Times& stage_times,
           const std::map<FlowKey, FlowFacts>& flows, const Record& rec) {
  CaseTrack& c = cases[rec.case_id];
  if (c.closed) return;
  c.slas.on(rec);
  switch (rec.type) {
    case RecordType::started: {
      c.flow = rec.target;
      c.top_level = rec.message.find("sub-flow of") == std::string::npos && rec.message.find("branch '") == std::string::npos;
      if (c.top_level) ++r.opened;
      auto it = flows.find({rec.target, version_of(rec.message)});
      c.facts = it == flows.end() ? nullptr : &it->second;
      if (c.facts && !c.facts->zone.empty() && std::find(r.zones.begin(), r.zones.end(), c.facts->zone) == r.zones.end())
        r.zones.push_back(c.facts->zone);
      break;
    }
    case RecordType::entered:
      c.step = rec.step;
      c.entered = rec.at;
      c.due.reset();
      c.expired = false;
      break;
    case RecordType::left:
      times[c.flow + "/" + rec.step].push_back(rec.at - c.entered);
      deadline_on_leave(r, c, rec.at, true);
      break;
    case RecordType::deadline_set:
      if (rec.target.empty()) c.due = rec.due;  // a step deadline (SLAs name themselves in target)
      break;
    case RecordType::expired:  // the step's own expire:, not its stage's
      if (!rec.message.starts_with("deadline of stage")) c.expired = true;
      break;
    case RecordType::assigned:
      c.assignee = rec.target;
      c.teams.insert(rec.target);
      break;
    case RecordType::escalated:
      if (rec.repeat == 0) ++r.escalations[rec.level];
      else ++r.escalation_repeats;
      break;
    case RecordType::sla_warning: ++r.slas[rec.target].warnings; break;
    case RecordType::delivered: ++r.deliveries[rec.target].delivered; break;
    case RecordType::delivery_failed: {
      auto& d = r.deliveries[rec.target];
      ++d.failed_attempts;
      if (rec.data.find("dead")) ++d.dead_letters;
      break;
    }
    case RecordType::incident: c.incident = true; break;
    case RecordType::resolved: c.incident = false; break;
    case RecordType::stage_entered:
      c.stage = rec.target;
      c.stage_entered = rec.at;
      break;
    case RecordType::stage_left:  // (a journal from before stages has no stage-entered to pair it with)
      if (!c.stage.empty()) stage_times[c.flow + "/" + c.stage].push_back(rec.at - c.stage_entered);
      c.stage.clear();
      break;
    case RecordType::completed:
    case RecordType::cancelled: on_closed(r, c, rec, stage_times); break;
    default: break;
  }
}

}  // namespace

Report make_report(Store& store, std::optional<TimePoint> now) {
  Report r;
  const auto flows = read_flows(store, r);
  std::map<std::string, CaseTrack> cases;
  Times times, stage_times;
  bool first = true;
  store.for_each_record([&](const Record& rec) {
    if (first) r.from = rec.at;
    first = false;
    r.to = rec.at;
    ++r.records;
    track(r, cases, times, stage_times, flows, rec);
  });
  std::sort(r.zones.begin(), r.zones.end());
  if (r.zones.size() == 1) r.zone = r.zones.front();
  const TimePoint at = now.value_or(r.to);
  r.to = at;
  for (auto& [id, c] : cases) {
    if (c.closed || c.flow.empty()) continue;
    if (c.top_level) ++r.open;
    count_slas(r, c);
    if (c.incident) ++r.incidents;
    auto& q = r.queues[c.assignee.empty() ? "(unassigned)" : c.assignee];
    ++q.backlog;
    if (c.due && at >= *c.due) ++q.overdue;
  }
  for (auto& [key, v] : times) r.steps[key] = step_time(v);
  for (auto& [key, v] : stage_times) r.stages[key] = step_time(v);
  return r;
}

std::string report_text(const Report& r, const ReportTextOptions& options) {
  const std::string& zone = options.zone;
  std::string out = fmt::format("Escalon report: {} .. {} ({} records; times in {})\n", detail::format_local(r.from, zone),
                                detail::format_local(r.to, zone), r.records, zone.empty() ? "UTC" : zone);
  out += fmt::format("Cases: opened {}, completed {}, cancelled {}, open {}, in incident {}\n", r.opened, r.completed, r.cancelled,
                     r.open, r.incidents);
  out += fmt::format("First-contact resolution: {} of {} resolved cases ({}){}\n", r.fcr, r.fcr_completed, pct_text(r.fcr, r.fcr_completed),
                     r.fcr_failed ? fmt::format("; {} ended unresolved (fail: true), left out", r.fcr_failed) : "");
  out += fmt::format("Deadlines: {} ended, {} met ({})\n", r.deadlines_ended, r.deadlines_met, pct_text(r.deadlines_met, r.deadlines_ended));
  std::string levels;
  for (const auto& [l, n] : r.escalations) levels += fmt::format("{}level {}: {}", levels.empty() ? "" : ", ", l, n);
  out += fmt::format("Escalations: {} (repeats: {})\n", levels.empty() ? "none" : levels, r.escalation_repeats);
  for (const auto& [channel, d] : r.deliveries)
    out += fmt::format("Notifications to {}: {} delivered, {} failed attempts, {} dead letters\n", channel, d.delivered,
                       d.failed_attempts, d.dead_letters);
  if (!r.slas.empty()) {
    out += fmt::format("SLAs:{:<21} {:>6} {:>8} {:>6} {:>8} {:>6} {:>6} {:>8}\n", "", "met", "breached", "met %", "stopped", "n/a", "open",
                       "warnings");
    for (const auto& [name, s] : r.slas)
      out += fmt::format("  {:<24} {:>6} {:>8} {:>6} {:>8} {:>6} {:>6} {:>8}\n", name, s.met, s.breached, pct_text(s.met, s.met + s.breached),
                         s.stopped, s.not_applicable, s.open, s.warnings);
  }
  if (!r.steps.empty()) {
    out += fmt::format("Time per step:{:<27} {:>6} {:>10} {:>10} {:>10}\n", "", "visits", "mean", "p50", "p90");
    for (const auto& [k, s] : r.steps)
      out += fmt::format("  {:<38} {:>6} {:>10} {:>10} {:>10}\n", k, s.visits, seconds(s.mean), seconds(s.p50), seconds(s.p90));
  }
  if (!r.stages.empty()) {
    out += fmt::format("Time per stage:{:<26} {:>6} {:>10} {:>10} {:>10}\n", "", "visits", "mean", "p50", "p90");
    for (const auto& [k, s] : r.stages)
      out += fmt::format("  {:<38} {:>6} {:>10} {:>10} {:>10}\n", k, s.visits, seconds(s.mean), seconds(s.p50), seconds(s.p90));
  }
  if (!r.queues.empty()) {
    out += fmt::format("Work queues (open cases):{:<14} {:>8} {:>8}\n", "", "backlog", "overdue");
    for (const auto& [who, q] : r.queues) out += fmt::format("  {:<37} {:>8} {:>8}\n", who, q.backlog, q.overdue);
  }
  for (const auto& f : r.unreadable_flows)
    out += fmt::format("Note: flow {} could not be read back from the store: its `fail: true` end steps and SLAs that left "
                       "no record are not counted\n",
                       f);
  return out;
}

std::string report_json(const Report& r) {
  nlohmann::ordered_json j;
  j["from"] = format_iso8601(r.from);
  j["to"] = format_iso8601(r.to);
  j["records"] = r.records;
  j["cases"] = {{"opened", r.opened}, {"completed", r.completed}, {"cancelled", r.cancelled}, {"open", r.open}, {"incidents", r.incidents}};
  j["first_contact_resolution"] = {
      {"first_contact", r.fcr}, {"resolved", r.fcr_completed}, {"failed", r.fcr_failed}, {"percent", pct_json(r.fcr, r.fcr_completed)}};
  j["deadlines"] = {{"ended", r.deadlines_ended}, {"met", r.deadlines_met}, {"percent", pct_json(r.deadlines_met, r.deadlines_ended)}};
  auto esc = nlohmann::ordered_json::object();
  for (const auto& [l, n] : r.escalations) esc[std::to_string(l)] = n;
  j["escalations"] = {{"by_level", esc}, {"repeats", r.escalation_repeats}};
  auto deliveries = nlohmann::ordered_json::object();
  for (const auto& [channel, d] : r.deliveries)
    deliveries[channel] = {{"delivered", d.delivered}, {"failed_attempts", d.failed_attempts}, {"dead_letters", d.dead_letters}};
  j["deliveries"] = deliveries;
  auto slas = nlohmann::ordered_json::object();
  for (const auto& [name, s] : r.slas)
    slas[name] = {{"met", s.met},         {"breached", s.breached},       {"warnings", s.warnings},
                  {"stopped", s.stopped}, {"not_applicable", s.not_applicable}, {"open", s.open},
                  {"percent_met", pct_json(s.met, s.met + s.breached)}};
  j["slas"] = slas;
  const auto times = [](const std::map<std::string, Report::StepTime>& m) {
    auto out = nlohmann::ordered_json::object();
    for (const auto& [k, s] : m)
      out[k] = {{"visits", s.visits},
                {"mean_s", static_cast<double>(s.mean.count()) / 1000.0},
                {"p50_s", static_cast<double>(s.p50.count()) / 1000.0},
                {"p90_s", static_cast<double>(s.p90.count()) / 1000.0}};
    return out;
  };
  j["time_per_step"] = times(r.steps);
  j["time_per_stage"] = times(r.stages);
  auto queues = nlohmann::ordered_json::object();
  for (const auto& [who, q] : r.queues) queues[who] = {{"backlog", q.backlog}, {"overdue", q.overdue}};
  j["queues"] = queues;
  j["unreadable_flows"] = r.unreadable_flows;
  return j.dump(2) + "\n";
}

std::string report_csv(const Report& r) {
  std::string out = "metric,group,value\n";
  auto row = [&](std::string_view metric, std::string_view group, auto value) {
    // Groups are flow/step names, roles and user:NAME: no commas or quotes can occur in them.
    out += fmt::format("{},{},{}\n", metric, group, value);
  };
  auto percent = [](std::size_t part, std::size_t whole) { return whole ? pct_text(part, whole, "{:.1f}") : std::string(); };
  row("cases_opened", "", r.opened);
  row("cases_completed", "", r.completed);
  row("cases_cancelled", "", r.cancelled);
  row("cases_open", "", r.open);
  row("cases_in_incident", "", r.incidents);
  row("first_contact_resolutions", "", r.fcr);
  row("resolved_cases", "", r.fcr_completed);
  row("first_contact_resolution_percent", "", percent(r.fcr, r.fcr_completed));
  row("deadlines_ended", "", r.deadlines_ended);
  row("deadlines_met", "", r.deadlines_met);
  row("deadlines_met_percent", "", percent(r.deadlines_met, r.deadlines_ended));
  for (const auto& [l, n] : r.escalations) row("escalations", fmt::format("level {}", l), n);
  row("escalation_repeats", "", r.escalation_repeats);
  for (const auto& [channel, d] : r.deliveries) {
    row("notifications_delivered", channel, d.delivered);
    row("notification_attempts_failed", channel, d.failed_attempts);
    row("notification_dead_letters", channel, d.dead_letters);
  }
  for (const auto& [name, s] : r.slas) {
    row("sla_met", name, s.met);
    row("sla_breached", name, s.breached);
    row("sla_met_percent", name, percent(s.met, s.met + s.breached));
    row("sla_stopped", name, s.stopped);
    row("sla_not_applicable", name, s.not_applicable);
    row("sla_open", name, s.open);
  }
  for (const auto& [k, s] : r.steps) {
    row("step_visits", k, s.visits);
    row("step_mean_s", k, static_cast<double>(s.mean.count()) / 1000.0);
    row("step_p90_s", k, static_cast<double>(s.p90.count()) / 1000.0);
  }
  for (const auto& [k, s] : r.stages) {
    row("stage_visits", k, s.visits);
    row("stage_mean_s", k, static_cast<double>(s.mean.count()) / 1000.0);
    row("stage_p90_s", k, static_cast<double>(s.p90.count()) / 1000.0);
  }
  for (const auto& [who, q] : r.queues) {
    row("backlog", who, q.backlog);
    row("overdue", who, q.overdue);
  }
  return out;
}

}  // namespace escalon
