#pragma once
// A thin layer over yaml-cpp that the loader reads through. It knows which file a node came
// from (flows include library files), reports every problem as a Diagnostic instead of
// throwing, rejects duplicate and unknown keys (yaml-cpp accepts both silently), and counts
// nodes so that alias bombs stop with an error instead of exhausting memory.

#include <yaml-cpp/yaml.h>

#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "escalon/error.hpp"
#include "escalon/loader.hpp"
#include "escalon/value.hpp"

namespace escalon::detail {

struct Source {
  std::string file;
  std::string text;
};

class Reporter {
 public:
  Reporter(std::vector<Diagnostic>& out, const LoadOptions& options) : out_(out), options_(options) {}
  void error(SourceLocation where, std::string message);
  void warning(SourceLocation where, std::string message);
  [[nodiscard]] const LoadOptions& options() const noexcept { return options_; }
  /// Counts a visited node; false (after one error) once the document is too large.
  bool count(const Source& src, const YAML::Node& n);
  [[nodiscard]] std::size_t errors() const noexcept { return errors_; }

 private:
  std::vector<Diagnostic>& out_;
  const LoadOptions& options_;
  std::size_t nodes_ = 0;
  std::size_t errors_ = 0;
  bool too_many_ = false;
};

/// 1-based location of a node.
SourceLocation location(const Source& src, const YAML::Node& n);
/// Location of character `offset` inside a scalar (for expression errors): accounts for quotes.
SourceLocation location_in_scalar(const Source& src, const YAML::Node& n, std::size_t offset);

/// Reads a mapping: reports duplicate keys and keys outside `allowed` (with a did-you-mean).
class MapReader {
 public:
  MapReader(Reporter& rep, const Source& src, const YAML::Node& node, std::string what,
            std::initializer_list<std::string_view> allowed);
  MapReader(Reporter& rep, const Source& src, const YAML::Node& node, std::string what,
            const std::vector<std::string>& allowed);
  [[nodiscard]] bool ok() const noexcept { return ok_; }
  [[nodiscard]] bool has(std::string_view key) const;
  [[nodiscard]] std::optional<YAML::Node> get(std::string_view key) const;
  [[nodiscard]] const std::string& what() const noexcept { return what_; }
  [[nodiscard]] SourceLocation where() const;
  /// Entries in document order (duplicates after the first are dropped).
  [[nodiscard]] const std::vector<std::pair<YAML::Node, YAML::Node>>& entries() const noexcept { return entries_; }

 private:
  void read(Reporter& rep, const std::vector<std::string_view>& allowed, bool any_key);
  const Source& src_;
  YAML::Node node_;
  std::string what_;
  bool ok_ = false;
  std::vector<std::pair<YAML::Node, YAML::Node>> entries_;
};

// Scalar readers: each reports a typed error naming `what` and returns nullopt on failure.
std::optional<std::string> read_string(Reporter& rep, const Source& src, const YAML::Node& n, std::string_view what);
std::optional<bool> read_bool(Reporter& rep, const Source& src, const YAML::Node& n, std::string_view what);
std::optional<std::int64_t> read_int(Reporter& rep, const Source& src, const YAML::Node& n, std::string_view what);
/// A string or a list of strings.
std::vector<std::pair<std::string, YAML::Node>> read_string_list(Reporter& rep, const Source& src,
                                                                 const YAML::Node& n, std::string_view what);

/// Whether `s` matches [a-z0-9]([a-z0-9-]*[a-z0-9])? (ids of flows, steps, roles, calendars, rules).
bool is_kebab_id(std::string_view s);
/// [a-z_][a-z0-9_]* (data and form field names: they appear in expressions).
bool is_field_name(std::string_view s);

/// The whole file's bytes; nullopt when it cannot be opened.
std::optional<std::string> read_file(const std::string& path);
/// The file as a Source, for readers that stop at the first problem (scenarios, simulation
/// models): throws FlowError with one diagnostic at `path` saying `message` when it cannot be read.
Source read_source(const std::string& path, std::string_view message);

/// Parses text into a YAML node, after checking size and nesting limits. Reports and returns
/// nullopt on any problem.
std::optional<YAML::Node> parse_yaml(Reporter& rep, const Source& src);

std::string_view node_kind(const YAML::Node& n);

/// Untyped YAML -> Value for data that a flow's types convert later (scenarios, simulation
/// models): quoted scalars stay text; true/false, integers and numbers are recognized.
Value untyped_value(const YAML::Node& n);

}  // namespace escalon::detail
