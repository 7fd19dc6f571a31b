#pragma once
// A thin layer over yaml-cpp that the loader reads through. It knows which file a node came
// from (flows include library files), reports every problem as a Diagnostic instead of
// throwing, rejects duplicate and unknown keys (yaml-cpp accepts both silently), and counts
// nodes so that alias bombs stop with an error instead of exhausting memory. Every read file is
// checked to be a regular file and read with a size bound, and its text to be UTF-8 without NULs,
// before yaml-cpp sees it.

#include <yaml-cpp/yaml.h>

#include <initializer_list>
#include <map>
#include <optional>
#include <set>
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
  /// Counts a visited node (or `k` of them, e.g. the entries a merge key copies) against its
  /// file's budget (max_nodes per file: an alias counts each time it is used); false (after one
  /// error naming that file, at `n`) once the file has used it up.
  bool count(const Source& src, const YAML::Node& n, std::size_t k = 1);
  /// Whether a node `depth` levels inside a value being converted is within max_depth: aliases
  /// (even one inside itself, which yaml-cpp allows) nest deeper than the text shows. False after
  /// one error per file.
  bool nest(const Source& src, const YAML::Node& n, std::size_t depth);
  /// Gives every file a fresh node budget: a library is read again for each flow that includes it.
  void reset_counts() { nodes_.clear(); }
  [[nodiscard]] std::size_t errors() const noexcept { return errors_; }

 private:
  std::vector<Diagnostic>& out_;
  const LoadOptions& options_;
  std::map<std::string, std::size_t, std::less<>> nodes_;  // per file
  std::set<std::string, std::less<>> too_many_, too_deep_;  // files already reported
  std::size_t errors_ = 0;
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
/// "`version` 99999999999999999999 is too large (at most ...)": for an integer literal (`digits`)
/// that does not fit an int64.
std::string int_out_of_range(std::string_view what, std::string_view digits);
/// "a, b, c" or, past `most` names, the first `most` and "and N more": a message that lists every
/// step of a large flow, once per bad reference, grows with the square of the flow.
std::string name_list(const std::vector<std::string>& names, std::size_t most = 20);
std::string name_list(const std::vector<std::string_view>& names, std::size_t most = 20);
/// A string or a list of strings.
std::vector<std::pair<std::string, YAML::Node>> read_string_list(Reporter& rep, const Source& src,
                                                                 const YAML::Node& n, std::string_view what);

/// Whether `s` matches [a-z0-9]([a-z0-9-]*[a-z0-9])? (ids of flows, steps, roles, calendars, rules).
bool is_kebab_id(std::string_view s);
/// [a-z_][a-z0-9_]* (data and form field names: they appear in expressions).
bool is_field_name(std::string_view s);

/// The bytes of a regular file of at most `max_bytes`, or why not (`why`, a sentence for a
/// diagnostic at the file). Devices, FIFOs, sockets and folders are refused from their type
/// alone (opening a FIFO would block, reading /dev/zero would never end), and at most
/// `max_bytes` + 1 bytes are ever read.
std::optional<std::string> read_file(const std::string& path, std::size_t max_bytes, std::string& why);
/// The file as a Source, for readers that stop at the first problem (scenarios, simulation
/// models): throws FlowError with one diagnostic at `path` saying `message` and why when it
/// cannot be read.
Source read_source(const std::string& path, std::string_view message, const LoadOptions& options = {});

/// The first byte of `text` that is not valid UTF-8 or is a NUL, as a diagnostic at its
/// line:column (columns count bytes, as yaml-cpp's do); nullopt when the text is clean.
std::optional<Diagnostic> check_text(std::string_view text, const std::string& file);

/// Parses text into a YAML node, after checking size and nesting limits. Reports and returns
/// nullopt on any problem.
std::optional<YAML::Node> parse_yaml(Reporter& rep, const Source& src);

std::string_view node_kind(const YAML::Node& n);

/// Untyped YAML -> Value for data that a flow's types convert later (scenarios, simulation
/// models): quoted scalars stay text; true/false, integers and numbers are recognized. Every node
/// counts against the file's budget and nesting is bounded (Reporter::count, nest); nullopt
/// after reporting.
std::optional<Value> untyped_value(Reporter& rep, const Source& src, const YAML::Node& n, std::size_t depth = 0);

}  // namespace escalon::detail
