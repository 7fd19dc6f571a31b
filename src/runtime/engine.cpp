// The public Engine: every changing call runs through one boundary (Engine::Impl::call):
//
//   1. take the lock and start a unit (or join the unit of the action handler that calls);
//   2. take the case the call names for the unit (waiting while another unit holds it);
//   3. fire what fell due up to now, in time order;
//   4. apply the call, or refuse it (a refused call leaves a `rejected` record and throws);
//   5. run the action handlers it queued (lock released), fire what they made due;
//   6. commit the unit (with its outbox entries), then deliver its notifications to their
//      channels (lock released) and commit the outcomes (outbox.cpp).
//
// A failure inside one case's processing puts that case into an incident (Op::guarded); only
// store failures and refused calls reach the caller. docs/runtime.md, "How a call flows".

#include "escalon/engine.hpp"

#include <algorithm>
#include <charconv>

#include "escalon/loader.hpp"
#include "base/suggest.hpp"
#include "runtime/core.hpp"
#include "runtime/views.hpp"

namespace escalon {

using detail::Case;
using detail::Op;
using detail::Unit;

struct Engine::Impl : detail::Core {
  using Core::Core;

  // The call boundary. `target`: the case the call names (taken before anything else, so that
  // a call never waits while it holds cases). `closed_only`: a call on closed cases (erasure),
  // which an engine that has not recovered yet makes without recovering (loading the open
  // cases and firing what fell due): `escalon erase` changes nothing else in a store.
  template <class F>
  auto call(std::string_view target, F&& work, bool exclusive = false, bool closed_only = false) {
    const detail::HandlerScope scope = detail::handler_scope();
    if (scope.in_sink == this)
      throw Error("EngineOptions::journal_sink called the engine; the sink runs under the engine lock: hand the record "
                  "to another thread (a queue) instead");
    std::unique_lock lk(mutex);
    check_store();
    if (!closed_only) require_handlers();  // before anything can fire: a timer may run an action
    if (store() && !recovered) {
      if (closed_only) number_from_store();
      else recover(lk);
    }
    if (scope.core == this) {  // a call from an action handler: part of the handler's unit
      // At the handler's time: while run_due() catches up hours, a handler run for a point of
      // 09:00 sends at 09:00, before points of 10:00, as one run_due() per minute would have.
      Op op{*this, *scope.unit, lk};
      return work(op, scope.at);
    }
    TimePoint now = this->now();
    // A conflict on a shared store: another engine committed one of the call's cases first;
    // they have left memory with the unit, so the call runs again on what that engine stored.
    for (std::uint32_t attempt = 0;; ++attempt) {
      try {
        return one_unit(lk, target, work, exclusive, now);
      } catch (const ConflictError&) {
        if (!shared() || attempt >= options.max_conflict_retries) throw;
      }
      lk.unlock();  // callers that collided would collide in step again: a random pause first
      detail::conflict_pause(attempt);
      lk.lock();
      now = this->now();
    }
  }

  template <class F>
  auto one_unit(std::unique_lock<std::mutex>& lk, std::string_view target, F& work, bool exclusive, TimePoint now) {
    Unit unit;
    Op op{*this, unit, lk};
    const detail::Releaser releaser{op};
    try {
      if (!target.empty()) (void)op.claim(target);
      // The case came from the store just now, and loading it moved this engine's time up to
      // the case's newest record (load_stored): the call's records come after what
      // another engine committed to it, in time as in number, even when their clocks disagree.
      if (shared()) now = this->now();
      if (exclusive) op.wait_for_all();
      op.fire_due(now);
      if constexpr (std::is_void_v<std::invoke_result_t<F&, Op&, TimePoint>>) {
        work(op, now);
        finish(op, now);
      } else {
        auto result = work(op, now);
        finish(op, now);
        return result;
      }
    } catch (const StoreError&) {
      op.release();
      throw;
    } catch (...) {
      op.run_jobs();  // handlers queued before the refusal (e.g. by timers that fired first)
      op.flush();     // a refused call leaves its `rejected` record, durably too
      op.dispatch();
      throw;
    }
  }

  static void finish(Op& op, TimePoint now) {
    op.run_jobs();
    op.fire_due(now);
    op.flush();
    op.dispatch();
  }

  void runner_loop(std::unique_lock<std::mutex>& lk, Duration max_sleep) {
    if (shared()) return detail::shared_runner_loop(*this, lk, max_sleep);
    while (!runner_stop) {
      const TimePoint now = this->now();
      timers.drop_stale(cases);
      bool only_held = false;
      if (!timers.empty() && timers.top().at <= now && store_failure.empty()) {
        Unit unit;
        Op op{*this, unit, lk};
        const detail::Releaser releaser{op};
        try {
          op.fire_due(now);
          op.flush();
          op.dispatch();
        } catch (const StoreError&) {
          op.release();
          return;  // the engine refuses changes from now on; the host sees it on its next call
        } catch (const std::exception&) {
          // Not a case's failure (those become incidents): keep what happened and carry on.
          try {
            op.flush();
          } catch (const StoreError&) {
            op.release();
            return;
          }
        }
        only_held = unit.fired == 0 && unit.held > 0;
        if (!only_held) continue;
      }
      try {
        if (store_failure.empty() && detail::deliver_due(*this, lk) > 0) continue;  // retries that came due
      } catch (const StoreError&) {
        return;  // as above: the host sees it on its next call
      }
      if (detail::retention_tick(*this, lk)) continue;
      Duration sleep = max_sleep;
      if (!timers.empty() && !only_held) sleep = std::min(sleep, timers.top().at - now);
      if (const auto retry = next_delivery()) sleep = std::min(sleep, std::max(Duration{0}, *retry - now));
      wake.wait_for(lk, sleep);
    }
  }

  // What a call on closed cases needs of recovery: record numbers and time go on from the store's.
  void number_from_store() {
    if (shared() || store()->last_seq() == 0) return;
    record_seq = std::max(record_seq, store()->last_seq());
    high_water = std::max(high_water, store()->last_time());
  }

  // Loads the stored open cases and fires what fell due while the engine was down. Throws
  // StoreError before anything changes when a stored case cannot be loaded (its flow version
  // is not loaded, its state is damaged): the engine stays usable and tries again next call.
  std::size_t recover(std::unique_lock<std::mutex>& lk) {
    require_handlers();
    if (shared()) {  // nothing to load: calls load their cases, run_due claims due ones
      high_water = std::max(high_water, store()->last_time());
      recovered = true;
      return 0;
    }
    // Read before anything changes: a damaged counter is refused with nothing loaded.
    std::map<std::string, std::uint64_t, std::less<>> counters;
    for (const auto& [k, v] : store()->meta())
      if (k.rfind("case-number/", 0) == 0) {
        std::uint64_t n = 0;
        const auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
        if (ec != std::errc{} || end != v.data() + v.size())
          throw StoreError(fmt::format("the store's counter '{}' is '{}', not a number; the store is damaged", k, v));
        counters[k.substr(12)] = n;
      }
    // Journal time is monotonic, so the newest record's time is the latest time the engine used.
    // (An empty store's last_time() is the epoch, which must not move a clock set before 1970.)
    if (store()->last_seq() > 0) high_water = std::max(high_water, store()->last_time());
    const TimePoint now = this->now();
    auto stored = store()->open_cases();
    std::vector<detail::LoadedCase> loaded;
    loaded.reserve(stored.size());
    for (const auto& sc : stored) loaded.push_back(detail::load_stored(*this, sc));  // throws before anything changes
    detail::recover_outbox(*this);
    recovered = true;
    std::vector<Case*> added;
    std::vector<std::string> parents;
    for (auto& l : loaded) {
      added.push_back(&cases.add(std::move(l.c)));
      parents.push_back(std::move(l.parent));
    }
    for (std::size_t i = 0; i < added.size(); ++i)
      if (!parents[i].empty()) {
        added[i]->parent = cases.find(parents[i]);
        if (!added[i]->parent) added[i]->set_parent_id(parents[i]);
      }
    record_seq = std::max(record_seq, store()->last_seq());
    for (const auto& [flow, n] : counters) cases.counters[flow] = n;
    Unit unit;
    Op op{*this, unit, lk};
    const detail::Releaser releaser{op};
    recovering = true;
    for (Case* c : added) op.restart_clocks(*c, now, "recovering its clocks");
    recovering = false;
    op.fire_due(now);  // what fell due while the engine was down, in time order, once
    finish(op, now);
    op.deliver(nullptr);  // what was not delivered before the engine went down
    return loaded.size();
  }

  // When the outbox next has an entry to try (not on a shared store).
  [[nodiscard]] std::optional<TimePoint> next_delivery() const {
    if (shared()) return std::nullopt;
    return outbox.next_attempt([&](const std::string& ch) { return channels.contains(ch); });
  }

  // Calls of the loaded flows that have no handler, in file order.
  std::vector<Diagnostic> missing_handlers() const {
    std::vector<Diagnostic> out;
    const auto check = [&](const Flow& f, const std::string& name, const SourceLocation& where, std::string_view by) {
      if (!actions.contains(name))
        out.push_back({Severity::warning, where,
                       fmt::format("flow '{}' version {} {} calls '{}', which has no handler: register one with "
                                   "Engine::on_action(\"{}\", ...)",
                                   f.id, f.version, by, name, name)});
    };
    for (const auto& rt : flows.all()) {
      const Flow& f = *rt->flow;
      for (const auto& s : f.steps) {
        if (s.kind == StepKind::action) check(f, s.call, s.where, fmt::format("step '{}'", s.name));
        for (const auto* hooks : {&s.on_enter, &s.on_exit})
          for (const auto& h : *hooks)
            if (h.kind == Hook::Kind::call)
              check(f, h.action, h.where, fmt::format("a hook of step '{}'", s.name));
      }
    }
    return out;
  }

  // With EngineOptions::require_handlers, refuses to run while any loaded flow calls an
  // action without a handler (a sub-flow's calls count too, so every flow is checked).
  void require_handlers() {
    if (!options.require_handlers || handlers_complete) return;
    const auto missing = missing_handlers();
    handlers_complete = missing.empty();
    if (handlers_complete) return;
    std::string list;
    for (const auto& d : missing) list += "\n  " + d.str();
    throw Error(fmt::format("{} call{} without a handler (EngineOptions::require_handlers is on):{}", missing.size(),
                            missing.size() == 1 ? "" : "s", list));
  }

  const Case& find(std::string_view id) const {
    const Case* c = cases.find(id);
    if (!c) throw CaseError(fmt::format("unknown case '{}'", id));
    return *c;
  }
};

// =============================================================================== Engine

Engine::Engine(EngineOptions options) : impl_(std::make_unique<Impl>(std::move(options))) { impl_->self = this; }

Engine& ActionContext::engine() const {
  if (!engine_) throw Error(fmt::format("action '{}': this ActionContext was made without an engine", action_));
  return *engine_;
}
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
  if (m.store()) {
    std::vector<Diagnostic> conflicts;
    for (const auto& f : flows)
      if (auto d = m.flows.stored_conflict(*f, *m.store())) conflicts.push_back(std::move(*d));
    if (!conflicts.empty()) throw FlowError(std::move(conflicts));
  }
  Unit unit;
  Op op{m, unit, lk};
  for (const auto& f : flows)
    if (auto sf = m.flows.add(f, m.store())) unit.flows.push_back(std::move(*sf));
  m.handlers_complete = false;
  op.flush();  // new versions are durable before a case can start on them
}

std::vector<FlowPtr> Engine::flows() const {
  std::lock_guard lk(impl_->mutex);
  std::vector<FlowPtr> out;
  for (const auto& rt : impl_->flows.all()) out.push_back(rt->flow);
  return out;
}

std::size_t Engine::recover() {
  auto& m = *impl_;
  std::unique_lock lk(m.mutex);
  if (!m.store()) throw Error("recover() needs a store (EngineOptions::store)");
  m.check_store();
  return m.recovered ? 0 : m.recover(lk);
}

void Engine::on_action(std::string name, ActionHandler handler) {
  std::lock_guard lk(impl_->mutex);
  impl_->actions[std::move(name)] = std::move(handler);
}

std::vector<Diagnostic> Engine::missing_handlers() const {
  std::lock_guard lk(impl_->mutex);
  return impl_->missing_handlers();
}

void Engine::on_notify(NotifyHandler handler, std::string channel) {
  if (!handler) throw Error("on_notify needs a listener (it was empty)");
  std::lock_guard lk(impl_->mutex);
  detail::add_listener(*impl_, std::move(handler), std::move(channel));
}

void Engine::add_channel(std::string name, std::shared_ptr<Channel> channel) {
  if (!channel) throw Error(fmt::format("add_channel('{}') needs a channel (it was null)", name));
  std::lock_guard lk(impl_->mutex);
  impl_->channels.insert_or_assign(std::move(name), std::move(channel));
}

std::vector<OutboxEntry> Engine::outbox() const {
  std::lock_guard lk(impl_->mutex);
  return detail::outbox_entries(*impl_);
}

std::size_t Engine::redeliver(std::string_view key, std::string_view channel) {
  auto& m = *impl_;
  std::unique_lock lk(m.mutex);
  m.check_store();
  if (m.store() && !m.recovered) m.recover(lk);
  return detail::redeliver(m, lk, key, channel);
}

std::string Engine::start(std::string_view flow_id, Map data, StartOptions options) {
  auto& m = *impl_;
  detail::require_utf8("the flow id", flow_id);
  detail::require_utf8("the case id", options.id);
  detail::require_utf8(EventOptions{options.actor, options.channel, options.key, options.roles});
  detail::require_valid("start data", data);
  return m.call({}, [&](Op& op, TimePoint now) {
    detail::FlowRt* rt = m.flows.find(flow_id, options.version);
    if (!rt) {
      std::string hint = detail::did_you_mean(flow_id, m.flows.ids());
      throw EventError(Refusal::unknown_flow, fmt::format("unknown flow '{}'{}{}", flow_id,
                                   options.version ? fmt::format(" version {}", options.version) : "",
                                   hint.empty() ? "; load it first" : hint));
    }
    detail::authorize_start(m, *rt->flow, options);
    // Only a keyed start is compared with an earlier one.
    std::uint64_t fp = 0;
    if (!options.key.empty()) {
      fp = detail::call_fingerprint("start", &data, fmt::format("{}\n{}\n{}", flow_id, options.version, options.id));
      if (auto first = op.started_with(options.key, fp)) return *first;
    }
    try {
      std::string id = op.create_case(rt, data, options.id, now, options.actor, options.channel, nullptr).id;
      if (!options.key.empty()) op.keep_start_key(options.key, id, fp);
      return id;
    } catch (const DataError& e) {  // no case exists yet, so no `rejected` record either
      throw EventError(Refusal::bad_data, e.message());
    }
  });
}

void Engine::send(std::string_view case_id, std::string_view event, Map payload, EventOptions options) {
  auto& m = *impl_;
  detail::require_utf8("the case id", case_id);
  detail::require_utf8("the event name", event);
  detail::require_utf8(options);
  detail::require_valid("payload", payload);
  m.call(case_id, [&](Op& op, TimePoint now) {
    Case* c = &op.find(case_id, event, options, now);
    if (op.replayed(*c, event, options, [&] { return detail::call_fingerprint(event, &payload); }, now)) return;
    // A case waiting at a parallel step takes events through its branches: the first active
    // branch whose step handles the event gets it.
    if (c->status == CaseStatus::active && c->current().kind == StepKind::parallel) {
      for (const auto& id : c->children) {
        Case* b = m.cases.find(id);
        if (!b || b->join_step < 0 || b->parent_visit != c->visit || b->status != CaseStatus::active) continue;
        const auto& on = b->current().on;
        if (std::any_of(on.begin(), on.end(), [&](const Transition& t) { return t.event == event; })) {
          c = b;
          break;
        }
      }
    }
    op.apply_event(*c, event, payload, options, now);
    op.remember_key();
  });
}

void Engine::update(std::string_view case_id, Map changes, EventOptions options) {
  detail::require_utf8("the case id", case_id);
  detail::require_utf8(options);
  detail::require_valid("update", changes);
  impl_->call(case_id, [&](Op& op, TimePoint now) {
    Case& c = op.find(case_id, "update", options, now);
    if (op.replayed(c, "update", options, [&] { return detail::call_fingerprint("update", &changes); }, now)) return;
    op.authorize_update(c, options, now);
    if (!c.open())
      op.reject(&c, case_id, "update", options, now, Refusal::closed,
                fmt::format("case '{}' is {}", c.id, case_status_name(c.status)));
    op.apply_changes(c, op.checked_changes(c, changes, "update", options, now), now, options.actor, options.channel);
    op.remember_key();
  });
}

void Engine::cancel(std::string_view case_id, std::string_view reason, EventOptions options) {
  detail::require_utf8("the case id", case_id);
  detail::require_utf8("the reason", reason);
  detail::require_utf8(options);
  impl_->call(case_id, [&](Op& op, TimePoint now) {
    Case& c = op.find(case_id, "cancel", options, now);
    if (op.replayed(c, "cancel", options, [&] { return detail::call_fingerprint("cancel", nullptr, reason); }, now)) return;
    op.authorize(c, "cancel", options, now, impl_->options.access.cancel, "cancel", "cancel");
    if (!c.open())
      op.reject(&c, case_id, "cancel", options, now, Refusal::closed,
                fmt::format("case '{}' is already {}", c.id, case_status_name(c.status)));
    op.cancel_case(c, now, std::string(reason), options);
    op.remember_key();
    op.tell_parent(c, now, fmt::format("sub-flow case '{}' was cancelled{}{}", c.id, reason.empty() ? "" : ": ", reason));
  });
}

void Engine::reschedule(std::string_view case_id, TimePoint due, EventOptions options) {
  detail::require_utf8("the case id", case_id);
  detail::require_utf8(options);
  impl_->call(case_id, [&](Op& op, TimePoint now) {
    Case& c = op.find(case_id, "reschedule", options, now);
    if (op.replayed(
            c, "reschedule", options,
            [&] { return detail::call_fingerprint("reschedule", nullptr, std::to_string(due.time_since_epoch().count())); },
            now))
      return;
    op.authorize(c, "reschedule", options, now, impl_->options.access.reschedule, "reschedule", "reschedule the deadline of");
    if (c.status != CaseStatus::active || !c.current().deadline)
      op.reject(&c, case_id, "reschedule", options, now, c.open() ? Refusal::wrong_state : Refusal::closed,
                fmt::format("case '{}' has no running deadline to reschedule (step '{}')", c.id,
                            c.step >= 0 ? c.current().name : ""));
    op.set_absolute_deadline(c, due, now);
    op.remember_key();
  });
}

void Engine::retry(std::string_view case_id, EventOptions options) {
  detail::require_utf8("the case id", case_id);
  detail::require_utf8(options);
  impl_->call(case_id, [&](Op& op, TimePoint now) {
    Case& c = op.find(case_id, "retry", options, now);
    if (op.replayed(c, "retry", options, [&] { return detail::call_fingerprint("retry", nullptr); }, now)) return;
    op.authorize(c, "retry", options, now, impl_->options.access.repair, "repair", "retry");
    if (c.status != CaseStatus::incident || c.current().kind != StepKind::action)
      op.reject(&c, case_id, "retry", options, now, c.open() ? Refusal::wrong_state : Refusal::closed,
                fmt::format("case '{}' has no failed action to retry (it is {} in step '{}')", c.id,
                            case_status_name(c.status), c.current().name));
    c.status = CaseStatus::active;
    c.set_incident({});
    Record r = op.make(c, RecordType::resolved, now);
    r.actor = options.actor;
    r.channel = options.channel;
    r.message = "retry";
    op.commit(&c, std::move(r));
    op.u.jobs.push_back({.c = &c, .visit = c.visit, .attempt = 1, .at = now});
    op.remember_key();
  });
}

void Engine::resolve(std::string_view case_id, Map data, std::string_view to_step, EventOptions options) {
  detail::require_utf8("the case id", case_id);
  detail::require_utf8("the step", to_step);
  detail::require_utf8(options);
  detail::require_valid("resolve data", data);
  impl_->call(case_id, [&](Op& op, TimePoint now) { op.resolve(case_id, data, to_step, options, now); });
}

std::size_t Engine::migrate(const Migration& migration, EventOptions options) {
  auto& m = *impl_;
  return m.call({}, [&](Op& op, TimePoint now) {
    detail::authorize_migrate(m, options, migration.flow);
    op.wait_for_all();  // a call from a handler joined its unit: refused there when others hold cases
    return op.migrate(migration, options, now);
  }, true);
}

std::size_t Engine::update_calendar(const CalendarSpec& spec) {
  auto& m = *impl_;
  return m.call({}, [&](Op& op, TimePoint now) {
    op.wait_for_all();
    return op.update_calendar(spec, now);
  }, true);
}

void Engine::start_runner(Duration max_sleep) {
  auto& m = *impl_;
  std::unique_lock lk(m.mutex);
  if (m.runner_on && !m.runner_stop) return;
  m.check_store();
  m.require_handlers();
  if (m.store() && !m.recovered) {
    m.recover(lk);  // the runner must not fire over unloaded cases
    if (m.runner_on && !m.runner_stop) return;  // another thread started it while recovery ran handlers
  }
  if (m.runner.joinable()) {  // stopped from its own thread earlier: finish that first
    if (m.runner.get_id() == std::this_thread::get_id()) {
      m.runner_stop = false;
      return;
    }
    lk.unlock();
    m.runner.join();
    lk.lock();
  }
  m.runner_on = true;
  m.runner_stop = false;
  m.runner = std::thread([&m, max_sleep] {
    std::unique_lock lk(m.mutex);
    m.runner_loop(lk, max_sleep);
  });
}

void Engine::stop_runner() {
  auto& m = *impl_;
  {
    std::lock_guard lk(m.mutex);
    if (!m.runner_on) return;
    m.runner_stop = true;
    m.wake.notify_all();
    // From the runner's own thread (a listener or handler): it ends when the handler returns;
    // the next start_runner() or the destructor joins it.
    if (m.runner.get_id() == std::this_thread::get_id()) return;
  }
  if (m.runner.joinable()) m.runner.join();
  std::lock_guard lk(m.mutex);
  m.runner_on = false;
}

std::size_t Engine::run_due() {
  auto& m = *impl_;
  if (m.shared()) {
    std::size_t total = 0;  // round after round, each its own unit: engines share the due cases
    detail::ClaimBatch batch;
    for (;;) {
      std::size_t claimed = 0;
      bool again = false;
      const std::size_t fired = m.call({}, [&](Op& op, TimePoint now) {
        if (std::exchange(again, true)) batch.conflicted();  // this round is being applied again
        op.run_jobs();
        claimed = op.fire_claimed(now, batch.size);
        return op.u.fired;
      });
      total += fired;
      if (claimed < batch.size || fired == 0) break;
      batch.committed();
    }
    std::unique_lock lk(m.mutex);
    (void)detail::deliver_due(m, lk);  // retries, and entries of engines that died
    return total;
  }
  const std::size_t fired = m.call({}, [&](Op& op, TimePoint now) {
    op.run_jobs();  // what fired first may have queued handlers; they can make more due
    op.fire_due(now);
    return op.u.fired;
  });
  std::unique_lock lk(m.mutex);
  if (m.store_failure.empty()) (void)detail::deliver_due(m, lk);  // retries that came due
  return fired;
}

std::optional<TimePoint> Engine::next_due() const {
  if (impl_->shared()) return impl_->store()->earliest_due();
  std::lock_guard lk(impl_->mutex);
  impl_->timers.drop_stale(impl_->cases);
  auto next = impl_->next_delivery();
  if (!impl_->timers.empty() && (!next || impl_->timers.top().at < *next)) next = impl_->timers.top().at;
  return next;
}

std::string Engine::store_failure() const {
  std::lock_guard lk(impl_->mutex);
  return impl_->store_failure;
}

CaseView Engine::get(std::string_view case_id) const {
  auto& m = *impl_;
  std::lock_guard lk(m.mutex);
  const TimePoint now = m.clock->now();
  // On a shared store a case in memory is one a running call is changing: read what is committed.
  if (!m.shared())
    if (const Case* c = m.cases.find(case_id)) return detail::view_of(*c, now);
  if (m.store())
    if (auto sc = m.store()->find_case(case_id)) {
      auto l = detail::load_stored(m, *sc);
      return detail::view_of(*l.c, now, l.parent);
    }
  throw CaseError(fmt::format("unknown case '{}'", case_id));
}

std::vector<CaseView> Engine::query(const Query& q) const {
  std::lock_guard lk(impl_->mutex);
  return detail::run_query(*impl_, q, impl_->clock->now());
}

std::vector<Record> Engine::history(std::string_view case_id) const {
  auto& m = *impl_;
  std::lock_guard lk(m.mutex);
  if (m.store()) {
    if (!m.cases.contains(case_id) && !m.store()->find_case(case_id))
      throw CaseError(fmt::format("unknown case '{}'", case_id));
    return m.store()->history(case_id);
  }
  return m.journal.case_records(m.find(case_id).journal_last);
}

std::string Engine::journal_jsonl(std::string_view case_id, const ReadOptions& read) const {
  if (read.personal) detail::authorize_personal(*impl_, read);
  std::string out;
  auto add = [&](const Record& r) {
    out += read.personal || r.personal.empty() ? r.to_json() : r.redacted().to_json();
    out += '\n';
  };
  if (impl_->store()) {
    if (!case_id.empty()) {
      for (const auto& r : history(case_id)) add(r);
      return out;
    }
    std::lock_guard lk(impl_->mutex);
    impl_->store()->for_each_record(add);
    return out;
  }
  std::lock_guard lk(impl_->mutex);
  detail::for_each_memory_record(*impl_, case_id, add);
  return out;
}

void Engine::erase(std::string_view case_id, std::string_view reason, EventOptions options) {
  detail::require_utf8("the case id", case_id);
  detail::require_utf8("the reason", reason);
  detail::require_utf8(options);
  const bool erased = impl_->call(case_id, [&](Op& op, TimePoint now) {
    return detail::erase_call(op, now, case_id, reason, options, false);
  }, false, true);
  if (!impl_->store()) return;
  impl_->store()->erase_unchained(case_id);  // again after a crash: the erased record is there already
  if (erased) impl_->store()->scrub();
}

std::vector<std::string> Engine::apply_retention() {
  auto& m = *impl_;
  if (detail::handler_scope().in_sink == &m) throw Error("EngineOptions::journal_sink called the engine (apply_retention)");
  std::vector<std::string> due;
  {
    std::unique_lock lk(m.mutex);
    m.check_store();
    due = detail::retention_due(m, lk, m.now());
  }
  // One case that cannot be erased (a damaged state) does not hold up the others.
  std::vector<std::string> erased, failed;
  const EventOptions system{.actor = detail::engine_actor, .channel = "retention"};
  for (const auto& id : due) {
    try {
      if (m.call(id, [&](Op& op, TimePoint now) { return detail::erase_call(op, now, id, "retention period ended", system, true); },
                 false, true))
        erased.push_back(id);
      if (m.store()) m.store()->erase_unchained(id);
    } catch (const Error& e) {
      failed.push_back(fmt::format("{}: {}", id, e.what()));
    }
  }
  if (!erased.empty() && m.store()) m.store()->scrub();
  if (!failed.empty())
    throw Error(fmt::format("retention erased {} case{}; {} could not be erased: {}", erased.size(), erased.size() == 1 ? "" : "s",
                            failed.size(), fmt::join(failed, "; ")));
  return erased;
}

std::size_t Engine::case_count() const {
  std::lock_guard lk(impl_->mutex);
  return impl_->cases.size();
}

}  // namespace escalon
