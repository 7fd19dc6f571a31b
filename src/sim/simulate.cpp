// The simulator: a discrete-event loop around the real engine. It owns three kinds of future
// happenings (arrivals, work or answers that finish, staff coming on duty) and asks the engine
// for its own (deadlines, escalations, waits, retries); whichever is earliest runs next, on a
// manual clock. What the cases do is learnt from the journal: an `entered` record puts the case
// into its role's queue or starts the outside world's delay.

#include <fmt/format.h>

#include <cmath>
#include <deque>
#include <numbers>
#include <queue>
#include <random>
#include <set>
#include <unordered_map>

#include "escalon/calendar.hpp"
#include "escalon/engine.hpp"
#include "escalon/expr.hpp"
#include "escalon/report.hpp"
#include "escalon/store.hpp"
#include "model/priority.hpp"
#include "sim/checks.hpp"
#include "sim/model.hpp"
#include "sim/rng.hpp"

#include <date/tz.h>

namespace escalon {
namespace {

using detail::Dist;
using detail::draw;
using detail::Gen;
using detail::GenMap;
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
  friend bool operator>(const Happening& a, const Happening& b) { return std::tie(a.at, a.order) > std::tie(b.at, b.order); }
};

struct Waiting {
  std::string case_id;
  std::uint64_t visit = 0;
  TimePoint since{};
  const detail::SimStep* step = nullptr;
};

struct Role {
  const detail::SimStaff* staff = nullptr;
  std::unique_ptr<Calendar> calendar;  // null: always on duty
  std::deque<Waiting> queue;
  std::vector<std::int32_t> load;      // cases each agent works on now
  std::int32_t busy = 0;
  std::optional<TimePoint> wake;       // a wake-up is planned at this time
  Duration busy_area{0};               // sum over time of busy slots
  TimePoint last_change{};
  SimRoleStats stats;
};

struct Tracked {
  std::string flow;
  std::string step;
  std::string assignee;
  std::uint64_t visit = 0;  // seq of the `entered` record of the current step
  TimePoint entered{};
  std::int64_t priority = 0;  // rank of the `priority` field: the enum's later values first
  std::int32_t queued = -1;   // the role whose queue it waits in, if it waits
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
    for (std::size_t i = 0; i < model_.staff.size(); ++i) {
      const auto& s = model_.staff[i];
      Role r;
      r.staff = &s;
      r.calendar = std::move(checked.calendars[i]);
      r.load.assign(static_cast<std::size_t>(s.agents), 0);
      r.stats.role = s.role;
      r.stats.agents = s.agents;
      r.stats.capacity = s.capacity;
      roles_.push_back(std::move(r));
    }
    role_index_ = std::move(checked.role_index);
    steps_ = std::move(checked.steps);
    exprs_ = std::move(checked.exprs);
  }

  SimResult run() {
    const TimePoint from = clock_.now();
    const TimePoint to = from + std::chrono::days{options_.days};
    result_.from = from;
    result_.to = to;
    result_.seed = options_.seed;
    for (auto& r : roles_) r.last_change = from;
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
  Rng* draws_ = &rng_;  // where generate() draws from
  // Points generate() at another generator for one scope.
  struct DrawFrom {
    Rng*& to;
    Rng* before;
    DrawFrom(Rng*& where, Rng& rng) : to(where), before(where) { to = &rng; }
    ~DrawFrom() { to = before; }
    DrawFrom(const DrawFrom&) = delete;
    DrawFrom& operator=(const DrawFrom&) = delete;
  };
  ManualClock clock_;
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
  std::vector<Role> roles_;
  std::map<std::string, std::size_t> role_index_;
  std::map<std::pair<std::string, std::string>, const detail::SimStep*> steps_;  // (flow, step)
  std::map<const Gen*, Expression> exprs_;
  std::map<const Gen*, std::int64_t> sequences_;
  std::unordered_map<std::string, Tracked> cases_;
  std::vector<std::pair<std::string, std::uint64_t>> entries_;  // (case, visit) entered during the last call
  std::vector<std::pair<std::string, std::uint64_t>> moves_;    // (case, visit) reassigned while waiting
  std::size_t open_ = 0;
  SimResult result_;

  // ------------------------------------------------------------------ values

  Value generate(const Gen& g, const Map& data) {
    switch (g.kind) {
      case Gen::Kind::literal: return g.literal;
      case Gen::Kind::choose: {
        double total = 0;
        for (const auto& [v, w] : g.choices) total += w;
        double u = draws_->uniform() * total;
        for (const auto& [v, w] : g.choices) {
          if (u < w) return v;
          u -= w;
        }
        return g.choices.back().first;
      }
      case Gen::Kind::bernoulli: return draws_->uniform() < g.p;
      case Gen::Kind::after: {
        const auto span = static_cast<double>((g.high - g.low).count());
        return TimePoint{std::chrono::round<std::chrono::minutes>(clock_.now() + g.low + Duration{static_cast<std::int64_t>(draws_->uniform() * span)})};
      }
      case Gen::Kind::sequence: return fmt::format("{}{}", g.text, ++sequences_[&g]);
      case Gen::Kind::expr: {
        EvalContext ctx;
        ctx.data = &data;
        ctx.now = clock_.now();
        return exprs_.at(&g).evaluate(ctx);
      }
      case Gen::Kind::uniform: {
        if (g.integer) {
          const auto lo = static_cast<std::int64_t>(g.lo), hi = static_cast<std::int64_t>(g.hi);
          return lo + static_cast<std::int64_t>(draws_->uniform() * static_cast<double>(hi - lo + 1));
        }
        return g.lo + draws_->uniform() * (g.hi - g.lo);
      }
      case Gen::Kind::list: {
        List l;
        for (std::int64_t i = 0; i < g.count; ++i) l.push_back(generate(g.items.front(), data));
        return l;
      }
    }
    return {};
  }

  Map generate(const GenMap& m, const Map& context) {
    Map out;
    std::optional<Map> seen;  // for expressions: the context plus the fields made so far
    for (const auto& [field, g] : m.fields) {
      if (g.kind == Gen::Kind::expr && !seen) {
        seen = context;
        for (const auto& [k, v] : out) (*seen)[k] = v;
      }
      Value v = generate(g, g.kind == Gen::Kind::expr ? *seen : context);
      if (seen) (*seen)[field] = v;
      out[field] = std::move(v);
    }
    return out;
  }

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
        roles_[h.index].wake.reset();
        dispatch(h.index);
        break;
      case Kind::sample: sample(h.at); break;
      case Kind::booked:  // the booked time has come: the case joins its team's queue now
        if (current(h.case_id, h.visit)) enqueue(team_of(cases_.at(h.case_id)), {h.case_id, h.visit, clock_.now(), h.step});
        break;
    }
  }

  void arrive(std::size_t i) {
    const auto& a = model_.arrivals[i];
    Map data;
    Value channel;
    {
      const DrawFrom stream(draws_, arrival_rngs_[i]);  // not for what the start sets off (actions)
      data = generate(a.data, Map{});
      channel = generate(a.channel, data);
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
      const DrawFrom personal(draws_, replay_rng_);
      Map generated = generate(stream->data, Map{});
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
        if (r.target == "priority") cases_[r.case_id].priority = rank(cases_[r.case_id].flow, r.new_value);
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
        t.queued = -1;  // its queue entry, if any, is dropped when the queue is next read
        break;
      }
      case RecordType::completed:
      case RecordType::cancelled:
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
          enqueue(team_of(t), {id, visit, clock_.now(), &ms});
        }
      }
    }
  }

  // The team the case is assigned to (a rule table may pick it) when the model staffs it;
  // otherwise the step's role.
  std::size_t team_of(const Tracked& t) {
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

  void enqueue(std::size_t r, Waiting w) {
    cases_.at(w.case_id).queued = static_cast<std::int32_t>(r);
    roles_[r].queue.push_back(std::move(w));
    roles_[r].stats.max_queue = std::max(roles_[r].stats.max_queue, waiting(roles_[r]));
    dispatch(r);
  }

  // Waiting cases reassigned to another staffed team go to its queue, keeping the time they
  // have waited; one reassigned to a person or an unstaffed team stays where it is.
  void take_moves() {
    auto moves = std::move(moves_);
    moves_.clear();
    for (const auto& move : moves) {
      const std::string& id = move.first;  // not a structured binding: the lambda below captures it
      const std::uint64_t visit = move.second;
      if (!current(id, visit)) continue;
      Tracked& t = cases_.at(id);
      const auto to = role_index_.find(t.assignee);
      if (t.queued < 0 || to == role_index_.end() || static_cast<std::int32_t>(to->second) == t.queued) continue;
      auto& from = roles_[static_cast<std::size_t>(t.queued)].queue;
      const auto it = std::find_if(from.begin(), from.end(), [&](const Waiting& w) { return w.case_id == id && w.visit == visit; });
      if (it == from.end()) continue;
      Waiting w = std::move(*it);
      from.erase(it);
      ++result_.queue_moves;
      enqueue(to->second, std::move(w));
    }
  }

  // The rank of a `priority` value, as Engine::query ranks work queues.
  std::int64_t rank(const std::string& flow, const Value& v) const {
    const auto f = latest_.find(flow);
    const DataField* field = f != latest_.end() ? f->second->find_field("priority") : nullptr;
    return field ? detail::priority_rank(*field, v) : 0;
  }

  // The case a free agent takes next: the highest priority, the longest waiting among equals
  // (`queue: fifo` in the model: the longest waiting). Entries of cases that moved on are dropped.
  std::deque<Waiting>::iterator next_waiting(Role& r) {
    std::erase_if(r.queue, [&](const Waiting& w) { return !current(w.case_id, w.visit); });
    if (r.queue.empty()) return r.queue.begin();
    // fifo: all of one rank, so the longest waiting (a case moved here from another team keeps
    // its time, though it joined at the back).
    const auto rank_of = [&](const Waiting& w) { return r.staff->fifo ? 0 : cases_.at(w.case_id).priority; };
    auto best = r.queue.begin();
    std::int64_t best_rank = rank_of(*best);
    for (auto it = std::next(best); it != r.queue.end(); ++it) {
      const std::int64_t p = rank_of(*it);
      if (p > best_rank || (p == best_rank && it->since < best->since)) {
        best = it;
        best_rank = p;
      }
    }
    return best;
  }

  std::size_t waiting(const Role& r) const {
    std::size_t n = 0;
    for (const auto& w : r.queue) n += current(w.case_id, w.visit) ? 1 : 0;
    return n;
  }

  // ------------------------------------------------------------------ staff

  void account(Role& r) {
    const TimePoint now = clock_.now();
    r.busy_area += (now - r.last_change) * r.busy;
    r.last_change = now;
  }

  void dispatch(std::size_t index) {
    Role& r = roles_[index];
    const TimePoint now = clock_.now();
    while (true) {
      const auto next = next_waiting(r);
      if (next == r.queue.end()) return;
      if (r.calendar && !r.calendar->is_working(now)) {
        const TimePoint open = r.calendar->next_open(now);
        if (!r.wake || *r.wake > open) {
          r.wake = open;
          plan({open, 0, Kind::wake, index});
        }
        return;
      }
      // The least loaded agent with room takes the case.
      std::int32_t agent = -1;
      for (std::size_t i = 0; i < r.load.size(); ++i)
        if (r.load[i] < r.staff->capacity && (agent < 0 || r.load[i] < r.load[static_cast<std::size_t>(agent)]))
          agent = static_cast<std::int32_t>(i);
      if (agent < 0) return;
      Waiting w = std::move(*next);
      r.queue.erase(next);
      cases_.at(w.case_id).queued = -1;
      account(r);
      ++r.busy;
      ++r.load[static_cast<std::size_t>(agent)];
      r.stats.waits.emplace_back(w.since, now - w.since);
      plan({now + draw(*w.step->work, rng_), 0, Kind::work_done, index, w.case_id, w.visit, w.step, agent});
    }
  }

  void work_done(const Happening& h) {
    Role& r = roles_[h.index];
    account(r);
    --r.busy;
    --r.load[static_cast<std::size_t>(h.agent)];
    ++r.stats.handled;
    answer(h.case_id, h.visit, *h.step, fmt::format("{}-{}", r.staff->role, h.agent + 1));
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
    if (!chosen->data.fields.empty()) payload = generate(chosen->data, engine_->get(id).data);
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
    for (auto& [k, v] : generate(a.set, ctx.data())) ctx.set(k, std::move(v));
  }

  // ------------------------------------------------------------------ results

  void sample(TimePoint at) {
    SimSample s;
    s.at = at;
    s.open = open_;
    for (const auto& r : roles_) s.queued[r.staff->role] = waiting(r);
    result_.samples.push_back(std::move(s));
    const TimePoint to = result_.to;
    if (options_.progress) options_.progress(static_cast<double>((at - result_.from).count()) / static_cast<double>((to - result_.from).count()));
    if (at + std::chrono::hours{1} <= to) plan({at + std::chrono::hours{1}, 0, Kind::sample});
  }

  void finish(TimePoint from, TimePoint to) {
    for (auto& r : roles_) {
      account(r);
      auto& st = r.stats;
      st.queued_at_end = waiting(r);
      const Duration on_duty = r.calendar ? r.calendar->business_time_between(from, to) : to - from;
      const double slots = static_cast<double>(r.staff->agents) * r.staff->capacity;
      st.utilization = on_duty.count() > 0 ? static_cast<double>(r.busy_area.count()) / (slots * static_cast<double>(on_duty.count())) : 0;
      if (!st.waits.empty()) {
        std::vector<Duration> w;
        Duration sum{0};
        std::size_t waited = 0;
        for (const auto& [t, d] : st.waits) {
          w.push_back(d);
          sum += d;
          waited += d.count() > 0 ? 1 : 0;
        }
        st.mean_wait = sum / static_cast<std::int64_t>(w.size());
        st.waited_share = static_cast<double>(waited) / static_cast<double>(w.size());
        std::sort(w.begin(), w.end());
        st.p90_wait = w[std::min(w.size() - 1, static_cast<std::size_t>(std::ceil(0.9 * static_cast<double>(w.size()))) - 1)];
        st.max_wait = w.back();
      }
      result_.roles.push_back(std::move(st));
    }
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
