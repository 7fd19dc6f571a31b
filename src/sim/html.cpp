// The simulation as one self-contained HTML page: inline SVG charts, no scripts, no external
// files, so it can be mailed or attached to a ticket.

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "escalon/simulate.hpp"
#include "sim/model.hpp"

namespace escalon {
namespace {

// Names in the charts are flow, step and role ids from validated flows; the title and figures
// are ours. Escaping still guards the page against whatever a caller passes as title.
std::string esc(std::string_view s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      default: out += c;
    }
  }
  return out;
}

const char* palette[] = {"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"};

std::string backlog_chart(const SimResult& r) {
  const double w = 900, h = 300, left = 50, right = 160, top = 20, bottom = 30;
  std::size_t ymax = 1;
  for (const auto& s : r.samples) {
    ymax = std::max(ymax, s.open);
    for (const auto& [role, n] : s.queued) ymax = std::max(ymax, n);
  }
  const double days = std::max(1.0, static_cast<double>((r.to - r.from).count()) / 86'400'000.0);
  auto x = [&](TimePoint t) { return left + (w - left - right) * static_cast<double>((t - r.from).count()) / (days * 86'400'000.0); };
  auto y = [&](double v) { return top + (h - top - bottom) * (1.0 - v / static_cast<double>(ymax)); };
  std::string svg = fmt::format(R"(<svg viewBox="0 0 {} {}" width="{}" height="{}" role="img">)", w, h, w, h);
  svg += fmt::format(R"(<line x1="{0}" y1="{1}" x2="{0}" y2="{2}" stroke="#444"/><line x1="{0}" y1="{2}" x2="{3}" y2="{2}" stroke="#444"/>)",
                     left, top, h - bottom, w - right);
  for (int i = 0; i <= 4; ++i) {
    const double v = static_cast<double>(ymax) * i / 4;
    svg += fmt::format(R"(<text x="{}" y="{}" font-size="11" text-anchor="end">{:.0f}</text>)", left - 4, y(v) + 4, v);
  }
  const int step = days > 40 ? 7 : days > 10 ? 2 : 1;
  for (int d = 0; d <= static_cast<int>(days); d += step)
    svg += fmt::format(R"(<text x="{}" y="{}" font-size="11" text-anchor="middle">day {}</text>)",
                       x(r.from + std::chrono::days{d}), h - bottom + 16, d);
  std::vector<std::pair<std::string, std::vector<double>>> series;
  series.push_back({"open cases", {}});
  if (!r.samples.empty())
    for (const auto& [role, n] : r.samples.front().queued) series.push_back({"queue: " + role, {}});
  for (const auto& s : r.samples) {
    series[0].second.push_back(static_cast<double>(s.open));
    std::size_t i = 1;
    for (const auto& [role, n] : s.queued) series[i++].second.push_back(static_cast<double>(n));
  }
  for (std::size_t k = 0; k < series.size(); ++k) {
    std::string pts;
    for (std::size_t i = 0; i < series[k].second.size(); ++i)
      pts += fmt::format("{:.1f},{:.1f} ", x(r.samples[i].at), y(series[k].second[i]));
    const char* color = palette[k % std::size(palette)];
    svg += fmt::format(R"(<polyline fill="none" stroke="{}" stroke-width="{}" points="{}"/>)", color, k == 0 ? 2 : 1.2, pts);
    svg += fmt::format(R"(<rect x="{}" y="{}" width="10" height="10" fill="{}"/><text x="{}" y="{}" font-size="11">{}</text>)",
                       w - right + 10, top + 16.0 * static_cast<double>(k), color, w - right + 24, top + 9 + 16.0 * static_cast<double>(k),
                       esc(series[k].first));
  }
  return svg + "</svg>";
}

// One row per step: a box from p25 to p75, whiskers to p5 and p95, a mark at the median, on a
// logarithmic time axis (steps last from seconds to days).
std::string step_chart(const SimResult& r) {
  std::vector<std::pair<std::string, std::vector<Duration>>> rows;
  for (const auto& [k, v] : r.step_times)
    if (!v.empty()) rows.emplace_back(k, v);
  const double w = 900, left = 300, right = 20, row = 22, top = 10;
  const double h = top + row * static_cast<double>(rows.size()) + 30;
  const double lo = std::log10(1.0), hi = std::log10(30.0 * 86400);  // 1 s .. 30 days
  auto x = [&](Duration d) {
    const double s = std::max(1.0, static_cast<double>(d.count()) / 1000.0);
    return left + (w - left - right) * (std::clamp(std::log10(s), lo, hi) - lo) / (hi - lo);
  };
  std::string svg = fmt::format(R"(<svg viewBox="0 0 {} {}" width="{}" height="{}" role="img">)", w, h, w, h);
  const std::pair<const char*, Duration> ticks[] = {{"1s", std::chrono::seconds{1}},   {"1m", std::chrono::minutes{1}},
                                                    {"10m", std::chrono::minutes{10}}, {"1h", std::chrono::hours{1}},
                                                    {"8h", std::chrono::hours{8}},     {"1d", std::chrono::hours{24}},
                                                    {"1w", std::chrono::hours{168}},   {"30d", std::chrono::hours{720}}};
  for (const auto& [label, d] : ticks)
    svg += fmt::format(R"(<line x1="{0:.1f}" y1="{1}" x2="{0:.1f}" y2="{2}" stroke="#ddd"/><text x="{0:.1f}" y="{3}" font-size="11" text-anchor="middle">{4}</text>)",
                       x(d), top, h - 25, h - 10, label);
  for (std::size_t i = 0; i < rows.size(); ++i) {
    auto v = rows[i].second;
    std::sort(v.begin(), v.end());
    auto q = [&](double p) { return v[std::min(v.size() - 1, static_cast<std::size_t>(p * static_cast<double>(v.size())))]; };
    const double cy = top + row * static_cast<double>(i) + row / 2;
    svg += fmt::format(R"(<text x="{}" y="{}" font-size="12" text-anchor="end">{} ({})</text>)", left - 8, cy + 4, esc(rows[i].first), v.size());
    svg += fmt::format(R"(<line x1="{:.1f}" y1="{}" x2="{:.1f}" y2="{}" stroke="#555"/>)", x(q(0.05)), cy, x(q(0.95)), cy);
    svg += fmt::format(R"(<rect x="{:.1f}" y="{}" width="{:.1f}" height="{}" fill="#9ecae1" stroke="#3182bd"/>)", x(q(0.25)), cy - 7,
                       std::max(1.0, x(q(0.75)) - x(q(0.25))), 14);
    svg += fmt::format(R"(<line x1="{0:.1f}" y1="{1}" x2="{0:.1f}" y2="{2}" stroke="#08306b" stroke-width="2"><title>median {3}</title></line>)",
                       x(q(0.5)), cy - 8, cy + 8, format_duration(std::chrono::round<std::chrono::seconds>(q(0.5))));
  }
  return svg + "</svg>";
}

// Horizontal stacked bars: met and breached per SLA.
std::string sla_chart(const Report& rep) {
  const double w = 900, left = 300, right = 120, row = 26, top = 10;
  const double h = top + row * static_cast<double>(std::max<std::size_t>(1, rep.slas.size())) + 10;
  std::string svg = fmt::format(R"(<svg viewBox="0 0 {} {}" width="{}" height="{}" role="img">)", w, h, w, h);
  std::size_t i = 0;
  for (const auto& [name, s] : rep.slas) {
    const double total = static_cast<double>(std::max<std::size_t>(1, s.met + s.breached));
    const double cy = top + row * static_cast<double>(i++);
    const double met_w = (w - left - right) * static_cast<double>(s.met) / total;
    const double br_w = (w - left - right) * static_cast<double>(s.breached) / total;
    svg += fmt::format(R"(<text x="{}" y="{}" font-size="12" text-anchor="end">{}</text>)", left - 8, cy + 15, esc(name));
    svg += fmt::format(R"(<rect x="{}" y="{}" width="{:.1f}" height="18" fill="#2ca02c"/>)", left, cy + 2, met_w);
    svg += fmt::format(R"(<rect x="{:.1f}" y="{}" width="{:.1f}" height="18" fill="#d62728"/>)", left + met_w, cy + 2, br_w);
    // As in the report: no percentage without a met or breached case (docs/flow-format.md, "KPI definitions").
    const std::string share = s.met + s.breached ? fmt::format("{:.0f}%", 100.0 * static_cast<double>(s.met) / total) : "n/a";
    svg += fmt::format(R"(<text x="{}" y="{}" font-size="12">{} met ({} / {})</text>)", w - right + 6, cy + 15, share, s.met,
                       s.met + s.breached);
  }
  return svg + "</svg>";
}

std::string escalation_chart(const Report& rep) {
  const double w = 900, left = 300, right = 120, row = 26, top = 10;
  std::size_t max = 1;
  for (const auto& [l, n] : rep.escalations) max = std::max(max, n);
  const double h = top + row * static_cast<double>(std::max<std::size_t>(1, rep.escalations.size() + 1)) + 10;
  std::string svg = fmt::format(R"(<svg viewBox="0 0 {} {}" width="{}" height="{}" role="img">)", w, h, w, h);
  std::size_t i = 0;
  auto bar = [&](const std::string& label, std::size_t n, const char* color) {
    const double cy = top + row * static_cast<double>(i++);
    svg += fmt::format(R"(<text x="{}" y="{}" font-size="12" text-anchor="end">{}</text>)", left - 8, cy + 15, label);
    svg += fmt::format(R"(<rect x="{}" y="{}" width="{:.1f}" height="18" fill="{}"/><text x="{:.1f}" y="{}" font-size="12">{}</text>)", left,
                       cy + 2, (w - left - right) * static_cast<double>(n) / static_cast<double>(max), color,
                       left + (w - left - right) * static_cast<double>(n) / static_cast<double>(max) + 6, cy + 15, n);
  };
  for (const auto& [l, n] : rep.escalations) bar(fmt::format("level {}", l), n, "#ff7f0e");
  bar("repeats", rep.escalation_repeats, "#fdae6b");
  return svg + "</svg>";
}

}  // namespace

std::string compare_html(const SimResult& a, std::string_view a_name, const SimResult& b, std::string_view b_name,
                         std::string_view title) {
  std::string rows;
  for (const auto& r : compare(a, b))
    rows += fmt::format("<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>\n", esc(r.what), detail::compare_cell(r.unit, r.a),
                        detail::compare_cell(r.unit, r.b), detail::compare_change(r));
  return fmt::format(R"(<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{0}</title>
<style>body{{font-family:system-ui,sans-serif;max-width:960px;margin:2em auto;color:#222}}
table{{border-collapse:collapse}}td,th{{padding:2px 10px;border-bottom:1px solid #ddd;text-align:right}}
td:first-child,th:first-child{{text-align:left}}</style></head>
<body><h1>{0}</h1>
<table><tr><th></th><th>{1}</th><th>{2}</th><th>change</th></tr>
{3}</table>
<h2>Backlog over time: {1}</h2>{4}
<h2>Backlog over time: {2}</h2>{5}
<h2>SLA outcomes: {1}</h2>{6}
<h2>SLA outcomes: {2}</h2>{7}
</body></html>
)",
                     esc(title), esc(a_name), esc(b_name), rows, backlog_chart(a), backlog_chart(b), sla_chart(a.report),
                     sla_chart(b.report));
}

std::string SimResult::html(std::string_view title) const {
  std::string staff;
  for (const auto& r : roles)
    staff += fmt::format("<tr><td>{}</td><td>{}</td><td>{}</td><td>{:.0f}%</td><td>{:.0f}%</td><td>{}</td><td>{}</td><td>{}</td></tr>\n",
                         esc(r.role), r.agents == 0 ? std::string("-") : std::to_string(r.agents), r.handled, 100 * r.utilization, 100 * r.waited_share,
                         format_duration(std::chrono::round<std::chrono::seconds>(r.mean_wait)),
                         format_duration(std::chrono::round<std::chrono::seconds>(r.p90_wait)), r.max_queue);
  std::string team_rows;
  if (std::any_of(teams.begin(), teams.end(), detail::skilled)) {
    team_rows = "<h2>Teams</h2><table><tr><th>team</th><th>agents</th><th>on duty</th><th>busy</th><th>handled</th><th>serves</th></tr>\n";
    for (const auto& t : teams) {
      std::size_t n = 0;
      for (const auto& [role, k] : t.handled) n += k;
      team_rows += fmt::format("<tr><td>{}</td><td>{}</td><td>{}h</td><td>{:.0f}%</td><td>{}</td><td>{}</td></tr>\n", esc(t.team),
                               t.agents, std::chrono::duration_cast<std::chrono::hours>(t.on_duty).count(), 100 * t.utilization,
                               n, esc(detail::serves_text(t)));
    }
    team_rows += "</table>\n";
  }
  return fmt::format(R"(<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{0}</title>
<style>body{{font-family:system-ui,sans-serif;max-width:960px;margin:2em auto;color:#222}}
table{{border-collapse:collapse}}td,th{{padding:2px 10px;border-bottom:1px solid #ddd;text-align:right}}
td:first-child,th:first-child{{text-align:left}}pre{{background:#f6f6f6;padding:1em;overflow-x:auto}}</style></head>
<body><h1>{0}</h1>
<p>{1} days from {2}, seed {3}. {4} cases opened, {5} completed, {6} open at the end.</p>
<h2>Backlog over time</h2>{7}
<h2>Time per step</h2><p>Box: 25th to 75th percentile; whiskers: 5th to 95th; dark mark: median. Logarithmic time axis.</p>{8}
<h2>SLA outcomes</h2>{9}
<h2>Escalations (first firings per level)</h2>{10}
<h2>Staff (per role)</h2><table><tr><th>role</th><th>agents</th><th>handled</th><th>busy</th><th>waited</th><th>mean wait</th><th>p90 wait</th><th>max queue</th></tr>
{11}</table>
{13}<h2>Report</h2><pre>{12}</pre>
</body></html>
)",
                     esc(title), std::chrono::duration_cast<std::chrono::days>(to - from).count(), format_iso8601(from), seed,
                     report.opened, report.completed, report.open, backlog_chart(*this), step_chart(*this), sla_chart(report),
                     escalation_chart(report), staff, esc(text()), team_rows);
}

}  // namespace escalon
