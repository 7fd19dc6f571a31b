// Type checker: resolves names (data, event, case, rule-cell subject, bare enum values),
// functions and rule tables, and infers a static type for every node. `any` marks what only
// run-time data can tell (free-form maps, event payloads without a form); operations on `any`
// are checked again when evaluated.

#include <fmt/format.h>

#include <array>
#include <limits>
#include <optional>

#include "escalon/error.hpp"
#include "escalon/rule_table.hpp"
#include "expr/node.hpp"
#include "base/suggest.hpp"

namespace escalon::detail {

std::string_view fn_name(Fn f) noexcept {
  switch (f) {
    case Fn::none: return "";
    case Fn::now: return "now";
    case Fn::len: return "len";
    case Fn::contains: return "contains";
    case Fn::lower: return "lower";
    case Fn::upper: return "upper";
    case Fn::trim: return "trim";
    case Fn::starts_with: return "starts_with";
    case Fn::ends_with: return "ends_with";
    case Fn::min: return "min";
    case Fn::max: return "max";
    case Fn::abs: return "abs";
    case Fn::round: return "round";
    case Fn::floor: return "floor";
    case Fn::ceil: return "ceil";
    case Fn::coalesce: return "coalesce";
    case Fn::is_set: return "is_set";
    case Fn::string: return "string";
    case Fn::to_hours: return "to_hours";
    case Fn::to_minutes: return "to_minutes";
    case Fn::business_hours_between: return "business_hours_between";
    case Fn::rule: return "rule";
    case Fn::today: return "today";
    case Fn::date: return "date";
  }
  return "";
}

namespace {

using K = Type::Kind;

constexpr std::array all_fns = {Fn::now, Fn::len, Fn::contains, Fn::lower, Fn::upper, Fn::trim, Fn::starts_with,
                                Fn::ends_with, Fn::min, Fn::max, Fn::abs, Fn::round, Fn::floor, Fn::ceil,
                                Fn::coalesce, Fn::is_set, Fn::string, Fn::to_hours, Fn::to_minutes,
                                Fn::business_hours_between, Fn::rule, Fn::today, Fn::date};

bool is_any(const Type& t) { return t.kind == K::any; }
bool numeric(const Type& t) { return t.kind == K::integer || t.kind == K::number; }
bool stringish(const Type& t) { return t.kind == K::string || t.kind == K::enumeration; }
bool timeish(const Type& t) { return t.kind == K::datetime || t.kind == K::date || t.kind == K::duration; }

// A date next to a datetime is a mistake with one fix: the day of the datetime.
std::string date_hint(const Type& a, const Type& b) {
  const bool mixed = (a.kind == K::date && b.kind == K::datetime) || (a.kind == K::datetime && b.kind == K::date);
  return mixed ? "; take the day of the datetime with date(x) (in the flow calendar's time zone)" : "";
}

// A duration written in the expression (`36h`, `-2d`), for checks that need its length.
std::optional<Duration> literal_duration(const ExprNode& n) {
  if (n.op == Op::literal && n.literal.kind() == Value::Kind::duration) return n.literal.as_duration();
  if (n.op == Op::neg && n.kids.size() == 1)
    if (auto d = literal_duration(*n.kids[0]); d && d->count() != std::numeric_limits<std::int64_t>::min()) return -*d;
  return std::nullopt;
}

Type case_type() {
  auto f = std::make_shared<std::map<std::string, Type, std::less<>>>();
  (*f)["id"] = Type::of(K::string);
  (*f)["flow"] = Type::of(K::string);
  (*f)["version"] = Type::of(K::integer);
  (*f)["step"] = Type::of(K::string);
  (*f)["role"] = Type::of(K::string);
  (*f)["assignee"] = Type::of(K::string);
  (*f)["started"] = Type::of(K::datetime);
  (*f)["entered"] = Type::of(K::datetime);
  Type t = Type::of(K::map);
  t.fields = std::move(f);
  return t;
}

// Whether values of the two types can be compared with == (null compares with anything).
bool comparable(const Type& a, const Type& b) {
  if (is_any(a) || is_any(b) || a.kind == K::null || b.kind == K::null) return true;
  if (numeric(a) && numeric(b)) return true;
  if (stringish(a) && stringish(b)) return true;
  return a.kind == b.kind;
}

bool orderable(const Type& a, const Type& b) {
  if (is_any(a) || is_any(b)) return true;
  if (numeric(a) && numeric(b)) return true;
  if (a.kind == K::string && b.kind == K::string) return true;
  return a.kind == b.kind && timeish(a);
}

class Checker {
 public:
  explicit Checker(const ExprEnv& env) : env_(env) {}

  Type check(ExprNode& n, const Type* enum_ctx = nullptr) {
    n.type = infer(n, enum_ctx);
    return n.type;
  }

 private:
  const ExprEnv& env_;

  [[noreturn]] static void fail(const ExprNode& n, const std::string& msg) { throw ExprError(msg, n.pos); }

  bool resolvable(const ExprNode& n) const {
    if (n.op != Op::name) return true;
    return env_.data.count(n.name) || (n.name == "event" && env_.event) || (n.name == "case" && env_.case_info);
  }

  Type name(ExprNode& n, const Type* enum_ctx) {
    if (auto it = env_.data.find(n.name); it != env_.data.end()) {
      n.op = Op::data;
      if (auto sl = env_.slots.find(n.name); sl != env_.slots.end()) n.slot = sl->second;
      return it->second;
    }
    if (n.name == "event" && env_.event) {
      n.op = Op::event;
      return *env_.event;
    }
    if (n.name == "case" && env_.case_info) {
      n.op = Op::case_info;
      return case_type();
    }
    if (enum_ctx && enum_ctx->kind == K::enumeration &&
        std::find(enum_ctx->values.begin(), enum_ctx->values.end(), n.name) != enum_ctx->values.end()) {
      n.op = Op::literal;
      n.literal = Value(n.name);
      return *enum_ctx;
    }
    std::vector<std::string> names;
    for (const auto& [k, v] : env_.data) names.push_back(k);
    if (env_.event) names.emplace_back("event");
    if (env_.case_info) names.emplace_back("case");
    if (enum_ctx && enum_ctx->kind == K::enumeration)
      for (const auto& v : enum_ctx->values) names.push_back(v);
    std::string hint = did_you_mean(n.name, names);
    if (enum_ctx && enum_ctx->kind == K::enumeration)
      fail(n, fmt::format("unknown name '{}': not a data field, nor one of {}{}", n.name, fmt::join(enum_ctx->values, ", "), hint));
    if (hint.empty()) {
      if (n.name == "event")
        hint = "; `event` exists only where an event is handled (transitions, forms)";
      else
        hint = fmt::format("; declare it under `data:`, or quote it to write text: '{}'", n.name);
    }
    fail(n, fmt::format("unknown name '{}'{}", n.name, hint));
  }

  Type member(ExprNode& n) {
    Type obj = check(*n.kids[0]);
    if (is_any(obj) || obj.kind == K::null) return Type{};
    if (obj.kind != K::map)
      fail(n, fmt::format("'{}' is a {}, it has no field '{}'", describe(*n.kids[0]), obj.str(), n.name));
    if (!obj.fields) return Type{};
    auto it = obj.fields->find(n.name);
    if (it == obj.fields->end()) {
      std::vector<std::string> names;
      for (const auto& [k, v] : *obj.fields) names.push_back(k);
      fail(n, fmt::format("'{}' has no field '{}'{}", describe(*n.kids[0]), n.name, did_you_mean(n.name, names)));
    }
    return it->second;
  }

  static std::string describe(const ExprNode& n) {
    switch (n.op) {
      case Op::data: case Op::name: return n.name;
      case Op::event: return "event";
      case Op::case_info: return "case";
      case Op::member: return describe(*n.kids[0]) + "." + n.name;
      default: return "the value";
    }
  }

  // Checks both sides of a binary operator, letting a bare enum value on one side take its
  // meaning from the enum type on the other.
  std::pair<Type, Type> pair(ExprNode& n) {
    ExprNode& l = *n.kids[0];
    ExprNode& r = *n.kids[1];
    if (!resolvable(l) && resolvable(r)) {
      Type rt = check(r);
      const Type* ctx = rt.kind == K::enumeration ? &rt : nullptr;
      Type lt = check(l, ctx);
      return {lt, rt};
    }
    Type lt = check(l);
    const Type* ctx = lt.kind == K::enumeration ? &lt : nullptr;
    Type rt = check(r, ctx);
    check_enum_literal(lt, r);
    check_enum_literal(rt, l);
    return {lt, rt};
  }

  // 'hgih' compared with an enum is a typo the checker can see.
  static void check_enum_literal(const Type& enum_t, const ExprNode& lit) {
    if (enum_t.kind != K::enumeration) return;
    auto check_one = [&](const ExprNode& x) {
      if (x.op != Op::literal || x.literal.kind() != Value::Kind::string) return;
      const auto& s = x.literal.as_string();
      if (std::find(enum_t.values.begin(), enum_t.values.end(), s) == enum_t.values.end())
        fail(x, fmt::format("'{}' is not one of {}{}", s, fmt::join(enum_t.values, ", "),
                            did_you_mean(s, enum_t.values)));
    };
    check_one(lit);
    if (lit.op == Op::list)
      for (const auto& k : lit.kids) check_one(*k);
  }

  Type infer(ExprNode& n, const Type* enum_ctx) {
    switch (n.op) {
      case Op::literal: return literal_type(n);
      case Op::name: return name(n, enum_ctx);
      case Op::subject:
        if (!env_.subject) fail(n, "'?' (the tested value) can only be used in rule table cells");
        return *env_.subject;
      case Op::member: return member(n);
      case Op::index: return indexing(n);
      case Op::list: return list_literal(n, enum_ctx);
      case Op::not_: case Op::neg: return unary(n);
      case Op::and_: case Op::or_: return logical(n);
      case Op::eq: case Op::ne: return equality(n);
      case Op::lt: case Op::le: case Op::gt: case Op::ge: return ordering(n);
      case Op::in: case Op::not_in: return membership(n);
      case Op::add: case Op::sub: case Op::mul: case Op::div: case Op::mod: return arith(n);
      case Op::cond: return conditional(n, enum_ctx);
      case Op::call: return call(n);
      case Op::data: case Op::event: case Op::case_info: return n.type;  // already resolved
    }
    return Type{};
  }

  static Type literal_type(const ExprNode& n) {
    switch (n.literal.kind()) {
      case Value::Kind::null: return Type::of(K::null);
      case Value::Kind::boolean: return Type::of(K::boolean);
      case Value::Kind::integer: return Type::of(K::integer);
      case Value::Kind::number: return Type::of(K::number);
      case Value::Kind::string: return Type::of(K::string);
      case Value::Kind::datetime: return Type::of(K::datetime);
      case Value::Kind::duration: return Type::of(K::duration);
      case Value::Kind::date: return Type::of(K::date);
      default: return Type{};
    }
  }

  Type indexing(ExprNode& n) {
    Type obj = check(*n.kids[0]);
    Type idx = check(*n.kids[1]);
    if (obj.kind == K::list) {
      if (!is_any(idx) && idx.kind != K::integer) fail(*n.kids[1], fmt::format("a list index must be an int, not {}", idx.str()));
      return obj.item ? *obj.item : Type{};
    }
    if (obj.kind == K::map) {
      if (!is_any(idx) && !stringish(idx)) fail(*n.kids[1], fmt::format("a map key must be a string, not {}", idx.str()));
      return Type{};
    }
    if (is_any(obj) || obj.kind == K::null) return Type{};
    fail(n, fmt::format("cannot index a {}", obj.str()));
  }

  // A list literal has its items' type when they all agree.
  Type list_literal(ExprNode& n, const Type* enum_ctx) {
    std::optional<Type> common;
    bool mixed = false;
    for (auto& k : n.kids) {
      Type t = check(*k, enum_ctx);
      if (!common) common = t;
      else if (!(*common == t)) mixed = true;
    }
    return Type::list_of(common && !mixed ? *common : Type{});
  }

  // '!' and unary '-'.
  Type unary(ExprNode& n) {
    Type t = check(*n.kids[0]);
    if (n.op == Op::not_) {
      if (!is_any(t) && t.kind != K::boolean && t.kind != K::null)
        fail(n, fmt::format("'!' needs a bool, got {}", t.str()));
      return Type::of(K::boolean);
    }
    if (!is_any(t) && !numeric(t) && t.kind != K::duration) fail(n, fmt::format("cannot negate a {}", t.str()));
    return t;
  }

  // '&&' and '||'.
  Type logical(ExprNode& n) {
    for (auto& k : n.kids) {
      Type t = check(*k);
      if (!is_any(t) && t.kind != K::boolean && t.kind != K::null)
        fail(*k, fmt::format("'{}' needs bool operands, this one is {}", n.op == Op::and_ ? "&&" : "||", t.str()));
    }
    return Type::of(K::boolean);
  }

  Type equality(ExprNode& n) {
    auto [a, b] = pair(n);
    if (!comparable(a, b)) fail(n, fmt::format("cannot compare {} with {}{}", a.str(), b.str(), date_hint(a, b)));
    return Type::of(K::boolean);
  }

  Type ordering(ExprNode& n) {
    auto [a, b] = pair(n);
    if (!orderable(a, b)) fail(n, fmt::format("cannot order {} and {}{}", a.str(), b.str(), date_hint(a, b)));
    return Type::of(K::boolean);
  }

  // 'in' and 'not in': a list, a string (substring) or a map (key) on the right.
  Type membership(ExprNode& n) {
    auto [a, b] = pair(n);
    if (b.kind == K::list) {
      if (b.item && !comparable(a, *b.item)) fail(n, fmt::format("a {} is never in a {}", a.str(), b.str()));
    } else if (stringish(b)) {
      if (!is_any(a) && !stringish(a)) fail(n, fmt::format("'in' a string needs a string on the left, got {}", a.str()));
    } else if (!is_any(b) && b.kind != K::map && b.kind != K::null) {
      fail(*n.kids[1], fmt::format("'in' needs a list, string or map on the right, got {}", b.str()));
    }
    return Type::of(K::boolean);
  }

  // c ? a : b
  Type conditional(ExprNode& n, const Type* enum_ctx) {
    Type c = check(*n.kids[0]);
    if (!is_any(c) && c.kind != K::boolean) fail(*n.kids[0], fmt::format("the condition before '?' must be a bool, got {}", c.str()));
    Type a = check(*n.kids[1], enum_ctx);
    Type b = check(*n.kids[2], enum_ctx);
    if (a.kind == K::null) return b;
    if (b.kind == K::null || a == b) return a;
    if (numeric(a) && numeric(b)) return Type::of(K::number);
    if (stringish(a) && stringish(b)) return Type::of(K::string);
    fail(n, fmt::format("the two branches of '?:' differ: {} and {}", a.str(), b.str()));
  }

  Type arith(ExprNode& n) {
    Type a = check(*n.kids[0]);
    Type b = check(*n.kids[1]);
    const char* sym = n.op == Op::add ? "+" : n.op == Op::sub ? "-" : n.op == Op::mul ? "*" : n.op == Op::div ? "/" : "%";
    if (a.kind == K::null || b.kind == K::null) return Type{};
    if (is_any(a) || is_any(b)) {
      // One side is known: the result usually follows it.
      const Type& k = is_any(a) ? b : a;
      if ((k.kind == K::datetime || k.kind == K::date) && n.op == Op::sub) return Type{};
      if (n.op == Op::div && numeric(k)) return Type::of(K::number);
      return is_any(k) ? Type{} : k;
    }
    switch (n.op) {
      case Op::add:
        if (a.kind == K::integer && b.kind == K::integer) return a;
        if (numeric(a) && numeric(b)) return Type::of(K::number);
        if (stringish(a) && stringish(b)) return Type::of(K::string);
        if (a.kind == K::datetime && b.kind == K::duration) return a;
        if (a.kind == K::duration && b.kind == K::datetime) return b;
        if (a.kind == K::date && b.kind == K::duration) return whole_days(n, *n.kids[1], a);
        if (a.kind == K::duration && b.kind == K::date) return whole_days(n, *n.kids[0], b);
        if (a.kind == K::duration && b.kind == K::duration) return a;
        if (a.kind == K::list && b.kind == K::list) return a == b ? a : Type::list_of(Type{});
        break;
      case Op::sub:
        if (a.kind == K::integer && b.kind == K::integer) return a;
        if (numeric(a) && numeric(b)) return Type::of(K::number);
        if (a.kind == K::datetime && b.kind == K::duration) return a;
        if (a.kind == K::datetime && b.kind == K::datetime) return Type::of(K::duration);
        if (a.kind == K::date && b.kind == K::duration) return whole_days(n, *n.kids[1], a);
        if (a.kind == K::date && b.kind == K::date) return Type::of(K::duration);
        if (a.kind == K::duration && b.kind == K::duration) return a;
        break;
      case Op::mul:
        if (a.kind == K::integer && b.kind == K::integer) return a;
        if (numeric(a) && numeric(b)) return Type::of(K::number);
        if (a.kind == K::duration && numeric(b)) return a;
        if (numeric(a) && b.kind == K::duration) return b;
        break;
      case Op::div:
        if (numeric(a) && numeric(b)) return Type::of(K::number);
        if (a.kind == K::duration && numeric(b)) return a;
        if (a.kind == K::duration && b.kind == K::duration) return Type::of(K::number);
        break;
      case Op::mod:
        if (a.kind == K::integer && b.kind == K::integer) return a;
        break;
      default: break;
    }
    fail(n, fmt::format("cannot apply '{}' to {} and {}{}", sym, a.str(), b.str(), date_hint(a, b)));
  }

  // date ± duration moves by whole days: a duration written in the expression is checked here,
  // one computed at run time when it is used.
  static Type whole_days(const ExprNode& op, const ExprNode& dur, const Type& date) {
    if (auto d = literal_duration(dur); d && *d % std::chrono::hours{24} != Duration{0})
      fail(op, fmt::format("a date moves by whole days, and {} is not a whole number of days; use a datetime for "
                           "times of day",
                           format_duration(*d)));
    return date;
  }

  void arity(const ExprNode& n, std::size_t lo, std::size_t hi) {
    const auto c = n.kids.size();
    if (c < lo || c > hi) {
      if (lo == hi)
        fail(n, fmt::format("{}() takes {} argument{}, got {}", n.name, lo, lo == 1 ? "" : "s", c));
      fail(n, fmt::format("{}() takes {} to {} arguments, got {}", n.name, lo, hi, c));
    }
  }

  void want(const ExprNode& fn, const ExprNode& arg, const Type& t, bool ok, std::string_view what) {
    if (!is_any(t) && t.kind != K::null && !ok)
      fail(arg, fmt::format("{}() needs {} here, got {}", fn.name, what, t.str()));
  }

  Type call(ExprNode& n) {
    n.fn = Fn::none;
    for (Fn f : all_fns)
      if (fn_name(f) == n.name) n.fn = f;
    if (n.fn == Fn::none) {
      std::vector<std::string> names;
      for (Fn f : all_fns) names.emplace_back(fn_name(f));
      std::string hint = did_you_mean(n.name, names);
      fail(n, fmt::format("unknown function '{}'{}", n.name,
                          hint.empty() ? "; docs/expressions.md lists the functions" : hint));
    }
    if (n.fn == Fn::rule) return rule_call(n);
    std::vector<Type> t;
    for (auto& k : n.kids) t.push_back(check(*k));
    auto& a = n.kids;
    switch (n.fn) {
      case Fn::now: arity(n, 0, 0); return Type::of(K::datetime);
      case Fn::len:
        arity(n, 1, 1);
        want(n, *a[0], t[0], stringish(t[0]) || t[0].kind == K::list || t[0].kind == K::map, "a string, list or map");
        return Type::of(K::integer);
      case Fn::contains:
        arity(n, 2, 2);
        want(n, *a[0], t[0], stringish(t[0]) || t[0].kind == K::list, "a string or list");
        return Type::of(K::boolean);
      case Fn::lower: case Fn::upper: case Fn::trim:
        arity(n, 1, 1);
        want(n, *a[0], t[0], stringish(t[0]), "a string");
        return Type::of(K::string);
      case Fn::starts_with: case Fn::ends_with:
        arity(n, 2, 2);
        for (std::size_t i = 0; i < 2; ++i) want(n, *a[i], t[i], stringish(t[i]), "a string");
        return Type::of(K::boolean);
      case Fn::min: case Fn::max: {
        arity(n, 1, 16);
        const Type* known = nullptr;
        for (std::size_t i = 0; i < t.size(); ++i) {
          want(n, *a[i], t[i], numeric(t[i]) || timeish(t[i]) || t[i].kind == K::string,
               "numbers, datetimes, dates, durations or strings");
          if (is_any(t[i]) || t[i].kind == K::null) continue;
          if (known && !orderable(*known, t[i])) fail(*a[i], fmt::format("{}() cannot mix {} and {}", n.name, known->str(), t[i].str()));
          known = &t[i];
        }
        if (!known) return Type{};
        bool all_int = std::all_of(t.begin(), t.end(), [](const Type& x) { return x.kind == K::integer; });
        return numeric(*known) && !all_int ? Type::of(K::number) : *known;
      }
      case Fn::abs:
        arity(n, 1, 1);
        want(n, *a[0], t[0], numeric(t[0]) || t[0].kind == K::duration, "a number or duration");
        return t[0];
      case Fn::round: case Fn::floor: case Fn::ceil:
        arity(n, 1, 1);
        want(n, *a[0], t[0], numeric(t[0]), "a number");
        return Type::of(K::integer);
      case Fn::coalesce: {
        arity(n, 1, 16);
        for (const auto& x : t)
          if (!is_any(x) && x.kind != K::null) return x;
        return Type{};
      }
      case Fn::is_set: arity(n, 1, 1); return Type::of(K::boolean);
      case Fn::string: arity(n, 1, 1); return Type::of(K::string);
      case Fn::to_hours: case Fn::to_minutes:
        arity(n, 1, 1);
        want(n, *a[0], t[0], t[0].kind == K::duration, "a duration");
        return Type::of(K::number);
      case Fn::today: arity(n, 0, 0); return Type::of(K::date);
      case Fn::date: return date_call(n, t);
      case Fn::business_hours_between:
        arity(n, 2, 2);
        for (std::size_t i = 0; i < 2; ++i) want(n, *a[i], t[i], t[i].kind == K::datetime, "a datetime");
        return Type::of(K::duration);
      default: break;
    }
    return Type{};
  }

  // date(x): x is a date, a datetime (its day in the flow calendar's zone) or text YYYY-MM-DD.
  Type date_call(const ExprNode& n, const std::vector<Type>& types) {
    arity(n, 1, 1);
    const ExprNode& arg = *n.kids[0];
    const Type& t = types[0];
    want(n, arg, t, stringish(t) || t.kind == K::datetime || t.kind == K::date, "a datetime, a date or text YYYY-MM-DD");
    if (arg.op == Op::literal && arg.literal.kind() == Value::Kind::string && !parse_iso_date(arg.literal.as_string()))
      fail(arg, fmt::format("'{}' is not a date: {}", arg.literal.as_string(), iso_date_problem(arg.literal.as_string())));
    return Type::of(K::date);
  }

  Type rule_call(ExprNode& n) {
    arity(n, 1, 1);
    const ExprNode& arg = *n.kids[0];
    if (arg.op != Op::literal || arg.literal.kind() != Value::Kind::string)
      fail(arg, "rule() needs the table's name as a quoted string, e.g. rule('routing')");
    const auto& name = arg.literal.as_string();
    std::vector<std::string> names;
    if (env_.rules) {
      for (std::size_t i = 0; i < env_.rules->size(); ++i) {
        if ((*env_.rules)[i].name == name) {
          n.rule = static_cast<std::int32_t>(i);
          return (*env_.rules)[i].result_type();
        }
        names.push_back((*env_.rules)[i].name);
      }
    }
    std::string hint = did_you_mean(name, names);
    fail(arg, fmt::format("unknown rule table '{}'{}", name, hint.empty() ? "; declare it under `rules:`" : hint));
  }
};

bool assignable(const Type& to, const Type& from) {
  if (is_any(to) || is_any(from) || from.kind == K::null) return true;
  if (to.kind == from.kind) return to.kind != K::list || !to.item || !from.item || assignable(*to.item, *from.item);
  if (to.kind == K::number && from.kind == K::integer) return true;
  if (to.kind == K::enumeration && from.kind == K::string) return true;  // checked when evaluated
  if (to.kind == K::string && from.kind == K::enumeration) return true;
  return false;
}

// "'2025-06-01'" where a date is needed: the quotes make it text.
std::string unquote_hint(const ExprNode& root, const Type& expected) {
  if (root.op != Op::literal || root.literal.kind() != Value::Kind::string) return "";
  const std::string& s = root.literal.as_string();
  const bool fits = expected.kind == K::date ? parse_iso_date(s).has_value()
                    : expected.kind == K::datetime ? parse_iso8601(s).has_value()
                                                   : false;
  return fits ? fmt::format("; write it without quotes: {}", s) : "";
}

// Text that becomes the result ('hgh'; either branch of c ? 'high' : 'hgh'; an argument of
// coalesce(); an item of a list for a list of enums) must be a value of the enum it is for: the
// field would refuse it only when a case runs.
void check_enum_results(const ExprNode& n, const Type& want) {
  if (n.op == Op::cond && n.kids.size() == 3) {
    check_enum_results(*n.kids[1], want);
    check_enum_results(*n.kids[2], want);
  } else if (n.op == Op::call && n.fn == Fn::coalesce) {
    for (const auto& k : n.kids) check_enum_results(*k, want);
  } else if (n.op == Op::list && want.kind == K::list && want.item) {
    for (const auto& k : n.kids) check_enum_results(*k, *want.item);
  } else if (want.kind == K::enumeration && n.op == Op::literal && n.literal.kind() == Value::Kind::string) {
    const auto& s = n.literal.as_string();
    const auto& vals = want.values;
    if (std::find(vals.begin(), vals.end(), s) == vals.end())
      throw ExprError(fmt::format("'{}' is not one of {}{}", s, fmt::join(vals, ", "), did_you_mean(s, vals)), n.pos);
  }
}

}  // namespace

Type check_expression(ExprNode& root, const ExprEnv& env) {
  Checker c(env);
  const Type* enum_ctx = env.expected && env.expected->kind == K::enumeration ? &*env.expected : nullptr;
  Type t = c.check(root, enum_ctx);
  if (env.expected && !assignable(*env.expected, t))
    throw ExprError(fmt::format("this expression gives {}, but {} is needed here{}", t.str(), env.expected->str(),
                                unquote_hint(root, *env.expected)),
                    0);
  if (env.expected) check_enum_results(root, *env.expected);
  return t;
}

}  // namespace escalon::detail

namespace escalon {

Expression compile_expression(std::string_view text, const ExprEnv& env) {
  using namespace detail;
  NodePtr root = parse_expression(text);
  Type t = check_expression(*root, env);
  Expression e;
  e.root_ = std::move(root);
  e.text_ = std::string(text);
  e.type_ = std::move(t);
  return e;
}

}  // namespace escalon
