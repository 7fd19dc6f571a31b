#pragma once
// Internal state of the engine: a case, its clocks, and the runtime companion of a flow.
// Shared by the runtime components and snapshot.cpp (serialization for stores).

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
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
  std::vector<std::vector<char>> sla_start;  // [sla][step]; empty for an SLA that starts with the case
  // The SLAs, the step deadline, the step timer and, when a stage has a deadline, the stage's.
  std::size_t clock_count = 2;
  bool uses_case = false;                              // some expression reads case.*

  const Calendar* calendar(const std::string& name) const {
    if (name.empty()) return default_cal;
    auto it = calendars.find(name);
    return it == calendars.end() ? nullptr : it->second.get();
  }
};

enum class ClockKind : std::uint8_t { sla, deadline, timer, stage };
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
  std::int32_t index = -1;  // SLA index, the step index, or the stage index
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
  // A deadline set to a due time already past (a back-dated `at:`, a reschedule): its points
  // before this instant, when it was set, happen at it, so no record predates the call.
  TimePoint floor = min_time;  // not the epoch: clocks before 1970 are as good as any
  std::vector<RungState> rungs;
};

struct Unit;

// An idempotency key the case took (EventOptions::key) and what came of its call: `refusal`
// is empty when the call was applied, else the refusal to repeat.
struct AppliedKey {
  std::string key;
  std::uint64_t fingerprint = 0;  // of the call and its arguments (a reused key is refused)
  std::optional<Refusal> refusal;
  std::string message;
  std::string reason;  // EventError::reason() of the refusal
};

struct Case {
  // The fields every call reads come first, in the first three cache lines; the rarely used
  // ones (sub-flows, branches, outcome) follow. The order is worth ~5 % of an event.
  std::string id;
  FlowRt* rt = nullptr;
  CaseStatus status = CaseStatus::active;
  std::int32_t step = -1;
  std::uint32_t visit = 0;
  // Where the case table keeps it. A slot is reused once a closed case leaves memory; the
  // generation tells timers of the old occupant apart from the new one's.
  std::uint32_t slot = 0;
  std::uint32_t slot_gen = 0;
  // Units of work: the unit that changed this case family and has not committed yet (kept on
  // the family's root), and whether this case is in that unit's list of touched cases.
  bool dirty = false;
  Unit* owner = nullptr;
  // The case whose sub-flow or parallel step started this one. An open case's parent is open
  // (closing a case closes its children), so the pointer is valid while this case is in memory.
  Case* parent = nullptr;
  std::vector<Value> data;
  std::uint64_t last_seq = 0;      // its newest record
  std::uint64_t revision = 0;      // commits of this case so far (optimistic versions in the store)
  TimePoint started{};
  TimePoint entered{};
  // The time of its newest record: nothing happens to the case before it (a point still due when
  // a later record was written, by a recomputed deadline or another thread or engine, happens then).
  TimePoint last_at = min_time;
  // [0, slas) SLAs, then the step deadline, the step timer and (FlowRt::clock_count) the stage deadline
  std::vector<ClockState> clocks;
  std::string assignee;
  std::uint32_t journal_last = UINT32_MAX;  // its newest record in the in-memory journal (engines without a store)
  std::uint32_t moves = 0;                   // see moves_unit (here, where it fills padding)
  std::uint64_t serial = 0;  // creation order in this process (ties in queries, migrations)
  // Why the case needs a person, and its parent's id when the parent is not linked (a closed
  // case read back from the store): most cases have neither, so they live behind a pointer.
  struct Rare {
    std::string incident;
    std::string parent_id;
    std::vector<AppliedKey> keys;  // oldest first
    // The key sealing its personal values in the store (StoredCase::secret); gone once erased.
    std::string secret;
    bool erased = false;
  };
  std::unique_ptr<Rare> rare;
  std::uint32_t parent_visit = 0;
  std::int32_t depth = 0;  // sub-flow nesting
  std::vector<std::string> children;  // ids: a closed child may have left memory
  // Parallel branches are child cases of the same flow. A branch ends when it reaches its
  // join step; the fields it changed since the fork (fork_data) are merged into the parent.
  std::int32_t join_step = -1;
  std::int32_t arrivals = 0;  // parent: branches arrived at the current parallel step
  // Steps entered within the unit numbered `moves_unit` (EngineOptions::max_moves_per_call).
  std::uint64_t moves_unit = 0;
  std::vector<Value> fork_data;
  const Flow& flow() const { return *rt->flow; }
  const Step& current() const { return flow().steps[static_cast<std::size_t>(step)]; }
  std::size_t deadline_clock() const { return flow().slas.size(); }
  std::size_t timer_clock() const { return flow().slas.size() + 1; }
  // The clock of the current stage's deadline; only when the flow has one (FlowRt::clock_count).
  std::size_t stage_clock() const { return flow().slas.size() + 2; }
  bool has_stage_clock() const { return clocks.size() > stage_clock(); }
  bool open() const { return status == CaseStatus::active || status == CaseStatus::incident; }
  // A completed case stays at its end step, whose `outcome` it is: nothing to store per case.
  const std::string& outcome() const { return status == CaseStatus::completed && step >= 0 ? current().outcome : no_text(); }
  const std::string& incident() const { return rare ? rare->incident : no_text(); }
  const std::string& parent_id() const { return rare ? rare->parent_id : no_text(); }
  const std::vector<AppliedKey>* keys() const { return rare && !rare->keys.empty() ? &rare->keys : nullptr; }
  const std::string& secret() const { return rare ? rare->secret : no_text(); }
  bool erased() const { return rare && rare->erased; }
  void set_incident(std::string why) {
    if (rare || !why.empty()) more().incident = std::move(why);
  }
  void set_parent_id(std::string id) {
    if (rare || !id.empty()) more().parent_id = std::move(id);
  }
  Rare& more() {
    if (!rare) rare = std::make_unique<Rare>();
    return *rare;
  }
  static const std::string& no_text() {
    static const std::string empty;
    return empty;
  }
  const Case& root() const {
    const Case* c = this;
    while (c->parent) c = c->parent;
    return *c;
  }
  Case& root() { return const_cast<Case&>(std::as_const(*this).root()); }
};

}  // namespace escalon::detail

namespace escalon::detail {

// The full state of a case as JSON text, for stores.
std::string save_case(const Case& c);

// A saved case, before related cases are linked.
struct LoadedCase {
  std::unique_ptr<Case> c;
  std::string parent;
};

// Rebuilds a case from save_case() text. `find_flow(id, version)` gives the loaded flow; a case
// whose flow version is not loaded, or whose text is damaged, throws StoreError naming the case.
// `stored_id`, when given, is the id the store keeps the text under: the text must name it.
// `secret` opens its sealed personal values (StoredCase::secret); without it they read as null.
LoadedCase load_case(std::string_view text, const std::function<FlowRt*(std::string_view, std::int64_t)>& find_flow,
                     std::string_view stored_id = {}, std::string_view secret = {});

}  // namespace escalon::detail
