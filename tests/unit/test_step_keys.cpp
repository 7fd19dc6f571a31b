// The loader's one table of step keys (src/loader/step_keys.hpp) against what the JSON Schema
// and the format documentation say a step may have.
//
// schemas/flow.schema.json has a single `step` object for every kind (no per-kind branches), so
// only the set of keys and the kind names can be compared with it. The per-kind keys are compared
// with the "Keys of a step" table of docs/flow-format.md, which lists the kinds of each key.

#include "support.hpp"

#include <nlohmann/json.hpp>

#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>

#include "loader/step_keys.hpp"

using namespace escalon;
using namespace escalon::detail;

namespace {

const std::string src_dir = ESCALON_SOURCE_DIR;

std::set<std::string> table_keys() {
  std::set<std::string> out;
  for (const auto& key : step_keys) out.emplace(key.name);
  return out;
}

std::set<std::string> kind_names(StepKinds kinds) {
  std::set<std::string> out;
  for (StepKind k : step_kinds)
    if (kinds & kind_bit(k)) out.emplace(step_kind_name(k));
  return out;
}

std::string trim(std::string s) {
  const auto b = s.find_first_not_of(' ');
  const auto e = s.find_last_not_of(' ');
  return b == std::string::npos ? "" : s.substr(b, e - b + 1);
}

std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> out;
  std::stringstream in(s);
  for (std::string part; std::getline(in, part, sep);) out.push_back(trim(part));
  return out;
}

}  // namespace

TEST_CASE("the step key table has the keys and kinds of the JSON Schema's step", "[loader][schema]") {
  std::ifstream in(src_dir + "/schemas/flow.schema.json");
  REQUIRE(in);
  const auto schema = nlohmann::json::parse(in);
  const auto& step = schema.at("definitions").at("step");
  CHECK(step.at("additionalProperties") == false);
  std::set<std::string> schema_keys;
  for (const auto& [key, value] : step.at("properties").items()) schema_keys.insert(key);
  CHECK(schema_keys == table_keys());

  std::set<std::string> schema_kinds, kinds;
  for (const auto& k : step.at("properties").at("kind").at("enum")) schema_kinds.insert(k.get<std::string>());
  for (StepKind k : step_kinds) kinds.emplace(step_kind_name(k));
  CHECK(schema_kinds == kinds);
}

TEST_CASE("the step key table gives each key the kinds docs/flow-format.md lists", "[loader][schema]") {
  std::ifstream in(src_dir + "/docs/flow-format.md");
  REQUIRE(in);
  // The table after "Keys of a step:": | `key`, `key` | kinds | type | default | meaning |
  std::map<std::string, std::set<std::string>> documented;
  bool inside = false;
  for (std::string line; std::getline(in, line);) {
    if (line.starts_with("Keys of a step")) { inside = true; continue; }
    if (!inside) continue;
    if (line.empty() && !documented.empty()) break;
    if (!line.starts_with("| `")) continue;
    const auto cells = split(line.substr(1), '|');
    REQUIRE(cells.size() >= 2);
    std::set<std::string> kinds;
    if (cells[1] == "all") kinds = kind_names(all_step_kinds);
    else
      for (const auto& k : split(cells[1], ',')) kinds.insert(k);
    for (auto key : split(cells[0], ',')) {
      REQUIRE(key.size() > 2);
      documented[key.substr(1, key.size() - 2)] = kinds;  // strip the backquotes
    }
  }
  std::set<std::string> doc_keys;
  for (const auto& [k, v] : documented) doc_keys.insert(k);
  CHECK(doc_keys == table_keys());
  for (const auto& key : step_keys) {
    INFO("key: " << key.name);
    CHECK(kind_names(key.kinds) == documented[std::string(key.name)]);
  }
}

TEST_CASE("every kind but task has one marker key, which makes only that kind", "[loader][schema]") {
  for (StepKind k : step_kinds) {
    INFO("kind: " << step_kind_name(k));
    CHECK(marker_of(k).has_value() == (k != StepKind::task));
  }
  CHECK(marker_of(StepKind::decision) == std::string_view("decide"));  // `rule` is the weak one
  for (const auto& key : step_keys) {
    if (key.marker == 0) continue;
    INFO("marker: " << key.name);
    CHECK(kind_names(key.kinds).size() == 1);
    CHECK(marked_kind(key) != StepKind::task);
  }
}
