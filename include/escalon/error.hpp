#pragma once
/// @file error.hpp
/// One exception hierarchy for the whole library. Every error Escalon throws derives from
/// escalon::Error; errors that come from a flow file carry the file, line and column.

#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace escalon {

/// A place in a source file. Lines and columns are 1-based; 0 means "unknown".
struct SourceLocation {
  std::string file;
  std::uint32_t line = 0;
  std::uint32_t column = 0;

  [[nodiscard]] bool known() const noexcept { return line != 0; }
  /// "file:line:col" (or just "file" when the line is unknown).
  [[nodiscard]] std::string str() const;
  friend bool operator==(const SourceLocation&, const SourceLocation&) = default;
};

enum class Severity { warning, error };

/// One problem found while loading or checking a flow.
struct Diagnostic {
  Severity severity = Severity::error;
  SourceLocation where;
  std::string message;

  /// gcc-style "file:line:col: error: message".
  [[nodiscard]] std::string str() const;
};

/// Base of every exception thrown by Escalon.
class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& message, SourceLocation where = {});
  /// Where the problem is, when it comes from a file; `where().known()` is false otherwise.
  [[nodiscard]] const SourceLocation& where() const noexcept { return where_; }
  /// The message without the location prefix.
  [[nodiscard]] const std::string& message() const noexcept { return message_; }

 protected:
  struct FullText {};
  /// For subclasses whose what() text is already complete.
  Error(FullText, const std::string& what, std::string message, SourceLocation where);

 private:
  SourceLocation where_;
  std::string message_;
};

/// A flow (or calendar/rule library) file is invalid. Holds every diagnostic of the load,
/// not just the first; what() names the first error and the total count.
class FlowError : public Error {
 public:
  explicit FlowError(std::vector<Diagnostic> diagnostics);
  [[nodiscard]] const std::vector<Diagnostic>& diagnostics() const noexcept { return diagnostics_; }

 private:
  std::vector<Diagnostic> diagnostics_;
};

/// An expression failed to parse or type-check. `offset()` is the 0-based character offset
/// inside the expression text, so a caller can place it inside a larger file.
class ExprError : public Error {
 public:
  ExprError(const std::string& message, std::size_t offset);
  [[nodiscard]] std::size_t offset() const noexcept { return offset_; }

 private:
  std::size_t offset_;
};

/// A value does not fit the type a flow declares (case data, event payload, form field).
class DataError : public Error {
 public:
  using Error::Error;
};

/// Evaluating an expression or rule failed at run time (e.g. a `unique` rule table matched twice).
class EvalError : public Error {
 public:
  using Error::Error;
};

}  // namespace escalon
