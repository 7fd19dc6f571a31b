// JSON text -> Value (src/base/json.hpp), both string modes, and back. DataError (too deep, an
// integer out of range) is the promised refusal. Printing a value and reading the text back must
// print the same text again: the journal and the store depend on that round trip.
#include <cstdint>

#include "base/json.hpp"
#include "escalon/error.hpp"
#include "fuzz_support.hpp"

using escalon::detail::JsonStrings;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  auto j = nlohmann::ordered_json::parse(fuzz::text(data, size), nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return 0;
  for (auto mode : {JsonStrings::text, JsonStrings::iso_datetimes}) {
    escalon::Value v;
    try {
      v = escalon::detail::value_from_json(j, mode);
    } catch (const escalon::DataError&) {
      continue;
    } catch (const std::exception& e) {
      fuzz::finding("value_from_json", e);
    }
    try {
      const std::string once = v.to_json();
      const auto again = escalon::detail::value_from_json(nlohmann::ordered_json::parse(once), mode).to_json();
      if (again != once) {
        std::fprintf(stderr, "FINDING: JSON round trip changed\n  %s\n  %s\n", once.c_str(), again.c_str());
        std::abort();
      }
      (void)v.to_display();
    } catch (const std::exception& e) {
      fuzz::finding("Value::to_json round trip", e);
    }
  }
  return 0;
}
