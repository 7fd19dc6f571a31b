// The outbox: a notification becomes one entry per channel, written with the unit that raised
// it, and is delivered after that unit commits (docs/delivery.md).
//
// The order promise is per (case, channel): an entry waits behind an earlier one of its queue
// that failed and waits for its retry, and one thread delivers a queue at a time. Each outcome
// is a journal record (`delivered`, `delivery-failed`) committed with the outbox change, so
// what the journal says was delivered has left the outbox: after a crash in between, the
// entry is delivered again, under the same key (at least once).

#include <algorithm>

#include "runtime/core.hpp"

namespace escalon::detail {

namespace {

// The listeners on_notify registered under one channel name, called in order as one delivery.
// Replaced, never changed, when a listener is added: a delivery running unlocked keeps its copy.
class ListenerChannel final : public Channel {
 public:
  explicit ListenerChannel(std::vector<NotifyHandler> listeners) : listeners_(std::move(listeners)) {}
  void deliver(const Notification& n, std::int32_t /*attempt*/) override {
    for (const auto& l : listeners_) l(n);
  }
  [[nodiscard]] const std::vector<NotifyHandler>& listeners() const { return listeners_; }

 private:
  std::vector<NotifyHandler> listeners_;
};

Duration retry_pause(const DeliveryOptions& o, std::int32_t failures) {
  Duration d = o.first_retry;
  for (std::int32_t i = 1; i < failures && d < o.max_retry; ++i) d *= 2;
  return std::min(d, o.max_retry);
}

Record outcome_record(const Delivery& d, RecordType type, TimePoint at, std::int32_t attempt, bool dead = false) {
  Record r;
  r.at = at;
  r.case_id = d.e.case_id;
  r.type = type;
  r.step = d.n.step;
  r.target = d.e.channel;
  r.event = d.n.reason;
  r.repeat = attempt;
  Map data{{"key", d.e.key}};
  if (dead) data["dead"] = true;
  r.data = std::move(data);
  return r;
}

bool by_queue_order(const OutboxEntry& a, const OutboxEntry& b) {
  return std::tie(a.case_id, a.order, a.channel) < std::tie(b.case_id, b.order, b.channel);
}

}  // namespace

// ------------------------------------------------------------------------------ Outbox

void Outbox::add(Delivery d) {
  auto& q = queues_[{d.e.case_id, d.e.channel}];
  // In order; an entry that comes back (redelivered) never goes before those in delivery now.
  auto pos = std::upper_bound(q.items.begin(), q.items.end(), d.e.order,
                              [](std::uint64_t order, const Delivery& x) { return order < x.e.order; });
  const auto first_free = q.items.begin() + static_cast<std::ptrdiff_t>(q.taken);
  if (pos < first_free) pos = first_free;
  q.items.insert(pos, std::move(d));
}

std::vector<std::vector<Delivery>> Outbox::take(TimePoint now, const std::set<QueueId>* only,
                                                const std::function<bool(const std::string&)>& usable) {
  std::vector<std::vector<Delivery>> out;
  const auto visit = [&](const QueueId& id, Queue& q) {
    if (q.taken > 0 || q.items.empty() || !usable(id.second)) return;
    std::vector<Delivery> due;
    for (const auto& d : q.items) {
      if (d.e.next_attempt > now) break;
      due.push_back(d);
    }
    if (due.empty()) return;
    q.taken = due.size();
    out.push_back(std::move(due));
  };
  if (only) {
    for (const auto& id : *only)
      if (auto it = queues_.find(id); it != queues_.end()) visit(it->first, it->second);
  } else {
    for (auto& [id, q] : queues_) visit(id, q);
  }
  return out;
}

void Outbox::finish(const QueueId& id, std::size_t done, const OutboxEntry* retry) {
  auto it = queues_.find(id);
  if (it == queues_.end()) return;
  Queue& q = it->second;
  q.items.erase(q.items.begin(), q.items.begin() + static_cast<std::ptrdiff_t>(std::min(done, q.items.size())));
  if (retry && !q.items.empty()) q.items.front().e = *retry;
  q.taken = 0;
  if (q.items.empty()) queues_.erase(it);
}

void Outbox::bury(Delivery d) {
  auto id = std::make_pair(d.e.key, d.e.channel);
  dead_.insert_or_assign(std::move(id), std::move(d));
}

std::vector<Delivery> Outbox::revive(std::string_view key, std::string_view channel) {
  std::vector<Delivery> out;
  for (auto it = dead_.begin(); it != dead_.end();) {
    if (it->first.first == key && (channel.empty() || it->first.second == channel)) {
      out.push_back(std::move(it->second));
      it = dead_.erase(it);
    } else {
      ++it;
    }
  }
  return out;
}

std::optional<TimePoint> Outbox::next_attempt(const std::function<bool(const std::string&)>& usable) const {
  std::optional<TimePoint> next;
  for (const auto& [id, q] : queues_)
    if (q.taken == 0 && !q.items.empty() && usable(id.second) && (!next || q.items.front().e.next_attempt < *next))
      next = q.items.front().e.next_attempt;
  return next;
}

std::vector<OutboxEntry> Outbox::list() const {
  std::vector<OutboxEntry> out;
  for (const auto& [id, q] : queues_)
    for (const auto& d : q.items) out.push_back(d.e);
  for (const auto& [id, d] : dead_) out.push_back(d.e);
  std::sort(out.begin(), out.end(), by_queue_order);
  return out;
}

// ------------------------------------------------------------------------------ the unit's part

void Op::notify(const Case& c, TimePoint at, std::vector<std::string> to, std::string message, std::string reason,
                std::int32_t level, std::int32_t repeat, std::string subject) {
  if (m.channels.empty()) return;
  Raised r;
  r.n.subject = std::move(subject);
  r.n.at = at;
  r.n.case_id = c.id;
  r.n.flow = c.flow().id;
  if (c.step >= 0) r.n.step = c.current().name;
  r.n.to = std::move(to);
  r.n.message = std::move(message);
  r.n.reason = std::move(reason);
  r.n.level = level;
  r.n.repeat = repeat;
  r.anchor = u.records.size();
  r.seq = m.record_seq;
  u.raised.push_back(std::move(r));
}

std::string Op::render(const Case& c, const MessageTemplate& t, TimePoint at, const ClockState* k, std::int32_t level,
                       bool redact) {
  Ctx x;
  fill(x, c, at, nullptr);
  x.info = case_info(c);  // templates may read case.* where the flow's expressions do not
  x.ctx.case_info = &x.info;
  std::string out;
  for (const auto& p : t.parts) {
    switch (p.slot) {
      case MessageTemplate::Slot::text: out += p.text; break;
      case MessageTemplate::Slot::step: out += c.step >= 0 ? c.current().name : std::string(); break;
      case MessageTemplate::Slot::due: out += k ? format_iso8601(clockmath::due_instant(*k)) : std::string(); break;
      case MessageTemplate::Slot::level: out += std::to_string(level); break;
      case MessageTemplate::Slot::expr:
        if (redact && p.personal) {
          out += "***";
          break;
        }
        try {
          out += p.expr.evaluate(x.ctx).to_display();
        } catch (const std::exception& e) {
          out += fmt::format("{{{}: {}}}", p.expr.text(), e.what());
        }
        break;
    }
  }
  return out;
}

void Op::make_entries() {
  if (u.raised.empty()) return;
  // Keys name the record raised with the notification, numbered by now: unique in the store
  // and the same whoever delivers it, on every attempt.
  std::map<std::pair<std::string, std::uint64_t>, std::uint32_t> count;
  for (auto& r : u.raised) {
    const std::uint64_t seq = m.store() ? (r.anchor > 0 ? u.records[r.anchor - 1].seq : 0) : r.seq;
    const std::uint32_t n = ++count[{r.n.case_id, seq}];
    r.n.key = n == 1 ? fmt::format("{}/{}", r.n.case_id, seq) : fmt::format("{}/{}-{}", r.n.case_id, seq, n);
    const std::string json = notification_to_json(r.n);
    for (const auto& [name, channel] : m.channels) {
      Delivery d{.e = {.key = r.n.key, .channel = name, .case_id = r.n.case_id, .order = seq * 1000 + (n - 1),
                       .attempts = 0, .next_attempt = r.n.at, .dead = false, .error = {}, .notification = json},
                 .n = r.n};
      u.fresh.insert({d.e.case_id, name});
      u.entries.push_back(std::move(d));
    }
  }
  u.raised.clear();
}

void Op::entries_committed() {
  u.outbox_changes.clear();
  u.delivered.clear();
  if (m.shared()) return;  // deliver() hands them to their channels from the unit
  for (auto& d : u.entries) m.outbox.add(std::move(d));
  u.entries.clear();
}

void Op::journal(Record r) {
  if (m.store()) {
    u.records.push_back(std::move(r));
    return;
  }
  r.seq = ++m.record_seq;
  to_sink(r);
  if (!m.options.keep_journal) return;
  Case* c = m.cases.find(r.case_id);
  m.journal.append(r, c ? &c->journal_last : nullptr);
}

namespace {
// The unit's own entries in queues (a shared store keeps no outbox in memory).
std::vector<std::vector<Delivery>> queued(std::vector<Delivery> entries,
                                          const std::function<bool(const std::string&)>& usable) {
  std::map<Outbox::QueueId, std::vector<Delivery>> by_queue;
  for (auto& d : entries)
    if (usable(d.e.channel)) by_queue[{d.e.case_id, d.e.channel}].push_back(std::move(d));
  std::vector<std::vector<Delivery>> out;
  for (auto& [id, q] : by_queue) out.push_back(std::move(q));
  return out;
}

}  // namespace

struct Outcome {
  std::size_t done = 0;  // delivered, from the front
  std::optional<std::string> error;
  bool permanent = false;
};

namespace {

// Hands one queue's entries to its channel in order (lock released), stopping at the first
// failure.
Outcome send_queue(Channel& channel, const std::vector<Delivery>& queue) {
  Outcome o;
  for (const auto& d : queue) {
    try {
      channel.deliver(d.n, d.e.attempts + 1);
      ++o.done;
      continue;
    } catch (const PermanentDeliveryError& e) {
      o.error = e.message();
      o.permanent = true;
    } catch (const std::exception& e) {
      o.error = e.what();
    } catch (...) {
      o.error = "the channel threw a non-standard exception";
    }
    break;
  }
  return o;
}
}  // namespace

void Op::record_outcome(std::vector<Delivery>& b, const Outcome& o) {
  const TimePoint at = m.now();
  for (std::size_t k = 0; k < o.done; ++k) {
    journal(outcome_record(b[k], RecordType::delivered, at, b[k].e.attempts + 1));
    u.delivered.push_back({b[k].e.key, b[k].e.channel});
  }
  std::size_t gone = o.done;
  std::optional<OutboxEntry> retry;
  if (o.error && case_erased(m, b[o.done].e.case_id)) {
    // Erased while this try was under way: the entry goes, with whatever text it held.
    u.delivered.push_back({b[o.done].e.key, b[o.done].e.channel});
    ++gone;
  } else if (o.error) {
    Delivery& d = b[o.done];
    d.e.attempts += 1;
    d.e.error = *o.error;
    d.e.dead = o.permanent || d.e.attempts >= m.options.delivery.max_attempts;
    Record r = outcome_record(d, RecordType::delivery_failed, at, d.e.attempts, d.e.dead);
    if (d.e.dead) {
      r.message = o.permanent ? fmt::format("dead letter: {}", *o.error)
                              : fmt::format("dead letter after {} attempts: {}", d.e.attempts, *o.error);
      ++gone;
      if (!m.shared()) m.outbox.bury(d);
    } else {
      d.e.next_attempt = r.due = at + retry_pause(m.options.delivery, d.e.attempts);
      r.message = *o.error;
      retry = d.e;
    }
    journal(std::move(r));
    u.outbox_changes.push_back(d.e);
  }
  if (!m.shared()) m.outbox.finish({b.front().e.case_id, b.front().e.channel}, gone, retry ? &*retry : nullptr);
}

// Each queue's outcome is committed before the next queue goes out: a crash repeats at most
// the deliveries of one queue, and a stopping runner stops between queues.
std::size_t Op::deliver(const std::set<Outbox::QueueId>* only) {
  std::size_t count = 0;
  const auto usable = [&](const std::string& ch) { return m.channels.contains(ch); };
  for (;;) {
    auto batches = m.shared() ? queued(std::exchange(u.entries, {}), usable) : m.outbox.take(m.now(), only, usable);
    if (batches.empty()) return count;
    std::size_t i = 0;
    // Queues taken but not reached (a stop, a failed commit) are handed back untried.
    const auto hand_back = [&] {
      if (!m.shared())
        for (std::size_t j = i; j < batches.size(); ++j)
          m.outbox.finish({batches[j].front().e.case_id, batches[j].front().e.channel}, 0, nullptr);
    };
    try {
      for (; i < batches.size(); ++i) {
        if (m.runner_stop && std::this_thread::get_id() == m.runner.get_id()) {
          hand_back();
          return count;
        }
        const auto channel = m.channels.find(batches[i].front().e.channel)->second;
        lk.unlock();
        const Outcome o = send_queue(*channel, batches[i]);
        lk.lock();
        record_outcome(batches[i], o);
        count += o.done;
        flush();
      }
    } catch (...) {
      ++i;  // the queue whose commit failed was finished by record_outcome
      hand_back();
      throw;
    }
    // On a shared store entries not reached stay in the store's outbox for the next round.
    if (m.shared()) return count;
  }
}

std::size_t deliver_due(Core& m, std::unique_lock<std::mutex>& lk, std::size_t rounds) {
  std::size_t total = 0;
  for (std::size_t round = 0; round < rounds; ++round) {
    Unit unit;
    Op op{m, unit, lk};
    const Releaser releaser{op};
    if (!m.shared()) return op.deliver(nullptr);
    // A shared store: claim the heads of due queues, as many rounds as deliver something (each
    // delivered head makes the next entry of its queue the head).
    const auto usable = [&](const std::string& ch) { return m.channels.contains(ch); };
    if (m.channels.empty()) return total;
    auto claimed = m.store()->claim_outbox(m.now(), ClaimBatch::most, m.owner, m.options.claim_lease);
    std::size_t taken = 0;
    for (auto& e : claimed) {
      if (!usable(e.channel)) continue;  // another engine has that channel: its lease runs out for it
      try {
        Notification n = notification_from_json(e.notification);
        n.key = e.key;
        unit.entries.push_back({std::move(e), std::move(n)});
        ++taken;
      } catch (const Error& err) {
        e.dead = true;
        e.error = fmt::format("the stored notification is damaged: {}", err.message());
        unit.outbox_changes.push_back(std::move(e));
      }
    }
    const std::size_t delivered = op.deliver(nullptr);
    if (!unit.outbox_changes.empty()) op.flush();
    total += delivered;
    if (taken == 0 || delivered == 0) return total;
  }
  return total;
}

// ------------------------------------------------------------------------------ the API's part

void add_listener(Core& m, NotifyHandler handler, std::string channel) {
  std::vector<NotifyHandler> all;
  if (auto it = m.channels.find(channel); it != m.channels.end())
    if (const auto* l = dynamic_cast<const ListenerChannel*>(it->second.get())) all = l->listeners();
  all.push_back(std::move(handler));
  m.channels.insert_or_assign(std::move(channel), std::make_shared<ListenerChannel>(std::move(all)));
}

std::vector<OutboxEntry> outbox_entries(Core& m) {
  // Before recovery the engine's copy is not read yet: the store has them.
  if (!m.shared() && (!m.store() || m.recovered)) return m.outbox.list();
  std::vector<OutboxEntry> out;
  m.store()->for_each_outbox([&](const OutboxEntry& e) { out.push_back(e); });
  return out;
}

std::size_t redeliver(Core& m, std::unique_lock<std::mutex>& lk, std::string_view key, std::string_view channel) {
  Unit unit;
  Op op{m, unit, lk};
  std::vector<Delivery> back;
  if (m.shared()) {
    m.store()->for_each_outbox([&](const OutboxEntry& e) {
      if (e.dead && e.key == key && (channel.empty() || e.channel == channel)) back.push_back({e, {}});
    });
  } else {
    back = m.outbox.revive(key, channel);
  }
  const TimePoint now = m.now();
  for (auto& d : back) {
    d.e.dead = false;
    d.e.attempts = 0;
    d.e.next_attempt = now;
    unit.outbox_changes.push_back(d.e);
  }
  try {
    op.flush();
  } catch (...) {
    if (!m.shared())
      for (auto& d : back) m.outbox.bury(std::move(d));
    throw;
  }
  if (!m.shared())
    for (auto& d : back) m.outbox.add(std::move(d));
  return back.size();
}

void recover_outbox(Core& m) {
  std::vector<Delivery> read;
  m.store()->for_each_outbox([&](const OutboxEntry& e) {
    try {
      read.push_back({e, notification_from_json(e.notification)});
    } catch (const Error& err) {
      throw StoreError(fmt::format("outbox entry '{}' for channel '{}' is damaged: {}", e.key, e.channel, err.message()));
    }
    read.back().n.key = e.key;
  });
  for (auto& d : read) {
    if (d.e.dead) m.outbox.bury(std::move(d));
    else m.outbox.add(std::move(d));
  }
}

}  // namespace escalon::detail
