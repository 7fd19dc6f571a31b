#pragma once
// The keys a step may have and the step kinds each one applies to: the one table the loader reads
// steps with (allowed keys, kind markers, keys that do not fit the kind). docs/flow-format.md
// ("Keys of a step") and schemas/flow.schema.json describe the same keys; tests/unit/
// test_step_keys.cpp compares them with this table.

#include <array>
#include <cstdint>
#include <optional>
#include <string_view>

#include "escalon/flow.hpp"

namespace escalon::detail {

using StepKinds = std::uint16_t;  // one bit per StepKind

constexpr StepKinds kind_bit(StepKind k) noexcept { return static_cast<StepKinds>(1u << static_cast<unsigned>(k)); }
template <class... K>
constexpr StepKinds kinds_of(K... k) noexcept {
  return static_cast<StepKinds>((kind_bit(k) | ...));
}
constexpr StepKinds all_step_kinds = 0xff;
constexpr StepKind step_kinds[] = {StepKind::task, StepKind::action,   StepKind::decision, StepKind::wait,
                                   StepKind::subflow, StepKind::parallel, StepKind::join, StepKind::end};

/// Markers from this rank on make the step's kind only when no other marker is there.
constexpr std::uint8_t weak_marker = 8;

struct StepKey {
  std::string_view name;
  StepKinds kinds;
  /// Non-zero: the key makes the step of its (one) kind; markers are looked for in this order
  /// (it decides which two a "mixes" error names). `rule` is weak: `decide` goes with it.
  std::uint8_t marker = 0;
  /// Leads out of the step: an end step with it gets "cannot have outgoing transitions".
  bool outgoing = false;
};

/// Where a case waits for events: tasks, actions, waits and sub-flows.
constexpr StepKinds waiting_kinds = kinds_of(StepKind::task, StepKind::action, StepKind::wait, StepKind::subflow);

/// In the order "unknown key ... allowed here:" lists them.
inline constexpr std::array<StepKey, 26> step_keys{{
    {"title", all_step_kinds},
    {"description", all_step_kinds},
    {"kind", all_step_kinds},
    {"role", waiting_kinds | kind_bit(StepKind::end)},
    {"assign", waiting_kinds},
    {"guide", kinds_of(StepKind::task, StepKind::wait, StepKind::subflow)},
    {"form", kinds_of(StepKind::task)},
    {"form_for", kinds_of(StepKind::task)},
    {"on", waiting_kinds, 0, true},
    {"deadline", waiting_kinds | kind_bit(StepKind::join), 0, true},
    {"on_enter", all_step_kinds},
    {"on_exit", waiting_kinds | kind_bit(StepKind::join)},
    {"call", kinds_of(StepKind::action), 2},
    {"with", kinds_of(StepKind::action)},
    {"retry", kinds_of(StepKind::action)},
    {"on_error", kinds_of(StepKind::action)},
    {"decide", kinds_of(StepKind::decision), 3},
    {"rule", kinds_of(StepKind::decision), weak_marker},
    {"wait", kinds_of(StepKind::wait), 4},
    {"subflow", kinds_of(StepKind::subflow), 5},
    {"parallel", kinds_of(StepKind::parallel), 6},
    {"join", kinds_of(StepKind::join), 7},
    {"next", kinds_of(StepKind::action, StepKind::wait, StepKind::subflow, StepKind::join), 0, true},
    {"end", kinds_of(StepKind::end), 1},
    {"outcome", kinds_of(StepKind::end)},
    {"fail", kinds_of(StepKind::end)},
}};

/// The marker whose presence alone makes a step of kind `k` ("a wait step needs `wait`");
/// nullopt for a task, which has none.
constexpr std::optional<std::string_view> marker_of(StepKind k) noexcept {
  const StepKey* best = nullptr;
  for (const auto& key : step_keys)
    if (key.marker != 0 && (key.kinds & kind_bit(k)) && (!best || key.marker < best->marker)) best = &key;
  if (!best) return std::nullopt;
  return best->name;
}

/// The kind a marker key makes (its only kind).
constexpr StepKind marked_kind(const StepKey& key) noexcept {
  for (StepKind k : step_kinds)
    if (key.kinds & kind_bit(k)) return k;
  return StepKind::task;
}

}  // namespace escalon::detail
