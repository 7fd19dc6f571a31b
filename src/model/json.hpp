#pragma once
// Value <-> JSON (nlohmann), shared by Value::to_json, the journal and the CLI.
#include <nlohmann/json.hpp>

#include "escalon/value.hpp"

namespace escalon::detail {
nlohmann::ordered_json value_to_json(const Value& v);
}  // namespace escalon::detail
