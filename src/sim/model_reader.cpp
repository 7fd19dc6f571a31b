// Simulation model files (YAML): read here, next to the flow loader, because this folder is
// where yaml-cpp lives. What the model means is in src/sim/simulate.cpp and docs/simulation.md.

#include <fmt/format.h>

#include <date/tz.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <limits>
#include <set>
#include <sstream>

#include "loader/yaml_reader.hpp"
#include "sim/model.hpp"

namespace escalon {
namespace {

using detail::Dist;
using detail::Gen;
using detail::GenMap;
using detail::MapReader;
using detail::Reporter;
using detail::Source;

class ModelReader {
 public:
  ModelReader(Reporter& rep, const Source& src) : rep_(rep), src_(src) {}

  void read(const YAML::Node& root, detail::SimModelData& m) {
    MapReader top(rep_, src_, root, "the model",
                  {"model", "description", "start", "timezone", "arrivals", "staff", "steps", "actions"});
    if (!top.ok()) return;
    if (auto n = top.get("model")) m.name = detail::read_string(rep_, src_, *n, "`model`").value_or("");
    else rep_.error({src_.file, 1, 1}, "missing `model: NAME` (what the report calls this model)");
    if (auto n = top.get("start")) {
      auto s = detail::read_string(rep_, src_, *n, "`start`");
      auto t = s ? parse_iso8601(*s) : std::nullopt;
      if (s && !t) rep_.error(loc(*n), fmt::format("`start` '{}' is not an instant; write e.g. 2026-11-23T00:00:00Z", *s));
      m.start = t.value_or(TimePoint{});
    } else {
      rep_.error({src_.file, 1, 1}, "missing `start`: when the simulated month begins, e.g. start: 2026-11-23T00:00:00Z");
    }
    if (auto n = top.get("timezone")) m.timezone = time_zone(*n);
    if (auto n = top.get("arrivals")) arrivals(*n, m);
    else rep_.error({src_.file, 1, 1}, "missing `arrivals`: which flows get cases, and how many a day");
    if (auto n = top.get("staff")) staff(*n, m);
    if (auto n = top.get("steps")) steps(*n, m);
    if (auto n = top.get("actions")) actions(*n, m);
  }

 private:
  Reporter& rep_;
  const Source& src_;

  SourceLocation loc(const YAML::Node& n) const { return detail::location(src_, n); }

  // Checked here, where its line is known; the simulation's checks see only the name.
  std::string time_zone(const YAML::Node& n) {
    auto name = detail::read_string(rep_, src_, n, "`timezone`");
    if (!name) return "UTC";
    try {
      (void)date::locate_zone(*name);
    } catch (const std::exception&) {
      rep_.error(loc(n), fmt::format("unknown time zone '{}'; use an IANA name such as Europe/Zagreb", *name));
    }
    return *name;
  }

  std::optional<double> number(const YAML::Node& n, std::string_view what, double min = 0,
                               double max = std::numeric_limits<double>::max()) {
    double d = 0;
    const std::string& s = n.IsScalar() ? n.Scalar() : std::string();
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), d);
    if (!n.IsScalar() || ec != std::errc{} || p != s.data() + s.size() || !std::isfinite(d)) {
      rep_.error(loc(n), fmt::format("{} must be a number", what));
      return std::nullopt;
    }
    if (d < min) {
      rep_.error(loc(n), fmt::format("{} must be at least {}", what, min));
      return std::nullopt;
    }
    if (d > max) {
      rep_.error(loc(n), fmt::format("{} must be at most {}", what, max));
      return std::nullopt;
    }
    return d;
  }

  std::optional<Duration> duration(const YAML::Node& n, std::string_view what) {
    auto s = detail::read_string(rep_, src_, n, what);
    if (!s) return std::nullopt;
    try {
      return parse_duration(*s);
    } catch (const Error& e) {
      rep_.error(loc(n), fmt::format("{}: {}", what, e.message()));
      return std::nullopt;
    }
  }

  // "6m" (fixed), { exponential: 6m }, { lognormal: 20m, sd: 10m }, { uniform: [5m, 10m] }.
  std::optional<Dist> dist(const YAML::Node& n, std::string_view what) {
    Dist d;
    if (n.IsScalar()) {
      auto v = duration(n, what);
      if (!v) return std::nullopt;
      d.mean = *v;
      return d;
    }
    MapReader m(rep_, src_, n, std::string(what), {"fixed", "exponential", "lognormal", "sd", "uniform"});
    if (!m.ok()) return std::nullopt;
    const int kinds = int(m.has("fixed")) + int(m.has("exponential")) + int(m.has("lognormal")) + int(m.has("uniform"));
    if (kinds != 1) {
      rep_.error(m.where(), fmt::format("{} needs exactly one of `fixed: 5m`, `exponential: 6m` (the mean), "
                                        "`lognormal: 20m` with `sd: 10m`, or `uniform: [5m, 10m]`",
                                        what));
      return std::nullopt;
    }
    if (m.has("sd") && !m.has("lognormal")) rep_.error(loc(*m.get("sd")), "`sd` goes with `lognormal`");
    std::optional<Duration> v;
    if (auto x = m.get("fixed")) {
      v = duration(*x, "`fixed`");
    } else if (auto x = m.get("exponential")) {
      d.kind = Dist::Kind::exponential;
      v = duration(*x, "`exponential`");
    } else if (auto x = m.get("lognormal")) {
      d.kind = Dist::Kind::lognormal;
      v = duration(*x, "`lognormal`");
      if (auto sd = m.get("sd")) d.sd = duration(*sd, "`sd`").value_or(Duration{0});
      else rep_.error(m.where(), "`lognormal` needs `sd:` (the standard deviation, e.g. sd: 10m)");
    } else if (auto x = m.get("uniform")) {
      d.kind = Dist::Kind::uniform;
      if (!x->IsSequence() || x->size() != 2) {
        rep_.error(loc(*x), "`uniform` takes [LOW, HIGH], e.g. uniform: [5m, 10m]");
        return std::nullopt;
      }
      v = duration((*x)[0], "the low end");
      d.sd = duration((*x)[1], "the high end").value_or(Duration{0});
      if (v && d.sd < *v) rep_.error(loc(*x), "`uniform`: the high end is below the low end");
    }
    if (!v) return std::nullopt;
    if (d.kind != Dist::Kind::fixed && d.kind != Dist::Kind::uniform && v->count() <= 0)
      rep_.error(m.where(), fmt::format("{}: the mean must be longer than 0", what));
    d.mean = *v;
    return d;
  }

  Value literal(const YAML::Node& n, std::size_t depth = 0) {
    return detail::untyped_value(rep_, src_, n, depth).value_or(Value());
  }

  // `list:` nests generated values, and an alias can make one contain itself: depth is bounded.
  Gen gen(const YAML::Node& n, std::size_t depth = 0) {
    Gen g;
    g.where = loc(n);
    if (!rep_.nest(src_, n, depth)) return g;
    if (!n.IsMap()) {
      g.literal = literal(n, depth);
      return g;
    }
    MapReader m(rep_, src_, n, "a generated value", {"choose", "p", "after", "sequence", "expr", "uniform", "list", "count"});
    if (!m.ok()) return g;
    const int kinds = int(m.has("choose")) + int(m.has("p")) + int(m.has("after")) + int(m.has("sequence")) +
                      int(m.has("expr")) + int(m.has("uniform")) + int(m.has("list"));
    if (kinds != 1) {
      rep_.error(m.where(), "a generated value is one of `choose: {a: 3, b: 1}`, `p: 0.3` (true with that "
                            "probability), `after: 2d` or `after: [1d, 5d]` (a datetime), `sequence: PO-`, "
                            "`expr: EXPRESSION` (over the case data), `uniform: [1, 10]`, `list: VALUE` with `count: N`");
      return g;
    }
    if (m.has("count") && !m.has("list")) rep_.error(loc(*m.get("count")), "`count` goes with `list`");
    if (auto x = m.get("choose")) {
      g.kind = Gen::Kind::choose;
      // Read directly, not through MapReader: `~: 1` (choose null, e.g. "nobody is free") is a
      // null key, which MapReader refuses for flows.
      if (!x->IsMap()) {
        rep_.error(loc(*x), "`choose` takes a map of value: weight, e.g. choose: { phone: 6, email: 2 }");
        return g;
      }
      double total = 0;
      for (auto it = x->begin(); it != x->end(); ++it) {
        const YAML::Node k = it->first, v = it->second;
        if (!rep_.count(src_, v)) break;
        const double w = number(v, "a weight").value_or(0);
        total += w;
        g.choices.emplace_back(k.IsNull() || k.Scalar() == "~" ? Value{} : literal(k), w);
      }
      if (total <= 0) rep_.error(loc(*x), "`choose` needs at least one weight above 0");
    } else if (auto x = m.get("p")) {
      g.kind = Gen::Kind::bernoulli;
      g.p = number(*x, "`p`").value_or(0);
      if (g.p > 1) rep_.error(loc(*x), "`p` is a probability: between 0 and 1");
    } else if (auto x = m.get("after")) {
      g.kind = Gen::Kind::after;
      if (x->IsSequence() && x->size() == 2) {
        g.low = duration((*x)[0], "`after`").value_or(Duration{0});
        g.high = duration((*x)[1], "`after`").value_or(Duration{0});
        if (g.high < g.low) rep_.error(loc(*x), "`after: [LOW, HIGH]`: the high end is below the low end");
      } else {
        g.low = g.high = duration(*x, "`after`").value_or(Duration{0});
      }
    } else if (auto x = m.get("sequence")) {
      g.kind = Gen::Kind::sequence;
      g.text = detail::read_string(rep_, src_, *x, "`sequence`").value_or("");
    } else if (auto x = m.get("expr")) {
      g.kind = Gen::Kind::expr;
      g.text = detail::read_string(rep_, src_, *x, "`expr`").value_or("");
      g.where = loc(*x);
    } else if (auto x = m.get("uniform")) {
      g.kind = Gen::Kind::uniform;
      if (!x->IsSequence() || x->size() != 2) {
        rep_.error(loc(*x), "`uniform` takes [LOW, HIGH], e.g. uniform: [1, 10]");
        return g;
      }
      const auto a = literal((*x)[0]), b = literal((*x)[1]);
      g.integer = a.kind() == Value::Kind::integer && b.kind() == Value::Kind::integer;
      g.lo = number((*x)[0], "the low end", -1e300).value_or(0);
      g.hi = number((*x)[1], "the high end", -1e300).value_or(0);
      if (g.hi < g.lo) rep_.error(loc(*x), "`uniform`: the high end is below the low end");
    } else if (auto x = m.get("list")) {
      g.kind = Gen::Kind::list;
      g.items.push_back(gen(*x, depth + 1));
      if (auto c = m.get("count")) {
        g.count = detail::read_int(rep_, src_, *c, "`count`").value_or(1);
        if (g.count < 0 || g.count > 1000) rep_.error(loc(*c), "`count` must be between 0 and 1000");
      }
    }
    return g;
  }

  GenMap gen_map(const YAML::Node& n, std::string_view what) {
    GenMap out;
    out.where = loc(n);
    MapReader m(rep_, src_, n, std::string(what), std::vector<std::string>{});
    for (const auto& [k, v] : m.entries()) {
      out.fields.emplace_back(k.Scalar(), gen(v));
      out.keys.push_back(loc(k));
    }
    return out;
  }

  // Weekday weights: { mon-fri: 1, sat: 0.3 }; days not listed weigh 0.
  std::array<double, 7> weekdays(const YAML::Node& n) {
    std::array<double, 7> w{};
    MapReader m(rep_, src_, n, "`by_weekday`", std::vector<std::string>{});
    for (const auto& [k, v] : m.entries()) {
      const double weight = number(v, "a weekday weight").value_or(0);
      const auto on = days(k.Scalar(), k);
      for (std::size_t i = 0; i < on.size(); ++i)
        if (on[i]) w[i] = weight;
    }
    return w;
  }

  // "mon", "mon-fri", "sat,sun": the days named (Monday first).
  std::array<bool, 7> days(const std::string& text, const YAML::Node& where) {
    static const std::array<std::string_view, 7> names = {"mon", "tue", "wed", "thu", "fri", "sat", "sun"};
    const auto day = [&](std::string_view d) {
      const auto it = std::find(names.begin(), names.end(), d);
      return it == names.end() ? -1 : static_cast<int>(it - names.begin());
    };
    std::array<bool, 7> on{};
    std::stringstream parts(text);
    std::string part;
    while (std::getline(parts, part, ',')) {
      const auto dash = part.find('-');
      const int a = day(part.substr(0, dash)), b = dash == std::string::npos ? a : day(part.substr(dash + 1));
      if (a < 0 || b < 0 || b < a) {
        rep_.error(loc(where), fmt::format("'{}' is not a day or a range of days; write mon, mon-fri or sat,sun", part));
        continue;
      }
      for (int i = a; i <= b; ++i) on[static_cast<std::size_t>(i)] = true;
    }
    return on;
  }

  // Hour-of-day weights: a list of 24 numbers, or { 8: 3, "9-12": 4 } (hours not listed weigh 0).
  std::array<double, 24> hours(const YAML::Node& n) {
    std::array<double, 24> w{};
    if (n.IsSequence()) {
      if (n.size() != 24) rep_.error(loc(n), fmt::format("`by_hour` as a list needs 24 weights (hour 0 to 23), not {}", n.size()));
      for (std::size_t i = 0; i < std::min<std::size_t>(24, n.size()); ++i) w[i] = number(n[i], "an hour weight").value_or(0);
      return w;
    }
    MapReader m(rep_, src_, n, "`by_hour`", std::vector<std::string>{});
    for (const auto& [k, v] : m.entries()) {
      const double weight = number(v, "an hour weight").value_or(0);
      const std::string& s = k.Scalar();
      const auto dash = s.find('-');
      int a = -1, b = -1;
      auto num = [](std::string_view t, int& out) {
        auto [p, ec] = std::from_chars(t.data(), t.data() + t.size(), out);
        return ec == std::errc{} && p == t.data() + t.size();
      };
      const bool ok = dash == std::string::npos ? (num(s, a) && (b = a + 1, true))
                                                : num(std::string_view(s).substr(0, dash), a) &&
                                                      num(std::string_view(s).substr(dash + 1), b);
      if (!ok || a < 0 || b > 24 || b <= a) {
        rep_.error(loc(k), fmt::format("'{}' is not an hour (0-23) or a range of hours like 9-12 (9:00 to 12:00)", s));
        continue;
      }
      for (int i = a; i < b; ++i) w[static_cast<std::size_t>(i)] = weight;
    }
    return w;
  }

  void arrivals(const YAML::Node& n, detail::SimModelData& model) {
    MapReader top(rep_, src_, n, "`arrivals`", std::vector<std::string>{});
    for (const auto& [k, v] : top.entries()) {
      detail::SimArrival a;
      a.flow = k.Scalar();
      a.where = loc(k);
      a.by_hour.fill(1);
      a.by_weekday.fill(1);
      MapReader m(rep_, src_, v, fmt::format("arrivals of '{}'", a.flow), {"per_day", "by_hour", "by_weekday", "channel", "data"});
      if (!m.ok()) continue;
      // A contact center's day, not a denial of service: a million cases a day per flow at most.
      if (auto x = m.get("per_day")) a.per_day = number(*x, "`per_day`", 0, 1'000'000).value_or(0);
      else rep_.error(m.where(), fmt::format("arrivals of '{}' need `per_day:` (cases on an average weekday)", a.flow));
      if (auto x = m.get("by_hour")) a.by_hour = hours(*x);
      if (auto x = m.get("by_weekday")) a.by_weekday = weekdays(*x);
      double sum = 0;
      for (double h : a.by_hour) sum += h;
      if (sum <= 0) rep_.error(m.where(), "`by_hour` gives every hour weight 0: no case would ever arrive");
      a.channel.literal = Value(std::string());
      if (auto x = m.get("channel")) a.channel = gen(*x);
      if (auto x = m.get("data")) a.data = gen_map(*x, "`data`");
      model.arrivals.push_back(std::move(a));
    }
  }

  void staff(const YAML::Node& n, detail::SimModelData& model) {
    MapReader top(rep_, src_, n, "`staff`", std::vector<std::string>{});
    for (const auto& [k, v] : top.entries()) {
      detail::SimStaff s;
      s.role = k.Scalar();
      s.where = loc(k);
      MapReader m(rep_, src_, v, fmt::format("staff of '{}'", s.role),
                  {"agents", "capacity", "calendar", "queue", "serves", "shifts", "breaks"});
      if (!m.ok()) continue;
      if (auto x = m.get("agents")) s.agents = count(*x, "`agents`", 100000);
      if (auto x = m.get("capacity")) s.capacity = count(*x, "`capacity`", 100);
      if (auto x = m.get("calendar")) s.calendar = detail::read_string(rep_, src_, *x, "`calendar`").value_or("");
      if (auto x = m.get("serves")) serves(*x, s);
      if (auto x = m.get("queue")) queue_order(*x, s);
      if (auto x = m.get("breaks")) s.breaks = breaks(*x);
      if (auto x = m.get("shifts")) {
        if (m.has("agents"))
          rep_.error(loc(*m.get("agents")), fmt::format("staff of '{}': with `shifts`, give `agents` per shift (the team is "
                                                        "their sum)", s.role));
        shifts(*x, s);
      }
      if (s.agents > 100000) rep_.error(m.where(), fmt::format("staff of '{}': more than 100000 agents in all", s.role));
      model.staff.push_back(std::move(s));
    }
  }

  // A whole number from 1 to `most` (agents, capacity); 1 after an error.
  std::int32_t count(const YAML::Node& n, std::string_view what, std::int64_t most) {
    const auto v = detail::read_int(rep_, src_, n, what);
    if (!v) return 1;
    if (*v < 1 || *v > most) {
      rep_.error(loc(n), fmt::format("{} must be between 1 and {}", what, most));
      return 1;
    }
    return static_cast<std::int32_t>(*v);
  }

  // `serves: [back-office, front-office]`: the roles whose work the team takes, the first
  // preferred whenever it has work waiting.
  void serves(const YAML::Node& n, detail::SimStaff& s) {
    for (auto& [role, node] : detail::read_string_list(rep_, src_, n, "`serves`")) {
      if (std::find(s.serves.begin(), s.serves.end(), role) != s.serves.end()) {
        rep_.error(loc(node), fmt::format("`serves` names '{}' twice", role));
        continue;
      }
      s.serves.push_back(role);
      s.serves_where.push_back(loc(node));
    }
    if (s.serves.empty()) rep_.error(loc(n), "`serves` lists the roles the team works for, the first preferred");
  }

  void queue_order(const YAML::Node& x, detail::SimStaff& s) {
    const auto order = detail::read_string(rep_, src_, x, "`queue`").value_or("priority");
    if (order != "priority" && order != "fifo")
      rep_.error(loc(x), fmt::format("`queue` is 'priority' (the case's `priority` first, then the longest waiting) or "
                                     "'fifo' (the longest waiting), not '{}'", order));
    // A queue belongs to a role: a team named after a role sets that role's order.
    const auto roles = s.roles();
    if (std::find(roles.begin(), roles.end(), s.role) == roles.end())
      rep_.error(loc(x), fmt::format("`queue` orders the queue of role '{}', which this team does not serve; set it on the "
                                     "entry of the role whose queue it orders, or add '{}' to `serves`", s.role, s.role));
    s.fifo = order == "fifo";
  }

  // "08:30" as seconds of the day; 24:00 only as an end.
  std::optional<std::int32_t> time_of_day(std::string_view t, bool end) {
    int h = -1, mi = -1;
    const auto colon = t.find(':');
    if (colon == std::string_view::npos) return std::nullopt;
    const auto num = [](std::string_view d, int& out) {  // digits only: from_chars would take a sign
      if (d.empty() || d.size() > 2 || !std::all_of(d.begin(), d.end(), [](char c) { return c >= '0' && c <= '9'; })) return false;
      return std::from_chars(d.data(), d.data() + d.size(), out).ec == std::errc{};
    };
    if (!num(t.substr(0, colon), h) || !num(t.substr(colon + 1), mi) || t.size() - colon != 3 || mi > 59) return std::nullopt;
    if (h > 24 || (h == 24 && (mi != 0 || !end))) return std::nullopt;
    return (h * 60 + mi) * 60;
  }

  // "08:00-16:00" (a shift's `hours`, a break's `at`); a single time when `single` is allowed.
  // {-1, -1} when it is not one.
  std::pair<std::int32_t, std::int32_t> time_range(const YAML::Node& n, std::string_view what, bool single) {
    const auto s = detail::read_string(rep_, src_, n, what);
    if (!s) return {-1, -1};
    const auto dash = s->find('-');
    const auto from = time_of_day(std::string_view(*s).substr(0, dash), false);
    const auto to = dash == std::string::npos ? from : time_of_day(std::string_view(*s).substr(dash + 1), true);
    if (!from && time_of_day(std::string_view(*s).substr(0, dash), true)) {
      rep_.error(loc(n), fmt::format("{} '{}' starts at 24:00, which is only an end; start at 00:00", what, *s));
      return {-1, -1};
    }
    if (!from || !to || (dash == std::string::npos && !single)) {
      rep_.error(loc(n), fmt::format("{} '{}' is not {}local times like 08:00-16:00", what, *s, single ? "a local time (12:00) or " : ""));
      return {-1, -1};
    }
    return {*from, *to};
  }

  // Days a shift starts on: "mon-fri", "sat,sun" or a list of those.
  std::array<bool, 7> day_set(const YAML::Node& n) {
    std::array<bool, 7> on{};
    for (auto& [text, node] : detail::read_string_list(rep_, src_, n, "`days`")) {
      const auto some = days(text, node);
      for (std::size_t i = 0; i < on.size(); ++i) on[i] = on[i] || some[i];
    }
    return on;
  }

  void shifts(const YAML::Node& n, detail::SimStaff& s) {
    if (!n.IsSequence() || n.size() == 0) {
      rep_.error(loc(n), "`shifts` is a list of { agents: 4, hours: 08:00-16:00, days: mon-fri }");
      return;
    }
    std::int64_t total = 0;
    for (const auto& item : n) {
      detail::SimShift sh;
      sh.where = loc(item);
      sh.days.fill(true);
      MapReader m(rep_, src_, item, "a shift", {"agents", "hours", "days", "breaks"});
      if (!m.ok()) continue;
      if (auto x = m.get("agents")) sh.agents = count(*x, "a shift's `agents`", 100000);
      if (auto x = m.get("hours")) {
        // 08:00-08:00 is 24 hours from 08:00; 00:00-24:00 a whole day.
        std::tie(sh.from, sh.to) = time_range(*x, "`hours`", false);
      } else {
        rep_.error(m.where(), "a shift needs `hours:`, e.g. hours: 08:00-16:00 (22:00-06:00 runs past midnight)");
      }
      if (auto x = m.get("days")) {
        sh.days = day_set(*x);
        if (std::find(sh.days.begin(), sh.days.end(), true) == sh.days.end()) rep_.error(loc(*x), "`days` names no day");
      }
      if (auto x = m.get("breaks")) sh.breaks = breaks(*x);
      total += sh.agents;
      s.shifts.push_back(std::move(sh));
    }
    s.agents = static_cast<std::int32_t>(std::min<std::int64_t>(total, 100001));  // past 100000: refused
  }

  // Breaks: [{ at: 12:00, for: 30m }, { at: 10:00-11:00, for: 15m }]: each agent once a day.
  std::vector<detail::SimBreak> breaks(const YAML::Node& n) {
    std::vector<detail::SimBreak> out;
    if (!n.IsSequence()) {
      rep_.error(loc(n), "`breaks` is a list of { at: 11:30-13:30, for: 30m } (each agent once, spread over the window)");
      return out;
    }
    for (const auto& item : n) {
      detail::SimBreak b;
      b.where = loc(item);
      MapReader m(rep_, src_, item, "a break", {"at", "for"});
      if (!m.ok()) continue;
      const auto length = m.has("for") ? duration(*m.get("for"), "`for`") : std::nullopt;
      if (!m.has("for")) rep_.error(m.where(), "a break needs `for:`, how long it lasts (e.g. for: 30m)");
      const auto at = m.has("at") ? time_range(*m.get("at"), "`at`", true) : std::pair{-1, -1};
      if (!m.has("at")) rep_.error(m.where(), "a break needs `at:`, a local time (12:00) or a window (11:30-13:30)");
      if (!length || at.first < 0) continue;
      const auto secs = std::chrono::duration_cast<std::chrono::seconds>(*length).count();
      if (secs <= 0 || secs > 12 * 3600) {
        rep_.error(loc(*m.get("for")), "a break's `for` must be between 1s and 12h");
        continue;
      }
      if (at.second < at.first) {
        rep_.error(loc(*m.get("at")), "a break's window ends before it starts; a break stays within one day (00:00-24:00)");
        continue;
      }
      b.from = at.first;
      b.length = static_cast<std::int32_t>(secs);
      b.to = at.first == at.second ? at.first + b.length : at.second;
      if (b.to - b.from < b.length || b.to > 86400) {
        rep_.error(loc(*m.get("at")), fmt::format("a break of {} does not fit in its window of the day", format_duration(*length)));
        continue;
      }
      out.push_back(b);
    }
    return out;
  }

  void steps(const YAML::Node& n, detail::SimModelData& model) {
    MapReader top(rep_, src_, n, "`steps`", std::vector<std::string>{});
    for (const auto& [k, v] : top.entries()) {
      detail::SimStep s;
      s.where = loc(k);
      const std::string& key = k.Scalar();
      const auto slash = key.find('/');
      if (slash == std::string::npos) {
        rep_.error(s.where, fmt::format("'{}': name steps as FLOW/STEP, e.g. technician-visit/intake", key));
        continue;
      }
      s.flow = key.substr(0, slash);
      s.step = key.substr(slash + 1);
      MapReader m(rep_, src_, v, fmt::format("step '{}'", key), {"work", "delay", "events", "starts_at"});
      if (!m.ok()) continue;
      if (m.has("work") == m.has("delay")) {
        rep_.error(m.where(), fmt::format("step '{}' needs either `work:` (staff of its role do it) or `delay:` (the "
                                          "customer, a supplier or a system answers)",
                                          key));
        continue;
      }
      if (auto x = m.get("work")) s.work = dist(*x, "`work`");
      if (auto x = m.get("delay")) s.delay = dist(*x, "`delay`");
      if (auto x = m.get("starts_at")) {
        s.starts_at = detail::read_string(rep_, src_, *x, "`starts_at`").value_or("");
        s.starts_at_where = loc(*x);
        if (!m.has("work"))
          rep_.error(s.starts_at_where, fmt::format("step '{}': `starts_at` is for `work:` (staff start at the booked time); "
                                                    "a `delay:` counts from entering the step",
                                                    key));
      }
      auto ev = m.get("events");
      if (!ev || !ev->IsSequence() || ev->size() == 0) {
        rep_.error(ev ? loc(*ev) : m.where(), fmt::format("step '{}' needs `events:`, a list of {{ send: EVENT, p: 0.8 }}", key));
        continue;
      }
      double total = 0;
      for (const auto& e : *ev) {
        if (!rep_.count(src_, e)) break;
        MapReader em(rep_, src_, e, "an event", {"send", "p", "data"});
        if (!em.ok()) continue;
        detail::SimEvent se;
        se.where = em.where();
        if (auto x = em.get("send")) se.event = detail::read_string(rep_, src_, *x, "`send`").value_or("");
        else rep_.error(em.where(), "an event needs `send: EVENT`");
        if (auto x = em.get("p")) {
          se.p = number(*x, "`p`").value_or(0);
          if (se.p > 1) rep_.error(loc(*x), "`p` is a probability: between 0 and 1");
        }
        if (auto x = em.get("data")) se.data = gen_map(*x, "`data`");
        total += se.p;
        s.events.push_back(std::move(se));
      }
      if (total > 1 + 1e-9)
        rep_.error(loc(*ev), fmt::format("the events' `p` add up to {:.3g}; at most 1", total));
      else if (s.work && total < 1 - 1e-9)
        rep_.error(loc(*ev), fmt::format("the events' `p` add up to {:.3g}: work always ends with one of them, so they "
                                         "must add up to 1",
                                         total));
      model.steps.push_back(std::move(s));
    }
  }

  void actions(const YAML::Node& n, detail::SimModelData& model) {
    MapReader top(rep_, src_, n, "`actions`", std::vector<std::string>{});
    for (const auto& [k, v] : top.entries()) {
      detail::SimAction a;
      a.name = k.Scalar();
      a.where = loc(k);
      if (!v.IsNull()) {
        MapReader m(rep_, src_, v, fmt::format("action '{}'", a.name), {"fail", "set"});
        if (!m.ok()) continue;
        if (auto x = m.get("fail")) {
          a.fail = number(*x, "`fail`").value_or(0);
          if (a.fail > 1) rep_.error(loc(*x), "`fail` is a probability: between 0 and 1");
        }
        if (auto x = m.get("set")) a.set = gen_map(*x, "`set`");
      }
      model.actions.push_back(std::move(a));
    }
  }
};

SimModel read_model(Source src) {
  std::vector<Diagnostic> diags;
  LoadOptions opts;
  Reporter rep(diags, opts);
  auto data = std::make_shared<detail::SimModelData>();
  data->file = src.file;
  if (auto root = detail::parse_yaml(rep, src)) ModelReader(rep, src).read(*root, *data);
  if (std::any_of(diags.begin(), diags.end(), [](const Diagnostic& d) { return d.severity == Severity::error; }))
    throw FlowError(std::move(diags));
  return SimAccess::make(std::move(data));
}

}  // namespace

SimModel SimModel::load(const std::string& path) {
  return read_model(detail::read_source(path, "cannot read the model file", LoadOptions{}));
}

SimModel SimModel::parse(std::string_view yaml, std::string_view name) { return read_model({std::string(name), std::string(yaml)}); }

const std::string& SimModel::name() const noexcept { return data_->name; }
TimePoint SimModel::start() const noexcept { return data_->start; }

}  // namespace escalon
