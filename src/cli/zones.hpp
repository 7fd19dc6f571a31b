#pragma once
// The zone `inspect` shows a case's times in: the time zone of its flow's default calendar
// (`calendar:`), read back from the flow version the store keeps; UTC when the flow has no
// calendar or cannot be read back (a file it includes is gone).

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "escalon/journal.hpp"
#include "escalon/store.hpp"

namespace escalon::cli {

class FlowZones {
 public:
  explicit FlowZones(Store& store) : store_(store) {}
  /// The zone of the flow version a case's history starts with ("" for UTC).
  [[nodiscard]] const std::string& of_case(const std::vector<Record>& history);
  /// The zone of a flow version ("" for UTC).
  [[nodiscard]] const std::string& of_flow(const std::string& flow, std::int64_t version);

 private:
  Store& store_;
  std::optional<std::vector<StoredFlow>> stored_;
  std::map<std::pair<std::string, std::int64_t>, std::string> zones_;
};

}  // namespace escalon::cli
