#pragma once
/// @file scenario.hpp
/// Scenarios: a scripted day (or week) of cases and events on a virtual clock, for trying a
/// flow, for regression tests and for `escalon run`.
///
/// @code{.yaml}
///   clock: 2026-11-23T08:00:00Z
///   cases:
///     - { id: c1, flow: technician-visit, data: { customer: ACME, parts_needed: true } }
///   events:
///     - { at: 2026-11-23T08:05:00Z, case: c1, send: submit, actor: agent-17, roles: [front-office], channel: phone }
///     - { at: 2026-11-24T10:00:00Z, case: c1, send: parts-arrived }
///   until: 2026-11-30T00:00:00Z
/// @endcode
/// docs/scenarios.md describes every key.

#include <optional>
#include <span>
#include <string>
#include <vector>

#include "escalon/error.hpp"
#include "escalon/flow.hpp"
#include "escalon/journal.hpp"
#include "escalon/store.hpp"
#include "escalon/value.hpp"

namespace escalon {

struct ScenarioCase {
  std::string id;
  std::string flow;
  Map data;
  std::optional<TimePoint> at;   ///< when it starts (default: the scenario's clock)
  std::string actor, channel;
  std::optional<std::vector<std::string>> roles;  ///< the actor's roles (StartOptions::roles)
  SourceLocation where;
};

struct ScenarioStep {
  enum class Kind { send, update, cancel, retry, resolve };
  Kind kind = Kind::send;
  TimePoint at{};
  std::string case_id;
  std::string event;             ///< send: the event; resolve: the step to go to (optional)
  Map data;                      ///< send: payload; update/resolve: data
  std::string reason;            ///< cancel
  std::string actor, channel;
  std::optional<std::vector<std::string>> roles;  ///< the actor's roles (EventOptions::roles)
  /// Its idempotency key (EventOptions::key): `id:` in the file, else made of its time, a hash
  /// of what it does, and a count of equal events of the case at that time.
  std::string key;
  SourceLocation where;
};

struct Scenario {
  std::string file;
  TimePoint clock{};
  std::vector<ScenarioCase> cases;
  std::vector<ScenarioStep> events;
  TimePoint until{};
};

/// Reads a scenario file; throws FlowError with every problem (file:line:col).
[[nodiscard]] Scenario load_scenario(const std::string& path);

struct ScenarioCaseResult {
  std::string id, flow, status, step, outcome, incident;
  std::size_t records = 0;
  std::vector<std::pair<std::string, std::string>> slas;  ///< name, state
  std::int32_t level = 0;
};

struct ScenarioResult {
  std::vector<Record> journal;          ///< every record this run wrote, in order
  std::vector<std::string> refused;     ///< calls the engine refused ("file:line: message")
  std::vector<std::string> skipped;     ///< with a store: what an earlier run already did
  std::vector<ScenarioCaseResult> cases;
};

/// Runs a scenario on a fresh engine with a manual clock: cases start and events are sent in
/// time order (ties: file order), deadlines fire in between, and the clock ends at `until`.
/// Refused events are recorded, reported in `refused`, and the run goes on.
/// With a store, the run continues what is stored: open cases are recovered, cases already
/// stored are not started again (listed in `skipped`), and every event is sent with its key
/// (ScenarioStep::key), so that an event an earlier run applied is not applied again, however
/// its time compares with the store's newest record.
[[nodiscard]] ScenarioResult run_scenario(const Scenario& scenario, std::span<const FlowPtr> flows, Store* store = nullptr);

}  // namespace escalon
