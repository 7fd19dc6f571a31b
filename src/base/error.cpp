#include "escalon/error.hpp"

#include <fmt/format.h>

namespace escalon {

std::string SourceLocation::str() const {
  if (line == 0) return file;
  if (column == 0) return fmt::format("{}:{}", file, line);
  return fmt::format("{}:{}:{}", file, line, column);
}

std::string Diagnostic::str() const {
  const char* sev = severity == Severity::error ? "error" : "warning";
  if (where.file.empty()) return fmt::format("{}: {}", sev, message);
  return fmt::format("{}: {}: {}", where.str(), sev, message);
}

namespace {
std::string with_location(const std::string& message, const SourceLocation& where) {
  if (where.file.empty()) return message;
  return fmt::format("{}: {}", where.str(), message);
}

std::string summarize(const std::vector<Diagnostic>& ds) {
  std::size_t errors = 0;
  const Diagnostic* first = nullptr;
  for (const auto& d : ds) {
    if (d.severity != Severity::error) continue;
    if (!first) first = &d;
    ++errors;
  }
  if (!first) return "flow has no errors";
  if (errors == 1) return first->str();
  return fmt::format("{} (and {} more errors)", first->str(), errors - 1);
}

SourceLocation first_error_location(const std::vector<Diagnostic>& ds) {
  for (const auto& d : ds)
    if (d.severity == Severity::error) return d.where;
  return {};
}
}  // namespace

Error::Error(const std::string& message, SourceLocation where)
    : std::runtime_error(with_location(message, where)), where_(std::move(where)), message_(message) {}

Error::Error(FullText, const std::string& what, std::string message, SourceLocation where)
    : std::runtime_error(what), where_(std::move(where)), message_(std::move(message)) {}

FlowError::FlowError(std::vector<Diagnostic> diagnostics)
    : Error(FullText{}, summarize(diagnostics), summarize(diagnostics), first_error_location(diagnostics)),
      diagnostics_(std::move(diagnostics)) {}

ExprError::ExprError(const std::string& message, std::size_t offset) : Error(message), offset_(offset) {}

}  // namespace escalon
