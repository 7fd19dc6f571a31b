#include "runtime/journal_log.hpp"

#include <algorithm>
#include <stdexcept>

namespace escalon::detail {

template <class T>
std::uint32_t JournalLog::Blocks<T>::push(T v) {
  if (count >= JournalLog::none - 1) throw std::length_error("the in-memory journal is full (4 billion records)");
  if (count % block_size == 0) blocks.push_back(std::make_unique<T[]>(block_size));
  (*this)[count] = std::move(v);
  return static_cast<std::uint32_t>(count++);
}

std::uint32_t JournalLog::intern(std::string_view s) {
  if (s.empty()) return 0;
  if (auto it = index_.find(s); it != index_.end()) return it->second;
  const auto id = static_cast<std::uint32_t>(texts_.size());
  index_.emplace(texts_.emplace_back(s), id);
  return id;
}

JournalLog::JournalLog() { texts_.emplace_back(); }

void JournalLog::append(const Record& r, std::uint32_t* case_last) {
  Packed p{.seq = r.seq,
           .at = r.at,
           .due = r.due,
           .case_id = intern(r.case_id),
           .step = intern(r.step),
           .event = intern(r.event),
           .actor = intern(r.actor),
           .channel = intern(r.channel),
           .target = intern(r.target),
           .message = intern(r.message),
           .prev = case_last ? *case_last : none,
           .values = none,
           .personal = none,
           .level = r.level,
           .repeat = r.repeat,
           .type = r.type,
           .value_mask = 0};
  const std::array<const Value*, 3> values{&r.old_value, &r.new_value, &r.data};
  for (std::size_t i = 0; i < values.size(); ++i) {
    if (values[i]->is_null()) continue;
    const std::uint32_t at = values_.push(*values[i]);
    if (p.values == none) p.values = at;
    p.value_mask = static_cast<std::uint8_t>(p.value_mask | (1u << i));
  }
  if (!r.personal.empty()) {
    std::vector<std::uint32_t> names;
    names.reserve(r.personal.size());
    for (const auto& n : r.personal) names.push_back(intern(n));
    p.personal = static_cast<std::uint32_t>(personal_.size());
    personal_.push_back(std::move(names));
  }
  const std::uint32_t pos = records_.push(p);
  if (case_last) *case_last = pos;
}

Record JournalLog::at(std::uint32_t pos) const {
  const Packed& p = records_[pos];
  Record r;
  r.seq = p.seq;
  r.at = p.at;
  r.due = p.due;
  r.case_id = text(p.case_id);
  r.type = p.type;
  r.step = text(p.step);
  r.event = text(p.event);
  r.actor = text(p.actor);
  r.channel = text(p.channel);
  r.target = text(p.target);
  r.message = text(p.message);
  r.level = p.level;
  r.repeat = p.repeat;
  const std::array<Value*, 3> values{&r.old_value, &r.new_value, &r.data};
  std::uint32_t v = p.values;
  for (std::size_t i = 0; i < values.size(); ++i)
    if (p.value_mask & (1u << i)) *values[i] = values_[v++];
  if (p.personal != none)
    for (auto n : personal_[p.personal]) r.personal.push_back(text(n));
  return r;
}

std::vector<std::uint32_t> JournalLog::chain(std::uint32_t last) const {
  std::vector<std::uint32_t> out;
  for (std::uint32_t i = last; i != none; i = records_[i].prev) out.push_back(i);
  std::reverse(out.begin(), out.end());
  return out;
}

std::vector<Record> JournalLog::case_records(std::uint32_t last) const {
  const auto positions = chain(last);
  std::vector<Record> out;
  out.reserve(positions.size());
  for (auto i : positions) out.push_back(at(i));
  return out;
}

void JournalLog::rewrite_values(std::uint32_t pos, const std::function<void(Record&)>& change) {
  Record r = at(pos);
  change(r);
  const Packed& p = records_[pos];
  // A value that was null stays absent: erasure only replaces values that are there.
  const std::array<const Value*, 3> values{&r.old_value, &r.new_value, &r.data};
  std::uint32_t v = p.values;
  for (std::size_t i = 0; i < values.size(); ++i)
    if (p.value_mask & (1u << i)) values_[v++] = *values[i];
}

}  // namespace escalon::detail
