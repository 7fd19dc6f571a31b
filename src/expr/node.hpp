#pragma once
// Internal expression tree. The parser (parser.cpp, the only user of Spirit X3) produces it
// untyped; the checker (check.cpp) resolves names, functions and rule tables in place and
// records types; eval.cpp walks it. After compile_expression() returns, a tree is immutable.

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "escalon/expr.hpp"
#include "escalon/value.hpp"

namespace escalon::detail {

enum class Op : std::uint8_t {
  literal, name, subject, member, index, list,
  not_, neg, and_, or_,
  eq, ne, lt, le, gt, ge, in, not_in,
  add, sub, mul, div, mod,
  cond, call,
  // resolved forms of `name` (set by the checker)
  data, event, case_info,
};

enum class Fn : std::uint8_t {
  none, now, len, contains, lower, upper, trim, starts_with, ends_with, min, max, abs, round, floor, ceil,
  coalesce, is_set, string, to_hours, to_minutes, business_hours_between, rule, today, date,
};

struct ExprNode;
using NodePtr = std::shared_ptr<ExprNode>;

struct ExprNode {
  Op op = Op::literal;
  Fn fn = Fn::none;
  std::uint32_t pos = 0;      // offset of the node's first character in the expression text
  std::int32_t rule = -1;     // Fn::rule: index into EvalContext::rules
  std::int32_t slot = -1;     // Op::data: index into EvalContext::fields, when the env gave one
  std::string name;           // name, member, call
  Value literal;
  std::vector<NodePtr> kids;
  Type type;                  // set by the checker
};

// Parses `text` into an untyped tree. Throws ExprError with an offset.
NodePtr parse_expression(std::string_view text);

// Resolves and type-checks `root` in place; returns the result type. Throws ExprError.
Type check_expression(ExprNode& root, const ExprEnv& env);

Value eval_node(const ExprNode& n, const EvalContext& ctx);

// Evaluates a rule table for ctx (used by rule('name')).
Value evaluate_rule(const RuleTable& table, const EvalContext& ctx);

std::string_view fn_name(Fn f) noexcept;

}  // namespace escalon::detail
