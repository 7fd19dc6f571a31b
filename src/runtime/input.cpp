// What comes in through the API is checked before anything changes: text must be UTF-8 (the
// journal and case states are JSON, and a write that fails after the case changed in memory
// would part memory from the store) and values nest at most max_value_depth levels (a value
// built by a host can be as deep as it likes; every later walk over it recurses).

#include <fmt/format.h>

#include "base/utf8.hpp"
#include "runtime/core.hpp"

namespace escalon::detail {
namespace {

void refuse(std::string_view what, std::string_view s, std::size_t at) {
  throw EventError(Refusal::bad_data,
                   fmt::format("{} is not valid UTF-8 (byte 0x{:02x} at offset {}); text must be UTF-8", what,
                               static_cast<unsigned char>(s[at]), at));
}

void check_value(const std::string& what, const Value& v, std::size_t depth) {
  if (depth > max_value_depth)
    throw EventError(Refusal::bad_data, fmt::format("{} nests deeper than {} levels", what, max_value_depth));
  switch (v.kind()) {
    case Value::Kind::string:
      if (auto bad = invalid_utf8(v.as_string())) refuse(what, v.as_string(), *bad);
      break;
    case Value::Kind::list: {
      std::size_t i = 0;
      for (const auto& x : v.as_list()) check_value(fmt::format("{}[{}]", what, i++), x, depth + 1);
      break;
    }
    case Value::Kind::map:
      for (const auto& [k, x] : v.as_map()) {
        if (auto bad = invalid_utf8(k)) refuse(fmt::format("a key in {}", what), k, *bad);
        check_value(fmt::format("{}.{}", what, k), x, depth + 1);
      }
      break;
    case Value::Kind::date:  // a host can build any Date; JSON and the stores hold years 1 to 9999
      if (!in_date_range(v.as_date().days))
        throw EventError(Refusal::bad_data, fmt::format("{} is a date {} days from 1970-01-01, outside years 1 to 9999",
                                                        what, v.as_date().days));
      break;
    default: break;
  }
}

}  // namespace

void require_utf8(std::string_view what, std::string_view s) {
  if (auto bad = invalid_utf8(s)) refuse(what, s, *bad);
}

void require_valid(std::string_view what, const Map& m) {
  for (const auto& [k, x] : m) {
    if (auto bad = invalid_utf8(k)) refuse(fmt::format("a field name in the {}", what), k, *bad);
    check_value(fmt::format("{} field '{}'", what, k), x, 1);
  }
}

void require_utf8(const EventOptions& o) {
  require_utf8("the actor", o.actor);
  require_utf8("the channel", o.channel);
  require_utf8("the idempotency key", o.key);
  require_utf8(o.roles);
}

void require_utf8(const std::optional<std::vector<std::string>>& roles) {
  if (roles)
    for (const auto& r : *roles) require_utf8("a role", r);
}

}  // namespace escalon::detail
