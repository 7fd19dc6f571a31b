#pragma once
// UTF-8 validation. Everything Escalon stores is JSON text, and JSON text is UTF-8: a byte
// sequence that is not would fail when the journal or a case state is written, after the call
// changed the case in memory. So text is checked where it comes in, and refused there.

#include <cstddef>
#include <optional>
#include <string_view>

namespace escalon::detail {

// Length of the well-formed multi-byte UTF-8 sequence at s[i] (RFC 3629: no overlongs, no
// surrogates, nothing above U+10FFFF), or 0 when none starts there. ASCII is not counted: the
// callers handle it first (the loader also looks for NUL and line ends there).
inline std::size_t utf8_sequence(std::string_view s, std::size_t i) noexcept {
  const auto at = [&](std::size_t k) { return i + k < s.size() ? static_cast<unsigned char>(s[i + k]) : 0u; };
  const auto cont = [&](std::size_t k, unsigned lo = 0x80, unsigned hi = 0xBF) { return at(k) >= lo && at(k) <= hi; };
  const unsigned c = at(0);
  if (c >= 0xC2 && c <= 0xDF) return cont(1) ? 2 : 0;
  if (c >= 0xE0 && c <= 0xEF) {
    const bool second = c == 0xE0 ? cont(1, 0xA0) : c == 0xED ? cont(1, 0x80, 0x9F) : cont(1);
    return second && cont(2) ? 3 : 0;
  }
  if (c >= 0xF0 && c <= 0xF4) {
    const bool second = c == 0xF0 ? cont(1, 0x90) : c == 0xF4 ? cont(1, 0x80, 0x8F) : cont(1);
    return second && cont(2) && cont(3) ? 4 : 0;
  }
  return 0;
}

// The offset of the first byte that does not begin a well-formed UTF-8 sequence; nothing when
// `s` is valid.
inline std::optional<std::size_t> invalid_utf8(std::string_view s) noexcept {
  for (std::size_t i = 0; i < s.size();) {
    if (static_cast<unsigned char>(s[i]) < 0x80) {
      ++i;
    } else if (const std::size_t n = utf8_sequence(s, i)) {
      i += n;
    } else {
      return i;
    }
  }
  return std::nullopt;
}

}  // namespace escalon::detail
