#include <algorithm>

#include "escalon/store.hpp"

namespace escalon {

void MemoryStore::commit(const StoreBatch& batch) {
  std::lock_guard lk(mutex_);
  records_.insert(records_.end(), batch.records.begin(), batch.records.end());
  for (const auto& c : batch.cases) {
    auto [it, fresh] = cases_.insert_or_assign(c.id, c);
    if (fresh) order_.push_back(c.id);
  }
  for (const auto& [k, v] : batch.meta) meta_[k] = v;
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

std::vector<Record> MemoryStore::history(std::string_view case_id) {
  std::lock_guard lk(mutex_);
  std::vector<Record> out;
  for (const auto& r : records_)
    if (r.case_id == case_id) out.push_back(r);
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

std::map<std::string, std::string> MemoryStore::meta() {
  std::lock_guard lk(mutex_);
  return meta_;
}

void MemoryStore::for_each_record(const std::function<void(const Record&)>& visit) {
  std::vector<Record> copy;
  {
    std::lock_guard lk(mutex_);
    copy = records_;
  }
  for (const auto& r : copy) visit(r);
}

std::size_t MemoryStore::record_count() const {
  std::lock_guard lk(mutex_);
  return records_.size();
}

}  // namespace escalon
