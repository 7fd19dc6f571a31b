#pragma once
/// @file journal.hpp
/// The audit journal: every change to a case is one typed record. It is the case's history
/// (ticket history), the source of KPIs, and what a store persists. Records are numbered in the
/// order they happened; the same flows, inputs and clock give the same records, byte for byte.

#include <cstdint>
#include <string>
#include <vector>
#include <string_view>

#include "escalon/time.hpp"
#include "escalon/value.hpp"

namespace escalon {

enum class RecordType : std::uint8_t {
  started,        ///< a case began (data: the start data after defaults)
  entered,        ///< the case entered `step`
  left,           ///< the case left `step`
  event,          ///< an event was applied (event, actor, channel, data: payload)
  rejected,       ///< an event or call was refused; the case is unchanged (message says why)
  data_changed,   ///< field `target` changed from old_value to new_value
  assigned,       ///< the work went to `target` (a role or user:NAME)
  deadline_set,   ///< a step deadline was set or rescheduled (due = `due`); `target` names an SLA, or a
                  ///< stage's deadline as "stage:NAME"
  escalated,      ///< ladder level `level` fired (repeat = `repeat`); `target` = who was notified
  expired,        ///< a deadline fell due and moved the case (or an SLA ran out: see sla_breached)
  sla_warning,    ///< SLA `target` reached its warning share
  sla_breached,   ///< SLA `target` ran out (once)
  sla_met,        ///< SLA `target` was met
  paused,         ///< SLA `target` stopped counting
  resumed,        ///< SLA `target` counts again; due = when it runs out now
  action_failed,  ///< a host action failed (attempt `repeat`, message)
  incident,       ///< the case needs a person: an action failed for good, no branch matched...
  resolved,       ///< an incident was resolved or retried by a person
  completed,      ///< the case reached an end step (target = outcome)
  cancelled,      ///< the case was cancelled (message = reason)
  migrated,       ///< the case moved to another flow version (data: from, to, step; message says what changed)
  stage_entered,  ///< the case entered stage `target` (just before `entered` of its first step there)
  stage_left,     ///< the case left stage `target` (just after `left` of its last step there)
  delivered,      ///< a notification reached channel `target` (attempt `repeat`; event = its reason;
                  ///< data: {"key": its Notification::key})
  delivery_failed,  ///< channel `target` failed (attempt `repeat`, message = why); due = the next
                    ///< attempt, or data.dead = true when it was dead-lettered
  erased,         ///< the case's personal data was erased (actor = who, message = why; Engine::erase)
};

/// kebab-case name: "data-changed", "sla-breached"...
[[nodiscard]] std::string_view record_type_name(RecordType t) noexcept;

struct Record {
  std::uint64_t seq = 0;     ///< 1, 2, 3... across the engine
  TimePoint at{};
  std::string case_id;
  RecordType type = RecordType::started;
  std::string step;
  std::string event;
  std::string actor;
  std::string channel;
  std::string target;        ///< role, person, field, SLA or outcome, by type
  std::int32_t level = 0;    ///< escalation level (1-based)
  std::int32_t repeat = 0;   ///< repeat number of a level (0 = first firing); attempt of an action
  TimePoint due{};           ///< deadline_set, resumed: the due time
  Value old_value, new_value, data;
  std::string message;
  /// The personal-data fields (`pii: true`) whose values this record holds: a data-changed
  /// record's field, the keys of `data` (start data, an event's payload). Kept with the record.
  std::vector<std::string> personal;

  /// This record with the values of `personal` fields replaced by "***": what outputs show
  /// unless personal data is asked for (docs/security.md).
  [[nodiscard]] Record redacted() const;

  /// One JSON object on one line: {"seq":..,"at":"2026-11-23T08:00:00Z","case":..,"type":..,...};
  /// fields that do not apply are left out.
  [[nodiscard]] std::string to_json() const;
  /// Reads to_json() text back (values come back untyped: datetimes as ISO text). Throws
  /// escalon::Error for text that is not a record.
  [[nodiscard]] static Record from_json(std::string_view text);
};

}  // namespace escalon
