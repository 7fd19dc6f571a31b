#pragma once
// Private to src/loader: the flow loader's two classes and what their files share.
//
//   Loader       reads files and text, builds each flow, then runs the cross-flow pass
//                (sub-flows) and the graph checks (loader.cpp);
//   FlowBuilder  turns one parsed flow file into a Flow, one file per part of the format:
//                flow_builder.cpp  top level, includes and library files, names and references
//                calendars.cpp     `calendars:` and roles
//                data.cpp          `data:`, step forms, types and typed values
//                rule_tables.cpp   `rules:`
//                steps.cpp         `steps:`, one function per step kind, transitions, hooks
//                stages.cpp        `stages:`, groups of steps sharing transitions and a deadline
//                deadlines_escalations.cpp  deadlines, escalation ladders, SLAs
//                ladder_order.cpp  escalation levels listed in the order they fire
// Nothing throws for a problem in a file: each becomes a Diagnostic through the Reporter.

#include <cstdint>
#include <deque>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "escalon/flow.hpp"
#include "escalon/loader.hpp"
#include "loader/yaml_reader.hpp"

namespace escalon::detail {

struct CellSet;  // expr/rules.hpp

/// Event names: lowercase letters, digits, '-', '_', '.'; not starting with '-' or '.'.
bool is_event_name(std::string_view s);
/// Host action names (`call:`): the same characters as events.
bool is_action_name(std::string_view s);
/// The texts of `rule('name')` calls inside an expression.
std::vector<std::string> rule_calls(std::string_view text);
/// The names a flow's expressions see: its data fields (typed, with their slots) and its rule
/// tables; `case.*` too. A sub-flow step's `output:` sees the child's.
ExprEnv data_env(const Flow& flow);

/// A sub-flow step whose child is resolved once every flow is read.
struct PendingSubflow {
  Flow* flow;
  std::size_t step;
  const Source* src;
  YAML::Node flow_node;
  std::optional<YAML::Node> input, output;
  ExprEnv parent_env;
};

/// A role named somewhere; checked against `roles:` once every include is read.
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
  std::set<std::string> partial_rules_;     // tables with a row left out for an error
  std::vector<PendingSubflow> pending_;
  std::vector<std::pair<std::string, SourceLocation>> emitted_;
  std::vector<std::string_view> hash_parts_;  // the file's text, then each include's (Flow::content_hash)
  struct RuleSource { const Source* src; YAML::Node node; };
  std::vector<RuleSource> rule_nodes_;

  SourceLocation loc(const Source& s, const YAML::Node& n) const { return location(s, n); }
  SourceLocation loc(const YAML::Node& n) const { return location(src_, n); }

  // flow_builder.cpp: top level, includes, shared readers and references
  void identity(const MapReader& top);
  void includes(const YAML::Node& n);
  void library_sections(const Source& src, const MapReader& top);
  Expression expr(const Source& src, const YAML::Node& n, const ExprEnv& env, std::string_view what);
  // A `message:` or `subject:` with {placeholders}; `text` gets the scalar as written.
  MessageTemplate message_template(const YAML::Node& n, std::string_view what, std::string& text);
  [[nodiscard]] bool names_personal_field(std::string_view expr) const;
  Expression expr(const YAML::Node& n, const ExprEnv& env, std::string_view what) { return expr(src_, n, env, what); }
  std::optional<DurationSpec> duration(const Source& src, const YAML::Node& n, std::string_view what);
  void retention(const YAML::Node& n);
  std::vector<Assignment> assignments(const Source& src, const YAML::Node& n, const ExprEnv& env, std::string_view what,
                                      bool data_targets);
  std::int32_t step_ref(const YAML::Node& n, std::string_view what);
  std::int32_t step_ref_named(const std::string& name, SourceLocation where, std::string_view what);
  void calendar_ref(const std::string& name, SourceLocation where, bool business);
  void role_ref(const std::string& name, SourceLocation where, std::string what);
  void check_roles();
  void check_warnings();
  void note_rule_use(const Expression& e) {
    for (auto& r : rule_calls(e.text())) used_rules_.insert(r);
  }

  // calendars.cpp
  void calendars(const Source& src, const YAML::Node& n);
  std::optional<CalendarSpec> calendar(const Source& src, const std::string& name, const YAML::Node& n);
  bool hours(const Source& src, const YAML::Node& n, CalendarSpec& spec);
  std::optional<std::vector<WorkInterval>> intervals(const Source& src, const YAML::Node& n);
  void roles(const Source& src, const YAML::Node& n);

  // data.cpp
  void data(const YAML::Node& n);
  void form(Step& s, const YAML::Node& n);
  std::optional<DataField> field(const Source& src, const std::string& name, const YAML::Node& n, std::string_view what);
  std::optional<Type> type_spec(const Source& src, const YAML::Node& n, std::string_view what, std::size_t depth = 0);
  std::optional<Value> value_of(const Source& src, const YAML::Node& n, const Type& t, std::string_view what,
                                std::size_t depth = 0);

  // rule_tables.cpp
  void rule_headers(const Source& src, const YAML::Node& n);
  void rule_bodies();
  void rule_inputs(RuleTable& table, const Source& src, const YAML::Node& n);
  bool rule_row(const RuleTable& table, const Source& src, const YAML::Node& row, RuleRow& r, std::vector<CellSet>& sets);
  void rule_cycles();

  // steps.cpp
  void steps(const YAML::Node& n, const std::optional<YAML::Node>& stage_node);
  void step(Step& s, const YAML::Node& n);
  bool step_kind(Step& s, const MapReader& m);
  void check_step_keys(const Step& s, const MapReader& m);
  void common_step_keys(Step& s, const MapReader& m);
  void task_step(Step& s, const MapReader& m);
  void action_step(Step& s, const MapReader& m);
  void retry(Step& s, const YAML::Node& n);
  void decision_step(Step& s, const MapReader& m);
  void check_decision_rule(Step& s, const YAML::Node& n);
  void wait_step(Step& s, const MapReader& m);
  void subflow_step(Step& s, const MapReader& m);
  void parallel_step(Step& s, const MapReader& m);
  void join_step(Step& s, const MapReader& m);
  void end_step(Step& s, const MapReader& m);
  ExprEnv event_env(const Step& s) const;
  std::vector<Transition> transitions(const YAML::Node& n, const std::string& owner, const ExprEnv& env);
  std::optional<Transition> transition(const YAML::Node& n, const std::string& event, const ExprEnv& env);
  std::vector<Hook> hooks(const YAML::Node& n, std::string_view what);

  void form_events(Step& s, const YAML::Node& n);

  // stages.cpp
  void stages(const YAML::Node& n);
  void stage_members(Stage& st, const MapReader& sm);
  void check_stages();
  bool scope_ref(const std::string& name, const SourceLocation& where, std::string_view what);

  // deadlines_escalations.cpp
  std::optional<Deadline> deadline(const YAML::Node& n);
  std::vector<Escalation> ladder(const YAML::Node& n, const std::string& what, const std::optional<DurationSpec>& within);
  std::optional<Escalation> rung(const YAML::Node& n);
  bool rung_anchor(Escalation& e, const MapReader& m);
  void rung_actions(Escalation& e, const MapReader& m);
  void rung_repeat(Escalation& e, const MapReader& m);
  void slas(const YAML::Node& n);

  // ladder_order.cpp
  void check_ladder_order(const std::vector<Escalation>& levels, const std::vector<std::size_t>& numbers,
                          const std::optional<DurationSpec>& within);
};

class Loader {
 public:
  Loader(const LoadOptions& options, LoadResult& result);

  /// Allows flows and includes inside `path` (a folder, or a file's folder), symlinks resolved.
  void add_root(const std::string& path, bool folder = false);
  /// `given`: named by the caller, so read wherever it is; otherwise (found in a folder or as a
  /// sub-flow's file) it must resolve inside the roots.
  void add_path(const std::string& path, bool given = true);
  void add_text(std::string_view text, std::string_view name, std::string_view base_dir);
  void finish();
  const Source* read_include(const std::string& path, const Source& from, const YAML::Node& at);
  std::optional<YAML::Node> parse_cached(const Source* src);

 private:
  [[maybe_unused]] const LoadOptions& options_;  // unread here: clang (not GCC) warns, -Werror fails
  LoadResult& result_;
  Reporter rep_;
  std::deque<Source> sources_;
  std::map<std::string, const Source*> by_path_;
  std::map<const Source*, std::optional<YAML::Node>> parsed_;
  std::vector<std::shared_ptr<Flow>> flows_;
  std::vector<std::vector<PendingSubflow>> pending_;
  std::vector<std::size_t> error_counts_;   // rep_.errors() after each flow was built
  std::vector<std::size_t> error_before_;
  std::vector<std::filesystem::path> roots_;  // real paths of the folders flows and includes may come from

  void add_folder(const std::string& path);
  /// Why `path` may not be read (it resolves outside every root), or nullopt.
  std::optional<std::string> outside_roots(const std::string& path) const;
  void load_source(const Source* src);
  void add_sibling_subflows();
  void resolve_subflows();
  const Flow* find_subflow(const PendingSubflow& p);
  void subflow_input(const PendingSubflow& p, const Flow& child, Step& s);
  void subflow_output(const PendingSubflow& p, const ExprEnv& child_env, Step& s);
  void check_graphs();
  void sort_diagnostics();
};

}  // namespace escalon::detail
