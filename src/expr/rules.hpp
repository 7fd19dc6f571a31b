#pragma once
// Compiling decision-table cells (see rules.cpp for the cell syntax). Used by the loader.

#include <string_view>

#include "escalon/expr.hpp"

namespace escalon::detail {

// An input cell; an empty Expression for "-". ExprError offsets point into `cell`.
Expression compile_rule_test(std::string_view cell, const Type& column, const ExprEnv& env);
// An output cell, checked against the column's type.
Expression compile_rule_output(std::string_view cell, const Type& column, const ExprEnv& env);

}  // namespace escalon::detail
