// FlowBuilder, top level: the flow's identity, includes and library files, and what every part
// shares: expressions, durations, assignments, references to steps, roles and calendars, and
// the checks that need the whole file.

#include <fmt/format.h>

#include <algorithm>
#include <cctype>

#include "loader/builder.hpp"
#include "loader/content_hash.hpp"
#include "base/suggest.hpp"

namespace escalon::detail {

bool is_event_name(std::string_view s) {
  if (s.empty() || s.size() > 128) return false;
  auto ok = [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.'; };
  return std::all_of(s.begin(), s.end(), ok) && ok(s.front()) && s.front() != '-' && s.front() != '.';
}

bool is_action_name(std::string_view s) { return is_event_name(s); }

ExprEnv data_env(const Flow& flow) {
  ExprEnv env;
  for (std::size_t i = 0; i < flow.data.size(); ++i) {
    env.data[flow.data[i].name] = flow.data[i].type;
    env.slots[flow.data[i].name] = static_cast<std::int32_t>(i);
  }
  env.rules = &flow.rules;
  return env;
}

void FlowBuilder::build(const YAML::Node& root) {
  MapReader top(rep_, src_, root, "the flow",
                {"flow", "version", "title", "description", "calendar", "calendars", "data", "roles", "sla", "start",
                 "steps", "stages", "rules", "include", "retention"});
  flow_.where = {src_.file, 1, 1};
  hash_parts_ = {src_.text};  // hashed below, with the includes
  flow_.source = src_.text;
  identity(top);
  if (auto n = top.get("include")) includes(*n);
  library_sections(src_, top);
  if (auto n = top.get("calendar")) {
    if (auto s = read_string(rep_, src_, *n, "`calendar`")) {
      flow_.calendar = *s;
      calendar_ref(*s, loc(*n), false);
    }
  }
  if (auto n = top.get("data")) data(*n);
  env_ = data_env(flow_);
  rule_bodies();
  if (auto n = top.get("steps")) steps(*n, top.get("stages"));
  else rep_.error(flow_.where, "missing `steps`: a flow needs at least one step");
  if (auto n = top.get("start"); n && !flow_.steps.empty()) {
    flow_.start_index = step_ref(*n, "`start`");
    if (flow_.start_index >= 0) flow_.start = n->Scalar();
  } else if (!flow_.steps.empty()) {
    rep_.error(flow_.where, fmt::format("missing `start`: name the first step, e.g. `start: {}`", flow_.steps.front().name));
  }
  if (auto n = top.get("sla")) slas(*n);
  check_stages();
  check_roles();
  flow_.has_pii = std::any_of(flow_.data.begin(), flow_.data.end(), [](const DataField& d) { return d.pii; });
  if (auto n = top.get("retention")) retention(*n);
  rule_cycles();
  check_warnings();
  flow_.content_hash = content_hash(hash_parts_);
  flow_.legacy_hash = legacy_content_hash(hash_parts_);
}

void FlowBuilder::identity(const MapReader& top) {
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
}

void FlowBuilder::build_library(const YAML::Node& root) {
  if (root.IsMap() && (root["start"] || root["steps"])) {
    rep_.error({src_.file, 1, 1}, "missing `flow: NAME` (a file with `start` and `steps` is a flow, not a library file)");
    return;
  }
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
  std::map<const Source*, SourceLocation> seen;
  for (const auto& [path, node] : read_string_list(rep_, src_, n, "`include`")) {
    const Source* inc = loader_.read_include(path, src_, node);
    if (!inc) continue;
    // Each include is read again for every flow: a file named a million times would be read as often.
    if (auto [it, fresh] = seen.emplace(inc, loc(node)); !fresh) {
      rep_.error(loc(node), fmt::format("'{}' is already included (line {}); name it once", path, it->second.line));
      continue;
    }
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

// Whether a placeholder names a personal-data field: any identifier in it that is one (a name
// inside a string literal counts too: that hides more, never less).
bool FlowBuilder::names_personal_field(std::string_view expr) const {
  const auto ident = [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; };
  for (std::size_t i = 0; i < expr.size();) {
    if (!ident(expr[i])) {
      ++i;
      continue;
    }
    std::size_t j = i;
    while (j < expr.size() && ident(expr[j])) ++j;
    if (const DataField* d = flow_.find_field(expr.substr(i, j - i)); d && d->pii) return true;
    i = j;
  }
  return false;
}

MessageTemplate FlowBuilder::message_template(const YAML::Node& n, std::string_view what, std::string& text) {
  MessageTemplate t;
  text = read_string(rep_, src_, n, what).value_or("");
  std::string literal;
  const auto flush = [&] {
    if (!literal.empty()) t.parts.push_back({MessageTemplate::Slot::text, std::exchange(literal, {}), {}});
  };
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char ch = text[i];
    if ((ch == '{' || ch == '}') && i + 1 < text.size() && text[i + 1] == ch) {  // {{ and }}: a brace
      literal += ch;
      ++i;
      continue;
    }
    if (ch == '}') {
      rep_.error(location_in_scalar(src_, n, i), fmt::format("in {}: a '}}' without its '{{'; write }}}} for a brace", what));
      return {};
    }
    if (ch != '{') {
      literal += ch;
      continue;
    }
    const auto close = text.find('}', i + 1);
    if (close == std::string::npos) {
      rep_.error(location_in_scalar(src_, n, i), fmt::format("in {}: a '{{' without its '}}'; write {{{{ for a brace", what));
      return {};
    }
    flush();
    const std::string inner = text.substr(i + 1, close - i - 1);
    using Slot = MessageTemplate::Slot;
    const auto special = inner == "step" ? Slot::step : inner == "due" ? Slot::due : inner == "level" ? Slot::level : Slot::text;
    if (special != Slot::text && !env_.data.contains(inner)) {
      t.parts.push_back({special, {}, {}});
    } else {
      try {
        t.parts.push_back({Slot::expr, {}, compile_expression(inner, env_)});
        note_rule_use(t.parts.back().expr);
        t.parts.back().personal = names_personal_field(inner);
      } catch (const ExprError& e) {
        rep_.error(location_in_scalar(src_, n, i + 1 + e.offset()),
                   fmt::format("in the placeholder {{{}}} of {}: {}", inner, what, e.message()));
      }
    }
    i = close;
  }
  flush();
  return t;
}

// Calendar time only: a retention period is a legal one, not a service level.
void FlowBuilder::retention(const YAML::Node& n) {
  auto d = duration(src_, n, "`retention`");
  if (!d) return;
  if (d->is_business()) {
    rep_.error(loc(n), "`retention` is calendar time (e.g. `90 days`), not business time");
    return;
  }
  if (!flow_.has_pii)
    rep_.warning(loc(n), "`retention` has nothing to erase: no data field of this flow is `pii: true`");
  flow_.retention = d->length;
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

std::int32_t FlowBuilder::step_ref_named(const std::string& name, SourceLocation where, std::string_view what) {
  const auto idx = flow_.step_index(name);
  if (idx >= 0) return idx;
  std::vector<std::string> names;
  for (const auto& s : flow_.steps) names.push_back(s.name);
  std::string hint = did_you_mean(name, names);
  rep_.error(where, fmt::format("unknown step '{}' in {}{}", name, what,
                                hint.empty() ? fmt::format("; the steps are {}", name_list(names)) : hint));
  return -1;
}

std::int32_t FlowBuilder::step_ref(const YAML::Node& n, std::string_view what) {
  auto s = read_string(rep_, src_, n, what);
  if (!s) return -1;
  return step_ref_named(*s, loc(n), what);
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

void FlowBuilder::check_warnings() {
  // Emitted events that no step handles would be rejected when they fire.
  for (const auto& [ev, where] : emitted_) {
    // Clang 14 cannot capture a structured binding; an init-capture names it.
    const auto handles = [&event = ev](const std::vector<Transition>& on) {
      return std::any_of(on.begin(), on.end(), [&](const Transition& t) { return t.event == event; });
    };
    bool handled = std::any_of(flow_.steps.begin(), flow_.steps.end(), [&](const Step& s) { return handles(s.on); }) ||
                   std::any_of(flow_.stages.begin(), flow_.stages.end(), [&](const Stage& s) { return handles(s.on); });
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

}  // namespace escalon::detail
