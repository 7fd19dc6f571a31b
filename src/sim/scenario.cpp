// Running a scenario: a fresh engine on a manual clock, cases and events merged in time order.

#include "escalon/scenario.hpp"

#include <fmt/format.h>

#include <set>

#include "escalon/engine.hpp"
#include "escalon/report.hpp"

namespace escalon {

namespace {

// Starts and events in time order; at equal times starts first, then file order.
struct Item {
  TimePoint at;
  int order;
  std::size_t index;
  bool start;
};

std::vector<Item> in_time_order(const Scenario& sc) {
  std::vector<Item> items;
  for (std::size_t i = 0; i < sc.cases.size(); ++i) items.push_back({sc.cases[i].at.value_or(sc.clock), 0, i, true});
  for (std::size_t i = 0; i < sc.events.size(); ++i) items.push_back({sc.events[i].at, 1, i, false});
  std::stable_sort(items.begin(), items.end(), [](const Item& a, const Item& b) {
    return a.at != b.at ? a.at < b.at : a.order < b.order;
  });
  return items;
}

void apply_event(Engine& engine, const ScenarioStep& e) {
  const EventOptions opts{e.actor, e.channel, e.key, e.roles};
  switch (e.kind) {
    case ScenarioStep::Kind::send: engine.send(e.case_id, e.event, e.data, opts); break;
    case ScenarioStep::Kind::update: engine.update(e.case_id, e.data, opts); break;
    case ScenarioStep::Kind::cancel: engine.cancel(e.case_id, e.reason, opts); break;
    case ScenarioStep::Kind::retry: engine.retry(e.case_id, opts); break;
    case ScenarioStep::Kind::resolve: engine.resolve(e.case_id, e.data, e.event, opts); break;
  }
}

ScenarioCaseResult case_result(Engine& engine, const ScenarioCase& c, Store* store) {
  CaseView v;
  try {
    v = engine.get(c.id);
  } catch (const CaseError&) {  // closed in an earlier run: only its history is stored
    const auto h = store ? store->history(c.id) : std::vector<Record>{};
    return {c.id, c.flow, "closed earlier", h.empty() ? "" : h.back().step, "", "", h.size(), {}, 0};
  }
  ScenarioCaseResult r;
  r.id = v.id;
  r.flow = fmt::format("{} v{}", v.flow, v.version);
  r.status = std::string(case_status_name(v.status));
  r.step = v.steps.empty() ? "" : v.steps.front();
  r.outcome = v.outcome;
  r.incident = v.incident;
  const auto history = store ? store->history(c.id) : engine.history(c.id);
  r.records = history.size();
  r.level = v.level();
  // From the records, as the report counts them: a closed case's SLA is met, breached, stopped
  // or not applicable, never "running" (docs/flow-format.md, "KPI definitions").
  std::vector<std::string> names;
  for (const auto& s : v.slas) names.push_back(s.name);
  for (const auto& [name, outcome] : sla_outcomes(history, names)) r.slas.emplace_back(name, std::string(sla_outcome_name(outcome)));
  return r;
}

}  // namespace

ScenarioResult run_scenario(const Scenario& sc, std::span<const FlowPtr> flows, Store* store) {
  ScenarioResult out;
  // An empty store's last_time() is the epoch: not a reason to move a scenario set before 1970.
  const bool resuming = store && store->last_seq() > 0;
  const TimePoint resume = resuming ? store->last_time() : min_time;
  ManualClock clock(std::max(sc.clock, resume));
  Engine engine({.clock = &clock,
                 .keep_journal = store == nullptr,
                 .journal_sink = [&](const Record& r) { out.journal.push_back(r); },
                 .store = store});
  engine.add_flows(flows);
  if (store) engine.recover();
  std::set<std::string> started;
  for (const auto& it : in_time_order(sc)) {
    const SourceLocation& where = it.start ? sc.cases[it.index].where : sc.events[it.index].where;
    if (store && it.start && store->find_case(sc.cases[it.index].id)) {
      out.skipped.push_back(fmt::format("{}: case '{}' is already in the store", where.str(), sc.cases[it.index].id));
      started.insert(sc.cases[it.index].id);
      continue;
    }
    clock.set(std::max(clock.now(), it.at));
    engine.run_due();
    try {
      if (it.start) {
        const auto& c = sc.cases[it.index];
        engine.start(c.flow, c.data, {.id = c.id, .actor = c.actor, .channel = c.channel, .roles = c.roles});
        started.insert(c.id);
      } else {
        // Every applied event writes a record; a repeated key writes none (an earlier run applied it).
        const std::size_t before = out.journal.size();
        apply_event(engine, sc.events[it.index]);
        if (store && out.journal.size() == before)
          out.skipped.push_back(fmt::format("{}: event '{}' was applied by an earlier run", where.str(), sc.events[it.index].key));
      }
    } catch (const Error& err) {
      out.refused.push_back(fmt::format("{}: {}", where.str(), err.message()));
    }
  }
  clock.set(std::max(clock.now(), sc.until));
  engine.run_due();
  for (const auto& c : sc.cases)
    if (started.count(c.id)) out.cases.push_back(case_result(engine, c, store));
  return out;
}

}  // namespace escalon
