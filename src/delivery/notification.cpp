#include "escalon/notification.hpp"

#include <fmt/format.h>

#include "base/json.hpp"

namespace escalon {

std::string notification_to_json(const Notification& n) {
  nlohmann::ordered_json j;
  j["key"] = n.key;
  j["at"] = format_iso8601(n.at);
  j["case"] = n.case_id;
  j["flow"] = n.flow;
  if (!n.step.empty()) j["step"] = n.step;
  j["to"] = n.to;
  if (!n.subject.empty()) j["subject"] = n.subject;
  j["message"] = n.message;
  j["reason"] = n.reason;
  if (n.level) j["level"] = n.level;
  if (n.repeat) j["repeat"] = n.repeat;
  // Messages may quote a handler's bytes: replaced, never thrown on (as in the journal).
  return j.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
}

Notification notification_from_json(std::string_view text) {
  try {
    const auto j = detail::parse_json(text, "the notification");
    Notification n;
    n.key = j.at("key").get<std::string>();
    const auto at = j.at("at").get<std::string>();
    const auto t = parse_iso8601(at);
    if (!t) throw Error(fmt::format("'{}' is not an instant", at));
    n.at = *t;
    n.case_id = j.at("case").get<std::string>();
    n.flow = j.at("flow").get<std::string>();
    n.step = j.value("step", std::string());
    n.to = j.at("to").get<std::vector<std::string>>();
    n.subject = j.value("subject", std::string());
    n.message = j.at("message").get<std::string>();
    n.reason = j.at("reason").get<std::string>();
    n.level = j.value("level", 0);
    n.repeat = j.value("repeat", 0);
    return n;
  } catch (const nlohmann::ordered_json::exception& e) {
    throw Error(fmt::format("not a notification: {}", e.what()));
  }
}

}  // namespace escalon
