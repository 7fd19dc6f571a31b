// Every file in tests/flows/invalid/ ends with "# expect: LINE:COL: SEVERITY: MESSAGE" lines;
// the loader must report exactly those diagnostics, in that order, and load no flow.

#include "support.hpp"
#include <fmt/format.h>

#include <filesystem>
#include <fstream>

#include "escalon/loader.hpp"

namespace fs = std::filesystem;

TEST_CASE("every invalid flow reports exactly its expected diagnostics", "[loader][invalid]") {
  const fs::path dir = fs::path(ESCALON_SOURCE_DIR) / "tests/flows/invalid";
  std::vector<fs::path> files;
  for (const auto& e : fs::directory_iterator(dir))
    if (e.path().extension() == ".yaml") files.push_back(e.path());
  std::sort(files.begin(), files.end());
  REQUIRE(files.size() >= 40);

  for (const auto& file : files) {
    std::ifstream in(file);
    std::vector<std::string> expected;
    for (std::string line; std::getline(in, line);)
      if (line.rfind("# expect: ", 0) == 0) expected.push_back(line.substr(10));
    INFO("file: " << file.filename().string());
    REQUIRE_FALSE(expected.empty());

    const auto r = escalon::validate({file.string()});
    std::vector<std::string> actual;
    const std::string prefix = file.string() + ":";
    for (const auto& d : r.diagnostics) {
      auto s = d.str();
      if (s.rfind(prefix, 0) == 0) s = s.substr(prefix.size());
      actual.push_back(s);
    }
    CHECK(actual == expected);
    CHECK(r.error_count() >= 1);
    CHECK(r.flows.empty());
  }
}

TEST_CASE("load_flows throws FlowError carrying every diagnostic and the first location", "[loader][invalid]") {
  const auto file = (fs::path(ESCALON_SOURCE_DIR) / "tests/flows/invalid/sla-bad.yaml").string();
  try {
    (void)escalon::load_flows({file});
    FAIL("expected FlowError");
  } catch (const escalon::FlowError& e) {
    REQUIRE(e.diagnostics().size() == 2);
    CHECK(e.where().line == 8);
    CHECK(e.where().column == 53);
    CHECK(std::string(e.what()).find("and 1 more errors") != std::string::npos);
    // One hierarchy: a FlowError is an escalon::Error.
    const escalon::Error& base = e;
    CHECK(base.where().file == file);
  }
}
