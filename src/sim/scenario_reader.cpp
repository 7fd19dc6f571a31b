// Scenario files (YAML): the only other reader of yaml-cpp besides the flow loader.

#include "escalon/scenario.hpp"

#include <fmt/format.h>

#include <charconv>
#include <map>
#include <set>

#include "base/hash.hpp"
#include "loader/yaml_reader.hpp"

namespace escalon {
namespace {

using detail::MapReader;
using detail::Reporter;
using detail::Source;

Map to_map(Reporter& rep, const Source& src, const YAML::Node& n, std::string_view what) {
  if (!n.IsMap()) {
    rep.error(detail::location(src, n), fmt::format("{} must be a map of name: value", what));
    return {};
  }
  auto v = detail::untyped_value(rep, src, n);
  return v ? v->as_map() : Map{};
}

// `roles: [front-office]`: the caller's roles, checked by the engine (docs/security.md).
std::vector<std::string> roles(Reporter& rep, const Source& src, const YAML::Node& n) {
  std::vector<std::string> out;
  for (auto& [r, node] : detail::read_string_list(rep, src, n, "`roles`")) out.push_back(r);
  return out;
}

std::optional<TimePoint> instant(Reporter& rep, const Source& src, const YAML::Node& n, std::string_view what) {
  auto s = detail::read_string(rep, src, n, what);
  if (!s) return std::nullopt;
  auto t = parse_iso8601(*s);
  if (!t) rep.error(detail::location(src, n), fmt::format("{} '{}' is not an instant; write e.g. 2026-11-23T08:05:00Z", what, *s));
  return t;
}

// One entry of `cases:`; its id goes into `ids`.
std::optional<ScenarioCase> read_case(Reporter& rep, const Source& src, const YAML::Node& n, std::set<std::string>& ids,
                                      TimePoint clock) {
  MapReader m(rep, src, n, "a case", {"id", "flow", "data", "at", "actor", "roles", "channel"});
  if (!m.ok()) return std::nullopt;
  ScenarioCase c;
  c.where = m.where();
  if (auto v = m.get("id")) c.id = detail::read_string(rep, src, *v, "`id`").value_or("");
  if (auto v = m.get("flow")) c.flow = detail::read_string(rep, src, *v, "`flow`").value_or("");
  else rep.error(m.where(), "a case needs `flow: FLOW-ID`");
  if (c.id.empty()) rep.error(m.where(), "a case needs `id:`; events name it");
  else if (!ids.insert(c.id).second) rep.error(m.where(), fmt::format("case id '{}' is used twice", c.id));
  if (auto v = m.get("data")) c.data = to_map(rep, src, *v, "`data`");
  if (auto v = m.get("at")) {
    c.at = instant(rep, src, *v, "`at`");
    // As for events: starting it at the clock instead would run a different scenario silently.
    if (c.at && *c.at < clock) rep.error(c.where, "this case starts before the scenario's `clock`");
  }
  if (auto v = m.get("actor")) c.actor = detail::read_string(rep, src, *v, "`actor`").value_or("");
  if (auto v = m.get("roles")) c.roles = roles(rep, src, *v);
  if (auto v = m.get("channel")) c.channel = detail::read_string(rep, src, *v, "`channel`").value_or("");
  return c;
}

// One entry of `events:`; `clock` is the scenario's start.
std::optional<ScenarioStep> read_event(Reporter& rep, const Source& src, const YAML::Node& n, const std::set<std::string>& ids,
                                       TimePoint clock) {
  MapReader m(rep, src, n, "an event",
              {"at", "case", "send", "data", "actor", "roles", "channel", "update", "cancel", "retry", "resolve", "to", "id"});
  if (!m.ok()) return std::nullopt;
  ScenarioStep e;
  e.where = m.where();
  bool timed = false;
  if (auto v = m.get("at")) {
    auto t = instant(rep, src, *v, "`at`");
    timed = t.has_value();
    e.at = t.value_or(clock);
  } else {
    rep.error(m.where(), "an event needs `at:` (when it happens)");
  }
  if (auto v = m.get("case")) {
    e.case_id = detail::read_string(rep, src, *v, "`case`").value_or("");
    if (!ids.count(e.case_id))
      rep.error(detail::location(src, *v), fmt::format("unknown case '{}'; list it under `cases:`", e.case_id));
  } else {
    rep.error(m.where(), "an event needs `case: ID`");
  }
  const int kinds = int(m.has("send")) + int(m.has("update")) + int(m.has("cancel")) + int(m.has("retry")) +
                    int(m.has("resolve"));
  if (kinds != 1) {
    rep.error(m.where(), "an event does one thing: `send: EVENT`, `update: {...}`, `cancel: REASON`, "
                         "`retry: true` or `resolve: {...}`");
    return std::nullopt;
  }
  if (auto v = m.get("send")) {
    e.kind = ScenarioStep::Kind::send;
    e.event = detail::read_string(rep, src, *v, "`send`").value_or("");
    if (auto d = m.get("data")) e.data = to_map(rep, src, *d, "`data`");
  } else if (auto v = m.get("update")) {
    e.kind = ScenarioStep::Kind::update;
    e.data = to_map(rep, src, *v, "`update`");
  } else if (auto v = m.get("cancel")) {
    e.kind = ScenarioStep::Kind::cancel;
    e.reason = v->IsScalar() ? v->Scalar() : "";
  } else if (m.has("retry")) {
    e.kind = ScenarioStep::Kind::retry;
  } else if (auto v = m.get("resolve")) {
    e.kind = ScenarioStep::Kind::resolve;
    if (!v->IsNull()) e.data = to_map(rep, src, *v, "`resolve`");
    if (auto t = m.get("to")) e.event = detail::read_string(rep, src, *t, "`to`").value_or("");
  }
  if (m.has("data") && e.kind != ScenarioStep::Kind::send)
    rep.error(detail::location(src, *m.get("data")), "`data` goes with `send`");
  if (auto v = m.get("actor")) e.actor = detail::read_string(rep, src, *v, "`actor`").value_or("");
  if (auto v = m.get("roles")) e.roles = roles(rep, src, *v);
  if (auto v = m.get("channel")) e.channel = detail::read_string(rep, src, *v, "`channel`").value_or("");
  if (auto v = m.get("id")) {
    e.key = detail::read_string(rep, src, *v, "`id`").value_or("");
    if (e.key.empty() || e.key.size() > 200)
      rep.error(detail::location(src, *v), "an event's `id` is its idempotency key: 1 to 200 characters");
  }
  if (timed && e.at < clock) rep.error(e.where, "this event is before the scenario's `clock`");
  return e;
}

// Every event gets an idempotency key, so that a run continued on a store after a crash applies
// each event exactly once: its `id:`, or what it does and when ("<at>#<hash of kind, event,
// data, reason, actor, channel>#<n>", n counting equal events of the case at that time). Not
// its position: a later file that repeats yesterday's events with new ones added (or a renamed
// file) must find the ones already applied.
void key_events(Reporter& rep, std::vector<ScenarioStep>& events) {
  std::map<std::string, SourceLocation> seen;
  std::map<std::pair<std::string, std::string>, int> equal;  // (case, key without n) -> events so far
  for (auto& e : events) {
    if (e.key.empty()) {
      detail::StableHash h;
      h.word(static_cast<std::uint64_t>(e.kind));
      h.text(e.event);
      h.map(e.data);
      h.text(e.reason);
      h.text(e.actor);
      h.text(e.channel);
      const std::string what = fmt::format("{}#{:016x}", format_iso8601(e.at), h.h);
      e.key = fmt::format("{}#{}", what, ++equal[{e.case_id, what}]);
      continue;
    }
    auto [it, fresh] = seen.emplace(e.key, e.where);
    if (!fresh)
      rep.error(e.where, fmt::format("event id '{}' is used twice (also at line {}); ids must be unique", e.key,
                                     it->second.line));
  }
}

}  // namespace

Scenario load_scenario(const std::string& path) {
  std::vector<Diagnostic> diags;
  LoadOptions opts;
  Reporter rep(diags, opts);
  const Source src = detail::read_source(path, "cannot read the scenario file", opts);
  Scenario sc;
  sc.file = path;
  auto root = detail::parse_yaml(rep, src);
  if (root) {
    MapReader top(rep, src, *root, "the scenario", {"clock", "cases", "events", "until", "description"});
    if (top.ok()) {
      if (auto c = top.get("clock")) sc.clock = instant(rep, src, *c, "`clock`").value_or(TimePoint{});
      else rep.error({path, 1, 1}, "missing `clock`: when the scenario starts, e.g. clock: 2026-11-23T08:00:00Z");
      sc.until = sc.clock;
      std::set<std::string> ids;
      if (auto cs = top.get("cases")) {
        if (!cs->IsSequence()) rep.error(detail::location(src, *cs), "`cases` must be a list");
        else
          for (const auto& n : *cs)
            if (!rep.count(src, n)) break;
            else if (auto c = read_case(rep, src, n, ids, sc.clock)) sc.cases.push_back(std::move(*c));
      }
      if (auto es = top.get("events")) {
        if (!es->IsSequence()) rep.error(detail::location(src, *es), "`events` must be a list");
        else
          for (const auto& n : *es)
            if (!rep.count(src, n)) break;
            else if (auto e = read_event(rep, src, n, ids, sc.clock)) sc.events.push_back(std::move(*e));
        key_events(rep, sc.events);
      }
      if (auto u = top.get("until")) {
        sc.until = instant(rep, src, *u, "`until`").value_or(sc.clock);
        if (sc.until < sc.clock) rep.error(detail::location(src, *u), "`until` is before `clock`");
      } else {
        for (const auto& e : sc.events) sc.until = std::max(sc.until, e.at);
      }
    }
  }
  bool errors = std::any_of(diags.begin(), diags.end(), [](const Diagnostic& d) { return d.severity == Severity::error; });
  if (errors) throw FlowError(std::move(diags));
  return sc;
}

}  // namespace escalon
