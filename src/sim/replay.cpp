// Replay (escalon simulate --replay): a real store's case starts as the simulation's arrivals.
#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <set>

#include "escalon/store.hpp"
#include "sim/model.hpp"

namespace escalon::detail {

// The top-level case starts of a real store in [from, to), oldest first. Sub-flow cases and
// branches (ids PARENT/NAME) are left out: their parents start them again. Start data is kept
// for the fields the loaded flow declares, except personal ones.
std::vector<Replayed> read_replay(Store& store, std::span<const FlowPtr> flows, std::optional<TimePoint> from,
                                  std::optional<TimePoint> to) {
  std::map<std::string, const Flow*> latest;
  for (const auto& f : flows)
    if (!latest.count(f->id) || latest[f->id]->version < f->version) latest[f->id] = f.get();
  std::vector<Replayed> out;
  std::set<std::string> missing;
  store.for_each_record([&](const Record& r) {
    if (r.type != RecordType::started || r.case_id.find('/') != std::string::npos) return;
    if ((from && r.at < *from) || (to && r.at >= *to)) return;
    const auto f = latest.find(r.target);
    if (f == latest.end()) {
      missing.insert(r.target);
      return;
    }
    Replayed a{.at = r.at, .id = r.case_id, .flow = r.target, .channel = r.channel, .actor = r.actor, .data = {}};
    if (r.data.kind() == Value::Kind::map)
      for (const auto& [name, v] : r.data.as_map()) {
        const DataField* d = f->second->find_field(name);
        if (d && !d->pii && std::find(r.personal.begin(), r.personal.end(), name) == r.personal.end()) a.data.emplace(name, v);
      }
    out.push_back(std::move(a));
  });
  if (!missing.empty())
    throw Error(fmt::format("the replayed store has cases of flow{} {}, which {} not loaded; load {} flows too",
                            missing.size() > 1 ? "s" : "", fmt::join(missing, ", "), missing.size() > 1 ? "are" : "is",
                            missing.size() > 1 ? "their" : "its"));
  if (out.empty())
    throw Error(fmt::format("the replayed store has no case started{}{}; nothing to replay",
                            from ? " from " + format_iso8601(*from) : "", to ? " before " + format_iso8601(*to) : ""));
  std::stable_sort(out.begin(), out.end(), [](const Replayed& a, const Replayed& b) { return a.at < b.at; });
  return out;
}

}  // namespace escalon::detail
