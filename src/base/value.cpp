#include "escalon/value.hpp"

#include <fmt/format.h>

#include <cmath>
#include <limits>
#include <string>
#include <type_traits>
#include "escalon/error.hpp"
#include "base/json.hpp"

namespace escalon {

std::string_view kind_name(Value::Kind k) noexcept {
  switch (k) {
    case Value::Kind::null: return "null";
    case Value::Kind::boolean: return "bool";
    case Value::Kind::integer: return "int";
    case Value::Kind::number: return "number";
    case Value::Kind::string: return "string";
    case Value::Kind::datetime: return "datetime";
    case Value::Kind::duration: return "duration";
    case Value::Kind::list: return "list";
    case Value::Kind::map: return "map";
    case Value::Kind::date: return "date";
  }
  return "?";
}

namespace {
[[noreturn]] void wrong_kind(const Value& v, std::string_view wanted) {
  throw DataError(fmt::format("expected a {} value, got {} {}", wanted, kind_name(v.kind()), v.to_json()));
}
}  // namespace

bool Value::as_bool() const {
  if (auto* p = std::get_if<bool>(&v_)) return *p;
  wrong_kind(*this, "bool");
}
std::int64_t Value::as_int() const {
  if (auto* p = std::get_if<std::int64_t>(&v_)) return *p;
  wrong_kind(*this, "int");
}
double Value::as_number() const {
  if (auto* p = std::get_if<double>(&v_)) return *p;
  if (auto* p = std::get_if<std::int64_t>(&v_)) return static_cast<double>(*p);
  wrong_kind(*this, "number");
}
const std::string& Value::as_string() const {
  if (auto* p = std::get_if<std::string>(&v_)) return *p;
  wrong_kind(*this, "string");
}
TimePoint Value::as_datetime() const {
  if (auto* p = std::get_if<TimePoint>(&v_)) return *p;
  wrong_kind(*this, "datetime");
}
Duration Value::as_duration() const {
  if (auto* p = std::get_if<Duration>(&v_)) return *p;
  wrong_kind(*this, "duration");
}
Date Value::as_date() const {
  if (auto* p = std::get_if<Date>(&v_)) return *p;
  wrong_kind(*this, "date");
}
const List& Value::as_list() const {
  if (auto* p = std::get_if<std::shared_ptr<const List>>(&v_)) return **p;
  wrong_kind(*this, "list");
}
const Map& Value::as_map() const {
  if (auto* p = std::get_if<std::shared_ptr<const Map>>(&v_)) return **p;
  wrong_kind(*this, "map");
}

const Value* Value::find(std::string_view key) const noexcept {
  auto* p = std::get_if<std::shared_ptr<const Map>>(&v_);
  if (!p) return nullptr;
  auto it = (*p)->find(key);
  return it == (*p)->end() ? nullptr : &it->second;
}

namespace detail {
nlohmann::ordered_json value_to_json(const Value& v) {
  const auto& to_jsonv = value_to_json;
  switch (v.kind()) {
    case Value::Kind::null: return nullptr;
    case Value::Kind::boolean: return v.as_bool();
    case Value::Kind::integer: return v.as_int();
    case Value::Kind::number: return v.as_number();
    case Value::Kind::string: return v.as_string();
    case Value::Kind::datetime: return format_iso8601(v.as_datetime());
    case Value::Kind::duration: return format_duration(v.as_duration());
    case Value::Kind::date: return format_iso_date(v.as_date());
    case Value::Kind::list: {
      auto a = nlohmann::ordered_json::array();
      for (const auto& x : v.as_list()) a.push_back(to_jsonv(x));
      return a;
    }
    case Value::Kind::map: {
      auto o = nlohmann::ordered_json::object();
      for (const auto& [k, x] : v.as_map()) o[k] = to_jsonv(x);  // std::map: already sorted
      return o;
    }
  }
  return nullptr;
}
namespace {
Value from_json(const nlohmann::ordered_json& j, JsonStrings strings, std::size_t depth) {
  using J = nlohmann::ordered_json;
  // Recursion is bounded: a payload or stored record nested 100,000 deep must be an error, not
  // a stack overflow.
  if ((j.is_array() || j.is_object()) && depth >= max_value_depth)
    throw DataError(fmt::format("a value is nested deeper than {} levels", max_value_depth));
  switch (j.type()) {
    case J::value_t::boolean: return j.get<bool>();
    case J::value_t::number_integer: return j.get<std::int64_t>();
    case J::value_t::number_unsigned:
      if (j.get<std::uint64_t>() > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()))
        throw DataError(fmt::format("{} does not fit a 64-bit int", j.get<std::uint64_t>()));
      return j.get<std::int64_t>();
    case J::value_t::number_float: return j.get<double>();
    case J::value_t::string: {
      const auto& s = j.get_ref<const std::string&>();
      if (strings == JsonStrings::iso_datetimes) {
        if (auto t = parse_iso8601(s)) return *t;
        if (auto d = parse_iso_date(s)) return *d;
      }
      return s;
    }
    case J::value_t::array: {
      List l;
      for (const auto& x : j) l.push_back(from_json(x, strings, depth + 1));
      return l;
    }
    case J::value_t::object: {
      Map m;
      for (const auto& [k, v] : j.items()) m.emplace(k, from_json(v, strings, depth + 1));
      return m;
    }
    default: return {};
  }
}
}  // namespace

Value value_from_json(const nlohmann::ordered_json& j, JsonStrings strings) { return from_json(j, strings, 0); }

namespace {
// The DOM builder, but an integer literal out of range is refused instead of becoming a double
// (only the SAX interface still sees the literal's text), and errors become DataErrors.
class CheckedJsonBuilder : public nlohmann::detail::json_sax_dom_parser<nlohmann::ordered_json> {
 public:
  CheckedJsonBuilder(nlohmann::ordered_json& root, std::string_view what) : json_sax_dom_parser(root), what_(what) {}

  bool number_float(double val, const std::string& text) {
    if (text.find_first_of(".eE") == std::string::npos) throw DataError(fmt::format("{} does not fit a 64-bit int", text));
    return json_sax_dom_parser::number_float(val, text);
  }

  template <class Exception>
  bool parse_error(const nlohmann::detail::position_t& at, const std::string& token, const Exception& ex) {
    // nlohmann's text is "[json.exception.parse_error.101] parse error at line 1, column 2: ...".
    std::string_view msg = ex.what();
    if (auto p = msg.find("parse error at "); p != std::string_view::npos) msg.remove_prefix(p + 12);
    else if (auto q = msg.find("] "); q != std::string_view::npos) msg.remove_prefix(q + 2);
    if constexpr (std::is_same_v<Exception, nlohmann::detail::out_of_range>)
      throw DataError(fmt::format("{}: the number {} at line {}, column {} is out of range (a number must fit a double: at most about 1.8e308)",
                                  what_, token, at.lines_read + 1, at.chars_read_current_line));
    throw DataError(fmt::format("{} is not valid JSON {}", what_, msg));
  }

  // Only the binary readers (CBOR, ...) report a bare offset; sax_parse instantiates them too.
  template <class Exception>
  bool parse_error(std::size_t at, const std::string& token, const Exception& ex) {
    return parse_error(nlohmann::detail::position_t{at, at, 0}, token, ex);
  }

 private:
  std::string_view what_;
};
}  // namespace

nlohmann::ordered_json parse_json(std::string_view text, std::string_view what) {
  nlohmann::ordered_json root;
  CheckedJsonBuilder builder(root, what);
  nlohmann::ordered_json::sax_parse(text, &builder);
  return root;
}
}  // namespace detail

// Strings from the C++ API may hold any bytes; JSON cannot, so invalid UTF-8 prints as U+FFFD
// instead of throwing nlohmann's type_error out of every caller.
std::string Value::to_json() const {
  return detail::value_to_json(*this).dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
}

std::string Value::to_display() const {
  switch (kind()) {
    case Kind::string: return as_string();
    case Kind::datetime: return format_iso8601(as_datetime());
    case Kind::duration: return format_duration(as_duration());
    case Kind::date: return format_iso_date(as_date());
    default: return to_json();
  }
}

bool operator==(const Value& a, const Value& b) noexcept {
  if (a.is_numeric() && b.is_numeric()) {
    if (a.kind() == Value::Kind::integer && b.kind() == Value::Kind::integer)
      return std::get<std::int64_t>(a.v_) == std::get<std::int64_t>(b.v_);
    return a.as_number() == b.as_number();
  }
  if (a.kind() != b.kind()) return false;
  switch (a.kind()) {
    case Value::Kind::list: return a.as_list() == b.as_list();
    case Value::Kind::map: return a.as_map() == b.as_map();
    default: return a.v_ == b.v_;
  }
}

// ---------------------------------------------------------------------------------- Type

Type Type::list_of(Type item) {
  Type t;
  t.kind = Kind::list;
  t.item = std::make_shared<const Type>(std::move(item));
  return t;
}

Type Type::enumeration(std::vector<std::string> values) {
  Type t;
  t.kind = Kind::enumeration;
  t.values = std::move(values);
  return t;
}

std::string Type::str() const {
  switch (kind) {
    case Kind::any: return "any";
    case Kind::null: return "null";
    case Kind::boolean: return "bool";
    case Kind::integer: return "int";
    case Kind::number: return "number";
    case Kind::string: return "string";
    case Kind::datetime: return "datetime";
    case Kind::duration: return "duration";
    case Kind::enumeration: return fmt::format("enum[{}]", fmt::join(values, ", "));
    case Kind::list: return item && item->kind != Kind::any ? fmt::format("list<{}>", item->str()) : "list";
    case Kind::map: return "map";
    case Kind::date: return "date";
  }
  return "?";
}

bool operator==(const Type& a, const Type& b) {
  if (a.kind != b.kind || a.values != b.values) return false;
  if (a.kind == Type::Kind::list) {
    const bool ai = a.item && a.item->kind != Type::Kind::any, bi = b.item && b.item->kind != Type::Kind::any;
    if (ai != bi) return false;
    if (ai && !(*a.item == *b.item)) return false;
  }
  return true;
}

bool Type::accepts(const Value& v) const {
  using VK = Value::Kind;
  if (v.is_null()) return true;
  switch (kind) {
    case Kind::any: return true;
    case Kind::null: return false;
    case Kind::boolean: return v.kind() == VK::boolean;
    case Kind::integer: return v.kind() == VK::integer;
    case Kind::number: return v.is_numeric();
    case Kind::string: return v.kind() == VK::string;
    case Kind::datetime: return v.kind() == VK::datetime;
    case Kind::duration: return v.kind() == VK::duration;
    case Kind::date: return v.kind() == VK::date;
    case Kind::enumeration:
      return v.kind() == VK::string && std::find(values.begin(), values.end(), v.as_string()) != values.end();
    case Kind::list:
      if (v.kind() != VK::list) return false;
      if (!item) return true;
      for (const auto& x : v.as_list())
        if (!item->accepts(x)) return false;
      return true;
    case Kind::map:
      if (v.kind() != VK::map) return false;
      if (!fields) return true;
      for (const auto& [k, x] : v.as_map()) {
        auto it = fields->find(k);
        if (it != fields->end() && !it->second.accepts(x)) return false;
      }
      return true;
  }
  return false;
}

Value Type::coerce(const Value& v, std::string_view what) const {
  using VK = Value::Kind;
  if (accepts(v)) {
    if (kind == Kind::number && v.kind() == VK::integer) return Value(v.as_number());
    return v;
  }
  switch (kind) {
    case Kind::integer:
      if (v.kind() == VK::number) {
        double d = v.as_number();
        if (std::nearbyint(d) == d && std::abs(d) < 9.0e15) return Value(static_cast<std::int64_t>(d));
      }
      break;
    case Kind::datetime:
      if (v.kind() == VK::string) {
        if (auto t = parse_iso8601(v.as_string())) return Value(*t);
        throw DataError(fmt::format("{}: \"{}\" is not a datetime; write ISO-8601 with an offset, e.g. "
                                    "2026-11-23T08:00:00Z",
                                    what, v.as_string()));
      }
      break;
    case Kind::date:
      if (v.kind() == VK::string) {
        if (auto d = parse_iso_date(v.as_string())) return Value(*d);
        throw DataError(fmt::format("{}: \"{}\" is not a date: {}", what, v.as_string(), iso_date_problem(v.as_string())));
      }
      if (v.kind() == VK::datetime)
        throw DataError(fmt::format("{}: {} is a datetime, but a date (a day, YYYY-MM-DD) is needed; which day an "
                                    "instant falls on depends on the time zone, so give the day itself",
                                    what, format_iso8601(v.as_datetime())));
      break;
    case Kind::duration:
      if (v.kind() == VK::string) {
        try {
          return Value(parse_duration(v.as_string()));
        } catch (const Error& e) {
          throw DataError(fmt::format("{}: {}", what, e.message()));
        }
      }
      break;
    case Kind::enumeration:
      if (v.kind() == VK::string)
        throw DataError(fmt::format("{}: \"{}\" is not one of {}", what, v.as_string(), fmt::join(values, ", ")));
      break;
    case Kind::list:
      if (v.kind() == VK::list && item) {
        List out;
        out.reserve(v.as_list().size());
        std::size_t i = 0;
        for (const auto& x : v.as_list()) out.push_back(item->coerce(x, fmt::format("{}[{}]", what, i++)));
        return Value(std::move(out));
      }
      break;
    case Kind::map:
      if (v.kind() == VK::map && fields) {
        Map out;
        for (const auto& [k, x] : v.as_map()) {
          auto it = fields->find(k);
          out.emplace(k, it == fields->end() ? x : it->second.coerce(x, fmt::format("{}.{}", what, k)));
        }
        return Value(std::move(out));
      }
      break;
    default: break;
  }
  throw DataError(fmt::format("{}: expected {}, got {} {}", what, str(), kind_name(v.kind()), v.to_json()));
}

}  // namespace escalon

namespace escalon {
// A Value is copied into every case's data slots, journal records and expression temporaries:
// it stays the size of its largest inline member (std::string) plus the variant's index.
static_assert(sizeof(Value) <= sizeof(std::string) + sizeof(void*), "Value grew");
}  // namespace escalon
