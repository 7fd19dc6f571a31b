// Expression parser: the one translation unit that includes Boost.Spirit X3.
//
// Grammar (lowest precedence first; docs/expressions.md has the user-facing version):
//   expr    = or ('?' expr ':' expr)?
//   or      = and ('||' and)*          and  = eq ('&&' eq)*
//   eq      = rel (('=='|'!=') rel)*   rel  = add (('<='|'>='|'<'|'>'|'in'|'not in') add)?
//   add     = mul (('+'|'-') mul)*     mul  = unary (('*'|'/'|'%') unary)*
//   unary   = ('!'|'-') unary | postfix
//   postfix = primary ('.' ident | '[' expr ']')*
//   primary = datetime | date | duration | number | string | true | false | null
//           | '[' (expr (',' expr)*)? ']' | ident '(' args ')' | ident | '?' | '(' expr ')'
// Semantic actions build detail::ExprNode trees directly; every node records the offset of its
// first character so that the checker can point at the exact column.

#include <boost/spirit/home/x3.hpp>
#include <fmt/format.h>

#include <algorithm>
#include <charconv>

#include "escalon/error.hpp"
#include "expr/node.hpp"
#include "base/numbers.hpp"
#include "base/text.hpp"
#include "base/utf8.hpp"

// `a >> b > c` is Spirit's sequence-then-expectation, not a comparison; clang (not GCC) warns
// about the precedence on every rule below, which -Werror turns into a failed build.
#ifdef __clang__
#pragma clang diagnostic ignored "-Woverloaded-shift-op-parentheses"
#endif

namespace escalon::detail {
namespace {

namespace x3 = boost::spirit::x3;
using Iter = const char*;
struct base_tag;

NodePtr make(Op op, std::uint32_t pos) {
  auto n = std::make_shared<ExprNode>();
  n->op = op;
  n->pos = pos;
  return n;
}

// The offset of the next token (after skipping spaces) as an attribute. X3's _where() in
// Boost 1.74 is the input *after* a match, so node positions come from this instead.
struct pos_parser : x3::parser<pos_parser> {
  using attribute_type = std::uint32_t;
  static bool const has_attribute = true;
  template <class It, class Ctx, class RCtx, class Attr>
  bool parse(It& first, It const& last, Ctx const& ctx, RCtx&, Attr& attr) const {
    x3::skip_over(first, last, ctx);
    x3::traits::move_to(static_cast<std::uint32_t>(first - x3::get<base_tag>(ctx)), attr);
    return true;
  }
};
pos_parser const pos{};

// The character at `at` for a message: its whole UTF-8 sequence (the text was checked to be
// UTF-8), so that the message stays UTF-8 too.
std::string char_at(std::string_view text, std::size_t at) {
  return std::string(text.substr(at, std::max<std::size_t>(1, utf8_sequence(text, at))));
}

template <std::size_t I, class A>
decltype(auto) at(A& a) {
  return boost::fusion::at_c<I>(a);
}

auto const set_val = [](auto& ctx) { x3::_val(ctx) = x3::_attr(ctx); };

// (pos, rhs): folds `_val OP rhs` into a binary node positioned at the operator.
auto fold(Op op) {
  return [op](auto& ctx) {
    auto& a = x3::_attr(ctx);
    auto n = make(op, at<0>(a));
    n->kids = {x3::_val(ctx), at<1>(a)};
    x3::_val(ctx) = n;
  };
}
// (pos, op char, rhs)
auto const fold_char = [](auto& ctx) {
  auto& a = x3::_attr(ctx);
  const char c = at<1>(a);
  Op op = c == '+' ? Op::add : c == '-' ? Op::sub : c == '*' ? Op::mul : c == '/' ? Op::div : Op::mod;
  auto n = make(op, at<0>(a));
  n->kids = {x3::_val(ctx), at<2>(a)};
  x3::_val(ctx) = n;
};
// (pos, Op, rhs)
auto const fold_rel = [](auto& ctx) {
  auto& a = x3::_attr(ctx);
  auto n = make(at<1>(a), at<0>(a));
  n->kids = {x3::_val(ctx), at<2>(a)};
  x3::_val(ctx) = n;
};
// (pos, then, else)
auto const make_cond = [](auto& ctx) {
  auto& a = x3::_attr(ctx);
  auto n = make(Op::cond, at<0>(a));
  n->kids = {x3::_val(ctx), at<1>(a), at<2>(a)};
  x3::_val(ctx) = n;
};
// (pos, operand)
auto unary(Op op) {
  return [op](auto& ctx) {
    auto& a = x3::_attr(ctx);
    auto n = make(op, at<0>(a));
    n->kids = {at<1>(a)};
    x3::_val(ctx) = n;
  };
}
// (pos of '.', name)
auto const make_member = [](auto& ctx) {
  auto& a = x3::_attr(ctx);
  auto n = make(Op::member, at<0>(a) + 1);
  n->name = at<1>(a);
  n->kids = {x3::_val(ctx)};
  x3::_val(ctx) = n;
};
// (pos of '[', index)
auto const make_index = [](auto& ctx) {
  auto& a = x3::_attr(ctx);
  auto n = make(Op::index, at<0>(a));
  n->kids = {x3::_val(ctx), at<1>(a)};
  x3::_val(ctx) = n;
};
// (pos, name)
auto const make_name = [](auto& ctx) {
  auto& a = x3::_attr(ctx);
  auto n = make(Op::name, at<0>(a));
  n->name = at<1>(a);
  x3::_val(ctx) = n;
};
auto const make_subject = [](auto& ctx) { x3::_val(ctx) = make(Op::subject, x3::_attr(ctx)); };
auto const start_call = [](auto& ctx) {
  auto& a = x3::_attr(ctx);
  auto n = make(Op::call, at<0>(a));
  n->name = at<1>(a);
  x3::_val(ctx) = n;
};
auto const start_list = [](auto& ctx) { x3::_val(ctx) = make(Op::list, x3::_attr(ctx)); };
auto const push_kid = [](auto& ctx) { x3::_val(ctx)->kids.push_back(x3::_attr(ctx)); };

auto literal(Value v) {
  return [v = std::move(v)](auto& ctx) {
    auto n = make(Op::literal, x3::_attr(ctx));
    n->literal = v;
    x3::_val(ctx) = n;
  };
}
auto const make_string = [](auto& ctx) {
  auto& a = x3::_attr(ctx);
  auto n = make(Op::literal, at<0>(a));
  n->literal = Value(std::move(at<1>(a)));
  x3::_val(ctx) = n;
};
template <class Ctx, class Range>
std::uint32_t offset_of(const Ctx& ctx, const Range& r) {
  Iter base = x3::get<base_tag>(ctx);
  return static_cast<std::uint32_t>(r.begin() - base);
}
auto const make_number = [](auto& ctx) {
  const auto& r = x3::_attr(ctx);
  std::string text(r.begin(), r.end());
  auto n = make(Op::literal, offset_of(ctx, r));
  if (text.find_first_of(".eE") != std::string::npos) {
    // The grammar matched a decimal number: it reads whole, with '.' whatever the locale.
    auto d = detail::parse_number(text);
    if (!d) throw ExprError(fmt::format("number {} is out of range", text), n->pos);
    n->literal = Value(*d);
  } else {
    std::int64_t v = 0;
    auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
    if (ec != std::errc{} || p != text.data() + text.size())
      throw ExprError(fmt::format("number {} is too large for an int", text), n->pos);
    n->literal = Value(v);
  }
  x3::_val(ctx) = n;
};
auto const make_duration = [](auto& ctx) {
  const auto& r = x3::_attr(ctx);
  auto n = make(Op::literal, offset_of(ctx, r));
  try {
    n->literal = Value(parse_duration(std::string_view(&*r.begin(), static_cast<std::size_t>(r.end() - r.begin()))));
  } catch (const Error& e) {
    throw ExprError(e.message(), n->pos);
  }
  x3::_val(ctx) = n;
};
// A datetime, or a date when there is no time part: 2025-06-01.
auto const make_datetime = [](auto& ctx) {
  const auto& r = x3::_attr(ctx);
  std::string text(r.begin(), r.end());
  auto n = make(Op::literal, offset_of(ctx, r));
  if (text.size() == 10) {
    auto d = parse_iso_date(text);
    if (!d) throw ExprError(fmt::format("{} is not a valid date: {}", text, iso_date_problem(text)), n->pos);
    n->literal = Value(*d);
    x3::_val(ctx) = n;
    return;
  }
  // The offset is optional in the grammar so that its absence gets this message.
  if (text.find_first_of("Z+-", 10) == std::string::npos) {
    const std::string with_seconds = text.size() == 16 ? text + ":00" : text;  // 2026-11-23T08:00
    throw ExprError(fmt::format("the datetime {} needs an offset: {}Z for UTC, or one like {}+01:00", text, with_seconds,
                                with_seconds),
                    n->pos);
  }
  auto t = parse_iso8601(text);
  if (!t) throw ExprError(fmt::format("{} is not a valid datetime", text), n->pos);
  n->literal = Value(*t);
  x3::_val(ctx) = n;
};

struct eq_ops_t : x3::symbols<Op> {
  eq_ops_t() { add("==", Op::eq)("!=", Op::ne); }
} const eq_ops;
struct ord_ops_t : x3::symbols<Op> {
  ord_ops_t() { add("<=", Op::le)(">=", Op::ge)("<", Op::lt)(">", Op::gt); }
} const ord_ops;

struct escapes_t : x3::symbols<char> {
  escapes_t() { add("\\n", '\n')("\\t", '\t')("\\\\", '\\')("\\'", '\'')("\\\"", '"'); }
} const escapes;

struct units_t : x3::symbols<char> {
  units_t() { add("ms", 'x')("s", 's')("m", 'm')("h", 'h')("d", 'd')("w", 'w'); }
} const units;
// Units in words, after a space: `730 days`, `15 minutes`, `1 hour 30 minutes`.
struct word_units_t : x3::symbols<char> {
  word_units_t() {
    add("second", 's')("seconds", 's')("minute", 'm')("minutes", 'm')("hour", 'h')("hours", 'h')("day", 'd')(
        "days", 'd')("week", 'w')("weeks", 'w');
  }
} const word_units;

// ASCII classes as character sets. X3's alpha/digit/space hand the char to <cctype>, which for
// a byte of UTF-8 text outside a string literal (>= 0x80, a negative char) is undefined
// behaviour; Boost asserts on it in a debug build, where the fuzzer met it.
auto const space_p = x3::char_(" \t\n\r\f\v");
auto const blank_p = x3::char_(" \t");
auto const digit_p = x3::char_('0', '9');
auto const alpha_p = x3::char_("a-zA-Z");
auto const ident_char = x3::char_("a-zA-Z0-9_");
auto kw(const char* k) { return x3::lexeme[x3::lit(k) >> !ident_char]; }
auto const d2 = x3::repeat(2)[digit_p];

x3::rule<class expr_c, NodePtr> const expr_r = "an expression";
x3::rule<class or_c, NodePtr> const or_r = "an expression";
x3::rule<class and_c, NodePtr> const and_r = "an operand";
x3::rule<class rel_c, NodePtr> const rel_r = "an operand";
x3::rule<class eq_c, NodePtr> const eq_r = "an operand";
x3::rule<class add_c, NodePtr> const add_r = "an operand";
x3::rule<class mul_c, NodePtr> const mul_r = "an operand";
x3::rule<class unary_c, NodePtr> const unary_r = "an operand";
x3::rule<class postfix_c, NodePtr> const postfix_r = "an operand";
x3::rule<class primary_c, NodePtr> const primary_r = "a value, name or '('";
x3::rule<class ident_c, std::string> const ident_r = "a name";
x3::rule<class list_c, NodePtr> const list_r = "a list";
x3::rule<class call_c, NodePtr> const call_r = "a function call";
x3::rule<class lit_c, NodePtr> const literal_r = "a literal";
x3::rule<class str_c, std::string> const str_r = "a string";
x3::rule<class rel_op_c, Op> const rel_op_r = "a comparison";

auto const ident_r_def = x3::lexeme[(alpha_p | x3::char_('_')) >> *ident_char] - (kw("true") | kw("false") | kw("null") | kw("in") | kw("not"));

auto const str_r_def = x3::lexeme['\'' > *(escapes | ~x3::char_("'\\")) > '\''] |
                       x3::lexeme['"' > *(escapes | ~x3::char_("\"\\")) > '"'];

auto const datetime_p = x3::raw[x3::lexeme[x3::repeat(4)[digit_p] >> '-' >> d2 >> '-' >> d2 >>
                                           -('T' >> d2 >> ':' >> d2 >> -(':' >> d2 >> -('.' >> +digit_p)) >>
                                             -(x3::lit('Z') | (x3::char_("+-") >> d2 >> ':' >> d2)))]];
auto const word_part = +digit_p >> *blank_p >> word_units >> !ident_char;
auto const duration_p = x3::raw[x3::lexeme[(+(+digit_p >> units) >> !ident_char) |
                                           (word_part >> *(+blank_p >> word_part))]];
auto const number_p = x3::raw[x3::lexeme[+digit_p >> -('.' >> +digit_p) >>
                                         -(x3::char_("eE") >> -x3::char_("+-") >> +digit_p) >> !ident_char]];

auto const literal_r_def = datetime_p[make_datetime] | duration_p[make_duration] | number_p[make_number] |
                           (pos >> str_r)[make_string] | (pos >> kw("true"))[literal(Value(true))] |
                           (pos >> kw("false"))[literal(Value(false))] | (pos >> kw("null"))[literal(Value())];

auto const list_r_def = (pos >> '[')[start_list] >> -(expr_r[push_kid] % ',') > ']';
auto const call_r_def = (pos >> ident_r >> '(')[start_call] >> -(expr_r[push_kid] % ',') > ')';

auto const primary_r_def = literal_r[set_val] | list_r[set_val] | call_r[set_val] | (pos >> ident_r)[make_name] |
                           (pos >> '?')[make_subject] | ('(' > expr_r > ')')[set_val];

auto const postfix_r_def =
    primary_r[set_val] >> *((pos >> '.' > ident_r)[make_member] | (pos >> '[' > expr_r > ']')[make_index]);

auto const unary_r_def =
    (pos >> '!' > unary_r)[unary(Op::not_)] | (pos >> '-' > unary_r)[unary(Op::neg)] | postfix_r[set_val];

auto const mul_r_def = unary_r[set_val] >> *((pos >> x3::char_("*/%") > unary_r)[fold_char]);
auto const add_r_def = mul_r[set_val] >> *((pos >> x3::char_("+-") > mul_r)[fold_char]);

auto const rel_op_r_def = ord_ops | (kw("not") >> kw("in") >> x3::attr(Op::not_in)) | (kw("in") >> x3::attr(Op::in));
auto const rel_r_def = add_r[set_val] >> -((pos >> rel_op_r > add_r)[fold_rel]);
auto const eq_r_def = rel_r[set_val] >> *((pos >> eq_ops > rel_r)[fold_rel]);
auto const and_r_def = eq_r[set_val] >> *((pos >> "&&" > eq_r)[fold(Op::and_)]);
auto const or_r_def = and_r[set_val] >> *((pos >> "||" > and_r)[fold(Op::or_)]);
auto const expr_r_def = or_r[set_val] >> -((pos >> '?' > expr_r > ':' > expr_r)[make_cond]);

BOOST_SPIRIT_DEFINE(expr_r, or_r, and_r, eq_r, rel_r, add_r, mul_r, unary_r, postfix_r, primary_r, ident_r, list_r,
                    call_r, literal_r, str_r, rel_op_r)

// Bounds nesting before X3 recurses, so that hostile input cannot exhaust the stack.
void check_nesting(std::string_view text) {
  std::size_t depth = 0, run = 0;
  char quote = 0;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (quote) {
      if (c == '\\') ++i;
      else if (c == quote) quote = 0;
      continue;
    }
    if (c == '\'' || c == '"') quote = c;
    if (c == '(' || c == '[') ++depth;
    if (c == ')' || c == ']') depth = depth ? depth - 1 : 0;
    if (c == '!' || c == '-') ++run;
    else if (c != ' ') run = 0;
    if (depth + run > max_expression_depth)
      throw ExprError(fmt::format("expression nests deeper than {} levels; split it or use a rule table",
                                  max_expression_depth),
                      i);
  }
}

std::size_t tree_depth(const ExprNode& n) {
  std::size_t d = 0;
  for (const auto& k : n.kids) d = std::max(d, tree_depth(*k));
  return d + 1;
}

}  // namespace

NodePtr parse_expression(std::string_view text) {
  if (text.size() > max_expression_length)
    throw ExprError(fmt::format("expression is {} characters long; at most {} are allowed", text.size(),
                                max_expression_length),
                    max_expression_length);
  // A string literal keeps its bytes, and JSON (journal, store, CLI) can only carry UTF-8.
  if (auto bad = invalid_utf8(text))
    throw ExprError(fmt::format("invalid UTF-8 (byte 0x{:02X}); write the expression as UTF-8 text",
                                static_cast<unsigned char>(text[*bad])),
                    *bad);
  check_nesting(text);
  Iter first = text.data();
  Iter const last = text.data() + text.size();
  Iter const base = first;
  NodePtr root;
  try {
    bool ok = x3::phrase_parse(first, last, x3::with<base_tag>(base)[expr_r], space_p, root);
    if (!ok || !root) {
      // Blank as the skipper sees it (std::isspace: \f and \v too), else `first` is at the end.
      if (trim(text).empty()) throw ExprError("expression is empty", 0);
      if (first == last) throw ExprError("expression ends too early: expected a value, a name or '('", text.size());
      throw ExprError(fmt::format("unexpected '{}'; expected a value, a name or '('", char_at(text, static_cast<std::size_t>(first - base))),
                      static_cast<std::size_t>(first - base));
    }
  } catch (const x3::expectation_failure<Iter>& e) {
    const auto at = static_cast<std::size_t>(e.where() - base);
    if (e.where() == last)
      throw ExprError(fmt::format("expression ends too early: expected {}", e.which()), at);
    throw ExprError(fmt::format("expected {} at '{}'", e.which(), char_at(text, at)), at);
  }
  if (first != last) {
    const auto at = static_cast<std::size_t>(first - base);
    const char c = *first;
    if (c == '=' ) throw ExprError("unexpected '='; compare with '=='", at);
    if (c == '&' || c == '|') throw ExprError(fmt::format("unexpected '{}'; write '{}{}'", c, c, c), at);
    throw ExprError(fmt::format("unexpected '{}' after a complete expression", char_at(text, at)), at);
  }
  if (tree_depth(*root) > 4 * max_expression_depth)
    throw ExprError(fmt::format("expression has more than {} nested operations; split it or use a rule table",
                                4 * max_expression_depth),
                    0);
  return root;
}

}  // namespace escalon::detail
