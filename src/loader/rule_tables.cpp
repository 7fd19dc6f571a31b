// FlowBuilder: rule tables (`rules:`). Headers (name, hit policy, outputs) are read with the
// flow file and its includes; bodies (inputs, rows) once the flow's data is known, since library
// tables are compiled in the context of each flow that includes them.

#include <fmt/format.h>

#include <functional>

#include "expr/rules.hpp"
#include "loader/builder.hpp"
#include "base/suggest.hpp"

namespace escalon::detail {
namespace {

// Rows that provably clash (expr/rule_checks.cpp): an error for two rows of a `unique` table that
// both match some input, a warning for a row of a `first` table that an earlier row shadows.
void report_clashes(Reporter& rep, const RuleTable& table, const std::vector<std::vector<CellSet>>& cells,
                    RowCheckBudget& budget) {
  for (const auto& c : check_rule_rows(table, cells, budget)) {
    const RuleRow& row = table.rows[c.row];
    const std::size_t other = table.rows[c.other].where.line;
    if (table.hit == HitPolicy::unique)
      rep.error(row.where, fmt::format("rule table '{}' has hit policy unique, but the rows at lines {} and {} both match "
                                       "{}; make them exclusive or use hit: first",
                                       table.name, other, row.where.line,
                                       c.example.empty() ? "every input" : "the input " + c.example));
    else
      rep.warning(row.where, fmt::format("rule table '{}' (hit policy first): this row never applies, since the row at "
                                         "line {} matches every input it matches; remove it or move it above that row",
                                         table.name, other));
  }
}

}  // namespace

std::vector<std::string> rule_calls(std::string_view text) {
  std::vector<std::string> out;
  for (std::size_t p = text.find("rule("); p != std::string_view::npos; p = text.find("rule(", p + 5)) {
    std::size_t q = p + 5;
    while (q < text.size() && text[q] == ' ') ++q;
    if (q >= text.size() || (text[q] != '\'' && text[q] != '"')) continue;
    const char quote = text[q];
    const std::size_t e = text.find(quote, q + 1);
    if (e != std::string_view::npos) out.emplace_back(text.substr(q + 1, e - q - 1));
  }
  return out;
}

void FlowBuilder::rule_headers(const Source& src, const YAML::Node& n) {
  MapReader m(rep_, src, n, "`rules`", std::vector<std::string>{});
  for (const auto& [k, v] : m.entries()) {
    const std::string& name = k.Scalar();
    if (!is_kebab_id(name)) {
      rep_.error(loc(src, k), fmt::format("rule table name '{}' must be lowercase letters, digits and '-'", name));
      continue;
    }
    if (const RuleTable* r = flow_.find_rule(name)) {
      rep_.error(loc(src, k), fmt::format("rule table '{}' is already defined at {}", name, r->where.str()));
      continue;
    }
    MapReader t(rep_, src, v, fmt::format("rule table '{}'", name), {"hit", "inputs", "outputs", "rows", "description"});
    if (!t.ok()) continue;
    RuleTable table;
    table.name = name;
    table.where = loc(src, k);
    if (auto h = t.get("hit")) {
      auto s = read_string(rep_, src, *h, "`hit`").value_or("");
      if (s == "first") table.hit = HitPolicy::first;
      else if (s == "unique") table.hit = HitPolicy::unique;
      else if (s == "collect") table.hit = HitPolicy::collect;
      else rep_.error(loc(src, *h), fmt::format("hit policy '{}' is not first, unique or collect{}", s,
                                                did_you_mean(s, std::vector<std::string>{"first", "unique", "collect"})));
    }
    auto outs = t.get("outputs");
    if (!outs) {
      rep_.error(t.where(), fmt::format("rule table '{}' needs `outputs`, e.g. outputs: {{ team: string }}", name));
      continue;
    }
    MapReader om(rep_, src, *outs, "`outputs`", std::vector<std::string>{});
    for (const auto& [ok_, ov] : om.entries()) {
      if (!is_field_name(ok_.Scalar())) {
        rep_.error(loc(src, ok_), fmt::format("output name '{}' must be lowercase letters, digits and '_'", ok_.Scalar()));
        continue;
      }
      auto ty = type_spec(src, ov, fmt::format("output '{}'", ok_.Scalar()));
      table.outputs.push_back({ok_.Scalar(), ty.value_or(Type{}), {}, loc(src, ok_)});
    }
    if (!t.has("rows")) rep_.error(t.where(), fmt::format("rule table '{}' needs `rows`", name));
    flow_.rules.push_back(std::move(table));
    rule_nodes_.push_back({&src, v});
  }
}

void FlowBuilder::rule_bodies() {
  RowCheckBudget budget;  // for every table of the flow together
  for (std::size_t ti = 0; ti < rule_nodes_.size() && ti < flow_.rules.size(); ++ti) {
    RuleTable& table = flow_.rules[ti];
    const Source& src = *rule_nodes_[ti].src;
    const YAML::Node& v = rule_nodes_[ti].node;
    if (auto ins = v["inputs"]) rule_inputs(table, src, ins);
    auto rows = v["rows"];
    if (!rows) continue;
    if (!rows.IsSequence()) {
      rep_.error(loc(src, rows), "`rows` must be a list of rows, each a list of cells: inputs, then outputs");
      continue;
    }
    std::vector<std::vector<CellSet>> cells;  // what each row's input cells match, for the row checks
    for (const auto& row : rows) {
      if (!rep_.count(src, row)) break;
      RuleRow r;
      std::vector<CellSet> sets;
      if (!rule_row(table, src, row, r, sets)) {
        partial_rules_.insert(table.name);  // its checks would miss the row
        continue;
      }
      cells.push_back(std::move(sets));
      table.rows.push_back(std::move(r));
    }
    report_clashes(rep_, table, cells, budget);
  }
}

void FlowBuilder::rule_inputs(RuleTable& table, const Source& src, const YAML::Node& n) {
  for (const auto& [text, node] : read_string_list(rep_, src, n, "`inputs`")) {
    RuleColumn col;
    col.name = text;
    col.where = loc(src, node);
    col.input = expr(src, node, env_, "a rule input");
    col.type = col.input.type();
    table.inputs.push_back(std::move(col));
  }
}

// One row: its cells compiled as tests (inputs) and values (outputs); false when it is left out.
bool FlowBuilder::rule_row(const RuleTable& table, const Source& src, const YAML::Node& row, RuleRow& r,
                           std::vector<CellSet>& sets) {
  const std::size_t width = table.inputs.size() + table.outputs.size();
  if (!row.IsSequence() || row.size() != width) {
    rep_.error(loc(src, row), fmt::format("a row of rule table '{}' needs {} cells ({} inputs, then {} outputs), got {}",
                                          table.name, width, table.inputs.size(), table.outputs.size(),
                                          row.IsSequence() ? row.size() : 1));
    return false;
  }
  r.where = loc(src, row);
  bool ok = true;
  for (std::size_t i = 0; i < width; ++i) {
    const YAML::Node cell = row[i];
    std::string text = cell.IsNull() ? "-" : cell.IsScalar() ? cell.Scalar() : "";
    if (!cell.IsNull() && !cell.IsScalar()) {
      rep_.error(loc(src, cell), "a rule cell must be a single value or test; quote tests like \"in [a, b]\"");
      ok = false;
      continue;
    }
    try {
      if (i < table.inputs.size()) {
        r.tests.push_back(compile_rule_test(text, table.inputs[i].type, env_));
        note_rule_use(r.tests.back());
        sets.push_back(describe_rule_test(r.tests.back(), text, table.inputs[i].type, env_));
      } else {
        r.outputs.push_back(compile_rule_output(text, table.outputs[i - table.inputs.size()].type, env_));
        note_rule_use(r.outputs.back());
      }
    } catch (const ExprError& e) {
      rep_.error(location_in_scalar(src, cell, e.offset()),
                 fmt::format("in rule table '{}', column '{}': {}", table.name,
                             i < table.inputs.size() ? table.inputs[i].name : table.outputs[i - table.inputs.size()].name,
                             e.message()));
      ok = false;
    }
  }
  return ok;
}

void FlowBuilder::rule_cycles() {
  // rule('a') inside table b's cells or inputs makes b depend on a.
  std::map<std::string, std::set<std::string>> deps;
  for (const auto& t : flow_.rules) {
    auto add = [&](const Expression& e) { for (auto& r : rule_calls(e.text())) deps[t.name].insert(r); };
    for (const auto& c : t.inputs) add(c.input);
    for (const auto& row : t.rows) {
      for (const auto& e : row.tests) add(e);
      for (const auto& e : row.outputs) add(e);
    }
  }
  std::map<std::string, int> state;  // 1 = on the stack, 2 = done
  std::function<bool(const std::string&, std::vector<std::string>&)> dfs = [&](const std::string& n, std::vector<std::string>& path) {
    state[n] = 1;
    path.push_back(n);
    for (const auto& d : deps[n]) {
      if (state[d] == 1) { path.push_back(d); return true; }
      if (state[d] == 0 && dfs(d, path)) return true;
    }
    path.pop_back();
    state[n] = 2;
    return false;
  };
  for (const auto& t : flow_.rules) {
    std::vector<std::string> path;
    if (state[t.name] == 0 && dfs(t.name, path)) {
      rep_.error(t.where, fmt::format("rule tables call each other in a cycle: {}", fmt::join(path, " -> ")));
      return;
    }
  }
}

}  // namespace escalon::detail
