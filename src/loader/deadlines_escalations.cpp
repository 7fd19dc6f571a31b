// FlowBuilder: step deadlines, escalation ladders and their levels, and case-level SLAs (which
// carry ladders too).

#include <fmt/format.h>

#include <algorithm>

#include "loader/builder.hpp"
#include "base/numbers.hpp"
#include "base/suggest.hpp"

namespace escalon::detail {
namespace {
constexpr std::int64_t max_repeats = 1'000'000;  // repeats of one escalation level

using K = Type::Kind;

std::optional<double> parse_percent(std::string_view s) {
  if (s.empty() || s.back() != '%') return std::nullopt;
  s.remove_suffix(1);
  while (!s.empty() && s.back() == ' ') s.remove_suffix(1);
  if (s.empty()) return std::nullopt;
  const auto v = parse_number(s);
  if (!v || !(*v > 0) || *v > 1000) return std::nullopt;
  return *v / 100.0;
}

}  // namespace

std::optional<Deadline> FlowBuilder::deadline(const YAML::Node& n) {
  MapReader m(rep_, src_, n, "`deadline`", {"within", "at", "calendar", "escalate", "expire", "on_change", "catch_up"});
  if (!m.ok()) return std::nullopt;
  Deadline d;
  d.where = m.where();
  auto w = m.get("within");
  auto a = m.get("at");
  if ((w && a) || (!w && !a)) {
    rep_.error(m.where(), "a deadline needs exactly one of `within: DURATION` or `at: DATETIME-EXPRESSION`");
    return std::nullopt;
  }
  if (auto c = m.get("calendar")) {
    d.calendar = read_string(rep_, src_, *c, "`calendar`").value_or("");
    calendar_ref(d.calendar, loc(*c), false);
  }
  if (w) {
    d.within = duration(src_, *w, "`within`");
    if (d.within && d.within->is_business() && d.calendar.empty()) calendar_ref("", loc(*w), true);
  } else {
    ExprEnv e = env_;
    e.expected = Type::of(K::datetime);
    d.at = expr(*a, e, "`at`");
  }
  if (auto e = m.get("escalate")) d.escalate = ladder(*e, "`escalate`", d.within);
  if (auto e = m.get("expire")) {
    d.expire_index = step_ref(*e, "`expire`");
    if (d.expire_index >= 0) d.expire = e->Scalar();
  }
  if (auto p = m.get("on_change")) {
    auto v = read_string(rep_, src_, *p, "`on_change`").value_or("");
    if (v == "keep") d.on_change = ReschedulePolicy::keep;
    else if (v == "recompute") d.on_change = ReschedulePolicy::recompute;
    else if (v == "carry") d.on_change = ReschedulePolicy::carry;
    else rep_.error(loc(*p), fmt::format("`on_change` must be keep, recompute or carry, not '{}'", v));
  }
  if (auto p = m.get("catch_up")) {
    auto v = read_string(rep_, src_, *p, "`catch_up`").value_or("");
    if (v == "all") d.catch_up = CatchUp::all;
    else if (v == "latest") d.catch_up = CatchUp::latest;
    else rep_.error(loc(*p), fmt::format("`catch_up` must be all or latest, not '{}'", v));
  }
  return d;
}

std::vector<Escalation> FlowBuilder::ladder(const YAML::Node& n, const std::string& what,
                                           const std::optional<DurationSpec>& within) {
  std::vector<Escalation> out;
  if (!n.IsSequence()) {
    rep_.error(loc(n), fmt::format("{} must be a list of levels: - {{ at: 80%, notify: ROLE }}", what));
    return out;
  }
  std::vector<std::size_t> numbers;  // each level's place in the list (1-based)
  std::size_t place = 0;
  for (const auto& r : n) {
    if (!rep_.count(src_, r)) break;
    ++place;
    if (auto e = rung(r)) {
      out.push_back(std::move(*e));
      numbers.push_back(place);
    }
  }
  check_ladder_order(out, numbers, within);
  return out;
}

std::optional<Escalation> FlowBuilder::rung(const YAML::Node& n) {
  MapReader m(rep_, src_, n, "an escalation level",
              {"at", "after", "notify", "message", "subject", "reassign", "set", "priority", "emit", "goto", "repeat", "max"});
  if (!m.ok()) return std::nullopt;
  Escalation e;
  e.where = m.where();
  if (!rung_anchor(e, m)) return std::nullopt;
  rung_actions(e, m);
  rung_repeat(e, m);
  return e;
}

// `at: PERCENT` (a share of the deadline) or `after: DURATION` (past the due time).
bool FlowBuilder::rung_anchor(Escalation& e, const MapReader& m) {
  auto at = m.get("at");
  auto after = m.get("after");
  if ((at && after) || (!at && !after)) {
    rep_.error(m.where(), "an escalation level needs exactly one of `at: PERCENT` (share of the deadline) or "
                          "`after: DURATION` (past the due time)");
    return false;
  }
  if (at) {
    auto s = read_string(rep_, src_, *at, "`at`");
    auto p = s ? parse_percent(*s) : std::nullopt;
    if (!p) {
      rep_.error(loc(*at), fmt::format("`at` must be a share of the deadline such as 80% or 100%{}",
                                       s && !s->empty() && s->back() != '%' ? "; for a time past the deadline use `after:`" : ""));
      return false;
    }
    e.anchor = Escalation::Anchor::share;
    e.share = *p;
  } else {
    auto d = duration(src_, *after, "`after`");
    if (!d) return false;
    e.anchor = Escalation::Anchor::after;
    e.offset = *d;
    if (d->is_business()) calendar_ref("", loc(*after), true);
  }
  return true;
}

// What the level does: tell, reassign, change data or priority, send an event, move the case.
void FlowBuilder::rung_actions(Escalation& e, const MapReader& m) {
  if (auto v = m.get("notify"))
    for (auto& [r, node] : read_string_list(rep_, src_, *v, "`notify`")) {
      role_ref(r, loc(node), "`notify`");
      e.notify.push_back(r);
    }
  if (auto v = m.get("message")) e.body = message_template(*v, "`message`", e.message);
  if (auto v = m.get("subject")) {
    std::string text;
    e.subject = message_template(*v, "`subject`", text);
  }
  if (auto v = m.get("reassign")) {
    e.reassign = read_string(rep_, src_, *v, "`reassign`").value_or("");
    role_ref(e.reassign, loc(*v), "`reassign`");
  }
  if (auto v = m.get("set")) e.set = assignments(src_, *v, env_, "`set`", true);
  if (auto v = m.get("priority")) {
    e.priority = read_string(rep_, src_, *v, "`priority`").value_or("");
    const DataField* f = flow_.find_field("priority");
    if (!f) {
      rep_.error(loc(*v), "`priority:` sets the data field 'priority', which this flow does not declare; add "
                          "priority: { type: enum, values: [normal, high, urgent] } under `data:`");
    } else if (f->type.kind == K::enumeration &&
               std::find(f->type.values.begin(), f->type.values.end(), e.priority) == f->type.values.end()) {
      rep_.error(loc(*v), fmt::format("priority '{}' is not one of {}{}", e.priority, name_list(f->type.values),
                                      did_you_mean(e.priority, f->type.values)));
    }
  }
  if (auto v = m.get("emit")) {
    e.emit = read_string(rep_, src_, *v, "`emit`").value_or("");
    if (!is_event_name(e.emit)) rep_.error(loc(*v), fmt::format("event name '{}' must be lowercase letters, digits, '-', '_' or '.'", e.emit));
    else emitted_.emplace_back(e.emit, loc(*v));
  }
  if (auto v = m.get("goto")) {
    e.go_to_index = step_ref(*v, "`goto`");
    if (e.go_to_index >= 0) e.go_to = v->Scalar();
  }
}

void FlowBuilder::rung_repeat(Escalation& e, const MapReader& m) {
  if (auto v = m.get("repeat")) {
    auto s = read_string(rep_, src_, *v, "`repeat`");
    if (s) {
      if (!s->starts_with("every ")) {
        rep_.error(loc(*v), fmt::format("`repeat` must read `every DURATION`, e.g. every 1 business hour (got '{}')", *s));
      } else {
        try {
          e.repeat = parse_duration_spec(s->substr(6));
          // Business units count too: `every 0 business minutes` would fire again at the same
          // instant forever.
          if (e.repeat->basis == TimeBasis::business_days ? e.repeat->days < 1 : e.repeat->length < std::chrono::minutes{1})
            rep_.error(loc(*v), "`repeat` must be at least every 1 minute");
          if (e.repeat->is_business()) calendar_ref("", loc(*v), true);
        } catch (const Error& err) {
          rep_.error(loc(*v), fmt::format("`repeat`: {}", err.message()));
        }
      }
    }
  }
  if (auto v = m.get("max")) {
    auto x = read_int(rep_, src_, *v, "`max`");
    // Kept as a 32-bit count (like the `repeat` number in records): larger values were truncated.
    if (x && (*x < 1 || *x > max_repeats))
      rep_.error(loc(*v), fmt::format("`max` must be between 1 and {} (it is {})", max_repeats, *x));
    else if (x) e.max = static_cast<std::int32_t>(*x);
    if (!m.has("repeat")) rep_.error(loc(*v), "`max` limits `repeat`; without `repeat` a level fires once anyway");
  }
}

void FlowBuilder::slas(const YAML::Node& n) {
  MapReader m(rep_, src_, n, "`sla`", std::vector<std::string>{});
  for (const auto& [k, v] : m.entries()) {
    if (!is_kebab_id(k.Scalar())) {
      rep_.error(loc(k), fmt::format("SLA name '{}' must be lowercase letters, digits and '-'", k.Scalar()));
      continue;
    }
    MapReader sm(rep_, src_, v, fmt::format("SLA '{}'", k.Scalar()),
                 {"within", "calendar", "start_in", "pause_in", "stop_in", "role", "warn_at", "notify", "escalate",
                  "description"});
    if (!sm.ok()) continue;
    Sla s;
    s.name = k.Scalar();
    s.where = loc(k);
    if (auto c = sm.get("calendar")) {
      s.calendar = read_string(rep_, src_, *c, "`calendar`").value_or("");
      calendar_ref(s.calendar, loc(*c), false);
    }
    if (auto w = sm.get("within")) {
      if (auto d = duration(src_, *w, "`within`")) {
        s.within = *d;
        if (d->is_business() && s.calendar.empty()) calendar_ref("", loc(*w), true);
      }
    } else {
      rep_.error(sm.where(), fmt::format("SLA '{}' needs `within: DURATION`", s.name));
    }
    for (const char* key : {"pause_in", "stop_in"})
      if (auto p = sm.get(key))
        for (auto& [name, node] : read_string_list(rep_, src_, *p, fmt::format("`{}`", key)))
          if (scope_ref(name, loc(node), fmt::format("`{}`", key)))
            (std::string(key) == "pause_in" ? s.pause_in : s.stop_in).push_back(name);
    if (auto p = sm.get("start_in"))
      if (auto name = read_string(rep_, src_, *p, "`start_in`"); name && scope_ref(*name, loc(*p), "`start_in`"))
        s.start_in = *name;
    if (auto r = sm.get("role")) {
      s.role = read_string(rep_, src_, *r, "`role`").value_or("");
      role_ref(s.role, loc(*r), "`role`");
      if (std::none_of(flow_.steps.begin(), flow_.steps.end(), [&](const Step& st) { return st.role == s.role; }))
        rep_.warning(loc(*r), fmt::format("no step has role '{}', so this clock never runs", s.role));
    }
    if (auto w = sm.get("warn_at")) {
      auto t = read_string(rep_, src_, *w, "`warn_at`");
      auto p = t ? parse_percent(*t) : std::nullopt;
      if (!p || *p >= 1.0) rep_.error(loc(*w), "`warn_at` must be a share below 100%, e.g. 75%");
      else s.warn_at = *p;
    }
    if (auto v = sm.get("notify")) {
      for (auto& [r, node] : read_string_list(rep_, src_, *v, "`notify`")) {
        role_ref(r, loc(node), "`notify`");
        s.notify.push_back(r);
      }
    }
    if (auto e = sm.get("escalate"))
      s.escalate = ladder(*e, "`escalate`", sm.has("within") ? std::optional<DurationSpec>(s.within) : std::nullopt);
    flow_.slas.push_back(std::move(s));
  }
}

}  // namespace escalon::detail
