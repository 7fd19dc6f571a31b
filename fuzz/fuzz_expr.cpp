// Expression text -> compile_expression (parse + type check) -> evaluate against fixed data, an
// event payload, case info and an always-open calendar. Compiling may throw ExprError and
// evaluating EvalError (expr.hpp); anything else is a finding.
#include <cstdint>
#include <limits>

#include "escalon/calendar.hpp"
#include "escalon/error.hpp"
#include "escalon/expr.hpp"
#include "fuzz_support.hpp"

using namespace escalon;
using K = Type::Kind;
using namespace std::chrono_literals;

namespace {

ExprEnv make_env() {
  ExprEnv env;
  env.data["priority"] = Type::enumeration({"normal", "high", "urgent"});
  env.data["parts_needed"] = Type::of(K::boolean);
  env.data["count"] = Type::of(K::integer);
  env.data["ratio"] = Type::of(K::number);
  env.data["customer"] = Type::of(K::string);
  env.data["slot"] = Type::of(K::datetime);
  env.data["wait"] = Type::of(K::duration);
  env.data["tags"] = Type::list_of(Type::of(K::string));
  env.data["slots"] = Type::list_of(Type::of(K::datetime));
  env.data["info"] = Type::of(K::map);
  env.data["missing"] = Type::of(K::string);
  env.data["bought"] = Type::of(K::date);
  env.event = Type::of(K::map);
  return env;
}

Map make_data() {
  return Map{{"priority", "high"},
             {"parts_needed", true},
             {"count", 3},
             {"ratio", 0.5},
             {"customer", "ACME d.o.o."},
             {"slot", *parse_iso8601("2026-11-24T10:00:00Z")},
             {"wait", Duration{2h}},
             {"tags", List{"vip", "tv"}},
             {"slots", List{*parse_iso8601("2026-11-26T09:00:00Z"), *parse_iso8601("9999-12-31T23:00:00Z")}},
             {"info", Map{{"tier", "gold"}, {"limit", std::numeric_limits<std::int64_t>::max()}}},
             {"bought", max_date}};
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const ExprEnv env = make_env();
  static const Map fields = make_data();
  static const Value event = Map{{"product", "TV"}, {"amount", std::numeric_limits<std::int64_t>::min()}, {"note", ""}};
  static const Map case_info{{"id", "c-1"}, {"flow", "technician-visit"}, {"step", "intake"},
                             {"started", *parse_iso8601("0001-01-01T00:00:00Z")}};
  static const Calendar calendar = Calendar::always_open();
  Expression e;
  try {
    e = compile_expression(fuzz::text(data, size), env);
  } catch (const ExprError&) {
    return 0;
  } catch (const std::exception& ex) {
    fuzz::finding("compile_expression", ex);
  }
  EvalContext ctx;
  ctx.data = &fields;
  ctx.event = &event;
  ctx.case_info = &case_info;
  ctx.now = *parse_iso8601("2026-11-23T08:00:00Z");
  ctx.calendar = &calendar;
  try {
    auto v = e.evaluate(ctx);
    (void)v.to_json();
    (void)e.test(ctx);
  } catch (const EvalError&) {
  } catch (const std::exception& ex) {
    fuzz::finding("Expression::evaluate", ex);
  }
  return 0;
}
