#pragma once
// Internal state of the engine: a case, its clocks, and the runtime companion of a flow.
// Shared by engine.cpp (behaviour) and snapshot.cpp (serialization for stores).

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "escalon/calendar.hpp"
#include "escalon/engine.hpp"
#include "escalon/flow.hpp"

namespace escalon::detail {

// Runtime companion of a loaded flow: compiled calendars and per-step lookups.
struct FlowRt {
  FlowPtr flow;
  std::map<std::string, std::unique_ptr<Calendar>, std::less<>> calendars;
  const Calendar* default_cal = nullptr;
  std::int32_t priority_slot = -1;
  std::vector<std::vector<char>> sla_pause, sla_stop;  // [sla][step]
  bool uses_case = false;                              // some expression reads case.*

  const Calendar* calendar(const std::string& name) const {
    if (name.empty()) return default_cal;
    auto it = calendars.find(name);
    return it == calendars.end() ? nullptr : it->second.get();
  }
};

enum class ClockKind : std::uint8_t { sla, deadline, timer };
enum class TimerPurpose : std::uint8_t { none, wait, retry };

struct RungState {
  std::int32_t count = 0;
  TimePoint last{};
};

struct ClockState {
  ClockKind kind = ClockKind::deadline;
  TimerPurpose purpose = TimerPurpose::none;
  bool active = false;
  bool running = false;
  bool warned = false;
  bool done = false;  // deadline: due passed; SLA: breached
  bool met = false;
  bool business = false;
  std::int32_t index = -1;  // SLA index, or the step index
  std::int32_t level = 0;
  std::int32_t attempt = 0;  // retry timers
  std::uint32_t gen = 0;
  std::uint32_t visit = 0;  // the step visit a deadline or timer belongs to
  const Calendar* cal = nullptr;
  Duration total{0};
  Duration consumed{0};
  TimePoint started{};
  TimePoint since{};
  TimePoint at{};  // timers
  std::vector<RungState> rungs;
};

struct Case {
  std::string id;
  FlowRt* rt = nullptr;
  CaseStatus status = CaseStatus::active;
  std::int32_t step = -1;
  std::uint32_t visit = 0;
  std::uint32_t slot = 0;
  std::vector<Value> data;
  std::string assignee;
  std::string outcome;
  std::string incident;
  TimePoint started{};
  TimePoint entered{};
  std::vector<ClockState> clocks;  // [0, slas) SLAs, then the step deadline, then the step timer
  std::vector<std::uint32_t> records;
  std::int64_t parent = -1;  // slot of the case whose sub-flow step started this one
  std::uint32_t parent_visit = 0;
  std::int32_t depth = 0;  // sub-flow nesting
  std::vector<std::uint32_t> children;
  // Parallel branches are child cases of the same flow. A branch ends when it reaches its
  // join step; the fields it changed since the fork (fork_data) are merged into the parent.
  std::int32_t join_step = -1;
  std::vector<Value> fork_data;
  std::int32_t arrivals = 0;  // parent: branches arrived at the current parallel step
  bool dirty = false;              // changed in the current unit of work (store)
  std::uint64_t last_seq = 0;      // its newest record
  std::uint64_t revision = 0;      // commits of this case so far (optimistic versions in the store)
  const Flow& flow() const { return *rt->flow; }
  const Step& current() const { return flow().steps[static_cast<std::size_t>(step)]; }
  std::size_t deadline_clock() const { return flow().slas.size(); }
  std::size_t timer_clock() const { return flow().slas.size() + 1; }
};

}  // namespace escalon::detail

namespace escalon::detail {

// The full state of a case as JSON text, for stores. `id_of(slot)` names related cases.
std::string save_case(const Case& c, const std::function<std::string(std::uint32_t)>& id_of);

// A saved case, before related cases are linked.
struct LoadedCase {
  std::unique_ptr<Case> c;
  std::string parent;
  std::vector<std::string> children;
};

// Rebuilds a case from save_case() text. `find_flow(id, version)` gives the loaded flow; a case
// whose flow version is not loaded, or whose text is damaged, throws StoreError naming the case.
LoadedCase load_case(std::string_view text, const std::function<FlowRt*(std::string_view, std::int64_t)>& find_flow);

}  // namespace escalon::detail
