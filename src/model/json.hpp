#pragma once
// Value <-> JSON (nlohmann), shared by Value::to_json, the journal and the CLI.
#include <nlohmann/json.hpp>

#include "escalon/value.hpp"

namespace escalon::detail {
nlohmann::ordered_json value_to_json(const Value& v);
}  // namespace escalon::detail

namespace escalon::detail {
// Untyped JSON -> Value (strings stay strings; Type::coerce gives them their declared type).
Value value_from_json(const nlohmann::ordered_json& j);
}  // namespace escalon::detail
