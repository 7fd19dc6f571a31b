#pragma once
// Numbers in flow files and expressions read the same on every host: '.' is the decimal point
// whatever the C or C++ locale says. std::stod/strtod follow LC_NUMERIC, so a host that set a
// Croatian, Hungarian or Polish locale (decimal comma) read "1.5" as 1.
//
// parse_c_number() accepts exactly what std::strtod accepts in the "C" locale, so replacing
// `std::stod(s, &used)` keeps every accept/reject decision; it only stops asking the locale.

#include <charconv>
#include <cmath>
#include <cstddef>
#include <limits>
#include <optional>
#include <string_view>
#include <system_error>

namespace escalon::detail {

struct ParsedNumber {
  double value = 0;
  std::size_t used = 0;  ///< characters read, leading white space included
};

/// A number at the start of `s`, as std::strtod reads it in the "C" locale: leading white space,
/// an optional sign, decimal digits with an optional '.' and exponent, 0x hexadecimal, inf, nan.
/// nullopt when no number starts `s`, or when it is out of range (std::stod's out_of_range:
/// overflow, or underflow to zero or a subnormal; glibc keeps the rare subnormal written exactly
/// in hexadecimal, e.g. 0x1p-1074, which this rejects).
[[nodiscard]] inline std::optional<ParsedNumber> parse_c_number(std::string_view s) noexcept {
  std::size_t i = 0;
  while (i < s.size() && (s[i] == ' ' || (s[i] >= '\t' && s[i] <= '\r'))) ++i;
  bool negative = false;
  if (i < s.size() && (s[i] == '+' || s[i] == '-')) negative = s[i++] == '-';
  if (i < s.size() && (s[i] == '+' || s[i] == '-')) return std::nullopt;  // from_chars would take a second '-'
  const char* const first = s.data() + i;
  const char* const last = s.data() + s.size();
  double v = 0;
  std::from_chars_result r{first, std::errc::invalid_argument};
  // "0x1.8p3": from_chars wants the digits without the prefix. "0x" without hex digits after it
  // is the number 0 followed by 'x', as for strtod.
  if (last - first > 2 && first[0] == '0' && (first[1] == 'x' || first[1] == 'X')) {
    const char c = first[2];
    if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F') || c == '.')
      r = std::from_chars(first + 2, last, v, std::chars_format::hex);
  }
  if (r.ec == std::errc::invalid_argument) r = std::from_chars(first, last, v, std::chars_format::general);
  if (r.ec != std::errc{}) return std::nullopt;
  if (v != 0 && std::isfinite(v) && std::fabs(v) < std::numeric_limits<double>::min()) return std::nullopt;
  return ParsedNumber{negative ? -v : v, static_cast<std::size_t>(r.ptr - s.data())};
}

/// The whole of `s` as a number (parse_c_number with nothing left over).
[[nodiscard]] inline std::optional<double> parse_number(std::string_view s) noexcept {
  auto n = parse_c_number(s);
  if (!n || n->used != s.size()) return std::nullopt;
  return n->value;
}

}  // namespace escalon::detail
