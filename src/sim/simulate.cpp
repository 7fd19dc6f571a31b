// The simulator: a discrete-event loop around the real engine. It owns three kinds of future
// happenings (arrivals, work or answers that finish, staff coming on duty) and asks the engine
// for its own (deadlines, escalations, waits, retries); whichever is earliest runs next, on a
// manual clock. What the cases do is learnt from the journal: an `entered` record puts the case
// into its role's queue or starts the outside world's delay.

#include <fmt/format.h>

#include <cmath>
#include <queue>
#include <set>
#include <tuple>
#include <unordered_map>

#include "escalon/calendar.hpp"
#include "escalon/engine.hpp"
#include "escalon/expr.hpp"
#include "escalon/report.hpp"
#include "escalon/store.hpp"
#include "model/priority.hpp"
#include "sim/checks.hpp"
#include "sim/duty.hpp"
#include "sim/generate.hpp"
#include "sim/model.hpp"
#include "sim/rng.hpp"

#include <date/tz.h>

namespace escalon {
namespace {

using detail::draw;
using detail::Rng;

enum class Kind : std::uint8_t { arrival, work_done, answer, wake, sample, booked, replayed };

struct Happening {
  TimePoint at{};
  std::uint64_t order = 0;  // ties: in the order they were planned
  Kind kind = Kind::arrival;
  std::size_t index = 0;    // arrival or role index
  std::string case_id{};    // {}: clang's -Wmissing-field-initializers, for plan({at, 0, kind})
  std::uint64_t visit = 0;
  const detail::SimStep* step = nullptr;
  std::int32_t agent = -1;
  std::size_t queue = 0;    // work_done: the role's queue the work came from
  friend bool operator>(const Happening& a, const Happening& b) { return std::tie(a.at, a.order) > std::tie(b.at, b.order); }
};

struct Waiting {
  std::int64_t rank = 0;  // the case's priority rank; 0 in a fifo queue
  TimePoint since{};
  std::uint64_t seq = 0;  // ties: in the order they joined
  std::string case_id{};
  std::uint64_t visit = 0;
  const detail::SimStep* step = nullptr;
  // The order a free agent takes them in: the highest priority, then the longest waiting.
  friend bool operator<(const Waiting& a, const Waiting& b) { return std::tie(b.rank, a.since, a.seq) < std::tie(a.rank, b.since, b.seq); }
};

// A role's queue; every team that serves the role takes from it.
struct Queue {
  std::string role;
  bool fifo = false;
  std::set<Waiting> waiting;
  std::vector<std::size_t> teams;  // asked in this order: those that prefer the role most first
  std::optional<std::size_t> own;  // the team named after the role, when it serves it
  SimRoleStats stats;
};

struct Team {
  const detail::SimStaff* staff = nullptr;
  std::unique_ptr<Calendar> calendar;  // null: always on duty
  std::vector<std::size_t> serves;     // queues, the preferred first
  std::vector<std::int32_t> load;      // cases each agent works on now
  std::vector<detail::Duty> duty;      // each agent's shift and breaks
  bool rostered = false;               // some agent has a shift or breaks
  std::int32_t busy = 0;
  std::optional<TimePoint> wake;       // a wake-up is planned at this time
  bool freed = false;                  // an agent got room since the wake-up was planned
  Duration busy_area{0};               // sum over time of busy slots
  TimePoint last_change{};
  SimTeamStats stats;
};

struct Tracked {
  std::string flow;
  std::string step;
  std::string assignee;
  std::uint64_t visit = 0;  // seq of the `entered` record of the current step
  TimePoint entered{};
  std::int64_t priority = 0;  // rank of the `priority` field: the enum's later values first
  std::int32_t queued = -1;   // the queue it waits in, if it waits
  TimePoint since{};          // and its place there
  std::uint64_t queue_seq = 0;
};

class Simulator {
 public:
  Simulator(std::span<const FlowPtr> flows, const detail::SimModelData& model, const SimOptions& options, TimePoint start,
            std::vector<detail::Replayed> replay)
      : model_(model), options_(options), rng_(options.seed), clock_(start), replay_(std::move(replay)) {
    for (const auto& f : flows)
      if (!latest_.count(f->id) || latest_[f->id]->version < f->version) latest_[f->id] = f.get();
    take_checked(detail::check_model(model_, flows, latest_));
    if (options.store) {
      store_ = options.store;
      if (store_->last_seq() != 0)
        throw StoreError(fmt::format("the store already holds {} records; a simulation writes into an empty store "
                                     "(remove the file, or name another one)",
                                     store_->last_seq()));
    } else {
      owned_store_ = std::make_unique<MemoryStore>();
      store_ = owned_store_.get();
    }
    engine_ = std::make_unique<Engine>(EngineOptions{
        .clock = &clock_, .keep_journal = false, .journal_sink = [this](const Record& r) { on_record(r); }, .store = store_});
    engine_->add_flows(flows);
    for (const auto& a : model_.actions)
      engine_->on_action(a.name, [this, &a](ActionContext& ctx) { act(a, ctx); });
  }

  // What the checks of the model against the flows resolved: the simulator runs with it.
  void take_checked(detail::CheckedModel checked) {
    zone_ = checked.zone;
    for (std::size_t i = 0; i < model_.staff.size(); ++i) teams_.push_back(make_team(model_.staff[i], std::move(checked.calendars[i])));
    role_index_ = std::move(checked.role_index);
    for (const auto& role : checked.queues) {
      Queue q;
      q.role = role;
      q.stats.role = role;
      // (place of the role in the team's `serves`, not the team named after the role, team)
      std::vector<std::tuple<std::size_t, bool, std::size_t>> by_preference;
      for (std::size_t t = 0; t < teams_.size(); ++t) {
        const auto roles = teams_[t].staff->roles();
        const auto at = std::find(roles.begin(), roles.end(), role);
        if (at == roles.end()) continue;
        by_preference.emplace_back(static_cast<std::size_t>(at - roles.begin()), teams_[t].staff->role != role, t);
        if (teams_[t].staff->role == role) q.own = t;
      }
      q.fifo = q.own && teams_[*q.own].staff->fifo;
      std::sort(by_preference.begin(), by_preference.end());
      for (const auto& choice : by_preference) q.teams.push_back(std::get<2>(choice));
      queues_.push_back(std::move(q));
    }
    for (auto& t : teams_)
      for (const auto& role : t.staff->roles()) t.serves.push_back(role_index_.at(role));
    steps_ = std::move(checked.steps);
    gen_.emplace(std::move(checked.exprs), clock_, rng_);
  }

  Team make_team(const detail::SimStaff& s, std::unique_ptr<Calendar> calendar) const {
    Team t;
    t.staff = &s;
    t.calendar = std::move(calendar);
    t.load.assign(static_cast<std::size_t>(s.agents), 0);
    t.duty = detail::roster(s, t.calendar.get(), zone_);
    t.rostered = std::any_of(t.duty.begin(), t.duty.end(), [](const detail::Duty& d) { return !d.calendar_only(); });
    t.stats.team = s.role;
    t.stats.serves = s.roles();
    t.stats.agents = s.agents;
    t.stats.capacity = s.capacity;
    return t;
  }

  SimResult run() {
    const TimePoint from = clock_.now();
    const TimePoint to = from + std::chrono::days{options_.days};
    result_.from = from;
    result_.to = to;
    result_.seed = options_.seed;
    for (auto& t : teams_) t.last_change = from;
    carry_.assign(model_.arrivals.size(), 0.0);
    for (std::size_t i = 0; i < model_.arrivals.size(); ++i) arrival_rngs_.push_back(Rng::stream(options_.seed, i));
    if (options_.replay) {
      while (next_replayed_ < replay_.size() && replay_[next_replayed_].at < from) ++next_replayed_;
      if (next_replayed_ < replay_.size()) plan({replay_[next_replayed_].at, 0, Kind::replayed, next_replayed_});
    } else {
      for (std::size_t i = 0; i < model_.arrivals.size(); ++i) plan_arrival(i, from);
    }
    plan({from, 0, Kind::sample});
    while (true) {
      const auto due = engine_->next_due();
      const TimePoint next_sim = agenda_.empty() ? TimePoint::max() : agenda_.top().at;
      const TimePoint next = std::min(due.value_or(TimePoint::max()), next_sim);
      if (next > to) break;
      clock_.set(std::max(next, clock_.now()));
      if (due && *due <= next_sim) {
        engine_->run_due();
        take_entries();
        continue;
      }
      Happening h = agenda_.top();
      agenda_.pop();
      handle(h);
      take_entries();
    }
    clock_.set(to);
    engine_->run_due();
    take_entries();
    finish(from, to);
    if (options_.progress) options_.progress(1.0);
    return std::move(result_);
  }

 private:
  const detail::SimModelData& model_;
  const SimOptions& options_;
  Rng rng_;  // work times, answers, action failures: what a model changes
  // Arrivals draw from their own generators (one per stream, one for replayed personal data),
  // so that two models with the same seed get the same arrivals (escalon simulate --compare).
  std::vector<Rng> arrival_rngs_;
  Rng replay_rng_{Rng::stream(options_.seed, 1u << 20)};
  ManualClock clock_;
  std::optional<detail::Generator> gen_;  // draws from rng_ unless told otherwise
  std::map<std::string, const Flow*> latest_;
  const date::time_zone* zone_ = nullptr;  // the model's, for arrival hours and weekdays
  std::unique_ptr<Store> owned_store_;
  Store* store_ = nullptr;
  std::unique_ptr<Engine> engine_;
  std::priority_queue<Happening, std::vector<Happening>, std::greater<>> agenda_;
  std::uint64_t order_ = 0;
  std::vector<double> carry_;  // per arrival stream: its exact time minus the whole second planned (ms)
  std::vector<detail::Replayed> replay_;  // SimOptions::replay's starts, in time order
  std::size_t next_replayed_ = 0;
  std::vector<Team> teams_;
  std::vector<Queue> queues_;
  std::map<std::string, std::size_t> role_index_;  // role -> its queue
  std::uint64_t queue_seq_ = 0;
  std::map<std::pair<std::string, std::string>, const detail::SimStep*> steps_;  // (flow, step)
  std::unordered_map<std::string, Tracked> cases_;
  std::vector<std::pair<std::string, std::uint64_t>> entries_;  // (case, visit) entered during the last call
  std::vector<std::pair<std::string, std::uint64_t>> moves_;    // (case, visit) reassigned while waiting
  std::size_t open_ = 0;
  SimResult result_;

  // ------------------------------------------------------------------ the agenda

  void plan(Happening h) {
    h.order = ++order_;
    agenda_.push(std::move(h));
  }

  // Local hour and weekday (Monday = 0) of `t` in the model's time zone.
  std::pair<int, int> local(TimePoint t) const {
    const auto lt = zone_->to_local(std::chrono::time_point_cast<std::chrono::seconds>(t));
    const auto day = date::floor<date::days>(lt);
    const int hour = static_cast<int>(std::chrono::duration_cast<std::chrono::hours>(lt - day).count());
    const int weekday = static_cast<int>((date::weekday(day).c_encoding() + 6) % 7);
    return {hour, weekday};
  }

  // Piecewise-constant Poisson process: the rate holds for one local hour; an exponential
  // gap that runs past the hour's end is drawn again from there (the process is memoryless).
  void plan_arrival(std::size_t i, TimePoint from) {
    const auto& a = model_.arrivals[i];
    double hour_sum = 0;
    for (double h : a.by_hour) hour_sum += h;
    const auto ms = [](TimePoint t) { return static_cast<double>(t.time_since_epoch().count()); };
    // The stream's exact time: arrivals happen on whole seconds (journals read like a desk's),
    // and what rounding moved each one by is carried into the next gap. Rounding every gap up
    // instead added half a second to each: 6 % fewer arrivals at 8 a minute.
    double exact = ms(from) + carry_[i];
    const double limit = ms(from + std::chrono::days{options_.days + 8});
    while (exact < limit) {
      const TimePoint t{Duration{static_cast<std::int64_t>(std::floor(exact))}};
      const auto [hour, weekday] = local(t);
      const double per_hour = a.per_day * a.by_weekday[static_cast<std::size_t>(weekday)] *
                              a.by_hour[static_cast<std::size_t>(hour)] / hour_sum;
      const double hour_end = ms(std::chrono::floor<std::chrono::hours>(t) + std::chrono::hours{1});
      if (per_hour <= 0) {
        exact = hour_end;
        continue;
      }
      const double next = exact + arrival_rngs_[i].exponential(3'600'000.0 / per_hour);
      if (next < hour_end) {
        const TimePoint at = std::chrono::round<std::chrono::seconds>(TimePoint{Duration{std::llround(next)}});
        carry_[i] = next - ms(at);
        plan({at, 0, Kind::arrival, i});
        return;
      }
      exact = hour_end;  // the rate changes with the hour: a new gap from there (memoryless)
    }
  }

  void handle(const Happening& h) {
    switch (h.kind) {
      case Kind::arrival: arrive(h.index); break;
      case Kind::replayed: arrive_replayed(h.index); break;
      case Kind::work_done: work_done(h); break;
      case Kind::answer: answer(h.case_id, h.visit, *h.step, ""); break;
      case Kind::wake:
        teams_[h.index].wake.reset();
        dispatch(h.index);
        break;
      case Kind::sample: sample(h.at); break;
      case Kind::booked:  // the booked time has come: the case joins its team's queue now
        if (current(h.case_id, h.visit)) enqueue(queue_of(cases_.at(h.case_id)), waiting_now(h.case_id, h.visit, h.step));
        break;
    }
  }

  void arrive(std::size_t i) {
    const auto& a = model_.arrivals[i];
    Map data;
    Value channel;
    {
      const detail::Generator::DrawFrom stream(*gen_, arrival_rngs_[i]);  // not for what the start sets off (actions)
      data = gen_->values(a.data, Map{});
      channel = gen_->value(a.channel, data);
    }
    try {
      engine_->start(a.flow, std::move(data), StartOptions{.channel = channel.is_null() ? "" : channel.to_display()});
    } catch (const Error& e) {
      throw Error(fmt::format("arrivals of '{}': the engine refused the case: {}; give the missing or wrong data under `data:`",
                              a.flow, e.message()),
                  a.where);
    }
    ++result_.arrivals[a.flow];
    plan_arrival(i, clock_.now());
  }

  // A case of the real store starts again, as it did then; its personal data (not replayed)
  // comes from the model's `data:` for its flow when there is one.
  void arrive_replayed(std::size_t k) {
    detail::Replayed& a = replay_[k];
    const auto stream = std::find_if(model_.arrivals.begin(), model_.arrivals.end(), [&](const auto& s) { return s.flow == a.flow; });
    if (stream != model_.arrivals.end()) {
      const detail::Generator::DrawFrom personal(*gen_, replay_rng_);
      Map generated = gen_->values(stream->data, Map{});
      for (auto& [name, v] : generated) a.data.try_emplace(name, std::move(v));
    }
    try {
      engine_->start(a.flow, std::move(a.data), StartOptions{.actor = a.actor, .channel = a.channel});
    } catch (const Error& e) {
      throw Error(fmt::format("replaying case '{}' (started {}): the engine refused it: {}; a field the flow needs and the "
                              "store does not give (personal data is not replayed) goes under `arrivals: {}: data:` in the model",
                              a.id, format_iso8601(a.at), e.message(), a.flow));
    }
    ++result_.arrivals[a.flow];
    ++result_.replayed;
    if (++next_replayed_ < replay_.size()) plan({replay_[next_replayed_].at, 0, Kind::replayed, next_replayed_});
  }

  // ------------------------------------------------------------------ what the journal tells

  void on_record(const Record& r) {
    switch (r.type) {
      case RecordType::started: {
        auto& t = cases_[r.case_id];
        t.flow = r.target;
        if (r.data.kind() == Value::Kind::map)
          if (const auto it = r.data.as_map().find("priority"); it != r.data.as_map().end()) t.priority = rank(t.flow, it->second);
        ++open_;
        break;
      }
      case RecordType::data_changed:
        if (r.target == "priority") {
          // A raised priority reorders the queue the case waits in at once.
          Tracked& t = cases_[r.case_id];
          const std::int32_t queue = t.queued;
          std::optional<Waiting> w = unqueue(t);
          t.priority = rank(t.flow, r.new_value);
          if (w) put(static_cast<std::size_t>(queue), std::move(*w));
        }
        break;
      case RecordType::entered: {
        auto& t = cases_[r.case_id];
        t.step = r.step;
        t.visit = r.seq;
        t.entered = r.at;
        entries_.emplace_back(r.case_id, r.seq);
        break;
      }
      case RecordType::assigned: {
        auto& t = cases_[r.case_id];
        t.assignee = r.target;
        // Reassigned while it waits (an escalation's `reassign:`): it moves to the new team's
        // queue after this call, when that team is staffed.
        if (t.queued >= 0) moves_.emplace_back(r.case_id, t.visit);
        break;
      }
      case RecordType::left: {
        auto& t = cases_[r.case_id];
        result_.step_times[t.flow + "/" + r.step].push_back(r.at - t.entered);
        t.visit = 0;
        unqueue(t);
        break;
      }
      case RecordType::completed:
      case RecordType::cancelled:
        if (const auto it = cases_.find(r.case_id); it != cases_.end()) unqueue(it->second);
        cases_.erase(r.case_id);
        --open_;
        break;
      default: break;
    }
  }

  bool current(const std::string& id, std::uint64_t visit) const {
    auto it = cases_.find(id);
    return it != cases_.end() && it->second.visit == visit;
  }

  void take_entries() {
    take_moves();
    while (!entries_.empty()) {
      auto batch = std::move(entries_);
      entries_.clear();
      for (const auto& [id, visit] : batch) {
        if (!current(id, visit)) continue;  // already moved on (decisions, actions)
        const Tracked& t = cases_.at(id);
        auto it = steps_.find({t.flow, t.step});
        if (it == steps_.end()) {
          const Step* s = latest_.count(t.flow) ? latest_[t.flow]->find_step(t.step) : nullptr;
          if (s && s->kind == StepKind::task) ++result_.unmodelled[t.flow + "/" + t.step];
          continue;
        }
        const detail::SimStep& ms = *it->second;
        if (ms.delay) {
          plan({clock_.now() + draw(*ms.delay, rng_), 0, Kind::answer, 0, id, visit, &ms});
        } else if (const auto booked = booked_time(id, ms); booked && *booked > clock_.now()) {
          plan({*booked, 0, Kind::booked, 0, id, visit, &ms});
        } else {
          enqueue(queue_of(t), waiting_now(id, visit, &ms));
        }
      }
    }
  }

  // The queue of the team the case is assigned to (a rule table may pick it) when the model
  // staffs it; otherwise the step's role's.
  std::size_t queue_of(const Tracked& t) {
    const auto staffed = role_index_.find(t.assignee);
    return staffed != role_index_.end() ? staffed->second : role_index_.at(latest_[t.flow]->find_step(t.step)->role);
  }

  // A work step's `starts_at:` field (a booked visit): the time the work may start, when set.
  std::optional<TimePoint> booked_time(const std::string& id, const detail::SimStep& ms) const {
    if (ms.starts_at.empty()) return std::nullopt;
    const auto view = engine_->get(id);
    const auto it = view.data.find(ms.starts_at);
    if (it == view.data.end() || it->second.kind() != Value::Kind::datetime) return std::nullopt;
    return it->second.as_datetime();
  }

  Waiting waiting_now(const std::string& id, std::uint64_t visit, const detail::SimStep* step) const {
    return Waiting{.since = clock_.now(), .case_id = id, .visit = visit, .step = step};
  }

  // Into queue `q` at its place: priority (unless fifo), then the time it has waited.
  void put(std::size_t q, Waiting w) {
    Tracked& t = cases_.at(w.case_id);
    w.rank = queues_[q].fifo ? 0 : t.priority;
    if (w.seq == 0) w.seq = ++queue_seq_;
    t.queued = static_cast<std::int32_t>(q);
    t.since = w.since;
    t.queue_seq = w.seq;
    queues_[q].waiting.insert(std::move(w));
    queues_[q].stats.max_queue = std::max(queues_[q].stats.max_queue, queues_[q].waiting.size());
  }

  // Out of the queue it waits in, if it waits.
  std::optional<Waiting> unqueue(Tracked& t) {
    if (t.queued < 0) return std::nullopt;
    Queue& q = queues_[static_cast<std::size_t>(t.queued)];
    t.queued = -1;
    auto node = q.waiting.extract(Waiting{.rank = q.fifo ? 0 : t.priority, .since = t.since, .seq = t.queue_seq});
    if (node.empty()) return std::nullopt;
    return std::move(node.value());
  }

  // The teams that serve the role are asked in order of preference for it.
  void enqueue(std::size_t q, Waiting w) {
    put(q, std::move(w));
    for (std::size_t t : queues_[q].teams) dispatch(t);
  }

  // Waiting cases reassigned to another staffed team go to its queue, keeping the time they
  // have waited; one reassigned to a person or an unstaffed team stays where it is.
  void take_moves() {
    auto moves = std::move(moves_);
    moves_.clear();
    for (const auto& [id, visit] : moves) {
      if (!current(id, visit)) continue;
      Tracked& t = cases_.at(id);
      const auto to = role_index_.find(t.assignee);
      if (t.queued < 0 || to == role_index_.end() || static_cast<std::int32_t>(to->second) == t.queued) continue;
      std::optional<Waiting> w = unqueue(t);
      if (!w) continue;
      w->seq = 0;  // behind those that joined the new queue before it, among equals
      ++result_.queue_moves;
      enqueue(to->second, std::move(*w));
    }
  }

  // The rank of a `priority` value, as Engine::query ranks work queues.
  std::int64_t rank(const std::string& flow, const Value& v) const {
    const auto f = latest_.find(flow);
    const DataField* field = f != latest_.end() ? f->second->find_field("priority") : nullptr;
    return field ? detail::priority_rank(*field, v) : 0;
  }

  // ------------------------------------------------------------------ staff

  void account(Team& t) {
    const TimePoint now = clock_.now();
    t.busy_area += (now - t.last_change) * t.busy;
    t.last_change = now;
  }

  // The least loaded agent on duty with room, or -1.
  std::int32_t free_agent(const Team& t, TimePoint now) const {
    if (t.calendar && !t.calendar->is_working(now)) return -1;
    std::optional<detail::LocalTime> local;  // worked out once, for the agents with a roster
    std::int32_t agent = -1;
    for (std::size_t i = 0; i < t.load.size(); ++i) {
      if (t.load[i] >= t.staff->capacity || (agent >= 0 && t.load[i] >= t.load[static_cast<std::size_t>(agent)])) continue;
      if (!t.duty[i].calendar_only()) {
        if (!local) local = t.duty[i].local(now);
        if (!t.duty[i].on(*local)) continue;
      }
      agent = static_cast<std::int32_t>(i);
    }
    return agent;
  }

  // Work waits and no agent with room is on duty: wake the team when the first of them is.
  void plan_wake(std::size_t index, TimePoint now) {
    Team& t = teams_[index];
    if (t.wake && !t.freed) return;  // no agent got room since: the same time as before
    t.freed = false;
    TimePoint first = TimePoint::max();
    if (!t.rostered) {
      const bool room = std::any_of(t.load.begin(), t.load.end(), [&](std::int32_t l) { return l < t.staff->capacity; });
      if (room && t.calendar) first = t.calendar->next_open(now);
    } else {
      std::vector<const detail::Duty*> asked;  // agents alike: one search per schedule
      for (std::size_t i = 0; i < t.load.size(); ++i) {
        if (t.load[i] >= t.staff->capacity) continue;
        if (std::any_of(asked.begin(), asked.end(), [&](const detail::Duty* d) { return d->same_schedule(t.duty[i]); })) continue;
        asked.push_back(&t.duty[i]);
        first = std::min(first, t.duty[i].next_on(now));
      }
    }
    if (first == TimePoint::max() || first <= now || (t.wake && *t.wake <= first)) return;
    t.wake = first;
    plan({first, 0, Kind::wake, index});
  }

  // Free agents of team `index` take work: from the first role in its `serves` that has any,
  // the highest priority and longest waiting there.
  void dispatch(std::size_t index) {
    Team& t = teams_[index];
    const TimePoint now = clock_.now();
    while (true) {
      const auto q = std::find_if(t.serves.begin(), t.serves.end(), [&](std::size_t i) { return !queues_[i].waiting.empty(); });
      if (q == t.serves.end()) return;
      const std::int32_t agent = free_agent(t, now);
      if (agent < 0) return plan_wake(index, now);
      Queue& queue = queues_[*q];
      Waiting w = std::move(queue.waiting.extract(queue.waiting.begin()).value());
      if (!current(w.case_id, w.visit)) continue;  // moved on without leaving its step: not seen, kept safe
      cases_.at(w.case_id).queued = -1;
      account(t);
      ++t.busy;
      ++t.load[static_cast<std::size_t>(agent)];
      queue.stats.waits.emplace_back(w.since, now - w.since);
      plan({now + draw(*w.step->work, rng_), 0, Kind::work_done, index, w.case_id, w.visit, w.step, agent, *q});
    }
  }

  void work_done(const Happening& h) {
    Team& t = teams_[h.index];
    account(t);
    --t.busy;
    --t.load[static_cast<std::size_t>(h.agent)];
    t.freed = true;
    if (current(h.case_id, h.visit)) {  // not when a deadline moved the case on meanwhile: that work is lost
      ++t.stats.handled[queues_[h.queue].role];
      ++queues_[h.queue].stats.handled;
    }
    answer(h.case_id, h.visit, *h.step, fmt::format("{}-{}", t.staff->role, h.agent + 1));
    dispatch(h.index);
  }

  // The work or the wait is over: send one of the step's events (or none, for the share of
  // answers that never come).
  void answer(const std::string& id, std::uint64_t visit, const detail::SimStep& ms, const std::string& actor) {
    if (!current(id, visit)) return;  // a deadline moved the case on meanwhile
    double u = rng_.uniform();
    const detail::SimEvent* chosen = nullptr;
    for (const auto& e : ms.events) {
      if (u < e.p) {
        chosen = &e;
        break;
      }
      u -= e.p;
    }
    if (!chosen) return;
    Map payload;
    if (!chosen->data.fields.empty()) payload = gen_->values(chosen->data, engine_->get(id).data);
    try {
      engine_->send(id, chosen->event, std::move(payload), EventOptions{.actor = actor, .channel = actor.empty() ? "" : "desk"});
      ++result_.events_sent;
    } catch (const Error& e) {  // EventError (no guard held) or DataError (the payload does not fit the form)
      const auto key = fmt::format("{}/{}: {}", ms.flow, ms.step, chosen->event);
      if (++result_.refused[key] == 1) result_.refused_why[key] = e.message();
    }
  }

  void act(const detail::SimAction& a, ActionContext& ctx) {
    ++result_.actions_called;
    if (a.fail > 0 && rng_.uniform() < a.fail) {
      ++result_.actions_failed;
      throw std::runtime_error(fmt::format("simulated failure of {}", a.name));
    }
    for (auto& [k, v] : gen_->values(a.set, ctx.data())) ctx.set(k, std::move(v));
  }

  // ------------------------------------------------------------------ results

  void sample(TimePoint at) {
    SimSample s;
    s.at = at;
    s.open = open_;
    for (const auto& q : queues_) s.queued[q.role] = q.waiting.size();
    result_.samples.push_back(std::move(s));
    const TimePoint to = result_.to;
    if (options_.progress) options_.progress(static_cast<double>((at - result_.from).count()) / static_cast<double>((to - result_.from).count()));
    if (at + std::chrono::hours{1} <= to) plan({at + std::chrono::hours{1}, 0, Kind::sample});
  }

  void finish(TimePoint from, TimePoint to) {
    for (auto& t : teams_) {
      account(t);
      // Agents alike (no roster, or the same shift and breaks) are on duty alike: worked out once.
      std::vector<std::pair<const detail::Duty*, Duration>> known;
      for (const auto& d : t.duty) {
        auto it = std::find_if(known.begin(), known.end(), [&](const auto& k) { return k.first->same_schedule(d); });
        if (it == known.end()) it = known.insert(known.end(), {&d, d.between(from, to)});
        t.stats.on_duty += it->second;
      }
      const double slots = static_cast<double>(t.staff->capacity) * static_cast<double>(t.stats.on_duty.count());
      t.stats.utilization = slots > 0 ? static_cast<double>(t.busy_area.count()) / slots : 0;
    }
    for (auto& q : queues_) {
      auto& st = q.stats;
      st.queued_at_end = q.waiting.size();
      if (q.own) {  // the role's row shows its own team's staffing and load
        const SimTeamStats& own = teams_[*q.own].stats;
        std::tie(st.agents, st.capacity, st.utilization) = std::tie(own.agents, own.capacity, own.utilization);
      }
      detail::sum_up_waits(st);
      result_.roles.push_back(std::move(st));
    }
    for (auto& t : teams_) result_.teams.push_back(std::move(t.stats));
    result_.report = make_report(*store_, to);
  }
};

}  // namespace

SimResult simulate(std::span<const FlowPtr> flows, const SimModel& model, const SimOptions& input) {
  SimOptions options = input;
  std::vector<detail::Replayed> replay;
  if (options.replay) {
    replay = detail::read_replay(*options.replay, flows, options.replay_from, options.replay_to);
    if (!options.start)
      options.start = options.replay_from ? *options.replay_from : std::chrono::floor<std::chrono::days>(replay.front().at);
    if (options.days == 0) {
      const TimePoint end = options.replay_to ? *options.replay_to : replay.back().at + Duration{1};
      options.days = std::max<std::int64_t>(1, std::chrono::ceil<std::chrono::days>(end - *options.start).count());
    }
  }
  if (options.days < 1 || options.days > 3660) throw Error("the simulation needs between 1 and 3660 days");
  // Arrivals are planned up to 8 days past the horizon; every instant of the run, and of the
  // records it writes, must stay within years 1 to 9999.
  const TimePoint from = options.start.value_or(model.start());
  if (from < min_time)
    throw Error(fmt::format("a simulation cannot start before {}, the first instant Escalon handles", format_iso8601(min_time)));
  if (from > max_time || max_time - from < std::chrono::days{options.days + 8})
    throw Error(fmt::format("a simulation of {} days from {} would run past {}, the last instant Escalon handles; "
                            "start it before {} or simulate fewer days",
                            options.days, format_iso8601(from), format_iso8601(max_time),
                            format_iso8601(max_time + Duration{1} - std::chrono::days{options.days + 8})));
  Simulator sim(flows, SimAccess::data(model), options, from, std::move(replay));
  return sim.run();
}

double erlang_c(std::int32_t agents, double load) {
  if (agents <= 0 || load >= agents) return 1.0;
  if (load <= 0) return 0.0;
  double b = 1.0;  // Erlang B by its stable recursion, then C from B
  for (std::int32_t k = 1; k <= agents; ++k) b = load * b / (k + load * b);
  return agents * b / (agents - load * (1 - b));
}

}  // namespace escalon
