// Flow loader: YAML -> checked, immutable flow model.
//
// Steps, in order:
//   1. read files (folders expand to *.yaml/*.yml in name order), check size and nesting
//      limits, parse with yaml-cpp;
//   2. per flow (FlowBuilder, see builder.hpp for its files): includes (library files with
//      calendars, roles, rules), calendars, data schema, rule-table headers, step names, then
//      every step, SLA and rule body, compiling each expression against the names in scope;
//   3. across flows: sub-flow references and their input/output mappings;
//   4. graph checks (src/graph) for every flow without errors.
// Nothing throws for a problem in a file: every problem becomes a Diagnostic with its
// file:line:column, and the caller decides (validate() reports, load_flows() throws FlowError).
// This file has the entry points, steps 1, 3 and 4.

#include <fmt/format.h>

#include <algorithm>
#include <filesystem>
#include <tuple>

#include "escalon/graph.hpp"
#include "escalon/loader.hpp"
#include "loader/builder.hpp"
#include "base/suggest.hpp"

namespace escalon {
namespace detail {

namespace fs = std::filesystem;

namespace {
// `p` without a trailing separator, so that its parts compare as a prefix.
fs::path real_folder(const fs::path& p, std::error_code& ec) {
  auto r = fs::weakly_canonical(p.empty() ? fs::path(".") : p, ec).lexically_normal();
  if (!r.has_filename() && r.has_parent_path() && r != r.root_path()) r = r.parent_path();
  return r;
}

bool within(const fs::path& p, const fs::path& root) {
  auto [r, q] = std::mismatch(root.begin(), root.end(), p.begin(), p.end());
  return r == root.end();
}
}  // namespace

Loader::Loader(const LoadOptions& options, LoadResult& result)
    : options_(options), result_(result), rep_(result.diagnostics, options) {
  for (const auto& r : options.include_roots) add_root(r, true);
}

void Loader::add_root(const std::string& path, bool folder) {
  std::error_code ec;
  const fs::path p(path);
  const fs::path dir = folder || fs::is_directory(p, ec) ? p : p.parent_path();
  auto root = real_folder(dir, ec);
  if (!ec) roots_.push_back(std::move(root));
}

std::optional<std::string> Loader::outside_roots(const std::string& path) const {
  std::error_code ec;
  const auto real = fs::weakly_canonical(path, ec);
  if (ec) return fmt::format("cannot resolve '{}': {}", path, ec.message());
  if (std::any_of(roots_.begin(), roots_.end(), [&](const fs::path& r) { return within(real, r); })) return std::nullopt;
  std::vector<std::string> roots;
  for (const auto& r : roots_) roots.push_back(r.string());
  return fmt::format("'{}' resolves to '{}', outside the folders being loaded ({}); flows and the files they include "
                     "must be inside them (or inside a folder of LoadOptions::include_roots)",
                     path, real.string(), fmt::join(roots, ", "));
}

void Loader::add_folder(const std::string& path) {
  std::vector<std::string> files;
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(path, ec); !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
    const auto ext = it->path().extension();
    std::error_code type_ec;  // a link that loops or dangles: reported when the file is read
    if ((ext == ".yaml" || ext == ".yml") && !it->is_directory(type_ec)) files.push_back(it->path().lexically_normal().string());
  }
  std::sort(files.begin(), files.end());
  if (files.empty()) rep_.error({path, 0, 0}, "folder has no *.yaml or *.yml files");
  for (const auto& f : files) add_path(f, false);
}

void Loader::add_path(const std::string& path, bool given) {
  std::error_code ec;
  if (fs::is_directory(path, ec)) {
    add_folder(path);
    return;
  }
  const std::string norm = fs::path(path).lexically_normal().string();
  if (by_path_.count(norm)) return;
  // A file named on the command line is the caller's choice; one found in a folder or next to a
  // flow may be a link to anywhere.
  if (auto why = given ? std::nullopt : outside_roots(norm)) {
    rep_.error({norm, 0, 0}, *why);
    return;
  }
  std::string why;
  auto text = read_file(path, options_.max_file_bytes, why);
  if (!text) {
    rep_.error({norm, 0, 0}, why);
    return;
  }
  sources_.push_back({norm, std::move(*text)});
  by_path_[norm] = &sources_.back();
  result_.files.push_back(norm);
  load_source(&sources_.back());
}

void Loader::add_text(std::string_view text, std::string_view name, std::string_view base_dir) {
  const std::string file = base_dir.empty() || base_dir == "." ? std::string(name) : (fs::path(base_dir) / name).string();
  add_root(base_dir.empty() ? "." : std::string(base_dir), true);
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
  if (auto why = outside_roots(norm)) {
    rep_.error(location(from, at), fmt::format("include '{}': {}", path, *why));
    return nullptr;
  }
  std::string why;
  auto text = read_file(norm, options_.max_file_bytes, why);
  if (!text) {
    rep_.error(location(from, at), why == "no such file or folder"
                                       ? fmt::format("included file '{}' not found; include paths are relative to the "
                                                     "including file", path)
                                       : fmt::format("include '{}': {}", path, why));
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
  rep_.reset_counts();
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
  add_sibling_subflows();
  resolve_subflows();
  check_graphs();
  // Two flows with one id and version cannot both be loaded.
  std::map<std::pair<std::string, std::int64_t>, const Flow*> seen;
  for (const auto& f : flows_) {
    auto [it, fresh] = seen.emplace(std::pair{f->id, f->version}, f.get());
    if (!fresh && !f->id.empty())
      rep_.error(f->where, fmt::format("flow '{}' version {} is also defined in {}; give one of them another id or version",
                                       f->id, f->version, it->second->file));
  }
  sort_diagnostics();
  // Drop flows that ended up with errors from the cross-flow pass or duplicates.
  std::set<std::string> bad_files;
  for (const auto& d : result_.diagnostics)
    if (d.severity == Severity::error) bad_files.insert(d.where.file);
  std::erase_if(result_.flows, [&](const FlowPtr& f) { return bad_files.count(f->file) > 0; });
}

void Loader::add_sibling_subflows() {
  // A flow given alone still finds its sub-flows: `<id>.yaml` next to the file that names it is
  // read too (and its own sub-flows, in turn), so `validate flows/technician-visit.yaml` works.
  std::set<std::string> tried;  // a file that cannot be read stays out of by_path_: try it once
  for (bool added = true; added;) {
    added = false;
    std::set<std::string> ids;
    for (const auto& f : flows_) ids.insert(f->id);
    std::vector<std::string> wanted;
    for (const auto& pending : pending_)
      for (const auto& p : pending) {
        // Only ids name files here: subflow_step refused any other text (`../../x`, say).
        if (!p.flow_node.IsScalar() || !is_kebab_id(p.flow_node.Scalar()) || ids.count(p.flow_node.Scalar())) continue;
        const auto dir = fs::path(p.src->file).parent_path();
        for (const char* ext : {".yaml", ".yml"}) {
          const auto file = (dir / (p.flow_node.Scalar() + ext)).lexically_normal().string();
          std::error_code ec;
          if (!by_path_.count(file) && fs::is_regular_file(file, ec)) wanted.push_back(file);
        }
      }
    for (const auto& file : wanted)
      if (!by_path_.count(file) && tried.insert(file).second) {
        add_path(file, false);
        added = true;
      }
  }
}

void Loader::check_graphs() {
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
}

void Loader::sort_diagnostics() {
  auto& ds = result_.diagnostics;
  std::stable_sort(ds.begin(), ds.end(), [](const Diagnostic& a, const Diagnostic& b) {
    return std::tie(a.where.file, a.where.line, a.where.column) < std::tie(b.where.file, b.where.line, b.where.column);
  });
  ds.erase(std::unique(ds.begin(), ds.end(), [](const Diagnostic& a, const Diagnostic& b) {
             return a.where == b.where && a.message == b.message && a.severity == b.severity;
           }),
           ds.end());
}

// ------------------------------------------------------------------------------ sub-flows

void Loader::resolve_subflows() {
  for (std::size_t i = 0; i < flows_.size(); ++i) {
    for (auto& p : pending_[i]) {
      const Flow* child = find_subflow(p);
      if (!child) continue;
      Step& s = p.flow->steps[p.step];
      s.subflow_version = child->version;
      subflow_input(p, *child, s);
      if (p.output) subflow_output(p, data_env(*child), s);  // `output:` reads the child's data
    }
  }
}

const Flow* Loader::find_subflow(const PendingSubflow& p) {
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
    return nullptr;
  }
  if (child == p.flow) {
    rep_.error(location(*p.src, p.flow_node), fmt::format("flow '{}' cannot run itself as a sub-flow", child_id));
    return nullptr;
  }
  return child;
}

void Loader::subflow_input(const PendingSubflow& p, const Flow& child, Step& s) {
  const std::string& child_id = child.id;
  if (!p.input) {
    for (const auto& f : child.data)
      if (f.required && !f.default_value)
        rep_.error(location(*p.src, p.flow_node),
                   fmt::format("sub-flow '{}' requires '{}'; pass it with `input: {{ {}: ... }}`", child_id, f.name, f.name));
    return;
  }
  MapReader m(rep_, *p.src, *p.input, "`input`", std::vector<std::string>{});
  for (const auto& [k, v] : m.entries()) {
    const DataField* target = child.find_field(k.Scalar());
    if (!target) {
      std::vector<std::string> names;
      for (const auto& f : child.data) names.push_back(f.name);
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
  for (const auto& f : child.data) {
    if (!f.required || f.default_value) continue;
    if (std::none_of(s.input.begin(), s.input.end(), [&](const Assignment& a) { return a.field == f.name; }))
      rep_.error(location(*p.src, *p.input), fmt::format("sub-flow '{}' requires '{}'; map it under `input`", child_id, f.name));
  }
}

void Loader::subflow_output(const PendingSubflow& p, const ExprEnv& child_env, Step& s) {
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
  for (const auto& p : paths) loader.add_root(p);  // all of them before any include is read
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
