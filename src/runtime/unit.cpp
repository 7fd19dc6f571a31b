// The journal and the ownership of cases by units of work.
//
// A unit owns the case families (a case with its sub-flow cases and branches) it changed until
// it commits. Another unit that needs such a case waits for that commit; it waits only at the
// start of its call, before it owns anything, so waits cannot form a cycle, except through
// calls that action handlers make (they join the handler's unit, which owns cases): that cycle
// is detected and refused. Timer points of a held case are left for later, never waited for.

#include <cassert>

#include "runtime/core.hpp"

namespace escalon::detail {

Record Op::make(const Case& c, RecordType type, TimePoint at) const {
  Record r;
  r.at = at;
  r.case_id = c.id;
  r.type = type;
  if (c.step >= 0) r.step = c.current().name;
  return r;
}

namespace {
// The personal-data fields a record holds values of, named with it so that every output can
// hide them without knowing the flow. Only start data and event payloads carry case fields in
// `data`; other records' `data` (a delivery's key, a migration's versions) does not.
void mark_personal(const Flow& f, Record& r) {
  if (!f.has_pii) return;
  const auto pii = [&](const std::string& name) {
    const DataField* d = f.find_field(name);
    return d && d->pii;
  };
  if (r.type == RecordType::data_changed && pii(r.target)) r.personal.push_back(r.target);
  if ((r.type == RecordType::started || r.type == RecordType::event) && r.data.kind() == Value::Kind::map)
    for (const auto& [k, v] : r.data.as_map())
      if (pii(k)) r.personal.push_back(k);
}
}  // namespace

void Op::commit(Case* c, Record&& r) {
  if (c) {
    touch(*c);
    mark_personal(c->flow(), r);
    // A case's records are in time order whatever wrote them. Timer points are moved up where
    // they fire (fire_due); this keeps any other late writer from going back in time.
    if (r.at < c->last_at) r.at = c->last_at;
    c->last_at = r.at;
  }
  if (m.store()) {
    // Numbered when the unit commits, in commit order: units of several threads interleave,
    // and the stored journal must have no gap when a crash loses the unit still running.
    u.records.push_back(std::move(r));
    return;
  }
  r.seq = ++m.record_seq;
  if (c) c->last_seq = r.seq;
  to_sink(r);
  if (!m.options.keep_journal) return;
  m.journal.append(r, c ? &c->journal_last : nullptr);
}

void Op::to_sink(const Record& r) {
  if (!m.options.journal_sink) return;
  auto& scope = handler_scope();
  const void* outer = scope.in_sink;
  scope.in_sink = &m;
  try {
    m.options.journal_sink(r);
  } catch (...) {
    scope.in_sink = outer;
    throw;
  }
  scope.in_sink = outer;
}

void Op::touch(Case& c) {
  if (m.recovering || c.dirty) return;
  own(c);
  c.dirty = true;
  u.touched.push_back(&c);
}

void Op::own(Case& c) {
  if (m.recovering) return;
  Case& root = c.root();
  if (root.owner == &u) return;
  if (root.owner) throw std::logic_error(fmt::format("case '{}' is held by another unit of work", c.id));
  root.owner = &u;
  if (u.families.empty()) ++m.holders;
  u.families.push_back(&root);
}

bool Op::claimable(const Case& c) const {
  const Unit* holder = c.root().owner;
  return !holder || holder == &u;
}

Case* Op::claim(std::string_view id) {
  for (;;) {
    Case* c = m.cases.find(id);
    if (!c) return claimed = m.shared() ? load_family(id) : nullptr;
    const Unit* holder = c->root().owner;
    if (!holder || holder == &u) {
      own(*c);
      return claimed = c;
    }
    for (const Unit* w = holder; w; w = w->waiting_for)
      if (w == &u)
        throw Error(fmt::format("case '{}' is being changed by a call that waits for this one (an action handler calls "
                                "the engine for a case another handler's call holds); nothing was changed: try again "
                                "after the handler returns",
                                id));
    u.waiting_for = holder;
    m.released.wait(lk);
    u.waiting_for = nullptr;
  }
}

void Op::wait_for_all() {
  const auto others = [&] { return m.holders > (u.families.empty() ? 0u : 1u); };
  if (others() && !u.families.empty())
    throw Error("this call changes many cases and cannot wait for other calls while its own unit holds cases (it was "
                "made from an action handler); call it outside the handler");
  while (others()) m.released.wait(lk);
}

void Core::check_store() const {
  if (!store_failure.empty())
    throw StoreError(fmt::format("the store failed earlier ({}); nothing more is changed: open the engine again", store_failure));
}

}  // namespace escalon::detail
