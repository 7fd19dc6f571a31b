#include "escalon/time.hpp"

// GCC 12 reports a false -Wmaybe-uninitialized inside <chrono> for date::parse's
// instantiation (the variable is written before use on every path that reads it). Clang has no
// such warning and, with -Werror, fails on the unknown name.
#ifndef __clang__
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#include <date/date.h>
#include <fmt/format.h>

#include <cctype>
#include <charconv>
#include <locale>
#include <sstream>

#include "escalon/error.hpp"
#include "base/text.hpp"

namespace escalon {

namespace {

// YYYY-MM-DDTHH:MM:SS[.f...](Z|+HH:MM|+HHMM) with every field in its range. date::parse is
// lenient about what it is given (a field of the wrong width, "-nan", an offset of +99:00) and
// overflows on some of it (UBSan: a NaN converted to long, INT64_MIN negated), so only text of
// this shape reaches it; it still checks the calendar (no 30 February).
bool iso_shape(std::string_view t) {
  std::size_t i = 0;
  const auto num = [&](std::size_t width, int max) {
    if (i + width > t.size()) return false;
    int v = 0;
    for (std::size_t k = 0; k < width; ++k) {
      const char c = t[i + k];
      if (c < '0' || c > '9') return false;
      v = v * 10 + (c - '0');
    }
    i += width;
    return v <= max;
  };
  const auto lit = [&](char c) { return i < t.size() && t[i] == c ? (++i, true) : false; };
  if (!(num(4, 9999) && lit('-') && num(2, 12) && lit('-') && num(2, 31) && lit('T') && num(2, 23) && lit(':') &&
        num(2, 59) && lit(':') && num(2, 60)))
    return false;
  if (lit('.')) {
    const std::size_t start = i;
    while (i < t.size() && t[i] >= '0' && t[i] <= '9' && i - start < 9) ++i;
    if (i == start) return false;
  }
  if (lit('Z')) return i == t.size();
  if (!lit('+') && !lit('-')) return false;
  if (!num(2, 23)) return false;
  (void)lit(':');
  return num(2, 59) && i == t.size();
}

}  // namespace

std::optional<TimePoint> parse_iso8601(std::string_view text) {
  if (!iso_shape(text)) return std::nullopt;
  // date::parse wants a stream; try the offset forms first, then the Z form. Built without
  // ONLY_C_LOCALE (date-tz's CMake target sets it), date::parse reads fractional seconds with
  // the stream's decimal point, which a host's global locale may make ','.
  static constexpr const char* formats[] = {"%FT%T%Ez", "%FT%TZ", "%FT%T%z"};
  for (const char* f : formats) {
    std::istringstream in{std::string(text)};
    in.imbue(std::locale::classic());
    date::sys_time<std::chrono::milliseconds> tp;
    in >> date::parse(f, tp);
    if (in.fail() || in.peek() != std::char_traits<char>::eof()) continue;
    // Year 0 or 10000 (reachable with an offset) is no instant Escalon can hold or write back.
    const TimePoint t{tp.time_since_epoch()};
    return in_time_range(t) ? std::optional<TimePoint>(t) : std::nullopt;
  }
  return std::nullopt;
}

namespace {
// The numbers of "YYYY-MM-DD" (digits in every place); their ranges are the caller's to check.
struct DayParts {
  int y = 0, m = 0, d = 0;
};
std::optional<DayParts> day_parts(std::string_view t) {
  if (t.size() != 10 || t[4] != '-' || t[7] != '-') return std::nullopt;
  const auto num = [&](std::size_t at, std::size_t width) {
    int v = 0;
    for (std::size_t k = at; k < at + width; ++k) {
      if (t[k] < '0' || t[k] > '9') return -1;
      v = v * 10 + (t[k] - '0');
    }
    return v;
  };
  const DayParts p{.y = num(0, 4), .m = num(5, 2), .d = num(8, 2)};
  if (p.y < 0 || p.m < 0 || p.d < 0) return std::nullopt;
  return p;
}
constexpr const char* month_names[] = {"January", "February", "March",     "April",   "May",      "June",
                                       "July",    "August",   "September", "October", "November", "December"};
}  // namespace

std::optional<Date> parse_iso_date(std::string_view text) {
  const auto p = day_parts(text);
  if (!p || p->y < 1 || p->m < 1 || p->m > 12) return std::nullopt;
  const std::chrono::year_month_day ymd{std::chrono::year{p->y}, std::chrono::month{static_cast<unsigned>(p->m)},
                                        std::chrono::day{static_cast<unsigned>(p->d)}};
  if (!ymd.ok()) return std::nullopt;
  return Date::of(std::chrono::sys_days{ymd});
}

std::string iso_date_problem(std::string_view text) {
  if (parse_iso8601(text)) return fmt::format("{} is a datetime, not a day; write the day as YYYY-MM-DD", text);
  if (const auto p = day_parts(text)) {
    if (p->y < 1) return "the year must be 0001 to 9999";
    if (p->m < 1 || p->m > 12) return fmt::format("there is no month {:02}; months are 01 to 12", p->m);
    if (p->d < 1) return "days start at 01";
    const std::chrono::year_month ym{std::chrono::year{p->y}, std::chrono::month{static_cast<unsigned>(p->m)}};
    const unsigned last = static_cast<unsigned>((ym / std::chrono::last).day());
    if (static_cast<unsigned>(p->d) > last)
      return fmt::format("{} {} has {} days", month_names[p->m - 1], p->y, last);
  }
  return "write the day as YYYY-MM-DD, e.g. 2025-06-01";
}

std::string format_iso_date(Date d) {
  const std::chrono::year_month_day ymd{d.sys_days()};
  return fmt::format("{:04}-{:02}-{:02}", static_cast<int>(ymd.year()), static_cast<unsigned>(ymd.month()),
                     static_cast<unsigned>(ymd.day()));
}

std::string format_iso8601(TimePoint t) {
  const auto secs = std::chrono::floor<std::chrono::seconds>(t);
  const auto ms = (t - secs).count();
  const auto day = std::chrono::floor<date::days>(secs);
  const date::year_month_day ymd{day};
  // Every record and stored case is stamped: date::format goes through an ostringstream, which
  // cost more than the rest of a journal record's JSON. The calendar stays date's; only the
  // digits are written here, for the years 0 to 9999 that journal times keep to.
  if (int(ymd.year()) < 0 || int(ymd.year()) > 9999) {
    if (ms == 0) return date::format("%FT%TZ", secs);
    return fmt::format("{}.{:03}Z", date::format("%FT%T", secs), ms);
  }
  const date::hh_mm_ss hms{secs - day};
  const auto y = int(ymd.year());
  const auto mo = unsigned(ymd.month()), d = unsigned(ymd.day());
  const auto h = hms.hours().count(), mi = hms.minutes().count();
  const auto s = hms.seconds().count();
  if (ms == 0) return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z", y, mo, d, h, mi, s);
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z", y, mo, d, h, mi, s, ms);
}

std::string format_duration(Duration d) {
  if (d.count() == 0) return "0s";
  std::string out;
  if (d.count() < 0) { out = "-"; d = -d; }
  using namespace std::chrono;
  const auto days_ = duration_cast<hours>(d).count() / 24;
  const auto h = duration_cast<hours>(d).count() % 24;
  const auto m = duration_cast<minutes>(d).count() % 60;
  const auto s = duration_cast<seconds>(d).count() % 60;
  const auto msec = d.count() % 1000;
  if (days_) out += fmt::format("{}d", days_);
  if (h) out += fmt::format("{}h", h);
  if (m) out += fmt::format("{}m", m);
  if (s) out += fmt::format("{}s", s);
  if (msec) out += fmt::format("{}ms", msec);
  return out;
}

namespace {

constexpr const char* accepted_forms =
    "write a number and a unit, e.g. \"90s\", \"15 minutes\", \"2h\", \"1h30m\", \"3 days\", "
    "\"4 business hours\" or \"2 business days\"";

std::optional<Duration> unit_length(std::string_view u) {
  using namespace std::chrono;
  if (u == "ms" || u == "millisecond" || u == "milliseconds") return milliseconds{1};
  if (u == "s" || u == "sec" || u == "secs" || u == "second" || u == "seconds") return seconds{1};
  if (u == "m" || u == "min" || u == "mins" || u == "minute" || u == "minutes") return minutes{1};
  if (u == "h" || u == "hr" || u == "hrs" || u == "hour" || u == "hours") return hours{1};
  if (u == "d" || u == "day" || u == "days") return hours{24};
  if (u == "w" || u == "week" || u == "weeks") return hours{24 * 7};
  return std::nullopt;
}

// Reads "<int> <unit>" pairs, spaces optional: "1h30m", "15 minutes", "2 business days".
struct Lexer {
  std::string_view s;
  std::size_t i = 0;
  void skip() { while (i < s.size() && std::isspace(static_cast<unsigned char>(s[i]))) ++i; }
  bool done() { skip(); return i >= s.size(); }
  std::optional<std::int64_t> number() {
    skip();
    std::int64_t v = 0;
    auto [p, ec] = std::from_chars(s.data() + i, s.data() + s.size(), v);
    if (ec != std::errc{} || v < 0) return std::nullopt;
    i = static_cast<std::size_t>(p - s.data());
    return v;
  }
  [[nodiscard]] char peek() const { return i < s.size() ? s[i] : '\0'; }
  [[nodiscard]] bool at_digit() const { return std::isdigit(static_cast<unsigned char>(peek())) != 0; }
  std::string_view digits() {
    std::size_t b = i;
    while (at_digit()) ++i;
    return s.substr(b, i - b);
  }
  std::string_view word() {
    skip();
    std::size_t b = i;
    while (i < s.size() && std::isalpha(static_cast<unsigned char>(s[i]))) ++i;
    return s.substr(b, i - b);
  }
};

constexpr std::int64_t max_business_days = 100'000;     // about 380 years of weekdays
constexpr std::int64_t max_business_hours = 1'000'000;  // about 480 years of 8-hour days

[[noreturn]] void bad(std::string_view text, std::string_view why) {
  throw Error(fmt::format("invalid duration \"{}\": {}; {}", text, why, accepted_forms));
}

// Limit on <count> * <unit> so that sums of parts stay far inside the int64 milliseconds.
bool too_long(std::int64_t n, Duration unit) {
  return n > (std::int64_t{1} << 40) / std::max<std::int64_t>(1, unit.count() / 1000 + 1);
}

// "1.5h" (the lexer is at the '.'): durations count whole units; the same length in whole units
// is suggested when there is one.
[[noreturn]] void fraction(std::string_view text, Lexer& lx, std::int64_t whole) {
  ++lx.i;
  const std::string_view frac = lx.digits();
  const auto unit = unit_length(lx.word());
  std::string hint;
  if (unit && !frac.empty() && frac.size() <= 6 && whole < (std::int64_t{1} << 40) && !too_long(whole + 1, *unit)) {
    std::int64_t scale = 1, part = 0;
    for (char c : frac) scale *= 10, part = part * 10 + (c - '0');
    if ((unit->count() * part) % scale == 0) {
      const Duration total = *unit * whole + Duration{unit->count() * part / scale};
      using namespace std::chrono;
      const std::string single = total % minutes{1} == Duration{0} ? fmt::format("{}m", duration_cast<minutes>(total).count())
                                 : total % seconds{1} == Duration{0} ? fmt::format("{}s", duration_cast<seconds>(total).count())
                                                                     : fmt::format("{}ms", total.count());
      hint = format_duration(total) == single ? fmt::format("; write \"{}\"", single)
                                              : fmt::format("; write \"{}\" or \"{}\"", format_duration(total), single);
    }
  }
  if (hint.empty()) hint = "; write it in a smaller unit, e.g. \"90m\" for 1.5 hours";
  throw Error(fmt::format("invalid duration \"{}\": durations count whole units, not fractions{}", text, hint));
}

}  // namespace

DurationSpec parse_duration_spec(std::string_view text) {
  const std::string_view t = detail::trim(text);
  if (t.empty()) bad(text, "it is empty");
  Lexer lx{t};
  DurationSpec spec;
  bool any = false;
  while (!lx.done()) {
    auto n = lx.number();
    if (!n) bad(text, lx.at_digit() ? "it is too long" : "expected a whole number");
    if (lx.peek() == '.') fraction(text, lx, *n);
    auto w = lx.word();
    if (w.empty()) bad(text, fmt::format("the number {} has no unit", *n));
    if (w == "business") {
      if (any) bad(text, "business time cannot be combined with other units");
      auto u = lx.word();
      // Working time runs slower than wall time (8 hours a day, 5 days a week), so these bounds
      // keep the calendar walks that count it short and every sum far from overflowing.
      if (u == "day" || u == "days") {
        if (*n > max_business_days) bad(text, fmt::format("it is too long (at most {} business days)", max_business_days));
        spec.basis = TimeBasis::business_days;
        spec.days = *n;
      } else if (u == "hour" || u == "hours" || u == "minute" || u == "minutes") {
        const Duration length = *unit_length(u);
        if (*n > max_business_hours * (std::chrono::hours{1} / length))
          bad(text, fmt::format("it is too long (at most {} business hours)", max_business_hours));
        spec.basis = TimeBasis::business_hours;
        spec.length = length * *n;
      } else {
        bad(text, fmt::format("unknown business unit \"{}\" (use business days, hours or minutes)", u));
      }
      if (!lx.done()) bad(text, "unexpected text after the business unit");
      return spec;
    }
    auto unit = unit_length(w);
    if (!unit) bad(text, fmt::format("unknown unit \"{}\"", w));
    if (too_long(*n, *unit)) bad(text, "it is too long");
    spec.length += *unit * *n;
    any = true;
  }
  return spec;
}

Duration parse_duration(std::string_view text) {
  auto spec = parse_duration_spec(text);
  if (spec.is_business())
    throw Error(fmt::format("\"{}\" is business time; a plain duration such as \"2h\" is needed here", text));
  return spec.length;
}

std::string DurationSpec::str() const {
  switch (basis) {
    case TimeBasis::business_days: return fmt::format("{} business day{}", days, days == 1 ? "" : "s");
    case TimeBasis::business_hours: {
      using namespace std::chrono;
      if (length % hours{1} == Duration{0}) {
        auto h = duration_cast<hours>(length).count();
        return fmt::format("{} business hour{}", h, h == 1 ? "" : "s");
      }
      auto m = duration_cast<minutes>(length).count();
      return fmt::format("{} business minute{}", m, m == 1 ? "" : "s");
    }
    case TimeBasis::wall: break;
  }
  return format_duration(length);
}

}  // namespace escalon
