#pragma once
// Catch2 printers, so a failed CHECK shows values instead of {?}.
#include <catch2/catch.hpp>

#include "escalon/time.hpp"
#include "escalon/value.hpp"

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
