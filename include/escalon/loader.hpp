#pragma once
/// @file loader.hpp
/// Loading flow files. The loader reads YAML (yaml-cpp, confined to src/loader), builds the
/// immutable flow model, compiles every expression, resolves every reference and runs the graph
/// checks. It reports all problems of all files, each with file:line:column and a fix.
///
/// @code
///   auto report = escalon::validate({"flows/"});
///   for (auto& d : report.diagnostics) std::cerr << d.str() << '\n';
///   auto flows = escalon::load_flows({"flows/"});   // throws escalon::FlowError on any error
/// @endcode
/// Thread-safety: the functions are reentrant; the returned flows are immutable.

#include <cstddef>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "escalon/error.hpp"
#include "escalon/flow.hpp"

namespace escalon {

struct LoadOptions {
  bool strict = false;                      ///< warnings count as errors
  std::size_t max_file_bytes = 4u << 20;    ///< larger files are refused
  std::size_t max_depth = 64;               ///< YAML nesting limit
  std::size_t max_string_length = 64u << 10;
  std::size_t max_nodes = 1'000'000;        ///< guards against alias bombs
};

struct LoadResult {
  std::vector<FlowPtr> flows;               ///< flows without errors
  std::vector<Diagnostic> diagnostics;      ///< sorted by file, line, column
  std::vector<std::string> files;           ///< every file read
  [[nodiscard]] std::size_t error_count() const noexcept;
  [[nodiscard]] std::size_t warning_count() const noexcept;
  /// No errors (and, when strict, no warnings).
  [[nodiscard]] bool ok(bool strict = false) const noexcept;
};

/// Loads and checks files and folders (folders: every *.yaml / *.yml below, in name order).
/// Files without a `flow:` key are libraries (calendars, rules, roles) for `include:`; they are
/// checked on their own too. Never throws for problems in the files: it reports them.
[[nodiscard]] LoadResult validate(std::span<const std::string> paths, const LoadOptions& options = {});
[[nodiscard]] LoadResult validate(std::initializer_list<std::string> paths, const LoadOptions& options = {});

/// Checks one document given as text; `name` stands for its file name in messages and
/// `base_dir` resolves its includes.
[[nodiscard]] LoadResult validate_text(std::string_view yaml, std::string_view name = "<text>",
                                       std::string_view base_dir = ".", const LoadOptions& options = {});

/// Like validate(), but throws FlowError (with every diagnostic) when there is any error.
[[nodiscard]] std::vector<FlowPtr> load_flows(std::span<const std::string> paths, const LoadOptions& options = {});
[[nodiscard]] std::vector<FlowPtr> load_flows(std::initializer_list<std::string> paths, const LoadOptions& options = {});

}  // namespace escalon
