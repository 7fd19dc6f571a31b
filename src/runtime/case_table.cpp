// The cases in memory, by slot and by id. Slots are reused once a closed case leaves memory;
// a slot's generation moves on each time, so a timer queued for the old occupant never fires
// for the new one.

#include <algorithm>
#include <cassert>

#include "runtime/core.hpp"

namespace escalon::detail {

Case* CaseTable::find(std::string_view id) const {
  auto it = by_id_.find(id);
  return it == by_id_.end() ? nullptr : it->second;
}

Case* CaseTable::at(std::uint32_t slot, std::uint32_t gen) const {
  if (slot >= slots_.size() || slots_[slot].gen != gen) return nullptr;
  assert((!slots_[slot].c || (slots_[slot].c->slot == slot && slots_[slot].c->slot_gen == gen)) &&
         "a case knows its slot and generation");
  return slots_[slot].c.get();
}

Case& CaseTable::add(std::unique_ptr<Case> c) {
  std::uint32_t slot;
  if (!free_.empty()) {
    slot = free_.back();
    free_.pop_back();
  } else {
    slot = static_cast<std::uint32_t>(slots_.size());
    slots_.emplace_back();
  }
  Slot& s = slots_[slot];
  assert(!s.c && "a free slot is empty");
  assert(!by_id_.contains(c->id) && "an id is in memory once");
  c->slot = slot;
  c->slot_gen = s.gen;
  c->serial = ++serial_;
  by_id_.emplace(c->id, c.get());
  s.c = std::move(c);
  return *s.c;
}

void CaseTable::evict(Case& c) {
  const std::uint32_t slot = c.slot;
  assert(slot < slots_.size() && slots_[slot].c.get() == &c && "the case is in its slot");
  assert(!c.owner && !c.dirty && "only committed cases leave memory");
  // A child still in memory (another unit touched it meanwhile) keeps its parent by id.
  for (const auto& id : c.children)
    if (Case* child = find(id); child && child->parent == &c) {
      child->parent = nullptr;
      child->set_parent_id(c.id);
    }
  by_id_.erase(c.id);
  Slot& s = slots_[slot];
  s.c.reset();
  ++s.gen;
  free_.push_back(slot);
}

std::vector<Case*> CaseTable::in_order() const {
  std::vector<Case*> out;
  out.reserve(by_id_.size());
  for (const auto& s : slots_)
    if (s.c) out.push_back(s.c.get());
  std::sort(out.begin(), out.end(), [](const Case* a, const Case* b) { return a->serial < b->serial; });
  return out;
}

void TimerQueue::push(TimePoint at, const Case& c, std::size_t clock, std::uint32_t gen) {
  push({at, ++seq_, c.slot, c.slot_gen, gen, static_cast<std::uint16_t>(clock)});
}

void TimerQueue::push(const TimerEntry& e) {
  assert(e.seq <= seq_ && "entries are numbered by the queue");
  heap_.push_back(e);
  std::push_heap(heap_.begin(), heap_.end(), std::greater<>{});
}

void TimerQueue::pop() {
  std::pop_heap(heap_.begin(), heap_.end(), std::greater<>{});
  assert((heap_.size() == 1 || !(heap_.back() > heap_.front())) && "the heap gives its earliest entry first");
  heap_.pop_back();
}

bool TimerQueue::live(const TimerEntry& e, const CaseTable& cases) {
  const Case* c = cases.at(e.slot, e.case_gen);
  return c && e.clock < c->clocks.size() && c->clocks[e.clock].gen == e.gen;
}

void TimerQueue::drop_stale(const CaseTable& cases) {
  while (!heap_.empty() && !live(heap_.front(), cases)) pop();
}

void TimerQueue::compact(const CaseTable& cases) {
  if (heap_.size() < 4096 || heap_.size() < 2 * compacted_) return;
  std::erase_if(heap_, [&](const TimerEntry& e) { return !live(e, cases); });
  std::make_heap(heap_.begin(), heap_.end(), std::greater<>{});
  assert(std::is_heap(heap_.begin(), heap_.end(), std::greater<>{}));
  compacted_ = heap_.size();
}

}  // namespace escalon::detail
