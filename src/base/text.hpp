#pragma once
// Small text helpers shared by the model, the expression code and the rule tables.

#include <cctype>
#include <string_view>

namespace escalon::detail {

// `s` without leading and trailing white space (std::isspace: space, \t, \n, \v, \f, \r).
inline std::string_view trim(std::string_view s) noexcept {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

}  // namespace escalon::detail
