// Which zone a case's times are shown in (cli/zones.hpp).

#include "cli/zones.hpp"

#include <algorithm>
#include <charconv>
#include <filesystem>

#include "escalon/error.hpp"
#include "escalon/loader.hpp"

namespace escalon::cli {

const std::string& FlowZones::of_case(const std::vector<Record>& history) {
  static const std::string utc;
  // The `started` record names the flow, and its message starts with "version N" (a branch's
  // names no version: the newest stored one of its flow stands for it).
  if (history.empty() || history.front().type != RecordType::started) return utc;
  const Record& r = history.front();
  std::int64_t version = 0;
  if (r.message.starts_with("version ")) std::from_chars(r.message.data() + 8, r.message.data() + r.message.size(), version);
  return of_flow(r.target, version);
}

const std::string& FlowZones::of_flow(const std::string& flow, std::int64_t version) {
  auto [it, added] = zones_.try_emplace({flow, version});
  if (!added) return it->second;
  if (!stored_) {
    try {
      stored_ = store_.flows();
    } catch (const StoreError&) {  // a damaged store: its records may still be readable, in UTC
      stored_.emplace();
    }
  }
  // The newest stored version when the record names none.
  const StoredFlow* sf = nullptr;
  for (const auto& f : *stored_)
    if (f.id == flow && (f.version == version || (!version && (!sf || f.version > sf->version)))) sf = &f;
  if (!sf) return it->second;
  // validate_text() puts the name under base_dir: the file's own name, under its folder.
  const std::filesystem::path file(sf->file);
  const auto dir = file.parent_path().string();
  const auto res = validate_text(sf->source, file.filename().string(), dir.empty() ? "." : dir);
  for (const auto& f : res.flows)
    if (f->id == sf->id && f->version == sf->version && !f->calendar.empty())
      if (auto cal = f->calendars.find(f->calendar); cal != f->calendars.end()) it->second = cal->second.timezone;
  return it->second;
}

}  // namespace escalon::cli
