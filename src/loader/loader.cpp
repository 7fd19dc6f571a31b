// Flow loader: YAML -> checked, immutable flow model.
//
// Steps, in order:
//   1. read files (folders expand to *.yaml/*.yml in name order), check size and nesting
//      limits, parse with yaml-cpp;
//   2. per flow: includes (library files with calendars, roles, rules), calendars, data schema,
//      rule-table headers, step names, then every step, SLA and rule body, compiling each
//      expression against the names in scope;
//   3. across flows: sub-flow references and their input/output mappings;
//   4. graph checks (src/graph) for every flow without errors.
// Nothing throws for a problem in a file: every problem becomes a Diagnostic with its
// file:line:column, and the caller decides (validate() reports, load_flows() throws FlowError).

#include <fmt/format.h>

#include <charconv>
#include <deque>
#include <functional>
#include <filesystem>
#include <set>

#include "escalon/calendar.hpp"
#include "escalon/graph.hpp"
#include "escalon/loader.hpp"
#include "expr/rules.hpp"
#include "loader/content_hash.hpp"
#include "loader/yaml_reader.hpp"
#include "model/numbers.hpp"
#include "model/suggest.hpp"

namespace escalon {
namespace detail {
namespace {

namespace fs = std::filesystem;
using K = Type::Kind;

const std::vector<std::string> type_names = {"string", "int", "number", "bool", "datetime", "duration", "enum", "list", "map"};

bool is_event_name(std::string_view s) {
  if (s.empty() || s.size() > 128) return false;
  auto ok = [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.'; };
  return std::all_of(s.begin(), s.end(), ok) && ok(s.front()) && s.front() != '-' && s.front() != '.';
}

bool is_action_name(std::string_view s) { return is_event_name(s); }

std::optional<int> parse_clock(std::string_view s) {  // "08:00" -> minutes; "24:00" allowed as an end
  if (s.size() != 5 || s[2] != ':') return std::nullopt;
  auto dig = [](char c) { return c >= '0' && c <= '9'; };
  if (!dig(s[0]) || !dig(s[1]) || !dig(s[3]) || !dig(s[4])) return std::nullopt;
  const int h = (s[0] - '0') * 10 + (s[1] - '0'), m = (s[3] - '0') * 10 + (s[4] - '0');
  if (m > 59 || h > 24 || (h == 24 && m != 0)) return std::nullopt;
  return h * 60 + m;
}

std::optional<std::chrono::year_month_day> parse_date(std::string_view s) {
  if (s.size() != 10 || s[4] != '-' || s[7] != '-') return std::nullopt;
  int y = 0;
  unsigned mo = 0, d = 0;
  for (int i : {0, 1, 2, 3}) { if (s[i] < '0' || s[i] > '9') return std::nullopt; y = y * 10 + (s[i] - '0'); }
  for (int i : {5, 6}) { if (s[i] < '0' || s[i] > '9') return std::nullopt; mo = mo * 10 + static_cast<unsigned>(s[i] - '0'); }
  for (int i : {8, 9}) { if (s[i] < '0' || s[i] > '9') return std::nullopt; d = d * 10 + static_cast<unsigned>(s[i] - '0'); }
  std::chrono::year_month_day ymd{std::chrono::year{y}, std::chrono::month{mo}, std::chrono::day{d}};
  if (!ymd.ok()) return std::nullopt;
  return ymd;
}

std::optional<double> parse_percent(std::string_view s) {
  if (s.empty() || s.back() != '%') return std::nullopt;
  s.remove_suffix(1);
  while (!s.empty() && s.back() == ' ') s.remove_suffix(1);
  if (s.empty()) return std::nullopt;
  const auto v = parse_number(s);
  if (!v || !(*v > 0) || *v > 1000) return std::nullopt;
  return *v / 100.0;
}

// Texts of `rule('name')` calls inside an expression, for the rule-cycle check.
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

struct PendingSubflow {
  Flow* flow;
  std::size_t step;
  const Source* src;
  YAML::Node flow_node;
  std::optional<YAML::Node> input, output;
  ExprEnv parent_env;
};

struct RoleRef {
  std::string name;
  SourceLocation where;
  std::string what;
};

class Loader;

class FlowBuilder {
 public:
  FlowBuilder(Loader& loader, Reporter& rep, const Source& src, Flow& flow)
      : loader_(loader), rep_(rep), src_(src), flow_(flow) {}

  void build(const YAML::Node& root);
  void build_library(const YAML::Node& root);
  std::vector<PendingSubflow>& pending() { return pending_; }

 private:
  Loader& loader_;
  Reporter& rep_;
  const Source& src_;
  Flow& flow_;
  ExprEnv env_;                        // data + rules + case
  std::map<std::string, SourceLocation> roles_;
  bool roles_declared_ = false;
  std::vector<RoleRef> role_refs_;
  std::set<std::string> used_calendars_;
  std::set<std::string> failed_calendars_;  // defined but invalid: already reported
  std::set<std::string> used_rules_;
  std::vector<PendingSubflow> pending_;
  std::vector<std::pair<std::string, SourceLocation>> emitted_;
  std::vector<std::string_view> hash_parts_;  // the file's text, then each include's (Flow::content_hash)
  struct RuleSource { const Source* src; YAML::Node node; };
  std::vector<RuleSource> rule_nodes_;

  SourceLocation loc(const Source& s, const YAML::Node& n) const { return location(s, n); }
  SourceLocation loc(const YAML::Node& n) const { return location(src_, n); }

  // --- pieces -------------------------------------------------------------------------
  void includes(const YAML::Node& n);
  void library_sections(const Source& src, const MapReader& top);
  void calendars(const Source& src, const YAML::Node& n);
  std::optional<CalendarSpec> calendar(const Source& src, const std::string& name, const YAML::Node& n);
  bool hours(const Source& src, const YAML::Node& n, CalendarSpec& spec);
  std::optional<std::vector<WorkInterval>> intervals(const Source& src, const YAML::Node& n);
  void roles(const Source& src, const YAML::Node& n);
  std::optional<DataField> field(const Source& src, const std::string& name, const YAML::Node& n, std::string_view what);
  std::optional<Type> type_spec(const Source& src, const YAML::Node& n, std::string_view what);
  std::optional<Value> value_of(const Source& src, const YAML::Node& n, const Type& t, std::string_view what);
  void rule_headers(const Source& src, const YAML::Node& n);
  void rule_bodies();
  void rule_cycles();
  void steps(const YAML::Node& n);
  void step(Step& s, const YAML::Node& n);
  std::vector<Transition> transitions(const YAML::Node& n, const Step& s, const ExprEnv& env, bool with_event);
  std::optional<Transition> transition(const YAML::Node& n, const std::string& event, const ExprEnv& env);
  std::vector<Assignment> assignments(const Source& src, const YAML::Node& n, const ExprEnv& env, std::string_view what,
                                      bool data_targets);
  std::optional<Deadline> deadline(const YAML::Node& n);
  std::vector<Escalation> ladder(const YAML::Node& n, const std::string& what);
  std::optional<Escalation> rung(const YAML::Node& n);
  std::vector<Hook> hooks(const YAML::Node& n, std::string_view what);
  void slas(const YAML::Node& n);
  std::optional<DurationSpec> duration(const Source& src, const YAML::Node& n, std::string_view what);
  std::int32_t step_ref(const YAML::Node& n, std::string_view what);
  std::int32_t step_ref_named(const std::string& name, SourceLocation where, std::string_view what);
  void calendar_ref(const std::string& name, SourceLocation where, bool business);
  void role_ref(const std::string& name, SourceLocation where, std::string what);
  void check_roles();
  void check_decision_rule(Step& s, const YAML::Node& n);
  void check_warnings();
  Expression expr(const Source& src, const YAML::Node& n, const ExprEnv& env, std::string_view what);
  Expression expr(const YAML::Node& n, const ExprEnv& env, std::string_view what) { return expr(src_, n, env, what); }
  ExprEnv event_env(const Step& s) const;
  void note_rule_use(const Expression& e) {
    for (auto& r : rule_calls(e.text())) used_rules_.insert(r);
  }
};

class Loader {
 public:
  Loader(const LoadOptions& options, LoadResult& result) : options_(options), result_(result), rep_(result.diagnostics, options) {}

  void add_path(const std::string& path);
  void add_text(std::string_view text, std::string_view name, std::string_view base_dir);
  void finish();
  const Source* read_include(const std::string& path, const Source& from, const YAML::Node& at);
  std::optional<YAML::Node> parse_cached(const Source* src);

 private:
  const LoadOptions& options_;
  LoadResult& result_;
  Reporter rep_;
  std::deque<Source> sources_;
  std::map<std::string, const Source*> by_path_;
  std::map<const Source*, std::optional<YAML::Node>> parsed_;
  std::vector<std::shared_ptr<Flow>> flows_;
  std::vector<std::vector<PendingSubflow>> pending_;
  std::vector<std::size_t> error_counts_;   // rep_.errors() after each flow was built
  std::vector<std::size_t> error_before_;

  void load_source(const Source* src);
  void resolve_subflows();
};

// ------------------------------------------------------------------------------ loader

void Loader::add_path(const std::string& path) {
  std::error_code ec;
  if (fs::is_directory(path, ec)) {
    std::vector<std::string> files;
    for (auto it = fs::recursive_directory_iterator(path, ec); !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
      const auto ext = it->path().extension();
      if (it->is_regular_file() && (ext == ".yaml" || ext == ".yml")) files.push_back(it->path().lexically_normal().string());
    }
    std::sort(files.begin(), files.end());
    if (files.empty()) rep_.error({path, 0, 0}, "folder has no *.yaml or *.yml files");
    for (const auto& f : files) add_path(f);
    return;
  }
  const std::string norm = fs::path(path).lexically_normal().string();
  if (by_path_.count(norm)) return;
  auto text = read_file(path);
  if (!text) {
    rep_.error({path, 0, 0}, fs::exists(path, ec) ? "cannot read the file (permissions?)" : "no such file or folder");
    return;
  }
  sources_.push_back({norm, std::move(*text)});
  by_path_[norm] = &sources_.back();
  result_.files.push_back(norm);
  load_source(&sources_.back());
}

void Loader::add_text(std::string_view text, std::string_view name, std::string_view base_dir) {
  const std::string file = base_dir.empty() || base_dir == "." ? std::string(name) : (fs::path(base_dir) / name).string();
  sources_.push_back({file, std::string(text)});
  by_path_[file] = &sources_.back();
  result_.files.push_back(file);
  load_source(&sources_.back());
}

std::optional<YAML::Node> Loader::parse_cached(const Source* src) {
  auto it = parsed_.find(src);
  if (it != parsed_.end()) return it->second;
  auto n = parse_yaml(rep_, *src);
  parsed_[src] = n;
  return n;
}

const Source* Loader::read_include(const std::string& path, const Source& from, const YAML::Node& at) {
  fs::path p = fs::path(from.file).parent_path() / path;
  const std::string norm = p.lexically_normal().string();
  if (auto it = by_path_.find(norm); it != by_path_.end()) return it->second;
  auto text = read_file(norm);
  if (!text) {
    rep_.error(location(from, at), fmt::format("included file '{}' not found; include paths are relative to the including file", path));
    return nullptr;
  }
  sources_.push_back({norm, std::move(*text)});
  by_path_[norm] = &sources_.back();
  return &sources_.back();
}

void Loader::load_source(const Source* src) {
  auto root = parse_cached(src);
  if (!root) return;
  if (root->IsNull()) {
    rep_.error({src->file, 1, 1}, "file is empty; a flow starts with `flow: NAME`");
    return;
  }
  if (!root->IsMap()) {
    rep_.error(location(*src, *root), fmt::format("a flow file must be a map (key: value lines), not {}", node_kind(*root)));
    return;
  }
  auto flow = std::make_shared<Flow>();
  flow->file = src->file;
  const std::size_t before = rep_.errors();
  FlowBuilder b(*this, rep_, *src, *flow);
  if ((*root)["flow"]) {
    b.build(*root);
    flows_.push_back(flow);
    pending_.push_back(std::move(b.pending()));
    error_before_.push_back(before);
    error_counts_.push_back(rep_.errors());
  } else {
    b.build_library(*root);
  }
}

void Loader::finish() {
  // A flow given alone still finds its sub-flows: `<id>.yaml` next to the file that names it is
  // read too (and its own sub-flows, in turn), so `validate flows/technician-visit.yaml` works.
  for (bool added = true; added;) {
    added = false;
    std::set<std::string> ids;
    for (const auto& f : flows_) ids.insert(f->id);
    std::vector<std::string> wanted;
    for (const auto& pending : pending_)
      for (const auto& p : pending) {
        if (!p.flow_node.IsScalar() || ids.count(p.flow_node.Scalar())) continue;
        const auto dir = fs::path(p.src->file).parent_path();
        for (const char* ext : {".yaml", ".yml"}) {
          const auto file = (dir / (p.flow_node.Scalar() + ext)).lexically_normal().string();
          std::error_code ec;
          if (!by_path_.count(file) && fs::is_regular_file(file, ec)) wanted.push_back(file);
        }
      }
    for (const auto& file : wanted)
      if (!by_path_.count(file)) {
        add_path(file);
        added = true;
      }
  }
  resolve_subflows();
  for (std::size_t i = 0; i < flows_.size(); ++i) {
    auto& f = flows_[i];
    // Count this flow's own errors plus any found for it while resolving sub-flows.
    bool has_errors = error_counts_[i] != error_before_[i];
    for (const auto& d : result_.diagnostics)
      if (d.severity == Severity::error && d.where.file == f->file) has_errors = true;
    if (has_errors) continue;
    for (auto& d : check_flow_graph(*f)) {
      if (d.severity == Severity::error) has_errors = true;
      result_.diagnostics.push_back(std::move(d));
    }
    if (!has_errors) result_.flows.push_back(f);
  }
  // Two flows with one id and version cannot both be loaded.
  std::map<std::pair<std::string, std::int64_t>, const Flow*> seen;
  for (const auto& f : flows_) {
    auto [it, fresh] = seen.emplace(std::pair{f->id, f->version}, f.get());
    if (!fresh && !f->id.empty())
      rep_.error(f->where, fmt::format("flow '{}' version {} is also defined in {}; give one of them another id or version",
                                       f->id, f->version, it->second->file));
  }
  auto& ds = result_.diagnostics;
  std::stable_sort(ds.begin(), ds.end(), [](const Diagnostic& a, const Diagnostic& b) {
    return std::tie(a.where.file, a.where.line, a.where.column) < std::tie(b.where.file, b.where.line, b.where.column);
  });
  ds.erase(std::unique(ds.begin(), ds.end(), [](const Diagnostic& a, const Diagnostic& b) {
             return a.where == b.where && a.message == b.message && a.severity == b.severity;
           }),
           ds.end());
  // Drop flows that ended up with errors from the cross-flow pass or duplicates.
  std::set<std::string> bad_files;
  for (const auto& d : ds)
    if (d.severity == Severity::error) bad_files.insert(d.where.file);
  std::erase_if(result_.flows, [&](const FlowPtr& f) { return bad_files.count(f->file) > 0; });
}

void Loader::resolve_subflows() {
  for (std::size_t i = 0; i < flows_.size(); ++i) {
    for (auto& p : pending_[i]) {
      const std::string child_id = p.flow_node.IsScalar() ? p.flow_node.Scalar() : std::string();
      const Flow* child = nullptr;
      std::vector<std::string> ids;
      for (const auto& f : flows_) {
        ids.push_back(f->id);
        if (f->id == child_id && (!child || f->version > child->version)) child = f.get();
      }
      if (!child) {
        std::string hint = did_you_mean(child_id, ids);
        rep_.error(location(*p.src, p.flow_node),
                   fmt::format("sub-flow '{}' is not loaded{}", child_id,
                               hint.empty() ? fmt::format("; load its file together with this one (or put it next to this "
                                                           "file as {}.yaml)", child_id)
                                            : hint));
        continue;
      }
      if (child == p.flow) {
        rep_.error(location(*p.src, p.flow_node), fmt::format("flow '{}' cannot run itself as a sub-flow", child_id));
        continue;
      }
      Step& s = p.flow->steps[p.step];
      s.subflow_version = child->version;
      ExprEnv child_env;
      for (std::size_t ci = 0; ci < child->data.size(); ++ci) {
        child_env.data[child->data[ci].name] = child->data[ci].type;
        child_env.slots[child->data[ci].name] = static_cast<std::int32_t>(ci);
      }
      child_env.rules = &child->rules;
      if (p.input) {
        MapReader m(rep_, *p.src, *p.input, "`input`", std::vector<std::string>{});
        for (const auto& [k, v] : m.entries()) {
          const DataField* target = child->find_field(k.Scalar());
          if (!target) {
            std::vector<std::string> names;
            for (const auto& f : child->data) names.push_back(f.name);
            rep_.error(location(*p.src, k), fmt::format("sub-flow '{}' has no data field '{}'{}", child_id, k.Scalar(),
                                                        did_you_mean(k.Scalar(), names)));
            continue;
          }
          ExprEnv e = p.parent_env;
          e.expected = target->type;
          try {
            s.input.push_back({k.Scalar(), compile_expression(v.Scalar(), e), location(*p.src, v)});
          } catch (const ExprError& err) {
            rep_.error(location_in_scalar(*p.src, v, err.offset()), fmt::format("in `input`: {}", err.message()));
          }
        }
        for (const auto& f : child->data) {
          if (!f.required || f.default_value) continue;
          if (std::none_of(s.input.begin(), s.input.end(), [&](const Assignment& a) { return a.field == f.name; }))
            rep_.error(location(*p.src, *p.input), fmt::format("sub-flow '{}' requires '{}'; map it under `input`", child_id, f.name));
        }
      } else {
        for (const auto& f : child->data)
          if (f.required && !f.default_value)
            rep_.error(location(*p.src, p.flow_node),
                       fmt::format("sub-flow '{}' requires '{}'; pass it with `input: {{ {}: ... }}`", child_id, f.name, f.name));
      }
      if (p.output) {
        MapReader m(rep_, *p.src, *p.output, "`output`", std::vector<std::string>{});
        for (const auto& [k, v] : m.entries()) {
          auto it = p.parent_env.data.find(k.Scalar());
          if (it == p.parent_env.data.end()) {
            std::vector<std::string> names;
            for (const auto& [n, t] : p.parent_env.data) names.push_back(n);
            rep_.error(location(*p.src, k), fmt::format("unknown data field '{}' in `output`{}", k.Scalar(),
                                                        did_you_mean(k.Scalar(), names)));
            continue;
          }
          ExprEnv e = child_env;
          e.expected = it->second;
          try {
            s.output.push_back({k.Scalar(), compile_expression(v.Scalar(), e), location(*p.src, v)});
          } catch (const ExprError& err) {
            rep_.error(location_in_scalar(*p.src, v, err.offset()),
                       fmt::format("in `output` (names are the sub-flow's data): {}", err.message()));
          }
        }
      }
    }
  }
}

// ------------------------------------------------------------------------------ builder

Expression FlowBuilder::expr(const Source& src, const YAML::Node& n, const ExprEnv& env, std::string_view what) {
  if (!n.IsScalar()) {
    rep_.error(loc(src, n), fmt::format("{} must be an expression (text), not {}", what, node_kind(n)));
    return {};
  }
  try {
    auto e = compile_expression(n.Scalar(), env);
    note_rule_use(e);
    return e;
  } catch (const ExprError& e) {
    rep_.error(location_in_scalar(src, n, e.offset()), fmt::format("in {}: {}", what, e.message()));
    return {};
  }
}

std::optional<DurationSpec> FlowBuilder::duration(const Source& src, const YAML::Node& n, std::string_view what) {
  auto s = read_string(rep_, src, n, what);
  if (!s) return std::nullopt;
  try {
    auto d = parse_duration_spec(*s);
    if (!d.is_business() && d.length <= Duration{0}) {
      rep_.error(loc(src, n), fmt::format("{} must be longer than zero", what));
      return std::nullopt;
    }
    if (d.basis == TimeBasis::business_days && d.days <= 0) {
      rep_.error(loc(src, n), fmt::format("{} must be at least 1 business day", what));
      return std::nullopt;
    }
    return d;
  } catch (const Error& e) {
    rep_.error(loc(src, n), fmt::format("{}: {}", what, e.message()));
    return std::nullopt;
  }
}

void FlowBuilder::build(const YAML::Node& root) {
  MapReader top(rep_, src_, root, "the flow",
                {"flow", "version", "title", "description", "calendar", "calendars", "data", "roles", "sla", "start",
                 "steps", "rules", "include"});
  flow_.where = {src_.file, 1, 1};
  hash_parts_ = {src_.text};  // hashed below, with the includes
  flow_.source = src_.text;
  if (auto n = top.get("flow")) {
    if (auto s = read_string(rep_, src_, *n, "`flow`")) {
      if (!is_kebab_id(*s))
        rep_.error(loc(*n), fmt::format("flow id '{}' must be lowercase letters, digits and '-' (e.g. technician-visit)", *s));
      flow_.id = *s;
    }
    flow_.where = loc(*n);
  }
  if (auto n = top.get("version")) {
    if (auto v = read_int(rep_, src_, *n, "`version`")) {
      if (*v < 1) rep_.error(loc(*n), "`version` must be 1 or more");
      flow_.version = *v;
    }
  }
  if (auto n = top.get("title")) flow_.title = read_string(rep_, src_, *n, "`title`").value_or("");
  if (auto n = top.get("description")) flow_.description = read_string(rep_, src_, *n, "`description`").value_or("");
  if (auto n = top.get("include")) includes(*n);
  library_sections(src_, top);
  if (auto n = top.get("calendar")) {
    if (auto s = read_string(rep_, src_, *n, "`calendar`")) {
      flow_.calendar = *s;
      calendar_ref(*s, loc(*n), false);
    }
  }
  if (auto n = top.get("data")) {
    MapReader m(rep_, src_, *n, "`data`", std::vector<std::string>{});
    for (const auto& [k, v] : m.entries()) {
      if (!is_field_name(k.Scalar())) {
        rep_.error(loc(k), fmt::format("data field '{}' must be lowercase letters, digits and '_' (it is used in expressions)",
                                       k.Scalar()));
        continue;
      }
      if (k.Scalar() == "event" || k.Scalar() == "case") {
        rep_.error(loc(k), fmt::format("'{}' is reserved in expressions; name the field otherwise", k.Scalar()));
        continue;
      }
      if (auto f = field(src_, k.Scalar(), v, fmt::format("data field '{}'", k.Scalar()))) flow_.data.push_back(std::move(*f));
    }
  }
  for (std::size_t i = 0; i < flow_.data.size(); ++i) {
    env_.data[flow_.data[i].name] = flow_.data[i].type;
    env_.slots[flow_.data[i].name] = static_cast<std::int32_t>(i);
  }
  env_.rules = &flow_.rules;
  rule_bodies();
  if (auto n = top.get("steps")) steps(*n);
  else rep_.error(flow_.where, "missing `steps`: a flow needs at least one step");
  if (auto n = top.get("start"); n && !flow_.steps.empty()) {
    flow_.start_index = step_ref(*n, "`start`");
    if (flow_.start_index >= 0) flow_.start = n->Scalar();
  } else if (!flow_.steps.empty()) {
    rep_.error(flow_.where, fmt::format("missing `start`: name the first step, e.g. `start: {}`", flow_.steps.front().name));
  }
  if (auto n = top.get("sla")) slas(*n);
  check_roles();
  rule_cycles();
  check_warnings();
  flow_.content_hash = content_hash(hash_parts_);
  flow_.legacy_hash = legacy_content_hash(hash_parts_);
}

void FlowBuilder::build_library(const YAML::Node& root) {
  MapReader top(rep_, src_, root, "the library file", {"library", "title", "description", "calendars", "roles", "rules"});
  if (!top.ok()) return;
  if (!top.has("calendars") && !top.has("roles") && !top.has("rules") && top.entries().size() == root.size()) {
    rep_.error({src_.file, 1, 1}, "file has no `flow:` key; a flow starts with `flow: NAME` (a library file has "
                                  "`calendars:`, `roles:` or `rules:`)");
    return;
  }
  library_sections(src_, top);
  // Library rule tables are compiled in the context of each flow that includes them.
  rule_nodes_.clear();
}

void FlowBuilder::library_sections(const Source& src, const MapReader& top) {
  if (auto n = top.get("calendars")) calendars(src, *n);
  if (auto n = top.get("roles")) roles(src, *n);
  if (auto n = top.get("rules")) rule_headers(src, *n);
}

void FlowBuilder::includes(const YAML::Node& n) {
  for (const auto& [path, node] : read_string_list(rep_, src_, n, "`include`")) {
    const Source* inc = loader_.read_include(path, src_, node);
    if (!inc) continue;
    flow_.includes.push_back(inc->file);
    hash_parts_.push_back(inc->text);
    auto root = loader_.parse_cached(inc);
    if (!root) continue;
    if (root->IsMap() && (*root)["flow"]) {
      rep_.error(loc(node), fmt::format("'{}' is a flow; only library files (calendars, roles, rules) can be included", path));
      continue;
    }
    MapReader top(rep_, *inc, *root, "the library file", {"library", "title", "description", "calendars", "roles", "rules"});
    if (top.ok()) library_sections(*inc, top);
  }
}

// --- calendars ------------------------------------------------------------------------

void FlowBuilder::calendars(const Source& src, const YAML::Node& n) {
  MapReader m(rep_, src, n, "`calendars`", std::vector<std::string>{});
  for (const auto& [k, v] : m.entries()) {
    const std::string& name = k.Scalar();
    if (!is_kebab_id(name)) {
      rep_.error(loc(src, k), fmt::format("calendar name '{}' must be lowercase letters, digits and '-'", name));
      continue;
    }
    if (auto it = flow_.calendars.find(name); it != flow_.calendars.end()) {
      rep_.error(loc(src, k), fmt::format("calendar '{}' is already defined at {}", name, it->second.where.str()));
      continue;
    }
    if (auto c = calendar(src, name, v)) flow_.calendars.emplace(name, std::move(*c));
    else failed_calendars_.insert(name);
  }
}

std::optional<CalendarSpec> FlowBuilder::calendar(const Source& src, const std::string& name, const YAML::Node& n) {
  MapReader m(rep_, src, n, fmt::format("calendar '{}'", name), {"timezone", "hours", "holidays", "exceptions", "description"});
  if (!m.ok()) return std::nullopt;
  CalendarSpec spec;
  spec.name = name;
  spec.where = m.where();
  bool ok = true;
  if (auto tz = m.get("timezone")) {
    if (auto s = read_string(rep_, src, *tz, "`timezone`")) {
      spec.timezone = *s;
    } else {
      ok = false;
    }
  } else {
    rep_.error(m.where(), fmt::format("calendar '{}' needs a `timezone` (an IANA name such as Europe/Zagreb)", name));
    ok = false;
  }
  if (auto h = m.get("hours")) ok = hours(src, *h, spec) && ok;
  else {
    rep_.error(m.where(), fmt::format("calendar '{}' needs `hours`, e.g. hours: {{ mon-fri: \"08:00-16:00\" }}", name));
    ok = false;
  }
  if (auto h = m.get("holidays")) {
    if (!h->IsSequence()) {
      rep_.error(loc(src, *h), "`holidays` must be a list of dates (YYYY-MM-DD)");
    } else {
      for (const auto& d : *h) {
        if (!rep_.count(src, d)) break;
        auto s = read_string(rep_, src, d, "a holiday");
        if (!s) continue;
        if (auto ymd = parse_date(*s)) spec.holidays.push_back(*ymd);
        else rep_.error(loc(src, d), fmt::format("holiday '{}' is not a date; write YYYY-MM-DD, e.g. 2026-12-25", *s));
      }
      std::sort(spec.holidays.begin(), spec.holidays.end());
    }
  }
  if (auto h = m.get("exceptions")) {
    MapReader em(rep_, src, *h, "`exceptions`", std::vector<std::string>{});
    for (const auto& [k, v] : em.entries()) {
      auto ymd = parse_date(k.Scalar());
      if (!ymd) {
        rep_.error(loc(src, k), fmt::format("exception date '{}' is not a date; write YYYY-MM-DD", k.Scalar()));
        continue;
      }
      if (auto ivs = intervals(src, v)) spec.exceptions[*ymd] = *ivs;
    }
  }
  if (!ok) return std::nullopt;
  // The zone and "any working time at all" are checked by compiling the calendar.
  try {
    Calendar c(spec);
  } catch (const Error& e) {
    SourceLocation where = spec.where;
    if (e.message().starts_with("unknown time zone")) {
      where = loc(src, *m.get("timezone"));
      const auto hint = did_you_mean(spec.timezone, std::vector<std::string>{"Europe/Zagreb", "Europe/Budapest",
                                                                             "Europe/Warsaw", "Europe/Vienna",
                                                                             "Europe/Berlin", "Europe/London", "UTC"});
      rep_.error(where, e.message() + hint);
    } else {
      rep_.error(where, e.message());
    }
    return std::nullopt;
  }
  return spec;
}

bool FlowBuilder::hours(const Source& src, const YAML::Node& n, CalendarSpec& spec) {
  static const std::vector<std::string> days = {"mon", "tue", "wed", "thu", "fri", "sat", "sun"};
  MapReader m(rep_, src, n, "`hours`", std::vector<std::string>{});
  if (!m.ok()) return false;
  std::array<bool, 7> set{};
  bool ok = true;
  for (const auto& [k, v] : m.entries()) {
    // "mon-fri", "sat", "mon,wed,fri"
    std::vector<int> which;
    std::string key = k.Scalar();
    bool bad = false;
    std::size_t pos = 0;
    while (pos <= key.size() && !bad) {
      std::size_t comma = key.find(',', pos);
      std::string part = key.substr(pos, comma == std::string::npos ? std::string::npos : comma - pos);
      part.erase(std::remove(part.begin(), part.end(), ' '), part.end());
      auto idx = [&](const std::string& d) {
        auto it = std::find(days.begin(), days.end(), d);
        return it == days.end() ? -1 : static_cast<int>(it - days.begin());
      };
      if (auto dash = part.find('-'); dash != std::string::npos) {
        const int a = idx(part.substr(0, dash)), b = idx(part.substr(dash + 1));
        if (a < 0 || b < 0 || b < a) bad = true;
        else for (int d = a; d <= b; ++d) which.push_back(d);
      } else if (int d = idx(part); d >= 0) {
        which.push_back(d);
      } else {
        bad = true;
      }
      if (comma == std::string::npos) break;
      pos = comma + 1;
    }
    if (bad || which.empty()) {
      rep_.error(loc(src, k), fmt::format("'{}' is not a day or range of days; write e.g. mon-fri, sat or mon,wed", key));
      ok = false;
      continue;
    }
    auto ivs = intervals(src, v);
    if (!ivs) { ok = false; continue; }
    for (int d : which) {
      if (set[static_cast<std::size_t>(d)]) {
        rep_.error(loc(src, k), fmt::format("'{}' is given hours twice in `hours`", days[static_cast<std::size_t>(d)]));
        ok = false;
      }
      set[static_cast<std::size_t>(d)] = true;
      spec.weekly[static_cast<std::size_t>(d)] = *ivs;
    }
  }
  return ok;
}

std::optional<std::vector<WorkInterval>> FlowBuilder::intervals(const Source& src, const YAML::Node& n) {
  std::vector<std::pair<std::string, YAML::Node>> parts;
  if (n.IsSequence()) {
    for (const auto& item : n)
      if (auto s = read_string(rep_, src, item, "working hours")) parts.emplace_back(*s, item);
  } else if (auto s = read_string(rep_, src, n, "working hours")) {
    std::string text = *s;
    std::size_t pos = 0;
    while (true) {
      std::size_t comma = text.find(',', pos);
      parts.emplace_back(text.substr(pos, comma == std::string::npos ? std::string::npos : comma - pos), n);
      if (comma == std::string::npos) break;
      pos = comma + 1;
    }
  } else {
    return std::nullopt;
  }
  std::vector<WorkInterval> out;
  for (auto& [p, node] : parts) {
    p.erase(std::remove(p.begin(), p.end(), ' '), p.end());
    if (p == "closed") continue;
    const auto dash = p.find('-');
    std::optional<int> a, b;
    if (dash != std::string::npos) { a = parse_clock(p.substr(0, dash)); b = parse_clock(p.substr(dash + 1)); }
    if (!a || !b || *a >= *b || *a >= 24 * 60) {
      rep_.error(loc(src, node), fmt::format("'{}' is not a time range; write HH:MM-HH:MM with the end after the start "
                                             "(e.g. 08:00-16:00), several separated by commas, or closed",
                                             p));
      return std::nullopt;
    }
    out.push_back({*a, *b});
  }
  std::sort(out.begin(), out.end(), [](auto& x, auto& y) { return x.start_minute < y.start_minute; });
  for (std::size_t i = 1; i < out.size(); ++i)
    if (out[i].start_minute < out[i - 1].end_minute) {
      rep_.error(loc(src, n), "working hours overlap; list separate ranges such as 08:00-12:00, 13:00-17:00");
      return std::nullopt;
    }
  return out;
}

void FlowBuilder::roles(const Source& src, const YAML::Node& n) {
  roles_declared_ = true;
  auto add = [&](const std::string& r, const YAML::Node& at) {
    if (!is_kebab_id(r)) {
      rep_.error(loc(src, at), fmt::format("role '{}' must be lowercase letters, digits and '-'", r));
      return;
    }
    if (!roles_.count(r)) {
      roles_[r] = loc(src, at);
      flow_.roles.push_back(r);
    }
  };
  if (n.IsMap()) {
    MapReader m(rep_, src, n, "`roles`", std::vector<std::string>{});
    for (const auto& [k, v] : m.entries()) add(k.Scalar(), k);
    return;
  }
  for (const auto& [r, at] : read_string_list(rep_, src, n, "`roles`")) add(r, at);
}

void FlowBuilder::role_ref(const std::string& name, SourceLocation where, std::string what) {
  if (name.starts_with("user:")) {
    if (name.size() == 5) rep_.error(where, fmt::format("{}: 'user:' needs a person's name, e.g. user:anna", what));
    return;
  }
  if (!is_kebab_id(name)) {
    rep_.error(where, fmt::format("{} '{}' must be a role (lowercase letters, digits, '-') or user:NAME", what, name));
    return;
  }
  role_refs_.push_back({name, std::move(where), std::move(what)});
}

void FlowBuilder::check_roles() {
  if (!roles_declared_) return;
  for (const auto& r : role_refs_) {
    if (roles_.count(r.name)) continue;
    std::vector<std::string> names(flow_.roles.begin(), flow_.roles.end());
    std::string hint = did_you_mean(r.name, names);
    rep_.error(r.where, fmt::format("unknown role '{}' in {}{}", r.name, r.what, hint.empty() ? "; add it to `roles:`" : hint));
  }
}

void FlowBuilder::calendar_ref(const std::string& name, SourceLocation where, bool business) {
  if (name.empty()) {
    if (business && flow_.calendar.empty())
      rep_.error(where, "business time needs a calendar; set `calendar:` on the flow (or on this deadline)");
    return;
  }
  used_calendars_.insert(name);
  if (flow_.calendars.count(name) || failed_calendars_.count(name)) return;
  std::vector<std::string> names;
  for (const auto& [k, v] : flow_.calendars) names.push_back(k);
  std::string hint = did_you_mean(name, names);
  rep_.error(where, fmt::format("unknown calendar '{}'{}", name,
                                hint.empty() ? "; define it under `calendars:` or include a calendar file" : hint));
}

// --- data -----------------------------------------------------------------------------

std::optional<Type> FlowBuilder::type_spec(const Source& src, const YAML::Node& n, std::string_view what) {
  // Either a type name, or a map with `type:` and its details.
  YAML::Node tnode = n;
  std::optional<MapReader> m;
  if (n.IsMap()) {
    m.emplace(rep_, src, n, std::string(what),
              std::initializer_list<std::string_view>{"type", "values", "of", "fields", "required", "default", "description", "title"});
    auto t = m->get("type");
    if (!t) {
      rep_.error(loc(src, n), fmt::format("{} needs a `type` (one of {})", what, fmt::join(type_names, ", ")));
      return std::nullopt;
    }
    tnode.reset(*t);  // rebind: operator= would overwrite the map node itself
  }
  auto name = read_string(rep_, src, tnode, fmt::format("the type of {}", what));
  if (!name) return std::nullopt;
  static const std::map<std::string, K> kinds = {{"string", K::string}, {"int", K::integer},     {"number", K::number},
                                                 {"bool", K::boolean},  {"datetime", K::datetime}, {"duration", K::duration},
                                                 {"enum", K::enumeration}, {"list", K::list},     {"map", K::map}};
  auto it = kinds.find(*name);
  if (it == kinds.end()) {
    std::string hint = did_you_mean(*name, type_names);
    rep_.error(loc(src, tnode), fmt::format("unknown type '{}'{}", *name,
                                            hint.empty() ? fmt::format("; use one of {}", fmt::join(type_names, ", ")) : hint));
    return std::nullopt;
  }
  Type t = Type::of(it->second);
  if (t.kind == K::enumeration) {
    auto v = m ? m->get("values") : std::nullopt;
    if (!v || !v->IsSequence() || v->size() == 0) {
      rep_.error(loc(src, v ? *v : n), fmt::format("{} is an enum and needs `values: [a, b, ...]`", what));
      return std::nullopt;
    }
    for (const auto& x : *v) {
      auto s = read_string(rep_, src, x, "an enum value");
      if (!s) return std::nullopt;
      if (std::find(t.values.begin(), t.values.end(), *s) != t.values.end()) {
        rep_.error(loc(src, x), fmt::format("enum value '{}' is listed twice", *s));
        return std::nullopt;
      }
      t.values.push_back(*s);
    }
  } else if (m && m->has("values")) {
    rep_.error(loc(src, *m->get("values")), fmt::format("`values` is only for enum types; {} is {}", what, *name));
  }
  if (t.kind == K::list) {
    if (auto of = m ? m->get("of") : std::nullopt) {
      auto item = type_spec(src, *of, fmt::format("the items of {}", what));
      if (!item) return std::nullopt;
      t.item = std::make_shared<const Type>(*item);
    }
  } else if (m && m->has("of")) {
    rep_.error(loc(src, *m->get("of")), fmt::format("`of` is only for list types; {} is {}", what, *name));
  }
  if (t.kind == K::map) {
    if (auto fs = m ? m->get("fields") : std::nullopt) {
      MapReader fm(rep_, src, *fs, "`fields`", std::vector<std::string>{});
      auto fields = std::make_shared<std::map<std::string, Type, std::less<>>>();
      for (const auto& [k, v] : fm.entries()) {
        auto ft = type_spec(src, v, fmt::format("field '{}'", k.Scalar()));
        if (ft) (*fields)[k.Scalar()] = *ft;
      }
      t.fields = std::move(fields);
    }
  } else if (m && m->has("fields")) {
    rep_.error(loc(src, *m->get("fields")), fmt::format("`fields` is only for map types; {} is {}", what, *name));
  }
  return t;
}

std::optional<DataField> FlowBuilder::field(const Source& src, const std::string& name, const YAML::Node& n,
                                            std::string_view what) {
  auto t = type_spec(src, n, what);
  if (!t) return std::nullopt;
  DataField f;
  f.name = name;
  f.type = *t;
  f.where = loc(src, n);
  if (n.IsMap()) {
    if (auto r = n["required"]) f.required = read_bool(rep_, src, r, "`required`").value_or(false);
    if (auto d = n["description"]) f.description = read_string(rep_, src, d, "`description`").value_or("");
    if (auto d = n["default"]) {
      f.default_value = value_of(src, d, f.type, fmt::format("the default of {}", what));
      if (!f.default_value) return std::nullopt;
      if (f.required) rep_.warning(loc(src, d), fmt::format("{} is required and has a default; the default always applies", what));
    }
  }
  return f;
}

std::optional<Value> FlowBuilder::value_of(const Source& src, const YAML::Node& n, const Type& t, std::string_view what) {
  if (n.IsNull()) return Value();
  auto bad = [&](std::string_view need) -> std::optional<Value> {
    rep_.error(loc(src, n), fmt::format("{} must be {}", what, need));
    return std::nullopt;
  };
  if (t.kind == K::list) {
    if (!n.IsSequence()) return bad("a list");
    List l;
    for (const auto& x : n) {
      auto v = value_of(src, x, t.item ? *t.item : Type{}, what);
      if (!v) return std::nullopt;
      l.push_back(std::move(*v));
    }
    return Value(std::move(l));
  }
  if (t.kind == K::map || (t.kind == K::any && n.IsMap())) {
    if (!n.IsMap()) return bad("a map");
    Map m;
    for (auto it = n.begin(); it != n.end(); ++it) {
      Type ft;
      if (t.fields)
        if (auto f = t.fields->find(it->first.Scalar()); f != t.fields->end()) ft = f->second;
      auto v = value_of(src, it->second, ft, what);
      if (!v) return std::nullopt;
      m[it->first.Scalar()] = std::move(*v);
    }
    return Value(std::move(m));
  }
  if (t.kind == K::any && n.IsSequence()) return value_of(src, n, Type::list_of(Type{}), what);
  if (!n.IsScalar()) return bad("a single value");
  const std::string& s = n.Scalar();
  const bool quoted = n.Tag() == "!";
  switch (t.kind) {
    case K::string: return Value(s);
    case K::integer: {
      std::int64_t v = 0;
      auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
      if (ec != std::errc{} || p != s.data() + s.size()) return bad("a whole number");
      return Value(v);
    }
    case K::number:
      if (auto d = parse_number(s)) return Value(*d);
      return bad("a number");
    case K::boolean:
      if (s == "true") return Value(true);
      if (s == "false") return Value(false);
      return bad("true or false");
    case K::datetime:
      if (auto tp = parse_iso8601(s)) return Value(*tp);
      return bad("an ISO-8601 datetime with an offset, e.g. 2026-11-23T08:00:00Z");
    case K::duration:
      try {
        return Value(parse_duration(s));
      } catch (const Error& e) {
        rep_.error(loc(src, n), fmt::format("{}: {}", what, e.message()));
        return std::nullopt;
      }
    case K::enumeration:
      if (std::find(t.values.begin(), t.values.end(), s) != t.values.end()) return Value(s);
      rep_.error(loc(src, n), fmt::format("{}: '{}' is not one of {}{}", what, s, fmt::join(t.values, ", "), did_you_mean(s, t.values)));
      return std::nullopt;
    case K::any: {
      if (quoted) return Value(s);
      if (s == "true") return Value(true);
      if (s == "false") return Value(false);
      std::int64_t v = 0;
      auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
      if (ec == std::errc{} && p == s.data() + s.size()) return Value(v);
      return Value(s);
    }
    default: break;
  }
  return bad(t.str());
}

// --- rules ----------------------------------------------------------------------------

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
  for (std::size_t ti = 0; ti < rule_nodes_.size() && ti < flow_.rules.size(); ++ti) {
    RuleTable& table = flow_.rules[ti];
    const Source& src = *rule_nodes_[ti].src;
    const YAML::Node& v = rule_nodes_[ti].node;
    if (auto ins = v["inputs"]) {
      for (const auto& [text, node] : read_string_list(rep_, src, ins, "`inputs`")) {
        RuleColumn col;
        col.name = text;
        col.where = loc(src, node);
        col.input = expr(src, node, env_, "a rule input");
        col.type = col.input.type();
        table.inputs.push_back(std::move(col));
      }
    }
    auto rows = v["rows"];
    if (!rows) continue;
    if (!rows.IsSequence()) {
      rep_.error(loc(src, rows), "`rows` must be a list of rows, each a list of cells: inputs, then outputs");
      continue;
    }
    const std::size_t width = table.inputs.size() + table.outputs.size();
    std::vector<std::vector<std::string>> raw;  // literal input cells, for the overlap check
    for (const auto& row : rows) {
      if (!rep_.count(src, row)) break;
      if (!row.IsSequence() || row.size() != width) {
        rep_.error(loc(src, row), fmt::format("a row of rule table '{}' needs {} cells ({} inputs, then {} outputs), got {}",
                                              table.name, width, table.inputs.size(), table.outputs.size(),
                                              row.IsSequence() ? row.size() : 1));
        continue;
      }
      RuleRow r;
      r.where = loc(src, row);
      std::vector<std::string> lits;
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
            const bool literal = text == "-" || text.find_first_of("<>=![(") == std::string::npos;
            lits.push_back(literal ? text : std::string("\x01"));
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
      if (!ok) continue;
      if (table.hit == HitPolicy::unique) {
        for (std::size_t j = 0; j < raw.size(); ++j) {
          bool overlap = true;
          for (std::size_t c = 0; c < lits.size() && overlap; ++c) {
            const auto &a = raw[j][c], &b = lits[c];
            if (a == "-" || b == "-") continue;
            if (a == "\x01" || b == "\x01" || a != b) overlap = false;
          }
          if (overlap)
            rep_.error(r.where, fmt::format("rule table '{}' has hit policy unique, but this row and the row at line {} "
                                            "can both match; make them exclusive or use hit: first",
                                            table.name, table.rows[j].where.line));
        }
      }
      raw.push_back(std::move(lits));
      table.rows.push_back(std::move(r));
    }
  }
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

// --- steps ----------------------------------------------------------------------------

void FlowBuilder::steps(const YAML::Node& n) {
  MapReader m(rep_, src_, n, "`steps`", std::vector<std::string>{});
  if (!m.ok()) return;
  if (m.entries().empty()) {
    rep_.error(loc(n), "`steps` is empty; a flow needs at least one step");
    return;
  }
  // Names first, so transitions can point forward.
  for (const auto& [k, v] : m.entries()) {
    Step s;
    s.name = k.Scalar();
    s.where = loc(k);
    if (!is_kebab_id(s.name))
      rep_.error(loc(k), fmt::format("step name '{}' must be lowercase letters, digits and '-' (e.g. order-parts)", s.name));
    flow_.steps.push_back(std::move(s));
  }
  std::size_t i = 0;
  for (const auto& [k, v] : m.entries()) step(flow_.steps[i++], v);
}

std::int32_t FlowBuilder::step_ref_named(const std::string& name, SourceLocation where, std::string_view what) {
  const auto idx = flow_.step_index(name);
  if (idx >= 0) return idx;
  std::vector<std::string> names;
  for (const auto& s : flow_.steps) names.push_back(s.name);
  std::string hint = did_you_mean(name, names);
  rep_.error(where, fmt::format("unknown step '{}' in {}{}", name, what,
                                hint.empty() ? fmt::format("; the steps are {}", fmt::join(names, ", ")) : hint));
  return -1;
}

std::int32_t FlowBuilder::step_ref(const YAML::Node& n, std::string_view what) {
  auto s = read_string(rep_, src_, n, what);
  if (!s) return -1;
  return step_ref_named(*s, loc(n), what);
}

ExprEnv FlowBuilder::event_env(const Step& s) const {
  ExprEnv e = env_;
  Type ev = Type::of(K::map);
  if (!s.form.empty()) {
    auto fields = std::make_shared<std::map<std::string, Type, std::less<>>>();
    for (const auto& f : s.form) (*fields)[f.name] = f.type;
    ev.fields = std::move(fields);
  }
  e.event = ev;
  return e;
}

void FlowBuilder::step(Step& s, const YAML::Node& n) {
  if (n.IsNull()) {
    rep_.error(s.where, fmt::format("step '{}' is empty; give it `on:` events, `end: true`, or another kind", s.name));
    return;
  }
  MapReader m(rep_, src_, n, fmt::format("step '{}'", s.name),
              {"title", "description", "kind", "role", "assign", "guide", "form", "on", "deadline", "on_enter", "on_exit",
               "call", "with", "retry", "on_error", "decide", "rule", "wait", "subflow", "parallel", "join", "next", "end",
               "outcome", "fail"});
  if (!m.ok()) return;
  // The kind follows from its marker key; `kind:` may say it explicitly.
  static const std::vector<std::pair<std::string, StepKind>> markers = {
      {"end", StepKind::end},           {"call", StepKind::action},      {"decide", StepKind::decision},
      {"wait", StepKind::wait},         {"subflow", StepKind::subflow},  {"parallel", StepKind::parallel},
      {"join", StepKind::join}};
  std::vector<std::string> found;
  for (const auto& [key, kind] : markers)
    if (m.has(key)) { found.push_back(key); s.kind = kind; }
  if (found.empty() && m.has("rule")) { found.push_back("rule"); s.kind = StepKind::decision; }
  if (found.size() > 1) {
    rep_.error(loc(*m.get(found[1])), fmt::format("step '{}' mixes `{}` and `{}`; a step is of one kind (split it in two steps)",
                                                  s.name, found[0], found[1]));
    return;
  }
  if (auto k = m.get("kind")) {
    static const std::vector<std::string> kinds = {"task", "action", "decision", "wait", "subflow", "parallel", "join", "end"};
    auto v = read_string(rep_, src_, *k, "`kind`").value_or("");
    auto it = std::find(kinds.begin(), kinds.end(), v);
    if (it == kinds.end()) {
      rep_.error(loc(*k), fmt::format("unknown step kind '{}'; use one of {}", v, fmt::join(kinds, ", ")));
    } else if (found.empty() && *it != "task") {
      static const std::map<std::string, std::string> need = {{"action", "call"}, {"decision", "decide"}, {"wait", "wait"},
                                                              {"subflow", "subflow"}, {"parallel", "parallel"},
                                                              {"join", "join"}, {"end", "end"}};
      rep_.error(loc(*k), fmt::format("a {} step needs `{}`", *it, need.at(*it)));
    } else if (*it != step_kind_name(s.kind)) {
      rep_.error(loc(*k), fmt::format("`kind: {}` contradicts `{}`, which makes step '{}' a {}", *it, found[0], s.name,
                                      step_kind_name(s.kind)));
    }
  }
  // Keys that only some kinds use.
  static const std::map<std::string, std::vector<StepKind>> only = {
      {"form", {StepKind::task}},
      {"on", {StepKind::task, StepKind::action, StepKind::wait, StepKind::subflow}},
      {"role", {StepKind::task, StepKind::action, StepKind::wait, StepKind::subflow, StepKind::end}},
      {"assign", {StepKind::task, StepKind::action, StepKind::wait, StepKind::subflow}},
      {"guide", {StepKind::task, StepKind::wait, StepKind::subflow}},
      {"deadline", {StepKind::task, StepKind::action, StepKind::wait, StepKind::subflow, StepKind::join}},
      {"with", {StepKind::action}},
      {"retry", {StepKind::action}},
      {"on_error", {StepKind::action}},
      {"rule", {StepKind::decision}},
      {"next", {StepKind::action, StepKind::wait, StepKind::subflow, StepKind::join}},
      {"outcome", {StepKind::end}},
      {"fail", {StepKind::end}},
      {"on_exit", {StepKind::task, StepKind::action, StepKind::wait, StepKind::subflow, StepKind::join}},
  };
  for (const auto& [k, v] : m.entries()) {
    auto it = only.find(k.Scalar());
    if (it == only.end()) continue;
    if (std::find(it->second.begin(), it->second.end(), s.kind) != it->second.end()) continue;
    if (s.kind == StepKind::end && (k.Scalar() == "on" || k.Scalar() == "next" || k.Scalar() == "deadline"))
      rep_.error(loc(k), fmt::format("end step '{}' cannot have outgoing transitions (`{}`); remove them, or remove "
                                     "`end: true` if the case goes on",
                                     s.name, k.Scalar()));
    else
      rep_.error(loc(k), fmt::format("key '{}' does not apply to {} step '{}'", k.Scalar(), step_kind_name(s.kind), s.name));
  }

  if (auto v = m.get("title")) s.title = read_string(rep_, src_, *v, "`title`").value_or("");
  if (auto v = m.get("guide")) s.guide = read_string(rep_, src_, *v, "`guide`").value_or("");
  if (auto v = m.get("role")) {
    if (auto r = read_string(rep_, src_, *v, "`role`")) {
      s.role = *r;
      role_ref(*r, loc(*v), "`role`");
    }
  }
  if (auto v = m.get("assign")) {
    ExprEnv e = env_;
    e.expected = Type::of(K::string);
    s.assign = expr(*v, e, "`assign`");
  }
  if (auto v = m.get("form")) {
    MapReader fm(rep_, src_, *v, "`form`", std::vector<std::string>{});
    for (const auto& [k, fv] : fm.entries()) {
      if (!is_field_name(k.Scalar())) {
        rep_.error(loc(k), fmt::format("form field '{}' must be lowercase letters, digits and '_'", k.Scalar()));
        continue;
      }
      auto f = field(src_, k.Scalar(), fv, fmt::format("form field '{}'", k.Scalar()));
      if (!f) continue;
      if (const DataField* d = flow_.find_field(f->name); d && !(d->type == f->type))
        rep_.error(loc(k), fmt::format("form field '{}' is {}, but data field '{}' is {}; a form field with a data "
                                       "field's name is stored there, so the types must agree",
                                       f->name, f->type.str(), d->name, d->type.str()));
      s.form.push_back(std::move(*f));
    }
  }
  const ExprEnv ev_env = event_env(s);
  if (auto v = m.get("on")) s.on = transitions(*v, s, ev_env, true);
  if (auto v = m.get("deadline")) s.deadline = deadline(*v);
  if (auto v = m.get("on_enter")) s.on_enter = hooks(*v, "`on_enter`");
  if (auto v = m.get("on_exit")) s.on_exit = hooks(*v, "`on_exit`");
  if (auto v = m.get("next")) {
    s.next_index = step_ref(*v, "`next`");
    if (s.next_index >= 0) s.next = v->Scalar();
  }
  switch (s.kind) {
    case StepKind::task:
      if (s.on.empty() && !m.has("on") && !s.deadline)
        rep_.error(s.where, fmt::format("task step '{}' has no `on:` events, so a case could never leave it; add `on:`, "
                                        "or `end: true` if the case ends here",
                                        s.name));
      break;
    case StepKind::action: {
      auto c = read_string(rep_, src_, *m.get("call"), "`call`");
      if (c) {
        if (!is_action_name(*c)) rep_.error(loc(*m.get("call")), fmt::format("action name '{}' must be letters, digits, '.', '_' or '-'", *c));
        s.call = *c;
      }
      if (auto w = m.get("with")) s.with = assignments(src_, *w, env_, "`with`", false);
      if (auto r = m.get("retry")) {
        MapReader rm(rep_, src_, *r, "`retry`", {"attempts", "backoff", "factor", "max_backoff"});
        if (auto a = rm.get("attempts")) {
          auto v = read_int(rep_, src_, *a, "`attempts`");
          if (v && (*v < 1 || *v > 100)) rep_.error(loc(*a), "`attempts` must be between 1 and 100");
          else if (v) s.retry.attempts = static_cast<std::int32_t>(*v);
        }
        if (auto b = rm.get("backoff"))
          if (auto d = duration(src_, *b, "`backoff`")) {
            if (d->is_business()) rep_.error(loc(*b), "`backoff` must be wall time, e.g. 30s");
            else s.retry.backoff = d->length;
          }
        if (auto b = rm.get("max_backoff"))
          if (auto d = duration(src_, *b, "`max_backoff`")) s.retry.max_backoff = d->length;
        if (auto f = rm.get("factor")) {
          // Like the std::stod it replaces, this reads the number the text starts with.
          if (auto x = parse_c_number(f->Scalar())) {
            s.retry.factor = x->value;
            if (s.retry.factor < 1) rep_.error(loc(*f), "`factor` must be 1 or more");
          } else {
            rep_.error(loc(*f), "`factor` must be a number, e.g. 2");
          }
        }
      }
      if (auto e = m.get("on_error")) {
        s.on_error_index = step_ref(*e, "`on_error`");
        if (s.on_error_index >= 0) s.on_error = e->Scalar();
      }
      if (!m.has("next") && s.on.empty()) rep_.error(s.where, fmt::format("action step '{}' needs `next:` (where to go when the action succeeds)", s.name));
      break;
    }
    case StepKind::decision: {
      if (auto d = m.get("decide")) {
        if (m.has("rule")) rep_.error(loc(*m.get("rule")), "a decision uses either `decide:` branches or `rule:`, not both");
        if (!d->IsSequence() || d->size() == 0) {
          rep_.error(loc(*d), "`decide` must be a list of branches: - { to: STEP, when: EXPR }, the last one without `when`");
        } else {
          for (const auto& b : *d) {
            auto t = transition(b, "", env_);
            if (t) s.branches.push_back(std::move(*t));
          }
          if (!s.branches.empty() && !s.branches.back().when.empty())
            rep_.warning(loc(d->operator[](d->size() - 1)),
                         fmt::format("decision '{}' has no default branch (one without `when`); a case that matches no "
                                     "branch stops with an incident",
                                     s.name));
        }
      } else {
        check_decision_rule(s, *m.get("rule"));
      }
      break;
    }
    case StepKind::wait: {
      MapReader wm(rep_, src_, *m.get("wait"), "`wait`", {"for", "until"});
      if (!wm.ok()) break;
      auto f = wm.get("for");
      auto u = wm.get("until");
      if ((f && u) || (!f && !u)) {
        rep_.error(wm.where(), "`wait` needs exactly one of `for: DURATION` or `until: DATETIME-EXPRESSION`");
        break;
      }
      if (f) {
        s.wait_for = duration(src_, *f, "`wait.for`");
        if (s.wait_for && s.wait_for->is_business()) calendar_ref("", loc(*f), true);
      } else {
        ExprEnv e = env_;
        e.expected = Type::of(K::datetime);
        s.wait_until = expr(*u, e, "`wait.until`");
      }
      if (!m.has("next")) rep_.error(s.where, fmt::format("wait step '{}' needs `next:` (where to go when the wait is over)", s.name));
      break;
    }
    case StepKind::subflow: {
      MapReader sm(rep_, src_, *m.get("subflow"), "`subflow`", {"flow", "input", "output", "on_failure"});
      if (!sm.ok()) break;
      auto fl = sm.get("flow");
      if (!fl) {
        rep_.error(sm.where(), "`subflow` needs `flow: FLOW-ID`");
        break;
      }
      s.subflow = read_string(rep_, src_, *fl, "`subflow.flow`").value_or("");
      if (auto of = sm.get("on_failure")) {
        s.on_failure_index = step_ref(*of, "`on_failure`");
        if (s.on_failure_index >= 0) s.on_failure = of->Scalar();
      }
      pending_.push_back({&flow_, static_cast<std::size_t>(&s - flow_.steps.data()), &src_, *fl, sm.get("input"), sm.get("output"), env_});
      if (!m.has("next")) rep_.error(s.where, fmt::format("sub-flow step '{}' needs `next:` (where to go when the sub-flow ends)", s.name));
      break;
    }
    case StepKind::parallel: {
      MapReader pm(rep_, src_, *m.get("parallel"), "`parallel`", {"branches", "join"});
      if (!pm.ok()) break;
      if (auto b = pm.get("branches")) {
        auto list = read_string_list(rep_, src_, *b, "`branches`");
        if (list.size() < 2) rep_.error(loc(*b), "`branches` needs at least two steps to run in parallel");
        for (const auto& [name, node] : list) {
          auto idx = step_ref_named(name, loc(node), "`branches`");
          if (idx >= 0) { s.parallel.push_back(name); s.parallel_index.push_back(idx); }
        }
      } else {
        rep_.error(pm.where(), "`parallel` needs `branches: [STEP, STEP, ...]`");
      }
      if (auto j = pm.get("join")) {
        s.join_index = step_ref(*j, "`join`");
        if (s.join_index >= 0) {
          s.join = j->Scalar();
          // The join step may come later in the file: its kind is checked once all steps are read.
        }
      } else {
        rep_.error(pm.where(), "`parallel` needs `join: STEP` (a step with `join:` where the branches meet)");
      }
      break;
    }
    case StepKind::join: {
      const YAML::Node j = *m.get("join");
      const std::string v = j.IsScalar() ? j.Scalar() : "";
      std::int32_t n = 0;
      const bool digits = !v.empty() && v.size() < 4 && std::all_of(v.begin(), v.end(), [](char c) { return c >= '0' && c <= '9'; });
      if (digits) std::from_chars(v.data(), v.data() + v.size(), n);
      if (v == "all") s.join_mode = JoinMode::all;
      else if (v == "any") s.join_mode = JoinMode::any;
      else if (digits && n >= 1) {
        s.join_mode = JoinMode::n_of_m;
        s.join_n = n;
      } else {
        rep_.error(loc(j), "`join` must be all, any, or how many branches must arrive (e.g. 2)");
      }
      if (!m.has("next")) rep_.error(s.where, fmt::format("join step '{}' needs `next:` (where to go once the branches meet)", s.name));
      break;
    }
    case StepKind::end: {
      auto e = read_bool(rep_, src_, *m.get("end"), "`end`");
      if (e && !*e) rep_.error(loc(*m.get("end")), "`end: false` means nothing; remove it (a step is a task unless it says otherwise)");
      if (auto o = m.get("outcome")) {
        s.outcome = read_string(rep_, src_, *o, "`outcome`").value_or("");
        if (!s.outcome.empty() && !is_kebab_id(s.outcome))
          rep_.error(loc(*o), fmt::format("outcome '{}' must be lowercase letters, digits and '-'", s.outcome));
      }
      if (auto f = m.get("fail")) s.fail = read_bool(rep_, src_, *f, "`fail`").value_or(false);
      break;
    }
  }
}

void FlowBuilder::check_decision_rule(Step& s, const YAML::Node& n) {
  auto name = read_string(rep_, src_, n, "`rule`");
  if (!name) return;
  const RuleTable* t = flow_.find_rule(*name);
  if (!t) {
    std::vector<std::string> names;
    for (const auto& r : flow_.rules) names.push_back(r.name);
    std::string hint = did_you_mean(*name, names);
    rep_.error(loc(n), fmt::format("unknown rule table '{}'{}", *name, hint.empty() ? "; declare it under `rules:`" : hint));
    return;
  }
  used_rules_.insert(*name);
  s.rule = *name;
  auto out = std::find_if(t->outputs.begin(), t->outputs.end(), [](const RuleColumn& c) { return c.name == "to"; });
  if (out == t->outputs.end() || t->hit == HitPolicy::collect) {
    rep_.error(loc(n), fmt::format("rule table '{}' decides a step only with an output named `to` (the step) and hit "
                                   "policy first or unique",
                                   *name));
    return;
  }
  const std::size_t col = static_cast<std::size_t>(out - t->outputs.begin());
  for (const auto& row : t->rows) {
    if (col >= row.outputs.size()) continue;
    const auto& e = row.outputs[col];
    // Literal step names are checked now; computed ones when the decision runs.
    if (e.text().find_first_of("()+?") != std::string::npos) continue;
    std::string target = e.text();
    if (target.size() >= 2 && (target.front() == '\'' || target.front() == '"')) target = target.substr(1, target.size() - 2);
    if (flow_.step_index(target) < 0) step_ref_named(target, row.where, fmt::format("rule table '{}' (used by decision '{}')", *name, s.name));
  }
}

std::vector<Transition> FlowBuilder::transitions(const YAML::Node& n, const Step& s, const ExprEnv& env, bool) {
  std::vector<Transition> out;
  MapReader m(rep_, src_, n, fmt::format("`on` of step '{}'", s.name), std::vector<std::string>{});
  for (const auto& [k, v] : m.entries()) {
    const std::string& ev = k.Scalar();
    if (!is_event_name(ev)) {
      rep_.error(loc(k), fmt::format("event name '{}' must be lowercase letters, digits, '-', '_' or '.'", ev));
      continue;
    }
    if (v.IsSequence()) {
      if (v.size() == 0) rep_.error(loc(v), fmt::format("event '{}' has an empty list of transitions", ev));
      for (const auto& t : v)
        if (auto tr = transition(t, ev, env)) out.push_back(std::move(*tr));
      const auto first = out.end() - static_cast<std::ptrdiff_t>(std::count_if(out.begin(), out.end(), [&](auto& t) { return t.event == ev; }));
      for (auto it = first; it != out.end(); ++it)
        if (it->when.empty() && it + 1 != out.end())
          rep_.warning(it->where, fmt::format("transition without `when` for event '{}' always wins; the ones after it never run", ev));
    } else if (auto tr = transition(v, ev, env)) {
      out.push_back(std::move(*tr));
    }
  }
  return out;
}

std::optional<Transition> FlowBuilder::transition(const YAML::Node& n, const std::string& event, const ExprEnv& env) {
  Transition t;
  t.event = event;
  t.where = loc(n);
  if (n.IsScalar()) {
    t.target_index = step_ref(n, "`to`");
    if (t.target_index < 0) return std::nullopt;
    t.target = n.Scalar();
    return t;
  }
  MapReader m(rep_, src_, n, event.empty() ? "a `decide` branch" : fmt::format("transition of event '{}'", event),
              {"to", "when", "set", "description"});
  if (!m.ok()) return std::nullopt;
  if (auto to = m.get("to")) {
    t.target_index = step_ref(*to, "`to`");
    if (t.target_index >= 0) t.target = to->Scalar();
  } else if (event.empty()) {
    rep_.error(m.where(), "a `decide` branch needs `to: STEP`");
  }
  if (auto w = m.get("when")) {
    ExprEnv e = env;
    e.expected = Type::of(K::boolean);
    t.when = expr(*w, e, "`when`");
    if (t.when.empty()) return std::nullopt;  // reported; keeping it unguarded would mislead later checks
  }
  if (auto s = m.get("set")) t.set = assignments(src_, *s, env, "`set`", true);
  return t;
}

std::vector<Assignment> FlowBuilder::assignments(const Source& src, const YAML::Node& n, const ExprEnv& env,
                                                 std::string_view what, bool data_targets) {
  std::vector<Assignment> out;
  MapReader m(rep_, src, n, std::string(what), std::vector<std::string>{});
  for (const auto& [k, v] : m.entries()) {
    ExprEnv e = env;
    if (data_targets) {
      auto it = env.data.find(k.Scalar());
      if (it == env.data.end()) {
        std::vector<std::string> names;
        for (const auto& [name, t] : env.data) names.push_back(name);
        std::string hint = did_you_mean(k.Scalar(), names);
        rep_.error(loc(src, k), fmt::format("unknown data field '{}' in {}{}", k.Scalar(), what,
                                            hint.empty() ? "; declare it under `data:`" : hint));
        continue;
      }
      e.expected = it->second;
    }
    Expression x = expr(src, v, e, fmt::format("{} of '{}'", what, k.Scalar()));
    if (!x.empty()) out.push_back({k.Scalar(), std::move(x), loc(src, v)});
  }
  return out;
}

std::optional<Deadline> FlowBuilder::deadline(const YAML::Node& n) {
  MapReader m(rep_, src_, n, "`deadline`", {"within", "at", "calendar", "escalate", "expire", "on_change", "catch_up"});
  if (!m.ok()) return std::nullopt;
  Deadline d;
  d.where = m.where();
  auto w = m.get("within");
  auto a = m.get("at");
  if ((w && a) || (!w && !a)) {
    rep_.error(m.where(), "a deadline needs exactly one of `within: DURATION` or `at: DATETIME-EXPRESSION`");
    return std::nullopt;
  }
  if (auto c = m.get("calendar")) {
    d.calendar = read_string(rep_, src_, *c, "`calendar`").value_or("");
    calendar_ref(d.calendar, loc(*c), false);
  }
  if (w) {
    d.within = duration(src_, *w, "`within`");
    if (d.within && d.within->is_business() && d.calendar.empty()) calendar_ref("", loc(*w), true);
  } else {
    ExprEnv e = env_;
    e.expected = Type::of(K::datetime);
    d.at = expr(*a, e, "`at`");
  }
  if (auto e = m.get("escalate")) d.escalate = ladder(*e, "`escalate`");
  if (auto e = m.get("expire")) {
    d.expire_index = step_ref(*e, "`expire`");
    if (d.expire_index >= 0) d.expire = e->Scalar();
  }
  if (auto p = m.get("on_change")) {
    auto v = read_string(rep_, src_, *p, "`on_change`").value_or("");
    if (v == "keep") d.on_change = ReschedulePolicy::keep;
    else if (v == "recompute") d.on_change = ReschedulePolicy::recompute;
    else if (v == "carry") d.on_change = ReschedulePolicy::carry;
    else rep_.error(loc(*p), fmt::format("`on_change` must be keep, recompute or carry, not '{}'", v));
  }
  if (auto p = m.get("catch_up")) {
    auto v = read_string(rep_, src_, *p, "`catch_up`").value_or("");
    if (v == "all") d.catch_up = CatchUp::all;
    else if (v == "latest") d.catch_up = CatchUp::latest;
    else rep_.error(loc(*p), fmt::format("`catch_up` must be all or latest, not '{}'", v));
  }
  return d;
}

std::vector<Escalation> FlowBuilder::ladder(const YAML::Node& n, const std::string& what) {
  std::vector<Escalation> out;
  if (!n.IsSequence()) {
    rep_.error(loc(n), fmt::format("{} must be a list of levels: - {{ at: 80%, notify: ROLE }}", what));
    return out;
  }
  for (const auto& r : n) {
    if (!rep_.count(src_, r)) break;
    if (auto e = rung(r)) out.push_back(std::move(*e));
  }
  // Levels fire in the order of their time; say so when the file lists them otherwise.
  for (std::size_t i = 1; i < out.size(); ++i) {
    const auto& a = out[i - 1];
    const auto& b = out[i];
    const bool later = (a.anchor == b.anchor && ((a.anchor == Escalation::Anchor::share && b.share < a.share) ||
                                                 (a.anchor == Escalation::Anchor::after && b.offset.basis == a.offset.basis &&
                                                  b.offset.length + std::chrono::hours{24} * b.offset.days <
                                                      a.offset.length + std::chrono::hours{24} * a.offset.days))) ||
                       (a.anchor == Escalation::Anchor::after && b.anchor == Escalation::Anchor::share && b.share <= 1.0);
    if (later)
      rep_.error(b.where, "escalation levels must be listed in the order they fire (level numbers follow the list)");
  }
  return out;
}

std::optional<Escalation> FlowBuilder::rung(const YAML::Node& n) {
  MapReader m(rep_, src_, n, "an escalation level",
              {"at", "after", "notify", "message", "reassign", "set", "priority", "emit", "goto", "repeat", "max"});
  if (!m.ok()) return std::nullopt;
  Escalation e;
  e.where = m.where();
  auto at = m.get("at");
  auto after = m.get("after");
  if ((at && after) || (!at && !after)) {
    rep_.error(m.where(), "an escalation level needs exactly one of `at: PERCENT` (share of the deadline) or "
                          "`after: DURATION` (past the due time)");
    return std::nullopt;
  }
  if (at) {
    auto s = read_string(rep_, src_, *at, "`at`");
    auto p = s ? parse_percent(*s) : std::nullopt;
    if (!p) {
      rep_.error(loc(*at), fmt::format("`at` must be a share of the deadline such as 80% or 100%{}",
                                       s && !s->empty() && s->back() != '%' ? "; for a time past the deadline use `after:`" : ""));
      return std::nullopt;
    }
    e.anchor = Escalation::Anchor::share;
    e.share = *p;
  } else {
    auto d = duration(src_, *after, "`after`");
    if (!d) return std::nullopt;
    e.anchor = Escalation::Anchor::after;
    e.offset = *d;
    if (d->is_business()) calendar_ref("", loc(*after), true);
  }
  if (auto v = m.get("notify"))
    for (auto& [r, node] : read_string_list(rep_, src_, *v, "`notify`")) {
      role_ref(r, loc(node), "`notify`");
      e.notify.push_back(r);
    }
  if (auto v = m.get("message")) e.message = read_string(rep_, src_, *v, "`message`").value_or("");
  if (auto v = m.get("reassign")) {
    e.reassign = read_string(rep_, src_, *v, "`reassign`").value_or("");
    role_ref(e.reassign, loc(*v), "`reassign`");
  }
  if (auto v = m.get("set")) e.set = assignments(src_, *v, env_, "`set`", true);
  if (auto v = m.get("priority")) {
    e.priority = read_string(rep_, src_, *v, "`priority`").value_or("");
    const DataField* f = flow_.find_field("priority");
    if (!f) {
      rep_.error(loc(*v), "`priority:` sets the data field 'priority', which this flow does not declare; add "
                          "priority: { type: enum, values: [normal, high, urgent] } under `data:`");
    } else if (f->type.kind == K::enumeration &&
               std::find(f->type.values.begin(), f->type.values.end(), e.priority) == f->type.values.end()) {
      rep_.error(loc(*v), fmt::format("priority '{}' is not one of {}{}", e.priority, fmt::join(f->type.values, ", "),
                                      did_you_mean(e.priority, f->type.values)));
    }
  }
  if (auto v = m.get("emit")) {
    e.emit = read_string(rep_, src_, *v, "`emit`").value_or("");
    if (!is_event_name(e.emit)) rep_.error(loc(*v), fmt::format("event name '{}' must be lowercase letters, digits, '-', '_' or '.'", e.emit));
    else emitted_.emplace_back(e.emit, loc(*v));
  }
  if (auto v = m.get("goto")) {
    e.go_to_index = step_ref(*v, "`goto`");
    if (e.go_to_index >= 0) e.go_to = v->Scalar();
  }
  if (auto v = m.get("repeat")) {
    auto s = read_string(rep_, src_, *v, "`repeat`");
    if (s) {
      if (!s->starts_with("every ")) {
        rep_.error(loc(*v), fmt::format("`repeat` must read `every DURATION`, e.g. every 1 business hour (got '{}')", *s));
      } else {
        try {
          e.repeat = parse_duration_spec(s->substr(6));
          if (!e.repeat->is_business() && e.repeat->length < std::chrono::minutes{1})
            rep_.error(loc(*v), "`repeat` must be at least every 1 minute");
          if (e.repeat->is_business()) calendar_ref("", loc(*v), true);
        } catch (const Error& err) {
          rep_.error(loc(*v), fmt::format("`repeat`: {}", err.message()));
        }
      }
    }
  }
  if (auto v = m.get("max")) {
    auto x = read_int(rep_, src_, *v, "`max`");
    if (x && *x < 1) rep_.error(loc(*v), "`max` must be 1 or more");
    else if (x) e.max = static_cast<std::int32_t>(*x);
    if (!m.has("repeat")) rep_.error(loc(*v), "`max` limits `repeat`; without `repeat` a level fires once anyway");
  }
  return e;
}

std::vector<Hook> FlowBuilder::hooks(const YAML::Node& n, std::string_view what) {
  std::vector<Hook> out;
  if (!n.IsSequence()) {
    rep_.error(loc(n), fmt::format("{} must be a list, e.g. - {{ call: crm.log }}", what));
    return out;
  }
  for (const auto& item : n) {
    MapReader m(rep_, src_, item, fmt::format("an entry of {}", what), {"call", "with", "set", "notify", "message"});
    if (!m.ok()) continue;
    Hook h;
    h.where = m.where();
    const int kinds = int(m.has("call")) + int(m.has("set")) + int(m.has("notify"));
    if (kinds != 1) {
      rep_.error(m.where(), fmt::format("an entry of {} does one thing: `call`, `set` or `notify`", what));
      continue;
    }
    if (auto c = m.get("call")) {
      h.kind = Hook::Kind::call;
      h.action = read_string(rep_, src_, *c, "`call`").value_or("");
      if (auto w = m.get("with")) h.with = assignments(src_, *w, env_, "`with`", false);
    } else if (auto s = m.get("set")) {
      h.kind = Hook::Kind::set;
      h.with = assignments(src_, *s, env_, "`set`", true);
    } else {
      h.kind = Hook::Kind::notify;
      for (auto& [r, node] : read_string_list(rep_, src_, *m.get("notify"), "`notify`")) {
        role_ref(r, loc(node), "`notify`");
        h.notify.push_back(r);
      }
      if (auto msg = m.get("message")) h.message = read_string(rep_, src_, *msg, "`message`").value_or("");
    }
    if (h.kind != Hook::Kind::call && m.has("with")) rep_.error(loc(*m.get("with")), "`with` goes with `call`");
    out.push_back(std::move(h));
  }
  return out;
}

void FlowBuilder::slas(const YAML::Node& n) {
  MapReader m(rep_, src_, n, "`sla`", std::vector<std::string>{});
  for (const auto& [k, v] : m.entries()) {
    if (!is_kebab_id(k.Scalar())) {
      rep_.error(loc(k), fmt::format("SLA name '{}' must be lowercase letters, digits and '-'", k.Scalar()));
      continue;
    }
    MapReader sm(rep_, src_, v, fmt::format("SLA '{}'", k.Scalar()),
                 {"within", "calendar", "pause_in", "stop_in", "role", "warn_at", "escalate", "description"});
    if (!sm.ok()) continue;
    Sla s;
    s.name = k.Scalar();
    s.where = loc(k);
    if (auto c = sm.get("calendar")) {
      s.calendar = read_string(rep_, src_, *c, "`calendar`").value_or("");
      calendar_ref(s.calendar, loc(*c), false);
    }
    if (auto w = sm.get("within")) {
      if (auto d = duration(src_, *w, "`within`")) {
        s.within = *d;
        if (d->is_business() && s.calendar.empty()) calendar_ref("", loc(*w), true);
      }
    } else {
      rep_.error(sm.where(), fmt::format("SLA '{}' needs `within: DURATION`", s.name));
    }
    for (const char* key : {"pause_in", "stop_in"})
      if (auto p = sm.get(key))
        for (auto& [name, node] : read_string_list(rep_, src_, *p, fmt::format("`{}`", key)))
          if (step_ref_named(name, loc(node), fmt::format("`{}`", key)) >= 0)
            (std::string(key) == "pause_in" ? s.pause_in : s.stop_in).push_back(name);
    if (auto r = sm.get("role")) {
      s.role = read_string(rep_, src_, *r, "`role`").value_or("");
      role_ref(s.role, loc(*r), "`role`");
      if (std::none_of(flow_.steps.begin(), flow_.steps.end(), [&](const Step& st) { return st.role == s.role; }))
        rep_.warning(loc(*r), fmt::format("no step has role '{}', so this clock never runs", s.role));
    }
    if (auto w = sm.get("warn_at")) {
      auto t = read_string(rep_, src_, *w, "`warn_at`");
      auto p = t ? parse_percent(*t) : std::nullopt;
      if (!p || *p >= 1.0) rep_.error(loc(*w), "`warn_at` must be a share below 100%, e.g. 75%");
      else s.warn_at = *p;
    }
    if (auto e = sm.get("escalate")) s.escalate = ladder(*e, "`escalate`");
    flow_.slas.push_back(std::move(s));
  }
}

void FlowBuilder::check_warnings() {
  // Emitted events that no step handles would be rejected when they fire.
  for (const auto& [ev, where] : emitted_) {
    bool handled = std::any_of(flow_.steps.begin(), flow_.steps.end(), [&](const Step& s) {
      return std::any_of(s.on.begin(), s.on.end(), [&](const Transition& t) { return t.event == ev; });
    });
    if (!handled) rep_.warning(where, fmt::format("event '{}' is emitted here but no step handles it", ev));
  }
  for (const auto& [name, spec] : flow_.calendars)
    if (!used_calendars_.count(name) && spec.where.file == src_.file)
      rep_.warning(spec.where, fmt::format("calendar '{}' is never used", name));
  for (const auto& r : flow_.rules)
    if (!used_rules_.count(r.name) && r.where.file == src_.file)
      rep_.warning(r.where, fmt::format("rule table '{}' is never used", r.name));
  // A parallel's join must be a join step.
  for (const auto& s : flow_.steps)
    if (s.kind == StepKind::parallel && s.join_index >= 0 &&
        flow_.steps[static_cast<std::size_t>(s.join_index)].kind != StepKind::join)
      rep_.error(s.where, fmt::format("parallel step '{}' joins at '{}', which is not a join step (give it `join: all`)",
                                      s.name, s.join));
}

}  // namespace
}  // namespace detail

// ------------------------------------------------------------------------------ public API

std::size_t LoadResult::error_count() const noexcept {
  return static_cast<std::size_t>(std::count_if(diagnostics.begin(), diagnostics.end(),
                                                [](const Diagnostic& d) { return d.severity == Severity::error; }));
}
std::size_t LoadResult::warning_count() const noexcept { return diagnostics.size() - error_count(); }
bool LoadResult::ok(bool strict) const noexcept { return error_count() == 0 && (!strict || warning_count() == 0); }

LoadResult validate(std::span<const std::string> paths, const LoadOptions& options) {
  LoadResult result;
  detail::Loader loader(options, result);
  for (const auto& p : paths) loader.add_path(p);
  loader.finish();
  return result;
}

LoadResult validate(std::initializer_list<std::string> paths, const LoadOptions& options) {
  return validate(std::span<const std::string>(paths.begin(), paths.size()), options);
}

LoadResult validate_text(std::string_view yaml, std::string_view name, std::string_view base_dir, const LoadOptions& options) {
  LoadResult result;
  detail::Loader loader(options, result);
  loader.add_text(yaml, name, base_dir);
  loader.finish();
  return result;
}

std::vector<FlowPtr> load_flows(std::span<const std::string> paths, const LoadOptions& options) {
  auto r = validate(paths, options);
  if (!r.ok(options.strict)) {
    if (options.strict)
      for (auto& d : r.diagnostics) d.severity = Severity::error;
    throw FlowError(std::move(r.diagnostics));
  }
  return std::move(r.flows);
}

std::vector<FlowPtr> load_flows(std::initializer_list<std::string> paths, const LoadOptions& options) {
  return load_flows(std::span<const std::string>(paths.begin(), paths.size()), options);
}

}  // namespace escalon
