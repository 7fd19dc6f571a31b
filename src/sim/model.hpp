#pragma once
// The workload model as read from YAML (src/loader/sim_model.cpp) and run by src/sim/simulate.cpp.
// Every item keeps its place in the model file, because whether a step, event or field exists
// is only known once simulate() has the flows.

#include <array>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "escalon/error.hpp"
#include "escalon/simulate.hpp"
#include "escalon/value.hpp"

namespace escalon::detail {

// How long something takes.
struct Dist {
  enum class Kind : std::uint8_t { fixed, exponential, lognormal, uniform };
  Kind kind = Kind::fixed;
  Duration mean{0};   // fixed: the value; exponential/lognormal: the mean; uniform: the low end
  Duration sd{0};     // lognormal: standard deviation; uniform: the high end
};

// Where a value of event or start data comes from.
struct Gen {
  enum class Kind : std::uint8_t { literal, choose, bernoulli, after, sequence, expr, uniform, list };
  Kind kind = Kind::literal;
  Value literal;
  std::vector<std::pair<Value, double>> choices;  // choose: value, weight
  double p = 0;                                   // bernoulli
  Duration low{0}, high{0};                       // after: now + uniform [low, high]
  std::string text;                               // sequence prefix, or expression text
  double lo = 0, hi = 0;                          // uniform numbers
  bool integer = false;                           // uniform: ints
  std::vector<Gen> items;                         // list: the item generator (items[0])
  std::int64_t count = 1;                         // list: how many
  SourceLocation where;
};

struct GenMap {
  std::vector<std::pair<std::string, Gen>> fields;  // in model order: generation is deterministic
  std::vector<SourceLocation> keys;                 // where each field is named
  SourceLocation where;
};

struct SimEvent {
  std::string event;
  double p = 1;
  GenMap data;
  SourceLocation where;
};

struct SimStep {
  std::string flow, step;                 // from the key "flow/step"
  std::optional<Dist> work;               // staff of the step's role work this long
  std::optional<Dist> delay;              // or: the outside world answers after this long
  std::string starts_at;                  // work: a datetime field of the case (a booked slot); the
                                          // case joins the queue at that time, not on entry
  SourceLocation starts_at_where;
  std::vector<SimEvent> events;
  SourceLocation where;
};

struct SimArrival {
  std::string flow;
  double per_day = 0;                     // on a weekday of weight 1
  std::array<double, 24> by_hour{};       // relative weights, local time
  std::array<double, 7> by_weekday{};     // Monday first
  GenMap data;
  Gen channel;                            // literal "" when not given
  SourceLocation where;
};

// A break each agent of a team or shift takes once a day: `for` long, inside the window
// [from, to) (seconds of the local day), the agents' starts spread evenly over the window.
struct SimBreak {
  std::int32_t from = 0, to = 0;
  std::int32_t length = 0;                // seconds
  SourceLocation where;
};

// A shift: `agents` of the team on duty from `from` to `to` (seconds of the local day; `to` <=
// `from` runs past midnight) on the days it starts on.
struct SimShift {
  std::int32_t agents = 1;
  std::int32_t from = 0, to = 0;
  std::array<bool, 7> days{};             // Monday first
  std::optional<std::vector<SimBreak>> breaks;  // the shift's own; else the team's
  SourceLocation where;
};

// A team: `role` is its name in the model (the key under `staff:`), and the role it serves when
// `serves` is empty.
struct SimStaff {
  std::string role;
  std::vector<std::string> serves;        // skills: the roles it serves, the first preferred
  std::vector<SourceLocation> serves_where;  // each one's place
  std::int32_t agents = 1;                // the sum of the shifts' when there are shifts
  std::int32_t capacity = 1;
  std::string calendar;                   // empty: always on duty
  bool fifo = false;                      // `queue: fifo`: first come, first served; else priority first
  std::vector<SimShift> shifts;           // empty: every agent on duty whenever the calendar is open
  std::vector<SimBreak> breaks;
  SourceLocation where;
  // The roles whose queues its agents take work from, in order of preference.
  [[nodiscard]] std::vector<std::string> roles() const { return serves.empty() ? std::vector<std::string>{role} : serves; }
};

struct SimAction {
  std::string name;
  double fail = 0;
  GenMap set;
  SourceLocation where;
};

struct SimModelData {
  std::string file;
  std::string name;
  std::string timezone = "UTC";
  TimePoint start{};
  std::vector<SimArrival> arrivals;
  std::vector<SimStaff> staff;
  std::vector<SimStep> steps;
  std::vector<SimAction> actions;
};

}  // namespace escalon::detail

namespace escalon::detail {
// A case start read from a real store, to be started again in the simulation.
struct Replayed {
  TimePoint at{};
  std::string id, flow, channel, actor;
  Map data;
};

// The top-level case starts of a real store in [from, to), oldest first (sim/replay.cpp).
std::vector<Replayed> read_replay(Store& store, std::span<const FlowPtr> flows, std::optional<TimePoint> from,
                                  std::optional<TimePoint> to);

// A team that serves other roles than the one it is named after (`serves:`), and its roles
// as text: "tech first, then billing".
bool skilled(const SimTeamStats& t);
std::string serves_text(const SimTeamStats& t);

// A queue's mean, p90 and longest wait and the share that waited, from its `waits`.
void sum_up_waits(SimRoleStats& stats);

// A figure of a comparison row as text ("-" when missing), and the change from a to b.
std::string compare_cell(SimCompareRow::Unit unit, std::optional<double> v);
std::string compare_change(const SimCompareRow& r);
}  // namespace escalon::detail

namespace escalon {
struct SimAccess {
  static const detail::SimModelData& data(const SimModel& m) { return *m.data_; }
  static SimModel make(std::shared_ptr<const detail::SimModelData> d) { return SimModel(std::move(d)); }
};
}  // namespace escalon
