// Engines sharing one store (Store::shared(), PostgreSQL): the store is the truth.
//
// A unit loads the cases it works on from the store when it claims them, and they leave memory
// when it ends (committed or not), so an engine never works on a copy another engine has
// moved on from for longer than one call: a stale read shows up as a revision conflict at
// commit, and the call is applied again to the case as it now is (Engine::Impl::call). Due
// timers are claimed from the store with leases (fire_claimed), so engines share them and each
// point fires once: firing it and storing the case that records it are one transaction, and
// the revision check refuses a second engine that fired the same point from the same state.

#include <unistd.h>

#include <atomic>
#include <random>
#include <thread>

#include "runtime/core.hpp"
#include "runtime/views.hpp"

namespace escalon::detail {

std::string Core::make_owner_name() {
  static std::atomic<std::uint64_t> engines{0};
  char host[256] = {};
  if (gethostname(host, sizeof host - 1) != 0) host[0] = '\0';
  return fmt::format("{}:{}:{}", host, getpid(), ++engines);
}

void conflict_pause(std::uint32_t attempt) {
  thread_local std::minstd_rand jitter{static_cast<std::uint32_t>(std::hash<std::thread::id>{}(std::this_thread::get_id()))};
  const auto cap = std::chrono::microseconds(std::min<std::int64_t>(50'000, std::int64_t{250} << std::min(attempt, 10u)));
  std::this_thread::sleep_for(std::chrono::microseconds(jitter() % static_cast<std::uint64_t>(cap.count() + 1)));
}

Case* Op::load_family(std::string_view id) {
  auto first = m.store()->find_case(id);
  if (!first) return nullptr;
  std::vector<LoadedCase> loaded;
  loaded.push_back(load_stored(m, *first));
  std::set<std::string, std::less<>> ids{first->id};
  // By value: `other` may live in `loaded`, which the push_back below can move.
  const auto load = [&](std::string other) {
    if (ids.contains(other) || m.cases.contains(other)) return;
    auto sc = m.store()->find_case(other);
    if (!sc || !sc->open) return;  // a closed relative takes no part in what its family does
    loaded.push_back(load_stored(m, *sc));
    ids.insert(other);
  };
  if (first->open) {
    // Up to the root (a sub-flow case that ends resumes its parent), then every open case below.
    for (std::size_t i = 0; i < loaded.size() && !loaded[i].parent.empty(); ++i) load(loaded[i].parent);
    for (std::size_t i = 0; i < loaded.size(); ++i)
      for (const auto& child : std::vector<std::string>(loaded[i].c->children)) load(child);
  }
  std::vector<Case*> added;
  std::vector<std::string> parents;
  for (auto& l : loaded) {
    added.push_back(&m.cases.add(std::move(l.c)));
    parents.push_back(std::move(l.parent));
  }
  for (std::size_t i = 0; i < added.size(); ++i)
    if (!parents[i].empty()) {
      Case* p = added[i]->open() ? m.cases.find(parents[i]) : nullptr;
      if (p) added[i]->parent = p;
      else added[i]->set_parent_id(parents[i]);
    }
  const TimePoint now = m.now();
  for (Case* c : added) {
    own(*c);
    restart_clocks(*c, now, "loading its clocks");
  }
  return added.front();
}

void Op::load_open_cases(const std::function<bool(std::string_view flow)>& wanted) {
  std::vector<std::string> ids;  // first the list: a store may stream while it is read
  m.store()->for_each_case(true, [&](const StoredCase& sc) {
    if (wanted(sc.flow)) ids.push_back(sc.id);
  });
  for (const auto& id : ids)
    if (!m.cases.contains(id)) (void)load_family(id);
}

void Op::evict_families(const std::vector<Case*>& roots) {
  for (Case* root : roots) {
    std::vector<Case*> family{root};
    for (std::size_t i = 0; i < family.size(); ++i)
      for (const auto& id : family[i]->children)
        if (Case* child = m.cases.find(id); child && child->parent == family[i]) family.push_back(child);
    // Children first: evicting a parent would unlink them (CaseTable::evict) for nothing.
    for (auto it = family.rbegin(); it != family.rend(); ++it) m.cases.evict(**it);
  }
  m.timers.compact(m.cases);
}

std::size_t Op::fire_claimed(TimePoint now, std::size_t batch) {
  const auto ids = m.store()->claim_due(now, batch, m.owner, m.options.claim_lease);
  std::vector<Case*> mine;
  for (const auto& id : ids) {
    Case* c = m.cases.find(id);
    if (c) {
      // Another call of this engine works on it: its commit ends the claim, and the point
      // fires in that call or the next round.
      if (!claimable(*c)) continue;
      own(*c);
    } else {
      c = load_family(id);
    }
    if (c) mine.push_back(c);
  }
  // Time again after loading (load_stored moved it up to each case's newest record): an event
  // another engine committed to one of these cases must not be followed by earlier records.
  fire_due(std::max(now, m.now()));
  // Claimed, but nothing was due any more (another engine fired it from the state it read):
  // the claim ends now rather than when its lease runs out.
  std::vector<std::string> idle;
  for (Case* c : mine)
    if (!c->dirty) idle.push_back(c->id);
  if (!idle.empty()) m.store()->release_claims(idle, m.owner);
  return ids.size();
}

// One round of due work on a shared store; returns {claimed, fired}. A conflict (another
// engine committed a claimed case first) leaves the claims for the next round.
std::pair<std::size_t, std::size_t> shared_round(Core& m, std::unique_lock<std::mutex>& lk, ClaimBatch& batch) {
  Unit unit;
  Op op{m, unit, lk};
  const Releaser releaser{op};
  const TimePoint now = m.now();
  std::size_t claimed = 0;
  try {
    claimed = op.fire_claimed(now, batch.size);
    op.flush();
    op.dispatch();
    batch.committed();
  } catch (const ConflictError&) {
    // Events for the round's cases came in meanwhile: go again at once, smaller, on what the
    // other engines stored (the claims are still this engine's).
    op.release();
    batch.conflicted();
    return {0, 1};
  } catch (const StoreError&) {
    op.release();
    return {0, 0};
  } catch (const std::exception&) {
    try {
      op.flush();
    } catch (const StoreError&) {
      op.release();
    }
  }
  return {claimed, unit.fired};
}

// On a shared store the runner claims due cases in rounds; between rounds it waits until the
// store's earliest due time or another engine's notice of an earlier one (at most max_sleep,
// in short slices so that stop_runner() is not kept waiting).
void shared_runner_loop(Core& m, std::unique_lock<std::mutex>& lk, Duration max_sleep) {
  ClaimBatch batch;
  while (!m.runner_stop) {
    const std::size_t size = batch.size;
    const auto [claimed, fired] = shared_round(m, lk, batch);
    try {
      (void)deliver_due(m, lk);
    } catch (const StoreError&) {  // the next round tries again
    }
    if (fired > 0 && (claimed == size || batch.size < size)) continue;  // a full round, or one that conflicted
    (void)retention_tick(m, lk);  // every engine may: an erasure another made first is left alone
    const TimePoint now = m.now();
    Duration sleep = max_sleep;
    try {
      if (const auto next = m.store()->earliest_due()) sleep = std::clamp(*next - now, Duration::zero(), max_sleep);
    } catch (const StoreError&) {
    }
    // Due but claimed by another engine, or nothing fired: do not spin on it.
    sleep = std::max<Duration>(sleep, std::min<Duration>(max_sleep, std::chrono::milliseconds(20)));
    const auto until = std::chrono::steady_clock::now() + sleep;
    while (!m.runner_stop) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(until - std::chrono::steady_clock::now());
      if (left <= std::chrono::milliseconds::zero()) break;
      lk.unlock();
      bool woken = false;
      try {
        woken = m.store()->wait_for_work(now + sleep, std::min(left, std::chrono::milliseconds(100)));
      } catch (const StoreError&) {
        std::this_thread::sleep_for(std::min(left, std::chrono::milliseconds(100)));
      }
      lk.lock();
      if (woken) break;
    }
  }
}

}  // namespace escalon::detail
