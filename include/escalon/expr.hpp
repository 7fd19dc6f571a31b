#pragma once
/// @file expr.hpp
/// The expression language of guards (`when`), `set`, `assign`, rule cells and deadline `at:`.
///
/// Expressions are parsed (Boost.Spirit X3, confined to src/expr/parser.cpp), type-checked
/// against the names in scope and compiled once at load. Evaluation walks the checked tree:
/// no re-parsing, no loops, no I/O, bounded depth, so an expression cannot hang or escape.
/// The full grammar and function library are in docs/expressions.md.
///
/// Example:
/// @code
///   escalon::ExprEnv env;
///   env.data["priority"] = escalon::Type::enumeration({"normal", "high"});
///   auto e = escalon::compile_expression("priority == high", env);
///   escalon::Map data{{"priority", "high"}};
///   bool urgent = e.test({.data = &data});
/// @endcode
/// Thread-safety: a compiled Expression is immutable; evaluate() may run on many threads at once.

#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "escalon/value.hpp"

namespace escalon {

namespace detail {
struct ExprNode;
}
struct RuleTable;
class Calendar;

/// What an expression may see while it runs. Pointers are borrowed for the call only.
struct EvalContext {
  std::span<const Value> fields;        ///< case data by slot (see ExprEnv::slots); preferred
  const Map* data = nullptr;            ///< case data by name, for names without a slot
  const Value* event = nullptr;         ///< payload of the event being handled (`event.x`)
  const Map* case_info = nullptr;       ///< `case.id`, `case.flow`, `case.step`, `case.started`, ...
  TimePoint now{};                      ///< what now() returns
  /// The flow's calendar: business_hours_between() counts its working time, and its time zone
  /// says which day today() and date(datetime) give (UTC when null).
  const Calendar* calendar = nullptr;
  const std::vector<RuleTable>* rules = nullptr;  ///< tables that rule('name') evaluates
  const Value* subject = nullptr;       ///< the input a rule cell tests (`?`)
};

/// The names an expression may use, and their types, for type-checking at load.
struct ExprEnv {
  std::map<std::string, Type, std::less<>> data;  ///< case data fields
  /// Optional: the position of each data field in EvalContext::fields, so evaluation reads
  /// fields by index instead of by name. Names without a slot are looked up in EvalContext::data.
  std::map<std::string, std::int32_t, std::less<>> slots;
  std::optional<Type> event;                      ///< set where `event` is in scope
  bool case_info = true;                          ///< whether `case.*` is in scope
  const std::vector<RuleTable>* rules = nullptr;  ///< tables callable as rule('name')
  std::optional<Type> subject;                    ///< set inside rule cells (`?`)
  /// The type the result must have, if any (e.g. bool for guards, the field's type for `set`).
  /// An enum expected type lets bare enum values be written without quotes: `priority == high`.
  std::optional<Type> expected;
};

class Expression {
 public:
  Expression() = default;

  /// True when no expression was given (e.g. a transition without `when`).
  [[nodiscard]] bool empty() const noexcept { return root_ == nullptr; }
  /// The source text as written.
  [[nodiscard]] const std::string& text() const noexcept { return text_; }
  /// The statically inferred type (Type::Kind::any where it depends on run-time data).
  [[nodiscard]] const Type& type() const noexcept { return type_; }

  /// Evaluates the expression. Throws EvalError on a run-time failure (e.g. a `unique` rule
  /// with two matching rows); null propagates through arithmetic instead of throwing.
  [[nodiscard]] Value evaluate(const EvalContext& ctx) const;
  /// For guards: true only when the result is boolean true (null and false are false).
  [[nodiscard]] bool test(const EvalContext& ctx) const;

 private:
  friend Expression compile_expression(std::string_view, const ExprEnv&);
  std::shared_ptr<const detail::ExprNode> root_;
  std::string text_;
  Type type_;
};

/// Parses and type-checks `text`. Throws ExprError whose offset() points into `text`.
[[nodiscard]] Expression compile_expression(std::string_view text, const ExprEnv& env);

/// Limits that keep expressions bounded.
inline constexpr std::size_t max_expression_length = 4096;
inline constexpr std::size_t max_expression_depth = 48;
/// The longest string (characters) or list (elements) an expression may build at run time.
inline constexpr std::size_t max_value_length = 1 << 20;

}  // namespace escalon
