#pragma once
// Whether a YAML text holds a second document, and where it starts: a flow file holds one,
// and a second one is an error at its `---` rather than silently dropped.

#include <yaml-cpp/mark.h>

#include <optional>
#include <string>

#include "loader/yaml_reader.hpp"

namespace escalon::detail {

// Where the first node of a second document is, if the text has one that is not empty.
std::optional<YAML::Mark> second_document(const std::string& text);
// The `---` line that starts the document whose first node is at `m`.
SourceLocation document_start(const Source& src, const YAML::Mark& m);

}  // namespace escalon::detail
