#pragma once
// Value <-> JSON (nlohmann), shared by Value::to_json, the journal and the CLI.
#include <nlohmann/json.hpp>

#include "escalon/value.hpp"

namespace escalon::detail {
nlohmann::ordered_json value_to_json(const Value& v);
}  // namespace escalon::detail

namespace escalon::detail {
// What value_from_json makes of a JSON string.
enum class JsonStrings {
  text,           // a string (Type::coerce gives it its declared type later)
  iso_datetimes,  // an ISO-8601 instant becomes a datetime, anything else a string (untyped CLI data)
};
// Untyped JSON -> Value; null and unknown types are null, integers int, other numbers double.
Value value_from_json(const nlohmann::ordered_json& j, JsonStrings strings = JsonStrings::text);
}  // namespace escalon::detail
