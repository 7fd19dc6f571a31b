#pragma once
// The repository's flows, loaded once per fuzz process.
#include <string>
#include <vector>

#include "escalon/loader.hpp"
#include "fuzz_support.hpp"

namespace fuzz {

inline const std::vector<escalon::FlowPtr>& repo_flows() {
  static const std::vector<escalon::FlowPtr> flows = escalon::load_flows({source_path("flows")});
  return flows;
}

}  // namespace fuzz
