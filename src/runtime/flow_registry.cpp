// Loaded flow versions, and the versions the store keeps: every version cases may run on.

#include <algorithm>
#include <filesystem>

#include <fmt/format.h>

#include "escalon/loader.hpp"
#include "runtime/core.hpp"

namespace escalon::detail {

bool reads_case(const Flow& f) {
  // Every expression of the flow is scanned: one missed place would read null silently.
  bool found = false;
  auto scan = [&](const Expression& e) { found = found || e.text().find("case") != std::string::npos; };
  auto scan_all = [&](const std::vector<Assignment>& v) {
    for (const auto& a : v) scan(a.value);
  };
  auto scan_ladder = [&](const std::vector<Escalation>& ladder) {
    for (const auto& e : ladder) scan_all(e.set);
  };
  for (const auto& s : f.steps) {
    scan(s.assign);
    for (const auto* list : {&s.on, &s.branches})
      for (const auto& t : *list) {
        scan(t.when);
        scan_all(t.set);
      }
    scan_all(s.with);
    scan_all(s.input);  // `output:` runs over the child's data, which always gets case.*
    for (const auto* hooks : {&s.on_enter, &s.on_exit})
      for (const auto& h : *hooks) scan_all(h.with);
    if (s.deadline) {
      scan(s.deadline->at);
      scan_ladder(s.deadline->escalate);
    }
    scan(s.wait_until);
  }
  for (const auto& sla : f.slas) scan_ladder(sla.escalate);
  for (const auto& table : f.rules) {
    for (const auto& col : table.inputs) scan(col.input);
    for (const auto& row : table.rows) {
      for (const auto& e : row.tests) scan(e);
      for (const auto& e : row.outputs) scan(e);
    }
  }
  return found;
}

std::optional<StoredFlow> FlowRegistry::add(FlowPtr f, Store* store) {
  for (const auto& rt : flows_)
    if (rt->flow->id == f->id && rt->flow->version == f->version) {
      if (rt->flow->content_hash == f->content_hash) return std::nullopt;
      throw Error(fmt::format("flow '{}' version {} is already loaded with other content; give the changed flow a "
                              "new version",
                              f->id, f->version),
                  f->where);
    }
  auto rt = std::make_unique<FlowRt>();
  rt->flow = f;
  for (const auto& [name, spec] : f->calendars) rt->calendars.emplace(name, std::make_unique<Calendar>(spec));
  rt->default_cal = rt->calendar(f->calendar);
  for (std::size_t i = 0; i < f->data.size(); ++i)
    if (f->data[i].name == "priority") rt->priority_slot = static_cast<std::int32_t>(i);
  // `pause_in:`, `stop_in:` and `start_in:` name steps or stages (all the stage's steps).
  const auto mark = [&](std::vector<char>& v, const std::string& name) {
    if (const auto i = f->step_index(name); i >= 0) v[static_cast<std::size_t>(i)] = 1;
    else if (const Stage* st = f->find_stage(name))
      for (auto j : st->step_index) v[static_cast<std::size_t>(j)] = 1;
  };
  for (const auto& sla : f->slas) {
    std::vector<char> pause(f->steps.size(), 0), stop(f->steps.size(), 0), start;
    for (const auto& p : sla.pause_in) mark(pause, p);
    for (const auto& p : sla.stop_in) mark(stop, p);
    if (!sla.start_in.empty()) {
      start.assign(f->steps.size(), 0);
      mark(start, sla.start_in);
    }
    rt->sla_start.push_back(std::move(start));
    if (sla.stop_in.empty())
      for (std::size_t i = 0; i < f->steps.size(); ++i) stop[i] = f->steps[i].kind == StepKind::end;
    rt->sla_pause.push_back(std::move(pause));
    rt->sla_stop.push_back(std::move(stop));
  }
  rt->uses_case = reads_case(*f);
  const bool stage_deadlines = std::any_of(f->stages.begin(), f->stages.end(), [](const Stage& s) { return s.deadline.has_value(); });
  rt->clock_count = f->slas.size() + 2 + (stage_deadlines ? 1 : 0);
  flows_.push_back(std::move(rt));
  if (!store) return std::nullopt;
  auto& kept = stored(*store);
  if (kept.contains({f->id, f->version})) return std::nullopt;
  StoredFlow sf{f->id, f->version, f->content_hash, f->file, f->source};
  kept.emplace(std::pair{f->id, f->version}, sf);
  return sf;
}

FlowRt* FlowRegistry::find(std::string_view id, std::int64_t version) const {
  FlowRt* best = nullptr;
  for (const auto& rt : flows_) {
    if (rt->flow->id != id) continue;
    if (version ? rt->flow->version == version : (!best || rt->flow->version > best->flow->version)) best = rt.get();
  }
  return best;
}

std::vector<std::string> FlowRegistry::ids() const {
  std::vector<std::string> out;
  for (const auto& f : flows_) out.push_back(f->flow->id);
  return out;
}

std::map<std::pair<std::string, std::int64_t>, StoredFlow>& FlowRegistry::stored(Store& store) {
  if (!stored_) {
    stored_.emplace();
    for (auto& sf : store.flows()) stored_->emplace(std::pair{sf.id, sf.version}, std::move(sf));
  }
  return *stored_;
}

// A file whose content differs from the stored version of the same number would silently
// change running cases.
std::optional<Diagnostic> FlowRegistry::stored_conflict(const Flow& f, Store& store) {
  const auto& kept = stored(store);
  auto it = kept.find({f.id, f.version});
  if (it == kept.end() || f.matches_hash(it->second.hash)) return std::nullopt;  // older stores: FNV-1a
  // A hash of neither form was not written by Escalon: the store is damaged, not the file changed.
  const std::string& h = it->second.hash;
  const auto hex = [](std::string_view x) {
    return std::all_of(x.begin(), x.end(), [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
  };
  if (!((h.size() == 7 + 64 && h.starts_with("sha256:") && hex(h.substr(7))) || (h.size() == 16 && hex(h))))
    throw StoreError(fmt::format("the store is damaged: flow '{}' version {} is stored with hash '{}', which is not a "
                                 "content hash (sha256:<64 hex digits>); restore the store from a backup",
                                 f.id, f.version, h.size() > 80 ? h.substr(0, 80) + "..." : h));
  std::int64_t newest = f.version;
  for (const auto& [key, sf] : kept)
    if (key.first == f.id) newest = std::max(newest, key.second);
  return Diagnostic{Severity::error, f.where,
                    fmt::format("flow '{}' version {} is already in the store with other content (stored from {}, hash "
                                "{}; this file has hash {}); cases may be running on it: give the changed flow "
                                "`version: {}`, then migrate open cases (Engine::migrate) if they should move",
                                f.id, f.version, it->second.file, it->second.hash, f.content_hash, newest + 1)};
}

// The file moved on to a newer version: the stored text of the old one is loaded again, so its
// open cases carry on where they were.
FlowRt* FlowRegistry::from_store(std::string_view id, std::int64_t version, Store& store,
                                 std::vector<StoredFlow>& unseen) {
  auto it = stored(store).find({std::string(id), version});
  if (it == stored_->end() && store.shared()) {
    stored_.reset();  // another engine may have stored that version since this one read them
    it = stored(store).find({std::string(id), version});
  }
  if (it == stored_->end()) return nullptr;
  const StoredFlow& sf = it->second;
  // validate_text names the text base_dir/name: the file's own name, in its folder (the whole
  // stored path as the name would put a relative one in its folder twice, and lose its includes).
  const std::filesystem::path file(sf.file);
  const auto dir = file.parent_path().string();
  const auto res = validate_text(sf.source, file.filename().string(), dir.empty() ? "." : dir);
  // The text's own flow: a sub-flow it names is read from the file beside it and comes too.
  const auto own = std::find_if(res.flows.begin(), res.flows.end(),
                                [&](const FlowPtr& f) { return f->id == id && f->version == version; });
  if (!res.ok() || own == res.flows.end()) {
    const std::string why = res.diagnostics.empty() ? "no flow in it" : res.diagnostics.front().str();
    throw StoreError(fmt::format("flow '{}' version {} as kept in the store does not load any more: {}; restore the "
                                 "files it includes, or load that version from a file",
                                 id, version, why));
  }
  if (!(*own)->matches_hash(sf.hash))
    throw StoreError(fmt::format("flow '{}' version {} as kept in the store no longer matches its hash: a file it "
                                 "includes ({}) changed since; restore it, or load that version from a file",
                                 id, version, fmt::join((*own)->includes, ", ")));
  if (auto sf2 = add(*own, &store)) unseen.push_back(std::move(*sf2));
  return find(id, version);
}

}  // namespace escalon::detail
