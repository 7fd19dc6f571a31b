// Numbers in flows and expressions mean the same on a host whose locale writes a decimal comma
// (Croatia, Hungary, Poland, Germany). The locales come from scripts/setup.sh (locale-gen).

#include "support.hpp"

#include <fmt/format.h>

#include <clocale>
#include <locale>
#include <string>

#include "escalon/expr.hpp"
#include "escalon/graph.hpp"
#include "escalon/loader.hpp"

using namespace escalon;

namespace {

/// Switches the C and the C++ global locale for one scope; the destructor puts both back, also
/// when a REQUIRE throws.
class GlobalLocale {
 public:
  explicit GlobalLocale(const char* name) : old_cpp_(std::locale()) {
    if (const char* c = std::setlocale(LC_ALL, nullptr)) old_c_ = c;
    try {
      std::locale::global(std::locale(name));
    } catch (const std::runtime_error&) {
      FAIL("locale " << name << " is not installed; run scripts/setup.sh (it runs locale-gen)");
    }
    set_c_ = std::setlocale(LC_ALL, name) != nullptr;
  }
  GlobalLocale(const GlobalLocale&) = delete;
  GlobalLocale& operator=(const GlobalLocale&) = delete;
  ~GlobalLocale() {
    std::setlocale(LC_ALL, old_c_.c_str());
    std::locale::global(old_cpp_);
  }
  [[nodiscard]] bool c_locale_set() const noexcept { return set_c_; }

 private:
  std::locale old_cpp_;
  std::string old_c_ = "C";
  bool set_c_ = false;
};

const char* const decimals_flow = R"(flow: decimals
data:
  score:   { type: number, default: 0.75 }
  visit:   { type: datetime, default: "2026-11-23T08:00:00.250Z" }
sla:
  answer: { within: 2h, warn_at: 62.5% }
start: check
steps:
  check:
    call: crm.check
    retry: { attempts: 4, backoff: 10s, factor: 1.5 }
    next: review
  review:
    deadline:
      within: 1h
      escalate:
        - { at: 87.5%, notify: lead }
    on:
      done: { to: closed, when: "score > 2.5 && score * 1.5 < 10.25" }
  closed:
    end: true
)";

}  // namespace

TEST_CASE("decimals in flows and expressions ignore a decimal-comma locale", "[loader][expr][locale]") {
  GlobalLocale hr("hr_HR.UTF-8");
  REQUIRE(hr.c_locale_set());
  // The premise: this locale writes a decimal comma.
  REQUIRE(std::use_facet<std::numpunct<char>>(std::locale()).decimal_point() == ',');
  REQUIRE(std::localeconv()->decimal_point == std::string(","));

  auto r = validate_text(decimals_flow, "decimals.yaml");
  std::string diagnostics;
  for (const auto& d : r.diagnostics) diagnostics += d.str() + "\n";
  INFO(diagnostics);
  REQUIRE(r.ok());
  const Flow& f = *r.flows.at(0);
  CHECK(f.find_step("check")->retry.factor == 1.5);
  CHECK(f.find_step("check")->retry.attempts == 4);
  REQUIRE(f.find_step("review")->deadline);
  CHECK(f.find_step("review")->deadline->escalate.at(0).share == 0.875);
  CHECK(f.slas.at(0).warn_at == 0.625);
  CHECK(f.find_field("score")->default_value == Value(0.75));
  CHECK(f.find_field("visit")->default_value == Value(test::at("2026-11-23T08:00:00.250Z")));

  ExprEnv env;
  EvalContext ctx;
  const Value five = compile_expression("2.5 * 2", env).evaluate(ctx);
  CHECK(five == Value(5.0));
  CHECK(five.to_json() == "5.0");
  CHECK(compile_expression("0.1 + 0.2 > 0.3", env).evaluate(ctx) == Value(true));
  CHECK(compile_expression("1.5e3", env).evaluate(ctx) == Value(1500.0));
}

TEST_CASE("numbers out of a double's range are an expression error, not an exception", "[expr]") {
  ExprEnv env;
  try {
    (void)compile_expression("x > 1e999", env);
    FAIL("expected ExprError");
  } catch (const ExprError& e) {
    CHECK(e.message() == "number 1e999 is out of range");
    CHECK(e.offset() == 4);
  }
}

TEST_CASE("graphs keep plain step numbers under a locale that groups digits", "[graph][locale]") {
  // 1001 steps: mermaid names them s0..s1000; de_DE would print 1000 as "1.000".
  std::string yaml = "flow: long\nstart: s0\nsteps:\n";
  for (int i = 0; i < 1000; ++i) yaml += fmt::format("  s{}: {{ on: {{ go: s{} }} }}\n", i, i + 1);
  yaml += "  s1000: { end: true }\n";
  GlobalLocale de("de_DE.UTF-8");
  REQUIRE(std::use_facet<std::numpunct<char>>(std::locale()).thousands_sep() == '.');
  auto r = validate_text(yaml, "long.yaml");
  REQUIRE(r.ok());
  const std::string mermaid = render_graph(*r.flows.at(0), GraphFormat::mermaid);
  CHECK(mermaid.find("  s999 -->|\"go\"| s1000\n") != std::string::npos);
  CHECK(mermaid.find("  s1000([\"") != std::string::npos);
  CHECK(mermaid.find("s1.000") == std::string::npos);
}
