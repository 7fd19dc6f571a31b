#pragma once
/// @file engine.hpp
/// The engine a host application embeds: it runs cases of loaded flows, fires deadlines,
/// escalations and SLAs on a clock the host controls, calls the host's actions and
/// notification listeners, and records every change in the journal.
///
/// @code
///   escalon::ManualClock clock{"2026-11-23T08:00:00Z"};
///   escalon::Engine engine{{.clock = &clock}};
///   engine.load({"flows/"});
///   engine.on_action("parts.order", [](escalon::ActionContext& a) { a.set("order_id", "PO-1"); });
///   engine.on_notify([](const escalon::Notification& n) { /* mail, pager, dashboard */ });
///   auto id = engine.start("technician-visit", {{"customer", "ACME"}, {"parts_needed", true}});
///   engine.send(id, "submit", {{"product", "TV"}, {"preferred_slots", escalon::List{"2026-11-26T09:00:00Z"}}},
///               {.actor = "agent-17", .channel = "phone"});
///   clock.advance(std::chrono::hours{30});
///   engine.run_due();                       // deadlines and escalations, in time order
///   auto c = engine.get(id);                // step, data, assignee, deadlines, SLAs
/// @endcode
///
/// What happens when (the write path of one call):
///   1. everything that fell due up to now() fires first, in (time, scheduling order);
///   2. the call is applied, or refused: a refused call throws and leaves a `rejected` record,
///      the case is unchanged;
///   3. entering a step sets its role and assignee, runs on_enter hooks, starts its deadline,
///      pauses or resumes SLAs, and runs automatic steps (decisions, actions, waits) at once;
///   4. action handlers run with the engine's lock released, in the order they arose; a call a
///      handler makes joins the calling unit (it is committed with it) and happens at the
///      handler's time (the due time of the point that started it, during a catch-up);
///   5. the call's unit of work (its records and the new state of every case it touched) is
///      committed to the store as a whole; then listeners hear of it, lock released.
/// docs/runtime.md "How a call flows" has the details.
///
/// Thread-safety: every member may be called from any thread. Calls are serialized by one lock,
/// so events to one case apply in a single order and the journal is one sequence. A case
/// changed by a call whose action handler is still running belongs to that call until it
/// commits: another thread's call to it waits.
///
/// Failures: a failure inside one case (an expression error, bad data from a handler) puts that
/// case into an incident; other cases, the runner and the host carry on.
/// Determinism: same flows, same calls in the same order, same clock readings => same journal.

#include <chrono>
#include <concepts>
#include <cstddef>
#include <functional>
#include <initializer_list>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "escalon/clock.hpp"
#include "escalon/error.hpp"
#include "escalon/flow.hpp"
#include "escalon/journal.hpp"
#include "escalon/notification.hpp"
#include "escalon/store.hpp"
#include "escalon/value.hpp"

namespace escalon {

/// Why the engine refused a call: stable names a host can branch on without parsing messages.
/// The same call gives the same code before and after a restart.
enum class Refusal : std::uint8_t {
  unknown_flow,   ///< start (or migrate): no loaded flow, or not that version
  unknown_case,   ///< no case with that id, in memory or in the store (thrown as CaseError)
  duplicate_id,   ///< start: a case with that id exists or existed (ids are never reused)
  closed,         ///< the case is completed or cancelled
  incident,       ///< the case waits in an incident: it takes no events until retry() or resolve()
  not_handled,    ///< the case's current step does not handle this event
  guard_refused,  ///< the step handles the event, but no transition's `when` holds
  bad_data,       ///< data, payload or form values that do not fit the flow's types
  wrong_state,    ///< the call does not fit the case as it is (reschedule with no running
                  ///< deadline, retry or resolve with no incident)
  bad_request,    ///< the call's arguments do not fit the flow (resolve to an unknown step,
                  ///< a migration whose cases cannot move, an idempotency key that is too long)
  key_reused,     ///< the idempotency key was used on this case for another call or payload
  not_permitted,  ///< the caller's roles do not allow the call (thrown as PermissionError)
};
/// "unknown_flow", "guard_refused", ...: the enumerator's name (Python's EventError.code).
[[nodiscard]] std::string_view refusal_name(Refusal r) noexcept;

/// A call the engine refused. When the call named a case, the case is unchanged and a
/// `rejected` record says why. Every refused call throws this (or CaseError, a kind of it):
/// bad data in start(), update(), resolve() or an event payload included.
class EventError : public Error {
 public:
  EventError(Refusal code, const std::string& message, std::string reason = {})
      : Error(message), code_(code), reason_(std::move(reason)) {}
  [[nodiscard]] Refusal code() const noexcept { return code_; }
  /// Refusal::guard_refused: the `reason:` the flow gives the transitions that refused ("consent
  /// to data processing is required"), joined with "; " when several did; empty otherwise. The
  /// message includes it too; this is the text to show an agent as it is.
  [[nodiscard]] const std::string& reason() const noexcept { return reason_; }

 private:
  Refusal code_;
  std::string reason_;
};

/// A case id that the engine (and its store) does not know; code() is Refusal::unknown_case.
class CaseError : public EventError {
 public:
  explicit CaseError(const std::string& message) : EventError(Refusal::unknown_case, message) {}
};

/// The caller's roles do not allow the call (docs/security.md); code() is
/// Refusal::not_permitted. When the call named a case, a `rejected` record says who was refused
/// and what the call needs.
class PermissionError : public EventError {
 public:
  explicit PermissionError(const std::string& message) : EventError(Refusal::not_permitted, message) {}
};

class Engine;

/// Who sent an event and through which channel (phone, email, chat, web...), and the call's
/// idempotency key.
///
/// `key`: a host that retries a call after a timeout or a crash cannot know whether the first
/// attempt was applied. With the same non-empty key, a repeated call is not applied again: it
/// returns as the first did, or throws the first one's refusal again (same code and message),
/// and writes nothing. The case remembers its keys in its stored state, so this holds across
/// restarts and after the case closed (the retry of the event that closed it succeeds). The
/// same key with another call or payload is refused (Refusal::key_reused). A key is at most
/// 200 bytes; a case remembers its newest EngineOptions::max_keys_per_case keys.
///
/// `roles`: the caller's roles (a principal: `actor` is their name). Set, the call is
/// authorized against the flow's `role:` and `allow:` and EngineOptions::access, and refused
/// with PermissionError when they do not allow it; unset, the call is the host's own and is not
/// checked (unless EngineOptions::authorization says otherwise). Authentication is the host's:
/// the engine trusts what it is told here. docs/security.md.
struct EventOptions {
  std::string actor;
  std::string channel;
  std::string key;
  std::optional<std::vector<std::string>> roles;
};

struct StartOptions {
  std::string id;        ///< the case id; empty: the engine numbers cases "<flow>-<n>"
  std::string actor;
  std::string channel;
  std::int64_t version = 0;  ///< 0: the newest loaded version of the flow
  /// Idempotency key: a repeated start with it returns the id of the case the first one
  /// created (the same flow, version, id and data; else Refusal::key_reused), in this process
  /// or after a restart (the store keeps start keys). At most 200 bytes.
  std::string key;
  /// The caller's roles, as EventOptions::roles: set, the start step's `role:` (or
  /// AccessPolicy::start) must be among them.
  std::optional<std::vector<std::string>> roles;
};

/// What an action handler sees and returns.
class ActionContext {
 public:
  ActionContext(std::string_view case_id, std::string_view step, std::string_view action, std::int32_t attempt,
                Map inputs, Map data, Engine* engine = nullptr, std::string key = {})
      : case_id_(case_id), step_(step), action_(action), attempt_(attempt), inputs_(std::move(inputs)),
        data_(std::move(data)), engine_(engine), key_(std::move(key)) {}
  [[nodiscard]] const std::string& case_id() const noexcept { return case_id_; }
  [[nodiscard]] const std::string& step() const noexcept { return step_; }
  [[nodiscard]] const std::string& action() const noexcept { return action_; }
  /// 1 for the first attempt.
  [[nodiscard]] std::int32_t attempt() const noexcept { return attempt_; }
  /// Idempotency key of this call: "<case>/<visit>/<step>/<where>:<action>/<attempt>". A
  /// handler runs inside its unit, so a crash before the unit commits means the call is made
  /// again (at least once); the repeat has the same key. Pass it to the system the handler
  /// calls so that it can drop the duplicate (docs/delivery.md).
  [[nodiscard]] const std::string& key() const noexcept { return key_; }
  /// The step's `with:` values.
  [[nodiscard]] const Map& inputs() const noexcept { return inputs_; }
  /// A copy of the case data when the action was called.
  [[nodiscard]] const Map& data() const noexcept { return data_; }
  /// A result, merged into the case data when the handler returns (must be a data field).
  void set(std::string name, Value v) { results_[std::move(name)] = std::move(v); }
  [[nodiscard]] const Map& results() const noexcept { return results_; }
  /// The engine that called the handler, so a handler need not capture it. Calls made on it
  /// from the handler join the calling unit of work (see Engine). Throws Error for a context
  /// the host made itself (a test of a handler, say) without an engine.
  [[nodiscard]] Engine& engine() const;

 private:
  std::string case_id_, step_, action_;
  std::int32_t attempt_;
  Map inputs_, data_, results_;
  Engine* engine_;
  std::string key_;
};

/// A handler signals failure by throwing (any exception): the step retries with backoff, then
/// goes to `on_error` or raises an incident. The exception's message is kept in the journal.
using ActionHandler = std::function<void(ActionContext&)>;

using NotifyHandler = std::function<void(const Notification&)>;

enum class CaseStatus : std::uint8_t { active, completed, cancelled, incident };
[[nodiscard]] std::string_view case_status_name(CaseStatus s) noexcept;

struct DeadlineView {
  std::string step;
  std::string stage;             ///< the deadline of this stage (empty: of the step itself)
  TimePoint started{};
  TimePoint due{};
  bool overdue = false;
  std::int32_t level = 0;        ///< highest escalation level fired so far (0 = none)
};

struct SlaView {
  std::string name;
  /// not_started: a `start_in:` SLA whose step or stage the case has not reached. stopped: the
  /// case closed (cancelled, or completed outside `stop_in`) before it was met or breached.
  enum class State : std::uint8_t { running, paused, met, breached, not_started, stopped } state = State::running;
  Duration elapsed{0};           ///< counted time (business time on business calendars)
  Duration remaining{0};         ///< until the target; negative once breached
  TimePoint due{};               ///< when it runs out if it keeps running
  bool warned = false;
  std::int32_t level = 0;
};
[[nodiscard]] std::string_view sla_state_name(SlaView::State s) noexcept;

/// A snapshot of one case.
struct CaseView {
  std::string id;
  std::string flow;
  std::int64_t version = 0;
  CaseStatus status = CaseStatus::active;
  std::vector<std::string> steps;   ///< current step(s)
  std::string role;
  std::string assignee;
  std::string priority;             ///< the data field `priority`, when the flow has one
  Map data;
  TimePoint started{};
  TimePoint entered{};              ///< when the current step was entered
  std::vector<DeadlineView> deadlines;
  std::vector<SlaView> slas;
  std::string outcome;
  std::string incident;             ///< why the case needs a person (status incident)
  std::string parent;               ///< the case whose sub-flow step started this one
  std::vector<std::string> children;  ///< sub-flow cases this case started
  [[nodiscard]] bool overdue() const noexcept;
  [[nodiscard]] std::int32_t level() const noexcept;   ///< highest escalation level of open deadlines
};

/// A work-queue query; empty fields do not filter. Results are sorted by priority (when the
/// flow's `priority` enum lists values from low to high: highest first), then by entered time.
struct Query {
  std::string flow;
  std::string step;
  std::string role;
  std::string assignee;
  std::optional<CaseStatus> status = CaseStatus::active;
  std::optional<bool> overdue;
  std::int32_t min_level = 0;        ///< at least this escalation level
  std::size_t limit = 0;             ///< 0: no limit
};

/// Moves open cases to another version of their flow. Every case must fit, or none moves:
/// its step must exist in the new version (under its name, or mapped in `steps`) and its data
/// must convert to the new types. A case in a step of the same kind stays in it: its deadline
/// follows the new step's `on_change` (keep the due time, recompute it from the step's entry,
/// or carry the time used), levels already fired stay fired, SLAs carry by name with their
/// original target (new SLAs start counting at the migration). A case mapped to a step of
/// another kind leaves the old step and enters the new one. Each case gets a `migrated` record.
struct Migration {
  std::string flow;                 ///< the flow id
  std::int64_t from = 0;            ///< cases on this version; 0: on any version other than `to`
  std::int64_t to = 0;              ///< 0: the newest loaded version
  /// Old step -> new step, for steps the new version renamed or removed.
  std::map<std::string, std::string, std::less<>> steps;
  std::vector<std::string> cases;   ///< only these; empty: every open case that matches
};

/// A pointer the engine either borrows or shares in owning: `&store` (the caller keeps it
/// alive, longer than the engine), or a `std::shared_ptr`/`std::unique_ptr` (the engine keeps
/// it alive as long as it needs it, so declaration order stops mattering):
/// @code
///   escalon::Engine engine{{.store = escalon::open_store("sqlite:cases.db")}};
/// @endcode
template <class T>
class Handle {
 public:
  Handle() = default;
  Handle(std::nullptr_t) {}                                           // NOLINT: implicit on purpose
  Handle(T* borrowed) : ptr_(borrowed) {}                             // NOLINT
  template <class U>
    requires std::convertible_to<U*, T*>
  Handle(std::shared_ptr<U> owned) : owner_(std::move(owned)), ptr_(owner_.get()) {}  // NOLINT
  template <class U>
    requires std::convertible_to<U*, T*>
  Handle(std::unique_ptr<U> owned) : owner_(std::move(owned)), ptr_(owner_.get()) {}  // NOLINT
  [[nodiscard]] T* get() const noexcept { return ptr_; }
  T* operator->() const noexcept { return ptr_; }
  explicit operator bool() const noexcept { return ptr_ != nullptr; }

 private:
  std::shared_ptr<T> owner_;
  T* ptr_ = nullptr;
};

/// Who reads, and whether personal data is shown (journal_jsonl).
struct ReadOptions {
  bool personal = false;  ///< show values of `pii:` fields instead of "***"
  std::string actor;
  std::optional<std::vector<std::string>> roles;  ///< set: `personal` needs AccessPolicy::read_personal
};

/// How calls that carry roles (EventOptions::roles) are checked. docs/security.md.
enum class Authorization : std::uint8_t {
  automatic,  ///< a call with roles is checked; one without is the host's own and is not
  required,   ///< as automatic, and a call without roles is refused (no trusted path left open)
  off,        ///< nothing is checked; roles are ignored
};

/// Who may make the calls a flow does not govern, and who may act beyond it. Each entry is a
/// role or `user:NAME`. An empty list grants nothing: with roles set, cancel() is refused to
/// everyone until `cancel` (or `admin`) names someone. Calls without roles (the host's own, the
/// runner, handlers) are not checked.
struct AccessPolicy {
  std::vector<std::string> admin;       ///< every call on every case
  std::vector<std::string> start;       ///< start any flow (beyond the start step's `role:`)
  std::vector<std::string> send;        ///< send any event in any step (beyond `role:` and `allow:`)
  std::vector<std::string> update;      ///< update any open case's data (beyond the current step's `role:`)
  std::vector<std::string> cancel;
  std::vector<std::string> reschedule;
  std::vector<std::string> repair;      ///< retry() and resolve() of incidents
  std::vector<std::string> migrate;
  std::vector<std::string> read_personal;  ///< see values of `pii:` fields (ReadOptions::personal)
  std::vector<std::string> erase;          ///< erase a closed case's personal data (Engine::erase)
};

struct EngineOptions {
  /// The clock; null: the system clock. Borrowed (`&clock`, it must outlive the engine) or
  /// owned (a shared_ptr or unique_ptr).
  Handle<const Clock> clock;
  /// Without a store: keep the journal in memory for history() and journal_jsonl() (it is the
  /// only copy). A host that streams records elsewhere (see `journal_sink`) can turn this off.
  /// With a store the store is the journal and the engine keeps none in memory.
  bool keep_journal = true;
  /// Called for every record, in order, while the engine lock is held: keep it short. Calling
  /// the engine from it throws escalon::Error.
  std::function<void(const Record&)> journal_sink;
  /// Where cases are kept durably; null: only in memory. Borrowed (`&store`, it must outlive the
  /// engine) or owned (`open_store("sqlite:cases.db")` gives a unique_ptr the engine keeps).
  /// Each API call commits its records and the touched cases' states before it returns (and
  /// before listeners hear of it). After a store failure the engine refuses further changes.
  /// With a store, memory holds open cases only: closed cases leave it once committed, and
  /// reads of them (get, history, journal_jsonl, query) go to the store.
  /// A shared store (PostgreSQL; docs/deployment.md) is the truth for several engines: each
  /// call loads the cases it works on from it and leaves none in memory when it returns;
  /// reads go to the store; a store failure fails that call only; due timers are claimed
  /// from the store (run_due, start_runner), so each fires once across all the engines.
  Handle<Store> store;
  /// Group commit: units of work of concurrent callers share one store transaction. The
  /// engine lock is released while a caller waits for its transaction, so other threads keep
  /// working and their units join the next one. The promise is unchanged: when a call returns,
  /// its records are durable. What changes: another thread may read (get, query) a change
  /// whose caller is still waiting for the disk. Pays off with several calling threads and
  /// fsync per commit; a single caller sees no difference.
  bool group_commit = false;
  /// Idempotency keys (EventOptions::key) a case remembers: its newest ones. A repeat of an
  /// older key is applied again, so this bounds a case's memory, not correctness for retries
  /// that come soon after their call.
  std::size_t max_keys_per_case = 10'000;
  /// A loaded flow that calls an action no handler is registered for (missing_handlers()):
  /// false, a case reaching it fails that action (retries, then `on_error` or an incident);
  /// true, every call that could run an action (start, send, run_due, recover, start_runner and
  /// the other changing calls) throws Error naming every missing handler of every loaded flow
  /// (sub-flows count), before anything fires: no case can reach one.
  bool require_handlers = false;
  /// The most steps one case may enter within one call (a send, a run_due round, a start...).
  /// A flow whose automatic steps go round without waiting for anyone (a decision leading
  /// back to a `wait: { until: now() }`) would otherwise loop until memory runs out; past the
  /// limit that case goes into an incident naming the steps that loop, and the call carries on
  /// with the other cases (a send to a case that loops is not refused: the case is). The
  /// journal of such a call stays bounded by this limit.
  std::uint32_t max_moves_per_call = 10'000;
  /// On a store shared by several engine processes (Store::shared(), PostgreSQL): how long
  /// a claim on due timers lasts. An engine that dies holding claims delays those timers by at
  /// most this much; then another engine takes them over. Firing stays exactly once either
  /// way: a late commit of an engine whose claim ran out is refused by the case's revision.
  std::chrono::milliseconds claim_lease{30'000};
  /// On a shared store: how many times a call is applied again, each time to the case as
  /// another engine left it, when that engine committed the case first (ConflictError), after
  /// a random pause that grows with each attempt (up to 50 ms). Past this the call throws
  /// ConflictError and nothing of it is stored: only callers that hammer one case from
  /// several processes at once meet it.
  std::uint32_t max_conflict_retries = 12;
  /// How failed notification deliveries are retried and when they are dead-lettered.
  DeliveryOptions delivery;
  /// Who may do what (docs/security.md).
  Authorization authorization = Authorization::automatic;
  AccessPolicy access;
  /// How long a closed case keeps its personal data (`pii: true` fields) when its flow sets
  /// no `retention:`; zero: until erase() is called. apply_retention() erases the cases past
  /// it; the runner calls that once an hour of engine time.
  Duration retention{0};
};

class Engine {
 public:
  explicit Engine(EngineOptions options = {});
  ~Engine();
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  /// Loads and checks flow files and folders (see loader.hpp). Throws FlowError with every
  /// diagnostic; on error nothing of the call is loaded.
  void load(std::span<const std::string> paths);
  void load(std::initializer_list<std::string> paths);
  /// Adds flows loaded elsewhere.
  void add_flows(std::span<const FlowPtr> flows);
  /// The loaded flows (every version).
  [[nodiscard]] std::vector<FlowPtr> flows() const;

  /// With a store: loads every open case with its step, data, deadlines, escalation levels
  /// already fired and SLA clocks, then fires what fell due while the engine was down, in time
  /// order, each point exactly once (`catch_up: latest` deadlines fire only the latest missed
  /// repeat). Call it after load(): a host that does not call it gets the same recovery from
  /// the first call that changes something (start, send, run_due, start_runner, ...), so stored
  /// cases are never overwritten. Throws StoreError, changing nothing and leaving the engine
  /// usable, when a stored case's flow version is not loaded or its state is damaged. Returns
  /// the cases recovered; 0 once the engine has recovered. On a shared store nothing is
  /// loaded (cases load when a call names them; run_due claims what is due): returns 0.
  std::size_t recover();

  /// Registers the handler of `call: name`; replaces an earlier one.
  void on_action(std::string name, ActionHandler handler);
  /// Every `call:` of a loaded flow (action steps and `on_enter`/`on_exit` hooks) that has no
  /// registered handler, one warning each at the place in the flow file that calls it. Empty
  /// when every call has a handler. See EngineOptions::require_handlers.
  [[nodiscard]] std::vector<Diagnostic> missing_handlers() const;
  /// Adds a notification listener to channel `channel` (listeners of one channel are called
  /// in the order they were added, as one delivery: if one throws, the delivery failed and is
  /// retried with all of them; give listeners their own channel names to retry them apart).
  /// A listener is a Channel like any other (see notification.hpp): its notifications go
  /// through the outbox, so after a crash they are delivered again (same Notification::key).
  void on_notify(NotifyHandler handler, std::string channel = "host");
  /// Registers a channel under `name` (mail_channel, webhook_channel, or the host's own);
  /// replaces an earlier one of that name. Register channels before recover() and the first
  /// call: a notification gets an outbox entry for each channel registered when it is raised.
  /// A stored entry whose channel is not registered waits (Engine::outbox lists it).
  void add_channel(std::string name, std::shared_ptr<Channel> channel);
  /// Entries of the outbox not delivered yet: waiting for their first try or a retry, and
  /// dead letters (gave up after DeliveryOptions::max_attempts, or a permanent failure), in
  /// order.
  [[nodiscard]] std::vector<OutboxEntry> outbox() const;
  /// Puts dead-lettered entries with this key (of this channel; empty: any channel) back in
  /// the outbox with their attempts counted from 1 again; they are delivered by the next
  /// run_due() or the runner. Returns how many entries came back.
  std::size_t redeliver(std::string_view key, std::string_view channel = {});

  /// Starts a case. Data is checked against the flow's schema: defaults applied, values
  /// converted where lossless (ISO text to datetime...), required fields demanded.
  /// Throws EventError: Refusal::unknown_flow, bad_data (no case is created, so no record),
  /// duplicate_id (an id in use, or used before: ids are never reused).
  std::string start(std::string_view flow, Map data = {}, StartOptions options = {});
  /// Sends an event. Throws CaseError for an unknown case (no record: an unknown id gains no
  /// history), EventError when the case cannot take it, recorded as `rejected`: not_handled in
  /// its step, guard_refused, bad_data (the payload does not fit the step's form), closed,
  /// incident. Every other changing call below refuses the same way.
  void send(std::string_view case_id, std::string_view event, Map payload = {}, EventOptions options = {});
  /// Changes case data from outside (a customer moved the visit): checked like `set`;
  /// deadlines whose `at:` reads a changed field are rescheduled.
  void update(std::string_view case_id, Map changes, EventOptions options = {});
  /// Cancels an active case: its deadlines and SLAs stop.
  void cancel(std::string_view case_id, std::string_view reason = {}, EventOptions options = {});
  /// Erases the personal data (`pii: true` fields) of a closed case, for good: its key is
  /// deleted (the values stay sealed and unreadable in every stored record), its personal
  /// fields are cleared, its undelivered notifications leave the outbox, and an `erased`
  /// record says who and why. Steps, times, actors and KPIs stay. Throws EventError
  /// wrong_state for an open case (cancel it first), not_permitted without AccessPolicy::erase.
  /// A case erased before is left as it is (no second record). docs/security.md, "Erasure".
  void erase(std::string_view case_id, std::string_view reason, EventOptions options = {});
  /// Erases every closed case whose retention (its flow's `retention:`, else
  /// EngineOptions::retention) has passed since it closed, as the engine's own principal.
  /// Returns their ids, in the order erased.
  std::vector<std::string> apply_retention();
  /// Moves the due time of the running deadline of the case's current step (e.g. a new
  /// visit slot). Throws EventError when the step has no deadline.
  void reschedule(std::string_view case_id, TimePoint due, EventOptions options = {});
  /// For a case in an incident: `retry` runs the failed action again; `resolve` moves the case
  /// on to `next` (or a given step) as if the action had succeeded, merging `data`.
  void retry(std::string_view case_id, EventOptions options = {});
  void resolve(std::string_view case_id, Map data = {}, std::string_view to_step = {}, EventOptions options = {});

  /// Replaces calendar `spec.name` in every loaded flow that has it (new holidays, changed
  /// hours). Running deadlines on it follow their `on_change` policy: `keep` the due time,
  /// `recompute` it from the deadline's start on the new calendar, or `carry` the business
  /// time still remaining onto the new calendar. Running SLAs always carry. Each changed due
  /// time is recorded (`deadline-set`). Returns how many flows had the calendar.
  std::size_t update_calendar(const CalendarSpec& spec);

  /// Moves open cases to another loaded version of their flow (see Migration). Throws
  /// EventError listing every case that cannot move (nothing changes then). Returns how many
  /// cases moved.
  std::size_t migrate(const Migration& migration, EventOptions options = {});

  /// Fires everything due up to the clock's now(), in time order; returns how many timers fired.
  /// On a shared store it claims due cases from the store in batches (each batch one unit),
  /// so engines calling it at once share the work and fire each point once.
  std::size_t run_due();
  /// When the next timer is due, if any (for a host's own scheduler); on a shared store, the
  /// earliest of any case in the store.
  [[nodiscard]] std::optional<TimePoint> next_due() const;

  /// Starts a background thread that fires deadlines on time: it sleeps until next_due() (at
  /// most `max_sleep`, so a ManualClock moved by the host is noticed too) and wakes early when
  /// a call schedules an earlier timer. Action handlers and listeners then also run on that
  /// thread. Idempotent; stop_runner() or the destructor stops and joins it.
  void start_runner(Duration max_sleep = std::chrono::seconds{1});
  void stop_runner();
  /// Empty while the engine works. After a commit failed (disk full, file gone, read-only), why:
  /// from then on every changing call throws StoreError and the runner has stopped, so a host
  /// that only runs the runner (escalon serve) learns it here. A shared store fails single
  /// calls instead and never sets it.
  [[nodiscard]] std::string store_failure() const;

  [[nodiscard]] CaseView get(std::string_view case_id) const;
  [[nodiscard]] std::vector<CaseView> query(const Query& q = {}) const;
  [[nodiscard]] std::vector<Record> history(std::string_view case_id) const;
  /// The whole journal (or one case's) as JSON Lines. Values of personal-data fields (`pii:`)
  /// are "***" unless `read.personal` asks for them; a caller with roles needs
  /// AccessPolicy::read_personal for that (else PermissionError). history() returns records as
  /// stored: it is the host's own read.
  [[nodiscard]] std::string journal_jsonl(std::string_view case_id = {}, const ReadOptions& read = {}) const;
  /// Cases in memory: with a store, the open ones (closed cases are in the store); without
  /// one, every case started; on a shared store, those a running call works on (usually 0).
  [[nodiscard]] std::size_t case_count() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace escalon
