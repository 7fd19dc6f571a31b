#include "loader/yaml_documents.hpp"

#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/parser.h>

#include <algorithm>
#include <sstream>
#include <string_view>

namespace escalon::detail {

namespace {

// The mark of a document's first node. Documents are read as events, two at most, not with
// YAML::LoadAll: on some broken texts that never stops adding documents, and a second
// document read as events costs no nodes.
class FirstNode : public YAML::EventHandler {
 public:
  std::optional<YAML::Mark> mark;
  void OnDocumentStart(const YAML::Mark&) override {}
  void OnDocumentEnd() override {}
  void OnNull(const YAML::Mark&, YAML::anchor_t) override {}
  void OnAlias(const YAML::Mark& m, YAML::anchor_t) override { seen(m); }
  void OnScalar(const YAML::Mark& m, const std::string&, YAML::anchor_t, const std::string&) override { seen(m); }
  void OnSequenceStart(const YAML::Mark& m, const std::string&, YAML::anchor_t, YAML::EmitterStyle::value) override { seen(m); }
  void OnSequenceEnd() override {}
  void OnMapStart(const YAML::Mark& m, const std::string&, YAML::anchor_t, YAML::EmitterStyle::value) override { seen(m); }
  void OnMapEnd() override {}

 private:
  void seen(const YAML::Mark& m) {
    if (!mark) mark = m;
  }
};

// Whether a second document can start in `text`: only on a `---` or `...` line after some
// content, after another marker (an empty first document), or on a leading `...` (comments,
// directives and one leading `---` start the first one). A flow file has none, and then it is
// not parsed a second time (that was a third of a large flow's load).
bool may_hold_second_document(std::string_view text) {
  bool content = false;
  int markers = 0;
  for (std::size_t i = 0; i < text.size();) {
    const std::size_t eol = std::min(text.find('\n', i), text.size());
    const std::string_view line = text.substr(i, eol - i);
    const bool marker = (line.starts_with("---") || line.starts_with("...")) &&
                        (line.size() == 3 || line[3] == ' ' || line[3] == '\t' || line[3] == '\r');
    if (marker && (content || markers++ > 0 || line.starts_with("..."))) return true;
    const std::string_view rest = marker ? line.substr(3) : line;
    const std::size_t first = rest.find_first_not_of(" \t\r");
    if (first != std::string_view::npos && rest[first] != '#' && (marker || rest[first] != '%')) content = true;
    i = eol + 1;
  }
  return false;
}

}  // namespace

std::optional<YAML::Mark> second_document(const std::string& text) {
  if (!may_hold_second_document(text)) return std::nullopt;
  std::istringstream in(text);
  YAML::Parser parser(in);
  FirstNode first, second;
  if (!parser.HandleNextDocument(first) || !parser.HandleNextDocument(second)) return std::nullopt;
  return second.mark;
}

SourceLocation document_start(const Source& src, const YAML::Mark& m) {
  if (m.is_null() || m.pos < 0) return {src.file, 0, 0};
  std::size_t pos = std::min(static_cast<std::size_t>(m.pos), src.text.size());
  std::uint32_t line = static_cast<std::uint32_t>(m.line + 1);
  // Back to the start of the marker's line: the node may follow `---` on the same line.
  while (true) {
    const std::size_t bol = pos == 0 ? 0 : src.text.rfind('\n', pos - 1);
    const std::size_t start = bol == std::string::npos || pos == 0 ? 0 : bol + 1;
    if (src.text.compare(start, 3, "---") == 0) return {src.file, line, 1};
    if (start == 0 || line == 1) break;
    pos = start - 1;
    --line;
  }
  return {src.file, static_cast<std::uint32_t>(m.line + 1), static_cast<std::uint32_t>(m.column + 1)};
}

}  // namespace escalon::detail
