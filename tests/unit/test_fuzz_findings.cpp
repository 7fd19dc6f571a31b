// Regression tests for what the libFuzzer targets in fuzz/ found in src/base and src/expr. Each
// input is the one the fuzzer saved (fuzz/crashers/TARGET/ keeps the file too), reduced where
// that made it clearer; docs/security.md lists the findings.
#include "support.hpp"

#include "escalon/error.hpp"
#include "escalon/expr.hpp"
#include "escalon/value.hpp"
#include "base/utf8.hpp"

using namespace escalon;

namespace {

ExprError compile_error(std::string_view text) {
  try {
    (void)compile_expression(text, {});
  } catch (const ExprError& e) {
    return e;
  }
  FAIL("no ExprError for: " << text);
  return ExprError("", 0);
}

}  // namespace

// fuzz_expr: `'a\xCD' + "b"` compiled, and printing the result as JSON (what the journal does
// with every value) threw nlohmann::type_error, which no caller expects.
TEST_CASE("an expression that is not valid UTF-8 is an ExprError at the bad byte", "[hardening][fuzz]") {
  auto e = compile_error("'a\xCD' + \"b\"");
  CHECK(e.message() == "invalid UTF-8 (byte 0xCD); write the expression as UTF-8 text");
  CHECK(e.offset() == 2);
  CHECK(compile_error("x == 'caf\xC3'").offset() == 9);          // cut short at the end
  CHECK(compile_error("'\xED\xA0\x80'").offset() == 1);           // a UTF-16 surrogate
  CHECK(compile_error("'\xC0\xAF'").offset() == 1);               // overlong '/'
  CHECK(compile_error("'\xF4\x90\x80\x80'").offset() == 1);       // above U+10FFFF
  // Valid UTF-8 of every length still compiles.
  CHECK(compile_expression("'a\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80' + 'b'", {}).evaluate({}).as_string() ==
        "a\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80" "b");
}

TEST_CASE("a Value holding bytes that are not UTF-8 prints JSON with U+FFFD instead of throwing", "[hardening][fuzz]") {
  CHECK(Value(std::string("a\xCD" "b")).to_json() == "\"a\xEF\xBF\xBD" "b\"");
  CHECK(Value(Map{{"k", std::string("\xFF")}}).to_json() == "{\"k\":\"\xEF\xBF\xBD\"}");
  CHECK(Value("caf\xC3\xA9").to_json() == "\"caf\xC3\xA9\"");
}

TEST_CASE("invalid_utf8 finds the first bad byte", "[hardening][fuzz]") {
  using detail::invalid_utf8;
  CHECK_FALSE(invalid_utf8("").has_value());
  CHECK_FALSE(invalid_utf8("plain \xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80\xF4\x8F\xBF\xBF").has_value());
  CHECK(invalid_utf8("ab\x80") == 2u);          // a continuation byte alone
  CHECK(invalid_utf8("\xE2\x82") == 0u);        // cut short
  CHECK(invalid_utf8("\xE0\x80\x80") == 0u);    // overlong
  CHECK(invalid_utf8("x\xF5\x80\x80\x80") == 1u);  // no such lead byte
  CHECK(invalid_utf8("\xE2\x28\xA1") == 0u);    // a bad second byte
  CHECK(invalid_utf8("\xF0\x9F\x98\x28") == 0u);  // a bad last byte
}

// fuzz_expr: "\f\f\f\f\f" passed the blank check (which knew only " \t\r\n"), the parser's
// skipper (std::isspace) ate it all, and the error message read the character one past the end
// (ASan: heap-buffer-overflow in parse_expression).
TEST_CASE("an expression of form feeds or vertical tabs is empty, not a read past its end", "[hardening][fuzz]") {
  for (std::string_view text : {"\f\f\f\f\f", "\v", " \f\t\v\r\n "}) {
    auto e = compile_error(text);
    CHECK(e.message() == "expression is empty");
    CHECK(e.offset() == 0);
  }
}
