// Committing a unit: its records and the new state of every case it touched go to the store
// in one transaction; then its case families are free for other units, closed cases leave
// memory, and listeners hear what happened.

#include "runtime/core.hpp"
#include "store/seal.hpp"

namespace escalon::detail {

namespace {

// Any failed commit stops the engine: its memory now holds changes the store does not.
// A conflict keeps its type so that a host sharing a store can tell it apart.
[[noreturn]] void throw_commit_failure(const std::string& why, bool conflict) {
  const std::string msg = fmt::format("the store could not commit: {}", why);
  if (conflict) throw ConflictError(msg);
  throw StoreError(msg);
}

}  // namespace

void Op::number_records() {
  std::unordered_map<std::string_view, std::uint64_t> last;
  if (m.shared()) {
    // Numbers from the store: each is taken after this unit read its cases, so it is above
    // every record another engine committed for them; a case's records stay in order.
    std::vector<std::uint64_t> seqs(u.records.size());
    m.store()->take_seqs(seqs);
    for (std::size_t i = 0; i < seqs.size(); ++i) last[u.records[i].case_id] = u.records[i].seq = seqs[i];
  } else {
    for (auto& r : u.records) last[r.case_id] = r.seq = ++m.record_seq;
  }
  for (Case* c : u.touched)
    if (auto it = last.find(c->id); it != last.end()) c->last_seq = it->second;
  for (const auto& r : u.records) to_sink(r);
}

void Op::release() {
  for (Case* root : u.families)
    if (root->owner == &u) root->owner = nullptr;
  for (Case* c : u.touched) c->dirty = false;
  const bool any = !u.families.empty();
  if (m.shared() && any) evict_families({u.families.begin(), u.families.end()});
  u.families.clear();
  if (any) --m.holders;
  u.touched.clear();
  claimed = nullptr;
  if (any) {
    m.released.notify_all();
    if (m.runner_on) m.wake.notify_one();  // points held back for this unit can fire now
  }
}

// Commits the unit. Without group commit the transaction runs under the engine lock. With it,
// the unit joins the pending batch and the lock is released while the caller waits: the first
// waiter to find no transaction running writes everything pending in one transaction (units
// keep their order; a case written twice is written once, with its later state), so callers
// that arrive while a transaction is on disk share the next one. Nobody returns before their
// unit is durable.
void Op::flush() {
  if (!m.store()) {
    make_entries();
    entries_committed();
  }
  if (!m.store() || (u.records.empty() && u.touched.empty() && u.flows.empty() && u.raised.empty() &&
                     u.outbox_changes.empty() && u.delivered.empty())) {
    u.start_keys.clear();  // without a store the engine's map is the only copy: it stays there
    release();
    return;
  }
  number_records();
  make_entries();
  std::vector<OutboxEntry> outbox;
  outbox.reserve(u.entries.size() + u.outbox_changes.size());
  for (const auto& d : u.entries) outbox.push_back(d.e);
  outbox.insert(outbox.end(), u.outbox_changes.begin(), u.outbox_changes.end());
  std::vector<StoredCase> snaps;
  snaps.reserve(u.touched.size());
  std::vector<std::string> closed;
  for (Case* c : u.touched) {
    // A case gets its key the first time it is stored with a flow that has personal fields.
    if (c->flow().has_pii && !c->erased() && c->secret().empty()) c->more().secret = new_case_secret();
    StoredCase sc{.id = c->id, .flow = c->flow().id, .seq = c->last_seq, .open = c->open(), .state = save_case(*c)};
    sc.secret = c->secret();
    sc.expected = c->revision;
    sc.revision = ++c->revision;
    if (sc.open) sc.next_due = clockmath::next_due_of(*c);
    else closed.push_back(c->id);
    snaps.push_back(std::move(sc));
  }
  std::map<std::string, std::string> meta;
  if (u.counters_changed)
    for (const auto& [flow, n] : m.cases.counters) meta["case-number/" + flow] = std::to_string(n);
  std::vector<std::string> keyed_starts;
  for (const auto& k : u.start_keys) keyed_starts.push_back(k.key);
  // A shared store numbers cases itself; each engine's transactions are short (no fsync wait
  // of its own to share), and several engines are the way to more throughput.
  if (m.options.group_commit && !m.shared()) {
    group_flush(std::move(snaps), std::move(meta), std::move(outbox));
  } else {
    try {
      m.store()->commit(StoreBatch{u.records, snaps, std::move(meta), u.flows, u.start_keys, outbox, u.delivered});
    } catch (const std::exception& e) {
      // On a shared store memory is never ahead of the store (the unit's cases leave it now),
      // so the engine goes on; the call fails, or is applied again after a conflict.
      if (!m.shared()) m.store_failure = e.what();
      release();
      throw_commit_failure(e.what(), dynamic_cast<const ConflictError*>(&e) != nullptr);
    }
    release();
  }
  u.records.clear();
  u.flows.clear();
  u.start_keys.clear();
  u.counters_changed = false;
  entries_committed();
  // The store has them now: a repeated start finds them there.
  for (const auto& k : keyed_starts) m.start_keys.erase(k);
  // Durable now: closed cases leave memory (reads of them go to the store). One that another
  // unit touched meanwhile (a refused call's record) leaves with that unit's commit.
  for (const auto& id : closed)
    if (Case* c = m.cases.find(id); c && !c->open() && !c->dirty && !c->owner)
      m.cases.evict(*c);
}

void Op::group_flush(std::vector<StoredCase> snaps, std::map<std::string, std::string> meta,
                     std::vector<OutboxEntry> outbox) {
  auto& group = m.group;
  // Lock order: engine lock, then group.mutex; never the other way round.
  std::unique_lock gl(group.mutex);
  auto& p = group.pending;
  p.records.insert(p.records.end(), std::make_move_iterator(u.records.begin()), std::make_move_iterator(u.records.end()));
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
  p.flows.insert(p.flows.end(), u.flows.begin(), u.flows.end());
  p.start_keys.insert(p.start_keys.end(), u.start_keys.begin(), u.start_keys.end());
  p.outbox.insert(p.outbox.end(), std::make_move_iterator(outbox.begin()), std::make_move_iterator(outbox.end()));
  p.delivered.insert(p.delivered.end(), u.delivered.begin(), u.delivered.end());
  const std::uint64_t ticket = ++group.enqueued;
  // The batch keeps units in order, so a later unit may change these cases before this one is
  // on disk: whatever it commits lands in this transaction or a later one.
  release();
  lk.unlock();
  // Leader and followers: whoever finds no transaction running writes everything pending; the
  // others sleep until a transaction that carries their unit is done.
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
      m.store()->commit(StoreBatch{batch.records, batch.cases, std::move(batch.meta), batch.flows, batch.start_keys,
                                   batch.outbox, batch.delivered});
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
    if (m.store_failure.empty()) m.store_failure = failure;
    throw_commit_failure(failure, conflict);
  }
}

// Delivers the unit's notifications to their channels with the lock released (a listener may
// call the engine); outcomes are journaled and committed in units of their own (outbox.cpp).
void Op::dispatch() {
  if (u.fresh.empty()) return;
  const auto fresh = std::exchange(u.fresh, {});
  if (!m.shared()) {
    deliver(&fresh);
    return;
  }
  // On a shared store an earlier entry of the same case and channel may wait in the store for
  // its retry: the unit's entries go out through a claim, which hands out queue heads only.
  u.entries.clear();
  (void)deliver_due(m, lk, 1);
}

}  // namespace escalon::detail
