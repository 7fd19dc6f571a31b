#pragma once
// A stable 64-bit hash (FNV-1a) of text and values. Stable means the same in every process and
// build (std::hash is not): idempotency keys and their fingerprints are stored with cases.

#include <bit>
#include <cstdint>
#include <string_view>

#include "escalon/value.hpp"

namespace escalon::detail {

struct StableHash {
  std::uint64_t h = 14695981039346656037ull;
  void bytes(const void* p, std::size_t n) {
    const auto* b = static_cast<const unsigned char*>(p);
    for (std::size_t i = 0; i < n; ++i) h = (h ^ b[i]) * 1099511628211ull;
  }
  void word(std::uint64_t v) {
    unsigned char b[8];
    for (int i = 0; i < 8; ++i) b[i] = static_cast<unsigned char>(v >> (8 * i));  // byte order fixed
    bytes(b, 8);
  }
  void text(std::string_view s) {
    word(s.size());  // length first: ("ab","c") and ("a","bc") differ
    bytes(s.data(), s.size());
  }
  void value(const Value& v) {
    word(static_cast<std::uint64_t>(v.kind()));
    switch (v.kind()) {
      case Value::Kind::null: break;
      case Value::Kind::boolean: word(v.as_bool() ? 1 : 0); break;
      case Value::Kind::integer: word(static_cast<std::uint64_t>(v.as_int())); break;
      case Value::Kind::number: word(std::bit_cast<std::uint64_t>(v.as_number())); break;
      case Value::Kind::string: text(v.as_string()); break;
      case Value::Kind::datetime: word(static_cast<std::uint64_t>(v.as_datetime().time_since_epoch().count())); break;
      case Value::Kind::duration: word(static_cast<std::uint64_t>(v.as_duration().count())); break;
      case Value::Kind::list:
        word(v.as_list().size());
        for (const auto& x : v.as_list()) value(x);
        break;
      case Value::Kind::map: map(v.as_map()); break;
      case Value::Kind::date: word(static_cast<std::uint64_t>(static_cast<std::int64_t>(v.as_date().days))); break;
    }
  }
  void map(const Map& m) {
    word(m.size());
    for (const auto& [k, x] : m) {  // std::map: key order, so equal maps hash the same
      text(k);
      value(x);
    }
  }
};

}  // namespace escalon::detail
