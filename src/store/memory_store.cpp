#include <fmt/format.h>

#include <algorithm>
#include <thread>
#include <tuple>

#include "escalon/store.hpp"
#include "store/seal.hpp"

namespace escalon {

void MemoryStore::commit(const StoreBatch& batch) {
  std::lock_guard lk(mutex_);
  // All checks first: a refused batch writes nothing.
  for (const auto& c : batch.cases) {
    auto it = cases_.find(c.id);
    const std::uint64_t held = it == cases_.end() ? 0 : it->second.revision;
    if (held != c.expected)
      throw ConflictError(fmt::format("case '{}' was changed by another writer (stored revision {}, this write expected {}); "
                                      "reload the case and apply the call again",
                                      c.id, held, c.expected));
  }
  for (const auto& f : batch.flows) {
    auto it = flows_.find({f.id, f.version});
    if (it != flows_.end() && it->second.hash != f.hash)
      throw ConflictError(fmt::format("flow '{}' version {} is already stored with other content", f.id, f.version));
  }
  for (const auto& k : batch.start_keys) {
    if (start_keys_.contains(k.key))
      throw ConflictError(fmt::format("start key '{}' was taken by another writer", k.key));
  }
  for (const auto& f : batch.flows) flows_.try_emplace({f.id, f.version}, f);
  if (std::any_of(batch.records.begin(), batch.records.end(), [](const Record& r) { return !r.personal.empty(); })) {
    // Sealed as the other stores keep them, so that an erasure (a case written without its
    // secret) leaves nothing readable here either.
    const auto secrets = detail::batch_secrets(batch);
    for (const auto& r : batch.records) {
      if (r.personal.empty()) {
        records_.push_back(r);
        continue;
      }
      auto it = secrets.find(r.case_id);
      records_.push_back(detail::sealed_record(r, it == secrets.end() ? std::string_view{} : it->second));
    }
  } else {
    records_.insert(records_.end(), batch.records.begin(), batch.records.end());
  }
  for (const auto& r : batch.records) seq_taken_ = std::max(seq_taken_, r.seq);  // take_seqs never repeats a stored number
  for (const auto& c : batch.cases) {
    // Read back as the other stores read it: ready to be written from the revision it has.
    StoredCase stored = c;
    stored.expected = c.revision;
    auto [it, fresh] = cases_.insert_or_assign(c.id, std::move(stored));
    if (fresh) order_.push_back(c.id);
  }
  for (const auto& [k, v] : batch.meta) meta_[k] = v;
  TimePoint earliest{};
  for (const auto& c : batch.cases) {
    leases_.erase(c.id);
    if (c.open && c.next_due != TimePoint{} && (earliest == TimePoint{} || c.next_due < earliest)) earliest = c.next_due;
  }
  for (const auto& k : batch.start_keys) start_keys_.emplace(k.key, k);
  for (const auto& e : batch.outbox) {
    outbox_.insert_or_assign({e.key, e.channel}, e);
    outbox_leases_.erase({e.key, e.channel});
  }
  for (const auto& d : batch.delivered) {
    outbox_.erase({d.key, d.channel});
    outbox_leases_.erase({d.key, d.channel});
  }
  if (earliest != TimePoint{}) {
    earliest_committed_ = earliest;
    ++commits_;
    committed_.notify_all();
  }
}

std::vector<StoredCase> MemoryStore::open_cases() {
  std::lock_guard lk(mutex_);
  std::vector<StoredCase> out;
  for (const auto& id : order_) {
    const auto& c = cases_.at(id);
    if (c.open) out.push_back(c);
  }
  return out;
}

std::optional<StoredCase> MemoryStore::find_case(std::string_view id) {
  std::lock_guard lk(mutex_);
  auto it = cases_.find(id);
  if (it == cases_.end()) return std::nullopt;
  return it->second;
}

void MemoryStore::for_each_case(std::optional<bool> open, const std::function<void(const StoredCase&)>& visit) {
  std::vector<StoredCase> chosen;
  {
    std::lock_guard lk(mutex_);
    for (const auto& id : order_) {
      const auto& c = cases_.at(id);
      if (!open || c.open == *open) chosen.push_back(c);
    }
  }
  for (const auto& c : chosen) visit(c);
}

std::vector<Record> MemoryStore::history(std::string_view case_id) {
  std::lock_guard lk(mutex_);
  std::vector<Record> out;
  for (const auto& r : records_)
    if (r.case_id == case_id) out.push_back(r);
  open_records(out);
  return out;
}

std::uint64_t MemoryStore::last_seq() {
  std::lock_guard lk(mutex_);
  return records_.empty() ? 0 : records_.back().seq;
}

TimePoint MemoryStore::last_time() {
  std::lock_guard lk(mutex_);
  return records_.empty() ? TimePoint{} : records_.back().at;
}

std::optional<StartKey> Store::find_start_key(std::string_view) { return std::nullopt; }
void Store::for_each_stored_record(const std::function<void(const StoredRecord&)>&) {}

// Called with mutex_ held.
void MemoryStore::open_records(std::span<Record> records) const {
  for (auto& r : records) {
    if (r.personal.empty()) continue;
    auto it = cases_.find(r.case_id);
    detail::open_record(r, it == cases_.end() ? std::string_view{} : std::string_view(it->second.secret));
  }
}
void Store::for_each_start_key(const std::function<void(const StartKey&)>&) {}

void MemoryStore::for_each_start_key(const std::function<void(const StartKey&)>& visit) {
  std::vector<StartKey> keys;
  {
    std::lock_guard lk(mutex_);
    for (const auto& [k, v] : start_keys_) keys.push_back(v);
  }
  for (const auto& k : keys) visit(k);
}

void MemoryStore::for_each_outbox(const std::function<void(const OutboxEntry&)>& visit) {
  std::vector<OutboxEntry> entries;
  {
    std::lock_guard lk(mutex_);
    for (const auto& [k, e] : outbox_) entries.push_back(e);
  }
  std::sort(entries.begin(), entries.end(), [](const OutboxEntry& a, const OutboxEntry& b) {
    return std::tie(a.case_id, a.order, a.channel) < std::tie(b.case_id, b.order, b.channel);
  });
  for (const auto& e : entries) visit(e);
}

namespace {
[[noreturn]] void not_shared(std::string_view what) {
  throw StoreError(fmt::format("{} needs a store shared by several engines (PostgreSQL); this store has one engine", what));
}
}  // namespace

std::uint64_t Store::next_case_number(std::string_view) { not_shared("numbering cases in the store"); }
void Store::take_seqs(std::span<std::uint64_t>) { not_shared("numbering records in the store"); }
std::vector<std::string> Store::claim_due(TimePoint, std::size_t, std::string_view, std::chrono::milliseconds) {
  not_shared("claiming due timers");
}
void Store::release_claims(std::span<const std::string>, std::string_view) { not_shared("releasing timer claims"); }
bool Store::wait_for_work(TimePoint, std::chrono::milliseconds timeout) {
  std::this_thread::sleep_for(timeout);
  return false;
}
std::optional<TimePoint> Store::earliest_due() { not_shared("asking the store for the earliest timer"); }

std::uint64_t MemoryStore::next_case_number(std::string_view flow) {
  std::lock_guard lk(mutex_);
  const std::string key = "case-number/" + std::string(flow);
  std::uint64_t n = 0;
  if (auto it = meta_.find(key); it != meta_.end()) n = std::stoull(it->second);
  meta_[key] = std::to_string(++n);
  return n;
}

void MemoryStore::take_seqs(std::span<std::uint64_t> out) {
  std::lock_guard lk(mutex_);
  for (auto& s : out) s = ++seq_taken_;
}

std::vector<std::string> MemoryStore::claim_due(TimePoint upto, std::size_t limit, std::string_view owner,
                                                std::chrono::milliseconds lease) {
  std::lock_guard lk(mutex_);
  const auto now = std::chrono::steady_clock::now();
  std::vector<std::pair<TimePoint, std::string>> due;
  for (const auto& [id, c] : cases_) {
    if (!c.open || c.next_due == TimePoint{} || c.next_due > upto) continue;
    if (auto l = leases_.find(id); l != leases_.end() && l->second.until > now && l->second.owner != owner) continue;
    due.emplace_back(c.next_due, id);
  }
  std::sort(due.begin(), due.end());
  if (limit && due.size() > limit) due.resize(limit);
  std::vector<std::string> out;
  for (auto& [t, id] : due) {
    leases_[id] = Lease{std::string(owner), now + lease};
    out.push_back(std::move(id));
  }
  return out;
}

std::vector<OutboxEntry> Store::claim_outbox(TimePoint, std::size_t, std::string_view, std::chrono::milliseconds) {
  not_shared("claiming outbox entries");
}

std::vector<OutboxEntry> MemoryStore::claim_outbox(TimePoint upto, std::size_t limit, std::string_view owner,
                                                   std::chrono::milliseconds lease) {
  if (!shared_) not_shared("claiming outbox entries");
  std::lock_guard lk(mutex_);
  const auto now = std::chrono::steady_clock::now();
  std::map<std::pair<std::string, std::string>, const OutboxEntry*> heads;  // (case, channel) -> first live entry
  for (const auto& [id, e] : outbox_) {
    if (e.dead) continue;
    auto& h = heads[{e.case_id, e.channel}];
    if (!h || e.order < h->order) h = &e;
  }
  std::vector<OutboxEntry> out;
  for (const auto& [q, e] : heads) {
    if (e->next_attempt > upto) continue;
    auto it = outbox_leases_.find({e->key, e->channel});
    if (it != outbox_leases_.end() && it->second.until > now && it->second.owner != owner) continue;
    out.push_back(*e);
  }
  std::sort(out.begin(), out.end(), [](const OutboxEntry& a, const OutboxEntry& b) { return a.next_attempt < b.next_attempt; });
  if (limit && out.size() > limit) out.resize(limit);
  for (const auto& e : out) outbox_leases_.insert_or_assign({e.key, e.channel}, Lease{std::string(owner), now + lease});
  return out;
}

void MemoryStore::release_claims(std::span<const std::string> ids, std::string_view owner) {
  std::lock_guard lk(mutex_);
  for (const auto& id : ids)
    if (auto l = leases_.find(id); l != leases_.end() && l->second.owner == owner) leases_.erase(l);
}

bool MemoryStore::wait_for_work(TimePoint before, std::chrono::milliseconds timeout) {
  std::unique_lock lk(mutex_);
  const std::uint64_t seen = commits_;
  return committed_.wait_for(lk, timeout, [&] { return commits_ != seen && earliest_committed_ <= before; });
}

std::optional<TimePoint> MemoryStore::earliest_due() {
  std::lock_guard lk(mutex_);
  std::optional<TimePoint> out;
  for (const auto& [id, c] : cases_)
    if (c.open && c.next_due != TimePoint{} && (!out || c.next_due < *out)) out = c.next_due;
  return out;
}

std::optional<StartKey> MemoryStore::find_start_key(std::string_view key) {
  std::lock_guard lock(mutex_);
  auto it = start_keys_.find(key);
  if (it == start_keys_.end()) return std::nullopt;
  return it->second;
}

std::map<std::string, std::string> MemoryStore::meta() {
  std::lock_guard lk(mutex_);
  return meta_;
}

std::vector<StoredFlow> MemoryStore::flows() {
  std::lock_guard lk(mutex_);
  std::vector<StoredFlow> out;
  for (const auto& [key, f] : flows_) out.push_back(f);
  return out;
}

std::vector<std::string> MemoryStore::due_cases(TimePoint upto, std::size_t limit) {
  std::lock_guard lk(mutex_);
  std::vector<std::pair<TimePoint, std::string>> due;
  for (const auto& [id, c] : cases_)
    if (c.open && c.next_due != TimePoint{} && c.next_due <= upto) due.emplace_back(c.next_due, id);
  std::sort(due.begin(), due.end());
  if (limit && due.size() > limit) due.resize(limit);
  std::vector<std::string> out;
  for (auto& [t, id] : due) out.push_back(std::move(id));
  return out;
}

void MemoryStore::for_each_record(const std::function<void(const Record&)>& visit) {
  std::vector<Record> copy;
  {
    std::lock_guard lk(mutex_);
    copy = records_;
    open_records(copy);
  }
  for (const auto& r : copy) visit(r);
}

std::size_t MemoryStore::record_count() const {
  std::lock_guard lk(mutex_);
  return records_.size();
}

}  // namespace escalon
