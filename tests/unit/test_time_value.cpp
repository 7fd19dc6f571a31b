#include "support.hpp"

#include "escalon/error.hpp"
#include "escalon/time.hpp"
#include "escalon/value.hpp"
#include "base/json.hpp"
#include "base/suggest.hpp"

#include <limits>

using namespace escalon;
using namespace std::chrono_literals;

TEST_CASE("ISO-8601 instants parse with offsets and print canonically", "[time]") {
  auto t = parse_iso8601("2026-11-23T08:00:00Z");
  REQUIRE(t);
  CHECK(format_iso8601(*t) == "2026-11-23T08:00:00Z");
  auto z = parse_iso8601("2026-11-23T09:00:00+01:00");
  REQUIRE(z);
  CHECK(*z == *t);
  auto ms = parse_iso8601("2026-11-23T08:00:00.250Z");
  REQUIRE(ms);
  CHECK(format_iso8601(*ms) == "2026-11-23T08:00:00.250Z");
  // Before 1970 the milliseconds count down: the second is floored, not truncated.
  CHECK(format_iso8601(TimePoint{Duration{-1}}) == "1969-12-31T23:59:59.999Z");
  CHECK(format_iso8601(TimePoint{Duration{-86'400'000}}) == "1969-12-31T00:00:00Z");
  CHECK(format_iso8601(*parse_iso8601("2024-02-29T23:59:59.001Z")) == "2024-02-29T23:59:59.001Z");
  CHECK_FALSE(parse_iso8601("2026-11-23T08:00:00"));  // no offset: not one instant
  CHECK_FALSE(parse_iso8601("2026-11-23"));
  CHECK_FALSE(parse_iso8601("yesterday"));
  CHECK_FALSE(parse_iso8601("2026-11-23T08:00:00Zjunk"));
}

TEST_CASE("ISO-8601 instants: only the exact shape, with offsets up to 23:59, reaches the date parser",
          "[time][hardening]") {
  CHECK(parse_iso8601("2026-11-23T08:00:00+23:59"));
  CHECK(parse_iso8601("2026-11-23T08:00:00-0130") == parse_iso8601("2026-11-23T09:30:00Z"));
  CHECK_FALSE(parse_iso8601("2026-11-23T08:00:00+99:00"));  // was 4 days 3 hours earlier
  CHECK_FALSE(parse_iso8601("2026-11-23T08:00:00+24:00"));
  CHECK_FALSE(parse_iso8601("2026-11-23T08:60:00Z"));
  CHECK_FALSE(parse_iso8601("2026-1-23T08:00:00Z"));
  CHECK_FALSE(parse_iso8601("-nan-11-23T08:00:00Z"));       // UBSan: a NaN converted to long in date::parse
  CHECK_FALSE(parse_iso8601("2026-11-23T08:00:-9223372036854775808Z"));
  CHECK_FALSE(parse_iso8601("2026-02-30T08:00:00Z"));       // the calendar is still date's to check
  CHECK_FALSE(parse_iso8601("2026-11-23T08:00:00.Z"));
  CHECK_FALSE(parse_iso8601(""));
}

TEST_CASE("duration specs: wall time and business time", "[time]") {
  CHECK(parse_duration_spec("15 minutes") == DurationSpec{TimeBasis::wall, 15min, 0});
  CHECK(parse_duration_spec("90s").length == 90s);
  CHECK(parse_duration_spec("2h").length == 2h);
  CHECK(parse_duration_spec("1h30m").length == 90min);
  CHECK(parse_duration_spec("3 days").length == 72h);
  CHECK(parse_duration_spec("1 week").length == 168h);
  auto bh = parse_duration_spec("4 business hours");
  CHECK(bh.basis == TimeBasis::business_hours);
  CHECK(bh.length == 4h);
  auto bd = parse_duration_spec("2 business days");
  CHECK(bd.basis == TimeBasis::business_days);
  CHECK(bd.days == 2);
  CHECK(bd.str() == "2 business days");
  CHECK(parse_duration_spec("1 business day").str() == "1 business day");
  CHECK(parse_duration_spec("30 business minutes").str() == "30 business minutes");
  CHECK_THROWS_WITH(parse_duration_spec("15 minuts"), Catch::Contains("unknown unit \"minuts\""));
  CHECK_THROWS_WITH(parse_duration_spec("soon"), Catch::Contains("expected a whole number"));
  CHECK_THROWS_WITH(parse_duration_spec("5"), Catch::Contains("has no unit"));
  CHECK_THROWS_WITH(parse_duration_spec("1h 2 business hours"), Catch::Contains("cannot be combined"));
  CHECK_THROWS_WITH(parse_duration("2 business days"), Catch::Contains("business time"));
  CHECK(format_duration(90min) == "1h30m");
  CHECK(format_duration(-2h) == "-2h");
  CHECK(format_duration(Duration{0}) == "0s");
}

TEST_CASE("values: construction, equality, JSON", "[value]") {
  Value m{{"customer", "ACME"}, {"parts_needed", true}, {"count", 3}};
  CHECK(m.kind() == Value::Kind::map);
  CHECK(m.find("customer")->as_string() == "ACME");
  CHECK(m.find("missing") == nullptr);
  CHECK(m.to_json() == R"({"count":3,"customer":"ACME","parts_needed":true})");
  CHECK(Value(2) == Value(2.0));
  CHECK_FALSE(Value("2") == Value(2));
  CHECK(Value(List{1, "a"}).to_json() == R"([1,"a"])");
  CHECK(Value(*parse_iso8601("2026-11-23T08:00:00Z")).to_json() == R"("2026-11-23T08:00:00Z")");
  CHECK(Value(Duration{90s}).to_json() == R"("1m30s")");
  CHECK(Value("quote\"d").to_json() == R"("quote\"d")");
  CHECK_THROWS_AS(Value("x").as_int(), DataError);
}

TEST_CASE("types accept, coerce and reject values with clear messages", "[value]") {
  auto prio = Type::enumeration({"normal", "high"});
  CHECK(prio.accepts(Value("high")));
  CHECK_FALSE(prio.accepts(Value("hgh")));
  CHECK(prio.accepts(Value()));  // null = not set
  CHECK_THROWS_WITH(prio.coerce(Value("hgh"), "priority"), "priority: \"hgh\" is not one of normal, high");
  auto dt = Type::of(Type::Kind::datetime);
  CHECK(dt.coerce(Value("2026-11-23T08:00:00Z"), "slot").kind() == Value::Kind::datetime);
  CHECK_THROWS_WITH(dt.coerce(Value("tomorrow"), "slot"), Catch::Contains("slot: \"tomorrow\" is not a datetime"));
  CHECK(Type::of(Type::Kind::number).coerce(Value(2), "x").kind() == Value::Kind::number);
  CHECK(Type::of(Type::Kind::integer).coerce(Value(2.0), "x").as_int() == 2);
  CHECK_THROWS_WITH(Type::of(Type::Kind::integer).coerce(Value(2.5), "n"), "n: expected int, got number 2.5");
  CHECK(Type::of(Type::Kind::duration).coerce(Value("15m"), "d").as_duration() == 15min);
  auto lst = Type::list_of(Type::of(Type::Kind::datetime));
  CHECK(lst.str() == "list<datetime>");
  CHECK_THROWS_WITH(lst.coerce(Value(List{"2026-11-23T08:00:00Z", "x"}), "slots"), Catch::Contains("slots[1]"));
}

TEST_CASE("JSON nested without end is a DataError, not a stack overflow; unsigned overflow is refused",
          "[value][hardening]") {
  const std::string deep = std::string(100000, '[') + std::string(100000, ']');
  const auto j = nlohmann::ordered_json::parse(deep);
  CHECK_THROWS_WITH(detail::value_from_json(j), Catch::Contains("nested deeper than 64 levels"));
  const auto ok = nlohmann::ordered_json::parse(std::string(63, '[') + std::string(63, ']'));
  CHECK(detail::value_from_json(ok).kind() == Value::Kind::list);
  CHECK_THROWS_WITH(detail::value_from_json(nlohmann::ordered_json::parse("18446744073709551615")),
                    Catch::Contains("does not fit a 64-bit int"));
  CHECK(detail::value_from_json(nlohmann::ordered_json::parse("9223372036854775807")) ==
        Value(std::numeric_limits<std::int64_t>::max()));
}

TEST_CASE("did-you-mean suggests among a flow's names, and stays cheap for hostile ones", "[hardening]") {
  std::vector<std::string> names{"intake", "schedule", "visit", "closed"};
  CHECK(detail::did_you_mean("sheduel", names) == "; did you mean 'schedule'?");
  CHECK(detail::did_you_mean("zzzzzz", names).empty());
  for (int i = 0; i < 5000; ++i) names.push_back("step" + std::to_string(i));
  CHECK(detail::did_you_mean("sheduel", names).empty());  // past max_suggestion_candidates: none
  CHECK(detail::did_you_mean(std::string(100000, 'x'), std::vector<std::string>{"x"}).empty());
}

TEST_CASE("JSON text: integers past int64 on either side, numbers past a double and syntax errors are DataErrors",
          "[value][hardening]") {
  // nlohmann makes -9223372036854775809 (and anything above UINT64_MAX) a double; above
  // INT64_MAX was refused, below INT64_MIN came through as -9.223372036854776e+18.
  CHECK_THROWS_WITH(detail::parse_json(R"({"n": -9223372036854775809})", "--data"),
                    "-9223372036854775809 does not fit a 64-bit int");
  CHECK_THROWS_WITH(detail::parse_json("[99999999999999999999]", "--data"), "99999999999999999999 does not fit a 64-bit int");
  CHECK_THROWS_WITH(detail::value_from_json(detail::parse_json("9223372036854775808", "--data")),
                    "9223372036854775808 does not fit a 64-bit int");
  CHECK(detail::value_from_json(detail::parse_json("-9223372036854775808", "--data")) ==
        Value(std::numeric_limits<std::int64_t>::min()));
  CHECK(detail::value_from_json(detail::parse_json("-1e19", "--data")) == Value(-1e19));  // a float literal stays one
  CHECK_THROWS_WITH(detail::parse_json(R"({"n": 1e400})", "--data"),
                    "--data: the number 1e400 at line 1, column 11 is out of range (a number must fit a double: at most about 1.8e308)");
  CHECK_THROWS_WITH(detail::parse_json("{o", "--data"),
                    "--data is not valid JSON at line 1, column 2: syntax error while parsing object key - invalid literal; "
                    "last read: '{o'; expected string literal");
}
