#pragma once
/// @file value.hpp
/// Case data. A Value is one of: null, bool, int, number, string, datetime, duration, list, map,
/// date (a calendar day; last because kind numbers are hashed into stored idempotency keys).
/// Lists and maps share their storage (copy-on-write by replacement), so copying a Value is cheap.
/// A Type describes what a flow's `data:` section allows for one field.

#include <cstdint>
#include <initializer_list>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "escalon/time.hpp"

namespace escalon {

/// How deep lists and maps may nest in a value that comes from outside (JSON payloads, stored
/// records and data): deeper is a DataError, so no input can exhaust the stack.
inline constexpr std::size_t max_value_depth = 64;

class Value;
using List = std::vector<Value>;
using Map = std::map<std::string, Value, std::less<>>;

class Value {
 public:
  // New kinds go at the end: the kind number is part of stored key fingerprints (base/hash.hpp).
  enum class Kind : std::uint8_t { null, boolean, integer, number, string, datetime, duration, list, map, date };

  Value() noexcept = default;
  Value(std::nullptr_t) noexcept {}
  Value(bool b) noexcept : v_(b) {}
  Value(int i) noexcept : v_(std::int64_t{i}) {}
  Value(std::int64_t i) noexcept : v_(i) {}
  Value(double d) noexcept : v_(d) {}
  Value(const char* s) : v_(std::string(s)) {}
  Value(std::string s) noexcept : v_(std::move(s)) {}
  Value(std::string_view s) : v_(std::string(s)) {}
  Value(TimePoint t) noexcept : v_(t) {}
  Value(Duration d) noexcept : v_(d) {}
  Value(Date d) noexcept : v_(d) {}
  Value(List l) : v_(std::make_shared<const List>(std::move(l))) {}
  Value(Map m) : v_(std::make_shared<const Map>(std::move(m))) {}
  /// A map from {{"key", value}, ...}.
  Value(std::initializer_list<std::pair<const std::string, Value>> m) : Value(Map(m)) {}

  [[nodiscard]] Kind kind() const noexcept { return static_cast<Kind>(v_.index()); }
  [[nodiscard]] bool is_null() const noexcept { return kind() == Kind::null; }
  [[nodiscard]] bool is_numeric() const noexcept { return kind() == Kind::integer || kind() == Kind::number; }

  // Accessors throw escalon::DataError when the kind does not match.
  [[nodiscard]] bool as_bool() const;
  [[nodiscard]] std::int64_t as_int() const;
  /// int or number, as a double.
  [[nodiscard]] double as_number() const;
  [[nodiscard]] const std::string& as_string() const;
  [[nodiscard]] TimePoint as_datetime() const;
  [[nodiscard]] Duration as_duration() const;
  [[nodiscard]] Date as_date() const;
  [[nodiscard]] const List& as_list() const;
  [[nodiscard]] const Map& as_map() const;

  /// Member of a map, or nullptr when this is not a map or has no such key.
  [[nodiscard]] const Value* find(std::string_view key) const noexcept;

  /// Canonical JSON text: datetimes as ISO-8601 strings, dates as "2025-06-01", durations as
  /// compact text ("90s").
  /// Map keys are sorted, so equal values always print the same.
  [[nodiscard]] std::string to_json() const;
  /// Text for people and string(): strings, datetimes, dates and durations unquoted, others like
  /// to_json().
  [[nodiscard]] std::string to_display() const;

  /// Structural equality; 2 == 2.0 is true (ints and numbers compare by value).
  friend bool operator==(const Value& a, const Value& b) noexcept;

 private:
  std::variant<std::monostate, bool, std::int64_t, double, std::string, TimePoint, Duration,
               std::shared_ptr<const List>, std::shared_ptr<const Map>, Date>
      v_;
};

[[nodiscard]] std::string_view kind_name(Value::Kind k) noexcept;

/// The declared type of a data field, form field, rule column or expression.
struct Type {
  enum class Kind : std::uint8_t { any, null, boolean, integer, number, string, datetime, duration, enumeration, list, map, date };

  Kind kind = Kind::any;
  std::vector<std::string> values;                       ///< enumeration: allowed values
  std::shared_ptr<const Type> item;                       ///< list: element type (null = any)
  std::shared_ptr<const std::map<std::string, Type, std::less<>>> fields;  ///< map: declared fields (null = free-form)

  static Type of(Kind k) { Type t; t.kind = k; return t; }
  static Type list_of(Type item);
  static Type enumeration(std::vector<std::string> values);

  /// "string", "date", "enum[normal, high]", "list<datetime>", "map".
  [[nodiscard]] std::string str() const;
  /// Whether a value of this type may hold `v` (null is accepted by every type: "not set").
  [[nodiscard]] bool accepts(const Value& v) const;
  /// Converts `v` to this type where it is lossless and unambiguous (int -> number,
  /// ISO string -> datetime, "2025-06-01" -> date, "15m" -> duration); throws DataError naming
  /// `what` otherwise (a datetime is never made a date: which day depends on a time zone).
  [[nodiscard]] Value coerce(const Value& v, std::string_view what) const;
  friend bool operator==(const Type& a, const Type& b);
};

}  // namespace escalon
