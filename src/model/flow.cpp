#include "escalon/flow.hpp"

namespace escalon {

std::string_view step_kind_name(StepKind k) noexcept {
  switch (k) {
    case StepKind::task: return "task";
    case StepKind::action: return "action";
    case StepKind::decision: return "decision";
    case StepKind::wait: return "wait";
    case StepKind::subflow: return "subflow";
    case StepKind::parallel: return "parallel";
    case StepKind::join: return "join";
    case StepKind::end: return "end";
  }
  return "?";
}

const Step* Flow::find_step(std::string_view name) const noexcept {
  auto i = step_index(name);
  return i < 0 ? nullptr : &steps[static_cast<std::size_t>(i)];
}

std::int32_t Flow::step_index(std::string_view name) const noexcept {
  for (std::size_t i = 0; i < steps.size(); ++i)
    if (steps[i].name == name) return static_cast<std::int32_t>(i);
  return -1;
}

const DataField* Flow::find_field(std::string_view name) const noexcept {
  for (const auto& f : data)
    if (f.name == name) return &f;
  return nullptr;
}

const Stage* Flow::find_stage(std::string_view name) const noexcept {
  for (const auto& s : stages)
    if (s.name == name) return &s;
  return nullptr;
}

const Stage* Flow::stage_of(std::int32_t step_index) const noexcept {
  if (step_index < 0 || static_cast<std::size_t>(step_index) >= steps.size()) return nullptr;
  const std::int32_t st = steps[static_cast<std::size_t>(step_index)].stage;
  return st >= 0 && static_cast<std::size_t>(st) < stages.size() ? &stages[static_cast<std::size_t>(st)] : nullptr;
}

const RuleTable* Flow::find_rule(std::string_view name) const noexcept {
  for (const auto& r : rules)
    if (r.name == name) return &r;
  return nullptr;
}

bool Flow::matches_hash(std::string_view stored) const noexcept {
  if (stored.starts_with("sha256:")) return stored == content_hash;
  return !legacy_hash.empty() && stored == legacy_hash;
}

}  // namespace escalon
