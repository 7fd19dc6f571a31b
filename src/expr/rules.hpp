#pragma once
// Decision tables: compiling their cells (see rules.cpp for the cell syntax; used by the
// loader) and evaluating a table (used by rule('name') and by the runtime's rule decisions).

#include <string_view>

#include "escalon/expr.hpp"

namespace escalon {
struct RuleTable;
}

namespace escalon::detail {

// The table's outputs for ctx: a map (hit policy first/unique; null when no row matches) or a
// list of maps (collect).
Value evaluate_rule(const RuleTable& table, const EvalContext& ctx);

// An input cell; an empty Expression for "-". ExprError offsets point into `cell`.
Expression compile_rule_test(std::string_view cell, const Type& column, const ExprEnv& env);
// An output cell, checked against the column's type.
Expression compile_rule_output(std::string_view cell, const Type& column, const ExprEnv& env);

}  // namespace escalon::detail
