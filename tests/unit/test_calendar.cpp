// Expected instants are worked out by hand from the zone rules: Europe/Zagreb, Budapest and
// Warsaw are UTC+1 in winter and UTC+2 in summer; in 2026 summer time starts on 29 March
// (02:00 -> 03:00) and ends on 25 October (03:00 -> 02:00).

#include "support.hpp"

#include "escalon/calendar.hpp"
#include "escalon/error.hpp"

using namespace escalon;
using namespace std::chrono_literals;
using escalon::test::at;
using namespace std::chrono;

namespace {

CalendarSpec office(const std::string& tz, std::vector<WorkInterval> day = {{8 * 60, 16 * 60}}) {
  CalendarSpec s;
  s.name = "office";
  s.timezone = tz;
  for (int d = 0; d < 5; ++d) s.weekly[static_cast<std::size_t>(d)] = day;
  return s;
}

}  // namespace

TEST_CASE("business hours skip nights and weekends", "[calendar]") {
  Calendar c(office("Europe/Zagreb"));
  // Friday 27 Nov 2026 14:00 local (13:00Z) + 4 business hours: 2h on Friday, 2h on Monday -> Mon 10:00 local.
  CHECK(c.add_business_time(at("2026-11-27T13:00:00Z"), 4h) == at("2026-11-30T09:00:00Z"));
  // Exactly to closing time stays on the same day.
  CHECK(c.add_business_time(at("2026-11-27T13:00:00Z"), 2h) == at("2026-11-27T15:00:00Z"));
  // From Saturday: counting starts Monday 08:00.
  CHECK(c.add_business_time(at("2026-11-28T10:00:00Z"), 1h) == at("2026-11-30T08:00:00Z"));
  // From just before midnight on a weekday.
  CHECK(c.add_business_time(at("2026-11-24T22:59:00Z"), 30min) == at("2026-11-25T07:30:00Z"));
  CHECK(c.business_time_between(at("2026-11-27T13:00:00Z"), at("2026-11-30T09:00:00Z")) == 4h);
  CHECK(c.business_time_between(at("2026-11-30T09:00:00Z"), at("2026-11-27T13:00:00Z")) == -4h);
  CHECK(c.is_working(at("2026-11-30T07:00:00Z")));       // Monday 08:00 local
  CHECK_FALSE(c.is_working(at("2026-11-30T15:00:00Z")));  // Monday 16:00 local: closed
  CHECK(c.next_open(at("2026-11-28T12:00:00Z")) == at("2026-11-30T07:00:00Z"));
}

TEST_CASE("holidays and exceptions", "[calendar]") {
  auto spec = office("Europe/Zagreb");
  spec.holidays = {year{2026} / December / 25, year{2026} / December / 26};
  spec.exceptions[year{2026} / December / 24] = {{8 * 60, 12 * 60}};  // Christmas Eve: half day
  spec.exceptions[year{2026} / December / 27] = {{9 * 60, 11 * 60}};  // a Sunday opened for a campaign
  Calendar c(spec);
  // Thu 24 Dec 10:00 local + 3 business hours: 2h left on the half day, 1h on Sun 27 (09:00-10:00).
  CHECK(c.add_business_time(at("2026-12-24T09:00:00Z"), 3h) == at("2026-12-27T09:00:00Z"));
  // 1 business day from Wed 23 Dec 15:00 -> Thu 24 Dec, where 15:00 is after the 12:00 close: clamped to 12:00.
  CHECK(c.add_business_days(at("2026-12-23T14:00:00Z"), 1) == at("2026-12-24T11:00:00Z"));
  // 2 business days from Thu 24 Dec 10:00: Sun 27 (the exception) is day 1, Mon 28 is day 2.
  CHECK(c.add_business_days(at("2026-12-24T09:00:00Z"), 2) == at("2026-12-28T09:00:00Z"));
  CHECK_FALSE(c.is_working(at("2026-12-25T09:00:00Z")));
}

TEST_CASE("business days keep the local time; from outside hours they count from the next opening", "[calendar]") {
  Calendar c(office("Europe/Zagreb"));
  // Mon 23 Nov 10:00 local + 2 business days = Wed 25 Nov 10:00 local.
  CHECK(c.add_business_days(at("2026-11-23T09:00:00Z"), 2) == at("2026-11-25T09:00:00Z"));
  // Fri 27 Nov 10:00 + 1 business day = Mon 30 Nov 10:00.
  CHECK(c.add_business_days(at("2026-11-27T09:00:00Z"), 1) == at("2026-11-30T09:00:00Z"));
  // Sat 28 Nov: next opening Mon 08:00, + 2 = Wed 2 Dec 08:00.
  CHECK(c.add_business_days(at("2026-11-28T09:00:00Z"), 2) == at("2026-12-02T07:00:00Z"));
  DurationSpec two_days{TimeBasis::business_days, {}, 2};
  CHECK(c.due(at("2026-11-23T09:00:00Z"), two_days) == at("2026-11-25T09:00:00Z"));
}

TEST_CASE("several working intervals a day", "[calendar]") {
  auto spec = office("Europe/Warsaw", {{8 * 60, 12 * 60}, {13 * 60, 17 * 60}});
  spec.exceptions[year{2026} / November / 23] = {{8 * 60, 17 * 60}};  // Monday without a lunch break
  Calendar c(spec);
  // Tue 24 Nov 10:00 local (09:00Z) + 5h: 2h to noon, lunch, 3h more -> 16:00 local.
  CHECK(c.add_business_time(at("2026-11-24T09:00:00Z"), 5h) == at("2026-11-24T15:00:00Z"));
  CHECK_FALSE(c.is_working(at("2026-11-24T11:30:00Z")));  // 12:30 local: lunch
  CHECK(c.next_open(at("2026-11-24T11:30:00Z")) == at("2026-11-24T12:00:00Z"));
  // From the lunch break, counting starts at the 13:00 opening: next day 13:00 local.
  CHECK(c.add_business_days(at("2026-11-24T11:30:00Z"), 1) == at("2026-11-25T12:00:00Z"));
  // Monday 12:30 is working time; Tuesday 12:30 is lunch, so the due time is clamped to the 12:00 close.
  CHECK(c.add_business_days(at("2026-11-23T11:30:00Z"), 1) == at("2026-11-24T11:00:00Z"));
}

TEST_CASE("DST: spring forward in Budapest", "[calendar][dst]") {
  Calendar c(office("Europe/Budapest"));
  // Fri 27 Mar 2026 15:00 CET (14:00Z) + 2 business hours: 1h Friday, 1h Monday 30 Mar (CEST) -> 09:00 CEST = 07:00Z.
  CHECK(c.add_business_time(at("2026-03-27T14:00:00Z"), 2h) == at("2026-03-30T07:00:00Z"));
  // 1 business day keeps 15:00 local although the offset changed: Mon 30 Mar 15:00 CEST = 13:00Z.
  CHECK(c.add_business_days(at("2026-03-27T14:00:00Z"), 1) == at("2026-03-30T13:00:00Z"));
}

TEST_CASE("DST: fall back in Warsaw", "[calendar][dst]") {
  Calendar c(office("Europe/Warsaw"));
  // Fri 23 Oct 15:00 CEST (13:00Z) + 1 business day = Mon 26 Oct 15:00 CET (14:00Z): 73 wall hours.
  const auto due = c.add_business_days(at("2026-10-23T13:00:00Z"), 1);
  CHECK(due == at("2026-10-26T14:00:00Z"));
  CHECK(due - at("2026-10-23T13:00:00Z") == 73h);
  CHECK(c.business_time_between(at("2026-10-23T13:00:00Z"), due) == 8h);
}

TEST_CASE("DST: boundaries inside the gap or the overlap are defined", "[calendar][dst]") {
  auto spec = office("Europe/Zagreb");
  spec.weekly[6] = {{60, 150}};         // Sunday 01:00-02:30: on 29 Mar 02:30 does not exist
  spec.exceptions[year{2026} / October / 25] = {{150, 240}};  // Sunday 02:30-04:00: 02:30 happens twice
  Calendar c(spec);
  // Gap: 01:00 CET = 00:00Z; 02:30 does not exist and maps to the transition, 02:00 CET = 01:00Z.
  CHECK(c.business_time_between(at("2026-03-29T00:00:00Z"), at("2026-03-29T12:00:00Z")) == 1h);
  // Overlap: a start takes the earlier 02:30 (CEST, 00:30Z), an end 04:00 CET (03:00Z): 2h30 of work.
  CHECK(c.business_time_between(at("2026-10-25T00:00:00Z"), at("2026-10-25T12:00:00Z")) == 150min);
  CHECK(c.next_open(at("2026-10-24T23:00:00Z")) == at("2026-10-25T00:30:00Z"));
}

TEST_CASE("bad calendars are errors, not surprises", "[calendar]") {
  auto bad_zone = office("Europe/Zagrab");
  CHECK_THROWS_WITH(Calendar(bad_zone), Catch::Contains("unknown time zone 'Europe/Zagrab'"));
  CalendarSpec closed;
  closed.name = "never";
  closed.timezone = "Europe/Zagreb";
  CHECK_THROWS_WITH(Calendar(closed), Catch::Contains("has no working time"));
  // Only one opening day, long past: arithmetic stops after ten years instead of looping.
  closed.exceptions[year{2020} / January / 2] = {{8 * 60, 9 * 60}};
  Calendar once(closed);
  CHECK_THROWS_AS(once.add_business_time(at("2026-01-01T00:00:00Z"), 1h), EvalError);
}

TEST_CASE("always_open is wall time", "[calendar]") {
  auto c = Calendar::always_open();
  CHECK(c.add_business_time(at("2026-11-28T10:00:00Z"), 5h) == at("2026-11-28T15:00:00Z"));
  CHECK(c.add_business_days(at("2026-11-28T10:00:00Z"), 2) == at("2026-11-30T10:00:00Z"));
}
