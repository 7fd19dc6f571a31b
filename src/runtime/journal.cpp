#include "escalon/journal.hpp"

#include "model/json.hpp"

namespace escalon {

std::string_view record_type_name(RecordType t) noexcept {
  switch (t) {
    case RecordType::started: return "started";
    case RecordType::entered: return "entered";
    case RecordType::left: return "left";
    case RecordType::event: return "event";
    case RecordType::rejected: return "rejected";
    case RecordType::data_changed: return "data-changed";
    case RecordType::assigned: return "assigned";
    case RecordType::deadline_set: return "deadline-set";
    case RecordType::escalated: return "escalated";
    case RecordType::expired: return "expired";
    case RecordType::sla_warning: return "sla-warning";
    case RecordType::sla_breached: return "sla-breached";
    case RecordType::sla_met: return "sla-met";
    case RecordType::paused: return "paused";
    case RecordType::resumed: return "resumed";
    case RecordType::action_failed: return "action-failed";
    case RecordType::incident: return "incident";
    case RecordType::resolved: return "resolved";
    case RecordType::completed: return "completed";
    case RecordType::cancelled: return "cancelled";
  }
  return "?";
}

std::string Record::to_json() const {
  nlohmann::ordered_json j;
  j["seq"] = seq;
  j["at"] = format_iso8601(at);
  j["case"] = case_id;
  j["type"] = record_type_name(type);
  if (!step.empty()) j["step"] = step;
  if (!event.empty()) j["event"] = event;
  if (!actor.empty()) j["actor"] = actor;
  if (!channel.empty()) j["channel"] = channel;
  if (!target.empty()) j["target"] = target;
  if (level) j["level"] = level;
  if (repeat) j["repeat"] = repeat;
  if (type == RecordType::deadline_set) j["due"] = format_iso8601(due);
  if (type == RecordType::data_changed) {
    j["old"] = detail::value_to_json(old_value);
    j["new"] = detail::value_to_json(new_value);
  }
  if (!data.is_null()) j["data"] = detail::value_to_json(data);
  if (!message.empty()) j["message"] = message;
  return j.dump();
}

}  // namespace escalon
