#pragma once
// The engine's internals, shared by the runtime's components (one file each):
//
//   flow_registry.cpp  loaded flow versions and the versions the store keeps
//   case_table.cpp     cases in memory: find, add, evict (closed cases leave memory)
//   clock_math.cpp     pure clock arithmetic: due times, ladder points, re-timing
//   clocks.cpp         deadlines, SLAs, escalations, and firing their points
//   steps.cpp          entering and leaving steps, one function per step kind
//   subflows.cpp       sub-flow cases and parallel branches
//   events.cpp         events and the other calls that change one case
//   actions.cpp        host actions and hooks (handlers run with the lock released)
//   migration.cpp      moving open cases to another flow version; calendar updates
//   committer.cpp      committing a unit to the store (plain and group commit)
//   outbox.cpp         the outbox: notifications delivered to channels after the commit
//   views.cpp          CaseView and queries
//   engine.cpp         the public Engine methods and the call boundary
//
// A call's work is a Unit: the records it wrote, the cases it touched, the jobs and
// notifications it queued. The Unit lives on the calling thread's stack, is passed down as
// part of an Op, and is committed and dispatched at the end of the call. Nothing of a unit is
// kept in the engine, so a thread that takes the lock while another call runs a handler can
// never commit part of that call.

#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include <boost/container/small_vector.hpp>
#include <fmt/format.h>

#include "escalon/engine.hpp"
#include "runtime/journal_log.hpp"
#include "runtime/state.hpp"

namespace escalon::detail {

inline const std::string engine_actor = "escalon";

// Work that runs after the current step of the unit: an action call, a hook's call, or a
// parent's resumption when its sub-flow case or branch ended. Cases named here belong to the
// unit (no other unit can change or evict them before it commits).
struct Job {
  Case* c = nullptr;
  std::uint32_t visit = 0;
  std::int32_t attempt = 1;
  TimePoint at{};
  const Hook* hook = nullptr;  // on_enter/on_exit call: results merged, no retry or incident
  Case* child = nullptr;       // set: `c` resumes because this sub-flow case or branch ended
  std::string failure;         // why the child failed (empty: it completed)
};

// A notification raised in a unit; `anchor` is how many records the unit had then (its key
// names the record just before it, numbered at commit), `seq` that record's number when the
// engine numbers records at once (no store).
struct Raised {
  Notification n;
  std::size_t anchor = 0;
  std::uint64_t seq = 0;
};

// An outbox entry with its notification decoded, as the engine keeps it until delivered.
struct Delivery {
  OutboxEntry e;
  Notification n;
};

// The outbox in memory (outbox.cpp): with a store that is not shared, the engine's copy of
// the store's outbox; without a store, the only one. A queue per (case, channel) keeps the
// delivery order; one thread delivers a queue at a time.
class Outbox {
 public:
  using QueueId = std::pair<std::string, std::string>;  // case, channel
  void add(Delivery d);
  // Due entries (next_attempt <= now) at the front of each queue not in delivery, for
  // channels `usable`, of the queues in `only` (null: all); those queues are now in delivery.
  std::vector<std::vector<Delivery>> take(TimePoint now, const std::set<QueueId>* only,
                                          const std::function<bool(const std::string&)>& usable);
  // A queue's delivery ended: its first `done` entries left it (delivered or dead), and the
  // next one, when `retry` is set, was tried and waits until its new next_attempt.
  void finish(const QueueId& q, std::size_t done, const OutboxEntry* retry);
  void bury(Delivery d);  // a dead letter, kept for listing and redelivery
  std::vector<Delivery> revive(std::string_view key, std::string_view channel);
  // Removes the case's entries that no thread is delivering now (erasure.cpp).
  std::vector<OutboxRef> drop_case(std::string_view case_id);
  [[nodiscard]] std::optional<TimePoint> next_attempt(const std::function<bool(const std::string&)>& usable) const;
  [[nodiscard]] std::vector<OutboxEntry> list() const;

 private:
  struct Queue {
    std::deque<Delivery> items;
    std::size_t taken = 0;  // entries at the front that a thread is delivering now
  };
  std::map<QueueId, Queue> queues_;
  std::map<std::pair<std::string, std::string>, Delivery> dead_;  // by (key, channel)
};

struct Unit {
  std::vector<Record> records;
  // Most calls touch one case family: kept inline, a call allocates nothing for them.
  boost::container::small_vector<Case*, 4> touched;  // cases whose state changed (snapshots for the store)
  boost::container::small_vector<Case*, 2> families;  // roots this unit owns until it commits
  // A queue, run in order; a vector (with the position of the next job) because a deque
  // allocates on construction, and a Unit is made for every call.
  std::vector<Job> jobs;
  std::size_t next_job = 0;
  std::vector<Raised> raised;               // notifications of this unit, outbox entries at commit
  std::vector<Delivery> entries;            // their outbox entries, once numbered
  std::vector<OutboxEntry> outbox_changes;  // entries tried, dead-lettered or revived
  std::vector<OutboxRef> delivered;         // entries delivered: they leave the outbox
  std::set<Outbox::QueueId> fresh;          // queues that got entries from this unit
  std::vector<StoredFlow> flows;  // flow versions the store has not seen yet
  std::vector<StartKey> start_keys;  // keyed starts, for the store
  bool counters_changed = false;   // a generated case number moved on
  std::size_t fired = 0;           // timer points fired
  std::size_t held = 0;            // due points left for another unit that holds their case
  const Unit* waiting_for = nullptr;  // the unit whose case this one waits for (deadlock check)
  std::uint64_t serial = 0;           // numbered when it first moves a case (Case::moves_unit)
  // The last steps entered by cases close to max_moves_per_call, to name the loop in the incident.
  std::unordered_map<const Case*, std::vector<std::int32_t>> trails;
};

// Set on a thread while it runs an action handler: calls the handler makes to the same engine
// join the handler's unit instead of starting their own.
struct HandlerScope {
  const void* core = nullptr;
  Unit* unit = nullptr;
  const void* in_sink = nullptr;  // the engine whose journal_sink runs on this thread
  // The time the handler's job runs at (its results apply then): the handler's own calls into
  // the engine happen then too, not at whatever time run_due() was called.
  TimePoint at{};
};
HandlerScope& handler_scope();

// The transitions of the current step (or its stage) for an event: rarely more than a few,
// and looked up for every event, so kept inline.
using Candidates = boost::container::small_vector<const Transition*, 4>;

// A change that passed every check and can now be applied.
struct Change {
  std::int32_t slot;
  Value value;
};

// --------------------------------------------------------------------------- components

// Every loaded flow version, and the versions the store keeps (read once).
class FlowRegistry {
 public:
  // Adds a version; returns it as the store must keep it when the store has not seen it.
  std::optional<StoredFlow> add(FlowPtr f, Store* store);
  [[nodiscard]] FlowRt* find(std::string_view id, std::int64_t version) const;
  // A flow file whose content differs from the stored version of the same number.
  [[nodiscard]] std::optional<Diagnostic> stored_conflict(const Flow& f, Store& store);
  // A stored version that is not loaded any more, rebuilt from the text the store kept.
  FlowRt* from_store(std::string_view id, std::int64_t version, Store& store, std::vector<StoredFlow>& unseen);
  [[nodiscard]] const std::vector<std::unique_ptr<FlowRt>>& all() const { return flows_; }
  [[nodiscard]] std::vector<std::string> ids() const;

 private:
  std::map<std::pair<std::string, std::int64_t>, StoredFlow>& stored(Store& store);
  std::vector<std::unique_ptr<FlowRt>> flows_;
  std::optional<std::map<std::pair<std::string, std::int64_t>, StoredFlow>> stored_;
};

// Lets the id index be searched with a string_view, without building a std::string per call.
struct IdHash {
  using is_transparent = void;
  std::size_t operator()(std::string_view s) const noexcept { return std::hash<std::string_view>{}(s); }
};

// The cases in memory. With a store, closed cases leave once their unit is committed.
class CaseTable {
 public:
  [[nodiscard]] Case* find(std::string_view id) const;
  [[nodiscard]] Case* at(std::uint32_t slot, std::uint32_t gen) const;
  Case& add(std::unique_ptr<Case> c);
  void evict(Case& c);
  [[nodiscard]] std::size_t size() const { return by_id_.size(); }
  [[nodiscard]] bool contains(std::string_view id) const { return by_id_.find(id) != by_id_.end(); }
  // Live cases in creation order (copies and sorts: for calls that change many cases).
  [[nodiscard]] std::vector<Case*> in_order() const;
  // Live cases in slot order (no copy).
  template <class F>
  void for_each(F&& f) const {
    for (const auto& s : slots_)
      if (s.c) f(*s.c);
  }
  std::map<std::string, std::uint64_t, std::less<>> counters;  // case numbers per flow

 private:
  struct Slot {
    std::unique_ptr<Case> c;
    std::uint32_t gen = 0;
  };
  std::vector<Slot> slots_;
  std::vector<std::uint32_t> free_;
  std::unordered_map<std::string, Case*, IdHash, std::equal_to<>> by_id_;  // straight to the case: one miss less per call
  std::uint64_t serial_ = 0;
};

// The next point of every clock, earliest first. Cancelling is O(1): the clock's generation
// moves on and stale entries are skipped when they surface.
struct TimerEntry {
  TimePoint at;
  std::uint64_t seq;
  std::uint32_t slot;
  std::uint32_t case_gen;
  std::uint32_t gen;
  std::uint16_t clock;
  bool operator>(const TimerEntry& o) const { return at != o.at ? at > o.at : seq > o.seq; }
};

class TimerQueue {
 public:
  void push(TimePoint at, const Case& c, std::size_t clock, std::uint32_t gen);
  void push(const TimerEntry& e);
  [[nodiscard]] bool empty() const { return heap_.empty(); }
  [[nodiscard]] const TimerEntry& top() const { return heap_.front(); }
  void pop();
  // Whether the entry still stands for its clock's next point.
  [[nodiscard]] static bool live(const TimerEntry& e, const CaseTable& cases);
  void drop_stale(const CaseTable& cases);
  // Stale entries of cases that moved on or left memory stay until their time comes; once
  // they are most of the heap it is rebuilt from the live ones (amortized O(1) per push).
  void compact(const CaseTable& cases);

 private:
  std::vector<TimerEntry> heap_;  // a min-heap by (at, seq)
  std::uint64_t seq_ = 0;
  std::size_t compacted_ = 0;  // size after the last rebuild
};

struct GroupCommit {
  struct Pending {
    std::vector<Record> records;
    std::vector<StoredCase> cases;
    std::unordered_map<std::string, std::size_t> index;  // case id -> position in cases
    std::map<std::string, std::string> meta;
    std::vector<StoredFlow> flows;
    std::vector<StartKey> start_keys;
    std::vector<OutboxEntry> outbox;
    std::vector<OutboxRef> delivered;
  };
  std::mutex mutex;  // guards everything below
  std::condition_variable done;
  Pending pending;
  std::uint64_t enqueued = 0;
  bool committing = false;  // a transaction is being written (by a caller, without the lock)
  std::uint64_t committed = 0;
  std::string failure;
  bool conflict = false;
};

// --------------------------------------------------------------------------- the engine state

struct Core {
  explicit Core(EngineOptions o) : options(std::move(o)), clock(options.clock ? options.clock.get() : &system_clock) {}

  EngineOptions options;
  SystemClock system_clock;
  const Clock* clock;
  Store* store() const { return options.store.get(); }
  // Several engines share the store: it is the truth, memory only holds cases while a unit
  // works on them (shared.cpp).
  bool shared() const { return shared_store; }
  bool shared_store = options.store && options.store->shared();
  std::string owner = make_owner_name();  // this engine in the store's timer claims
  static std::string make_owner_name();
  Engine* self = nullptr;  // the public Engine, handed to action handlers
  TimePoint next_retention{};  // when the runner next applies retention (erasure.cpp)

  mutable std::mutex mutex;
  FlowRegistry flows;
  std::map<std::string, ActionHandler, std::less<>> actions;
  std::map<std::string, std::shared_ptr<Channel>, std::less<>> channels;
  Outbox outbox;  // not used on a shared store (the store's outbox is read there)
  // Cases this engine erased: a delivery in flight then has its entry dropped, not retried.
  std::set<std::string, std::less<>> erased_cases;
  CaseTable cases;
  mutable TimerQueue timers;
  std::uint64_t record_seq = 0;
  std::uint64_t unit_serial = 0;  // units that moved a case (Unit::serial)
  // Without a store the in-memory journal is the only copy of the history, so it is kept;
  // with one, reads go to the store and memory holds only open cases.
  // Refused calls for unknown cases are in it too, belonging to no case.
  JournalLog journal;
  // Keyed starts the store does not have yet (all of them without a store): a repeat that
  // comes while the first waits for the disk must find it too.
  std::unordered_map<std::string, StartKey> start_keys;
  std::string store_failure;  // set once a commit failed: changes are refused from then on
  GroupCommit group;
  std::condition_variable released;  // a unit committed: the case families it held are free
  std::size_t holders = 0;            // units that hold case families now
  // Handlers run so far, each with the engine lock released: while one runs, other threads'
  // calls may set points at the engine's latest time (fire_due's order check).
  std::uint64_t handler_runs = 0;
  // The latest time the engine has used (kept in the store): journal time never runs backwards,
  // even when a system clock is set back or a host restarts with an earlier clock.
  TimePoint high_water = min_time;  // not the epoch: a clock set before 1970 stays there
  bool recovering = false;
  // With a store, the stored cases are loaded once, by recover() or by the first changing call
  // (a host that forgot recover() must not number records over the stored ones).
  bool recovered = false;
  bool handlers_complete = false;  // every `call:` of the loaded flows has a handler (checked)

  std::thread runner;
  std::thread::id runner_id;
  std::condition_variable wake;
  bool runner_on = false;
  bool runner_stop = false;

  TimePoint now() {
    const TimePoint t = clock->now();
    if (t > high_water) high_water = t;
    return high_water;
  }
  void check_store() const;
};

// Clock arithmetic (clock_math.cpp): pure functions of a clock's state.
namespace clockmath {
enum class PointKind : std::uint8_t { warn, rung, due, timer };
struct Point {
  TimePoint at;
  PointKind kind;
  std::int32_t rung = -1;
};
TimePoint advance(const ClockState& k, TimePoint from, Duration d);
Duration measured(const ClockState& k, TimePoint a, TimePoint b);
TimePoint due_instant(const ClockState& k);
TimePoint share_instant(const ClockState& k, double share);
TimePoint after(const ClockState& k, TimePoint from, const DurationSpec& d);
Duration elapsed(const ClockState& k, TimePoint now);
Duration total_for(const DurationSpec& d, const Calendar* cal, TimePoint start);
// The step or stage deadline a deadline clock counts, or nullptr for SLAs and timers.
const Deadline* deadline_of(const Case& c, const ClockState& k);
const std::vector<Escalation>& ladder(const Case& c, const ClockState& k);
std::optional<Point> next_point(const Case& c, const ClockState& k);
TimePoint next_due_of(const Case& c);
void catch_up_latest(const Case& c, ClockState& k, TimePoint now);
void reset(ClockState& k);
// Re-times a running clock onto calendar `cal` by policy: keep its due time, recompute it from
// its start with `rule`, or carry the time already counted (measured on the old calendar).
void retime(ClockState& k, ReschedulePolicy policy, const Calendar* cal, const DurationSpec* rule, bool business, TimePoint now);
}  // namespace clockmath

// --------------------------------------------------------------------------- one unit's work

struct Outcome;  // what a channel made of one queue's entries (outbox.cpp)

// Everything that changes cases runs as an Op: the engine state, the call's unit, and the
// call's lock (released while host handlers run and while group commit waits for the disk).
struct Op {
  Core& m;
  Unit& u;
  std::unique_lock<std::mutex>& lk;

  // --- journal and ownership (engine.cpp)
  Record make(const Case& c, RecordType type, TimePoint at) const;
  void commit(Case* c, Record&& r);
  void to_sink(const Record& r);
  void number_records();  // with a store: sequence numbers in commit order
  void touch(Case& c);
  // Takes the case's family for this unit, waiting (lock released) while another unit that
  // has not committed holds it. Returns the case found again under `id` (it may have closed
  // and left memory meanwhile), or null.
  Case* claim(std::string_view id);
  Case* claimed = nullptr;  // the case claim() took last: the call's own case, found once
  bool claimable(const Case& c) const;
  // Waits until no other unit holds any case (calls that change many cases at once).
  void wait_for_all();
  void own(Case& c);
  void notify(const Case& c, TimePoint at, std::vector<std::string> to, std::string message, std::string reason,
              std::int32_t level, std::int32_t repeat, std::string subject = {});
  // A message template filled in for case `c` at `at`; `k` is the escalating deadline (for
  // {due}), `level` its level. A placeholder that fails shows its error in place: a message
  // must never stop an escalation.
  std::string render(const Case& c, const MessageTemplate& t, TimePoint at, const ClockState* k, std::int32_t level,
                     bool redact = false);
  // The one exception boundary for a case: a failure inside `work` puts the case into an
  // incident with the reason; other cases carry on.
  // `what()` makes the incident's context ("entering step 'x'") only when something failed:
  // formatting it up front cost ~9 % of an event.
  template <class W, class F>
  void guarded(Case& c, TimePoint at, W&& what, F&& work);

  // --- shared stores (shared.cpp)
  // Loads case `id` and the open cases of its family (parent chain, sub-flow cases, branches)
  // from the store, schedules their clocks and takes the family for this unit; null when the
  // store has no such case. A closed case is loaded alone.
  Case* load_family(std::string_view id);
  // Claims up to `batch` due cases from the store, loads them and fires what is due; returns
  // how many cases were claimed.
  std::size_t fire_claimed(TimePoint now, std::size_t batch);
  // Calls that change many cases (migrate, update_calendar): the open cases of the wanted
  // flows, loaded for this unit.
  void load_open_cases(const std::function<bool(std::string_view flow)>& wanted);
  // After the unit: its families leave memory (the store has them, or they failed to commit).
  void evict_families(const std::vector<Case*>& roots);

  // --- expressions (steps.cpp)
  struct Ctx {
    EvalContext ctx;
    Map info;
  };
  static Map case_info(const Case& c);
  static void fill(Ctx& x, const Case& c, TimePoint at, const Value* event);
  std::vector<Change> changes_for(const Case& c, const std::vector<Assignment>& set, const EvalContext& ctx) const;
  void apply_changes(Case& c, const std::vector<Change>& changes, TimePoint at, const std::string& actor = {},
                     const std::string& channel = {});
  static std::vector<Change> checked_changes(const Flow& f, const Map& values);

  // --- clocks (clocks.cpp)
  void schedule(Case& c, std::size_t idx);
  void stop_clock(Case& c, std::size_t idx);
  void start_deadline(Case& c, TimePoint at, std::optional<TimePoint> from = {});
  void set_absolute_deadline(Case& c, TimePoint due, TimePoint at);
  void record_deadline(Case& c, ClockState& k, TimePoint at, const std::string& sla = {});
  void data_changed(Case& c, TimePoint at);
  void update_slas(Case& c, TimePoint at);
  void start_stage_deadline(Case& c, std::int32_t stage, TimePoint at);
  void fire(Case& c, std::size_t idx, const clockmath::Point& p);
  void escalate(Case& c, const ClockState& k, const Escalation& e, std::int32_t level, std::int32_t repeat, TimePoint at);
  void start_timer(Case& c, TimerPurpose purpose, TimePoint when, std::int32_t attempt);
  void fire_due(TimePoint now);
  // A case read back from the store: its running clocks go into the timer queue again
  // (`catch_up: latest` skips repeats missed meanwhile); `doing` names it in an incident.
  void restart_clocks(Case& c, TimePoint now, const char* doing);

  // --- steps (steps.cpp)
  void move_to(Case& c, std::int32_t target, TimePoint at, std::int32_t in_stage = -1);
  bool count_move(Case& c, std::int32_t target);
  std::string loop_message(const Case& c) const;
  std::int32_t enter(Case& c, std::int32_t idx, TimePoint at, std::int32_t new_stage = -1);
  std::int32_t enter_kind(Case& c, TimePoint at);
  void leave(Case& c, TimePoint at);
  void change_stage(Case& c, std::int32_t from, std::int32_t to, std::int32_t target, TimePoint at);
  void assign_for_step(Case& c, TimePoint at);
  void assign(Case& c, const std::string& who, TimePoint at);
  std::int32_t decide(Case& c, TimePoint at);
  void start_wait(Case& c, TimePoint at);
  void complete(Case& c, TimePoint at);
  void raise_incident(Case& c, TimePoint at, std::string why);
  void run_hooks(Case& c, const std::vector<Hook>& hooks, TimePoint at, const char* when);
  void cancel_case(Case& c, TimePoint at, const std::string& reason, const EventOptions& o);
  void resolve(std::string_view case_id, const Map& data, std::string_view to_step, const EventOptions& options,
               TimePoint now);  // Engine::resolve (actions.cpp)
  // Erases a closed case's personal data (erasure.cpp); `erased` record, outbox entries gone.
  void erase_case(Case& c, TimePoint at, const std::string& reason, const EventOptions& o);

  // --- sub-flows and branches (subflows.cpp)
  Case& create_case(FlowRt* rt, const Map& data, std::string id, TimePoint now, const std::string& actor,
                    const std::string& channel, Case* parent);
  std::string unique_child_id(const Case& parent, std::string_view name) const;
  void start_subflow(Case& c, TimePoint at);
  void start_branches(Case& c, TimePoint at);
  void arrive(Case& b, TimePoint at);
  void branch_arrived(Case& parent, const Case& b, TimePoint at);
  void tell_parent(Case& c, TimePoint at, std::string failure);
  void resume_parent(const Job& j);
  void cancel_children(Case& c, TimePoint at, const std::string& reason);

  // --- events (events.cpp)
  [[noreturn]] void reject(Case* c, std::string_view case_id, std::string_view event, const EventOptions& o,
                           TimePoint at, Refusal code, std::string why, std::string reason = {});
  [[noreturn]] void not_handled(Case& c, std::string_view event, const EventOptions& o, TimePoint at);
  [[noreturn]] void guard_refused(Case& c, std::string_view event, const Candidates& candidates,
                                  const EventOptions& o, TimePoint at);
  Case& find(std::string_view id, std::string_view event, const EventOptions& o, TimePoint at);
  void apply_event(Case& c, std::string_view event, const Map& payload, const EventOptions& o, TimePoint at);
  Map checked_form(Case& c, std::string_view event, const Map& payload, const EventOptions& o, TimePoint at,
                   std::vector<Change>& changes, bool required);
  std::vector<Change> checked_changes(Case& c, const Map& values, std::string_view call, const EventOptions& o,
                                      TimePoint at);

  // --- authorization (access.cpp): each refuses with a `rejected` record (PermissionError)
  void authorize(Case& c, std::string_view call, const EventOptions& o, TimePoint at,
                 const std::vector<std::string>& grants, std::string_view policy, std::string_view action);
  void authorize_update(Case& c, const EventOptions& o, TimePoint at);
  void authorize_event(Case& c, std::string_view event, Candidates& candidates,
                       const EventOptions& o, TimePoint at);

  // --- idempotency keys (keys.cpp)
  // The call's key while it runs: set by replayed(), kept by remember_key() when the call was
  // applied or by reject() when it was refused, on the case the call named.
  struct KeyedCall {
    Case* c = nullptr;
    const std::string* key = nullptr;
    std::uint64_t fingerprint = 0;
  };
  KeyedCall keyed = {};
  // True when case `c` took `o.key` before: nothing is applied, and a first refusal is thrown
  // again. A key used for another call or payload is refused (key_reused). `fingerprint()`
  // hashes the call's arguments: only calls with a key pay for it.
  template <class F>
  bool replayed(Case& c, std::string_view call, const EventOptions& o, F&& fingerprint, TimePoint at) {
    return !o.key.empty() && replayed_key(c, call, o, fingerprint(), at);
  }
  bool replayed_key(Case& c, std::string_view call, const EventOptions& o, std::uint64_t fingerprint, TimePoint at);
  void remember_key(std::optional<Refusal> refusal = {}, std::string message = {}, std::string reason = {});
  // The case a start with this key created (in this process or, through the store, before);
  // key_reused when that start had other arguments.
  std::optional<std::string> started_with(const std::string& key, std::uint64_t fingerprint);
  void keep_start_key(const std::string& key, const std::string& case_id, std::uint64_t fingerprint);

  // --- actions (actions.cpp)
  void run_jobs();
  void run_job(Job& j);
  std::string call_handler(const ActionHandler& handler, ActionContext& ac, TimePoint at);
  static std::string check_results(const Case& c, const std::string& name, const Map& results, std::vector<Change>& changes);
  void action_failed(Case& c, const Job& j, const std::string& name, const std::string& error, bool has_handler);

  // --- versions (migration.cpp)
  std::size_t migrate(const Migration& mig, const EventOptions& o, TimePoint now);
  std::size_t update_calendar(const CalendarSpec& spec, TimePoint now);

  // --- commit (committer.cpp)
  void flush();
  void group_flush(std::vector<StoredCase> snaps, std::map<std::string, std::string> meta, std::vector<OutboxEntry> outbox);
  void release();  // the unit committed (or failed): its families are free again
  void dispatch();

  // --- the outbox (outbox.cpp)
  // The unit's raised notifications as outbox entries, one per registered channel (after
  // number_records: keys name records).
  void make_entries();
  // The unit committed: its entries join the engine's outbox (not on a shared store).
  void entries_committed();
  // Delivers due entries of the queues in `only` (null: every queue) with the lock released,
  // journals each outcome and commits it; again while more came due. Returns entries delivered.
  std::size_t deliver(const std::set<Outbox::QueueId>* only);
  // A record of the journal that changes no case state (delivery outcomes).
  void journal(Record r);
  // One queue's outcome: journal records, the outbox entries changed or gone.
  void record_outcome(std::vector<Delivery>& queue, const Outcome& o);
};

// Erasure (erasure.cpp): the body of Engine::erase (false: erased before); `system`: the
// engine's own call (retention), not authorized. The closed cases whose retention ran out.
bool erase_call(Op& op, TimePoint now, std::string_view case_id, std::string_view reason, const EventOptions& o,
                bool system);
// `lk` (held) is released while the store is read.
std::vector<std::string> retention_due(Core& m, std::unique_lock<std::mutex>& lk, TimePoint now);
// Whether a case was erased (by this engine, or, on a shared store, by any): its notifications
// in flight are dropped once their try ends.
bool case_erased(Core& m, const std::string& id);
// The runner's part: apply_retention once an hour of engine time (lock released meanwhile);
// true when it ran.
bool retention_tick(Core& m, std::unique_lock<std::mutex>& lk);

// The outbox's parts of the Engine API (outbox.cpp).
void add_listener(Core& m, NotifyHandler handler, std::string channel);
std::vector<OutboxEntry> outbox_entries(Core& m);
std::size_t redeliver(Core& m, std::unique_lock<std::mutex>& lk, std::string_view key, std::string_view channel);
// The stored outbox, read once at recovery (not on a shared store).
void recover_outbox(Core& m);
// Delivers the entries whose (re)try is due, in units of their own; on a shared store, those
// claimed from the store. Returns how many were delivered.
std::size_t deliver_due(Core& m, std::unique_lock<std::mutex>& lk, std::size_t rounds = static_cast<std::size_t>(-1));

// Whatever way a unit's work ends, the cases it holds are released (the lock is held again by
// then: every place that releases it takes it back before returning or throwing).
struct Releaser {
  Op& op;
  ~Releaser() { op.release(); }
};

template <class W, class F>
void Op::guarded(Case& c, TimePoint at, W&& what, F&& work) {
  try {
    work();
  } catch (const EventError&) {
    throw;  // a refused call: its `rejected` record is written and the case is unchanged
  } catch (const StoreError&) {
    throw;
  } catch (const Error& e) {
    const std::string context = what();
    raise_incident(c, at, context.empty() ? e.message() : fmt::format("{}: {}", context, e.message()));
  } catch (const std::exception& e) {
    const std::string context = what();
    raise_incident(c, at, context.empty() ? std::string(e.what()) : fmt::format("{}: {}", context, e.what()));
  }
}


// Shared stores (shared.cpp): due cases claimed per round, and the runner's loop.
// How many due cases a round claims: a round that conflicted (events for its cases came in
// meanwhile) goes again smaller, and the size grows back with each round that committed.
struct ClaimBatch {
  static constexpr std::size_t most = 100;
  std::size_t size = most;
  void conflicted() { size = std::max<std::size_t>(1, size / 4); }
  void committed() { size = std::min(most, size * 2); }
};
std::pair<std::size_t, std::size_t> shared_round(Core& m, std::unique_lock<std::mutex>& lk, ClaimBatch& batch);
void shared_runner_loop(Core& m, std::unique_lock<std::mutex>& lk, Duration max_sleep);
// A random pause before a call is applied again after a conflict (longer with each attempt).
void conflict_pause(std::uint32_t attempt);

// A refusal as the exception its code calls for (PermissionError for not_permitted).
[[noreturn]] void throw_refusal(Refusal code, const std::string& why, std::string reason = {});

// Whether a call is checked, and who it would need (access.cpp).
class Access {
 public:
  Access(const Core& m, const EventOptions& o);
  [[nodiscard]] bool checked() const noexcept { return mode_ != Mode::skip; }
  // Whether the caller holds one of `grants`; when not, they are remembered for the message
  // (`policy` names the EngineOptions::access list, said when it grants nobody).
  bool grant(const std::vector<std::string>& grants, std::string_view policy);
  // A step's `role:`, the same way; an empty one allows every caller with roles.
  bool grant_role(const std::string& role);
  [[nodiscard]] std::string denial(std::string_view action) const;

 private:
  void need(const std::vector<std::string>& grants, std::string_view policy);
  enum class Mode : std::uint8_t { skip, check, anonymous };
  const EventOptions& o_;
  Mode mode_ = Mode::skip;
  std::vector<std::string> needed_, policies_;
};
// PermissionError unless the caller may start `f` / migrate its cases (no case, no record).
void authorize_start(const Core& m, const Flow& f, const StartOptions& s);
void authorize_migrate(const Core& m, const EventOptions& o, std::string_view flow);
void authorize_personal(const Core& m, const ReadOptions& r);

// Checks of what comes in through the API (input.cpp): EventError(bad_data) for text that is
// not UTF-8 (`what` names it in the message) and for values nested too deep.
void require_utf8(std::string_view what, std::string_view s);
void require_utf8(const EventOptions& o);
void require_utf8(const std::optional<std::vector<std::string>>& roles);
void require_valid(std::string_view what, const Map& m);

// What a call and its arguments hash to (FNV-1a over a canonical form): stable across
// processes and builds, since it is stored with the case.
std::uint64_t call_fingerprint(std::string_view call, const Map* args, std::string_view extra = {});

// Sets up SLA `i` counting from `at`; not running yet: the current step decides (pause_in, role).
void start_sla(Case& c, std::size_t i, TimePoint at);

// Scans a flow's expressions for `case.*` (only flows that read it pay for building it).
bool reads_case(const Flow& f);

}  // namespace escalon::detail
