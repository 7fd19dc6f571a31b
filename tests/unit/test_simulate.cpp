// The simulator: checked against queueing theory (Erlang C), deterministic for a seed, and
// strict about models that do not fit the flows.

#include <fmt/format.h>

#include <cmath>
#include <filesystem>
#include <set>

#include "escalon/loader.hpp"
#include "escalon/simulate.hpp"
#include "support.hpp"

using namespace escalon;
using namespace std::chrono_literals;

namespace {

const char* queue_flow = R"(flow: queue
roles: [agent]
start: serve
steps:
  serve: { role: agent, on: { done: finished } }
  finished: { end: true }
)";

std::vector<FlowPtr> flows_of(const char* yaml) {
  auto r = validate_text(yaml, "queue.yaml");
  REQUIRE(r.ok());
  return r.flows;
}

// An M/M/c queue on queue_flow: Poisson arrivals, exponential handling of 5 minutes, `agents`
// always on duty.
SimModel mmc_model(double per_day, int agents) {
  return SimModel::parse(fmt::format(R"(model: mmc
start: 2026-01-05T00:00:00Z
arrivals:
  queue: {{ per_day: {} }}
staff:
  agent: {{ agents: {} }}
steps:
  queue/serve:
    work: {{ exponential: 5m }}
    events: [ {{ send: done, p: 1 }} ]
)",
                                     per_day, agents));
}

struct Batches {
  double mean = 0, half_width = 0;
};

// Batch means: the run cut into `k` equal stretches of time; the spread of the stretch
// averages gives the run's own statistical error, autocorrelation included.
Batches batch_means(const std::vector<std::pair<TimePoint, Duration>>& waits, TimePoint from, TimePoint to, int k,
                    const std::function<double(Duration)>& f) {
  std::vector<double> sum(static_cast<std::size_t>(k), 0), n(static_cast<std::size_t>(k), 0);
  const auto span = (to - from).count();
  for (const auto& [t, w] : waits) {
    const auto b = std::min<std::size_t>(static_cast<std::size_t>(k - 1), static_cast<std::size_t>((t - from).count() * k / span));
    sum[b] += f(w);
    n[b] += 1;
  }
  std::vector<double> means;
  for (int i = 0; i < k; ++i)
    if (n[static_cast<std::size_t>(i)] > 0) means.push_back(sum[static_cast<std::size_t>(i)] / n[static_cast<std::size_t>(i)]);
  Batches b;
  for (double m : means) b.mean += m;
  b.mean /= static_cast<double>(means.size());
  double var = 0;
  for (double m : means) var += (m - b.mean) * (m - b.mean);
  var /= static_cast<double>(means.size() - 1);
  b.half_width = 4.0 * std::sqrt(var / static_cast<double>(means.size()));  // about 99.9% for 30 batches
  return b;
}

}  // namespace

TEST_CASE("erlang_c matches known values", "[simulate][erlang]") {
  CHECK(erlang_c(1, 0.5) == Approx(0.5));          // M/M/1: P(wait) = utilization
  CHECK(erlang_c(2, 1.0) == Approx(1.0 / 3.0));    // worked by hand: B = 0.2, C = 2*0.2/(2-1*0.8)
  CHECK(erlang_c(10, 8.0) == Approx(0.4092).margin(1e-4));  // textbook table value
  CHECK(erlang_c(3, 3.0) == 1.0);
}

TEST_CASE("an M/M/c queue in the simulator matches Erlang C at several loads", "[simulate][erlang]") {
  const auto flows = flows_of(queue_flow);
  struct Level {
    int agents;
    double utilization;
    int days;
  };
  // Mean handling 5 minutes; arrivals per day chosen for the utilization.
  int below_theory = 0;
  for (const Level& l : {Level{1, 0.5, 60}, Level{3, 0.8, 60}, Level{6, 0.9, 60}}) {
    const double mu_per_hour = 12.0;
    const double lambda_per_hour = l.utilization * l.agents * mu_per_hour;
    const double load = lambda_per_hour / mu_per_hour;
    const double p_wait = erlang_c(l.agents, load);
    const double mean_wait_s = p_wait / (l.agents * mu_per_hour - lambda_per_hour) * 3600.0;
    const auto model = mmc_model(lambda_per_hour * 24, l.agents);
    const auto r = simulate(flows, model, {.days = l.days, .seed = 42});
    REQUIRE(r.roles.size() == 1);
    const auto& st = r.roles[0];
    const auto pw = batch_means(st.waits, r.from, r.to, 30, [](Duration w) { return w.count() > 0 ? 1.0 : 0.0; });
    const auto mw = batch_means(st.waits, r.from, r.to, 30, [](Duration w) { return static_cast<double>(w.count()) / 1000.0; });
    INFO(fmt::format("c={} rho={}: P(wait) sim {:.4f} +- {:.4f}, Erlang C {:.4f}; mean wait sim {:.1f}s +- {:.1f}, theory {:.1f}s; "
                     "{} served, utilization {:.3f}",
                     l.agents, l.utilization, pw.mean, pw.half_width, p_wait, mw.mean, mw.half_width, mean_wait_s, st.handled,
                     st.utilization));
    CHECK(std::abs(pw.mean - p_wait) <= pw.half_width);
    CHECK(std::abs(mw.mean - mean_wait_s) <= mw.half_width);
    CHECK(st.utilization == Approx(l.utilization).margin(0.03));
    // A real test of the tolerance: it must be tight enough to tell the load levels apart.
    CHECK(pw.half_width < 0.1);
    below_theory += mw.mean < mean_wait_s ? 1 : 0;
  }
  // Arrivals that ran slow (gaps rounded up) put every mean wait below theory; unbiased ones
  // fall on both sides.
  CHECK(below_theory < 3);
}

TEST_CASE("arrivals keep the model's rate at low and high rates", "[simulate][arrivals]") {
  // A Poisson stream of `per_day` for `days` days: the count is within 4 standard deviations
  // (sqrt of the mean) of per_day x days. Gaps rounded up to whole seconds once lost 0.7 % of
  // the arrivals at 1,152 a day and 6.3 % at 11,520 a day.
  const auto flows = flows_of(queue_flow);
  struct Rate {
    int per_day, days, agents;
  };
  // About 35,000 arrivals each (4 standard deviations: 2.1 %), which catches the old loss at the
  // high rate (6.3 %) and keeps the test to a few seconds.
  for (const Rate& r : {Rate{1'152, 30, 5}, Rate{11'520, 3, 60}}) {
    const auto model = mmc_model(r.per_day, r.agents);
    for (std::uint64_t seed : {1}) {
      const auto result = simulate(flows, model, {.days = r.days, .seed = seed});
      const double expected = static_cast<double>(r.per_day) * r.days;
      const double got = static_cast<double>(result.arrivals.at("queue"));
      INFO(fmt::format("{} a day for {} days, seed {}: {} arrivals, expected {} +- {:.0f}", r.per_day, r.days, seed, got, expected,
                       4 * std::sqrt(expected)));
      CHECK(std::abs(got - expected) <= 4 * std::sqrt(expected));
    }
  }
}

namespace {

const char* priority_flow = R"(flow: prio
roles: [agent, lead]
data:
  priority: { type: enum, values: [normal, high, urgent], default: normal }
start: serve
steps:
  serve: { role: agent, on: { done: finished } }
  finished: { end: true }
)";

// Mean time in `serve` (wait + work) per priority, from the run's journal.
std::map<std::string, double> serve_minutes_by_priority(MemoryStore& store) {
  std::map<std::string, std::string> priority;
  std::map<std::string, TimePoint> entered;
  std::map<std::string, std::pair<double, int>> sum;
  store.for_each_record([&](const Record& r) {
    if (r.type == RecordType::started) priority[r.case_id] = r.data.as_map().at("priority").as_string();
    if (r.type == RecordType::entered && r.step == "serve") entered[r.case_id] = r.at;
    if (r.type == RecordType::left && r.step == "serve") {
      auto& [total, n] = sum[priority[r.case_id]];
      total += std::chrono::duration<double, std::ratio<60>>(r.at - entered[r.case_id]).count();
      ++n;
    }
  });
  std::map<std::string, double> out;
  for (const auto& [p, s] : sum) out[p] = s.first / s.second;
  return out;
}

}  // namespace

TEST_CASE("a team's queue serves higher priorities first unless the model says fifo", "[simulate][queues]") {
  const auto flows = flows_of(priority_flow);
  // One agent at 90 % load: queues form, and the order they are served in decides the waits.
  auto run = [&](const char* order) {
    const auto model = SimModel::parse(fmt::format(R"(model: prio
start: 2026-01-05T00:00:00Z
arrivals:
  prio:
    per_day: 259.2
    data:
      priority: {{ choose: {{ normal: 3, urgent: 1 }} }}
staff:
  agent: {{ agents: 1, queue: {} }}
steps:
  prio/serve:
    work: {{ exponential: 5m }}
    events: [ {{ send: done, p: 1 }} ]
)",
                                                   order));
    MemoryStore store;
    (void)simulate(flows, model, {.days = 20, .seed = 3, .store = &store});
    return serve_minutes_by_priority(store);
  };
  const auto by_priority = run("priority");
  const auto fifo = run("fifo");
  INFO(fmt::format("priority queue: normal {:.1f} min, urgent {:.1f} min; fifo: normal {:.1f} min, urgent {:.1f} min",
                   by_priority.at("normal"), by_priority.at("urgent"), fifo.at("normal"), fifo.at("urgent")));
  // Urgent cases overtake: their wait is a fraction of the normal ones'. In FIFO order both
  // wait alike (within the noise of 20 days).
  CHECK(by_priority.at("urgent") < 0.5 * by_priority.at("normal"));
  CHECK(fifo.at("urgent") == Approx(fifo.at("normal")).epsilon(0.35));
  CHECK(by_priority.at("urgent") < fifo.at("urgent"));
}

TEST_CASE("a case reassigned while it waits moves to the new team's queue", "[simulate][queues]") {
  // The agents cannot keep up; after 30 minutes in the queue a case goes to the leads, who
  // have time. Without the move it would wait for an agent all the same.
  const auto flows = flows_of(R"(flow: prio
roles: [agent, lead]
start: serve
steps:
  serve:
    role: agent
    deadline: { within: 30m, escalate: [ { at: 100%, reassign: lead } ] }
    on: { done: finished }
  finished: { end: true }
)");
  const auto model = SimModel::parse(R"(model: moves
start: 2026-01-05T00:00:00Z
arrivals:
  prio: { per_day: 480 }
staff:
  agent: { agents: 1 }
  lead: { agents: 4 }
steps:
  prio/serve:
    work: { exponential: 5m }
    events: [ { send: done, p: 1 } ]
)");
  const auto r = simulate(flows, model, {.days = 5, .seed = 9});
  const auto role = [&](const std::string& name) {
    for (const auto& st : r.roles)
      if (st.role == name) return st;
    FAIL("no role " << name);
    return SimRoleStats{};
  };
  INFO(r.text());
  CHECK(r.queue_moves > 100);
  CHECK(role("lead").handled == r.queue_moves);  // every moved case served by a lead
  CHECK(role("agent").handled + role("lead").handled + role("agent").queued_at_end + role("lead").queued_at_end + 1 >=
        r.arrivals.at("prio"));
  // Nobody waits much past the deadline: the leads take what the agent cannot at once.
  CHECK(role("lead").mean_wait < 31min);  // the 30 minutes with the agent count: it is one wait
  CHECK(r.text().find("Reassigned while waiting: ") != std::string::npos);
}

TEST_CASE("work at a booked time starts at that time, not when an agent is free", "[simulate][queues]") {
  const auto flows = flows_of(R"(flow: booking
roles: [dispatcher, technician]
data:
  slot: { type: datetime }
  note: { type: string }
start: schedule
steps:
  schedule: { role: dispatcher, on: { booked: { to: visit, set: { slot: event.slot } } } }
  visit: { role: technician, on: { fixed: done } }
  done: { end: true }
)");
  auto run = [&](bool booked) {
    const auto model = SimModel::parse(fmt::format(R"(model: booking
start: 2026-01-05T00:00:00Z
arrivals:
  booking: {{ per_day: 40 }}
staff:
  dispatcher: {{ agents: 2 }}
  technician: {{ agents: 10 }}
steps:
  booking/schedule:
    work: 5m
    events: [ {{ send: booked, p: 1, data: {{ slot: {{ after: [4h, 2d] }} }} }} ]
  booking/visit:
    work: 1h
    {}
    events: [ {{ send: fixed, p: 1 }} ]
)",
                                                   booked ? "starts_at: slot" : ""));
    MemoryStore store;
    (void)simulate(flows, model, {.days = 10, .seed = 5, .store = &store});
    // How long after its slot each visit ended.
    std::map<std::string, TimePoint> slot;
    std::vector<Duration> after_slot;
    store.for_each_record([&](const Record& r) {
      if (r.type == RecordType::data_changed && r.target == "slot") slot[r.case_id] = r.new_value.as_datetime();
      if (r.type == RecordType::left && r.step == "visit") after_slot.push_back(r.at - slot.at(r.case_id));
    });
    return after_slot;
  };
  const auto with = run(true), without = run(false);
  REQUIRE(with.size() > 300);
  REQUIRE(without.size() > 300);
  // With `starts_at`, no visit ends before its slot plus the hour of work; without it, visits
  // are done long before the customer expects the technician.
  CHECK(*std::min_element(with.begin(), with.end()) >= 1h);
  CHECK(*std::min_element(without.begin(), without.end()) < -3h);
}

TEST_CASE("starts_at names a datetime field of the flow and goes with work", "[simulate][queues]") {
  const auto flows = flows_of(priority_flow);
  const auto check = [&](const char* step_lines, std::initializer_list<const char*> needles) {
    try {
      const auto model = SimModel::parse(fmt::format(R"(model: bad
start: 2026-01-05T00:00:00Z
arrivals:
  prio: {{ per_day: 10 }}
staff:
  agent: {{ agents: 1 }}
steps:
  prio/serve:
{}
    events: [ {{ send: done, p: 1 }} ]
)",
                                                     step_lines));
      (void)simulate(flows, model, {.days = 1});
      FAIL("the model was taken");
    } catch (const FlowError& e) {
      for (const char* n : needles) CHECK_THAT(e.what(), Catch::Contains(n));
    }
  };
  check("    work: 5m\n    starts_at: priority", {"`starts_at: priority` needs a datetime field", "enum[normal, high, urgent]"});
  check("    work: 5m\n    starts_at: slto", {"flow 'prio' has no data field 'slto'"});
  check("    delay: 5m\n    starts_at: slot", {"`starts_at` is for `work:`"});
}

TEST_CASE("a model's queue order is priority or fifo", "[simulate][queues]") {
  const auto flows = flows_of(priority_flow);
  try {
    (void)SimModel::parse(R"(model: bad
start: 2026-01-05T00:00:00Z
arrivals:
  prio: { per_day: 10 }
staff:
  agent: { agents: 1, queue: lifo }
steps:
  prio/serve:
    work: 5m
    events: [ { send: done, p: 1 } ]
)");
    FAIL("a queue order of 'lifo' was taken");
  } catch (const FlowError& e) {
    CHECK_THAT(e.what(), Catch::Contains("`queue` is 'priority'") && Catch::Contains("not 'lifo'") && Catch::Contains(":6:"));
  }
}

namespace {

const char* personal_flow = R"(flow: queue
roles: [agent]
data:
  customer: { type: string, required: true, pii: true }
  product: { type: string }
start: serve
steps:
  serve: { role: agent, on: { done: finished } }
  finished: { end: true }
)";

std::string replay_model(int agents, bool customer = true, const char* prefix = "C-") {
  return fmt::format(R"(model: agents-{}
start: 2026-01-05T00:00:00Z
arrivals:
  queue:
    per_day: 200
    data:
      {}
      product: {{ choose: {{ washer: 1, oven: 1 }} }}
staff:
  agent: {{ agents: {} }}
steps:
  queue/serve:
    work: {{ exponential: 10m }}
    events: [ {{ send: done, p: 1 }} ]
)",
                     agents, customer ? fmt::format("customer: {{ sequence: \"{}\" }}", prefix) : "", agents);
}

std::vector<std::pair<TimePoint, std::string>> starts(MemoryStore& store) {
  std::vector<std::pair<TimePoint, std::string>> out;
  store.for_each_record([&](const Record& r) {
    if (r.type == RecordType::started) out.emplace_back(r.at, r.data.as_map().at("product").as_string());
  });
  return out;
}

}  // namespace

TEST_CASE("replay takes the arrivals of a real store: times, channels and data, not personal data", "[simulate][replay]") {
  const auto flows = flows_of(personal_flow);
  MemoryStore history;
  const auto real = simulate(flows, SimModel::parse(replay_model(2)), {.days = 5, .seed = 1, .store = &history});
  const std::size_t n = real.arrivals.at("queue");
  REQUIRE(n > 800);

  // Another model, another seed: the arrivals are the store's, at their times, with their data.
  MemoryStore again;
  const auto r = simulate(flows, SimModel::parse(replay_model(3, true, "R-")), {.days = 0, .seed = 99, .store = &again, .replay = &history});
  CHECK(r.replayed == n);
  CHECK(r.arrivals.at("queue") == n);
  CHECK(r.from == real.from);  // the day of the first start
  CHECK(r.to - r.from == std::chrono::days{5});
  CHECK(starts(again) == starts(history));
  CHECK(r.text().find("(replayed from a store: ") != std::string::npos);
  // The customer's name came from the model, not from the store.
  std::set<std::string> real_names, replayed_names;
  history.for_each_record([&](const Record& x) {
    if (x.type == RecordType::started) real_names.insert(x.data.as_map().at("customer").as_string());
  });
  again.for_each_record([&](const Record& x) {
    if (x.type == RecordType::started) replayed_names.insert(x.data.as_map().at("customer").as_string());
  });
  CHECK(replayed_names.size() == n);
  for (const auto& name : replayed_names) CHECK(real_names.count(name) == 0);

  // A stretch of the history: only the starts inside it, the simulation as long as it.
  const TimePoint from = real.from + std::chrono::days{1}, to = real.from + std::chrono::days{3};
  std::size_t inside = 0;
  for (const auto& [at, product] : starts(history)) inside += at >= from && at < to ? 1 : 0;
  const auto part = simulate(flows, SimModel::parse(replay_model(3)), {.days = 0, .replay = &history, .replay_from = from, .replay_to = to});
  CHECK(part.replayed == inside);
  CHECK(part.from == from);
  CHECK(part.to == to);
}

TEST_CASE("two models with one seed get the same arrivals, whatever else they change", "[simulate][replay]") {
  // Arrivals draw from generators of their own: another staff count changes the work and the
  // waits, never when cases arrive or with what data (escalon simulate --compare without --replay).
  const auto flows = flows_of(personal_flow);
  MemoryStore two_agents, three_agents;
  (void)simulate(flows, SimModel::parse(replay_model(2)), {.days = 3, .seed = 7, .store = &two_agents});
  (void)simulate(flows, SimModel::parse(replay_model(3)), {.days = 3, .seed = 7, .store = &three_agents});
  const auto a = starts(two_agents), b = starts(three_agents);
  CHECK(a.size() > 400);
  CHECK(a == b);
  MemoryStore other_seed;
  (void)simulate(flows, SimModel::parse(replay_model(2)), {.days = 3, .seed = 8, .store = &other_seed});
  CHECK(starts(other_seed) != a);
}

TEST_CASE("replay says what it cannot do", "[simulate][replay]") {
  const auto flows = flows_of(personal_flow);
  MemoryStore history;
  (void)simulate(flows, SimModel::parse(replay_model(2)), {.days = 1, .store = &history});
  // Personal data is not replayed: a required personal field needs the model's `data:`.
  try {
    (void)simulate(flows, SimModel::parse(replay_model(2, false)), {.days = 0, .replay = &history});
    FAIL("a start without the required customer was taken");
  } catch (const Error& e) {
    CHECK_THAT(e.what(), Catch::Contains("the engine refused it") && Catch::Contains("personal data is not replayed") &&
                             Catch::Contains("arrivals: queue: data:"));
  }
  MemoryStore empty;
  CHECK_THROWS_WITH(simulate(flows, SimModel::parse(replay_model(2)), {.days = 0, .replay = &empty}),
                    Catch::Contains("no case started; nothing to replay"));
  // A store of flows that are not loaded.
  const auto others = flows_of(queue_flow);
  MemoryStore of_others;
  (void)simulate(others, SimModel::parse(R"(model: q
start: 2026-01-05T00:00:00Z
arrivals: { queue: { per_day: 50 } }
staff: { agent: { agents: 1 } }
steps:
  queue/serve: { work: 5m, events: [ { send: done, p: 1 } ] }
)"),
                 {.days = 1, .store = &of_others});
  const auto renamed = flows_of(R"(flow: other
roles: [agent]
start: serve
steps:
  serve: { role: agent, on: { done: finished } }
  finished: { end: true }
)");
  CHECK_THROWS_WITH(simulate(renamed, SimModel::parse(R"(model: o
start: 2026-01-05T00:00:00Z
arrivals: { other: { per_day: 50 } }
staff: { agent: { agents: 1 } }
steps:
  other/serve: { work: 5m, events: [ { send: done, p: 1 } ] }
)"),
                             {.days = 0, .replay = &of_others}),
                    Catch::Contains("cases of flow queue, which is not loaded"));
}

TEST_CASE("two models compared on the same replayed arrivals", "[simulate][replay]") {
  const auto flows = flows_of(personal_flow);
  MemoryStore history;
  (void)simulate(flows, SimModel::parse(replay_model(2)), {.days = 10, .seed = 4, .store = &history});
  const auto two = simulate(flows, SimModel::parse(replay_model(2)), {.days = 0, .replay = &history});
  const auto three = simulate(flows, SimModel::parse(replay_model(3)), {.days = 0, .replay = &history});
  const auto rows = compare(two, three);
  const auto row = [&](const std::string& what) {
    for (const auto& r : rows)
      if (r.what == what) return r;
    FAIL("no row " << what);
    return SimCompareRow{};
  };
  CHECK(row("cases opened").a == row("cases opened").b);
  CHECK(*row("agent: agents").a == 2);
  CHECK(*row("agent: agents").b == 3);
  // One agent more: shorter waits, less busy.
  CHECK(*row("agent: mean wait").b < *row("agent: mean wait").a);
  CHECK(*row("agent: busy").b < *row("agent: busy").a);
  const std::string text = compare_text(two, "two agents", three, "three agents");
  INFO(text);
  CHECK(text.find("two agents") != std::string::npos);
  CHECK(text.find("agent: busy") != std::string::npos);
  CHECK(text.find("+1") != std::string::npos);  // the agents' change
  const std::string html = compare_html(two, "two <agents>", three, "three agents");
  CHECK(html.find("two &lt;agents&gt;") != std::string::npos);
  CHECK(html.find("<svg") != std::string::npos);
}

TEST_CASE("a simulation is deterministic for a seed and differs for another", "[simulate][determinism]") {
  const auto flows = load_flows({std::string(ESCALON_SOURCE_DIR) + "/flows"});
  const auto model = SimModel::load(std::string(ESCALON_SOURCE_DIR) + "/examples/models/technician-visit.yaml");
  auto journal = [&](std::uint64_t seed) {
    MemoryStore store;
    const auto r = simulate(flows, model, {.days = 5, .seed = seed, .store = &store});
    std::string out;
    store.for_each_record([&](const Record& rec) { out += rec.to_json() + "\n"; });
    return std::pair{out, r.text()};
  };
  const auto a = journal(7), b = journal(7), c = journal(8);
  CHECK(a.first.size() > 10000);
  CHECK(a.first == b.first);
  CHECK(a.second == b.second);
  CHECK(a.first != c.first);
}

TEST_CASE("a technician-visit month forms backlogs, escalates and reports KPIs", "[simulate]") {
  const auto flows = load_flows({std::string(ESCALON_SOURCE_DIR) + "/flows"});
  const auto model = SimModel::load(std::string(ESCALON_SOURCE_DIR) + "/examples/models/technician-visit.yaml");
  const auto r = simulate(flows, model, {.days = 30, .seed = 1});
  // About 40 requests a working day (weekday weights 1.2, 1, 1, 1, 0.9 and 0.2 on Saturday).
  const auto n = r.arrivals.at("technician-visit");
  CHECK(n > 800);
  CHECK(n < 1100);
  CHECK(r.report.opened == n);
  CHECK(r.report.completed > n / 2);
  CHECK(r.report.escalations.count(1));
  CHECK(r.report.slas.at("resolution").met > 0);
  CHECK(r.report.slas.at("resolution").breached > 0);
  CHECK(r.samples.size() == 30 * 24 + 1);  // every hour, both ends included
  CHECK(r.refused.empty());
  // Sub-flow cases ran too, and host actions were called (and sometimes failed).
  CHECK(r.step_times.count("spare-parts-order/in-transit"));
  CHECK(r.actions_called > 0);
  CHECK(r.actions_failed > 0);
  const auto html = r.html("month");
  CHECK(html.find("<svg") != std::string::npos);
  CHECK(html.find("technician-visit/schedule") != std::string::npos);
}

TEST_CASE("models that do not fit the flows are refused with their place and a fix", "[simulate][errors]") {
  const auto flows = flows_of(queue_flow);
  auto problems = [&](const char* yaml) {
    try {
      (void)simulate(flows, SimModel::parse(yaml, "m.yaml"), {.days = 1});
    } catch (const FlowError& e) {
      std::string out;
      for (const auto& d : e.diagnostics()) out += d.str() + "\n";
      return out;
    }
    return std::string("no error");
  };
  CHECK(problems(R"(model: m
start: 2026-01-05T00:00:00Z
arrivals: { queue: { per_day: 10 } }
staff: { agent: { agents: 1 } }
steps:
  queue/serv:
    work: 5m
    events: [ { send: done } ]
)") == "m.yaml:6:3: error: flow 'queue' has no step 'serv'; did you mean 'serve'?\n");
  CHECK(problems(R"(model: m
start: 2026-01-05T00:00:00Z
arrivals: { queue: { per_day: 10, data: { custmer: x } } }
steps:
  queue/serve:
    work: 5m
    events: [ { send: dne } ]
)") == "m.yaml:3:43: error: flow 'queue' has no data field 'custmer'\n"
       "m.yaml:5:3: error: step 'queue/serve' is work of role 'agent', which has no staff; add it under `staff:` (or to a team's `serves`)\n"
       "m.yaml:7:15: error: step 'serve' of flow 'queue' does not handle event 'dne'; did you mean 'done'?\n");
  // Syntax problems are found when the model is read; rates are bounded (issue "Hardening").
  for (const char* rate : {"1e9", "1000001", ".inf", "-1"}) {
    CAPTURE(rate);
    try {
      (void)SimModel::parse(fmt::format("model: m\nstart: 2026-01-05T00:00:00Z\narrivals: {{ queue: {{ per_day: {} }} }}\n", rate),
                            "m.yaml");
      FAIL("no error");
    } catch (const FlowError& e) {
      CHECK_THAT(e.diagnostics().at(0).str(), Catch::StartsWith("m.yaml:3:31: error: `per_day` must be"));
    }
  }
  try {
    (void)SimModel::parse("model: m\nstart: 2026-01-05T00:00:00Z\narrivals: { queue: { per_day: 10 } }\nsteps:\n  queue/serve:\n"
                          "    work: { exponential: 5m }\n    events: [ { send: done, p: 0.5 } ]\n",
                          "m.yaml");
    FAIL("no error");
  } catch (const FlowError& e) {
    CHECK(e.diagnostics().at(0).str() ==
          "m.yaml:7:13: error: the events' `p` add up to 0.5: work always ends with one of them, so they must add up to 1");
  }
  // A store that already holds records is refused: a simulation never mixes with real cases.
  MemoryStore used;
  const auto model = SimModel::parse(
      "model: m\nstart: 2026-01-05T00:00:00Z\narrivals: { queue: { per_day: 10 } }\nstaff: { agent: { agents: 1 } }\n", "m.yaml");
  (void)simulate(flows, model, {.days = 1, .store = &used});
  CHECK_THROWS_AS(simulate(flows, model, {.days = 1, .store = &used}), StoreError);
}
