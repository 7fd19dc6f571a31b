// Load-time checks of decision-table rows: what each input cell matches (CellSet), rows of a
// `unique` table that both match some input, and rows of a `first` table that an earlier row
// shadows. A clash is reported only when it is certain: an overlap needs an example input that
// the two rows' compiled tests really both accept (they are evaluated on it), and shadowing needs
// every cell of the later row to lie inside the earlier row's cell.

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <limits>
#include <unordered_map>

#include "escalon/error.hpp"
#include "escalon/rule_table.hpp"
#include "base/text.hpp"
#include "expr/node.hpp"
#include "expr/rules.hpp"

namespace escalon::detail {
namespace {

using VK = Value::Kind;
using CK = CellSet::Kind;

bool constant(const ExprNode& n) {
  switch (n.op) {
    case Op::literal: return true;
    case Op::list: case Op::neg: case Op::add: case Op::sub: case Op::mul: case Op::div: case Op::mod:
      return std::all_of(n.kids.begin(), n.kids.end(), [](const NodePtr& k) { return constant(*k); });
    default: return false;
  }
}

std::optional<Value> constant_value(const ExprNode& n) {
  if (!constant(n)) return std::nullopt;
  try {
    return eval_node(n, EvalContext{});
  } catch (const Error&) {
    return std::nullopt;  // e.g. a division by zero: left to run time
  }
}

bool orderable(const Value& v) {
  return v.is_numeric() || v.kind() == VK::string || v.kind() == VK::datetime || v.kind() == VK::duration ||
         v.kind() == VK::date;
}

// Whether v is at or past (lower) / at or before (upper) a bound.
bool within_bound(const Value& v, const std::optional<Value>& bound, bool strict, int side) {
  if (!bound) return true;
  bool ok = false;
  const int c = compare_values(v, *bound, ok) * side;
  return ok && (c > 0 || (c == 0 && !strict));
}

bool matches(const CellSet& s, const Value& v) {
  auto equal = [&](const Value& x) { return x == v; };
  switch (s.kind) {
    case CK::any: return true;
    case CK::values: return std::any_of(s.values.begin(), s.values.end(), equal);
    case CK::not_values: return std::none_of(s.values.begin(), s.values.end(), equal);
    case CK::range: return !v.is_null() && within_bound(v, s.lo, s.lo_strict, 1) && within_bound(v, s.hi, s.hi_strict, -1);
    case CK::unknown: return false;
  }
  return false;
}

// Whether bound b (of the inner set) is at least as tight as bound a (of the outer set).
bool tighter(const std::optional<Value>& a, bool a_strict, const std::optional<Value>& b, bool b_strict, int side) {
  if (!a) return true;
  if (!b) return false;
  bool ok = false;
  const int c = compare_values(*b, *a, ok) * side;
  return ok && (c > 0 || (c == 0 && (b_strict || !a_strict)));
}

// Every input `inner` matches, `outer` matches too.
bool contains(const CellSet& outer, const CellSet& inner) {
  if (outer.kind == CK::any) return true;
  if (outer.kind == CK::unknown || inner.kind == CK::unknown)
    return outer.kind == inner.kind && outer.text == inner.text;  // the same test of the same input
  switch (inner.kind) {
    case CK::any: return false;
    case CK::values:
      return std::all_of(inner.values.begin(), inner.values.end(), [&](const Value& v) { return matches(outer, v); });
    case CK::range:
      if (outer.kind == CK::range)
        return tighter(outer.lo, outer.lo_strict, inner.lo, inner.lo_strict, 1) &&
               tighter(outer.hi, outer.hi_strict, inner.hi, inner.hi_strict, -1);
      return outer.kind == CK::not_values &&
             std::none_of(outer.values.begin(), outer.values.end(), [&](const Value& v) { return matches(inner, v); });
    case CK::not_values:
      return outer.kind == CK::not_values &&
             std::none_of(outer.values.begin(), outer.values.end(), [&](const Value& v) { return matches(inner, v); });
    case CK::unknown: return false;
  }
  return false;
}

// Whether no input can match both cells, where that is quick to see: it ends most comparisons
// of rows that do not overlap before any search for an example.
bool disjoint(const CellSet& a, const CellSet& b) {
  auto in = [](const CellSet& s, const CellSet& other) {
    return std::any_of(s.values.begin(), s.values.end(), [&](const Value& v) { return matches(other, v); });
  };
  if (a.kind == CK::values && (b.kind == CK::values || b.kind == CK::range || b.kind == CK::not_values)) return !in(a, b);
  if (b.kind == CK::values && (a.kind == CK::range || a.kind == CK::not_values)) return !in(b, a);
  if (a.kind != CK::range || b.kind != CK::range) return false;
  auto apart = [](const CellSet& low, const CellSet& high) {  // low's upper bound below high's lower bound
    if (!low.hi || !high.lo) return false;
    bool ok = false;
    const int c = compare_values(*low.hi, *high.lo, ok);
    return !ok || c < 0 || (c == 0 && (low.hi_strict || high.lo_strict));
  };
  return apart(a, b) || apart(b, a);
}

// Values near `b`, nicest first: `> 730d` is met by 731d before 730d 1ms.
void neighbours(const Value& b, std::vector<Value>& out) {
  out.push_back(b);
  using namespace std::chrono;
  switch (b.kind()) {
    case VK::integer:
      if (b.as_int() < std::numeric_limits<std::int64_t>::max()) out.emplace_back(b.as_int() + 1);
      if (b.as_int() > std::numeric_limits<std::int64_t>::min()) out.emplace_back(b.as_int() - 1);
      return;
    case VK::number:
      for (double d : {1.0, 0.5, 0.001}) {
        out.emplace_back(b.as_number() + d);
        out.emplace_back(b.as_number() - d);
      }
      return;
    case VK::duration: case VK::datetime:
      for (Duration d : {Duration{days{1}}, Duration{hours{1}}, Duration{minutes{1}}, Duration{seconds{1}}, Duration{1}}) {
        if (b.kind() == VK::duration) {
          if (b.as_duration() < Duration::max() - d) out.emplace_back(b.as_duration() + d);
          if (b.as_duration() > Duration::min() + d) out.emplace_back(b.as_duration() - d);
        } else {
          if (in_time_range(b.as_datetime() + d)) out.emplace_back(b.as_datetime() + d);
          if (b.as_datetime().time_since_epoch() > Duration::min() + d && in_time_range(b.as_datetime() - d))
            out.emplace_back(b.as_datetime() - d);
        }
      }
      return;
    case VK::date:
      if (b.as_date().days < max_date.days) out.emplace_back(Date{b.as_date().days + 1});
      if (b.as_date().days > min_date.days) out.emplace_back(Date{b.as_date().days - 1});
      return;
    case VK::string:
      out.emplace_back(b.as_string() + "a");
      if (!b.as_string().empty()) out.emplace_back(b.as_string().substr(0, b.as_string().size() - 1));
      return;
    default: return;
  }
}

// A value between two bounds of one kind, for `> 0.5` with `< 0.6`.
std::optional<Value> between(const Value& a, const Value& b) {
  if (a.is_numeric() && b.is_numeric() && (a.kind() == VK::number || b.kind() == VK::number))
    return Value(a.as_number() / 2 + b.as_number() / 2);
  if (a.kind() == VK::duration && b.kind() == VK::duration) return Value(a.as_duration() / 2 + b.as_duration() / 2);
  if (a.kind() == VK::datetime && b.kind() == VK::datetime)
    return Value(a.as_datetime() + (b.as_datetime() - a.as_datetime()) / 2);
  if (a.kind() == VK::date && b.kind() == VK::date)
    return Value(Date{a.as_date().days + (b.as_date().days - a.as_date().days) / 2});
  return std::nullopt;
}

// A value of the column that none of `listed` is: the fresh input a `not in [...]` cell matches.
std::optional<Value> fresh(const Type& column, const std::vector<Value>& listed) {
  auto unlisted = [&](const Value& v) { return std::none_of(listed.begin(), listed.end(), [&](const Value& x) { return x == v; }); };
  if (column.kind == Type::Kind::enumeration) {
    for (const auto& e : column.values)
      if (unlisted(Value(e))) return Value(e);
    return std::nullopt;
  }
  if (column.kind == Type::Kind::boolean) {
    for (bool b : {true, false})
      if (unlisted(Value(b))) return Value(b);
    return std::nullopt;
  }
  std::int64_t top = 0;
  for (const auto& v : listed)
    if (v.kind() == VK::integer) top = std::max(top, v.as_int());
  switch (column.kind) {
    case Type::Kind::integer: case Type::Kind::number:
      if (top < std::numeric_limits<std::int64_t>::max()) return Value(top + 1);
      return std::nullopt;
    case Type::Kind::string: case Type::Kind::any:
      for (int i = 0; i < 64; ++i)
        if (Value v(i == 0 ? std::string("other") : fmt::format("other-{}", i)); unlisted(v)) return v;
      return std::nullopt;
    case Type::Kind::duration:
      for (int i = 1; i <= 64; ++i)
        if (Value v(Duration{std::chrono::days{i}}); unlisted(v)) return v;
      return std::nullopt;
    default: return std::nullopt;
  }
}

// An input both cells match, found among the values the cells name and values near their bounds.
std::optional<Value> witness(const CellSet& a, const CellSet& b, const Type& column) {
  std::vector<Value> cand, bounds, listed;
  for (const CellSet* s : {&a, &b}) {
    if (s->kind == CK::values) cand.insert(cand.end(), s->values.begin(), s->values.end());
    if (s->kind == CK::not_values) listed.insert(listed.end(), s->values.begin(), s->values.end());
    for (const auto* bound : {&s->lo, &s->hi})
      if (*bound) bounds.push_back(**bound);
  }
  for (const auto& x : bounds) neighbours(x, cand);
  for (std::size_t i = 0; i < bounds.size(); ++i)
    for (std::size_t j = i + 1; j < bounds.size(); ++j)
      if (auto m = between(bounds[i], bounds[j])) cand.push_back(*m);
  if (auto f = fresh(column, listed)) cand.push_back(*f);
  for (const auto& v : cand)
    if (matches(a, v) && matches(b, v)) return v;
  if (matches(a, Value()) && matches(b, Value())) return Value();  // only "not set" is left
  return std::nullopt;
}

// How an example value reads in a message: as it would be written in a cell.
std::string shown(const Value& v) {
  if (v.kind() != VK::string) return v.kind() == VK::null ? "null" : v.to_display();
  const std::string& s = v.as_string();
  const bool plain = !s.empty() && std::all_of(s.begin(), s.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '.';
  });
  return plain && std::isalpha(static_cast<unsigned char>(s[0])) ? s : "'" + s + "'";
}

bool passes(const Expression& test, const Value& v) {
  if (test.empty()) return true;
  EvalContext ctx;
  ctx.subject = &v;
  try {
    return test.test(ctx);
  } catch (const Error&) {
    return false;
  }
}

// "product = tv, days_open = 731d" for an input rows `j` and `r` both match, or nullopt.
std::optional<std::string> overlap(const RuleTable& t, const std::vector<std::vector<CellSet>>& cells, std::size_t j,
                                   std::size_t r) {
  // Cells the load cannot read, and cells plainly apart, first: they end most comparisons
  // before any search.
  for (std::size_t c = 0; c < t.inputs.size(); ++c) {
    const CellSet& a = cells[j][c];
    const CellSet& b = cells[r][c];
    if (disjoint(a, b)) return std::nullopt;
    if (a.kind != CK::unknown && b.kind != CK::unknown) continue;
    const CellSet& u = a.kind == CK::unknown ? a : b;
    const CellSet& o = a.kind == CK::unknown ? b : a;
    if (!u.satisfiable || !(o.kind == CK::any || (o.kind == CK::unknown && o.text == u.text))) return std::nullopt;
  }
  std::vector<std::string> parts;
  for (std::size_t c = 0; c < t.inputs.size(); ++c) {
    const CellSet& a = cells[j][c];
    const CellSet& b = cells[r][c];
    if (a.kind == CK::any && b.kind == CK::any) continue;
    if (a.kind == CK::unknown || b.kind == CK::unknown) {
      std::string_view rhs = (a.kind == CK::unknown ? a : b).text;
      if (rhs.starts_with("==")) rhs = trim(rhs.substr(2));
      parts.push_back(fmt::format("{} = {}", t.inputs[c].name, rhs));
      continue;
    }
    auto v = witness(a, b, t.inputs[c].type);
    if (!v || !passes(t.rows[j].tests[c], *v) || !passes(t.rows[r].tests[c], *v)) return std::nullopt;
    parts.push_back(fmt::format("{} = {}", t.inputs[c].name, shown(*v)));
  }
  return fmt::format("{}", fmt::join(parts, ", "));
}

bool shadows(const std::vector<CellSet>& earlier, const std::vector<CellSet>& later) {
  for (std::size_t c = 0; c < later.size(); ++c)
    if (!contains(earlier[c], later[c])) return false;
  return true;
}

std::string value_key(const Value& v) {
  if (v.kind() == VK::number && std::trunc(v.as_number()) == v.as_number() && std::abs(v.as_number()) < 9e15)
    return fmt::format("n{}", static_cast<std::int64_t>(v.as_number()));  // 2.0 == 2
  if (v.kind() == VK::integer) return fmt::format("n{}", v.as_int());
  return fmt::format("{}:{}", static_cast<int>(v.kind()), v.to_json());
}

// Per column: rows whose cell names values (by value), rows with `-`, and the rest. Rows that
// name different values in a column cannot clash, so a row is paired only with the rows of the
// column that leaves it the fewest partners.
class RowIndex {
 public:
  explicit RowIndex(std::size_t columns) : by_value_(columns), any_(columns), rest_(columns) {}

  void add(std::size_t row, const std::vector<CellSet>& cells) {
    for (std::size_t c = 0; c < cells.size(); ++c) {
      if (cells[c].kind == CK::any) any_[c].push_back(row);
      else if (cells[c].kind != CK::values) rest_[c].push_back(row);
      else
        for (const auto& v : cells[c].values) {
          auto& bucket = by_value_[c][value_key(v)];
          if (bucket.empty() || bucket.back() != row) bucket.push_back(row);
        }
    }
  }

  // Earlier rows (ascending) that may overlap `cells` (or, `inside`, contain them).
  std::vector<std::size_t> partners(const std::vector<CellSet>& cells, std::size_t earlier, bool inside) const {
    std::vector<const std::vector<std::size_t>*> best;
    std::size_t best_cost = earlier;
    for (std::size_t c = 0; c < cells.size(); ++c) {
      std::vector<const std::vector<std::size_t>*> parts{&any_[c]};
      if (cells[c].kind == CK::values) {
        parts.push_back(&rest_[c]);
        for (const auto& v : cells[c].values)
          if (auto it = by_value_[c].find(value_key(v)); it != by_value_[c].end()) parts.push_back(&it->second);
      } else if (!inside) {
        continue;
      } else if (cells[c].kind != CK::any) {
        parts.push_back(&rest_[c]);
      }
      std::size_t cost = 0;
      for (const auto* p : parts) cost += p->size();
      if (cost < best_cost) best_cost = cost, best = std::move(parts);
    }
    std::vector<std::size_t> out;
    if (best.empty()) {
      for (std::size_t i = 0; i < earlier; ++i) out.push_back(i);
      return out;
    }
    for (const auto* p : best) out.insert(out.end(), p->begin(), p->end());
    std::sort(out.begin(), out.end());
    out.erase(std::unique(out.begin(), out.end()), out.end());
    return out;
  }

 private:
  std::vector<std::unordered_map<std::string, std::vector<std::size_t>>> by_value_;
  std::vector<std::vector<std::size_t>> any_, rest_;
};

}  // namespace

CellSet describe_rule_test(const Expression& test, std::string_view cell, const Type& column, const ExprEnv& base) {
  CellSet s;
  s.text = std::string(trim(cell));
  if (test.empty()) {
    s.kind = CK::any;
    return s;
  }
  NodePtr root;
  try {
    root = parse_expression(test.text());
    ExprEnv env = base;
    env.subject = column;
    env.expected.reset();
    check_expression(*root, env);
  } catch (const Error&) {
    return s;
  }
  const ExprNode& n = *root;
  if (n.kids.size() != 2 || n.kids[0]->op != Op::subject) return s;
  const auto c = constant_value(*n.kids[1]);
  if (!c) {
    s.satisfiable = n.op == Op::eq;
    return s;
  }
  switch (n.op) {
    case Op::eq: case Op::ne:
      s.kind = n.op == Op::eq ? CK::values : CK::not_values;
      s.values = {*c};
      return s;
    case Op::in: case Op::not_in:
      if (c->kind() != VK::list) return s;  // `in 'text'` tests substrings
      s.kind = n.op == Op::in ? CK::values : CK::not_values;
      s.values = c->as_list();
      return s;
    case Op::lt: case Op::le: case Op::gt: case Op::ge:
      if (!orderable(*c)) return s;
      s.kind = CK::range;
      (n.op == Op::lt || n.op == Op::le ? s.hi : s.lo) = *c;
      s.lo_strict = n.op == Op::gt;
      s.hi_strict = n.op == Op::lt;
      return s;
    default: return s;
  }
}

std::vector<RowClash> check_rule_rows(const RuleTable& t, const std::vector<std::vector<CellSet>>& cells,
                                      RowCheckBudget& budget) {
  std::vector<RowClash> out;
  if (t.hit == HitPolicy::collect || cells.size() != t.rows.size()) return out;
  const bool unique = t.hit == HitPolicy::unique;
  RowIndex index(t.inputs.size());
  for (std::size_t r = 0; r < cells.size(); ++r) {
    if (cells[r].size() != t.inputs.size()) return out;
    for (std::size_t j : index.partners(cells[r], r, !unique)) {
      if (budget.pairs == 0) return out;
      --budget.pairs;
      if (unique) {
        if (auto ex = overlap(t, cells, j, r)) {
          out.push_back({r, j, std::move(*ex)});
          break;  // one report per row: n equal rows would otherwise make n * n / 2 of them
        }
      } else if (shadows(cells[j], cells[r])) {
        out.push_back({r, j, {}});
        break;
      }
    }
    if (out.size() >= budget.max_clashes) return out;
    index.add(r, cells[r]);
  }
  return out;
}

}  // namespace escalon::detail
