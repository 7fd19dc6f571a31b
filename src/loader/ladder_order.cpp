// FlowBuilder's check that an escalation ladder lists its levels in the order they fire (level
// numbers follow the list, and records, reports and people read them as an order).
//
// A level fires at a share of the deadline (`at: 80%`) or some time after the due time
// (`after: 1 business hour`). The runtime (runtime/clock_math.cpp) measures a share on the
// deadline's own clock (wall or working time from entering the step) and an `after:` offset from
// the due time in the offset's own unit, on the deadline's calendar. So when the deadline has a
// fixed length in wall time or business hours, every level is a point, or an interval when its
// unit differs from the deadline's, on one measure: time on the deadline's clock since the step
// was entered. Business time never runs faster than wall time, which bounds the mixed cases:
// `after: 30m` on a business-hours deadline fires within 30 business minutes of the due time;
// `after: 1 business hour` on a wall-time deadline at least an hour after it. When the length is
// not known at load (`at:` deadlines, business days, whose working time varies), shares are
// compared with shares, and `after:` levels only come after the due time. A level is out of order
// when it fires before an earlier level for every possible entry time: its latest possible time
// is before the earlier one's earliest.

#include <fmt/format.h>

#include <cmath>
#include <limits>

#include "loader/builder.hpp"

namespace escalon::detail {
namespace {

using Anchor = Escalation::Anchor;
constexpr double unbounded = std::numeric_limits<double>::infinity();

struct Span {
  double lo = 0, hi = 0;  // earliest and latest firing on the ladder's measure
};

class Measure {
 public:
  explicit Measure(const std::optional<DurationSpec>& within) {
    if (within && within->basis != TimeBasis::business_days && within->length > Duration{0}) {
      basis_ = within->basis;
      total_ = within->length.count();
    }
  }

  // Milliseconds on the deadline's clock since entering the step (fixed length), or shares of
  // the deadline (1 = the due time).
  Span fire(const Escalation& e) const {
    if (e.anchor == Anchor::share) {
      if (!fixed()) return {e.share, e.share};
      // As the runtime computes it (clockmath::share_instant), truncation included.
      const double t = static_cast<double>(static_cast<std::int64_t>(static_cast<double>(total_) * e.share));
      return {t, t};
    }
    const DurationSpec& d = e.offset;
    const bool zero = d.length == Duration{0} && d.days == 0;
    if (!fixed()) return {zero ? 1.0 : std::nextafter(1.0, 2.0), unbounded};
    const double due = static_cast<double>(total_);
    const double len = static_cast<double>(d.length.count());
    // Past the due time, but maybe at its reading on the clock (after closing time): half a
    // millisecond orders it after a share that fires at the due time and before any later one.
    const double past_due = zero ? due : due + 0.5;
    if (d.basis == TimeBasis::business_days) return {past_due, unbounded};
    if (d.basis == basis_) return {due + len, due + len};
    if (basis_ == TimeBasis::business_hours) return {past_due, due + len};  // wall offset: at most that much working time
    return {due + len, unbounded};  // business offset on a wall clock: at least that much wall time
  }

  // "at: 175%", "after: 1 business hour, fires at 200% of the deadline".
  std::string describe(const Escalation& e, const Span& s, bool earlier) const {
    if (e.anchor == Anchor::share) return fmt::format("at: {:g}%", e.share * 100);
    std::string out = "after: " + e.offset.str();
    if (!fixed()) return out;
    if (s.lo == s.hi) return out + fmt::format(", fires at {} of the deadline", percent(s.lo));
    if (earlier && s.lo > static_cast<double>(total_) + 1)
      return out + fmt::format(", fires at {} of the deadline or later", percent(s.lo));
    if (!earlier && s.hi != unbounded) return out + fmt::format(", fires by {} of the deadline at the latest", percent(s.hi));
    return out;
  }

 private:
  TimeBasis basis_ = TimeBasis::wall;
  std::int64_t total_ = 0;  // 0: the length is not known at load

  bool fixed() const { return total_ > 0; }
  std::string percent(double ms) const {
    const double p = ms / static_cast<double>(total_) * 100;
    return std::abs(p - std::round(p)) < 0.05 ? fmt::format("{:.0f}%", p) : fmt::format("{:.1f}%", p);
  }
};

// `after:` offsets in one unit compare directly, whatever the deadline (the existing rule).
std::int64_t offset_key(const DurationSpec& d) {
  return d.length.count() + std::chrono::duration_cast<Duration>(std::chrono::hours{24}).count() * d.days;
}

}  // namespace

// `levels[i]` is level `numbers[i]` of the list (levels that failed to read are left out). Linear
// in the levels: each is compared with the earlier level that fires latest, on the ladder's
// measure and among `after:` levels of its unit.
void FlowBuilder::check_ladder_order(const std::vector<Escalation>& levels, const std::vector<std::size_t>& numbers,
                                     const std::optional<DurationSpec>& within) {
  const Measure m(within);
  std::optional<std::size_t> latest;             // index into levels: the greatest earliest firing
  std::optional<std::size_t> latest_after[3];    // per TimeBasis: the greatest `after:` offset
  std::vector<Span> spans;
  spans.reserve(levels.size());
  for (std::size_t i = 0; i < levels.size(); ++i) {
    const Escalation& b = levels[i];
    spans.push_back(m.fire(b));
    std::optional<std::size_t> before;
    if (latest && spans[i].hi < spans[*latest].lo) before = latest;
    const auto unit = static_cast<std::size_t>(b.offset.basis);
    if (!before && b.anchor == Anchor::after && latest_after[unit] &&
        offset_key(b.offset) < offset_key(levels[*latest_after[unit]].offset))
      before = latest_after[unit];
    if (before) {
      rep_.error(b.where, fmt::format("escalation level {} ({}) fires before level {} ({}); list levels in the order "
                                      "they fire",
                                      numbers[i], m.describe(b, spans[i], false), numbers[*before],
                                      m.describe(levels[*before], spans[*before], true)));
    }
    if (!latest || spans[i].lo > spans[*latest].lo) latest = i;
    if (b.anchor == Anchor::after &&
        (!latest_after[unit] || offset_key(b.offset) > offset_key(levels[*latest_after[unit]].offset)))
      latest_after[unit] = i;
  }
}

}  // namespace escalon::detail
