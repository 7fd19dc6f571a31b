// Decision tables. A cell is a "unary test" on its column's input, in the DMN spirit:
//   -            any value
//   < 10, >= x   a comparison with the input on the left ("? < 10")
//   in [a, b]    membership ("? in [a, b]"); likewise "not in"
//   gold         for string and enum columns, a bare word is text ("? == 'gold'")
//   anything else is an expression the input must equal ("? == (expr)")
// Output cells are expressions; in string and enum columns a bare word is text again, so a
// table can name steps and teams without quoting.

#include <fmt/format.h>

#include <algorithm>
#include <cctype>

#include "escalon/error.hpp"
#include "escalon/rule_table.hpp"
#include "expr/node.hpp"
#include "expr/rules.hpp"
#include "base/suggest.hpp"
#include "base/text.hpp"

namespace escalon::detail {
namespace {

bool is_bare_word(std::string_view s) {
  if (s.empty() || s == "true" || s == "false" || s == "null") return false;
  if (!std::isalnum(static_cast<unsigned char>(s[0])) && s[0] != '_') return false;
  bool has_alpha = false;
  for (char c : s) {
    if (std::isalpha(static_cast<unsigned char>(c))) has_alpha = true;
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_' && c != '-' && c != '.' && c != ':' && c != '/')
      return false;
  }
  return has_alpha;
}

bool texty(const Type& t) { return t.kind == Type::Kind::string || t.kind == Type::Kind::enumeration; }

Expression literal_text(std::string_view word, const Type& column, std::string_view prefix, const ExprEnv& env) {
  if (column.kind == Type::Kind::enumeration &&
      std::find(column.values.begin(), column.values.end(), word) == column.values.end())
    throw ExprError(fmt::format("'{}' is not one of {}{}", word, fmt::join(column.values, ", "), did_you_mean(word, column.values)),
                    0);
  std::string quoted = std::string(prefix) + "'" + std::string(word) + "'";
  ExprEnv e = env;
  e.expected.reset();
  return compile_expression(quoted, e);
}

Expression compile_shifted(std::string prefix, std::string_view body, std::string suffix, const ExprEnv& env) {
  std::string text = prefix + std::string(body) + suffix;
  try {
    return compile_expression(text, env);
  } catch (const ExprError& e) {
    const std::size_t off = e.offset() > prefix.size() ? e.offset() - prefix.size() : 0;
    throw ExprError(e.message(), std::min(off, body.size()));
  }
}

}  // namespace

Expression compile_rule_test(std::string_view cell, const Type& column, const ExprEnv& base) {
  const std::string_view c = trim(cell);
  if (c.empty() || c == "-") return {};
  ExprEnv env = base;
  env.subject = column;
  env.expected = Type::of(Type::Kind::boolean);
  static constexpr std::string_view ops[] = {"<=", ">=", "!=", "==", "<", ">"};
  for (auto op : ops)
    if (c.starts_with(op)) return compile_shifted("? ", c, "", env);
  if (c.starts_with("in ") || c.starts_with("not in ")) return compile_shifted("? ", c, "", env);
  if (texty(column) && is_bare_word(c) && !base.data.count(std::string(c))) return literal_text(c, column, "? == ", env);
  return compile_shifted("? == (", c, ")", env);
}

Expression compile_rule_output(std::string_view cell, const Type& column, const ExprEnv& base) {
  const std::string_view c = trim(cell);
  ExprEnv env = base;
  env.expected = column;
  if (c.empty() || c == "-") return compile_expression("null", env);
  if (texty(column) && is_bare_word(c) && !base.data.count(std::string(c))) return literal_text(c, column, "", env);
  return compile_expression(c, env);
}

Value evaluate_rule(const RuleTable& t, const EvalContext& ctx) {
  // Tables may call other tables; the loader rejects cycles, this guards the stack regardless.
  thread_local int depth = 0;
  if (depth > 16) throw EvalError(fmt::format("rule table '{}' nests more than 16 tables deep", t.name));
  struct Guard { Guard() { ++depth; } ~Guard() { --depth; } } guard;

  std::vector<Value> inputs;
  inputs.reserve(t.inputs.size());
  for (const auto& in : t.inputs) inputs.push_back(in.input.evaluate(ctx));
  EvalContext cell_ctx = ctx;
  auto matches = [&](const RuleRow& r) {
    for (std::size_t i = 0; i < r.tests.size(); ++i) {
      if (r.tests[i].empty()) continue;
      cell_ctx.subject = &inputs[i];
      if (!r.tests[i].test(cell_ctx)) return false;
    }
    return true;
  };
  auto output = [&](const RuleRow& r) {
    Map m;
    for (std::size_t j = 0; j < r.outputs.size(); ++j) m.emplace(t.outputs[j].name, r.outputs[j].evaluate(ctx));
    return Value(std::move(m));
  };
  const RuleRow* hit = nullptr;
  List all;
  for (const auto& r : t.rows) {
    if (!matches(r)) continue;
    switch (t.hit) {
      case HitPolicy::first: return output(r);
      case HitPolicy::collect: all.push_back(output(r)); break;
      case HitPolicy::unique:
        if (hit)
          throw EvalError(fmt::format("rule table '{}' (hit policy unique): rows at lines {} and {} both match", t.name,
                                      hit->where.line, r.where.line));
        hit = &r;
        break;
    }
  }
  if (t.hit == HitPolicy::collect) return all;
  return hit ? output(*hit) : Value();
}

}  // namespace escalon::detail

namespace escalon {

Type RuleTable::result_type() const {
  auto fields = std::make_shared<std::map<std::string, Type, std::less<>>>();
  for (const auto& o : outputs) (*fields)[o.name] = o.type;
  Type row;
  row.kind = Type::Kind::map;
  row.fields = std::move(fields);
  return hit == HitPolicy::collect ? Type::list_of(row) : row;
}

}  // namespace escalon
