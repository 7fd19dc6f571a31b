#pragma once
/// @file report.hpp
/// The KPIs a supervisor watches, computed from the journal alone (so any store can give them).

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "escalon/journal.hpp"
#include "escalon/store.hpp"

namespace escalon {

struct Report {
  TimePoint from{}, to{};          ///< first record, and the report's "now"
  std::size_t records = 0;
  std::size_t opened = 0;          ///< top-level cases started (sub-flows and branches not counted)
  std::size_t completed = 0, cancelled = 0, open = 0, incidents = 0;
  std::size_t fcr_completed = 0;   ///< completed top-level cases...
  std::size_t fcr = 0;             ///< ...that never went to another team or person (first-contact resolution)
  std::size_t deadlines_ended = 0, deadlines_met = 0;  ///< step deadlines whose step was left, and in time
  std::map<std::int32_t, std::size_t> escalations;     ///< first firings per level
  std::size_t escalation_repeats = 0;
  struct Sla {
    std::size_t met = 0, breached = 0, warnings = 0;
  };
  std::map<std::string, Sla> slas;
  struct StepTime {
    std::size_t visits = 0;
    Duration mean{0}, p50{0}, p90{0};
  };
  std::map<std::string, StepTime> steps;  ///< "flow/step" -> time spent per visit
  struct Queue {
    std::size_t backlog = 0, overdue = 0;
  };
  std::map<std::string, Queue> queues;    ///< current assignee (role or user:NAME) of open cases
};

/// Computes the report over every record of `store`; `now` decides what is overdue (default:
/// the newest record's time).
[[nodiscard]] Report make_report(Store& store, std::optional<TimePoint> now = std::nullopt);

[[nodiscard]] std::string report_text(const Report& r);
[[nodiscard]] std::string report_json(const Report& r);
/// One row per figure: metric,group,value (durations in seconds).
[[nodiscard]] std::string report_csv(const Report& r);

}  // namespace escalon
