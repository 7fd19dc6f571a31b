#include "escalon/journal.hpp"

#include <fmt/format.h>

#include "escalon/error.hpp"
#include "base/json.hpp"
#include "store/seal.hpp"

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
    case RecordType::migrated: return "migrated";
    case RecordType::stage_entered: return "stage-entered";
    case RecordType::stage_left: return "stage-left";
    case RecordType::delivered: return "delivered";
    case RecordType::delivery_failed: return "delivery-failed";
    case RecordType::erased: return "erased";
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
  if (type == RecordType::deadline_set || type == RecordType::resumed || (type == RecordType::delivery_failed && due != TimePoint{}))
    j["due"] = format_iso8601(due);
  if (type == RecordType::data_changed) {
    j["old"] = detail::value_to_json(old_value);
    j["new"] = detail::value_to_json(new_value);
  }
  if (!data.is_null()) j["data"] = detail::value_to_json(data);
  if (!message.empty()) j["message"] = message;
  if (!personal.empty()) j["personal"] = personal;
  // Messages quote handlers' exceptions, which may be any bytes: replaced, never thrown on.
  return j.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
}

Record Record::redacted() const {
  Record r = *this;
  static const Value hidden{std::string("***")};
  detail::for_each_personal(r, [](Value& v) {
    if (!v.is_null()) v = hidden;
  });
  return r;
}

Record Record::from_json(std::string_view text) {
  try {
    const auto j = detail::parse_json(text, "the record");
    Record r;
    r.seq = j.at("seq").get<std::uint64_t>();
    auto instant = [](const std::string& s) {
      auto t = parse_iso8601(s);
      if (!t) throw Error(fmt::format("'{}' is not an instant", s));
      return *t;
    };
    r.at = instant(j.at("at").get<std::string>());
    r.case_id = j.at("case").get<std::string>();
    const auto type = j.at("type").get<std::string>();
    bool known = false;
    for (int t = 0; t <= static_cast<int>(RecordType::erased); ++t)
      if (record_type_name(static_cast<RecordType>(t)) == type) {
        r.type = static_cast<RecordType>(t);
        known = true;
      }
    if (!known) throw Error(fmt::format("unknown record type '{}'", type));
    r.step = j.value("step", std::string());
    r.event = j.value("event", std::string());
    r.actor = j.value("actor", std::string());
    r.channel = j.value("channel", std::string());
    r.target = j.value("target", std::string());
    r.level = j.value("level", 0);
    r.repeat = j.value("repeat", 0);
    if (j.contains("due")) r.due = instant(j.at("due").get<std::string>());
    if (j.contains("old")) r.old_value = detail::value_from_json(j.at("old"));
    if (j.contains("new")) r.new_value = detail::value_from_json(j.at("new"));
    if (j.contains("data")) r.data = detail::value_from_json(j.at("data"));
    r.message = j.value("message", std::string());
    if (j.contains("personal")) r.personal = j.at("personal").get<std::vector<std::string>>();
    return r;
  } catch (const nlohmann::ordered_json::exception& e) {
    throw Error(fmt::format("not a journal record: {}", e.what()));
  }
}

}  // namespace escalon
