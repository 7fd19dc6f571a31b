#pragma once
/// @file report.hpp
/// The KPIs a supervisor watches, computed from the journal (so any store can give them), with
/// the flow versions the store keeps for what the journal does not say (which end steps are
/// `fail: true`, which SLAs a flow has, its calendar's zone). Every figure is defined, with its
/// numerator, denominator and what is left out, in docs/flow-format.md, "KPI definitions".

#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "escalon/journal.hpp"
#include "escalon/store.hpp"

namespace escalon {

struct Report {
  TimePoint from{}, to{};          ///< first record, and the report's "now"
  std::size_t records = 0;
  std::size_t opened = 0;          ///< top-level cases started (sub-flows and branches not counted)
  std::size_t completed = 0, cancelled = 0, open = 0;  ///< top-level cases
  std::size_t incidents = 0;       ///< open cases in an incident, sub-flow cases and branches included
  /// First-contact resolution: completed top-level cases that ended resolved (at an end step
  /// without `fail: true`)...
  std::size_t fcr_completed = 0;
  std::size_t fcr = 0;             ///< ...whose work never went to another team or person
  std::size_t fcr_failed = 0;      ///< completed top-level cases left out: they ended at a `fail: true` end step
  /// Step deadlines decided: the step was left, or the case was cancelled in the step after the
  /// due time; met: left before the due time, without its `expire:`.
  std::size_t deadlines_ended = 0, deadlines_met = 0;
  std::map<std::int32_t, std::size_t> escalations;     ///< first firings per level
  std::size_t escalation_repeats = 0;
  /// Notification deliveries per channel (docs/delivery.md): delivered entries, failed
  /// attempts, and entries dead-lettered (after their last attempt, or a permanent failure).
  struct Deliveries {
    std::size_t delivered = 0, failed_attempts = 0, dead_letters = 0;
  };
  std::map<std::string, Deliveries> deliveries;
  struct Sla {
    std::size_t met = 0, breached = 0, warnings = 0;
    std::size_t stopped = 0;         ///< the case closed while the SLA counted, neither met nor breached
    std::size_t not_applicable = 0;  ///< the case closed and the SLA never counted (a team clock whose team never had it)
    std::size_t open = 0;            ///< open cases, neither met nor breached yet
  };
  std::map<std::string, Sla> slas;  ///< per SLA name, over every flow that has it
  struct StepTime {
    std::size_t visits = 0;
    Duration mean{0}, p50{0}, p90{0};
  };
  std::map<std::string, StepTime> steps;  ///< "flow/step" -> time spent per visit
  /// "flow/stage" -> time from entering a stage to leaving it (or to the case's end), per entry:
  /// the sum of the visits to its steps in between.
  std::map<std::string, StepTime> stages;
  struct Queue {
    std::size_t backlog = 0, overdue = 0;
  };
  std::map<std::string, Queue> queues;    ///< current assignee (role or user:NAME) of open cases
  /// The time zones of the default calendars of the flows the journal's cases run, and the one
  /// of them when there is only one (else empty): where `escalon report` shows local time.
  std::vector<std::string> zones;
  std::string zone;
  /// Flow versions kept in the store that could not be read back (an include gone): for their
  /// cases, `fail:` end steps and SLAs that left no record are not known.
  std::vector<std::string> unreadable_flows;
};

/// Computes the report over every record of `store`; `now` decides what is overdue (default:
/// the newest record's time).
[[nodiscard]] Report make_report(Store& store, std::optional<TimePoint> now = std::nullopt);

struct ReportTextOptions {
  /// The IANA zone the times are shown in (`Europe/Zagreb`, `UTC`); empty: UTC. Throws Error
  /// for a zone the tz database does not have.
  std::string zone;
};

[[nodiscard]] std::string report_text(const Report& r, const ReportTextOptions& options = {});
/// Times in UTC (ISO-8601 with Z), whatever the zone of the text form.
[[nodiscard]] std::string report_json(const Report& r);
/// One row per figure: metric,group,value (durations in seconds).
[[nodiscard]] std::string report_csv(const Report& r);

/// What became of one SLA on one case, as the case's records tell.
enum class SlaOutcome : std::uint8_t {
  not_started,     ///< open; the clock has not counted yet (a team clock before the team has the case)
  running,
  paused,
  met,
  breached,
  stopped,         ///< the case closed (cancelled, or completed outside `stop_in`) before the SLA was met or breached
  not_applicable,  ///< the case closed, or reached `stop_in`, without the clock ever counting
};
/// "not started", "running", "paused", "met", "breached", "stopped", "not applicable".
[[nodiscard]] std::string_view sla_outcome_name(SlaOutcome o) noexcept;

/// Each SLA of one case from its records (`history`, in order): first those of `names` (the
/// flow's SLAs, in order; one no record names has not started), then any other the records name.
[[nodiscard]] std::vector<std::pair<std::string, SlaOutcome>> sla_outcomes(std::span<const Record> history,
                                                                           std::span<const std::string> names = {});

}  // namespace escalon
