// YAML text -> validate_text: the YAML reader, flow builder, expression compiler, reference
// resolution and graph checks. validate_text reports problems as diagnostics and never throws,
// so any exception is a finding. Includes resolve against flows/ (its calendars and libraries).
#include <cstdint>

#include "escalon/loader.hpp"
#include "fuzz_support.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const std::string base = fuzz::source_path("flows");
  try {
    auto result = escalon::validate_text(fuzz::text(data, size), "fuzz.yaml", base);
    for (const auto& d : result.diagnostics) (void)d.str();
  } catch (const std::exception& e) {
    fuzz::finding("validate_text", e);
  }
  return 0;
}
