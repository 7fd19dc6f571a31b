#pragma once
// Text helpers the channels share. Mail headers, HTTP headers and the journal's
// `delivery-failed` messages all hold one line of valid UTF-8: anything else from a flow, a
// case or a server answer is made into that here, so it cannot add a header or break the JSON.

#include <string>
#include <string_view>

#include "base/utf8.hpp"

namespace escalon::detail {

// `s` as valid UTF-8 on one line: ill-formed bytes become U+FFFD, control characters (CR and
// LF included) a space.
inline std::string one_line(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size();) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      out += c < 0x20 || c == 0x7F ? ' ' : static_cast<char>(c);
      ++i;
    } else if (const std::size_t n = utf8_sequence(s, i)) {
      out.append(s.substr(i, n));
      i += n;
    } else {
      out += "\xEF\xBF\xBD";
      ++i;
    }
  }
  return out;
}

// At most `max` bytes of `s`, cut back to the start of a UTF-8 character so the cut does not
// leave half of one.
inline std::string_view utf8_prefix(std::string_view s, std::size_t max) {
  if (s.size() <= max) return s;
  std::size_t end = max;
  while (end > 0 && (static_cast<unsigned char>(s[end]) & 0xC0) == 0x80) --end;
  return s.substr(0, end);
}

// A mail address the channels will put into an SMTP command and a header: ASCII, one '@' with
// text on both sides, and none of the characters that quote, group or end an address.
// Quoted local parts, domain literals and non-ASCII addresses (SMTPUTF8) are not accepted.
inline bool is_mail_address(std::string_view a) {
  if (a.empty() || a.size() > 254) return false;
  const auto at = a.rfind('@');
  if (at == std::string_view::npos || at == 0 || at + 1 == a.size()) return false;
  if (a.find('@') != at) return false;
  for (const char ch : a) {
    const auto c = static_cast<unsigned char>(ch);
    if (c <= 0x20 || c >= 0x7F) return false;
    if (std::string_view("<>()[],;:\"\\").find(ch) != std::string_view::npos) return false;
  }
  return true;
}

}  // namespace escalon::detail
