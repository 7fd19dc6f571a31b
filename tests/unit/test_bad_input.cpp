// Regression tests for the loader and file readers on what the bad-input corpus found
// (tests/bad-input on branch h-badinput, KNOWN-BUGS.md entries 8, 10, 12-16, 19): each asserts
// the exact message and place.
#include "support.hpp"

#include <fmt/format.h>

#include <filesystem>
#include <fstream>

#include "escalon/loader.hpp"
#include "escalon/scenario.hpp"
#include "escalon/simulate.hpp"
#include "escalon/time.hpp"

#include <unistd.h>

using namespace escalon;
namespace fs = std::filesystem;

namespace {
std::string messages(const LoadResult& r) {
  std::string out;
  for (const auto& d : r.diagnostics) out += d.str() + "\n";
  return out;
}

std::string scenario_error(const std::string& text) {
  const auto path = (fs::temp_directory_path() / ("escalon-bad-input-" + std::to_string(::getpid()) + ".yaml")).string();
  std::ofstream(path) << text;
  std::string out;
  try {
    (void)load_scenario(path);
  } catch (const FlowError& e) {
    for (const auto& d : e.diagnostics()) out += d.str() + "\n";
  }
  fs::remove(path);
  return out;
}

std::string duration_error(std::string_view text) {
  try {
    (void)parse_duration_spec(text);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}
}  // namespace

TEST_CASE("a second YAML document is an error at its `---`, not dropped", "[loader][hardening]") {
  const auto r = validate_text("flow: one\nstart: a\nsteps: { a: { end: true } }\n---\nflow: two\nstart: a\nsteps: { a: { end: true } }\n",
                               "two.yaml");
  CHECK(messages(r) == "two.yaml:4:1: error: a file holds one YAML document; move the one after `---` into a file of its own\n");
  // An explicit start of the only document, and an empty document after it, are still one flow.
  CHECK(validate_text("---\nflow: one\nstart: a\nsteps: { a: { end: true } }\n---\n", "one.yaml").ok());
  CHECK(validate_text("# header\n%YAML 1.2\n---\nflow: one\nstart: a\nsteps: { a: { end: true } }\n", "one.yaml").ok());
  // A document after the end marker `...` needs no `---`.
  CHECK(messages(validate_text("flow: one\nstart: a\nsteps: { a: { end: true } }\n...\nflow: two\n", "end.yaml")) ==
        "end.yaml:5:1: error: a file holds one YAML document; move the one after `---` into a file of its own\n");
  // After an empty first document (a marker, a comment, a marker), the flow is the second one.
  CHECK(messages(validate_text("---\n# repair flow\n---\nflow: one\nstart: a\nsteps: { a: { end: true } }\n", "e.yaml")) ==
        "e.yaml:3:1: error: a file holds one YAML document; move the one after `---` into a file of its own\n");
  CHECK(!validate_text("...\nflow: one\nstart: a\nsteps: { a: { end: true } }\n", "e.yaml").ok());
  // Markers inside a block scalar are text, not documents.
  CHECK(validate_text("flow: one\ndescription: |\n  ---\n  ...\nstart: a\nsteps: { a: { end: true } }\n", "one.yaml").ok());
  CHECK_THROWS_WITH(SimModel::parse("model: m\n--- { model: n }\n", "m.yaml"),
                    "m.yaml:2:1: error: a file holds one YAML document; move the one after `---` into a file of its own");
}

TEST_CASE("lists of names in messages stop at 20", "[loader][hardening]") {
  std::string yaml = "flow: demo\nstart: s0\nsteps:\n";
  for (int i = 0; i < 300; ++i) yaml += fmt::format("  s{}: {{ on: {{ go: nowhere{} }} }}\n", i, i);
  yaml += "  z: { end: true }\n";
  const auto r = validate_text(yaml, "many.yaml");
  REQUIRE(r.diagnostics.size() == 300);
  CHECK(r.diagnostics[0].str() ==
        "many.yaml:4:19: error: unknown step 'nowhere0' in `to`; the steps are s0, s1, s2, s3, s4, s5, s6, s7, s8, s9, "
        "s10, s11, s12, s13, s14, s15, s16, s17, s18, s19 and 281 more");
  const auto few = validate_text("flow: demo\nstart: a\nsteps:\n  a: { on: { go: qqqq } }\n  z: { end: true }\n", "few.yaml");
  CHECK(messages(few) == "few.yaml:4:18: error: unknown step 'qqqq' in `to`; the steps are a, z\n");
}

TEST_CASE("integers beyond int64 are out of range, not 'not whole numbers' or doubles", "[loader][hardening]") {
  const std::string steps = "start: a\nsteps: { a: { end: true } }\n";
  CHECK(messages(validate_text("flow: demo\nversion: 99999999999999999999\n" + steps, "v.yaml")) ==
        "v.yaml:2:10: error: `version` 99999999999999999999 is too large (at most 9223372036854775807)\n");
  CHECK(messages(validate_text("flow: demo\nversion: -99999999999999999999\n" + steps, "v.yaml")) ==
        "v.yaml:2:10: error: `version` -99999999999999999999 is too small (at least -9223372036854775808)\n");
  CHECK(messages(validate_text("flow: demo\ndata:\n  count: { type: int, default: 9223372036854775808 }\n" + steps, "d.yaml")) ==
        "d.yaml:3:32: error: the default of data field 'count': 9223372036854775808 does not fit a 64-bit int (at least "
        "-9223372036854775808, at most 9223372036854775807)\n");
  CHECK(messages(validate_text("flow: demo\nstart: a\nsteps:\n  a:\n    deadline: { within: 99999999999999999999h }\n"
                               "    on: { done: z }\n  z: { end: true }\n",
                               "h.yaml")) ==
        "h.yaml:5:25: error: `within`: invalid duration \"99999999999999999999h\": it is too long; write a number and a "
        "unit, e.g. \"90s\", \"15 minutes\", \"2h\", \"1h30m\", \"3 days\", \"4 business hours\" or \"2 business days\"\n");
  // Scenario and model data: an integer literal that does not fit is an error where it is, not a double.
  CHECK(scenario_error("clock: 2026-11-23T08:00:00Z\ncases:\n  - { id: c1, flow: desk, data: { count: 9223372036854775808 } }\n")
            .ends_with(":3:42: error: 9223372036854775808 does not fit a 64-bit int (at least -9223372036854775808, at most "
                       "9223372036854775807); quote it to keep it as text\n"));
}

TEST_CASE("a fractional duration says so and gives whole units", "[loader][hardening]") {
  CHECK(duration_error("1.5h") == "invalid duration \"1.5h\": durations count whole units, not fractions; write \"1h30m\" or \"90m\"");
  CHECK(duration_error("2.5 minutes") ==
        "invalid duration \"2.5 minutes\": durations count whole units, not fractions; write \"2m30s\" or \"150s\"");
  CHECK(duration_error("0.5d") == "invalid duration \"0.5d\": durations count whole units, not fractions; write \"12h\" or \"720m\"");
  CHECK(duration_error("1.0000001h") ==
        "invalid duration \"1.0000001h\": durations count whole units, not fractions; write it in a smaller unit, e.g. "
        "\"90m\" for 1.5 hours");
  CHECK(messages(validate_text("flow: demo\nstart: a\nsteps:\n  a:\n    deadline: { within: 1.5h }\n    on: { done: z }\n"
                               "  z: { end: true }\n",
                               "f.yaml")) ==
        "f.yaml:5:25: error: `within`: invalid duration \"1.5h\": durations count whole units, not fractions; write \"1h30m\" "
        "or \"90m\"\n");
}

TEST_CASE("an unclosed quote and a tab in indentation are named where they are", "[loader][hardening]") {
  CHECK(messages(validate_text("flow: \"demo\nstart: a\nsteps:\n  a: { end: true }\n", "q.yaml")) ==
        "q.yaml:1:7: error: invalid YAML: the quoted text that starts here never ends; close it with \"\n");
  CHECK(messages(validate_text("flow: demo\nstart: a\ntitle: 'it\nsteps:\n  a: { end: true }\n", "s.yaml")) ==
        "s.yaml:3:8: error: invalid YAML: the quoted text that starts here never ends; close it with '\n");
  // Quoted text over several lines, and quotes inside plain text, are fine.
  CHECK(validate_text("flow: demo\ntitle: \"two\n  lines\"\ndescription: it's a \"b\nstart: a\nsteps:\n  a: { end: true }\n", "ok.yaml")
            .ok());
  // In a block scalar a quote is text.
  CHECK(validate_text("flow: demo\ndescription: |\n  say: \"hello\n  - 'x\nstart: a\nsteps:\n  a: { end: true }\n", "b.yaml").ok());
  CHECK(validate_text("flow: demo\ndescription: >-\n  it's \"a\n\n  b\nstart: a\nsteps:\n  a: { end: true }\n", "b.yaml").ok());
  CHECK(messages(validate_text("flow: demo\nstart: a\nsteps:\n\ta: { end: true }\n", "t.yaml")) ==
        "t.yaml:4:1: error: invalid YAML: a tab indents this line; YAML indents with spaces\n");
}

TEST_CASE("a flow without `flow:` is not taken for a library file", "[loader][hardening]") {
  CHECK(messages(validate_text("start: a\nsteps: { a: { end: true } }\n", "n.yaml")) ==
        "n.yaml:1:1: error: missing `flow: NAME` (a file with `start` and `steps` is a flow, not a library file)\n");
}

TEST_CASE("a model's unknown time zone is reported at its line", "[simulate][hardening]") {
  CHECK_THROWS_WITH(SimModel::parse("model: m\nstart: 2026-11-23T00:00:00Z\ntimezone: Mars/Olympus_Mons\narrivals: {}\n", "m.yaml"),
                    "m.yaml:3:11: error: unknown time zone 'Mars/Olympus_Mons'; use an IANA name such as Europe/Zagreb");
}

TEST_CASE("a scenario case that starts before the clock is an error", "[scenario][hardening]") {
  CHECK(scenario_error("clock: 2026-11-23T08:00:00Z\ncases:\n  - { id: c1, flow: desk, at: 2020-01-01T00:00:00Z }\n")
            .ends_with(":3:5: error: this case starts before the scenario's `clock`\n"));
  CHECK(scenario_error("clock: 2026-11-23T08:00:00Z\ncases:\n  - { id: c1, flow: desk, at: 2026-11-23T08:00:00Z }\n") == "");
}
