// Generated values of a workload model (src/sim/generate.hpp).

#include "sim/generate.hpp"

#include <fmt/format.h>

#include <cmath>

namespace escalon::detail {

Value Generator::value(const Gen& g, const Map& data) {
  switch (g.kind) {
    case Gen::Kind::literal: return g.literal;
    case Gen::Kind::choose: {
      double total = 0;
      for (const auto& [v, w] : g.choices) total += w;
      double u = draws_->uniform() * total;
      for (const auto& [v, w] : g.choices) {
        if (u < w) return v;
        u -= w;
      }
      return g.choices.back().first;
    }
    case Gen::Kind::bernoulli: return draws_->uniform() < g.p;
    case Gen::Kind::after: {
      const auto span = static_cast<double>((g.high - g.low).count());
      return TimePoint{std::chrono::round<std::chrono::minutes>(clock_.now() + g.low + Duration{static_cast<std::int64_t>(draws_->uniform() * span)})};
    }
    case Gen::Kind::sequence: return fmt::format("{}{}", g.text, ++sequences_[&g]);
    case Gen::Kind::expr: {
      EvalContext ctx;
      ctx.data = &data;
      ctx.now = clock_.now();
      return exprs_.at(&g).evaluate(ctx);
    }
    case Gen::Kind::uniform: {
      if (g.integer) {
        const auto lo = static_cast<std::int64_t>(g.lo), hi = static_cast<std::int64_t>(g.hi);
        return lo + static_cast<std::int64_t>(draws_->uniform() * static_cast<double>(hi - lo + 1));
      }
      return g.lo + draws_->uniform() * (g.hi - g.lo);
    }
    case Gen::Kind::list: {
      List l;
      for (std::int64_t i = 0; i < g.count; ++i) l.push_back(value(g.items.front(), data));
      return l;
    }
  }
  return {};
}

Map Generator::values(const GenMap& m, const Map& context) {
  Map out;
  std::optional<Map> seen;  // for expressions: the context plus the fields made so far
  for (const auto& [field, g] : m.fields) {
    if (g.kind == Gen::Kind::expr && !seen) {
      seen = context;
      for (const auto& [k, v] : out) (*seen)[k] = v;
    }
    Value v = value(g, g.kind == Gen::Kind::expr ? *seen : context);
    if (seen) (*seen)[field] = v;
    out[field] = std::move(v);
  }
  return out;
}

}  // namespace escalon::detail
