// FlowBuilder: the case data (`data:`), step forms (`form:`), their types and typed values
// (defaults).

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <limits>
#include <set>

#include "loader/builder.hpp"
#include "base/numbers.hpp"
#include "base/suggest.hpp"

namespace escalon::detail {
namespace {

using K = Type::Kind;

const std::vector<std::string> type_names = {"string", "int", "number", "bool", "datetime", "date", "duration", "enum", "list", "map"};


std::optional<Value> whole_number(const std::string& s) {
  std::int64_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc{} || p != s.data() + s.size()) return std::nullopt;
  return Value(v);
}

// Digits that do not fit: out of range, not "not a whole number".
bool int_literal(const std::string& s) {
  std::int64_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  return ec == std::errc::result_out_of_range && p == s.data() + s.size();
}
// A scalar of an `any` field: quoted text stays text; true, false and whole numbers are read.
Value untyped_scalar(const std::string& s, bool quoted) {
  if (quoted) return Value(s);
  if (s == "true") return Value(true);
  if (s == "false") return Value(false);
  if (auto v = whole_number(s)) return *v;
  return Value(s);
}
}  // namespace

void FlowBuilder::data(const YAML::Node& n) {
  MapReader m(rep_, src_, n, "`data`", std::vector<std::string>{});
  for (const auto& [k, v] : m.entries()) {
    if (!is_field_name(k.Scalar())) {
      rep_.error(loc(k), fmt::format("data field '{}' must be lowercase letters, digits and '_' (it is used in expressions)",
                                     k.Scalar()));
      continue;
    }
    if (k.Scalar() == "event" || k.Scalar() == "case") {
      rep_.error(loc(k), fmt::format("'{}' is reserved in expressions; name the field otherwise", k.Scalar()));
      continue;
    }
    if (auto f = field(src_, k.Scalar(), v, fmt::format("data field '{}'", k.Scalar()))) flow_.data.push_back(std::move(*f));
  }
}

void FlowBuilder::form(Step& s, const YAML::Node& n) {
  MapReader fm(rep_, src_, n, "`form`", std::vector<std::string>{});
  for (const auto& [k, fv] : fm.entries()) {
    if (!is_field_name(k.Scalar())) {
      rep_.error(loc(k), fmt::format("form field '{}' must be lowercase letters, digits and '_'", k.Scalar()));
      continue;
    }
    auto f = field(src_, k.Scalar(), fv, fmt::format("form field '{}'", k.Scalar()));
    if (!f) continue;
    if (const DataField* d = flow_.find_field(f->name); d && !(d->type == f->type))
      rep_.error(loc(k), fmt::format("form field '{}' is {}, but data field '{}' is {}; a form field with a data "
                                     "field's name is stored there, so the types must agree",
                                     f->name, f->type.str(), d->name, d->type.str()));
    s.form.push_back(std::move(*f));
  }
}

// `form_for: [EVENT, ...]`: the step's own events that must carry its form.
void FlowBuilder::form_events(Step& s, const YAML::Node& n) {
  if (s.form.empty()) {
    rep_.error(loc(n), fmt::format("`form_for` names the events that must carry the form, but step '{}' has no `form:`",
                                   s.name));
    return;
  }
  std::vector<std::string> handled;
  for (const auto& t : s.on)
    if (std::find(handled.begin(), handled.end(), t.event) == handled.end()) handled.push_back(t.event);
  if (n.IsSequence() && n.size() == 0) {
    rep_.error(loc(n), fmt::format("`form_for` is empty; name the events that complete step '{}', or remove it (then "
                                   "every event of the step carries the form)",
                                   s.name));
    return;
  }
  for (auto& [ev, node] : read_string_list(rep_, src_, n, "`form_for`")) {
    if (std::find(handled.begin(), handled.end(), ev) == handled.end()) {
      std::string hint = did_you_mean(ev, handled);
      rep_.error(loc(node), fmt::format("`form_for` names event '{}', which step '{}' does not handle{}", ev, s.name,
                                        !hint.empty() ? hint : fmt::format("; its events are {}", name_list(handled))));
      continue;
    }
    s.form_for.push_back(ev);
  }
}

std::optional<Type> FlowBuilder::type_spec(const Source& src, const YAML::Node& n, std::string_view what,
                                          std::size_t depth) {
  // Either a type name, or a map with `type:` and its details. `of:` and `fields:` recurse, and
  // through an alias a type can even contain itself: hence the depth bound.
  if (!rep_.nest(src, n, depth)) return std::nullopt;
  YAML::Node tnode = n;
  std::optional<MapReader> m;
  if (n.IsMap()) {
    m.emplace(rep_, src, n, std::string(what),
              std::initializer_list<std::string_view>{"type", "values", "of", "fields", "required", "default", "description", "title", "pii"});
    if (depth > 0)
      if (auto p = m->get("pii"))
        rep_.error(loc(src, *p), "`pii` marks a whole data field as personal data; put it on the field, not inside its type");
    auto t = m->get("type");
    if (!t) {
      rep_.error(loc(src, n), fmt::format("{} needs a `type` (one of {})", what, fmt::join(type_names, ", ")));
      return std::nullopt;
    }
    tnode.reset(*t);  // rebind: operator= would overwrite the map node itself
  }
  auto name = read_string(rep_, src, tnode, fmt::format("the type of {}", what));
  if (!name) return std::nullopt;
  static const std::map<std::string, K> kinds = {
      {"string", K::string}, {"int", K::integer},     {"number", K::number},         {"bool", K::boolean},
      {"datetime", K::datetime}, {"date", K::date}, {"duration", K::duration}, {"enum", K::enumeration},
      {"list", K::list},     {"map", K::map}};
  auto it = kinds.find(*name);
  if (it == kinds.end()) {
    std::string hint = did_you_mean(*name, type_names);
    rep_.error(loc(src, tnode), fmt::format("unknown type '{}'{}", *name,
                                            hint.empty() ? fmt::format("; use one of {}", fmt::join(type_names, ", ")) : hint));
    return std::nullopt;
  }
  Type t = Type::of(it->second);
  if (t.kind == K::enumeration) {
    auto v = m ? m->get("values") : std::nullopt;
    if (!v || !v->IsSequence() || v->size() == 0) {
      rep_.error(loc(src, v ? *v : n), fmt::format("{} is an enum and needs `values: [a, b, ...]`", what));
      return std::nullopt;
    }
    std::set<std::string, std::less<>> seen;  // not a scan of t.values: a list can be long
    for (const auto& x : *v) {
      if (!rep_.count(src, x)) return std::nullopt;
      auto s = read_string(rep_, src, x, "an enum value");
      if (!s) return std::nullopt;
      if (!seen.insert(*s).second) {
        rep_.error(loc(src, x), fmt::format("enum value '{}' is listed twice", *s));
        return std::nullopt;
      }
      t.values.push_back(*s);
    }
  } else if (m && m->has("values")) {
    rep_.error(loc(src, *m->get("values")), fmt::format("`values` is only for enum types; {} is {}", what, *name));
  }
  if (t.kind == K::list) {
    if (auto of = m ? m->get("of") : std::nullopt) {
      auto item = type_spec(src, *of, fmt::format("the items of {}", what), depth + 1);
      if (!item) return std::nullopt;
      t.item = std::make_shared<const Type>(*item);
    }
  } else if (m && m->has("of")) {
    rep_.error(loc(src, *m->get("of")), fmt::format("`of` is only for list types; {} is {}", what, *name));
  }
  if (t.kind == K::map) {
    if (auto fs = m ? m->get("fields") : std::nullopt) {
      MapReader fm(rep_, src, *fs, "`fields`", std::vector<std::string>{});
      auto fields = std::make_shared<std::map<std::string, Type, std::less<>>>();
      for (const auto& [k, v] : fm.entries()) {
        auto ft = type_spec(src, v, fmt::format("field '{}'", k.Scalar()), depth + 1);
        if (ft) (*fields)[k.Scalar()] = *ft;
      }
      t.fields = std::move(fields);
    }
  } else if (m && m->has("fields")) {
    rep_.error(loc(src, *m->get("fields")), fmt::format("`fields` is only for map types; {} is {}", what, *name));
  }
  return t;
}

std::optional<DataField> FlowBuilder::field(const Source& src, const std::string& name, const YAML::Node& n,
                                            std::string_view what) {
  auto t = type_spec(src, n, what);
  if (!t) return std::nullopt;
  DataField f;
  f.name = name;
  f.type = *t;
  f.where = loc(src, n);
  if (n.IsMap()) {
    if (auto r = n["required"]) f.required = read_bool(rep_, src, r, "`required`").value_or(false);
    if (auto d = n["description"]) f.description = read_string(rep_, src, d, "`description`").value_or("");
    if (auto p = n["pii"]) f.pii = read_bool(rep_, src, p, "`pii`").value_or(false);
    if (auto d = n["default"]) {
      f.default_value = value_of(src, d, f.type, fmt::format("the default of {}", what));
      if (!f.default_value) return std::nullopt;
      if (f.required) rep_.warning(loc(src, d), fmt::format("{} is required and has a default; the default always applies", what));
    }
  }
  return f;
}

std::optional<Value> FlowBuilder::value_of(const Source& src, const YAML::Node& n, const Type& t, std::string_view what,
                                           std::size_t depth) {
  // Aliases make a default as large (or as deep) as the alias graph allows: every node counts.
  if (!rep_.count(src, n) || !rep_.nest(src, n, depth)) return std::nullopt;
  if (n.IsNull()) return Value();
  auto bad = [&](std::string_view need) -> std::optional<Value> {
    rep_.error(loc(src, n), fmt::format("{} must be {}", what, need));
    return std::nullopt;
  };
  if (t.kind == K::list) {
    if (!n.IsSequence()) return bad("a list");
    List l;
    for (const auto& x : n) {
      auto v = value_of(src, x, t.item ? *t.item : Type{}, what, depth + 1);
      if (!v) return std::nullopt;
      l.push_back(std::move(*v));
    }
    return Value(std::move(l));
  }
  if (t.kind == K::map || (t.kind == K::any && n.IsMap())) {
    if (!n.IsMap()) return bad("a map");
    Map m;
    for (auto it = n.begin(); it != n.end(); ++it) {
      Type ft;
      if (t.fields)
        if (auto f = t.fields->find(it->first.Scalar()); f != t.fields->end()) ft = f->second;
      auto v = value_of(src, it->second, ft, what, depth + 1);
      if (!v) return std::nullopt;
      m[it->first.Scalar()] = std::move(*v);
    }
    return Value(std::move(m));
  }
  if (t.kind == K::any && n.IsSequence()) return value_of(src, n, Type::list_of(Type{}), what, depth);
  if (!n.IsScalar()) return bad("a single value");
  const std::string& s = n.Scalar();
  const bool quoted = n.Tag() == "!";
  switch (t.kind) {
    case K::string: return Value(s);
    case K::integer:
      if (auto v = whole_number(s)) return v;
      if (!int_literal(s)) return bad("a whole number");
      rep_.error(loc(src, n), fmt::format("{}: {} does not fit a 64-bit int (at least {}, at most {})", what, s,
                                          std::numeric_limits<std::int64_t>::min(), std::numeric_limits<std::int64_t>::max()));
      return std::nullopt;
    case K::number:
      if (auto d = parse_number(s)) return Value(*d);
      return bad("a number");
    case K::boolean:
      if (s == "true") return Value(true);
      if (s == "false") return Value(false);
      return bad("true or false");
    case K::datetime:
      if (auto tp = parse_iso8601(s)) return Value(*tp);
      return bad("an ISO-8601 datetime with an offset, e.g. 2026-11-23T08:00:00Z");
    case K::date:
      if (auto d = parse_iso_date(s)) return Value(*d);
      rep_.error(loc(src, n), fmt::format("{} must be a date: {}", what, iso_date_problem(s)));
      return std::nullopt;
    case K::duration:
      try {
        return Value(parse_duration(s));
      } catch (const Error& e) {
        rep_.error(loc(src, n), fmt::format("{}: {}", what, e.message()));
        return std::nullopt;
      }
    case K::enumeration:
      if (std::find(t.values.begin(), t.values.end(), s) != t.values.end()) return Value(s);
      rep_.error(loc(src, n), fmt::format("{}: '{}' is not one of {}{}", what, s, name_list(t.values), did_you_mean(s, t.values)));
      return std::nullopt;
    case K::any: return untyped_scalar(s, quoted);
    default: break;
  }
  return bad(t.str());
}

}  // namespace escalon::detail
