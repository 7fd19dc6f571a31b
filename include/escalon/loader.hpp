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

/// Limits that keep a bad or hostile file from exhausting the host, and where files may come from.
/// Every limit is reported as an error at the file (and line:column) that passes it.
struct LoadOptions {
  bool strict = false;                      ///< warnings count as errors
  /// Larger files are refused; a file is never read past this many bytes. Only regular files are
  /// read: devices, FIFOs and sockets are refused from their type, without being opened.
  std::size_t max_file_bytes = 4u << 20;
  /// Nesting limit: of the YAML text, and of every value the loader converts (defaults; scenario
  /// and model data), where an alias adds the levels of what it names.
  std::size_t max_depth = 64;
  std::size_t max_string_length = 64u << 10;
  /// Nodes read from one file, each file on its own (a library again for each flow that includes
  /// it); an alias counts each time it is used, so alias bombs stop here.
  std::size_t max_nodes = 1'000'000;
  /// Folders that flows and their includes may also come from. Without them, a file found in a
  /// folder, next to a flow (a sub-flow) or through `include:` must resolve (symlinks followed)
  /// inside a folder given to validate()/load_flows() or the folder of a file given to them
  /// (validate_text(): its base_dir).
  std::vector<std::string> include_roots;
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
/// checked on their own too. Files must be UTF-8 text without NUL bytes. Never throws for
/// problems in the files: it reports them.
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
