#pragma once
// Decision tables: compiling their cells (see rules.cpp for the cell syntax; used by the
// loader), what an input cell matches and the load-time checks of rows (rule_checks.cpp), and
// evaluating a table (used by rule('name') and by the runtime's rule decisions).

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "escalon/expr.hpp"

namespace escalon {
struct RuleTable;
}

namespace escalon::detail {

// How `<` and friends order two values (-1, 0, 1); ok = false where they would fail (other kinds,
// null). The evaluator and the load-time rule checks order alike through this one function.
int compare_values(const Value& a, const Value& b, bool& ok);

// The table's outputs for ctx: a map (hit policy first/unique; null when no row matches) or a
// list of maps (collect).
Value evaluate_rule(const RuleTable& table, const EvalContext& ctx);

// An input cell; an empty Expression for "-". ExprError offsets point into `cell`.
Expression compile_rule_test(std::string_view cell, const Type& column, const ExprEnv& env);
// An output cell, checked against the column's type.
Expression compile_rule_output(std::string_view cell, const Type& column, const ExprEnv& env);

// The inputs an input cell matches, as far as the load can tell: anything (`-`); exactly some
// constant values (`tv`, `== 3`, `in [a, b]`); anything but some (`!= 3`, `not in [...]`, and
// null); an interval of ordered constants (`> 730d`: null and other kinds excluded); or not
// known (the cell reads data or calls functions). `satisfiable` marks unknown cells of the form
// `? == (expression)`, which the input equal to the expression's value matches.
struct CellSet {
  enum class Kind : std::uint8_t { any, values, not_values, range, unknown };
  Kind kind = Kind::unknown;
  std::vector<Value> values;       // values, not_values
  std::optional<Value> lo, hi;     // range; an absent bound is open-ended
  bool lo_strict = false, hi_strict = false;
  bool satisfiable = false;        // unknown: `? == (expression)`
  std::string text;                // the cell as written ("-" for any)
};

// What a compiled input cell matches (compile_rule_test's result for `cell`).
CellSet describe_rule_test(const Expression& test, std::string_view cell, const Type& column, const ExprEnv& env);

// Two rows of a table that load can prove to clash: under hit policy unique, rows `row` and
// `other` (earlier) both match `example` (an input, "days_open = 731d, product = tv"; empty: every
// input); under hit policy first, every input row `row` matches is matched by the earlier `other`.
struct RowClash {
  std::size_t row = 0, other = 0;  // indices into RuleTable::rows
  std::string example;
};

// Bounds of the row checks. `pairs`: row pairs still to compare, shared by the tables of a flow
// (rows whose cells name different values in one column are never paired: an index finds the
// rest); when it runs out the remaining rows are not checked. `max_clashes`: reports per table.
struct RowCheckBudget {
  std::size_t pairs = 1'000'000;
  std::size_t max_clashes = 20;
};
// `cells[i][c]` describes rows[i].tests[c].
std::vector<RowClash> check_rule_rows(const RuleTable& table, const std::vector<std::vector<CellSet>>& cells,
                                      RowCheckBudget& budget);

}  // namespace escalon::detail
