#pragma once
/// @file simulate.hpp
/// Runs flows on a virtual clock under a workload model: cases arrive (a Poisson process whose
/// rate follows the hour of day and the weekday), teams of agents work on them during their
/// calendar's hours, shifts and breaks (a team may serve several roles, in preference order),
/// each step takes a sampled time and ends with an event chosen by probability, and customers,
/// suppliers and host actions answer after sampled delays. Cases wait in their role's queue
/// while no agent who serves it is free, so backlogs form and deadlines really are missed. The
/// real engine runs every case, so the result is the KPI report of its journal.
///
/// @code
///   auto flows = escalon::load_flows({"flows/"});
///   auto model = escalon::SimModel::load("examples/models/technician-visit.yaml");
///   auto result = escalon::simulate(flows, model, {.days = 30, .seed = 7});
///   std::cout << result.text();
/// @endcode
///
/// The model format is described in docs/simulation.md. Determinism: the same flows, model,
/// seed and days give the same journal and the same result, on any machine (the random numbers
/// come from a fixed generator and fixed transforms, not from the standard distributions, whose
/// algorithms differ between standard libraries).

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "escalon/flow.hpp"
#include "escalon/report.hpp"
#include "escalon/store.hpp"
#include "escalon/time.hpp"

namespace escalon {

namespace detail {
struct SimModelData;
}

/// A workload model read from YAML. Checked twice: its own syntax when loaded (FlowError with
/// file:line:column), and its references to flows, steps, events, roles, calendars and data
/// fields when simulate() gets the flows.
class SimModel {
 public:
  /// Throws FlowError with every problem found.
  [[nodiscard]] static SimModel load(const std::string& path);
  /// The same for text; `name` stands for the file name in messages.
  [[nodiscard]] static SimModel parse(std::string_view yaml, std::string_view name = "<model>");
  [[nodiscard]] const std::string& name() const noexcept;
  /// When the simulation starts unless SimOptions::start says otherwise.
  [[nodiscard]] TimePoint start() const noexcept;

 private:
  explicit SimModel(std::shared_ptr<const detail::SimModelData> data) : data_(std::move(data)) {}
  std::shared_ptr<const detail::SimModelData> data_;
  friend struct SimAccess;
};

struct SimOptions {
  std::int64_t days = 30;
  std::uint64_t seed = 1;
  std::optional<TimePoint> start;  ///< default: the model's `start`
  /// Where the cases go; null: an in-memory store. Not owned. Must hold no records yet.
  Store* store = nullptr;
  /// Called now and then with the share of simulated time done (0..1), e.g. for a progress bar.
  std::function<void(double)> progress;
  /// What-if on real history (docs/simulation.md): the cases started in this store (not
  /// sub-flow cases or branches), at their times, with their channels, actors and start data,
  /// are the arrivals instead of the model's random ones; the rest (work, answers, staff) comes
  /// from the model. Personal (`pii`) start data is not replayed: the model's `data:` for the
  /// flow gives it, or it is left out. Read only; not owned; another store than `store`.
  Store* replay = nullptr;
  /// The stretch of the replayed store's history: starts at `replay_from` <= t < `replay_to`.
  /// The simulation starts at `start`, else `replay_from`, else the day of the first start;
  /// with `days` = 0 it runs to `replay_to` (else the last start), rounded up to whole days.
  std::optional<TimePoint> replay_from, replay_to;
};

/// A role's queue of work, with the figures of the team named after the role (the entry
/// `staff: ROLE:`) when the model has one; other teams may serve the role too (`serves:`).
struct SimRoleStats {
  std::string role;
  std::int32_t agents = 0;             ///< of the team named after the role; 0 when only other teams serve it
  std::int32_t capacity = 1;           ///< cases one agent works on at once
  std::size_t handled = 0;             ///< work items of this role finished, by any team
  double utilization = 0;              ///< the team's busy share of its time on duty (can exceed 1 with overtime)
  double waited_share = 0;             ///< share of work items that waited for an agent
  Duration mean_wait{0}, p90_wait{0}, max_wait{0};
  std::size_t max_queue = 0;
  std::size_t queued_at_end = 0;
  /// Each work item's wait for an agent, with when it joined the queue (for batch statistics).
  std::vector<std::pair<TimePoint, Duration>> waits;
};

/// A team of the model (an entry under `staff:`): its agents, their time on duty and their work.
struct SimTeamStats {
  std::string team;                    ///< its name in the model
  std::vector<std::string> serves;     ///< the roles it works for, the first preferred
  std::int32_t agents = 0;
  std::int32_t capacity = 1;
  Duration on_duty{0};                 ///< agents' time on duty (calendar, shifts, breaks), summed
  double utilization = 0;              ///< busy share of `on_duty` x capacity (can exceed 1 with overtime)
  std::map<std::string, std::size_t> handled;  ///< work items finished, per role
};

struct SimSample {
  TimePoint at{};
  std::size_t open = 0;                              ///< open cases (sub-flows included)
  std::map<std::string, std::size_t> queued;         ///< waiting for an agent, per role
};

struct SimResult {
  TimePoint from{}, to{};
  std::uint64_t seed = 0;
  std::map<std::string, std::size_t> arrivals;       ///< cases started per flow
  std::size_t events_sent = 0;
  std::map<std::string, std::size_t> refused;        ///< "flow/step: event" -> refusals (guards that did not hold, bad data)
  std::map<std::string, std::string> refused_why;    ///< the same keys -> the engine's message for the first refusal
  std::size_t actions_called = 0, actions_failed = 0;
  std::map<std::string, std::size_t> unmodelled;     ///< "flow/step" entered but not in the model: cases wait for timers
  std::size_t queue_moves = 0;                       ///< waiting cases an escalation reassigned to another staffed team's queue
  std::size_t replayed = 0;                          ///< arrivals taken from SimOptions::replay (0: the model's)
  std::vector<SimRoleStats> roles;                   ///< one per role some team serves
  std::vector<SimTeamStats> teams;                   ///< one per entry under `staff:`, in model order
  std::vector<SimSample> samples;                    ///< hourly
  std::map<std::string, std::vector<Duration>> step_times;  ///< "flow/step" -> each finished visit
  Report report;                                     ///< the KPI report of the journal at the end
  /// The KPI report followed by the simulation's own figures (arrivals, staff, queues).
  [[nodiscard]] std::string text() const;
  /// A self-contained HTML page with SVG charts: backlog over time, time per step, SLA
  /// outcomes and escalations.
  [[nodiscard]] std::string html(std::string_view title = "Escalon simulation") const;
};

/// One line of a comparison of two runs: a figure of each, in the unit `unit`.
struct SimCompareRow {
  enum class Unit : std::uint8_t { count, percent, duration };
  std::string what;            ///< "SLA resolution met", "technician mean wait", ...
  Unit unit = Unit::count;
  std::optional<double> a, b;  ///< empty: the figure does not exist in that run (no such team, no SLA outcome yet)
};

/// Two runs side by side (`escalon simulate --compare`): cases, each SLA's met share,
/// escalations per level, each team's waits, load and queue, the backlog at the end.
[[nodiscard]] std::vector<SimCompareRow> compare(const SimResult& a, const SimResult& b);
/// The comparison as a text table, the runs named `a_name` and `b_name`, with the change.
[[nodiscard]] std::string compare_text(const SimResult& a, std::string_view a_name, const SimResult& b, std::string_view b_name);
/// The comparison as a self-contained HTML page: the table, then each run's backlog and SLA charts.
[[nodiscard]] std::string compare_html(const SimResult& a, std::string_view a_name, const SimResult& b, std::string_view b_name,
                                       std::string_view title = "Escalon: two simulations compared");

/// Runs the simulation. Throws FlowError when the model names flows, steps, events, roles,
/// calendars or fields the flows do not have (each at the model's file:line:column); StoreError
/// when the store already holds records.
[[nodiscard]] SimResult simulate(std::span<const FlowPtr> flows, const SimModel& model, const SimOptions& options = {});

/// Erlang C: the probability that a caller waits, with `agents` agents and `load` Erlangs of
/// offered traffic (arrival rate x mean handling time). 1 when load >= agents.
[[nodiscard]] double erlang_c(std::int32_t agents, double load);

}  // namespace escalon
