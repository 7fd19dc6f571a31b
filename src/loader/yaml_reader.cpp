#include "loader/yaml_reader.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <fstream>
#include <sstream>

#include "base/suggest.hpp"

namespace escalon::detail {

void Reporter::error(SourceLocation where, std::string message) {
  ++errors_;
  out_.push_back({Severity::error, std::move(where), std::move(message)});
}

void Reporter::warning(SourceLocation where, std::string message) {
  out_.push_back({Severity::warning, std::move(where), std::move(message)});
}

bool Reporter::count(const Source& src, const YAML::Node& n) {
  if (too_many_) return false;
  if (++nodes_ <= options_.max_nodes) return true;
  too_many_ = true;
  error(location(src, n), fmt::format("document has more than {} nodes (aliases count each time they are used); "
                                      "split it into smaller files",
                                      options_.max_nodes));
  return false;
}

std::optional<std::string> read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

Source read_source(const std::string& path, std::string_view message) {
  auto text = read_file(path);
  if (!text) {
    Diagnostic d;
    d.where.file = path;
    d.message = std::string(message);
    throw FlowError({d});
  }
  return {path, std::move(*text)};
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
      if (hint.empty()) hint = fmt::format("; allowed here: {}", fmt::join(allowed, ", "));
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

std::optional<std::int64_t> read_int(Reporter& rep, const Source& src, const YAML::Node& n, std::string_view what) {
  if (n.IsScalar()) {
    const auto& s = n.Scalar();
    std::int64_t v = 0;
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec == std::errc{} && p == s.data() + s.size()) return v;
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
// Nesting bound checked on the raw text before yaml-cpp, whose parser recurses per level.
bool check_nesting(Reporter& rep, const Source& src) {
  const std::size_t limit = rep.options().max_depth;
  std::vector<std::size_t> indents;  // block structure: a stack of indentation widths
  std::size_t line = 1, flow = 0;
  std::size_t i = 0;
  const std::string& t = src.text;
  while (i < t.size()) {
    std::size_t eol = t.find('\n', i);
    if (eol == std::string::npos) eol = t.size();
    std::string_view l(t.data() + i, eol - i);
    std::size_t ind = l.find_first_not_of(' ');
    if (ind != std::string_view::npos && l[ind] != '#') {
      if (flow == 0) {
        while (!indents.empty() && indents.back() >= ind) indents.pop_back();
        indents.push_back(ind);
        // "- - - x" nests sequences on one line
        for (std::size_t j = ind; j + 1 < l.size() && l[j] == '-' && l[j + 1] == ' ';) {
          indents.push_back(j + 2);
          j = l.find_first_not_of(' ', j + 1);
          if (j == std::string_view::npos) break;
        }
      }
      char quote = 0;
      for (std::size_t j = ind; j < l.size(); ++j) {
        const char c = l[j];
        if (quote) {
          if (c == quote) quote = 0;
          continue;
        }
        if (c == '#' && (j == 0 || l[j - 1] == ' ')) break;
        if ((c == '"' || c == '\'') && (j == ind || std::string_view(" [{,:").find(l[j - 1]) != std::string_view::npos)) quote = c;
        if (c == '[' || c == '{') ++flow;
        if ((c == ']' || c == '}') && flow) --flow;
        if (indents.size() + flow > limit) {
          rep.error({src.file, static_cast<std::uint32_t>(line), static_cast<std::uint32_t>(j + 1)},
                    fmt::format("YAML nests deeper than {} levels; flatten the document", limit));
          return false;
        }
      }
      if (indents.size() + flow > limit) {
        rep.error({src.file, static_cast<std::uint32_t>(line), static_cast<std::uint32_t>(ind + 1)},
                  fmt::format("YAML nests deeper than {} levels; flatten the document", limit));
        return false;
      }
    }
    i = eol + 1;
    ++line;
  }
  return true;
}
}  // namespace

std::optional<YAML::Node> parse_yaml(Reporter& rep, const Source& src) {
  if (src.text.size() > rep.options().max_file_bytes) {
    rep.error({src.file, 0, 0}, fmt::format("file is {} bytes; at most {} are allowed (LoadOptions::max_file_bytes)",
                                            src.text.size(), rep.options().max_file_bytes));
    return std::nullopt;
  }
  if (!check_nesting(rep, src)) return std::nullopt;
  try {
    return YAML::Load(src.text);
  } catch (const YAML::ParserException& e) {
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

Value untyped_value(const YAML::Node& n) {
  if (n.IsNull()) return {};
  if (n.IsSequence()) {
    List l;
    for (const auto& x : n) l.push_back(untyped_value(x));
    return l;
  }
  if (n.IsMap()) {
    Map m;
    for (auto it = n.begin(); it != n.end(); ++it) m[it->first.Scalar()] = untyped_value(it->second);
    return m;
  }
  const std::string& s = n.Scalar();
  if (n.Tag() == "!") return s;  // quoted: text
  if (s == "true") return true;
  if (s == "false") return false;
  std::int64_t i = 0;
  if (auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), i); ec == std::errc{} && p == s.data() + s.size()) return i;
  double d = 0;
  if (auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), d); ec == std::errc{} && p == s.data() + s.size()) return d;
  return s;
}


}  // namespace escalon::detail
