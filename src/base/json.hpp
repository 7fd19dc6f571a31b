#pragma once
// Value <-> JSON (nlohmann), shared by Value::to_json, the journal and the CLI.
#include <nlohmann/json.hpp>

#include <string_view>

#include "escalon/value.hpp"

namespace escalon::detail {
nlohmann::ordered_json value_to_json(const Value& v);
}  // namespace escalon::detail

namespace escalon::detail {
// What value_from_json makes of a JSON string.
enum class JsonStrings {
  text,           // a string (Type::coerce gives it its declared type later)
  iso_datetimes,  // an ISO-8601 instant becomes a datetime, a day (YYYY-MM-DD) a date, anything
                  // else a string (untyped CLI data)
};
// Untyped JSON -> Value; null and unknown types are null, integers int, other numbers double.
Value value_from_json(const nlohmann::ordered_json& j, JsonStrings strings = JsonStrings::text);

// JSON text -> JSON for an input named `what` (e.g. "--data"). Every failure is a DataError:
// "WHAT is not valid JSON at line L, column C: ...", "WHAT: the number 1e400 at line L, column C
// is out of range", and "N does not fit a 64-bit int" for an integer below INT64_MIN or above
// UINT64_MAX (nlohmann would make it a double; value_from_json refuses the ones in between).
nlohmann::ordered_json parse_json(std::string_view text, std::string_view what);
}  // namespace escalon::detail
