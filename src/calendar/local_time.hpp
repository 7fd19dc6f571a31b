#pragma once
// Instants shown as local time of an IANA zone, for people reading `inspect` and `report`
// (machine formats stay UTC). date/tz stays in this layer.

#include <string>
#include <string_view>

#include "escalon/time.hpp"

namespace escalon::detail {

// Throws Error when the tz database has no zone of that name, with the closest name when one
// is near ("did you mean Europe/Zagreb?"). "UTC" always exists.
void check_zone(std::string_view zone);

// ISO-8601 with the zone's offset at that instant: 2026-12-24T09:00:00+01:00 (milliseconds
// when not whole; `Z` in UTC). An empty zone is UTC. Throws Error for an unknown zone.
[[nodiscard]] std::string format_local(TimePoint t, std::string_view zone);

}  // namespace escalon::detail
