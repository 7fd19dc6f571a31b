// Erasure and retention of personal data (docs/security.md, "Erasure" and "Retention").
//
// A closed case is erased by crypto-shredding: its secret (the key that seals its `pii: true`
// values in the store, store/seal.hpp) is dropped, its personal fields are cleared in its state
// and its undelivered notifications leave the outbox. The journal keeps every record, time,
// step and actor, so KPIs stay computable and the hash chain stays valid; only the sealed
// values can no longer be opened.

#include <map>

#include "runtime/core.hpp"
#include "store/seal.hpp"

namespace escalon::detail {

std::vector<OutboxRef> Outbox::drop_case(std::string_view case_id) {
  std::vector<OutboxRef> out;
  for (auto& [id, q] : queues_) {
    if (id.first != case_id) continue;
    while (q.items.size() > q.taken) {
      out.push_back({q.items.back().e.key, q.items.back().e.channel});
      q.items.pop_back();
    }
  }
  std::erase_if(queues_, [](const auto& q) { return q.second.items.empty(); });
  for (auto it = dead_.begin(); it != dead_.end();) {
    if (it->second.e.case_id == case_id) {
      out.push_back({it->first.first, it->first.second});
      it = dead_.erase(it);
    } else {
      ++it;
    }
  }
  return out;
}

void Op::erase_case(Case& c, TimePoint at, const std::string& reason, const EventOptions& o) {
  const Flow& f = c.flow();
  for (std::size_t i = 0; i < f.data.size(); ++i)
    if (f.data[i].pii) {
      c.data[i] = Value();
      if (i < c.fork_data.size()) c.fork_data[i] = Value();
    }
  c.more().secret.clear();
  c.more().erased = true;
  m.erased_cases.insert(c.id);
  // Undelivered notifications may quote the person (a template's personal parts): they go.
  std::vector<OutboxRef> dropped;
  if (m.shared() || (m.store() && !m.recovered)) {  // the outbox is read from the store, not held
    m.store()->for_each_outbox([&](const OutboxEntry& e) {
      if (e.case_id == c.id) dropped.push_back({e.key, e.channel});
    });
  } else {
    dropped = m.outbox.drop_case(c.id);
  }
  if (!m.store())  // the in-memory journal is the only copy: its values go now
    for (auto i : m.journal.chain(c.journal_last))
      m.journal.rewrite_values(i, [](Record& r) {
        for_each_personal(r, [](Value& v) {
          if (!v.is_null()) v = erased_value();
        });
      });
  Record r = make(c, RecordType::erased, at);
  r.actor = o.actor;
  r.channel = o.channel;
  r.message = reason;
  if (!dropped.empty()) r.data = Map{{"notifications_dropped", Value(static_cast<std::int64_t>(dropped.size()))}};
  u.delivered.insert(u.delivered.end(), dropped.begin(), dropped.end());
  commit(&c, std::move(r));
}

namespace {

// When a closed case closed: its last `completed` or `cancelled` record.
std::optional<TimePoint> closed_at(const std::vector<Record>& history) {
  for (auto it = history.rbegin(); it != history.rend(); ++it)
    if (it->type == RecordType::completed || it->type == RecordType::cancelled) return it->at;
  return std::nullopt;
}

}  // namespace

bool erase_call(Op& op, TimePoint now, std::string_view case_id, std::string_view reason, const EventOptions& o,
                bool system) {
  // An engine that has not recovered must not load an open case (recovery would load it again):
  // refused from the stored row, without a record.
  if (op.m.store() && !op.m.recovered && !op.m.shared())
    if (auto sc = op.m.store()->find_case(case_id); sc && sc->open)
      throw EventError(Refusal::wrong_state, fmt::format("case '{}' is open; cancel it first, or erase it once it has closed",
                                                         case_id));
  Case& c = op.find(case_id, "erase", o, now);
  if (!system) op.authorize(c, "erase", o, now, op.m.options.access.erase, "erase", "erase the personal data of");
  if (c.open())
    op.reject(&c, case_id, "erase", o, now, Refusal::wrong_state,
              fmt::format("case '{}' is open (step '{}'); cancel it first, or erase it once it has closed", c.id,
                          c.current().name));
  if (c.erased()) return false;  // erased before: nothing is left to erase, and no second record
  op.erase_case(c, now, std::string(reason), o);
  // Its sub-flow cases and branches were started with its data: they go with it (closed, since
  // closing a case closes its children).
  std::vector<std::string> family = c.children;
  for (std::size_t i = 0; i < family.size(); ++i) {
    Case& child = op.find(family[i], "erase", o, now);
    if (!child.open() && !child.erased() && child.flow().has_pii) op.erase_case(child, now, std::string(reason), o);
    family.insert(family.end(), child.children.begin(), child.children.end());
  }
  return true;
}

// Closed cases that still hold personal data and whose flow's retention, else the engine's,
// has run out by `now`, in the order they were started. With a store: cases with a key, and
// cases of an older store (no key, not erased) whose flow has personal fields. The store is
// read with the engine lock released: retention must not stop every call while it reads.
std::vector<std::string> retention_due(Core& m, std::unique_lock<std::mutex>& lk, TimePoint now) {
  std::vector<StoredFlow> stored;  // read once, when a flow is not loaded (escalon purge loads none)
  std::map<std::string, std::pair<Duration, bool>, std::less<>> policy;  // flow -> retention, has pii
  const auto policy_of = [&](const std::string& flow) {
    if (auto it = policy.find(flow); it != policy.end()) return it->second;
    const FlowRt* rt = m.flows.find(flow, 0);  // the latest version's policy applies
    if (!rt && m.store()) {
      if (stored.empty()) stored = m.store()->flows();
      std::int64_t latest = 0;
      for (const auto& f : stored)
        if (f.id == flow) latest = std::max(latest, f.version);
      std::vector<StoredFlow> unseen;
      if (latest) rt = m.flows.from_store(flow, latest, *m.store(), unseen);
    }
    const Duration keep = rt && rt->flow->retention > Duration{0} ? rt->flow->retention : m.options.retention;
    return policy[flow] = {keep, rt && rt->flow->has_pii};
  };
  std::vector<std::string> out;
  if (!m.store()) {
    std::vector<const Case*> closed;
    m.cases.for_each([&](const Case& c) {
      if (!c.open() && !c.erased() && c.flow().has_pii) closed.push_back(&c);
    });
    std::sort(closed.begin(), closed.end(), [](const Case* a, const Case* b) { return a->serial < b->serial; });
    for (const Case* c : closed) {
      const std::vector<Record> history = m.journal.case_records(c->journal_last);
      const Duration keep = policy_of(c->flow().id).first;
      if (auto at = closed_at(history); keep > Duration{0} && at && *at + keep <= now) out.push_back(c->id);
    }
    return out;
  }
  struct Held {
    std::string id, flow;
    bool keyed;
  };
  std::vector<Held> held;
  lk.unlock();
  try {
    m.store()->for_each_case(false, [&](const StoredCase& sc) {
      if (!sc.secret.empty() || !state_erased(sc.state))
        held.push_back({sc.id, sc.flow, !sc.secret.empty()});
    });
  } catch (...) {
    lk.lock();
    throw;
  }
  lk.lock();
  std::vector<std::pair<const Held*, Duration>> candidates;
  for (const auto& h : held) {
    const auto [keep, pii] = policy_of(h.flow);
    if (keep > Duration{0} && (h.keyed || pii)) candidates.emplace_back(&h, keep);
  }
  lk.unlock();
  try {
    for (const auto& [h, keep] : candidates)
      if (auto at = closed_at(m.store()->history(h->id)); at && *at + keep <= now) out.push_back(h->id);
  } catch (...) {
    lk.lock();
    throw;
  }
  lk.lock();
  return out;
}

bool case_erased(Core& m, const std::string& id) {
  if (m.erased_cases.contains(id)) return true;
  if (!m.shared()) return false;
  const auto sc = m.store()->find_case(id);
  return sc && state_erased(sc->state);
}

bool retention_tick(Core& m, std::unique_lock<std::mutex>& lk) {
  const TimePoint now = m.now();
  if (now < m.next_retention || !m.store_failure.empty()) return false;
  m.next_retention = now + std::chrono::hours{1};
  const auto& all = m.flows.all();
  if (m.options.retention <= Duration{0} &&
      std::none_of(all.begin(), all.end(), [](const auto& rt) { return rt->flow->retention > Duration{0}; }))
    return false;
  lk.unlock();
  try {
    (void)m.self->apply_retention();
  } catch (const std::exception&) {  // a store failure shows on the host's next call
  }
  lk.lock();
  return true;
}

}  // namespace escalon::detail
