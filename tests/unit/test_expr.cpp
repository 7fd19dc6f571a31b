#include <fmt/format.h>

#include <limits>

#include "support.hpp"

#include "escalon/calendar.hpp"
#include "escalon/error.hpp"
#include "escalon/expr.hpp"
#include "escalon/loader.hpp"

using namespace escalon;
using namespace std::chrono_literals;
using K = Type::Kind;

namespace {

ExprEnv sample_env() {
  ExprEnv env;
  env.data["priority"] = Type::enumeration({"normal", "high", "urgent"});
  env.data["parts_needed"] = Type::of(K::boolean);
  env.data["count"] = Type::of(K::integer);
  env.data["ratio"] = Type::of(K::number);
  env.data["customer"] = Type::of(K::string);
  env.data["slot"] = Type::of(K::datetime);
  env.data["wait"] = Type::of(K::duration);
  env.data["tags"] = Type::list_of(Type::of(K::string));
  env.data["info"] = Type::of(K::map);
  return env;
}

Map sample_data() {
  return Map{{"priority", "high"},
             {"parts_needed", true},
             {"count", 3},
             {"ratio", 0.5},
             {"customer", "ACME d.o.o."},
             {"slot", *parse_iso8601("2026-11-24T10:00:00Z")},
             {"wait", Duration{2h}},
             {"tags", List{"vip", "tv"}},
             {"info", Map{{"tier", "gold"}}}};
}

Value eval(const std::string& text, ExprEnv env = sample_env()) {
  auto data = sample_data();
  auto e = compile_expression(text, env);
  EvalContext ctx;
  ctx.data = &data;
  ctx.now = *parse_iso8601("2026-11-23T08:00:00Z");
  return e.evaluate(ctx);
}

// The ExprError that compiling `text` must raise.
ExprError compile_error(const std::string& text, const ExprEnv& env) {
  try {
    (void)compile_expression(text, env);
  } catch (const ExprError& e) {
    return e;
  }
  FAIL("no ExprError for: " << text);
  return ExprError("", 0);
}

std::size_t error_offset(const std::string& text, ExprEnv env = sample_env()) { return compile_error(text, env).offset(); }
std::string error_message(const std::string& text, ExprEnv env = sample_env()) { return compile_error(text, env).message(); }

}  // namespace

TEST_CASE("literals and precedence", "[expr]") {
  CHECK(eval("1 + 2 * 3") == Value(7));
  CHECK(eval("(1 + 2) * 3") == Value(9));
  CHECK(eval("10 - 4 - 3") == Value(3));  // left-associative
  CHECK(eval("7 % 3") == Value(1));
  CHECK(eval("7 / 2") == Value(3.5));
  CHECK(eval("-3 + 1") == Value(-2));
  CHECK(eval("'a' + \"b\"") == Value("ab"));
  CHECK(eval("'it\\'s'") == Value("it's"));
  CHECK(eval("true && !false") == Value(true));
  CHECK(eval("false || true && false") == Value(false));  // && binds tighter
  CHECK(eval("1 < 2 == true") == Value(true));
  CHECK(eval("null == null") == Value(true));
  CHECK(eval("[1, 2, 3][1]") == Value(2));
  CHECK(eval("[1, 2, 3][-1]") == Value(3));
  CHECK(eval("[1, 2][5]") == Value());
  CHECK(eval("count > 2 ? 'many' : 'few'") == Value("many"));
  CHECK(eval("1.5e1") == Value(15.0));
}

TEST_CASE("durations and datetimes", "[expr]") {
  CHECK(eval("90s") == Value(Duration{90s}));
  CHECK(eval("1h30m") == Value(Duration{90min}));
  CHECK(eval("2h * 3") == Value(Duration{6h}));
  CHECK(eval("slot - 2h") == Value(*parse_iso8601("2026-11-24T08:00:00Z")));
  CHECK(eval("slot - now()") == Value(Duration{26h}));
  CHECK(eval("2026-11-23T08:00:00Z + 1d") == Value(*parse_iso8601("2026-11-24T08:00:00Z")));
  CHECK(eval("2026-11-23T09:00:00+01:00 == 2026-11-23T08:00:00Z") == Value(true));
  CHECK(eval("slot > now()") == Value(true));
  CHECK(eval("wait / 30m") == Value(4.0));
  CHECK(eval("to_hours(wait)") == Value(2.0));
  CHECK(eval("to_minutes(90s)") == Value(1.5));
}

TEST_CASE("names, enums, members and membership", "[expr]") {
  CHECK(eval("parts_needed") == Value(true));
  CHECK(eval("priority == high") == Value(true));      // bare enum value
  CHECK(eval("high == priority") == Value(true));      // either side
  CHECK(eval("priority in [high, urgent]") == Value(true));
  CHECK(eval("priority not in [normal]") == Value(true));
  CHECK(eval("priority == 'normal'") == Value(false));
  CHECK(eval("info.tier") == Value("gold"));
  CHECK(eval("info.missing") == Value());
  CHECK(eval("'vip' in tags") == Value(true));
  CHECK(eval("'ACME' in customer") == Value(true));
  CHECK(eval("'tier' in info") == Value(true));
  CHECK(eval("len(tags) + len(customer)") == Value(13));
}

TEST_CASE("function library", "[expr]") {
  CHECK(eval("lower(customer)") == Value("acme d.o.o."));
  CHECK(eval("upper('x')") == Value("X"));
  CHECK(eval("trim('  x ')") == Value("x"));
  CHECK(eval("starts_with(customer, 'AC')") == Value(true));
  CHECK(eval("ends_with(customer, 'x')") == Value(false));
  CHECK(eval("contains(tags, 'tv')") == Value(true));
  CHECK(eval("min(3, 1, 2)") == Value(1));
  CHECK(eval("max(1, 2.5)") == Value(2.5));
  CHECK(eval("max(slot, now())") == Value(*parse_iso8601("2026-11-24T10:00:00Z")));
  CHECK(eval("abs(-4)") == Value(4));
  CHECK(eval("round(2.5)") == Value(3));
  CHECK(eval("floor(2.7)") == Value(2));
  CHECK(eval("ceil(2.1)") == Value(3));
  CHECK(eval("coalesce(null, customer)") == Value("ACME d.o.o."));
  CHECK(eval("is_set(info.missing)") == Value(false));
  CHECK(eval("string(count)") == Value("3"));
  CHECK(eval("string(slot)") == Value("2026-11-24T10:00:00Z"));
  CHECK(eval("string(wait)") == Value("2h"));
  CHECK(eval("string(tags)") == Value(R"(["vip","tv"])"));
  CHECK(eval("now()") == Value(*parse_iso8601("2026-11-23T08:00:00Z")));
}

TEST_CASE("null propagates instead of failing", "[expr]") {
  ExprEnv env = sample_env();
  Map data;  // nothing set
  EvalContext ctx;
  ctx.data = &data;
  CHECK(compile_expression("count + 1", env).evaluate(ctx).is_null());
  CHECK(compile_expression("slot - 1h", env).evaluate(ctx).is_null());
  CHECK_FALSE(compile_expression("count > 1", env).test(ctx));
  CHECK_FALSE(compile_expression("parts_needed", env).test(ctx));
  CHECK(compile_expression("!parts_needed", env).test(ctx));
  CHECK(compile_expression("slot == null", env).test(ctx));
}

TEST_CASE("run-time failures are EvalErrors naming the expression", "[expr]") {
  CHECK_THROWS_WITH(eval("count / 0"), "in 'count / 0': division by zero");
  CHECK_THROWS_WITH(eval("count % 0"), Catch::Contains("modulo by zero"));
  CHECK_THROWS_WITH(eval("9223372036854775807 + count"), Catch::Contains("integer overflow"));
  // `info` is a free-form map: its fields are only known at run time.
  CHECK_THROWS_AS(eval("info.tier > 3"), EvalError);
}

TEST_CASE("type errors are found at compile time with their offset", "[expr]") {
  CHECK(error_message("priority == hgih") == "unknown name 'hgih': not a data field, nor one of normal, high, urgent; did you mean 'high'?");
  CHECK(error_offset("priority == hgih") == 12);
  CHECK(error_message("priority == 'hgih'") == "'hgih' is not one of normal, high, urgent; did you mean 'high'?");
  CHECK(error_message("parts_neded") == "unknown name 'parts_neded'; did you mean 'parts_needed'?");
  CHECK(error_message("slot > 5") == "cannot order datetime and int");
  CHECK(error_offset("count +  slot") == 6);
  CHECK(error_message("count + slot") == "cannot apply '+' to int and datetime");
  CHECK(error_message("customer.name") == "'customer' is a string, it has no field 'name'");
  CHECK(error_message("lenght(customer)") == "unknown function 'lenght'; docs/expressions.md lists the functions");
  CHECK(error_message("len(count)") == "len() needs a string, list or map here, got int");
  CHECK(error_message("len()") == "len() takes 1 argument, got 0");
  CHECK(error_message("count && true") == "'&&' needs bool operands, this one is int");
  CHECK(error_message("rule('x')") == "unknown rule table 'x'; declare it under `rules:`");
  CHECK(error_message("event.slot") == "unknown name 'event'; `event` exists only where an event is handled (transitions, forms)");
  CHECK(error_message("?") == "'?' (the tested value) can only be used in rule table cells");
  ExprEnv guard = sample_env();
  guard.expected = Type::of(K::boolean);
  CHECK(error_message("count + 1", guard) == "this expression gives int, but bool is needed here");
}

TEST_CASE("syntax errors point at the offending character", "[expr]") {
  CHECK(error_message("count > 1 &&") == "expression ends too early: expected an operand");
  CHECK(error_offset("count > 1 &&") == 12);
  CHECK(error_message("count = 1") == "unexpected '='; compare with '=='");
  CHECK(error_offset("count = 1") == 6);
  CHECK(error_message("count & 1") == "unexpected '&'; write '&&'");
  CHECK(error_message("(count") == "expression ends too early: expected ')'");
  CHECK(error_message("'open") == "expression ends too early: expected '''");
  CHECK(error_message("") == "expression is empty");
  CHECK(error_message("count 1") == "unexpected '1' after a complete expression");
  CHECK(error_message("1 < count < 3") == "unexpected '<' after a complete expression");  // no chaining
  // Letters beyond ASCII outside a string literal: named whole (the message stays UTF-8), and
  // never handed to <cctype> as a negative char (the fuzzer's finding in a debug build).
  CHECK(error_message("\u00e9t\u00e9 > 1") == "unexpected '\u00e9'; expected a value, a name or '('");
  CHECK(error_offset("\u00e9t\u00e9 > 1") == 0);
  CHECK(error_message("count > 1 \u00b4\u00d0") == "unexpected '\u00b4' after a complete expression");
  CHECK(error_message("count >\u00a01") == "expected an operand at '\u00a0'");
  CHECK(eval("'caf\u00e9' == 'caf\u00e9'") == Value(true));
  // A day alone is a date (tests/unit/test_date.cpp); next to a datetime it is a type error.
  CHECK(error_message("slot < 2026-12-25") ==
        "cannot order datetime and date; take the day of the datetime with date(x) (in the flow calendar's time zone)");
  CHECK(error_message("2026-12-32") == "2026-12-32 is not a valid date: December 2026 has 31 days");
  CHECK(error_message("99999999999999999999") == "number 99999999999999999999 is too large for an int");
}

TEST_CASE("expressions are bounded: no deep nesting, no huge input", "[expr]") {
  std::string deep = std::string(200, '(') + "1" + std::string(200, ')');
  CHECK_THROWS_WITH(compile_expression(deep, {}), Catch::Contains("nests deeper than 48 levels"));
  std::string nots = std::string(5000, '!') + "true";
  CHECK_THROWS_WITH(compile_expression(nots, {}), Catch::Contains("characters long"));
  std::string nots2 = std::string(100, '!') + "true";
  CHECK_THROWS_WITH(compile_expression(nots2, {}), Catch::Contains("nests deeper"));
  std::string chain = "1";
  for (int i = 0; i < 300; ++i) chain += " + 1";
  CHECK_THROWS_WITH(compile_expression(chain, {}), Catch::Contains("nested operations"));
  std::string ok = "1";
  for (int i = 0; i < 100; ++i) ok += " + 1";
  CHECK(compile_expression(ok, {}).evaluate({}) == Value(101));
}

TEST_CASE("rule tables through rule(): first, unique, collect", "[expr][rules]") {
  const char* yaml = R"(flow: routing
data:
  product: string
  category: { type: enum, values: [repair, billing, other] }
  amount: number
rules:
  team:
    hit: first
    inputs: [product, category]
    outputs: { team: string, hours: int }
    rows:
      - [tv, repair, tv-desk, 4]
      - [tv, -, tv-general, 8]
      - [-, billing, billing, 24]
      - [-, -, front-office, 48]
  band:
    hit: unique
    inputs: [amount]
    outputs: { band: string }
    rows:
      - ["< 100", small]
      - [">= 100", large]
  flags:
    hit: collect
    inputs: [amount, product]
    outputs: { flag: string }
    rows:
      - ["> 50", -, review]
      - [-, "in ['tv', 'radio']", electronics]
      - ["> 1000", -, fraud-check]
start: a
steps:
  a:
    assign: rule('team').team + '/' + rule('band').band + '/' + string(len(rule('flags')))
    on: { done: z }
  z: { end: true }
)";
  auto r = validate_text(yaml, "routing.yaml");
  for (const auto& d : r.diagnostics) INFO(d.str());
  REQUIRE(r.ok());
  const auto& flow = *r.flows.at(0);
  ExprEnv env;
  for (const auto& f : flow.data) env.data[f.name] = f.type;
  env.rules = &flow.rules;
  auto run = [&](Map data, const std::string& text) {
    EvalContext ctx;
    ctx.data = &data;
    ctx.rules = &flow.rules;
    return compile_expression(text, env).evaluate(ctx);
  };
  CHECK(run({{"product", "tv"}, {"category", "repair"}}, "rule('team').team") == Value("tv-desk"));
  CHECK(run({{"product", "tv"}, {"category", "other"}}, "rule('team').team") == Value("tv-general"));
  CHECK(run({{"product", "fridge"}, {"category", "billing"}}, "rule('team').hours") == Value(24));
  CHECK(run({{"product", "fridge"}, {"category", "other"}}, "rule('team').team") == Value("front-office"));
  CHECK(run({{"amount", 50}}, "rule('band').band") == Value("small"));
  CHECK(run({{"amount", 100}}, "rule('band').band") == Value("large"));
  CHECK(run({}, "rule('band')").is_null());  // no row matches a null amount
  CHECK(run({{"amount", 2000}, {"product", "tv"}}, "len(rule('flags'))") == Value(3));
  CHECK(run({{"amount", 60}, {"product", "pc"}}, "rule('flags')[0].flag") == Value("review"));
  CHECK(run({{"amount", 10}, {"product", "pc"}}, "len(rule('flags'))") == Value(0));
}

TEST_CASE("a unique table with rows that both match fails at run time", "[expr][rules]") {
  // `< limit` reads data, so the load cannot tell whether the rows overlap (`< 100` with
  // `< 1000` it can: tests/flows/invalid/rule-unique-overlap-interval.yaml).
  const char* yaml = R"(flow: overlap
data:
  amount: number
  limit: { type: number, default: 1000 }
rules:
  band:
    hit: unique
    inputs: [amount]
    outputs: { band: string }
    rows:
      - ["< 100", small]
      - ["< limit", medium]
start: a
steps:
  a:
    assign: rule('band').band
    on: { done: z }
  z: { end: true }
)";
  auto r = validate_text(yaml, "overlap.yaml");
  REQUIRE(r.ok());
  const auto& flow = *r.flows.at(0);
  ExprEnv env;
  env.data["amount"] = Type::of(K::number);
  env.data["limit"] = Type::of(K::number);
  env.rules = &flow.rules;
  Map data{{"amount", 50}, {"limit", 1000}};
  EvalContext ctx;
  ctx.data = &data;
  ctx.rules = &flow.rules;
  CHECK_THROWS_WITH(compile_expression("rule('band')", env).evaluate(ctx),
                    Catch::Contains("rule table 'band' (hit policy unique): rows at lines 11 and 12 both match"));
  data["amount"] = Value(500);
  CHECK(compile_expression("rule('band').band", env).evaluate(ctx) == Value("medium"));
}

TEST_CASE("business_hours_between uses the calendar in context", "[expr]") {
  CalendarSpec spec;
  spec.name = "office";
  spec.timezone = "Europe/Zagreb";
  for (int d = 0; d < 5; ++d) spec.weekly[static_cast<std::size_t>(d)] = {{8 * 60, 16 * 60}};
  Calendar cal(spec);
  ExprEnv env;
  env.data["opened"] = Type::of(K::datetime);
  Map data{{"opened", *parse_iso8601("2026-11-27T14:00:00Z")}};  // Friday 15:00 in Zagreb
  EvalContext ctx;
  ctx.data = &data;
  ctx.now = *parse_iso8601("2026-11-30T09:00:00Z");  // Monday 10:00
  ctx.calendar = &cal;
  CHECK(compile_expression("business_hours_between(opened, now())", env).evaluate(ctx) == Value(Duration{3h}));
  ctx.calendar = nullptr;  // no calendar: wall time
  CHECK(compile_expression("business_hours_between(opened, now())", env).evaluate(ctx) == Value(Duration{67h}));
}

TEST_CASE("arithmetic at the edges is an EvalError, never a trap or a wrapped value", "[expr][hardening]") {
  // INT64_MIN % -1 is SIGFPE on x86; INT64_MIN has no absolute value or negation.
  CHECK(eval("(-9223372036854775807 - 1) % -1") == Value(std::int64_t{0}));
  CHECK(eval("count % -1") == Value(std::int64_t{0}));
  CHECK_THROWS_WITH(eval("abs(-9223372036854775807 - 1)"), Catch::Contains("integer overflow"));
  CHECK_THROWS_WITH(eval("-(-9223372036854775807 - 1)"), Catch::Contains("integer overflow"));
  // Durations and datetimes are checked too, and datetimes stay within years 1 to 9999.
  CHECK_THROWS_WITH(eval("wait * 2000000000000"), Catch::Contains("duration overflow"));
  CHECK_THROWS_WITH(eval("wait * 700000000000 + wait * 700000000000"), Catch::Contains("duration overflow"));
  CHECK_THROWS_WITH(eval("slot + wait * 40000000"),
                    Catch::Contains("2026-11-24T10:00:00Z + ") && Catch::Contains("outside the supported time range (years 1 to 9999)"));
  CHECK_THROWS_WITH(eval("slot - wait * 10000000"), Catch::Contains("outside the supported time range"));
  CHECK(eval("slot + wait") == Value(*parse_iso8601("2026-11-24T12:00:00Z")));
  CHECK(in_time_range(max_time));
  CHECK_FALSE(in_time_range(max_time + Duration{1}));
  CHECK(format_iso8601(max_time) == "9999-12-31T23:59:59.999Z");
  CHECK(format_iso8601(min_time) == "0001-01-01T00:00:00Z");
}

TEST_CASE("number arithmetic that overflows to infinity or gives NaN is an EvalError", "[expr][hardening]") {
  // Infinity has no JSON form: `1e308 * 10` printed null.
  CHECK_THROWS_WITH(eval("1e308 * 10"), "in '1e308 * 10': number overflow (the result is infinite)");
  CHECK_THROWS_WITH(eval("1e308 + 1e308"), Catch::EndsWith("number overflow (the result is infinite)"));
  CHECK_THROWS_WITH(eval("-1e308 - 1e308"), Catch::EndsWith("number overflow (the result is infinite)"));
  CHECK_THROWS_WITH(eval("1e308 / 0.1"), Catch::EndsWith("number overflow (the result is infinite)"));
  CHECK(eval("1e308 * 1") == Value(1e308));
  // Data from an embedding host (Python floats) may already be infinite or NaN.
  auto env = sample_env();
  Map data{{"ratio", std::numeric_limits<double>::infinity()}};
  EvalContext ctx;
  ctx.data = &data;
  CHECK_THROWS_WITH(compile_expression("ratio - ratio", env).evaluate(ctx),
                    "in 'ratio - ratio': the result is not a number (NaN)");
  CHECK_THROWS_WITH(compile_expression("-ratio", env).evaluate(ctx), Catch::EndsWith("number overflow (the result is infinite)"));
  CHECK_THROWS_WITH(compile_expression("abs(ratio)", env).evaluate(ctx), Catch::EndsWith("number overflow (the result is infinite)"));
}

TEST_CASE("strings and lists built at run time are bounded", "[expr][hardening]") {
  ExprEnv env;
  env.data["s"] = Type::of(K::string);
  env.data["l"] = Type::list_of(Type::of(K::integer));
  Map data{{"s", std::string(max_value_length / 2 + 1, 'x')}, {"l", List(max_value_length / 2 + 1, Value(std::int64_t{1}))}};
  EvalContext ctx;
  ctx.data = &data;
  CHECK(compile_expression("len(s + 'y')", env).evaluate(ctx) == Value(static_cast<std::int64_t>(max_value_length / 2 + 2)));
  CHECK_THROWS_WITH(compile_expression("s + s", env).evaluate(ctx),
                    Catch::Contains(fmt::format("the result would have {} characters; the limit is {}", max_value_length + 2, max_value_length)));
  CHECK_THROWS_WITH(compile_expression("l + l", env).evaluate(ctx), Catch::Contains("elements; the limit is"));
}
