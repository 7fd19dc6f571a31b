#pragma once
// Catch2 printers, so a failed CHECK shows values instead of {?}.
#include <catch2/catch.hpp>

#include "escalon/time.hpp"
#include "escalon/value.hpp"

namespace escalon::test {
/// An instant from ISO-8601 text; fails the test when the text is not one.
inline TimePoint at(const char* iso) {
  auto t = parse_iso8601(iso);
  REQUIRE(t);
  return *t;
}
}  // namespace escalon::test

namespace Catch {
template <>
struct StringMaker<escalon::Value> {
  static std::string convert(const escalon::Value& v) { return v.to_json(); }
};
template <>
struct StringMaker<escalon::TimePoint> {
  static std::string convert(const escalon::TimePoint& t) { return escalon::format_iso8601(t); }
};
}  // namespace Catch
