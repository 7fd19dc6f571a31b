// The `date` data type (issue 13): a calendar day in the flow calendar's time zone. Values,
// coercion, expressions (literals, today(), date(), arithmetic, type errors), rule tables, flows
// with date fields, the engine's refusals and a round trip through a stored case.

#include <unistd.h>

#include <fmt/format.h>

#include <filesystem>

#include "escalon/calendar.hpp"
#include "escalon/engine.hpp"
#include "escalon/error.hpp"
#include "escalon/expr.hpp"
#include "escalon/rule_table.hpp"
#include "escalon/store.hpp"
#include "base/hash.hpp"
#include "base/json.hpp"
#include "support.hpp"

using namespace escalon;
using namespace std::chrono_literals;
using escalon::test::at;
using escalon::test::compile;
using K = Type::Kind;

namespace {

Date day(const char* iso) {
  auto d = parse_iso_date(iso);
  REQUIRE(d);
  return *d;
}

CalendarSpec budapest_spec() {
  CalendarSpec s;
  s.name = "budapest";
  s.timezone = "Europe/Budapest";
  s.weekly[0] = {{.start_minute = 8 * 60, .end_minute = 16 * 60}};
  return s;
}

ExprEnv date_env() {
  ExprEnv env;
  env.data["purchase_date"] = Type::of(K::date);
  env.data["slot"] = Type::of(K::datetime);
  env.data["wait"] = Type::of(K::duration);
  env.data["free"] = Type{};
  return env;
}

Value eval_at(const std::string& text, const char* now, const Calendar* cal = nullptr) {
  Map data{{"purchase_date", day("2024-02-29")},
           {"slot", at("2026-12-31T23:30:00Z")},
           {"wait", Duration{36h}},
           {"free", at("2026-01-01T00:00:00Z")}};
  auto e = compile_expression(text, date_env());
  EvalContext ctx;
  ctx.data = &data;
  ctx.now = at(now);
  ctx.calendar = cal;
  return e.evaluate(ctx);
}

std::string compile_message(const std::string& text) {
  try {
    (void)compile_expression(text, date_env());
  } catch (const ExprError& e) {
    return fmt::format("{}: {}", e.offset(), e.message());
  }
  FAIL("no ExprError for: " << text);
  return "";
}

std::string eval_message(const std::string& text) {
  try {
    (void)eval_at(text, "2026-06-01T12:00:00Z");
  } catch (const EvalError& e) {
    return e.message();
  }
  FAIL("no EvalError for: " << text);
  return "";
}

}  // namespace

TEST_CASE("dates parse strictly as YYYY-MM-DD and print as ISO", "[date]") {
  CHECK(day("1970-01-01").days == 0);
  CHECK(day("1970-01-02").days == 1);
  CHECK(day("1969-12-31").days == -1);
  CHECK(format_iso_date(day("2025-06-01")) == "2025-06-01");
  CHECK(format_iso_date(min_date) == "0001-01-01");
  CHECK(format_iso_date(max_date) == "9999-12-31");
  CHECK(day("2024-02-29") < day("2024-03-01"));
  CHECK(parse_iso_date("2000-02-29"));   // divisible by 400: a leap year
  CHECK_FALSE(parse_iso_date("1900-02-29"));  // divisible by 100 only: not one
  CHECK_FALSE(parse_iso_date("2025-02-29"));
  CHECK_FALSE(parse_iso_date("2025-02-30"));
  CHECK_FALSE(parse_iso_date("2025-04-31"));
  CHECK_FALSE(parse_iso_date("2025-13-01"));
  CHECK_FALSE(parse_iso_date("2025-00-10"));
  CHECK_FALSE(parse_iso_date("2025-01-00"));
  CHECK_FALSE(parse_iso_date("0000-01-01"));
  CHECK_FALSE(parse_iso_date("2025-6-1"));
  CHECK_FALSE(parse_iso_date("2025-06-01 "));
  CHECK_FALSE(parse_iso_date("+025-06-01"));
  CHECK_FALSE(parse_iso_date("2025-06-01T00:00:00Z"));
  CHECK(iso_date_problem("2025-02-30") == "February 2025 has 28 days");
  CHECK(iso_date_problem("2024-02-30") == "February 2024 has 29 days");
  CHECK(iso_date_problem("2025-13-01") == "there is no month 13; months are 01 to 12");
  CHECK(iso_date_problem("2025-06-01T10:00:00Z") == "2025-06-01T10:00:00Z is a datetime, not a day; write the day as YYYY-MM-DD");
  CHECK(iso_date_problem("1 June") == "write the day as YYYY-MM-DD, e.g. 2025-06-01");
}

TEST_CASE("a date value is a kind of its own and Value stays small", "[date]") {
  const Value v = day("2025-06-01");
  CHECK(v.kind() == Value::Kind::date);
  CHECK(kind_name(v.kind()) == "date");
  CHECK(v.to_json() == "\"2025-06-01\"");
  CHECK(v.to_display() == "2025-06-01");
  CHECK(v == Value(day("2025-06-01")));
  CHECK_FALSE(v == Value("2025-06-01"));
  CHECK_FALSE(v == Value(at("2025-06-01T00:00:00Z")));
  CHECK_THROWS_AS(Value("2025-06-01").as_date(), DataError);
  CHECK(sizeof(Value) <= sizeof(std::string) + sizeof(void*));
  // Kind numbers are hashed into stored key fingerprints: the old kinds keep theirs.
  CHECK(static_cast<int>(Value::Kind::map) == 8);
  CHECK(static_cast<int>(Value::Kind::date) == 9);
  detail::StableHash a, b;
  a.value(v);
  b.value(Value(day("2025-06-02")));
  CHECK(a.h != b.h);
  // Untyped CLI data: an ISO day becomes a date, as an ISO instant becomes a datetime.
  const auto j = nlohmann::ordered_json::parse(R"(["2025-06-01", "2025-02-30", "2025-06-01T00:00:00Z"])");
  const Value l = detail::value_from_json(j, detail::JsonStrings::iso_datetimes);
  CHECK(l.as_list()[0].kind() == Value::Kind::date);
  CHECK(l.as_list()[1].kind() == Value::Kind::string);
  CHECK(l.as_list()[2].kind() == Value::Kind::datetime);
  CHECK(detail::value_from_json(j).as_list()[0].kind() == Value::Kind::string);
}

TEST_CASE("the date type accepts ISO days and refuses datetimes with a clear message", "[date]") {
  const Type t = Type::of(K::date);
  CHECK(t.str() == "date");
  CHECK(Type::list_of(t).str() == "list<date>");
  CHECK(t.accepts(Value(day("2025-06-01"))));
  CHECK(t.accepts(Value()));
  CHECK_FALSE(t.accepts(Value("2025-06-01")));
  CHECK(t.coerce(Value("2024-02-29"), "d") == Value(day("2024-02-29")));
  CHECK(Type::list_of(t).coerce(Value(List{"2025-06-01"}), "l") == Value(List{day("2025-06-01")}));
  const auto message = [&](const Value& v) {
    try {
      (void)t.coerce(v, "purchase_date");
    } catch (const DataError& e) {
      return std::string(e.message());
    }
    return std::string("accepted");
  };
  CHECK(message(Value("2025-02-30")) == "purchase_date: \"2025-02-30\" is not a date: February 2025 has 28 days");
  CHECK(message(Value("2025-06-01T08:00:00Z")) ==
        "purchase_date: \"2025-06-01T08:00:00Z\" is not a date: 2025-06-01T08:00:00Z is a datetime, not a day; write "
        "the day as YYYY-MM-DD");
  CHECK(message(Value(at("2025-06-01T08:00:00Z"))) ==
        "purchase_date: 2025-06-01T08:00:00Z is a datetime, but a date (a day, YYYY-MM-DD) is needed; which day an "
        "instant falls on depends on the time zone, so give the day itself");
  CHECK(message(Value(20250601)) == "purchase_date: expected date, got int 20250601");
  // And the other way: a day is not an instant.
  CHECK_THROWS_AS(Type::of(K::datetime).coerce(Value(day("2025-06-01")), "slot"), DataError);
}

TEST_CASE("date literals, date() and date arithmetic in expressions", "[date][expr]") {
  const char* now = "2026-06-01T12:00:00Z";
  CHECK(eval_at("2025-06-01", now) == Value(day("2025-06-01")));
  CHECK(compile_expression("2025-06-01", date_env()).type().kind == K::date);
  CHECK(eval_at("date('2025-06-01')", now) == Value(day("2025-06-01")));
  CHECK(eval_at("date(purchase_date)", now) == Value(day("2024-02-29")));
  CHECK(eval_at("date(null)", now).is_null());
  CHECK(eval_at("purchase_date + 1 day", now) == Value(day("2024-03-01")));
  CHECK(eval_at("purchase_date + 1d", now) == Value(day("2024-03-01")));
  CHECK(eval_at("1w + purchase_date", now) == Value(day("2024-03-07")));
  CHECK(eval_at("purchase_date - 60 days", now) == Value(day("2023-12-31")));
  CHECK(eval_at("purchase_date + 365 days", now) == Value(day("2025-02-28")));  // no 29 February in 2025
  CHECK(eval_at("2025-03-01 - 2025-02-01", now) == Value(Duration{28 * 24h}));
  CHECK(eval_at("2024-03-01 - 2024-02-01", now) == Value(Duration{29 * 24h}));
  CHECK(eval_at("2025-01-01 - 2025-01-02", now) == Value(Duration{-24h}));
  CHECK(eval_at("to_hours(2025-01-02 - 2025-01-01)", now) == Value(24.0));
  CHECK(compile_expression("purchase_date - 2025-01-01", date_env()).type().kind == K::duration);
  CHECK(eval_at("today() - purchase_date > 730 days", now) == Value(true));    // 823 days
  CHECK(eval_at("today() - purchase_date > 830 days", now) == Value(false));
  CHECK(eval_at("today() - purchase_date == 823 days", now) == Value(true));
  CHECK(eval_at("1 hour 30 minutes", now) == Value(Duration{90min}));
  CHECK(eval_at("2 weeks", now) == Value(Duration{14 * 24h}));
  // Comparisons, min/max, string(), membership.
  CHECK(eval_at("purchase_date < 2024-03-01 && purchase_date >= 2024-02-29 && purchase_date != 2024-02-28", now) == Value(true));
  CHECK(eval_at("purchase_date == date('2024-02-29')", now) == Value(true));
  CHECK(eval_at("max(purchase_date, 2025-01-01, null)", now) == Value(day("2025-01-01")));
  CHECK(eval_at("string(purchase_date)", now) == Value("2024-02-29"));
  CHECK(eval_at("purchase_date in [2024-02-29, 2025-01-01]", now) == Value(true));
  CHECK(eval_at("is_set(purchase_date) ? purchase_date : 2025-01-01", now) == Value(day("2024-02-29")));
  // Null propagates as for datetimes.
  CHECK(eval_at("date(free.x) + 1d", now).is_null());
}

TEST_CASE("today() and date(datetime) use the calendar's time zone: 23:30 UTC on 31 December is 1 January in Budapest",
          "[date][expr]") {
  const Calendar budapest(budapest_spec());
  const Calendar utc = Calendar::always_open();
  const char* late = "2026-12-31T23:30:00Z";
  CHECK(eval_at("today()", late, &budapest) == Value(day("2027-01-01")));
  CHECK(eval_at("today()", late, &utc) == Value(day("2026-12-31")));
  CHECK(eval_at("today()", late) == Value(day("2026-12-31")));  // no calendar: UTC
  CHECK(eval_at("date(slot)", late, &budapest) == Value(day("2027-01-01")));
  CHECK(eval_at("date(slot)", late) == Value(day("2026-12-31")));
  // Summer: CEST is UTC+2, so 22:00 UTC is already the next day; 21:59 is not.
  CHECK(eval_at("today()", "2026-07-31T22:00:00Z", &budapest) == Value(day("2026-08-01")));
  CHECK(eval_at("today()", "2026-07-31T21:59:59Z", &budapest) == Value(day("2026-07-31")));
  CHECK(budapest.day_of(at("2024-02-28T23:00:00Z")) == day("2024-02-29"));
  // The range's last instant is a day past 9999-12-31 in Budapest: an error, not a wrapped day.
  CHECK_THROWS_AS(budapest.day_of(max_time), EvalError);
  CHECK(utc.day_of(max_time) == max_date);
}

TEST_CASE("date type errors are found at compile time with their offset", "[date][expr]") {
  CHECK(compile_message("purchase_date < slot") ==
        "14: cannot order date and datetime; take the day of the datetime with date(x) (in the flow calendar's time zone)");
  CHECK(compile_message("slot == purchase_date") ==
        "5: cannot compare datetime with date; take the day of the datetime with date(x) (in the flow calendar's time zone)");
  CHECK(compile_message("purchase_date - slot") ==
        "14: cannot apply '-' to date and datetime; take the day of the datetime with date(x) (in the flow calendar's time zone)");
  CHECK(compile_message("purchase_date == '2024-02-29'") == "14: cannot compare date with string");
  CHECK(compile_message("purchase_date + 36h") ==
        "14: a date moves by whole days, and 1d12h is not a whole number of days; use a datetime for times of day");
  CHECK(compile_message("purchase_date - -90m") ==
        "14: a date moves by whole days, and -1h30m is not a whole number of days; use a datetime for times of day");
  CHECK(compile_message("purchase_date + purchase_date") == "14: cannot apply '+' to date and date");
  CHECK(compile_message("purchase_date * 2") == "14: cannot apply '*' to date and int");
  CHECK(compile_message("-purchase_date") == "0: cannot negate a date");
  CHECK(compile_message("2025-02-30") == "0: 2025-02-30 is not a valid date: February 2025 has 28 days");
  CHECK(compile_message("date('2025-02-30')") == "5: '2025-02-30' is not a date: February 2025 has 28 days");
  CHECK(compile_message("date(3)") == "5: date() needs a datetime, a date or text YYYY-MM-DD here, got int");
  CHECK(compile_message("date()") == "0: date() takes 1 argument, got 0");
  CHECK(compile_message("today(1)") == "0: today() takes 0 arguments, got 1");
  CHECK(compile_message("today") == "0: unknown name 'today'; declare it under `data:`, or quote it to write text: 'today'");
  CHECK(compile_message("business_hours_between(today(), slot)") ==
        "23: business_hours_between() needs a datetime here, got date");
  ExprEnv env = date_env();
  env.expected = Type::of(K::datetime);
  try {
    (void)compile_expression("purchase_date + 1d", env);
    FAIL("a date where a datetime is needed compiled");
  } catch (const ExprError& e) {
    CHECK(e.message() == "this expression gives date, but datetime is needed here");
  }
}

TEST_CASE("date arithmetic that only run-time data decides is an EvalError naming it", "[date][expr]") {
  CHECK(eval_message("purchase_date + wait") ==
        "in 'purchase_date + wait': 2024-02-29 + 1d12h: a date moves by whole days, and 1d12h is not a whole number of days");
  CHECK(eval_message("9999-12-31 + 1d") == "in '9999-12-31 + 1d': 9999-12-31 + 1d is outside the supported dates (years 1 to 9999)");
  CHECK(eval_message("0001-01-01 - 1d") == "in '0001-01-01 - 1d': 0001-01-01 - 1d is outside the supported dates (years 1 to 9999)");
  CHECK(eval_message("free < purchase_date") ==
        "in 'free < purchase_date': cannot order datetime and date; take the day of the datetime with date(x)");
}

TEST_CASE("a rule table with a date column compares ISO date cells", "[date][rules]") {
  auto flows = compile(R"(flow: warranty
data:
  purchase_date: date
  handover: { type: date, default: 2025-06-01 }
rules:
  coverage:
    hit: first
    inputs: [purchase_date]
    outputs: { plan: string, ends: date }
    rows:
      - [">= 2025-01-01", new, 2027-01-01]
      - ["2024-02-29", leap, "purchase_date + 730d"]
      - ["in [2023-05-01, 2023-05-02]", may, null]
      - [-, old, 2024-12-31]
start: a
steps:
  a: { on: { done: z } }
  z: { end: true }
)");
  const auto& f = *flows.front();
  REQUIRE(f.find_field("handover"));
  CHECK(f.find_field("handover")->default_value == Value(day("2025-06-01")));
  ExprEnv env;
  for (const auto& d : f.data) env.data[d.name] = d.type;
  env.rules = &f.rules;
  auto e = compile_expression("rule('coverage')", env);
  const auto row = [&](const char* purchase) {
    Map data{{"purchase_date", day(purchase)}};
    EvalContext ctx;
    ctx.data = &data;
    ctx.rules = &f.rules;
    return e.evaluate(ctx);
  };
  CHECK(row("2025-03-01") == Value(Map{{"plan", "new"}, {"ends", day("2027-01-01")}}));
  CHECK(row("2024-02-29") == Value(Map{{"plan", "leap"}, {"ends", day("2026-02-28")}}));
  CHECK(row("2023-05-02") == Value(Map{{"plan", "may"}, {"ends", Value()}}));
  CHECK(row("2023-05-03") == Value(Map{{"plan", "old"}, {"ends", day("2024-12-31")}}));
}

namespace {
const char* warranty_flow = R"(flow: warranty
calendar: budapest
calendars:
  budapest:
    timezone: Europe/Budapest
    hours: { mon-fri: "08:00-16:00" }
data:
  purchase_date: { type: date, required: true }
  repairs: { type: list, of: date }
  handover: { type: date, default: 2025-06-01 }
  opened: date
  claimed: date
start: check
steps:
  check:
    on_enter:
      - { set: { opened: today() } }
    form:
      claimed: { type: date, required: true }
    on:
      claim:
        - { to: expired, when: "event.claimed - purchase_date > 730 days" }
        - { to: covered, set: { repairs: "repairs + [event.claimed]" } }
  covered: { end: true, outcome: covered }
  expired: { end: true, outcome: expired }
)";
}  // namespace

TEST_CASE("a flow with date fields runs on the calendar's day and refuses bad ISO days as bad_data", "[date][runtime]") {
  ManualClock clock{"2026-12-31T23:30:00Z"};
  Engine engine({.clock = &clock});
  engine.add_flows(compile(warranty_flow));
  const auto id = engine.start("warranty", {{"purchase_date", "2024-02-29"}, {"repairs", List{"2025-01-15"}}});
  auto c = engine.get(id);
  CHECK(c.data.at("purchase_date") == Value(day("2024-02-29")));
  CHECK(c.data.at("repairs") == Value(List{day("2025-01-15")}));
  CHECK(c.data.at("handover") == Value(day("2025-06-01")));
  CHECK(c.data.at("opened") == Value(day("2027-01-01")));  // already 1 January in Budapest
  const auto refusal = [&](const std::function<void()>& f) -> std::string {
    try {
      f();
    } catch (const EventError& e) {
      return fmt::format("{}: {}", refusal_name(e.code()), e.message());
    }
    return "accepted";
  };
  CHECK_THAT(refusal([&] { (void)engine.start("warranty", {{"purchase_date", "2025-02-30"}}); }),
             Catch::StartsWith("bad_data: ") && Catch::Contains("\"2025-02-30\" is not a date: February 2025 has 28 days"));
  CHECK_THAT(refusal([&] { (void)engine.start("warranty", {{"purchase_date", at("2025-02-03T10:00:00Z")}}); }),
             Catch::StartsWith("bad_data: ") && Catch::Contains("is a datetime, but a date"));
  CHECK_THAT(refusal([&] { (void)engine.start("warranty", {{"purchase_date", Date{max_date.days + 1}}}); }),
             Catch::StartsWith("bad_data: ") && Catch::Contains("outside years 1 to 9999"));
  CHECK_THAT(refusal([&] { engine.send(id, "claim", {{"claimed", "2026-02-29"}}); }),
             Catch::StartsWith("bad_data: ") && Catch::Contains("February 2026 has 28 days"));
  CHECK_THAT(refusal([&] { engine.update(id, {{"handover", "1 June"}}); }), Catch::StartsWith("bad_data: "));
  CHECK(engine.get(id).steps == std::vector<std::string>{"check"});
  engine.send(id, "claim", {{"claimed", "2026-02-28"}});  // 730 days after 2024-02-29
  c = engine.get(id);
  CHECK(c.outcome == "covered");
  CHECK(c.data.at("repairs") == Value(List{day("2025-01-15"), day("2026-02-28")}));
  const auto late = engine.start("warranty", {{"purchase_date", day("2024-02-29")}});
  engine.send(late, "claim", {{"claimed", day("2026-03-01")}});  // 731 days
  CHECK(engine.get(late).outcome == "expired");
}

TEST_CASE("date fields survive a stored case exactly: SQLite round trip", "[date][store]") {
  const auto path = std::filesystem::temp_directory_path() / fmt::format("escalon-date-{}.db", ::getpid());
  std::filesystem::remove(path);
  ManualClock clock{"2026-12-31T23:30:00Z"};
  const auto flows = compile(warranty_flow);
  std::string id;
  Map before;
  {
    auto store = open_store("sqlite:" + path.string());
    Engine engine({.clock = &clock, .store = store.get()});
    engine.add_flows(flows);
    id = engine.start("warranty", {{"purchase_date", "0001-01-01"}, {"repairs", List{"9999-12-31", "2024-02-29"}}});
    before = engine.get(id).data;
  }
  {
    // The journal keeps the ISO days too.
    auto store = open_store("sqlite:" + path.string() + "?mode=ro");
    std::string journal;
    for (const auto& r : store->history(id)) journal += r.to_json();
    CHECK_THAT(journal, Catch::Contains("\"0001-01-01\"") && Catch::Contains("\"2027-01-01\""));
  }
  auto store = open_store("sqlite:" + path.string());
  Engine engine({.clock = &clock, .store = store.get()});
  engine.add_flows(flows);
  CHECK(engine.recover() == 1);
  const Map after = engine.get(id).data;
  CHECK(after == before);
  CHECK(after.at("purchase_date").kind() == Value::Kind::date);
  CHECK(after.at("purchase_date") == Value(min_date));
  CHECK(after.at("repairs") == Value(List{max_date, day("2024-02-29")}));
  CHECK(after.at("opened") == Value(day("2027-01-01")));
  engine.send(id, "claim", {{"claimed", "2001-01-01"}});
  CHECK(engine.get(id).outcome == "expired");
  std::filesystem::remove(path);
  std::filesystem::remove(path.string() + "-wal");
  std::filesystem::remove(path.string() + "-shm");
  std::filesystem::remove(path.string() + "-lock");
}
