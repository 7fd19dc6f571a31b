// Evaluator: a recursive walk of the checked tree. Lookups of data, event and case fields
// return references into the caller's storage, so guards like `priority == high` copy nothing.
// Null propagates through arithmetic; ordering with null is false; && and || treat null as false.

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <limits>

#include "escalon/calendar.hpp"
#include "escalon/error.hpp"
#include "escalon/rule_table.hpp"
#include "expr/node.hpp"
#include "expr/rules.hpp"
#include "base/text.hpp"

namespace escalon::detail {
namespace {

using VK = Value::Kind;
const Value null_value;

[[noreturn]] void fail(const std::string& msg) { throw EvalError(msg); }

const Value& eval_ref(const ExprNode& n, const EvalContext& ctx, Value& tmp);

const Value& lookup_member(const Value& obj, const std::string& name) {
  if (const Value* v = obj.find(name)) return *v;
  return null_value;
}

const Value& eval_ref(const ExprNode& n, const EvalContext& ctx, Value& tmp) {
  switch (n.op) {
    case Op::literal: return n.literal;
    case Op::data: {
      if (n.slot >= 0 && static_cast<std::size_t>(n.slot) < ctx.fields.size()) return ctx.fields[static_cast<std::size_t>(n.slot)];
      if (!ctx.data) return null_value;
      auto it = ctx.data->find(n.name);
      return it == ctx.data->end() ? null_value : it->second;
    }
    case Op::event: return ctx.event ? *ctx.event : null_value;
    case Op::subject: return ctx.subject ? *ctx.subject : null_value;
    case Op::member: {
      const ExprNode& obj = *n.kids[0];
      if (obj.op == Op::case_info) {
        if (!ctx.case_info) return null_value;
        auto it = ctx.case_info->find(n.name);
        return it == ctx.case_info->end() ? null_value : it->second;
      }
      Value t2;
      const Value& o = eval_ref(obj, ctx, t2);
      if (&o == &t2) {  // a temporary: copy the member out before t2 dies
        tmp = lookup_member(o, n.name);
        return tmp;
      }
      return lookup_member(o, n.name);
    }
    default:
      tmp = eval_node(n, ctx);
      return tmp;
  }
}

bool truthy(const Value& v) { return v.kind() == VK::boolean && v.as_bool(); }

// Usage: `if (__builtin_add_overflow(a, b, &r)) overflow();` (never pass r in the same call:
// argument evaluation order is unspecified).
[[noreturn]] void overflow() { fail("integer overflow"); }

// An infinite or NaN result has no JSON form (it printed as null) and compares false with
// everything, so it is an error where it is made, like integer overflow.
double finite(double x) {
  if (std::isnan(x)) fail("the result is not a number (NaN)");
  if (std::isinf(x)) fail("number overflow (the result is infinite)");
  return x;
}

// Durations and datetimes are int64 milliseconds: checked like integers, and a datetime must
// stay within the supported range (years 1 to 9999), or stores could not read it back.
Duration duration_sum(Duration a, Duration b, bool subtract = false) {
  std::int64_t r = 0;
  if (subtract ? __builtin_sub_overflow(a.count(), b.count(), &r) : __builtin_add_overflow(a.count(), b.count(), &r))
    fail("duration overflow");
  return Duration{r};
}

Duration duration_scaled(Duration a, double factor, bool divide = false) {
  const double x = divide ? static_cast<double>(a.count()) / factor : static_cast<double>(a.count()) * factor;
  if (!(std::fabs(x) < 9.0e18)) fail("duration overflow");
  return Duration{std::llround(x)};
}

TimePoint shifted(TimePoint t, Duration d) {
  std::int64_t r = 0;
  if (__builtin_add_overflow(t.time_since_epoch().count(), d.count(), &r) || !in_time_range(TimePoint{Duration{r}}))
    fail(fmt::format("{} {} {} is outside the supported time range (years 1 to 9999)", format_iso8601(t),
                     d < Duration{0} ? "-" : "+", format_duration(d < Duration{0} ? -d : d)));
  return TimePoint{Duration{r}};
}

// date ± duration: whole days only, and the day stays within years 1 to 9999.
Date shifted_date(Date d, Duration by, bool subtract) {
  constexpr Duration day = std::chrono::hours{24};
  const char* sign = subtract ? "-" : "+";
  if (by % day != Duration{0})
    fail(fmt::format("{} {} {}: a date moves by whole days, and {} is not a whole number of days", format_iso_date(d), sign,
                     format_duration(by), format_duration(by)));
  const std::int64_t days = subtract ? -(by / day) : by / day;  // |by / day| < 2^37: no overflow
  const std::int64_t r = std::int64_t{d.days} + days;
  if (!in_date_range(r))
    fail(fmt::format("{} {} {} is outside the supported dates (years 1 to 9999)", format_iso_date(d), sign, format_duration(by)));
  return Date{static_cast<std::int32_t>(r)};
}

// "; take the day of the datetime with date(x)" when a date meets a datetime.
std::string date_hint(VK a, VK b) {
  const bool mixed = (a == VK::date && b == VK::datetime) || (a == VK::datetime && b == VK::date);
  return mixed ? "; take the day of the datetime with date(x)" : "";
}

// Strings and lists built at run time (a `set` on a repeating escalation can double one every
// time) stay bounded: max_value_length characters or elements.
void check_length(std::size_t n, const char* unit) {
  if (n > max_value_length) fail(fmt::format("the result would have {} {}; the limit is {}", n, unit, max_value_length));
}


Value arith(Op op, const Value& a, const Value& b) {
  if (a.is_null() || b.is_null()) return {};
  const VK ka = a.kind(), kb = b.kind();
  std::int64_t r = 0;
  switch (op) {
    case Op::add:
      if (ka == VK::integer && kb == VK::integer) {
        if (__builtin_add_overflow(a.as_int(), b.as_int(), &r)) overflow();
        return r;
      }
      if (a.is_numeric() && b.is_numeric()) return finite(a.as_number() + b.as_number());
      if (ka == VK::string && kb == VK::string) {
        check_length(a.as_string().size() + b.as_string().size(), "characters");
        return a.as_string() + b.as_string();
      }
      if (ka == VK::datetime && kb == VK::duration) return shifted(a.as_datetime(), b.as_duration());
      if (ka == VK::duration && kb == VK::datetime) return shifted(b.as_datetime(), a.as_duration());
      if (ka == VK::date && kb == VK::duration) return shifted_date(a.as_date(), b.as_duration(), false);
      if (ka == VK::duration && kb == VK::date) return shifted_date(b.as_date(), a.as_duration(), false);
      if (ka == VK::duration && kb == VK::duration) return duration_sum(a.as_duration(), b.as_duration());
      if (ka == VK::list && kb == VK::list) {
        check_length(a.as_list().size() + b.as_list().size(), "elements");
        List l = a.as_list();
        l.insert(l.end(), b.as_list().begin(), b.as_list().end());
        return l;
      }
      break;
    case Op::sub:
      if (ka == VK::integer && kb == VK::integer) {
        if (__builtin_sub_overflow(a.as_int(), b.as_int(), &r)) overflow();
        return r;
      }
      if (a.is_numeric() && b.is_numeric()) return finite(a.as_number() - b.as_number());
      if (ka == VK::datetime && kb == VK::duration) {
        if (b.as_duration().count() == std::numeric_limits<std::int64_t>::min()) fail("duration overflow");
        return shifted(a.as_datetime(), -b.as_duration());
      }
      if (ka == VK::datetime && kb == VK::datetime) return Duration(a.as_datetime() - b.as_datetime());  // both in range
      if (ka == VK::date && kb == VK::duration) return shifted_date(a.as_date(), b.as_duration(), true);
      if (ka == VK::date && kb == VK::date) return Duration(a.as_date().sys_days() - b.as_date().sys_days());
      if (ka == VK::duration && kb == VK::duration) return duration_sum(a.as_duration(), b.as_duration(), true);
      break;
    case Op::mul:
      if (ka == VK::integer && kb == VK::integer) {
        if (__builtin_mul_overflow(a.as_int(), b.as_int(), &r)) overflow();
        return r;
      }
      if (a.is_numeric() && b.is_numeric()) return finite(a.as_number() * b.as_number());
      if (ka == VK::duration && b.is_numeric()) return duration_scaled(a.as_duration(), b.as_number());
      if (a.is_numeric() && kb == VK::duration) return duration_scaled(b.as_duration(), a.as_number());
      break;
    case Op::div:
      if (a.is_numeric() && b.is_numeric()) {
        if (b.as_number() == 0) fail("division by zero");
        return finite(a.as_number() / b.as_number());
      }
      if (ka == VK::duration && b.is_numeric()) {
        if (b.as_number() == 0) fail("division by zero");
        return duration_scaled(a.as_duration(), b.as_number(), true);
      }
      if (ka == VK::duration && kb == VK::duration) {
        if (b.as_duration().count() == 0) fail("division by a zero duration");
        return static_cast<double>(a.as_duration().count()) / static_cast<double>(b.as_duration().count());
      }
      break;
    case Op::mod:
      if (ka == VK::integer && kb == VK::integer) {
        if (b.as_int() == 0) fail("modulo by zero");
        if (b.as_int() == -1) return std::int64_t{0};  // INT64_MIN % -1 traps (SIGFPE) on x86
        return a.as_int() % b.as_int();
      }
      break;
    default: break;
  }
  fail(fmt::format("cannot apply an arithmetic operator to {} and {}{}", kind_name(ka), kind_name(kb), date_hint(ka, kb)));
}

bool contains(const Value& hay, const Value& needle) {
  switch (hay.kind()) {
    case VK::list:
      return std::any_of(hay.as_list().begin(), hay.as_list().end(), [&](const Value& x) { return x == needle; });
    case VK::string:
      return needle.kind() == VK::string && hay.as_string().find(needle.as_string()) != std::string::npos;
    case VK::map: return needle.kind() == VK::string && hay.find(needle.as_string()) != nullptr;
    case VK::null: return false;
    default: fail(fmt::format("'in' needs a list, string or map, got {}", kind_name(hay.kind())));
  }
}

std::string map_chars(std::string s, int (*f)(int)) {
  for (auto& c : s) c = static_cast<char>(f(static_cast<unsigned char>(c)));
  return s;
}

// len()
Value length(const Value& v) {
  switch (v.kind()) {
    case VK::string: return static_cast<std::int64_t>(v.as_string().size());
    case VK::list: return static_cast<std::int64_t>(v.as_list().size());
    case VK::map: return static_cast<std::int64_t>(v.as_map().size());
    case VK::null: return std::int64_t{0};
    default: fail(fmt::format("len() of a {}", kind_name(v.kind())));
  }
}

// min() and max(): nulls are skipped; a mix of ints and numbers gives a number.
Value extremum(Fn fn, const std::vector<Value>& a) {
  const Value* best = nullptr;
  bool all_int = true;
  for (const auto& v : a) {
    if (v.is_null()) continue;
    all_int = all_int && v.kind() == VK::integer;
    if (!best) { best = &v; continue; }
    bool ok = false;
    int c = compare_values(v, *best, ok);
    if (!ok) fail(fmt::format("{}() cannot compare {} and {}", fn_name(fn), kind_name(v.kind()), kind_name(best->kind())));
    if ((fn == Fn::min && c < 0) || (fn == Fn::max && c > 0)) best = &v;
  }
  if (!best) return {};
  if (best->is_numeric() && !all_int) return best->as_number();
  return *best;
}

// round(), floor() and ceil(): an int, or null for what is not a number.
Value to_whole(Fn fn, const Value& v) {
  if (!v.is_numeric()) return {};
  double d = v.as_number();
  d = fn == Fn::round ? std::round(d) : fn == Fn::floor ? std::floor(d) : std::ceil(d);
  if (!(std::fabs(d) < 9.0e18)) fail(fmt::format("{}() result does not fit an int", fn_name(fn)));
  return static_cast<std::int64_t>(d);
}

// The day of `t` in the zone of the context's calendar (UTC without one).
Date day_of(const EvalContext& ctx, TimePoint t) {
  if (ctx.calendar) return ctx.calendar->day_of(t);
  return Date::of(std::chrono::floor<std::chrono::days>(t));
}

// date(x)
Value to_date(const Value& v, const EvalContext& ctx) {
  switch (v.kind()) {
    case VK::null: return {};
    case VK::date: return v;
    case VK::datetime: return day_of(ctx, v.as_datetime());
    case VK::string:
      if (auto d = parse_iso_date(v.as_string())) return *d;
      fail(fmt::format("date(): \"{}\" is not a date: {}", v.as_string(), iso_date_problem(v.as_string())));
    default: fail(fmt::format("date() of a {}; it takes a datetime, a date or text YYYY-MM-DD", kind_name(v.kind())));
  }
}

Value call(const ExprNode& n, const EvalContext& ctx) {
  std::vector<Value> a;
  a.reserve(n.kids.size());
  if (n.fn != Fn::rule)
    for (const auto& k : n.kids) a.push_back(eval_node(*k, ctx));
  auto str = [&](std::size_t i) -> const std::string* { return a[i].kind() == VK::string ? &a[i].as_string() : nullptr; };
  switch (n.fn) {
    case Fn::now: return ctx.now;
    case Fn::len: return length(a[0]);
    case Fn::contains: return contains(a[0], a[1]);
    case Fn::lower: return str(0) ? Value(map_chars(*str(0), ::tolower)) : Value();
    case Fn::upper: return str(0) ? Value(map_chars(*str(0), ::toupper)) : Value();
    case Fn::trim: return str(0) ? Value(std::string(detail::trim(*str(0)))) : Value();
    case Fn::starts_with: return str(0) && str(1) && str(0)->starts_with(*str(1));
    case Fn::ends_with: return str(0) && str(1) && str(0)->ends_with(*str(1));
    case Fn::min:
    case Fn::max: return extremum(n.fn, a);
    case Fn::abs:
      if (a[0].kind() == VK::integer) {
        if (a[0].as_int() == std::numeric_limits<std::int64_t>::min()) overflow();
        return a[0].as_int() < 0 ? -a[0].as_int() : a[0].as_int();
      }
      if (a[0].kind() == VK::number) return finite(std::fabs(a[0].as_number()));
      if (a[0].kind() == VK::duration) {
        if (a[0].as_duration().count() == std::numeric_limits<std::int64_t>::min()) fail("duration overflow");
        return a[0].as_duration() < Duration{0} ? -a[0].as_duration() : a[0].as_duration();
      }
      return {};
    case Fn::round:
    case Fn::floor:
    case Fn::ceil: return to_whole(n.fn, a[0]);
    case Fn::coalesce:
      for (auto& v : a)
        if (!v.is_null()) return v;
      return {};
    case Fn::is_set: return !a[0].is_null();
    case Fn::string: return a[0].to_display();
    case Fn::to_hours:
      return a[0].kind() == VK::duration ? Value(static_cast<double>(a[0].as_duration().count()) / 3.6e6) : Value();
    case Fn::to_minutes:
      return a[0].kind() == VK::duration ? Value(static_cast<double>(a[0].as_duration().count()) / 6e4) : Value();
    case Fn::business_hours_between: {
      if (a[0].kind() != VK::datetime || a[1].kind() != VK::datetime) return {};
      if (!ctx.calendar) return Duration(a[1].as_datetime() - a[0].as_datetime());
      return ctx.calendar->business_time_between(a[0].as_datetime(), a[1].as_datetime());
    }
    case Fn::today: return day_of(ctx, ctx.now);
    case Fn::date: return to_date(a[0], ctx);
    case Fn::rule: {
      if (!ctx.rules || n.rule < 0 || static_cast<std::size_t>(n.rule) >= ctx.rules->size())
        fail("rule tables are not available in this context");
      return evaluate_rule((*ctx.rules)[static_cast<std::size_t>(n.rule)], ctx);
    }
    case Fn::none: break;
  }
  fail(fmt::format("unknown function {}", n.name));
}

}  // namespace

int compare_values(const Value& a, const Value& b, bool& ok) {
  ok = true;
  if (a.kind() == VK::integer && b.kind() == VK::integer) return (a.as_int() > b.as_int()) - (a.as_int() < b.as_int());
  if (a.is_numeric() && b.is_numeric()) return (a.as_number() > b.as_number()) - (a.as_number() < b.as_number());
  if (a.kind() == VK::string && b.kind() == VK::string) return a.as_string().compare(b.as_string()) < 0 ? -1 : a.as_string() == b.as_string() ? 0 : 1;
  if (a.kind() == VK::datetime && b.kind() == VK::datetime) return (a.as_datetime() > b.as_datetime()) - (a.as_datetime() < b.as_datetime());
  if (a.kind() == VK::duration && b.kind() == VK::duration) return (a.as_duration() > b.as_duration()) - (a.as_duration() < b.as_duration());
  if (a.kind() == VK::date && b.kind() == VK::date) return (a.as_date() > b.as_date()) - (a.as_date() < b.as_date());
  ok = false;
  return 0;
}

Value eval_node(const ExprNode& n, const EvalContext& ctx) {
  Value t1, t2;
  switch (n.op) {
    case Op::literal: return n.literal;
    case Op::data: case Op::event: case Op::subject: case Op::member:
      return eval_ref(n, ctx, t1);
    case Op::case_info: {
      if (!ctx.case_info) return {};
      return Value(*ctx.case_info);
    }
    case Op::name: fail(fmt::format("unresolved name {}", n.name));  // the checker resolves every name
    case Op::index: {
      const Value& o = eval_ref(*n.kids[0], ctx, t1);
      const Value& i = eval_ref(*n.kids[1], ctx, t2);
      if (o.kind() == VK::list && i.kind() == VK::integer) {
        auto idx = i.as_int();
        const auto& l = o.as_list();
        if (idx < 0) idx += static_cast<std::int64_t>(l.size());
        if (idx < 0 || idx >= static_cast<std::int64_t>(l.size())) return {};
        return l[static_cast<std::size_t>(idx)];
      }
      if (o.kind() == VK::map && i.kind() == VK::string) return lookup_member(o, i.as_string());
      return {};
    }
    case Op::list: {
      List l;
      l.reserve(n.kids.size());
      for (const auto& k : n.kids) l.push_back(eval_node(*k, ctx));
      return l;
    }
    case Op::not_: return !truthy(eval_ref(*n.kids[0], ctx, t1));
    case Op::neg: {
      const Value& v = eval_ref(*n.kids[0], ctx, t1);
      switch (v.kind()) {
        case VK::integer:
          if (v.as_int() == std::numeric_limits<std::int64_t>::min()) overflow();
          return -v.as_int();
        case VK::number: return finite(-v.as_number());
        case VK::duration:
          if (v.as_duration().count() == std::numeric_limits<std::int64_t>::min()) fail("duration overflow");
          return -v.as_duration();
        case VK::null: return {};
        default: fail(fmt::format("cannot negate a {}", kind_name(v.kind())));
      }
    }
    case Op::and_: return truthy(eval_ref(*n.kids[0], ctx, t1)) && truthy(eval_ref(*n.kids[1], ctx, t2));
    case Op::or_: return truthy(eval_ref(*n.kids[0], ctx, t1)) || truthy(eval_ref(*n.kids[1], ctx, t2));
    case Op::eq: return eval_ref(*n.kids[0], ctx, t1) == eval_ref(*n.kids[1], ctx, t2);
    case Op::ne: return !(eval_ref(*n.kids[0], ctx, t1) == eval_ref(*n.kids[1], ctx, t2));
    case Op::lt: case Op::le: case Op::gt: case Op::ge: {
      const Value& a = eval_ref(*n.kids[0], ctx, t1);
      const Value& b = eval_ref(*n.kids[1], ctx, t2);
      if (a.is_null() || b.is_null()) return false;
      bool ok = false;
      int c = compare_values(a, b, ok);
      if (!ok) fail(fmt::format("cannot order {} and {}{}", kind_name(a.kind()), kind_name(b.kind()), date_hint(a.kind(), b.kind())));
      switch (n.op) {
        case Op::lt: return c < 0;
        case Op::le: return c <= 0;
        case Op::gt: return c > 0;
        default: return c >= 0;
      }
    }
    case Op::in: return contains(eval_ref(*n.kids[1], ctx, t2), eval_ref(*n.kids[0], ctx, t1));
    case Op::not_in: return !contains(eval_ref(*n.kids[1], ctx, t2), eval_ref(*n.kids[0], ctx, t1));
    case Op::add: case Op::sub: case Op::mul: case Op::div: case Op::mod:
      return arith(n.op, eval_ref(*n.kids[0], ctx, t1), eval_ref(*n.kids[1], ctx, t2));
    case Op::cond: return truthy(eval_ref(*n.kids[0], ctx, t1)) ? eval_node(*n.kids[1], ctx) : eval_node(*n.kids[2], ctx);
    case Op::call: return call(n, ctx);
  }
  return {};
}

}  // namespace escalon::detail

namespace escalon {

Value Expression::evaluate(const EvalContext& ctx) const {
  if (!root_) return {};
  try {
    return detail::eval_node(*root_, ctx);
  } catch (const EvalError& e) {
    throw EvalError(fmt::format("in '{}': {}", text_, e.message()));
  }
}

bool Expression::test(const EvalContext& ctx) const {
  if (!root_) return true;
  Value tmp;
  try {
    const Value& v = detail::eval_ref(*root_, ctx, tmp);
    return v.kind() == Value::Kind::boolean && v.as_bool();
  } catch (const EvalError& e) {
    throw EvalError(fmt::format("in '{}': {}", text_, e.message()));
  }
}

}  // namespace escalon
