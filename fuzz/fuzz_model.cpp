// Simulation model YAML -> SimModel::parse (src/sim/model_reader.cpp). FlowError is its one
// promised exception; the checks against flows happen later, in simulate().
#include <cstdint>

#include "escalon/simulate.hpp"
#include "fuzz_support.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  try {
    auto model = escalon::SimModel::parse(fuzz::text(data, size), "fuzz-model.yaml");
    (void)model.name();
  } catch (const escalon::FlowError&) {
  } catch (const std::exception& e) {
    fuzz::finding("SimModel::parse", e);
  }
  return 0;
}
