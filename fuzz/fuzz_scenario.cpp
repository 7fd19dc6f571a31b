// Scenario YAML -> load_scenario (src/sim/scenario_reader.cpp). It reads only files, so each
// input goes to a scratch file first. FlowError is its one promised exception.
#include <cstdint>

#include "escalon/scenario.hpp"
#include "fuzz_support.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const std::string path = fuzz::write_scratch("scenario.yaml", "");
  fuzz::write_scratch("scenario.yaml", fuzz::text(data, size));
  try {
    auto sc = escalon::load_scenario(path);
    for (const auto& c : sc.cases) (void)escalon::Value(c.data).to_json();
  } catch (const escalon::FlowError&) {
  } catch (const std::exception& e) {
    fuzz::finding("load_scenario", e);
  }
  return 0;
}
