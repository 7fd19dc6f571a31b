// Local time of an IANA zone (calendar/local_time.hpp).

#include "calendar/local_time.hpp"

#include <date/tz.h>
#include <fmt/format.h>

#include <cstdlib>
#include <vector>

#include "escalon/error.hpp"
#include "base/suggest.hpp"

namespace escalon::detail {

namespace {

const date::time_zone* find_zone(std::string_view zone) {
  try {
    return date::locate_zone(zone);
  } catch (const std::exception&) {
    std::vector<std::string> names;
    for (const auto& z : date::get_tzdb().zones) names.emplace_back(z.name());
    const std::string near = closest(zone, names);
    throw Error(fmt::format("unknown time zone '{}'{}; use an IANA name such as Europe/Zagreb, or UTC", zone,
                            near.empty() ? "" : fmt::format(" (did you mean {}?)", near)));
  }
}

}  // namespace

void check_zone(std::string_view zone) { (void)find_zone(zone); }

std::string format_local(TimePoint t, std::string_view zone) {
  if (zone.empty() || zone == "UTC") return format_iso8601(t);
  const date::time_zone* tz = find_zone(zone);
  const auto secs = std::chrono::floor<std::chrono::seconds>(t);
  const auto ms = (t - secs).count();
  const auto info = tz->get_info(secs);
  const auto local = secs + info.offset;  // a sys_time shifted: formats as the local wall time
  const auto off = std::chrono::duration_cast<std::chrono::minutes>(info.offset).count();
  const std::string offset = fmt::format("{}{:02}:{:02}", off < 0 ? '-' : '+', std::abs(off) / 60, std::abs(off) % 60);
  if (ms == 0) return fmt::format("{}{}", date::format("%FT%T", local), offset);
  return fmt::format("{}.{:03}{}", date::format("%FT%T", local), ms, offset);
}

}  // namespace escalon::detail
