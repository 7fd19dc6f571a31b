#pragma once
/// @file rule_table.hpp
/// Decision tables, as declared under `rules:` in a flow and called from expressions as
/// rule('name'). They belong to the expression language (their cells are expressions and
/// evaluating one is an expression call), so escalon/flow.hpp includes this header, not the
/// other way round. The table format is in docs/flow-format.md.

#include <cstdint>
#include <string>
#include <vector>

#include "escalon/error.hpp"
#include "escalon/expr.hpp"
#include "escalon/value.hpp"

namespace escalon {

enum class HitPolicy : std::uint8_t { first, unique, collect };

struct RuleColumn {
  std::string name;
  Type type;
  Expression input;                    ///< inputs only: what the column tests
  SourceLocation where;
};

struct RuleRow {
  std::vector<Expression> tests;       ///< one per input; empty Expression = any value ("-")
  std::vector<Expression> outputs;     ///< one per output
  SourceLocation where;
};

/// A decision table. rule('name') evaluates to a map of its outputs (first, unique; null when
/// no row matches) or a list of such maps (collect).
struct RuleTable {
  std::string name;
  HitPolicy hit = HitPolicy::first;
  std::vector<RuleColumn> inputs, outputs;
  std::vector<RuleRow> rows;
  SourceLocation where;
  /// map<outputs> (or list of them for collect).
  [[nodiscard]] Type result_type() const;
};

}  // namespace escalon
