// The engine: cases, steps, clocks (deadlines, SLAs, waits, retries), the journal.
//
// Design:
// - A case keeps its data as a vector indexed like the flow's `data:` list (expressions were
//   compiled with those slots), its current step, and a few clocks.
// - Deadlines and SLAs are one kind of clock: a length `total` measured in wall or business
//   time, `consumed` before `since`, and a `running` flag (SLAs pause). Escalation shares,
//   warnings and the due time are points on that clock; `after:` levels and repeats are
//   offsets from the due time or the previous firing.
// - One binary heap of (time, sequence) holds the next point of every clock. Cancelling is
//   O(1): the clock's generation moves on and stale heap entries are skipped when popped.
//   Processing a point happens at the point's own time, so a journal does not depend on how
//   late run_due() was called.
// - Host callbacks run with the lock released, in the order they arose (FIFO): action handlers
//   right after the unit of work that called them, notifications at the end of the API call.

#include "escalon/engine.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <condition_variable>
#include <deque>
#include <filesystem>
#include <mutex>
#include <queue>
#include <set>
#include <thread>
#include <unordered_map>

#include "escalon/calendar.hpp"
#include "escalon/loader.hpp"
#include "expr/node.hpp"
#include "runtime/state.hpp"
#include "model/suggest.hpp"

namespace escalon {

std::string_view case_status_name(CaseStatus s) noexcept {
  switch (s) {
    case CaseStatus::active:
      return "active";
    case CaseStatus::completed:
      return "completed";
    case CaseStatus::cancelled:
      return "cancelled";
    case CaseStatus::incident:
      return "incident";
  }
  return "?";
}

std::string_view sla_state_name(SlaView::State s) noexcept {
  switch (s) {
    case SlaView::State::running:
      return "running";
    case SlaView::State::paused:
      return "paused";
    case SlaView::State::met:
      return "met";
    case SlaView::State::breached:
      return "breached";
  }
  return "?";
}

bool CaseView::overdue() const noexcept {
  return std::any_of(deadlines.begin(), deadlines.end(), [](const DeadlineView& d) { return d.overdue; });
}

std::int32_t CaseView::level() const noexcept {
  std::int32_t l = 0;
  for (const auto& d : deadlines) l = std::max(l, d.level);
  return l;
}

using detail::Case;
using detail::ClockKind;
using detail::ClockState;
using detail::FlowRt;
using detail::RungState;
using detail::TimerPurpose;

namespace {

constexpr int max_automatic_moves = 1000;
const std::string engine_actor = "escalon";

struct HeapEntry {
  TimePoint at;
  std::uint64_t seq;
  std::uint32_t slot;
  std::uint16_t clock;
  std::uint32_t gen;
  bool operator>(const HeapEntry& o) const { return at != o.at ? at > o.at : seq > o.seq; }
};

struct Job {  // work that runs after the current unit: an action call, or a parent's resumption
  std::uint32_t slot;
  std::uint32_t visit;
  std::int32_t attempt;
  TimePoint at;
  bool hook = false;  // on_enter/on_exit call: results merged, no retry or incident
  const Hook* hook_def = nullptr;
  bool resume = false;  // a sub-flow case ended: resume its parent (slot, visit)
  std::uint32_t child = 0;
  std::string failure;  // why the child failed (empty: it completed)
};

constexpr int max_subflow_depth = 8;

enum class PointKind : std::uint8_t { warn, rung, due, timer };
struct Point {
  TimePoint at;
  PointKind kind;
  std::int32_t rung = -1;
};

// A change that passed every check and can now be applied.
struct Change {
  std::int32_t slot;
  Value value;
};

std::string join(const std::vector<std::string>& v) { return fmt::format("{}", fmt::join(v, ",")); }

// Lets the id index be searched with a string_view, without building a std::string per call.
struct IdHash {
  using is_transparent = void;
  std::size_t operator()(std::string_view s) const noexcept { return std::hash<std::string_view>{}(s); }
};

}  // namespace

struct Engine::Impl {
  EngineOptions options;
  SystemClock system_clock;
  const Clock* clock;

  mutable std::mutex mutex;
  std::vector<std::unique_ptr<FlowRt>> flows;
  std::map<std::string, ActionHandler, std::less<>> actions;
  std::vector<NotifyHandler> listeners;

  std::vector<std::unique_ptr<Case>> cases;
  std::unordered_map<std::string, std::uint32_t, IdHash, std::equal_to<>> by_id;
  std::map<std::string, std::uint64_t, std::less<>> id_counters;

  mutable std::priority_queue<HeapEntry, std::vector<HeapEntry>, std::greater<>> heap;
  std::uint64_t timer_seq = 0;
  std::uint64_t record_seq = 0;
  std::vector<Record> journal;
  std::vector<Record> orphan_records;  // rejected calls for unknown cases
  std::deque<Job> jobs;
  std::vector<Notification> outbox;

  // Store: what the current unit of work wrote, committed together at its end.
  std::vector<Record> unit_records;
  std::vector<std::uint32_t> touched;
  std::vector<StoredFlow> unit_flows;  // flow versions the store has not seen yet
  std::optional<std::map<std::pair<std::string, std::int64_t>, StoredFlow>> stored_flows;  // read once
  bool recovering = false;
  bool counters_changed = false;  // a generated case number moved on in this unit
  std::string store_failure;
  struct GroupCommit {
    struct Pending {
      std::vector<Record> records;
      std::vector<StoredCase> cases;
      std::unordered_map<std::string, std::size_t> index;  // case id -> position in cases
      std::map<std::string, std::string> meta;
      std::vector<StoredFlow> flows;
    };
    std::mutex mutex;  // guards everything below
    std::condition_variable done;
    Pending pending;
    std::uint64_t enqueued = 0;
    bool committing = false;  // a transaction is being written (by a caller, without the lock)
    std::uint64_t committed = 0;
    std::string failure;
    bool conflict = false;
  } group;
  // The latest time the engine has used (kept in the store): journal time never runs backwards,
  // even when a system clock is set back or a host restarts with an earlier clock.
  TimePoint high_water{};

  TimePoint now() {
    const TimePoint t = clock->now();
    if (t > high_water) high_water = t;
    return high_water;
  }  // set once a commit failed: changes are refused from then on

  std::thread runner;
  std::condition_variable wake;
  bool runner_on = false;
  bool runner_stop = false;

  explicit Impl(EngineOptions o) : options(std::move(o)), clock(options.clock ? options.clock : &system_clock) {}

  // ------------------------------------------------------------------------- journal

  Record make(const Case& c, RecordType type, TimePoint at) const {
    Record r;
    r.at = at;
    r.case_id = c.id;
    r.type = type;
    if (c.step >= 0) r.step = c.current().name;
    return r;
  }

  void touch(Case& c) {
    if (!options.store || recovering || c.dirty) return;
    c.dirty = true;
    touched.push_back(c.slot);
  }

  void commit(Case* c, Record r) {
    r.seq = ++record_seq;
    if (c) {
      c->last_seq = r.seq;
      touch(*c);
    }
    if (options.store) unit_records.push_back(r);
    if (options.journal_sink) options.journal_sink(r);
    if (!options.keep_journal) return;
    if (c) c->records.push_back(static_cast<std::uint32_t>(journal.size()));
    journal.push_back(std::move(r));
  }

  // ------------------------------------------------------------------------- flows

  void add_flow(FlowPtr f) {
    for (const auto& rt : flows)
      if (rt->flow->id == f->id && rt->flow->version == f->version) {
        if (rt->flow->content_hash == f->content_hash) return;
        throw Error(fmt::format("flow '{}' version {} is already loaded with other content; give the changed flow a "
                                "new version",
                                f->id, f->version),
                    f->where);
      }
    auto rt = std::make_unique<FlowRt>();
    rt->flow = f;
    for (const auto& [name, spec] : f->calendars) rt->calendars.emplace(name, std::make_unique<Calendar>(spec));
    rt->default_cal = rt->calendar(f->calendar);
    for (std::size_t i = 0; i < f->data.size(); ++i)
      if (f->data[i].name == "priority") rt->priority_slot = static_cast<std::int32_t>(i);
    for (const auto& sla : f->slas) {
      std::vector<char> pause(f->steps.size(), 0), stop(f->steps.size(), 0);
      for (const auto& p : sla.pause_in) pause[static_cast<std::size_t>(f->step_index(p))] = 1;
      for (const auto& p : sla.stop_in) stop[static_cast<std::size_t>(f->step_index(p))] = 1;
      if (sla.stop_in.empty())
        for (std::size_t i = 0; i < f->steps.size(); ++i) stop[i] = f->steps[i].kind == StepKind::end;
      rt->sla_pause.push_back(std::move(pause));
      rt->sla_stop.push_back(std::move(stop));
    }
    // Building `case.*` for every evaluation costs a map; only flows that read it pay for it.
    // Every expression of the flow is scanned: one missed place would read null silently.
    auto scan = [&](const Expression& e) {
      rt->uses_case = rt->uses_case || e.text().find("case") != std::string::npos;
    };
    auto scan_all = [&](const std::vector<Assignment>& v) {
      for (const auto& a : v) scan(a.value);
    };
    auto scan_ladder = [&](const std::vector<Escalation>& ladder) {
      for (const auto& e : ladder) scan_all(e.set);
    };
    for (const auto& s : f->steps) {
      scan(s.assign);
      for (const auto& t : s.on) {
        scan(t.when);
        scan_all(t.set);
      }
      for (const auto& t : s.branches) {
        scan(t.when);
        scan_all(t.set);
      }
      scan_all(s.with);
      scan_all(s.input);  // `output:` runs over the child's data, which always gets case.* (see the sub-flow resumption)
      for (const auto* hooks : {&s.on_enter, &s.on_exit})
        for (const auto& h : *hooks) scan_all(h.with);
      if (s.deadline) {
        scan(s.deadline->at);
        scan_ladder(s.deadline->escalate);
      }
      scan(s.wait_until);
    }
    for (const auto& sla : f->slas) scan_ladder(sla.escalate);
    for (const auto& table : f->rules) {
      for (const auto& col : table.inputs) scan(col.input);
      for (const auto& row : table.rows) {
        for (const auto& e : row.tests) scan(e);
        for (const auto& e : row.outputs) scan(e);
      }
    }
    flows.push_back(std::move(rt));
    if (options.store) {
      auto& stored = stored_versions();
      if (!stored.contains({f->id, f->version})) {
        StoredFlow sf{f->id, f->version, f->content_hash, f->file, f->source};
        stored.emplace(std::pair{f->id, f->version}, sf);
        unit_flows.push_back(std::move(sf));
      }
    }
  }

  // Flow versions: the store keeps every version cases may run on. A file whose content
  // differs from the stored version of the same number would silently change running cases.
  std::map<std::pair<std::string, std::int64_t>, StoredFlow>& stored_versions() {
    if (!stored_flows) {
      stored_flows.emplace();
      for (auto& sf : options.store->flows()) stored_flows->emplace(std::pair{sf.id, sf.version}, std::move(sf));
    }
    return *stored_flows;
  }

  std::optional<Diagnostic> stored_version_conflict(const Flow& f) {
    const auto& stored = stored_versions();
    auto it = stored.find({f.id, f.version});
    if (it == stored.end() || it->second.hash == f.content_hash) return std::nullopt;
    std::int64_t newest = f.version;
    for (const auto& [key, sf] : stored)
      if (key.first == f.id) newest = std::max(newest, key.second);
    return Diagnostic{Severity::error, f.where,
                      fmt::format("flow '{}' version {} is already in the store with other content (stored from {}, hash "
                                  "{}; this file has hash {}); cases may be running on it: give the changed flow "
                                  "`version: {}`, then migrate open cases (Engine::migrate) if they should move",
                                  f.id, f.version, it->second.file, it->second.hash, f.content_hash, newest + 1)};
  }

  // A stored flow version that is not loaded any more (the file moved on): rebuilt from the
  // text the store kept, so its open cases carry on where they were.
  FlowRt* stored_flow_rt(std::string_view id, std::int64_t version) {
    const auto& stored = stored_versions();
    auto it = stored.find({std::string(id), version});
    if (it == stored.end()) return nullptr;
    const StoredFlow& sf = it->second;
    const auto dir = std::filesystem::path(sf.file).parent_path().string();
    const auto res = validate_text(sf.source, sf.file, dir.empty() ? "." : dir);
    if (!res.ok() || res.flows.size() != 1) {
      const std::string why = res.diagnostics.empty() ? "no flow in it" : res.diagnostics.front().str();
      throw StoreError(fmt::format("flow '{}' version {} as kept in the store does not load any more: {}; restore the "
                                   "files it includes, or load that version from a file",
                                   id, version, why));
    }
    if (res.flows.front()->content_hash != sf.hash)
      throw StoreError(fmt::format("flow '{}' version {} as kept in the store no longer matches its hash: a file it "
                                   "includes ({}) changed since; restore it, or load that version from a file",
                                   id, version, fmt::join(res.flows.front()->includes, ", ")));
    add_flow(res.flows.front());
    return find_flow(id, version);
  }

  FlowRt* find_flow(std::string_view id, std::int64_t version) const {
    FlowRt* best = nullptr;
    for (const auto& rt : flows) {
      if (rt->flow->id != id) continue;
      if (version ? rt->flow->version == version : (!best || rt->flow->version > best->flow->version)) best = rt.get();
    }
    return best;
  }

  // ------------------------------------------------------------------------- expressions

  Map case_info(const Case& c) const {
    Map m{{"id", c.id},           {"flow", c.flow().id},  {"version", c.flow().version},
          {"started", c.started}, {"entered", c.entered}, {"assignee", c.assignee}};
    if (c.step >= 0) {
      m["step"] = c.current().name;
      m["role"] = c.current().role;
    }
    return m;
  }

  struct Ctx {
    EvalContext ctx;
    Map info;
  };

  // The evaluation context of a case at time `at` (with `event` as payload, if any).
  void fill(Ctx& x, const Case& c, TimePoint at, const Value* event) const {
    x.ctx.fields = std::span<const Value>(c.data);
    x.ctx.event = event;
    x.ctx.now = at;
    x.ctx.calendar = c.rt->default_cal;
    x.ctx.rules = &c.flow().rules;
    if (c.rt->uses_case) {
      x.info = case_info(c);
      x.ctx.case_info = &x.info;
    }
  }

  // Evaluates assignments into checked changes without touching the case.
  std::vector<Change> changes_for(const Case& c, const std::vector<Assignment>& set, const EvalContext& ctx) const {
    std::vector<Change> out;
    for (const auto& a : set) {
      const auto slot = c.flow().find_field(a.field) - c.flow().data.data();
      const DataField& f = c.flow().data[static_cast<std::size_t>(slot)];
      out.push_back({static_cast<std::int32_t>(slot), f.type.coerce(a.value.evaluate(ctx), a.field)});
    }
    return out;
  }

  void apply_changes(Case& c, const std::vector<Change>& changes, TimePoint at, const std::string& actor = {},
                     const std::string& channel = {}) {
    bool changed = false;
    for (const auto& ch : changes) {
      Value& v = c.data[static_cast<std::size_t>(ch.slot)];
      if (v == ch.value && v.kind() == ch.value.kind()) continue;
      Record r = make(c, RecordType::data_changed, at);
      r.target = c.flow().data[static_cast<std::size_t>(ch.slot)].name;
      r.old_value = v;
      r.new_value = ch.value;
      r.actor = actor;
      r.channel = channel;
      v = ch.value;
      commit(&c, std::move(r));
      changed = true;
    }
    if (changed) data_changed(c, at);
  }

  // A deadline with `at:` follows the data it reads (e.g. the booked slot).
  void data_changed(Case& c, TimePoint at) {
    if (c.status != CaseStatus::active || c.step < 0) return;
    const auto& dl = c.current().deadline;
    if (!dl || dl->at.empty()) return;
    ClockState& k = c.clocks[c.deadline_clock()];
    Ctx x;
    fill(x, c, at, nullptr);
    Value due;
    try {
      due = dl->at.evaluate(x.ctx);
    } catch (const EvalError& e) {
      raise_incident(c, at, e.what());
      return;
    }
    if (due.kind() != Value::Kind::datetime) return;
    if (k.active && due_instant(k) == due.as_datetime()) return;
    set_absolute_deadline(c, due.as_datetime(), at);
  }

  // ------------------------------------------------------------------------- clocks

  static TimePoint advance(const ClockState& k, TimePoint from, Duration d) {
    if (d <= Duration{0}) return from;
    return k.business && k.cal ? k.cal->add_business_time(from, d) : from + d;
  }
  static Duration measured(const ClockState& k, TimePoint a, TimePoint b) {
    return k.business && k.cal ? k.cal->business_time_between(a, b) : b - a;
  }
  static TimePoint due_instant(const ClockState& k) { return advance(k, k.since, k.total - k.consumed); }
  static TimePoint share_instant(const ClockState& k, double share) {
    const Duration threshold{static_cast<std::int64_t>(static_cast<double>(k.total.count()) * share)};
    return advance(k, k.since, threshold - k.consumed);
  }
  static TimePoint after(const ClockState& k, TimePoint from, const DurationSpec& d) {
    if (!d.is_business() || !k.cal) return from + d.length;
    return k.cal->due(from, d);
  }
  Duration elapsed(const ClockState& k, TimePoint now) const {
    return k.consumed + (k.running ? measured(k, k.since, now) : Duration{0});
  }

  const std::vector<Escalation>& ladder(const Case& c, const ClockState& k) const {
    static const std::vector<Escalation> none;
    if (k.kind == ClockKind::sla) return c.flow().slas[static_cast<std::size_t>(k.index)].escalate;
    if (k.kind == ClockKind::deadline) return c.flow().steps[static_cast<std::size_t>(k.index)].deadline->escalate;
    return none;
  }

  std::optional<Point> next_point(const Case& c, const ClockState& k) const {
    if (!k.active) return std::nullopt;
    if (k.kind == ClockKind::timer) return Point{k.at, PointKind::timer};
    if (!k.running) return std::nullopt;
    std::optional<Point> best;
    auto consider = [&](TimePoint t, PointKind kind, std::int32_t rung) {
      if (!best || t < best->at) best = Point{t, kind, rung};  // ties: the earlier candidate wins
    };
    if (k.kind == ClockKind::sla && !k.warned) {
      const auto& sla = c.flow().slas[static_cast<std::size_t>(k.index)];
      if (sla.warn_at) consider(share_instant(k, *sla.warn_at), PointKind::warn, -1);
    }
    const auto& rungs = ladder(c, k);
    for (std::size_t i = 0; i < rungs.size(); ++i) {
      const Escalation& e = rungs[i];
      const RungState& st = k.rungs[i];
      if (st.count == 0) {
        consider(e.anchor == Escalation::Anchor::share ? share_instant(k, e.share) : after(k, due_instant(k), e.offset),
                 PointKind::rung, static_cast<std::int32_t>(i));
      } else if (e.repeat && (!e.max || st.count <= *e.max)) {
        consider(after(k, st.last, *e.repeat), PointKind::rung, static_cast<std::int32_t>(i));
      }
    }
    if (!k.done) consider(due_instant(k), PointKind::due, -1);
    return best;
  }

  void schedule(Case& c, std::size_t idx) {
    ClockState& k = c.clocks[idx];
    ++k.gen;
    touch(c);
    if (auto p = next_point(c, k)) {
      heap.push({p->at, ++timer_seq, c.slot, static_cast<std::uint16_t>(idx), k.gen});
      if (runner_on) wake.notify_one();
    }
  }

  // `catch_up: latest`: of the repeats of a level missed while the engine was down, only the
  // latest fires on recovery (the skipped ones keep their numbers, so the latest is numbered
  // as if all had fired).
  void catch_up_latest(Case& c, std::size_t idx, TimePoint now) {
    ClockState& k = c.clocks[idx];
    if (k.kind != ClockKind::deadline || !k.running) return;
    const auto& dl = c.flow().steps[static_cast<std::size_t>(k.index)].deadline;
    if (!dl || dl->catch_up != CatchUp::latest) return;
    const auto& rungs = dl->escalate;
    for (std::size_t i = 0; i < rungs.size(); ++i) {
      const Escalation& e = rungs[i];
      RungState& st = k.rungs[i];
      if (!e.repeat || st.count == 0) continue;
      while (!e.max || st.count <= *e.max) {
        const TimePoint next = after(k, st.last, *e.repeat);
        if (next > now) break;
        const TimePoint after_next = after(k, next, *e.repeat);
        if (after_next > now || (e.max && st.count + 1 > *e.max)) break;  // `next` is the latest missed one
        ++st.count;
        st.last = next;
      }
    }
  }

  // Reinitialises a clock slot. The generation carries on, so heap entries of the clock's
  // previous use can never match the new one.
  static void reset_clock(ClockState& k) {
    const auto gen = k.gen + 1;
    k = ClockState{};
    k.gen = gen;
  }

  void stop_clock(Case& c, std::size_t idx) {
    ClockState& k = c.clocks[idx];
    touch(c);
    k.active = false;
    ++k.gen;
  }

  // Starts the current step's deadline, measured from `from` (when the step was entered; a
  // migrated case's deadline is measured from its original entry) and recorded at `at`.
  void start_deadline(Case& c, TimePoint at, std::optional<TimePoint> from = {}) {
    const Step& s = c.current();
    ClockState& k = c.clocks[c.deadline_clock()];
    reset_clock(k);
    k.kind = ClockKind::deadline;
    k.index = c.step;
    k.visit = c.visit;
    const TimePoint start = from.value_or(at);
    k.started = k.since = start;
    k.rungs.resize(s.deadline->escalate.size());
    if (s.deadline->within) {
      const DurationSpec& d = *s.deadline->within;
      k.cal = c.rt->calendar(s.deadline->calendar);
      k.business = d.is_business() && k.cal;
      k.total = d.basis == TimeBasis::business_days && k.cal
                    ? k.cal->business_time_between(start, k.cal->add_business_days(start, d.days))
                    : d.length;
      k.active = k.running = true;
      record_deadline(c, k, at);
      schedule(c, c.deadline_clock());
      return;
    }
    // `at:` — absolute; no deadline while the expression gives null (e.g. no slot booked yet).
    Ctx x;
    fill(x, c, at, nullptr);
    const Value due = s.deadline->at.evaluate(x.ctx);
    if (due.kind() == Value::Kind::datetime) set_absolute_deadline(c, due.as_datetime(), at);
  }

  // Sets (or moves) the running deadline of the current step to an absolute due time. Levels
  // already fired stay fired: every level fires once per deadline.
  void set_absolute_deadline(Case& c, TimePoint due, TimePoint at) {
    const Step& s = c.current();
    ClockState& k = c.clocks[c.deadline_clock()];
    if (!k.active || k.visit != c.visit) {
      reset_clock(k);
      k.kind = ClockKind::deadline;
      k.index = c.step;
      k.visit = c.visit;
      k.started = at;
      k.rungs.resize(s.deadline->escalate.size());
    }
    k.business = false;
    // The due time is absolute, but `after: 1 business day` levels still count on the calendar.
    k.cal = c.rt->calendar(s.deadline->calendar);
    k.since = k.started;
    k.consumed = Duration{0};
    k.total = std::max(Duration{0}, due - k.started);
    k.done = due <= at && k.done;
    k.active = k.running = true;
    record_deadline(c, k, at);
    schedule(c, c.deadline_clock());
  }

  void record_deadline(Case& c, const ClockState& k, TimePoint at, const std::string& sla = {}) {
    Record r = make(c, RecordType::deadline_set, at);
    r.due = due_instant(k);
    r.target = sla;
    commit(&c, std::move(r));
  }

  void start_slas(Case& c, TimePoint at) {
    for (std::size_t i = 0; i < c.flow().slas.size(); ++i) start_sla(c, i, at);
  }

  // Sets up SLA `i` counting from `at`; not running yet: the current step decides (pause_in, role).
  static void start_sla(Case& c, std::size_t i, TimePoint at) {
    const Sla& sla = c.flow().slas[i];
    ClockState& k = c.clocks[i];
    k.kind = ClockKind::sla;
    k.index = static_cast<std::int32_t>(i);
    k.cal = c.rt->calendar(sla.calendar);
    k.business = sla.within.is_business() && k.cal;
    k.total = sla.within.basis == TimeBasis::business_days && k.cal
                  ? k.cal->business_time_between(at, k.cal->add_business_days(at, sla.within.days))
                  : sla.within.length;
    k.started = k.since = at;
    k.rungs.resize(sla.escalate.size());
    k.active = true;
    k.running = false;
  }

  // Pauses, resumes or stops each SLA for the step just entered.
  void update_slas(Case& c, TimePoint at) {
    const auto step = static_cast<std::size_t>(c.step);
    for (std::size_t i = 0; i < c.flow().slas.size(); ++i) {
      const Sla& sla = c.flow().slas[i];
      ClockState& k = c.clocks[i];
      if (!k.active || k.met) continue;
      if (c.rt->sla_stop[i][step]) {
        if (k.running) k.consumed += measured(k, k.since, at);
        k.running = false;
        k.met = true;
        if (!k.done) {
          Record r = make(c, RecordType::sla_met, at);
          r.target = sla.name;
          commit(&c, std::move(r));
        }
        schedule(c, i);
        continue;
      }
      const bool run = !c.rt->sla_pause[i][step] && (sla.role.empty() || c.current().role == sla.role);
      if (run == k.running) continue;
      const bool first = !run ? false : k.consumed == Duration{0} && k.since == k.started && !k.warned;
      if (run) {
        k.since = at;
        k.running = true;
        if (first) {
          record_deadline(c, k, at, sla.name);
        } else {
          Record r = make(c, RecordType::resumed, at);
          r.target = sla.name;
          commit(&c, std::move(r));
        }
      } else {
        k.consumed += measured(k, k.since, at);
        k.running = false;
        Record r = make(c, RecordType::paused, at);
        r.target = sla.name;
        commit(&c, std::move(r));
      }
      schedule(c, i);
    }
  }

  void fire(Case& c, std::size_t idx, const Point& p) {
    ClockState& k = c.clocks[idx];
    const TimePoint at = p.at;
    switch (p.kind) {
      case PointKind::timer: {
        stop_clock(c, idx);
        if (k.purpose == TimerPurpose::wait) {
          if (c.step == k.index && c.visit == k.visit) move_to(c, c.current().next_index, at);
        } else if (k.purpose == TimerPurpose::retry) {
          jobs.push_back({c.slot, k.visit, k.attempt, at});
        }
        return;
      }
      case PointKind::warn: {
        k.warned = true;
        Record r = make(c, RecordType::sla_warning, at);
        r.target = c.flow().slas[static_cast<std::size_t>(k.index)].name;
        commit(&c, std::move(r));
        break;
      }
      case PointKind::due: {
        k.done = true;
        if (k.kind == ClockKind::sla) {
          const std::string& name = c.flow().slas[static_cast<std::size_t>(k.index)].name;
          Record r = make(c, RecordType::sla_breached, at);
          r.target = name;
          commit(&c, std::move(r));
          notify(c, at, {}, fmt::format("SLA '{}' breached", name), "sla-breached", 0, 0);
        } else if (const auto& dl = c.current().deadline; dl && dl->expire_index >= 0) {
          Record r = make(c, RecordType::expired, at);
          r.target = dl->expire;
          commit(&c, std::move(r));
          move_to(c, dl->expire_index, at);
          return;
        }
        break;
      }
      case PointKind::rung: {
        const Escalation& e = ladder(c, k)[static_cast<std::size_t>(p.rung)];
        RungState& st = k.rungs[static_cast<std::size_t>(p.rung)];
        ++st.count;
        st.last = at;
        k.level = std::max(k.level, p.rung + 1);
        escalate(c, k, e, p.rung + 1, st.count - 1, at);
        if (!k.active) return;  // the level moved the case on, or closed it
        break;
      }
    }
    schedule(c, idx);
  }

  void escalate(Case& c, const ClockState& k, const Escalation& e, std::int32_t level, std::int32_t repeat,
                TimePoint at) {
    const std::uint32_t visit = c.visit;
    Record r = make(c, RecordType::escalated, at);
    r.level = level;
    r.repeat = repeat;
    r.target = join(e.notify);
    r.message = e.message;
    if (k.kind == ClockKind::sla)
      r.message = fmt::format("SLA '{}'{}{}", c.flow().slas[static_cast<std::size_t>(k.index)].name,
                              e.message.empty() ? "" : ": ", e.message);
    commit(&c, std::move(r));
    if (!e.notify.empty())
      notify(c, at, e.notify, e.message.empty() ? fmt::format("escalation level {}", level) : e.message, "escalation",
             level, repeat);
    if (!e.reassign.empty()) assign(c, e.reassign, at);
    try {
      Ctx x;
      fill(x, c, at, nullptr);
      auto changes = changes_for(c, e.set, x.ctx);
      if (!e.priority.empty() && c.rt->priority_slot >= 0) changes.push_back({c.rt->priority_slot, Value(e.priority)});
      apply_changes(c, changes, at, engine_actor);
    } catch (const Error& err) {
      raise_incident(c, at, fmt::format("escalation level {}: {}", level, err.message()));
      return;
    }
    if (!e.emit.empty() && c.visit == visit) {
      try {
        apply_event(c, e.emit, Map{}, EventOptions{engine_actor, "escalation"}, at);
      } catch (const EventError&) {
        // recorded as `rejected`; an escalation does not fail because its event was refused
      }
    }
    if (e.go_to_index >= 0 && c.visit == visit && c.status == CaseStatus::active) move_to(c, e.go_to_index, at);
  }

  void notify(const Case& c, TimePoint at, std::vector<std::string> to, std::string message, std::string reason,
              std::int32_t level, std::int32_t repeat) {
    if (listeners.empty()) return;
    Notification n;
    n.at = at;
    n.case_id = c.id;
    n.flow = c.flow().id;
    if (c.step >= 0) n.step = c.current().name;
    n.to = std::move(to);
    n.message = std::move(message);
    n.reason = std::move(reason);
    n.level = level;
    n.repeat = repeat;
    outbox.push_back(std::move(n));
  }

  void assign(Case& c, const std::string& who, TimePoint at) {
    if (who == c.assignee) return;
    c.assignee = who;
    Record r = make(c, RecordType::assigned, at);
    r.target = who;
    commit(&c, std::move(r));
  }

  void raise_incident(Case& c, TimePoint at, std::string why) {
    c.status = CaseStatus::incident;
    c.incident = why;
    Record r = make(c, RecordType::incident, at);
    r.message = why;
    commit(&c, std::move(r));
    tell_parent(c, at, fmt::format("sub-flow case '{}' has an incident: {}", c.id, why));
  }

  // A sub-flow case ended (failure empty: completed); its parent resumes after this unit.
  void tell_parent(const Case& c, TimePoint at, std::string failure) {
    if (c.parent < 0) return;
    Job j{static_cast<std::uint32_t>(c.parent), c.parent_visit, 0, at};
    j.resume = true;
    j.child = c.slot;
    j.failure = std::move(failure);
    jobs.push_back(std::move(j));
  }

  void cancel_case(Case& c, TimePoint at, const std::string& reason, const EventOptions& o) {
    c.status = CaseStatus::cancelled;
    for (std::size_t i = 0; i < c.clocks.size(); ++i) stop_clock(c, i);
    Record r = make(c, RecordType::cancelled, at);
    r.actor = o.actor;
    r.channel = o.channel;
    r.message = reason;
    commit(&c, std::move(r));
    cancel_children(c, at, fmt::format("case '{}' was cancelled", c.id));
  }

  void cancel_children(Case& c, TimePoint at, const std::string& reason) {
    for (auto slot : c.children) {
      Case& child = *cases[slot];
      if (child.status == CaseStatus::active || child.status == CaseStatus::incident)
        cancel_case(child, at, reason, EventOptions{engine_actor, "subflow"});
    }
  }

  // Creates a case and runs it into its start step. Throws DataError / EventError for bad input
  // before anything is created.
  Case& create_case(FlowRt* rt, const Map& data, std::string id, TimePoint now, const std::string& actor,
                    const std::string& channel, Case* parent) {
    const Flow& f = *rt->flow;
    std::vector<Value> values(f.data.size());
    for (auto& ch : checked_changes(f, data)) values[static_cast<std::size_t>(ch.slot)] = std::move(ch.value);
    for (std::size_t i = 0; i < f.data.size(); ++i) {
      if (values[i].is_null() && f.data[i].default_value) values[i] = *f.data[i].default_value;
      if (values[i].is_null() && f.data[i].required)
        throw DataError(
            fmt::format("flow '{}' needs '{}' ({}) to start a case", f.id, f.data[i].name, f.data[i].type.str()));
    }
    if (id.empty()) {
      do id = fmt::format("{}-{}", f.id, ++id_counters[f.id]);
      while (by_id.count(id));
      counters_changed = true;
    } else if (by_id.count(id)) {
      throw EventError(fmt::format("a case with id '{}' already exists", id));
    }
    auto c = std::make_unique<Case>();
    c->id = id;
    c->rt = rt;
    c->slot = static_cast<std::uint32_t>(cases.size());
    c->data = std::move(values);
    c->started = now;
    c->clocks.resize(f.slas.size() + 2);
    if (parent) {
      c->parent = parent->slot;
      c->parent_visit = parent->visit;
      c->depth = parent->depth + 1;
      parent->children.push_back(c->slot);
    }
    Case& cr = *c;
    by_id.emplace(id, c->slot);
    cases.push_back(std::move(c));
    Record r = make(cr, RecordType::started, now);
    r.actor = actor;
    r.channel = channel;
    r.target = f.id;
    Map start_data;
    for (std::size_t i = 0; i < f.data.size(); ++i)
      if (!cr.data[i].is_null()) start_data[f.data[i].name] = cr.data[i];
    r.data = Value(std::move(start_data));
    r.message = parent ? fmt::format("version {}, sub-flow of case '{}' (step '{}')", f.version, parent->id,
                                     parent->current().name)
                       : fmt::format("version {}", f.version);
    commit(&cr, std::move(r));
    start_slas(cr, now);
    move_to(cr, f.start_index, now);
    return cr;
  }

  void start_branches(Case& c, TimePoint at) {
    const Step& s = c.current();
    c.arrivals = 0;
    for (std::size_t i = 0; i < s.parallel_index.size(); ++i) {
      std::string id = fmt::format("{}/{}", c.id, s.parallel[i]);
      for (int n = 2; by_id.count(id); ++n) id = fmt::format("{}/{}-{}", c.id, s.parallel[i], n);
      auto b = std::make_unique<Case>();
      b->id = id;
      b->rt = c.rt;
      b->slot = static_cast<std::uint32_t>(cases.size());
      b->data = c.data;
      b->fork_data = c.data;
      b->started = at;
      b->clocks.resize(c.clocks.size());
      b->parent = c.slot;
      b->parent_visit = c.visit;
      b->depth = c.depth;
      b->join_step = s.join_index;
      c.children.push_back(b->slot);
      Case& br = *b;
      by_id.emplace(id, b->slot);
      cases.push_back(std::move(b));
      Record r = make(br, RecordType::started, at);
      r.actor = engine_actor;
      r.channel = "parallel";
      r.target = c.flow().id;
      r.message = fmt::format("branch '{}' of case '{}' (step '{}')", s.parallel[i], c.id, s.name);
      commit(&br, std::move(r));
      move_to(br, s.parallel_index[i], at);
      if (c.status != CaseStatus::active || c.step < 0 || c.current().kind != StepKind::parallel) return;
    }
  }

  // A branch reached its join step.
  void arrive(Case& b, TimePoint at) {
    b.status = CaseStatus::completed;
    for (std::size_t i = 0; i < b.clocks.size(); ++i) stop_clock(b, i);
    Record r = make(b, RecordType::completed, at);
    r.target = "joined";
    r.message = fmt::format("arrived at join '{}'", b.flow().steps[static_cast<std::size_t>(b.join_step)].name);
    commit(&b, std::move(r));
    tell_parent(b, at, {});
  }

  void branch_arrived(Case& parent, const Case& b, TimePoint at) {
    const Step& s = parent.current();
    std::vector<Change> changes;
    for (std::size_t i = 0; i < b.data.size(); ++i)
      if (!(b.data[i] == b.fork_data[i]) || b.data[i].kind() != b.fork_data[i].kind())
        changes.push_back({static_cast<std::int32_t>(i), b.data[i]});
    apply_changes(parent, changes, at, engine_actor, "parallel");
    ++parent.arrivals;
    const Step& join = parent.flow().steps[static_cast<std::size_t>(s.join_index)];
    const auto branches = static_cast<std::int32_t>(s.parallel.size());
    const bool met = join.join_mode == JoinMode::all   ? parent.arrivals >= branches
                     : join.join_mode == JoinMode::any ? parent.arrivals >= 1
                                                       : parent.arrivals >= join.join_n;
    if (!met) return;
    cancel_children(parent, at, fmt::format("join '{}' is complete", join.name));
    move_to(parent, s.join_index, at);
  }

  void start_subflow(Case& c, TimePoint at) {
    const Step& s = c.current();
    if (c.depth >= max_subflow_depth) {
      raise_incident(c, at, fmt::format("sub-flows nest deeper than {} levels (step '{}')", max_subflow_depth, s.name));
      return;
    }
    FlowRt* rt = find_flow(s.subflow, 0);
    if (!rt) {
      raise_incident(c, at, fmt::format("sub-flow '{}' of step '{}' is not loaded", s.subflow, s.name));
      return;
    }
    Map input;
    try {
      Ctx x;
      fill(x, c, at, nullptr);
      for (const auto& a : s.input) input[a.field] = a.value.evaluate(x.ctx);
      std::string id = fmt::format("{}/{}", c.id, s.name);
      for (int n = 2; by_id.count(id); ++n) id = fmt::format("{}/{}-{}", c.id, s.name, n);
      create_case(rt, input, id, at, engine_actor, "subflow", &c);
    } catch (const Error& e) {
      raise_incident(c, at, fmt::format("sub-flow '{}' could not start: {}", s.subflow, e.message()));
    }
  }

  void resume_parent(const Job& j) {
    Case& parent = *cases[j.slot];
    const Case& child = *cases[j.child];
    if (parent.visit != j.visit || parent.status != CaseStatus::active) return;
    if (parent.current().kind == StepKind::parallel) {
      if (j.failure.empty())
        branch_arrived(parent, child, j.at);
      else
        raise_incident(parent, j.at, j.failure);
      return;
    }
    if (parent.current().kind != StepKind::subflow) return;
    const Step& s = parent.current();
    if (!j.failure.empty()) {
      if (s.on_failure_index >= 0) {
        Record r = make(parent, RecordType::event, j.at);
        r.event = "subflow-failed";
        r.actor = engine_actor;
        r.message = j.failure;
        commit(&parent, std::move(r));
        move_to(parent, s.on_failure_index, j.at);
      } else {
        raise_incident(parent, j.at, j.failure);
      }
      return;
    }
    try {
      Ctx x;
      fill(x, child, j.at, nullptr);
      if (!x.ctx.case_info) {  // the parent's `output:` may read the child's case.* even if the child's flow never does
        x.info = case_info(child);
        x.ctx.case_info = &x.info;
      }
      std::vector<Change> changes;
      for (const auto& a : s.output) {
        const DataField* f = parent.flow().find_field(a.field);
        changes.push_back({static_cast<std::int32_t>(f - parent.flow().data.data()),
                           f->type.coerce(a.value.evaluate(x.ctx), a.field)});
      }
      apply_changes(parent, changes, j.at, engine_actor, "subflow");
    } catch (const Error& e) {
      raise_incident(parent, j.at, fmt::format("sub-flow '{}' output: {}", s.subflow, e.message()));
      return;
    }
    move_to(parent, s.next_index, j.at);
  }

  // ------------------------------------------------------------------------- steps

  void leave(Case& c, TimePoint at) {
    const Step& s = c.current();
    if (s.kind == StepKind::subflow || s.kind == StepKind::parallel)
      cancel_children(c, at, fmt::format("case '{}' left step '{}'", c.id, s.name));
    run_hooks(c, s.on_exit, at, "on_exit");
    stop_clock(c, c.deadline_clock());
    stop_clock(c, c.timer_clock());
    commit(&c, make(c, RecordType::left, at));
  }

  // Moves the case to `target`, then follows automatic steps (decisions...) iteratively.
  void move_to(Case& c, std::int32_t target, TimePoint at) {
    if (target < 0 || c.status != CaseStatus::active) return;
    for (int moves = 0; target >= 0; ++moves) {
      if (moves > max_automatic_moves) {
        raise_incident(c, at,
                       fmt::format("more than {} automatic moves in a row: decisions loop", max_automatic_moves));
        return;
      }
      if (c.step >= 0) leave(c, at);
      if (c.join_step >= 0 && target == c.join_step) {
        arrive(c, at);
        return;
      }
      target = enter(c, target, at);
      if (c.status != CaseStatus::active) return;
    }
  }

  // Enters a step; returns the next step when the step passes on at once (decisions), else -1.
  std::int32_t enter(Case& c, std::int32_t idx, TimePoint at) {
    c.step = idx;
    ++c.visit;
    c.entered = at;
    const Step& s = c.current();
    commit(&c, make(c, RecordType::entered, at));
    try {
      if (!s.role.empty() || !s.assign.empty()) {
        std::string who = s.role;
        if (!s.assign.empty()) {
          Ctx x;
          fill(x, c, at, nullptr);
          const Value v = s.assign.evaluate(x.ctx);
          if (v.kind() == Value::Kind::string && !v.as_string().empty()) who = v.as_string();
        }
        assign(c, who, at);
      }
      update_slas(c, at);
      run_hooks(c, s.on_enter, at, "on_enter");
      if (s.deadline) start_deadline(c, at);
      switch (s.kind) {
        case StepKind::task:
          return -1;
        case StepKind::end:
          complete(c, at);
          return -1;
        case StepKind::decision:
          return decide(c, at);
        case StepKind::action:
          jobs.push_back({c.slot, c.visit, 1, at});
          return -1;
        case StepKind::wait: {
          TimePoint until{};
          if (s.wait_for) {
            const Calendar* cal = c.rt->default_cal;
            until = s.wait_for->is_business() && cal ? cal->due(at, *s.wait_for) : at + s.wait_for->length;
          } else {
            Ctx x;
            fill(x, c, at, nullptr);
            const Value v = s.wait_until.evaluate(x.ctx);
            if (v.kind() != Value::Kind::datetime) {
              raise_incident(c, at,
                             fmt::format("wait step '{}': `until: {}` gave {}, not a datetime", s.name,
                                         s.wait_until.text(), v.to_json()));
              return -1;
            }
            until = std::max(at, v.as_datetime());
          }
          start_timer(c, TimerPurpose::wait, until, 0);
          return -1;
        }
        case StepKind::subflow:
          start_subflow(c, at);
          return -1;
        case StepKind::parallel:
          start_branches(c, at);
          return -1;
        case StepKind::join:
          return s.next_index;  // the parent passes through once its branches have met
      }
    } catch (const Error& e) {
      raise_incident(c, at, fmt::format("entering step '{}': {}", s.name, e.message()));
    }
    return -1;
  }

  void start_timer(Case& c, TimerPurpose purpose, TimePoint when, std::int32_t attempt) {
    ClockState& k = c.clocks[c.timer_clock()];
    reset_clock(k);
    k.kind = ClockKind::timer;
    k.purpose = purpose;
    k.index = c.step;
    k.visit = c.visit;
    k.at = when;
    k.attempt = attempt;
    k.active = true;
    schedule(c, c.timer_clock());
  }

  std::int32_t decide(Case& c, TimePoint at) {
    const Step& s = c.current();
    Ctx x;
    fill(x, c, at, nullptr);
    if (!s.rule.empty()) {
      const RuleTable* t = c.flow().find_rule(s.rule);
      const Value out = detail::evaluate_rule(*t, x.ctx);
      const Value* to = out.find("to");
      if (!to || to->kind() != Value::Kind::string) {
        raise_incident(c, at, fmt::format("decision '{}': rule table '{}' matched no row", s.name, s.rule));
        return -1;
      }
      const auto idx = c.flow().step_index(to->as_string());
      if (idx < 0)
        raise_incident(
            c, at,
            fmt::format("decision '{}': rule table '{}' chose unknown step '{}'", s.name, s.rule, to->as_string()));
      return idx;
    }
    for (const auto& b : s.branches) {
      if (!b.when.test(x.ctx)) continue;
      apply_changes(c, changes_for(c, b.set, x.ctx), at, engine_actor);
      return b.target_index;
    }
    raise_incident(c, at,
                   fmt::format("decision '{}': no branch applies (add one without `when` as the default)", s.name));
    return -1;
  }

  void complete(Case& c, TimePoint at) {
    c.status = CaseStatus::completed;
    c.outcome = c.current().outcome;
    for (std::size_t i = 0; i < c.clocks.size(); ++i) stop_clock(c, i);
    Record r = make(c, RecordType::completed, at);
    r.target = c.outcome;
    commit(&c, std::move(r));
    tell_parent(c, at,
                c.current().fail ? fmt::format("sub-flow case '{}' ended failed at step '{}'{}{}", c.id, c.current().name,
                                               c.outcome.empty() ? "" : ", outcome ", c.outcome)
                                 : std::string());
  }

  void run_hooks(Case& c, const std::vector<Hook>& hooks, TimePoint at, const char* when) {
    for (const auto& h : hooks) {
      switch (h.kind) {
        case Hook::Kind::set: {
          Ctx x;
          fill(x, c, at, nullptr);
          apply_changes(c, changes_for(c, h.with, x.ctx), at, engine_actor);
          break;
        }
        case Hook::Kind::notify:
          notify(c, at, h.notify, h.message, when, 0, 0);
          break;
        case Hook::Kind::call: {
          Job j{c.slot, c.visit, 1, at};
          j.hook = true;
          j.hook_def = &h;
          jobs.push_back(j);
          break;
        }
      }
    }
  }

  // ------------------------------------------------------------------------- events

  [[noreturn]] void reject(Case* c, std::string_view case_id, std::string_view event, const EventOptions& o,
                           TimePoint at, std::string why) {
    Record r;
    if (c) r = make(*c, RecordType::rejected, at);
    r.type = RecordType::rejected;
    r.at = at;
    r.case_id = std::string(case_id);
    r.event = std::string(event);
    r.actor = o.actor;
    r.channel = o.channel;
    r.message = why;
    if (c) {
      commit(c, std::move(r));
    } else {
      r.seq = ++record_seq;
      if (options.store) unit_records.push_back(r);
      if (options.journal_sink) options.journal_sink(r);
      if (options.keep_journal) orphan_records.push_back(std::move(r));
    }
    if (!c) throw CaseError(why);
    throw EventError(why);
  }

  void apply_event(Case& c, std::string_view event, const Map& payload, const EventOptions& o, TimePoint at) {
    if (c.status != CaseStatus::active)
      reject(&c, c.id, event, o, at,
             fmt::format("case '{}' is {}; it takes no events{}", c.id, case_status_name(c.status),
                         c.status == CaseStatus::incident ? " until the incident is retried or resolved" : ""));
    const Step& s = c.current();
    std::vector<const Transition*> candidates;
    for (const auto& t : s.on)
      if (t.event == event) candidates.push_back(&t);
    if (candidates.empty()) {
      std::vector<std::string> handled;
      for (const auto& t : s.on)
        if (std::find(handled.begin(), handled.end(), t.event) == handled.end()) handled.push_back(t.event);
      std::string hint = detail::did_you_mean(event, handled);
      reject(&c, c.id, event, o, at,
             fmt::format("step '{}' of case '{}' does not handle event '{}'{}", s.name, c.id, event,
                         !hint.empty()     ? hint
                         : handled.empty() ? std::string("; it handles no events")
                                           : fmt::format("; it handles {}", fmt::join(handled, ", "))));
    }
    // The payload must carry the step's form, with the form's types.
    std::vector<Change> changes;
    Map checked;
    if (!s.form.empty()) checked = payload;
    for (const auto& f : s.form) {
      auto it = checked.find(f.name);
      if (it == checked.end() || it->second.is_null()) {
        if (f.required)
          reject(&c, c.id, event, o, at,
                 fmt::format("event '{}' must carry form field '{}' ({}) in step '{}'", event, f.name, f.type.str(),
                             s.name));
        continue;
      }
      try {
        it->second = f.type.coerce(it->second, fmt::format("form field '{}'", f.name));
      } catch (const DataError& e) {
        reject(&c, c.id, event, o, at, e.message());
      }
      if (const DataField* d = c.flow().find_field(f.name))
        changes.push_back({static_cast<std::int32_t>(d - c.flow().data.data()), it->second});
    }
    // Most events carry no payload: then `event` is an empty map that costs no allocation.
    static const Value empty_event{Map{}};
    const Value ev = payload.empty() ? empty_event : Value(s.form.empty() ? payload : checked);
    Ctx x;
    fill(x, c, at, &ev);
    // Guards and `set` see the values the form captured, as if already stored.
    std::vector<Value> tentative;
    if (!changes.empty()) {
      tentative = c.data;
      for (const auto& ch : changes) tentative[static_cast<std::size_t>(ch.slot)] = ch.value;
      x.ctx.fields = std::span<const Value>(tentative);
    }
    const Transition* chosen = nullptr;
    try {
      for (const Transition* t : candidates)
        if (t->when.test(x.ctx)) {
          chosen = t;
          break;
        }
      if (!chosen)
        reject(&c, c.id, event, o, at,
               fmt::format("event '{}' in step '{}': no transition applies (every `when` is false)", event, s.name));
      auto more = changes_for(c, chosen->set, x.ctx);
      changes.insert(changes.end(), more.begin(), more.end());
    } catch (const EventError&) {
      throw;
    } catch (const Error& e) {
      reject(&c, c.id, event, o, at, fmt::format("event '{}' in step '{}': {}", event, s.name, e.message()));
    }
    // Every check passed: apply.
    Record r = make(c, RecordType::event, at);
    r.event = std::string(event);
    r.actor = o.actor;
    r.channel = o.channel;
    if (!payload.empty()) r.data = ev;
    commit(&c, std::move(r));
    apply_changes(c, changes, at, o.actor, o.channel);
    if (chosen->target_index >= 0 && c.status == CaseStatus::active) move_to(c, chosen->target_index, at);
  }

  // ------------------------------------------------------------------------- actions

  void run_jobs(std::unique_lock<std::mutex>& lk) {
    while (!jobs.empty()) {
      Job j = jobs.front();
      jobs.pop_front();
      if (j.resume) {
        resume_parent(j);
        continue;
      }
      Case* c = cases[j.slot].get();
      if (!c || c->visit != j.visit || (c->status != CaseStatus::active && !j.hook)) continue;
      const Step& s = c->current();
      const std::string& name = j.hook ? j.hook_def->action : s.call;
      const auto& with = j.hook ? j.hook_def->with : s.with;
      ActionHandler handler;
      if (auto it = actions.find(name); it != actions.end()) handler = it->second;
      Map inputs, data;
      std::string error;
      try {
        Ctx x;
        fill(x, *c, j.at, nullptr);
        for (const auto& a : with) inputs[a.field] = a.value.evaluate(x.ctx);
      } catch (const Error& e) {
        error = fmt::format("action '{}' inputs: {}", name, e.message());
      }
      for (std::size_t i = 0; i < c->data.size(); ++i) data[c->flow().data[i].name] = c->data[i];
      ActionContext ac(c->id, s.name, name, j.attempt, std::move(inputs), std::move(data));
      if (error.empty() && !handler)
        error = fmt::format("no handler is registered for action '{}' (Engine::on_action)", name);
      if (error.empty()) {
        lk.unlock();
        try {
          handler(ac);
        } catch (const std::exception& e) {
          error = e.what()[0] ? e.what() : "the handler failed";
        } catch (...) {
          error = "the handler threw a non-standard exception";
        }
        lk.lock();
      }
      c = cases[j.slot].get();
      if (!c || c->visit != j.visit || (c->status != CaseStatus::active && !j.hook)) continue;  // moved on meanwhile
      std::vector<Change> changes;
      if (error.empty()) {
        for (const auto& [k, v] : ac.results())
          if (!c->flow().find_field(k)) {
            error =
                fmt::format("action '{}' returned '{}', which is not a data field of flow '{}'", name, k, c->flow().id);
            break;
          }
        if (error.empty()) {
          try {
            changes = checked_changes(c->flow(), ac.results());
          } catch (const DataError& e) {
            error = fmt::format("action '{}' result: {}", name, e.message());
          }
        }
      }
      if (error.empty()) {
        apply_changes(*c, changes, j.at, engine_actor);
        if (!j.hook && c->status == CaseStatus::active) move_to(*c, s.next_index, j.at);
        continue;
      }
      Record r = make(*c, RecordType::action_failed, j.at);
      r.target = name;
      r.repeat = j.attempt;
      r.message = error;
      commit(c, std::move(r));
      if (j.hook) continue;
      if (j.attempt < s.retry.attempts && handler) {
        double delay = static_cast<double>(s.retry.backoff.count());
        for (int i = 1; i < j.attempt; ++i) delay *= s.retry.factor;
        const Duration d{static_cast<std::int64_t>(std::min(delay, static_cast<double>(s.retry.max_backoff.count())))};
        start_timer(*c, TimerPurpose::retry, j.at + d, j.attempt + 1);
      } else if (s.on_error_index >= 0) {
        move_to(*c, s.on_error_index, j.at);
      } else {
        raise_incident(*c, j.at,
                       fmt::format("action '{}' failed after {} attempt{}: {}", name, j.attempt,
                                   j.attempt == 1 ? "" : "s", error));
      }
    }
  }

  // ------------------------------------------------------------------------- timers

  std::size_t last_fired = 0;  // timers fired by the latest fire_due(); run_due() reports it

  std::size_t fire_due(std::unique_lock<std::mutex>& lk, TimePoint now) {
    std::size_t fired = 0;
    run_jobs(lk);
    while (!heap.empty() && heap.top().at <= now) {
      const HeapEntry e = heap.top();
      heap.pop();
      Case* c = e.slot < cases.size() ? cases[e.slot].get() : nullptr;
      if (!c || e.clock >= c->clocks.size() || c->clocks[e.clock].gen != e.gen) continue;
      const auto p = next_point(*c, c->clocks[e.clock]);
      if (!p || p->at != e.at) continue;  // defensive: the generation already rules this out
      ++fired;
      fire(*c, e.clock, Point{e.at, p->kind, p->rung});
      run_jobs(lk);
    }
    last_fired = fired;
    return fired;
  }

  void drop_stale() const {
    while (!heap.empty()) {
      const auto& e = heap.top();
      const Case* c = e.slot < cases.size() ? cases[e.slot].get() : nullptr;
      if (c && e.clock < c->clocks.size() && c->clocks[e.clock].gen == e.gen) return;
      heap.pop();
    }
  }

  // Dispatches notifications with the lock released (a listener may call the engine).
  void dispatch(std::unique_lock<std::mutex>& lk) {
    while (!outbox.empty()) {
      auto notes = std::move(outbox);
      outbox.clear();
      auto listeners_copy = listeners;
      lk.unlock();
      for (const auto& n : notes)
        for (const auto& l : listeners_copy) {
          try {
            l(n);
          } catch (...) {
            // A listener's failure is the listener's: the engine's state is already committed.
          }
        }
      lk.lock();
    }
  }

  // ------------------------------------------------------------------------- flow versions

  struct MigrationPlan {
    Case* c = nullptr;
    std::int32_t step = -1;       // in the new version
    std::int32_t join_step = -1;
    std::vector<Value> data, fork_data;
    std::vector<std::string> dropped;
  };

  // The case's data laid out for the new version: fields kept by name and converted to their
  // new type, new fields at their default, fields the new version lacks dropped.
  static std::vector<Value> remap_data(const Flow& from, const Flow& to, const std::vector<Value>& values,
                                       const std::string& case_id, std::vector<std::string>& problems,
                                       std::vector<std::string>* dropped) {
    std::vector<Value> out(to.data.size());
    if (values.empty()) return {};
    for (std::size_t j = 0; j < to.data.size(); ++j) {
      const DataField& field = to.data[j];
      const DataField* old = from.find_field(field.name);
      const Value* v = old ? &values[static_cast<std::size_t>(old - from.data.data())] : nullptr;
      if (v && !v->is_null()) {
        try {
          out[j] = field.type.coerce(*v, field.name);
        } catch (const DataError& e) {
          problems.push_back(fmt::format("case '{}': {}; map or clear the field before migrating", case_id, e.message()));
        }
      } else if (field.default_value) {
        out[j] = *field.default_value;
      }
    }
    if (dropped)
      for (std::size_t i = 0; i < from.data.size(); ++i)
        if (!values[i].is_null() && !to.find_field(from.data[i].name)) dropped->push_back(from.data[i].name);
    return out;
  }

  std::size_t migrate(const Migration& mig, const EventOptions& o, TimePoint now) {
    FlowRt* to_rt = find_flow(mig.flow, mig.to);
    if (!to_rt) {
      if (!find_flow(mig.flow, 0)) throw EventError(fmt::format("unknown flow '{}'", mig.flow));
      throw EventError(fmt::format("flow '{}' version {} is not loaded; load it before migrating cases to it", mig.flow, mig.to));
    }
    const Flow& to = *to_rt->flow;
    std::vector<Case*> chosen;
    const auto open = [](const Case& c) { return c.status == CaseStatus::active || c.status == CaseStatus::incident; };
    if (!mig.cases.empty()) {
      for (const auto& id : mig.cases) {
        auto it = by_id.find(id);
        if (it == by_id.end()) throw CaseError(fmt::format("unknown case '{}'", id));
        Case& c = *cases[it->second];
        if (c.flow().id != mig.flow)
          throw EventError(fmt::format("case '{}' runs flow '{}', not '{}'", id, c.flow().id, mig.flow));
        if (!open(c)) throw EventError(fmt::format("case '{}' is {}; only open cases migrate", id, case_status_name(c.status)));
        if (c.rt != to_rt && (!mig.from || c.flow().version == mig.from)) chosen.push_back(&c);
      }
    } else {
      for (auto& cp : cases)
        if (cp->flow().id == mig.flow && open(*cp) && cp->rt != to_rt && (!mig.from || cp->flow().version == mig.from))
          chosen.push_back(cp.get());
    }

    // Plan everything first: a migration that cannot move every chosen case moves none.
    std::vector<std::string> problems;
    std::set<std::string, std::less<>> old_steps;
    for (const Case* c : chosen)
      for (const auto& s : c->flow().steps) old_steps.insert(s.name);
    std::vector<std::string> new_steps;
    for (const auto& s : to.steps) new_steps.push_back(s.name);
    for (const auto& [from_step, to_step] : mig.steps) {
      if (!chosen.empty() && !old_steps.contains(from_step))
        problems.push_back(fmt::format("steps: '{}' is not a step of the versions being migrated{}", from_step,
                                       detail::did_you_mean(from_step, old_steps)));
      if (to.step_index(to_step) < 0)
        problems.push_back(fmt::format("steps: '{}' -> '{}': version {} has no step '{}'{}", from_step, to_step, to.version,
                                       to_step, detail::did_you_mean(to_step, new_steps)));
    }
    const auto map_step = [&](const Flow& from, std::int32_t idx) -> std::int32_t {
      if (idx < 0) return -1;
      const std::string& name = from.steps[static_cast<std::size_t>(idx)].name;
      auto it = mig.steps.find(name);
      return to.step_index(it == mig.steps.end() ? name : it->second);
    };
    std::vector<MigrationPlan> plans;
    for (Case* c : chosen) {
      const Flow& from = c->flow();
      MigrationPlan p;
      p.c = c;
      p.step = map_step(from, c->step);
      if (p.step < 0) {
        problems.push_back(fmt::format("case '{}' is in step '{}', which version {} of '{}' does not have; map it: steps: "
                                       "{{{}: <one of {}>}}",
                                       c->id, c->current().name, to.version, to.id, c->current().name, fmt::join(new_steps, ", ")));
        continue;
      }
      if (c->join_step >= 0 && (p.join_step = map_step(from, c->join_step)) < 0)
        problems.push_back(fmt::format("case '{}' is a parallel branch joining at '{}', which version {} does not have; map it",
                                       c->id, from.steps[static_cast<std::size_t>(c->join_step)].name, to.version));
      if (c->status == CaseStatus::incident && to.steps[static_cast<std::size_t>(p.step)].kind != c->current().kind)
        problems.push_back(fmt::format("case '{}' is in an incident at step '{}'; resolve it first, or map it to a step of the "
                                       "same kind",
                                       c->id, c->current().name));
      p.data = remap_data(from, to, c->data, c->id, problems, &p.dropped);
      p.fork_data = remap_data(from, to, c->fork_data, c->id, problems, nullptr);
      plans.push_back(std::move(p));
    }
    if (!problems.empty()) {
      const std::size_t shown = std::min<std::size_t>(problems.size(), 10);
      throw EventError(fmt::format("cannot migrate '{}' to version {} ({} problem{}; nothing was changed): {}{}", to.id,
                                   to.version, problems.size(), problems.size() == 1 ? "" : "s",
                                   fmt::join(problems.begin(), problems.begin() + static_cast<std::ptrdiff_t>(shown), "; "),
                                   problems.size() > shown ? "; ..." : ""));
    }
    for (auto& p : plans) migrate_case(p, to_rt, o, now);
    return plans.size();
  }

  void migrate_case(MigrationPlan& p, FlowRt* to_rt, const EventOptions& o, TimePoint now) {
    Case& c = *p.c;
    FlowRt* from_rt = c.rt;
    const Flow& from = *from_rt->flow;
    const Flow& to = *to_rt->flow;
    const std::string old_step = c.current().name;
    const Step& target = to.steps[static_cast<std::size_t>(p.step)];
    // A step of the same kind is stayed in: its clocks carry over. A step of another kind
    // cannot be (a wait needs its timer, an action its call): the case leaves and enters it.
    const bool stay = target.kind == c.current().kind;
    if (!stay) leave(c, now);
    touch(c);
    std::vector<ClockState> old = std::move(c.clocks);
    std::uint32_t gen = 0;
    for (const auto& k : old) gen = std::max(gen, k.gen);
    ++gen;  // every timer queued for the old layout is stale from here on
    const auto map_cal = [&](const Calendar* cal) -> const Calendar* {
      for (const auto& [name, ptr] : from_rt->calendars)
        if (ptr.get() == cal)
          if (const Calendar* same = to_rt->calendar(name)) return same;
      return to_rt->default_cal;
    };
    c.rt = to_rt;
    c.step = p.step;
    c.join_step = p.join_step;
    c.data = std::move(p.data);
    c.fork_data = std::move(p.fork_data);
    c.clocks.assign(to.slas.size() + 2, ClockState{});
    for (auto& k : c.clocks) k.gen = gen;

    Record r = make(c, RecordType::migrated, now);
    r.actor = o.actor;
    r.channel = o.channel;
    r.data = Map{{"from", from.version}, {"to", to.version}, {"from_step", old_step}};
    r.message = fmt::format("version {} -> {}", from.version, to.version);
    if (old_step != target.name) r.message += fmt::format("; step {} -> {}", old_step, target.name);
    if (!p.dropped.empty()) r.message += fmt::format("; dropped fields: {}", fmt::join(p.dropped, ", "));
    commit(&c, std::move(r));

    // SLAs carry by name: the customer was promised the old target, so it stays; an SLA only
    // the new version has starts counting now.
    for (std::size_t j = 0; j < to.slas.size(); ++j) {
      const Sla& sla = to.slas[j];
      ClockState& k = c.clocks[j];
      auto it = std::find_if(from.slas.begin(), from.slas.end(), [&](const Sla& s) { return s.name == sla.name; });
      if (it != from.slas.end()) {
        k = old[static_cast<std::size_t>(it - from.slas.begin())];
        k.gen = gen;
        k.index = static_cast<std::int32_t>(j);
        if (k.cal) k.cal = map_cal(k.cal);
        k.rungs.resize(sla.escalate.size());
        continue;
      }
      start_sla(c, j, now);
    }
    if (!stay) {
      c.step = -1;
      move_to(c, p.step, now);  // enters: role, hooks, deadline, timer or call
    } else {
      migrate_deadline(c, old[from.slas.size()], map_cal, now);
      const ClockState& timer = old[from.slas.size() + 1];
      if (timer.active && timer.visit == c.visit) {
        c.clocks[c.timer_clock()] = timer;
        c.clocks[c.timer_clock()].gen = gen;
      }
      update_slas(c, now);  // the new version may pause or stop an SLA in this step
    }
    for (std::size_t i = 0; i < c.clocks.size(); ++i)
      if (c.clocks[i].active) schedule(c, i);
  }

  // The current step's deadline across a version change, by the new deadline's `on_change`:
  // keep the due time, recompute it from the step's entry with the new rule, or carry the
  // time already used (business time on the new calendar). Levels already fired stay fired.
  template <class MapCal>
  void migrate_deadline(Case& c, const ClockState& old, const MapCal& map_cal, TimePoint now) {
    const Step& s = c.current();
    if (!s.deadline) return;
    const bool had = old.active && old.visit == c.visit;
    ClockState& k = c.clocks[c.deadline_clock()];
    const ReschedulePolicy policy = had ? s.deadline->on_change : ReschedulePolicy::recompute;
    if (policy == ReschedulePolicy::recompute || !old.running) {
      start_deadline(c, now, c.entered);
      if (had && k.active) {
        for (std::size_t i = 0; i < std::min(k.rungs.size(), old.rungs.size()); ++i) k.rungs[i] = old.rungs[i];
        k.level = old.level;
        k.done = old.done && due_instant(k) <= now;  // an expiry already handled is not handled again
        schedule(c, c.deadline_clock());
      }
      return;
    }
    const TimePoint old_due = due_instant(old);
    const auto gen = k.gen;
    k = old;
    k.gen = gen;
    k.index = c.step;
    k.rungs.resize(s.deadline->escalate.size());
    const Calendar* cal = c.rt->calendar(s.deadline->calendar);
    if (policy == ReschedulePolicy::keep) {
      k.consumed = k.since - k.started;
      k.total = old_due - k.started;
      k.business = false;
      k.cal = cal ? cal : (old.cal ? map_cal(old.cal) : nullptr);
    } else {  // carry
      k.consumed += measured(old, old.since, now);
      k.since = now;
      k.cal = cal;
      k.business = s.deadline->within && s.deadline->within->is_business() && cal;
    }
    if (due_instant(k) != old_due) record_deadline(c, k, now);
  }

  // ------------------------------------------------------------------------- API plumbing

  // Every changing API call: take the lock, fire what fell due before now, do the work, then
  // run the handlers it queued, fire what became due, and notify listeners (lock released).
  // A refused call throws after its `rejected` record; listeners still hear what fired before.
  template <class F>
  auto locked_call(F&& work) {
    std::unique_lock lk(mutex);
    check_store();
    const TimePoint now = this->now();
    fire_due(lk, now);
    try {
      if constexpr (std::is_void_v<std::invoke_result_t<F&, TimePoint>>) {
        work(now);
        finish(lk, now);
      } else {
        auto result = work(now);
        finish(lk, now);
        return result;
      }
    } catch (const StoreError&) {
      throw;
    } catch (...) {
      flush(lk);  // a refused call leaves its `rejected` record, durably too
      dispatch(lk);
      throw;
    }
  }

  void check_store() const {
    if (!store_failure.empty())
      throw StoreError(fmt::format("the store failed earlier ({}); nothing more is changed: open the engine again", store_failure));
  }

  void finish(std::unique_lock<std::mutex>& lk, TimePoint now) {
    run_jobs(lk);
    fire_due(lk, now);
    flush(lk);
    dispatch(lk);
  }

  // Commits the unit of work: its records and the new state of every case it touched. Without
  // group commit the transaction runs under the engine lock. With it, the unit joins the
  // pending batch and the lock is released while the caller waits: the first waiter to take
  // the commit lock writes everything pending in one transaction (units keep their order, a
  // case written twice is written once with its later state), so callers that arrive while a
  // transaction is on disk share the next one. Nobody returns before their unit is durable.
  void flush(std::unique_lock<std::mutex>& lk) {
    if (!options.store || (unit_records.empty() && touched.empty() && unit_flows.empty())) return;
    if (!lk.owns_lock()) lk.lock();
    std::vector<StoredCase> snaps;
    snaps.reserve(touched.size());
    const auto id_of = [this](std::uint32_t slot) { return cases[slot]->id; };
    for (auto slot : touched) {
      Case& c = *cases[slot];
      c.dirty = false;
      const bool open = c.status == CaseStatus::active || c.status == CaseStatus::incident;
      StoredCase sc{.id = c.id, .flow = c.flow().id, .seq = c.last_seq, .open = open, .state = detail::save_case(c, id_of)};
      sc.expected = c.revision;
      sc.revision = ++c.revision;
      if (open) sc.next_due = next_due_of(c);
      snaps.push_back(std::move(sc));
    }
    std::map<std::string, std::string> meta;
    if (counters_changed)
      for (const auto& [flow, n] : id_counters) meta["case-number/" + flow] = std::to_string(n);
    if (options.group_commit) {
      group_flush(lk, std::move(snaps), std::move(meta));
      return;
    }
    StoreBatch batch{unit_records, snaps, std::move(meta), unit_flows};
    try {
      options.store->commit(batch);
    } catch (const std::exception& e) {
      store_failure = e.what();
      unit_records.clear();
      touched.clear();
      unit_flows.clear();
      throw_commit_failure(e.what(), dynamic_cast<const ConflictError*>(&e) != nullptr);
    }
    unit_records.clear();
    touched.clear();
    unit_flows.clear();
    counters_changed = false;
  }

  // Any failed commit stops the engine: its memory now holds changes the store does not.
  // A conflict keeps its type so that a host sharing a store can tell it apart.
  [[noreturn]] static void throw_commit_failure(const std::string& why, bool conflict) {
    const std::string msg = fmt::format("the store could not commit: {}", why);
    if (conflict) throw ConflictError(msg);
    throw StoreError(msg);
  }

  TimePoint next_due_of(const Case& c) const {
    std::optional<TimePoint> best;
    for (const auto& k : c.clocks)
      if (auto p = next_point(c, k); p && (!best || p->at < *best)) best = p->at;
    return best.value_or(TimePoint{});
  }

  void group_flush(std::unique_lock<std::mutex>& lk, std::vector<StoredCase> snaps, std::map<std::string, std::string> meta) {
    // Lock order: engine lock, then group.mutex; never the other way round.
    std::unique_lock gl(group.mutex);
    auto& p = group.pending;
    p.records.insert(p.records.end(), std::make_move_iterator(unit_records.begin()), std::make_move_iterator(unit_records.end()));
    for (auto& sc : snaps) {
      auto [it, fresh] = p.index.try_emplace(sc.id, p.cases.size());
      if (fresh) {
        p.cases.push_back(std::move(sc));
      } else {
        sc.expected = p.cases[it->second].expected;  // the store still holds the revision before both
        p.cases[it->second] = std::move(sc);
      }
    }
    for (auto& [k, v] : meta) p.meta[k] = std::move(v);
    p.flows.insert(p.flows.end(), unit_flows.begin(), unit_flows.end());
    const std::uint64_t ticket = ++group.enqueued;
    unit_records.clear();
    touched.clear();
    unit_flows.clear();
    counters_changed = false;
    lk.unlock();
    // Leader and followers: whoever finds no transaction running writes everything pending;
    // the others sleep until a transaction that carries their unit is done.
    while (group.committed < ticket && group.failure.empty()) {
      if (group.committing) {
        group.done.wait(gl);
        continue;
      }
      group.committing = true;
      GroupCommit::Pending batch = std::exchange(group.pending, {});
      const std::uint64_t upto = group.enqueued;
      gl.unlock();
      std::string failure;
      bool conflict = false;
      try {
        options.store->commit(StoreBatch{batch.records, batch.cases, std::move(batch.meta), batch.flows});
      } catch (const std::exception& e) {
        failure = e.what();
        conflict = dynamic_cast<const ConflictError*>(&e) != nullptr;
      }
      gl.lock();
      group.committing = false;
      if (failure.empty()) {
        group.committed = upto;
      } else {
        group.failure = failure;
        group.conflict = conflict;
      }
      group.done.notify_all();
    }
    const std::string failure = group.committed < ticket ? group.failure : std::string();
    const bool conflict = group.conflict;
    gl.unlock();
    lk.lock();
    if (!failure.empty()) {
      if (store_failure.empty()) store_failure = failure;
      throw_commit_failure(failure, conflict);
    }
  }

  // Values for data fields from outside (start data, update, resolve, action results), checked
  // and converted against the flow's schema. Throws DataError naming the field.
  std::vector<Change> checked_changes(const Flow& f, const Map& values) const {
    std::vector<Change> out;
    for (const auto& [k, v] : values) {
      const DataField* field = f.find_field(k);
      if (!field) {
        std::vector<std::string> names;
        for (const auto& d : f.data) names.push_back(d.name);
        throw DataError(fmt::format("flow '{}' has no data field '{}'{}", f.id, k, detail::did_you_mean(k, names)));
      }
      out.push_back({static_cast<std::int32_t>(field - f.data.data()), field->type.coerce(v, k)});
    }
    return out;
  }

  // As checked_changes, but a failure is recorded as the case's `rejected` call.
  std::vector<Change> checked_changes(Case& c, const Map& values, std::string_view call, const EventOptions& o,
                                      TimePoint at) {
    try {
      return checked_changes(c.flow(), values);
    } catch (const DataError& e) {
      reject(&c, c.id, call, o, at, e.message());
    }
  }

  // ------------------------------------------------------------------------- views

  Case& find(std::string_view id, std::string_view event, const EventOptions& o, TimePoint at) {
    auto it = by_id.find(id);
    if (it == by_id.end()) {
      // A recovered engine holds only open cases; a closed one is still in the store.
      if (options.store && !options.store->history(id).empty())
        reject(nullptr, id, event, o, at, fmt::format("case '{}' is closed (its history is in the store); it takes no events", id));
      reject(nullptr, id, event, o, at, fmt::format("unknown case '{}'", id));
    }
    return *cases[it->second];
  }

  const Case& find(std::string_view id) const {
    auto it = by_id.find(id);
    if (it == by_id.end()) throw CaseError(fmt::format("unknown case '{}'", id));
    return *cases[it->second];
  }

  CaseView view(const Case& c, TimePoint now) const {
    CaseView v;
    v.id = c.id;
    v.flow = c.flow().id;
    v.version = c.flow().version;
    v.status = c.status;
    if (c.step >= 0) {
      v.steps.push_back(c.current().name);
      v.role = c.current().role;
    }
    v.assignee = c.assignee;
    if (c.rt->priority_slot >= 0) v.priority = c.data[static_cast<std::size_t>(c.rt->priority_slot)].to_display();
    for (std::size_t i = 0; i < c.data.size(); ++i)
      if (!c.data[i].is_null()) v.data[c.flow().data[i].name] = c.data[i];
    v.started = c.started;
    v.entered = c.entered;
    v.outcome = c.outcome;
    v.incident = c.incident;
    if (c.parent >= 0) v.parent = cases[static_cast<std::size_t>(c.parent)]->id;
    for (auto slot : c.children) v.children.push_back(cases[slot]->id);
    const auto& dk = c.clocks[c.deadline_clock()];
    if (dk.active && dk.visit == c.visit) {
      DeadlineView d;
      d.step = c.current().name;
      d.started = dk.started;
      d.due = due_instant(dk);
      d.overdue = now >= d.due;
      d.level = dk.level;
      v.deadlines.push_back(d);
    }
    for (std::size_t i = 0; i < c.flow().slas.size(); ++i) {
      const ClockState& k = c.clocks[i];
      SlaView s;
      s.name = c.flow().slas[i].name;
      s.elapsed = elapsed(k, now);
      s.remaining = k.total - s.elapsed;
      s.due = k.running ? due_instant(k) : TimePoint{};
      s.warned = k.warned;
      s.level = k.level;
      s.state = k.done      ? SlaView::State::breached
                : k.met     ? SlaView::State::met
                : k.running ? SlaView::State::running
                            : SlaView::State::paused;
      v.slas.push_back(s);
    }
    return v;
  }
};

// =============================================================================== Engine

Engine::Engine(EngineOptions options) : impl_(std::make_unique<Impl>(std::move(options))) {}
Engine::~Engine() { stop_runner(); }

void Engine::load(std::span<const std::string> paths) {
  auto flows = load_flows(paths);
  add_flows(flows);
}

void Engine::load(std::initializer_list<std::string> paths) {
  load(std::span<const std::string>(paths.begin(), paths.size()));
}

void Engine::add_flows(std::span<const FlowPtr> flows) {
  auto& m = *impl_;
  std::unique_lock lk(m.mutex);
  m.check_store();
  if (m.options.store) {
    std::vector<Diagnostic> conflicts;
    for (const auto& f : flows)
      if (auto d = m.stored_version_conflict(*f)) conflicts.push_back(std::move(*d));
    if (!conflicts.empty()) throw FlowError(std::move(conflicts));
  }
  for (const auto& f : flows) m.add_flow(f);
  m.flush(lk);  // new versions are durable before a case can start on them
}

std::vector<FlowPtr> Engine::flows() const {
  std::lock_guard lk(impl_->mutex);
  std::vector<FlowPtr> out;
  for (const auto& rt : impl_->flows) out.push_back(rt->flow);
  return out;
}

std::size_t Engine::recover() {
  auto& m = *impl_;
  std::unique_lock lk(m.mutex);
  if (!m.options.store) throw Error("recover() needs a store (EngineOptions::store)");
  if (!m.cases.empty()) throw Error("recover() must come before any case is started or recovered");
  const auto meta = m.options.store->meta();
  // Journal time is monotonic, so the newest record's time is the latest time the engine used.
  m.high_water = std::max(m.high_water, m.options.store->last_time());
  const TimePoint now = m.now();
  auto stored = m.options.store->open_cases();
  std::vector<detail::LoadedCase> loaded;
  loaded.reserve(stored.size());
  const auto find_flow = [&m](std::string_view id, std::int64_t version) -> FlowRt* {
    if (!version) return nullptr;
    if (FlowRt* rt = m.find_flow(id, version)) return rt;
    return m.stored_flow_rt(id, version);
  };
  for (const auto& sc : stored) {
    loaded.push_back(detail::load_case(sc.state, find_flow));  // throws before anything changes
    loaded.back().c->last_seq = sc.seq;
    loaded.back().c->revision = sc.revision;
  }
  for (auto& l : loaded) {
    l.c->slot = static_cast<std::uint32_t>(m.cases.size());
    m.by_id.emplace(l.c->id, l.c->slot);
    m.cases.push_back(std::move(l.c));
  }
  for (std::size_t i = 0; i < loaded.size(); ++i) {
    Case& c = *m.cases[i];
    if (!loaded[i].parent.empty())
      if (auto it = m.by_id.find(loaded[i].parent); it != m.by_id.end()) c.parent = it->second;
    for (const auto& ch : loaded[i].children)
      if (auto it = m.by_id.find(ch); it != m.by_id.end()) c.children.push_back(it->second);
  }
  m.record_seq = m.options.store->last_seq();
  for (const auto& [k, v] : meta)
    if (k.rfind("case-number/", 0) == 0) m.id_counters[k.substr(12)] = std::stoull(v);
  m.recovering = true;
  for (auto& cp : m.cases) {
    Case& c = *cp;
    for (std::size_t i = 0; i < c.clocks.size(); ++i) {
      if (!c.clocks[i].active) continue;
      m.catch_up_latest(c, i, now);
      m.schedule(c, i);
    }
  }
  m.recovering = false;
  m.fire_due(lk, now);  // what fell due while the engine was down, in time order, once
  m.finish(lk, now);
  return loaded.size();
}

void Engine::on_action(std::string name, ActionHandler handler) {
  std::lock_guard lk(impl_->mutex);
  impl_->actions[std::move(name)] = std::move(handler);
}

void Engine::on_notify(NotifyHandler handler) {
  std::lock_guard lk(impl_->mutex);
  impl_->listeners.push_back(std::move(handler));
}

std::string Engine::start(std::string_view flow_id, Map data, StartOptions options) {
  auto& m = *impl_;
  return m.locked_call([&](TimePoint now) {
    FlowRt* rt = m.find_flow(flow_id, options.version);
    if (!rt) {
      std::vector<std::string> ids;
      for (const auto& f : m.flows) ids.push_back(f->flow->id);
      std::string hint = detail::did_you_mean(flow_id, ids);
      throw EventError(fmt::format("unknown flow '{}'{}{}", flow_id,
                                   options.version ? fmt::format(" version {}", options.version) : "",
                                   hint.empty() ? "; load it first" : hint));
    }
    return m.create_case(rt, data, options.id, now, options.actor, options.channel, nullptr).id;
  });
}

void Engine::send(std::string_view case_id, std::string_view event, Map payload, EventOptions options) {
  auto& m = *impl_;
  m.locked_call([&](TimePoint now) {
    Case* c = &m.find(case_id, event, options, now);
    // A case waiting at a parallel step takes events through its branches: the first active
    // branch whose step handles the event gets it.
    if (c->status == CaseStatus::active && c->current().kind == StepKind::parallel) {
      for (auto slot : c->children) {
        Case& b = *m.cases[slot];
        if (b.join_step < 0 || b.parent_visit != c->visit || b.status != CaseStatus::active) continue;
        const auto& on = b.current().on;
        if (std::any_of(on.begin(), on.end(), [&](const Transition& t) { return t.event == event; })) {
          c = &b;
          break;
        }
      }
    }
    m.apply_event(*c, event, payload, options, now);
  });
}

void Engine::update(std::string_view case_id, Map changes, EventOptions options) {
  auto& m = *impl_;
  m.locked_call([&](TimePoint now) {
    Case& c = m.find(case_id, "update", options, now);
    if (c.status == CaseStatus::completed || c.status == CaseStatus::cancelled)
      m.reject(&c, case_id, "update", options, now, fmt::format("case '{}' is {}", c.id, case_status_name(c.status)));
    m.apply_changes(c, m.checked_changes(c, changes, "update", options, now), now, options.actor, options.channel);
  });
}

void Engine::cancel(std::string_view case_id, std::string_view reason, EventOptions options) {
  auto& m = *impl_;
  m.locked_call([&](TimePoint now) {
    Case& c = m.find(case_id, "cancel", options, now);
    if (c.status == CaseStatus::completed || c.status == CaseStatus::cancelled)
      m.reject(&c, case_id, "cancel", options, now,
               fmt::format("case '{}' is already {}", c.id, case_status_name(c.status)));
    m.cancel_case(c, now, std::string(reason), options);
    m.tell_parent(c, now,
                  fmt::format("sub-flow case '{}' was cancelled{}{}", c.id, reason.empty() ? "" : ": ", reason));
  });
}

void Engine::reschedule(std::string_view case_id, TimePoint due, EventOptions options) {
  auto& m = *impl_;
  m.locked_call([&](TimePoint now) {
    Case& c = m.find(case_id, "reschedule", options, now);
    if (c.status != CaseStatus::active || !c.current().deadline)
      m.reject(&c, case_id, "reschedule", options, now,
               fmt::format("case '{}' has no running deadline to reschedule (step '{}')", c.id,
                           c.step >= 0 ? c.current().name : ""));
    m.set_absolute_deadline(c, due, now);
  });
}

void Engine::retry(std::string_view case_id, EventOptions options) {
  auto& m = *impl_;
  m.locked_call([&](TimePoint now) {
    Case& c = m.find(case_id, "retry", options, now);
    if (c.status != CaseStatus::incident || c.current().kind != StepKind::action)
      m.reject(&c, case_id, "retry", options, now,
               fmt::format("case '{}' has no failed action to retry (it is {} in step '{}')", c.id,
                           case_status_name(c.status), c.current().name));
    c.status = CaseStatus::active;
    c.incident.clear();
    Record r = m.make(c, RecordType::resolved, now);
    r.actor = options.actor;
    r.channel = options.channel;
    r.message = "retry";
    m.commit(&c, std::move(r));
    m.jobs.push_back({c.slot, c.visit, 1, now});
  });
}

void Engine::resolve(std::string_view case_id, Map data, std::string_view to_step, EventOptions options) {
  auto& m = *impl_;
  m.locked_call([&](TimePoint now) {
    Case& c = m.find(case_id, "resolve", options, now);
    if (c.status != CaseStatus::incident)
      m.reject(&c, case_id, "resolve", options, now,
               fmt::format("case '{}' has no incident (it is {})", c.id, case_status_name(c.status)));
    std::int32_t target = c.current().next_index;
    if (!to_step.empty()) {
      target = c.flow().step_index(to_step);
      if (target < 0)
        m.reject(&c, case_id, "resolve", options, now, fmt::format("flow '{}' has no step '{}'", c.flow().id, to_step));
    }
    if (target < 0)
      m.reject(&c, case_id, "resolve", options, now,
               fmt::format("step '{}' has no `next`; say which step the case goes to", c.current().name));
    const auto checked = m.checked_changes(c, data, "resolve", options, now);
    c.status = CaseStatus::active;
    c.incident.clear();
    Record r = m.make(c, RecordType::resolved, now);
    r.actor = options.actor;
    r.channel = options.channel;
    r.target = c.flow().steps[static_cast<std::size_t>(target)].name;
    m.commit(&c, std::move(r));
    m.apply_changes(c, checked, now, options.actor, options.channel);
    m.move_to(c, target, now);
  });
}

std::size_t Engine::migrate(const Migration& migration, EventOptions options) {
  auto& m = *impl_;
  return m.locked_call([&](TimePoint now) { return m.migrate(migration, options, now); });
}

std::size_t Engine::update_calendar(const CalendarSpec& spec) {
  auto& m = *impl_;
  return m.locked_call([&](TimePoint now) {
    auto fresh = std::make_shared<Calendar>(spec);  // throws for a bad zone or no working time
    std::size_t flows_changed = 0;
    std::vector<std::unique_ptr<Calendar>> retired;  // old calendars live until every clock moved off them
    for (auto& rt : m.flows) {
      auto it = rt->calendars.find(spec.name);
      if (it == rt->calendars.end()) continue;
      ++flows_changed;
      const Calendar* old_cal = it->second.get();
      auto replacement = std::make_unique<Calendar>(*fresh);
      const Calendar* new_cal = replacement.get();
      for (auto& cp : m.cases) {
        Case& c = *cp;
        if (c.rt != rt.get() || c.status == CaseStatus::completed || c.status == CaseStatus::cancelled) continue;
        for (std::size_t i = 0; i < c.clocks.size(); ++i) {
          ClockState& k = c.clocks[i];
          if (!k.active || k.cal != old_cal || k.kind == ClockKind::timer) continue;
          ReschedulePolicy policy = ReschedulePolicy::carry;
          if (k.kind == ClockKind::deadline) {
            const Deadline& dl = *c.flow().steps[static_cast<std::size_t>(k.index)].deadline;
            if (!dl.within) {  // an `at:` due time is absolute: only its `after:` levels move
              k.cal = new_cal;
              m.schedule(c, i);
              continue;
            }
            policy = dl.on_change;
          }
          const TimePoint old_due = k.running ? m.due_instant(k) : TimePoint{};
          switch (policy) {
            case ReschedulePolicy::keep:
              // Same due time, now measured in wall time so it no longer depends on the calendar.
              if (k.running) {
                k.consumed = k.since - k.started;
                k.total = old_due - k.started;
                k.business = false;
              }
              k.cal = new_cal;
              break;
            case ReschedulePolicy::recompute: {
              const auto& d = *c.flow().steps[static_cast<std::size_t>(k.index)].deadline->within;
              k.cal = new_cal;
              k.since = k.started;
              k.consumed = Duration{0};
              k.total = d.basis == TimeBasis::business_days
                            ? new_cal->business_time_between(k.started, new_cal->add_business_days(k.started, d.days))
                            : d.length;
              break;
            }
            case ReschedulePolicy::carry:
              if (k.running) {
                k.consumed += m.measured(k, k.since, now);
                k.since = now;
              }
              k.cal = new_cal;
              break;
          }
          if (k.running && m.due_instant(k) != old_due) {
            Record r = m.make(c, RecordType::deadline_set, now);
            r.due = m.due_instant(k);
            if (k.kind == ClockKind::sla) r.target = c.flow().slas[static_cast<std::size_t>(k.index)].name;
            r.message = fmt::format("calendar '{}' changed", spec.name);
            m.commit(&c, std::move(r));
          }
          m.schedule(c, i);
        }
      }
      if (rt->default_cal == old_cal) rt->default_cal = new_cal;
      retired.push_back(std::move(it->second));
      it->second = std::move(replacement);
    }
    return flows_changed;
  });
}

void Engine::start_runner(Duration max_sleep) {
  auto& m = *impl_;
  std::lock_guard lk(m.mutex);
  if (m.runner_on) return;
  m.runner_on = true;
  m.runner_stop = false;
  m.runner = std::thread([&m, max_sleep] {
    std::unique_lock lk(m.mutex);
    while (!m.runner_stop) {
      const TimePoint now = m.now();
      m.drop_stale();
      if (!m.heap.empty() && m.heap.top().at <= now) {
        m.fire_due(lk, now);
        try {
          m.flush(lk);
        } catch (const StoreError&) {
          return;  // the engine refuses changes from now on; the host sees it on its next call
        }
        m.dispatch(lk);
        continue;
      }
      Duration sleep = max_sleep;
      if (!m.heap.empty()) sleep = std::min(sleep, m.heap.top().at - now);
      m.wake.wait_for(lk, sleep);
    }
  });
}

void Engine::stop_runner() {
  auto& m = *impl_;
  {
    std::lock_guard lk(m.mutex);
    if (!m.runner_on) return;
    m.runner_stop = true;
    m.wake.notify_all();
  }
  m.runner.join();
  std::lock_guard lk(m.mutex);
  m.runner_on = false;
}

std::size_t Engine::run_due() {
  auto& m = *impl_;
  std::unique_lock lk(m.mutex);
  m.check_store();
  const TimePoint now = m.now();
  const std::size_t fired = m.fire_due(lk, now);
  m.finish(lk, now);  // action handlers, what they made due, commit, listeners
  return fired + m.last_fired;
}

std::optional<TimePoint> Engine::next_due() const {
  std::lock_guard lk(impl_->mutex);
  impl_->drop_stale();
  if (impl_->heap.empty()) return std::nullopt;
  return impl_->heap.top().at;
}

CaseView Engine::get(std::string_view case_id) const {
  std::lock_guard lk(impl_->mutex);
  return impl_->view(impl_->find(case_id), impl_->clock->now());
}

std::vector<CaseView> Engine::query(const Query& q) const {
  std::lock_guard lk(impl_->mutex);
  const auto& m = *impl_;
  const TimePoint now = m.clock->now();
  struct Hit {
    const Case* c;
    int prio;
  };
  std::vector<Hit> hits;
  for (const auto& cp : m.cases) {
    const Case& c = *cp;
    if (q.status && c.status != *q.status) continue;
    if (!q.flow.empty() && c.flow().id != q.flow) continue;
    if (c.step < 0) continue;
    if (!q.step.empty() && c.current().name != q.step) continue;
    if (!q.role.empty() && c.current().role != q.role) continue;
    if (!q.assignee.empty() && c.assignee != q.assignee) continue;
    const auto& dk = c.clocks[c.deadline_clock()];
    const bool has_deadline = dk.active && dk.visit == c.visit;
    if (q.overdue && (has_deadline && now >= m.due_instant(dk)) != *q.overdue) continue;
    if (q.min_level > 0 && (!has_deadline || dk.level < q.min_level)) continue;
    int prio = 0;
    if (c.rt->priority_slot >= 0) {
      const auto& pf = c.flow().data[static_cast<std::size_t>(c.rt->priority_slot)];
      const Value& pv = c.data[static_cast<std::size_t>(c.rt->priority_slot)];
      if (pv.kind() == Value::Kind::string) {
        auto it = std::find(pf.type.values.begin(), pf.type.values.end(), pv.as_string());
        prio = static_cast<int>(it - pf.type.values.begin());
      } else if (pv.kind() == Value::Kind::integer) {
        prio = static_cast<int>(pv.as_int());
      }
    }
    hits.push_back({&c, prio});
  }
  std::stable_sort(hits.begin(), hits.end(), [](const Hit& a, const Hit& b) {
    if (a.prio != b.prio) return a.prio > b.prio;
    return a.c->entered < b.c->entered;
  });
  if (q.limit && hits.size() > q.limit) hits.resize(q.limit);
  std::vector<CaseView> out;
  out.reserve(hits.size());
  for (const auto& h : hits) out.push_back(m.view(*h.c, now));
  return out;
}

std::vector<Record> Engine::history(std::string_view case_id) const {
  std::lock_guard lk(impl_->mutex);
  if (impl_->options.store) {
    auto h = impl_->options.store->history(case_id);
    if (h.empty()) (void)impl_->find(case_id);  // unknown case: CaseError
    return h;
  }
  const Case& c = impl_->find(case_id);
  std::vector<Record> out;
  out.reserve(c.records.size());
  for (auto i : c.records) out.push_back(impl_->journal[i]);
  return out;
}

std::string Engine::journal_jsonl(std::string_view case_id) const {
  std::lock_guard lk(impl_->mutex);
  std::string out;
  auto add = [&](const Record& r) {
    out += r.to_json();
    out += '\n';
  };
  if (!case_id.empty()) {
    for (auto i : impl_->find(case_id).records) add(impl_->journal[i]);
    return out;
  }
  // Merge case records and refused calls for unknown cases by sequence number.
  std::size_t a = 0, b = 0;
  const auto& j = impl_->journal;
  const auto& o = impl_->orphan_records;
  while (a < j.size() || b < o.size()) {
    if (b >= o.size() || (a < j.size() && j[a].seq < o[b].seq))
      add(j[a++]);
    else
      add(o[b++]);
  }
  return out;
}

std::size_t Engine::case_count() const {
  std::lock_guard lk(impl_->mutex);
  return impl_->by_id.size();
}

}  // namespace escalon
