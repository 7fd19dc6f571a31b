#include "loader/yaml_reader.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <cerrno>
#include <cstring>
#include <limits>
#include <set>
#include <utility>

#include "base/utf8.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/suggest.hpp"
#include "loader/yaml_documents.hpp"

namespace escalon::detail {

void Reporter::error(SourceLocation where, std::string message) {
  ++errors_;
  out_.push_back({Severity::error, std::move(where), std::move(message)});
}

void Reporter::warning(SourceLocation where, std::string message) {
  out_.push_back({Severity::warning, std::move(where), std::move(message)});
}

bool Reporter::count(const Source& src, const YAML::Node& n, std::size_t k) {
  auto it = nodes_.find(src.file);
  if (it == nodes_.end()) it = nodes_.emplace(src.file, 0).first;
  it->second = std::min(it->second + k, options_.max_nodes + 1);
  if (it->second <= options_.max_nodes) return true;
  if (too_many_.insert(src.file).second)
    error(location(src, n), fmt::format("document has more than {} nodes (aliases count each time they are used); "
                                        "split it into smaller files",
                                        options_.max_nodes));
  return false;
}

bool Reporter::nest(const Source& src, const YAML::Node& n, std::size_t depth) {
  if (depth <= options_.max_depth) return true;
  if (too_deep_.insert(src.file).second)
    error(location(src, n), fmt::format("value nests deeper than {} levels (an alias adds the levels of what it "
                                        "names); flatten it",
                                        options_.max_depth));
  return false;
}

namespace {
std::string file_kind(mode_t mode) {
  if (S_ISDIR(mode)) return "a folder";
  if (S_ISCHR(mode)) return "a character device";
  if (S_ISBLK(mode)) return "a block device";
  if (S_ISFIFO(mode)) return "a FIFO (named pipe)";
  if (S_ISSOCK(mode)) return "a socket";
  return "not a regular file";
}

std::string stat_failure(int err) {
  if (err == ENOENT || err == ENOTDIR) return "no such file or folder";
  if (err == EACCES) return "cannot read the file (permissions?)";
  if (err == ELOOP) return "too many levels of symbolic links (a symlink loop?); point the link at a file";
  return fmt::format("cannot read the file: {}", std::strerror(err));
}

std::string too_large(std::uintmax_t size, std::size_t max_bytes) {
  return fmt::format("file is {} bytes; at most {} are allowed (LoadOptions::max_file_bytes)", size, max_bytes);
}

// Reads an open regular file, never more than max_bytes + 1 bytes.
std::optional<std::string> read_bounded(int fd, std::size_t max_bytes, std::string& why) {
  std::string out;
  char buf[1 << 16];
  while (out.size() <= max_bytes) {
    const auto want = std::min(sizeof buf, max_bytes + 1 - out.size());
    const auto got = ::read(fd, buf, want);
    if (got < 0 && errno == EINTR) continue;
    if (got < 0) {
      why = stat_failure(errno);
      return std::nullopt;
    }
    if (got == 0) return out;
    out.append(buf, static_cast<std::size_t>(got));
  }
  why = fmt::format("file is larger than {} bytes (LoadOptions::max_file_bytes)", max_bytes);
  return std::nullopt;
}
}  // namespace

std::optional<std::string> read_file(const std::string& path, std::size_t max_bytes, std::string& why) {
  // The type first, from stat(): opening a FIFO blocks and a device may never end.
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    why = stat_failure(errno);
    return std::nullopt;
  }
  if (!S_ISREG(st.st_mode)) {
    why = fmt::format("'{}' is {}; flows, scenarios and models are read from regular YAML files", path, file_kind(st.st_mode));
    return std::nullopt;
  }
  if (static_cast<std::uintmax_t>(st.st_size) > max_bytes) {
    why = too_large(static_cast<std::uintmax_t>(st.st_size), max_bytes);
    return std::nullopt;
  }
  // O_NONBLOCK: should the path become a FIFO after stat(), open() still returns at once.
  const int fd = ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) {
    why = stat_failure(errno);
    return std::nullopt;
  }
  std::optional<std::string> text;
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode))
    why = fmt::format("'{}' is {}; flows, scenarios and models are read from regular YAML files", path, file_kind(st.st_mode));
  else
    text = read_bounded(fd, max_bytes, why);
  ::close(fd);
  return text;
}

Source read_source(const std::string& path, std::string_view message, const LoadOptions& options) {
  std::string why;
  auto text = read_file(path, options.max_file_bytes, why);
  if (!text) {
    Diagnostic d;
    d.where.file = path;
    d.message = fmt::format("{}: {}", message, why);
    throw FlowError({d});
  }
  return {path, std::move(*text)};
}

std::optional<Diagnostic> check_text(std::string_view text, const std::string& file) {
  std::uint32_t line = 1;
  std::size_t line_start = 0;
  for (std::size_t i = 0; i < text.size();) {
    const auto c = static_cast<unsigned char>(text[i]);
    std::string message;
    if (c == '\n') {
      ++line;
      line_start = ++i;
      continue;
    }
    if (c == 0) {
      message = "NUL byte (\\0); YAML files are text: remove it (a file full of them is UTF-16: save it as UTF-8)";
    } else if (c < 0x80) {
      ++i;
      continue;
    } else if (const std::size_t n = utf8_sequence(text, i)) {
      i += n;
      continue;
    } else if (i == 0 && text.size() >= 2 && (text.substr(0, 2) == "\xFF\xFE" || text.substr(0, 2) == "\xFE\xFF")) {
      message = "the file is UTF-16 (it starts with a UTF-16 byte order mark); YAML files are UTF-8 text: save the file as UTF-8";
    } else {
      message = fmt::format("invalid UTF-8 (byte 0x{:02X}); YAML files are UTF-8 text: save the file as UTF-8", c);
    }
    return Diagnostic{Severity::error, {file, line, static_cast<std::uint32_t>(i - line_start + 1)}, std::move(message)};
  }
  return std::nullopt;
}

SourceLocation location(const Source& src, const YAML::Node& n) {
  const auto m = n.Mark();
  if (m.is_null()) return {src.file, 0, 0};
  return {src.file, static_cast<std::uint32_t>(m.line + 1), static_cast<std::uint32_t>(m.column + 1)};
}

SourceLocation location_in_scalar(const Source& src, const YAML::Node& n, std::size_t offset) {
  auto loc = location(src, n);
  const auto m = n.Mark();
  if (m.is_null() || m.pos < 0 || static_cast<std::size_t>(m.pos) >= src.text.size()) return loc;
  const char first = src.text[static_cast<std::size_t>(m.pos)];
  if (first == '|' || first == '>') return loc;  // block scalar: point at its start
  if (first == '"' || first == '\'') offset += 1;
  loc.column += static_cast<std::uint32_t>(offset);
  return loc;
}

std::string_view node_kind(const YAML::Node& n) {
  switch (n.Type()) {
    case YAML::NodeType::Scalar: return "a scalar";
    case YAML::NodeType::Sequence: return "a list";
    case YAML::NodeType::Map: return "a map";
    case YAML::NodeType::Null: return "empty";
    default: return "undefined";
  }
}

MapReader::MapReader(Reporter& rep, const Source& src, const YAML::Node& node, std::string what,
                     std::initializer_list<std::string_view> allowed)
    : src_(src), node_(node), what_(std::move(what)) {
  read(rep, std::vector<std::string_view>(allowed), false);
}

MapReader::MapReader(Reporter& rep, const Source& src, const YAML::Node& node, std::string what,
                     const std::vector<std::string>& allowed)
    : src_(src), node_(node), what_(std::move(what)) {
  std::vector<std::string_view> v(allowed.begin(), allowed.end());
  read(rep, v, allowed.empty());
}

void MapReader::read(Reporter& rep, const std::vector<std::string_view>& allowed, bool any_key) {
  if (!node_.IsMap()) {
    rep.error(location(src_, node_), fmt::format("{} must be a map (key: value lines), not {}", what_, node_kind(node_)));
    return;
  }
  ok_ = true;
  std::vector<std::string> seen;
  std::vector<SourceLocation> seen_at;
  for (auto it = node_.begin(); it != node_.end(); ++it) {
    // Copies: yaml-cpp's iterator returns a temporary proxy, so a reference to it->first dangles.
    const YAML::Node k = it->first;
    const YAML::Node v = it->second;
    if (!rep.count(src_, v)) { ok_ = false; return; }
    if (!k.IsScalar()) {
      rep.error(location(src_, k), fmt::format("keys in {} must be plain names, not {}", what_, node_kind(k)));
      continue;
    }
    const std::string& key = k.Scalar();
    auto dup = std::find(seen.begin(), seen.end(), key);
    if (dup != seen.end()) {
      rep.error(location(src_, k), fmt::format("key '{}' is specified more than once in {} (first at line {})", key,
                                               what_, seen_at[static_cast<std::size_t>(dup - seen.begin())].line));
      continue;
    }
    seen.push_back(key);
    seen_at.push_back(location(src_, k));
    if (!any_key && std::find(allowed.begin(), allowed.end(), key) == allowed.end()) {
      std::string hint = did_you_mean(key, allowed);
      if (hint.empty()) hint = fmt::format("; allowed here: {}", name_list(allowed));
      rep.error(location(src_, k), fmt::format("unknown key '{}' in {}{}", key, what_, hint));
      continue;
    }
    entries_.emplace_back(k, v);
  }
}

bool MapReader::has(std::string_view key) const { return get(key).has_value(); }

std::optional<YAML::Node> MapReader::get(std::string_view key) const {
  for (const auto& [k, v] : entries_)
    if (k.Scalar() == key) return v;
  return std::nullopt;
}

SourceLocation MapReader::where() const { return location(src_, node_); }

std::optional<std::string> read_string(Reporter& rep, const Source& src, const YAML::Node& n, std::string_view what) {
  if (!n.IsScalar()) {
    rep.error(location(src, n), fmt::format("{} must be text, not {}", what, node_kind(n)));
    return std::nullopt;
  }
  if (n.Scalar().size() > rep.options().max_string_length) {
    rep.error(location(src, n), fmt::format("{} is {} characters long; at most {} are allowed", what, n.Scalar().size(),
                                            rep.options().max_string_length));
    return std::nullopt;
  }
  return n.Scalar();
}

std::optional<bool> read_bool(Reporter& rep, const Source& src, const YAML::Node& n, std::string_view what) {
  if (n.IsScalar() && n.Tag() != "!") {
    if (n.Scalar() == "true") return true;
    if (n.Scalar() == "false") return false;
  }
  rep.error(location(src, n), fmt::format("{} must be true or false", what));
  return std::nullopt;
}

std::string int_out_of_range(std::string_view what, std::string_view digits) {
  const bool negative = !digits.empty() && digits.front() == '-';
  if (negative) return fmt::format("{} {} is too small (at least {})", what, digits, std::numeric_limits<std::int64_t>::min());
  return fmt::format("{} {} is too large (at most {})", what, digits, std::numeric_limits<std::int64_t>::max());
}

std::string name_list(const std::vector<std::string>& names, std::size_t most) {
  if (names.size() <= most) return fmt::format("{}", fmt::join(names, ", "));
  return fmt::format("{} and {} more", fmt::join(names.begin(), names.begin() + static_cast<std::ptrdiff_t>(most), ", "),
                     names.size() - most);
}

std::string name_list(const std::vector<std::string_view>& names, std::size_t most) {
  return name_list(std::vector<std::string>(names.begin(), names.end()), most);
}

std::optional<std::int64_t> read_int(Reporter& rep, const Source& src, const YAML::Node& n, std::string_view what) {
  if (n.IsScalar()) {
    const auto& s = n.Scalar();
    std::int64_t v = 0;
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec == std::errc{} && p == s.data() + s.size()) return v;
    if (ec == std::errc::result_out_of_range && p == s.data() + s.size()) {
      rep.error(location(src, n), int_out_of_range(what, s));
      return std::nullopt;
    }
  }
  rep.error(location(src, n), fmt::format("{} must be a whole number", what));
  return std::nullopt;
}

std::vector<std::pair<std::string, YAML::Node>> read_string_list(Reporter& rep, const Source& src,
                                                                 const YAML::Node& n, std::string_view what) {
  std::vector<std::pair<std::string, YAML::Node>> out;
  if (n.IsScalar()) {
    if (auto s = read_string(rep, src, n, what)) out.emplace_back(*s, n);
    return out;
  }
  if (!n.IsSequence()) {
    rep.error(location(src, n), fmt::format("{} must be a name or a list of names, not {}", what, node_kind(n)));
    return out;
  }
  for (const auto& item : n) {
    if (!rep.count(src, item)) break;
    if (auto s = read_string(rep, src, item, what)) out.emplace_back(*s, item);
  }
  return out;
}

bool is_kebab_id(std::string_view s) {
  if (s.empty() || s.size() > 128) return false;
  auto alnum = [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); };
  if (!alnum(s.front()) || !alnum(s.back())) return false;
  return std::all_of(s.begin(), s.end(), [&](char c) { return alnum(c) || c == '-'; });
}

bool is_field_name(std::string_view s) {
  if (s.empty() || s.size() > 128) return false;
  if (!((s[0] >= 'a' && s[0] <= 'z') || s[0] == '_')) return false;
  return std::all_of(s.begin(), s.end(), [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_'; });
}

namespace {
// Nesting bound checked on the raw text before yaml-cpp, whose parser recurses per level (it stops
// itself at 2,000). An estimate: the readers that convert values check the depth of what the
// nodes really hold (Reporter::nest), aliases included.
struct NestingScan {
  std::size_t limit;
  std::vector<std::size_t> indents;  // block structure: a stack of indentation widths
  std::size_t flow = 0;
  char quote = 0;  // open quote; carried to the next line only inside [...] or {...}
  char prev = 0;   // the last character outside quotes that is not a space; likewise carried
  std::size_t opened = std::string_view::npos;  // column where the last quote opened on this line
  bool left_open = false;                       // a quote is open at the end of this line

  // The column (0-based) where the line passes the limit, or npos.
  std::size_t line(std::string_view l) {
    opened = std::string_view::npos;
    left_open = false;
    std::size_t ind = l.find_first_not_of(' ');
    if (quote == 0 && (ind == std::string_view::npos || l[ind] == '#')) return std::string_view::npos;
    if (ind == std::string_view::npos) ind = l.size();
    if (flow == 0 && quote == 0) {
      while (!indents.empty() && indents.back() >= ind) indents.pop_back();
      indents.push_back(ind);
      // "- - - x", "? - x", ": - x" nest collections on one line
      for (std::size_t j = ind; j + 1 < l.size() && std::string_view("-?:").find(l[j]) != std::string_view::npos &&
                                l[j + 1] == ' ';) {
        indents.push_back(j + 2);
        j = l.find_first_not_of(' ', j + 1);
        if (j == std::string_view::npos) break;
      }
    }
    if (flow == 0) prev = 0;
    if (indents.size() + flow > limit) return ind;
    for (std::size_t j = ind; j < l.size(); ++j) {
      const char c = l[j];
      if (quote) {
        if (c == '\\' && quote == '"') ++j;
        else if (c == quote) quote = 0, prev = c;
        continue;
      }
      if (c == '#' && (j == 0 || l[j - 1] == ' ')) break;
      // A quote starts a scalar only where a node can start; inside plain text ("it's", "a 'b")
      // it is a character, and taking it for a quote would hide brackets that are structure.
      const bool after_space = j > 0 && l[j - 1] == ' ';
      if ((c == '"' || c == '\'') && (prev == 0 || std::string_view("[{,").find(prev) != std::string_view::npos ||
                                      (after_space && std::string_view("-?:").find(prev) != std::string_view::npos)))
        quote = c, opened = j;
      if (c == '[' || c == '{') ++flow;
      if ((c == ']' || c == '}') && flow) --flow;
      if (c != ' ') prev = c;
      if (indents.size() + flow > limit) return j;
    }
    left_open = quote != 0;
    if (flow == 0) quote = 0;  // block context: a quote left open is taken as text (an estimate)
    return std::string_view::npos;
  }
};

// The 1-based line of the first line up to `last` whose indentation holds a tab. Asked only once
// yaml-cpp has failed: its message for a tab ("illegal map value") names a symptom.
std::optional<std::size_t> tab_indent(std::string_view t, std::size_t last) {
  std::size_t line = 1;
  for (std::size_t i = 0; i < t.size() && line <= last; ++line) {
    const std::size_t ind = t.find_first_not_of(' ', i);
    if (ind < t.size() && t[ind] == '\t') return line;
    const std::size_t eol = t.find('\n', i);
    if (eol == std::string_view::npos) break;
    i = eol + 1;
  }
  return std::nullopt;
}

// A quoted scalar that never closes: yaml-cpp reads it to the end of the file and the error, if
// any, comes much later and names a symptom (a flow id with the whole file in it). Whether a
// `quote` closes anywhere in `rest`, the text after the line where it opened.
bool quote_closes(std::string_view rest, char quote) {
  for (std::size_t j = 0; j < rest.size(); ++j) {
    if (quote == '"' && rest[j] == '\\') ++j;
    else if (rest[j] == quote) return true;  // '' inside single quotes closes and reopens: still closed
  }
  return false;
}

// Whether the line ends with a block scalar header (`|`, `>-`, `|2`...): the lines indented below
// it are text, where a quote is a character.
bool opens_block_scalar(std::string_view l) {
  const std::size_t hash = l.find(" #");
  l = l.substr(0, hash);
  const std::size_t end = l.find_last_not_of(' ');
  if (end == std::string_view::npos) return false;
  const std::size_t start = l.find_last_of(' ', end);
  const std::string_view token = l.substr(start == std::string_view::npos ? 0 : start + 1, end + 1 - (start == std::string_view::npos ? 0 : start + 1));
  return (token[0] == '|' || token[0] == '>') && token.find_first_not_of("-+123456789", 1) == std::string_view::npos;
}

bool check_nesting(Reporter& rep, const Source& src) {
  NestingScan scan{rep.options().max_depth, {}};
  std::size_t block_parent = std::string_view::npos;  // indentation of the line that opened a block scalar
  const std::string& t = src.text;
  std::size_t line = 1;
  for (std::size_t i = 0; i < t.size(); ++line) {
    std::size_t eol = t.find('\n', i);
    if (eol == std::string::npos) eol = t.size();
    const std::string_view text(t.data() + i, eol - i);
    const std::size_t ind = text.find_first_not_of(' ');
    const bool block_text = block_parent != std::string_view::npos && (ind == std::string_view::npos || ind > block_parent);
    if (!block_text) block_parent = opens_block_scalar(text) ? ind : std::string_view::npos;
    if (const auto col = scan.line(text); col != std::string_view::npos) {
      rep.error({src.file, static_cast<std::uint32_t>(line), static_cast<std::uint32_t>(col + 1)},
                fmt::format("YAML nests deeper than {} levels; flatten the document", scan.limit));
      return false;
    }
    // Checked once, on the line where the quote opens: the search runs to its end.
    if (!block_text && scan.left_open && scan.opened != std::string_view::npos &&
        !quote_closes(std::string_view(t).substr(std::min(eol + 1, t.size())), text[scan.opened])) {
      rep.error({src.file, static_cast<std::uint32_t>(line), static_cast<std::uint32_t>(scan.opened + 1)},
                fmt::format("invalid YAML: the quoted text that starts here never ends; close it with {}", text[scan.opened]));
      return false;
    }
    i = eol + 1;
  }
  return true;
}

// YAML 1.1 merge keys, which yaml-cpp 0.7 reads as an ordinary key named "<<": in a map,
// `<<: *defaults` (or a list of maps, `<<: [*a, *b]`) adds the keys of the merged maps that the
// map does not write itself; of several maps, the first that has a key gives it. The merged keys
// take the place of the `<<` entry, so order-sensitive maps (rule outputs) read as written. Keys
// and values are yaml-cpp's own nodes, not copies, so a message about a merged value points
// where it is written. Each map is resolved once (an alias names the same node again); merged
// entries count against the file's node budget.
class MergeKeys {
 public:
  MergeKeys(Reporter& rep, const Source& src) : rep_(rep), src_(src) {}
  [[nodiscard]] bool ok() const noexcept { return ok_; }

  void visit(const YAML::Node& n, std::size_t depth) {
    if ((!n.IsMap() && !n.IsSequence()) || depth > rep_.options().max_depth || spent_) return;
    if (!done_.emplace(n.Mark().pos, static_cast<int>(n.Type())).second) return;
    if (n.IsSequence()) {
      for (const auto& x : n) visit(x, depth + 1);
      return;
    }
    open_.push_back(n);
    std::vector<std::pair<YAML::Node, YAML::Node>> entries;
    bool merges = false;
    for (auto it = n.begin(); it != n.end(); ++it) {
      entries.emplace_back(it->first, it->second);
      merges = merges || is_merge(it->first);
      visit(it->second, depth + 1);  // merged maps first: they may merge others
    }
    if (merges) merge(n, entries);
    open_.pop_back();
  }

 private:
  Reporter& rep_;
  const Source& src_;
  std::set<std::pair<int, int>> done_;  // maps and lists resolved, by position and type
  std::vector<YAML::Node> open_;        // maps being resolved: merging one of them is a cycle
  bool ok_ = true;
  bool spent_ = false;  // the node budget ran out (reported once)

  static bool is_merge(const YAML::Node& k) {
    return k.IsScalar() && k.Scalar() == "<<" && (k.Tag() == "?" || k.Tag() == "tag:yaml.org,2002:merge");
  }

  void error(const YAML::Node& at, std::string message) {
    rep_.error(location(src_, at), std::move(message));
    ok_ = false;
  }

  // The maps a `<<` entry merges, in order; reports and returns none when it names something else.
  std::vector<YAML::Node> sources(const YAML::Node& key, const YAML::Node& v) {
    std::vector<YAML::Node> out;
    if (v.IsMap()) out.push_back(v);
    for (std::size_t i = 0; v.IsSequence() && i < v.size(); ++i) {
      if (!v[i].IsMap()) {
        error(v[i], fmt::format("the merge key `<<` merges maps, but item {} of its list is {}; write <<: [*a, *b] "
                                "with anchors of maps",
                                i + 1, node_kind(v[i])));
        return {};
      }
      out.push_back(v[i]);
    }
    if (!v.IsMap() && !v.IsSequence())
      error(key, fmt::format("the merge key `<<` needs a map or a list of maps to merge (e.g. <<: *defaults), not {}",
                             node_kind(v)));
    for (const auto& m : out)
      if (std::any_of(open_.begin(), open_.end(), [&](const YAML::Node& o) { return o.is(m); })) {
        error(key, "the merge key `<<` merges this map itself or one that contains it; a map cannot take its own keys");
        return {};
      }
    return out;
  }

  void merge(YAML::Node n, const std::vector<std::pair<YAML::Node, YAML::Node>>& entries) {
    std::set<std::string> taken;  // written in the map itself: they win
    for (const auto& [k, v] : entries)
      if (!is_merge(k) && k.IsScalar()) taken.insert(k.Scalar());
    std::vector<std::pair<YAML::Node, YAML::Node>> out;
    out.reserve(entries.size());
    bool seen = false;
    for (const auto& [k, v] : entries) {
      if (!is_merge(k)) {
        out.emplace_back(k, v);
        continue;
      }
      if (std::exchange(seen, true)) {
        error(k, "a map takes one merge key `<<`; merge several maps with a list: <<: [*a, *b]");
        continue;
      }
      for (const auto& m : sources(k, v)) {
        if (!rep_.count(src_, m, m.size())) {
          ok_ = false;
          spent_ = true;
          return;
        }
        out.reserve(out.size() + m.size());
        for (auto it = m.begin(); it != m.end(); ++it)
          if (it->first.IsScalar() && !is_merge(it->first) && taken.insert(it->first.Scalar()).second)
            out.emplace_back(it->first, it->second);
      }
    }
    for (const auto& [k, v] : entries) n.remove(k);  // by identity: duplicate keys stay for MapReader to report
    for (const auto& [k, v] : out) n.force_insert(k, v);
  }
};

}  // namespace

std::optional<YAML::Node> parse_yaml(Reporter& rep, const Source& src) {
  if (src.text.size() > rep.options().max_file_bytes) {
    rep.error({src.file, 0, 0}, fmt::format("file is {} bytes; at most {} are allowed (LoadOptions::max_file_bytes)",
                                            src.text.size(), rep.options().max_file_bytes));
    return std::nullopt;
  }
  if (auto bad = check_text(src.text, src.file)) {
    rep.error(bad->where, bad->message);
    return std::nullopt;
  }
  if (!check_nesting(rep, src)) return std::nullopt;
  try {
    YAML::Node root = YAML::Load(src.text);
    if (auto second = second_document(src.text)) {
      rep.error(document_start(src, *second), "a file holds one YAML document; move the one after `---` into a file of its own");
      return std::nullopt;
    }
    // A merge key is the plain scalar `<<` or a key tagged `!!merge` (whose `<<` may be
    // written with escapes): with neither in the text, the walk over every node is skipped.
    if (src.text.find("<<") != std::string::npos || src.text.find("merge") != std::string::npos) {
      MergeKeys merges(rep, src);
      merges.visit(root, 0);
      if (!merges.ok()) return std::nullopt;
    }
    return root;
  } catch (const YAML::ParserException& e) {
    if (auto tab = tab_indent(src.text, static_cast<std::size_t>(std::max(e.mark.line, 0)) + 1)) {
      rep.error({src.file, static_cast<std::uint32_t>(*tab), 1}, "invalid YAML: a tab indents this line; YAML indents with spaces");
      return std::nullopt;
    }
    std::string msg = e.msg;
    if (msg == "end of map flow not found") msg += " (a '{' opened before this point is not closed with '}')";
    else if (msg == "end of sequence flow not found") msg += " (a '[' opened before this point is not closed with ']')";
    else if (msg == "illegal map value") msg += " (a ':' where a value was expected; quote text that contains ': ')";
    rep.error({src.file, static_cast<std::uint32_t>(e.mark.line + 1), static_cast<std::uint32_t>(e.mark.column + 1)},
              fmt::format("invalid YAML: {}", msg));
  } catch (const YAML::Exception& e) {
    rep.error({src.file, 0, 0}, fmt::format("invalid YAML: {}", e.msg));
  }
  return std::nullopt;
}

std::optional<Value> untyped_value(Reporter& rep, const Source& src, const YAML::Node& n, std::size_t depth) {
  if (!rep.count(src, n) || !rep.nest(src, n, depth)) return std::nullopt;
  if (n.IsNull()) return Value();
  if (n.IsSequence()) {
    List l;
    for (const auto& x : n) {
      auto v = untyped_value(rep, src, x, depth + 1);
      if (!v) return std::nullopt;
      l.push_back(std::move(*v));
    }
    return Value(std::move(l));
  }
  if (n.IsMap()) {
    Map m;
    for (auto it = n.begin(); it != n.end(); ++it) {
      auto v = untyped_value(rep, src, it->second, depth + 1);
      if (!v) return std::nullopt;
      m[it->first.Scalar()] = std::move(*v);
    }
    return Value(std::move(m));
  }
  const std::string& s = n.Scalar();
  if (n.Tag() == "!") return Value(s);  // quoted: text
  if (s == "true") return Value(true);
  if (s == "false") return Value(false);
  std::int64_t i = 0;
  if (auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), i); ec == std::errc{} && p == s.data() + s.size())
    return Value(i);
  else if (ec == std::errc::result_out_of_range && p == s.data() + s.size()) {
    // A double would keep the digits only approximately, and a typed field refuses a double.
    rep.error(location(src, n), fmt::format("{} does not fit a 64-bit int (at least {}, at most {}); quote it to keep it as text", s,
                                            std::numeric_limits<std::int64_t>::min(), std::numeric_limits<std::int64_t>::max()));
    return std::nullopt;
  }
  double d = 0;
  if (auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), d); ec == std::errc{} && p == s.data() + s.size())
    return Value(d);
  return Value(s);
}

}  // namespace escalon::detail
