// What callers read: a case as a CaseView, and work-queue queries. With a store, closed cases
// are read back from it (they left memory when they closed).

#include <algorithm>
#include <deque>
#include <limits>

#include "model/priority.hpp"
#include "runtime/core.hpp"
#include "runtime/views.hpp"

namespace escalon::detail {

using namespace clockmath;

CaseView view_of(const Case& c, TimePoint now, std::string_view parent_id) {
  CaseView v;
  v.id = c.id;
  v.flow = c.flow().id;
  v.version = c.flow().version;
  v.status = c.status;
  if (c.step >= 0) {
    v.steps.push_back(c.current().name);
    v.role = c.current().role;
  }
  v.assignee = c.assignee;
  if (c.rt->priority_slot >= 0) v.priority = c.data[static_cast<std::size_t>(c.rt->priority_slot)].to_display();
  for (std::size_t i = 0; i < c.data.size(); ++i)
    if (!c.data[i].is_null()) v.data[c.flow().data[i].name] = c.data[i];
  v.started = c.started;
  v.entered = c.entered;
  v.outcome = c.outcome();
  v.incident = c.incident();
  v.parent = c.parent ? c.parent->id : !c.parent_id().empty() ? c.parent_id() : std::string(parent_id);
  v.children = c.children;
  // The step's deadline, then its stage's.
  const auto deadline = [&](const ClockState& k, std::string stage) {
    DeadlineView d;
    d.step = c.current().name;
    d.stage = std::move(stage);
    d.started = k.started;
    d.due = due_instant(k);
    d.overdue = now >= d.due;
    d.level = k.level;
    v.deadlines.push_back(std::move(d));
  };
  if (const auto& dk = c.clocks[c.deadline_clock()]; dk.active && dk.visit == c.visit) deadline(dk, {});
  if (c.has_stage_clock())
    if (const auto& sk = c.clocks[c.stage_clock()]; sk.active && sk.kind == ClockKind::stage)
      deadline(sk, c.flow().stages[static_cast<std::size_t>(sk.index)].name);
  for (std::size_t i = 0; i < c.flow().slas.size(); ++i) {
    const ClockState& k = c.clocks[i];
    SlaView s;
    s.name = c.flow().slas[i].name;
    s.elapsed = elapsed(k, now);
    s.remaining = k.total - s.elapsed;
    s.due = k.running ? due_instant(k) : TimePoint{};
    s.warned = k.warned;
    s.level = k.level;
    s.state = k.kind != ClockKind::sla ? SlaView::State::not_started
              : k.done      ? SlaView::State::breached
              : k.met     ? SlaView::State::met
              : !c.open() ? SlaView::State::stopped
              : k.running ? SlaView::State::running
                          : SlaView::State::paused;
    v.slas.push_back(s);
  }
  return v;
}

std::optional<int> query_rank(const Query& q, const Case& c, TimePoint now) {
  if (q.status && c.status != *q.status) return std::nullopt;
  if (!q.flow.empty() && c.flow().id != q.flow) return std::nullopt;
  if (c.step < 0) return std::nullopt;
  if (!q.step.empty() && c.current().name != q.step) return std::nullopt;
  if (!q.role.empty() && c.current().role != q.role) return std::nullopt;
  if (!q.assignee.empty() && c.assignee != q.assignee) return std::nullopt;
  const auto& dk = c.clocks[c.deadline_clock()];
  const bool has_deadline = dk.active && dk.visit == c.visit;
  if (q.overdue && (has_deadline && now >= due_instant(dk)) != *q.overdue) return std::nullopt;
  if (q.min_level > 0 && (!has_deadline || dk.level < q.min_level)) return std::nullopt;
  if (c.rt->priority_slot < 0) return 0;
  const auto slot = static_cast<std::size_t>(c.rt->priority_slot);
  return priority_rank(c.flow().data[slot], c.data[slot]);
}

void for_each_memory_record(const Core& m, std::string_view case_id, const std::function<void(const Record&)>& visit) {
  if (!case_id.empty()) {
    const Case* c = m.cases.find(case_id);
    if (!c) throw CaseError(fmt::format("unknown case '{}'", case_id));
    for (const auto& r : m.journal.case_records(c->journal_last)) visit(r);
    return;
  }
  for (std::uint32_t i = 0; i < m.journal.size(); ++i) visit(m.journal.at(i));
}

LoadedCase load_stored(Core& m, const StoredCase& sc) {
  std::vector<StoredFlow> unseen;  // versions read back from the store are in it already
  LoadedCase l = load_case(sc.state, [&](std::string_view id, std::int64_t version) -> FlowRt* {
    if (!version) return nullptr;
    if (FlowRt* rt = m.flows.find(id, version)) return rt;
    return m.flows.from_store(id, version, *m.store(), unseen);
  }, sc.id, sc.secret);
  // The store's numbers, not the text's: the next commit expects this revision.
  l.c->last_seq = sc.seq;
  l.c->revision = sc.revision;
  // Another engine may have written the case with a clock ahead of this one's: this engine's
  // time moves to at least the case's newest record (a Lamport clock), so what it does next,
  // to this case or another, does not come before it. A sole engine takes its time from its
  // own journal (recover()).
  if (m.shared()) m.high_water = std::max(m.high_water, l.c->last_at);
  return l;
}

std::vector<CaseView> run_query(Core& m, const Query& q, TimePoint now) {
  struct Hit {
    const Case* c;
    int prio;
    std::uint64_t order;  // ties: cases in memory in creation order, then closed ones in store order
    std::string_view parent;
  };
  std::vector<Hit> hits;
  // On a shared store every case is read from the store (memory holds only cases that running
  // calls are changing); otherwise open cases are in memory and closed ones left it.
  if (!m.shared())
    m.cases.for_each([&](const Case& c) {
      if (auto prio = query_rank(q, c, now)) hits.push_back({&c, *prio, c.serial, {}});
    });
  std::deque<LoadedCase> stored;
  const bool open_only = q.status && (*q.status == CaseStatus::active || *q.status == CaseStatus::incident);
  const bool closed_only = q.status && !open_only;
  if (m.shared())
    m.store()->for_each_case(open_only ? std::optional(true) : closed_only ? std::optional(false) : std::nullopt,
                             [&](const StoredCase& sc) {
      LoadedCase l = load_stored(m, sc);
      if (auto prio = query_rank(q, *l.c, now)) {
        stored.push_back(std::move(l));
        hits.push_back({stored.back().c.get(), *prio, stored.size(), stored.back().parent});
      }
    });
  else if (m.store() && !open_only)
    m.store()->for_each_case(false, [&](const StoredCase& sc) {
      if (m.cases.contains(sc.id)) return;
      LoadedCase l = load_stored(m, sc);
      if (auto prio = query_rank(q, *l.c, now)) {
        stored.push_back(std::move(l));
        hits.push_back({stored.back().c.get(), *prio, std::numeric_limits<std::uint64_t>::max() / 2 + stored.size(), stored.back().parent});
      }
    });
  std::sort(hits.begin(), hits.end(), [](const Hit& a, const Hit& b) {
    if (a.prio != b.prio) return a.prio > b.prio;
    if (a.c->entered != b.c->entered) return a.c->entered < b.c->entered;
    return a.order < b.order;
  });
  if (q.limit && hits.size() > q.limit) hits.resize(q.limit);
  std::vector<CaseView> out;
  out.reserve(hits.size());
  for (const auto& h : hits) out.push_back(view_of(*h.c, now, h.parent));
  return out;
}

}  // namespace escalon::detail

namespace escalon {

// Names of the public enums, and what CaseView works out from its deadlines.
std::string_view case_status_name(CaseStatus s) noexcept {
  switch (s) {
    case CaseStatus::active:
      return "active";
    case CaseStatus::completed:
      return "completed";
    case CaseStatus::cancelled:
      return "cancelled";
    case CaseStatus::incident:
      return "incident";
  }
  return "?";
}

std::string_view refusal_name(Refusal r) noexcept {
  switch (r) {
    case Refusal::unknown_flow: return "unknown_flow";
    case Refusal::unknown_case: return "unknown_case";
    case Refusal::duplicate_id: return "duplicate_id";
    case Refusal::closed: return "closed";
    case Refusal::incident: return "incident";
    case Refusal::not_handled: return "not_handled";
    case Refusal::guard_refused: return "guard_refused";
    case Refusal::bad_data: return "bad_data";
    case Refusal::wrong_state: return "wrong_state";
    case Refusal::bad_request: return "bad_request";
    case Refusal::key_reused: return "key_reused";
    case Refusal::not_permitted: return "not_permitted";
  }
  return "?";
}

std::string_view sla_state_name(SlaView::State s) noexcept {
  switch (s) {
    case SlaView::State::running:
      return "running";
    case SlaView::State::paused:
      return "paused";
    case SlaView::State::met:
      return "met";
    case SlaView::State::breached:
      return "breached";
    case SlaView::State::not_started:
      return "not-started";
    case SlaView::State::stopped:
      return "stopped";
  }
  return "?";
}

bool CaseView::overdue() const noexcept {
  return std::any_of(deadlines.begin(), deadlines.end(), [](const DeadlineView& d) { return d.overdue; });
}

std::int32_t CaseView::level() const noexcept {
  std::int32_t l = 0;
  for (const auto& d : deadlines) l = std::max(l, d.level);
  return l;
}

}  // namespace escalon
