// The simulator's staff: agents with skills (a team serving several roles in preference order),
// shifts and breaks inside the calendar's working time, and the duty arithmetic under them.

#include <fmt/format.h>

#include <date/tz.h>

#include "escalon/loader.hpp"
#include "escalon/simulate.hpp"
#include "sim/duty.hpp"
#include "support.hpp"

using namespace escalon;
using namespace std::chrono_literals;
using escalon::test::at;

namespace {

// Two kinds of work, each a flow with a role of its own.
const char* bill_flow = R"(flow: bill
roles: [billing, tech]
start: serve
steps:
  serve: { role: billing, on: { done: finished } }
  finished: { end: true }
)";
const char* fix_flow = R"(flow: fix
roles: [billing, tech]
start: serve
steps:
  serve: { role: tech, on: { done: finished } }
  finished: { end: true }
)";

const char* one_desk = R"(flow: queue
roles: [agent]
calendars:
  office:
    timezone: Europe/Zagreb
    hours: { mon-fri: "08:00-16:00" }
start: serve
steps:
  serve: { role: agent, on: { done: finished } }
  finished: { end: true }
)";

std::vector<FlowPtr> flows_of(std::initializer_list<const char*> texts) {
  std::vector<FlowPtr> flows;
  for (const char* yaml : texts) {
    auto r = validate_text(yaml, "flows.yaml");
    REQUIRE(r.ok());
    flows.insert(flows.end(), r.flows.begin(), r.flows.end());
  }
  return flows;
}

const SimTeamStats& team(const SimResult& r, const std::string& name) {
  for (const auto& t : r.teams)
    if (t.team == name) return t;
  FAIL("no team " << name);
  return r.teams.front();
}

const SimRoleStats& role(const SimResult& r, const std::string& name) {
  for (const auto& q : r.roles)
    if (q.role == name) return q;
  FAIL("no role " << name);
  return r.roles.front();
}

std::size_t handled(const SimTeamStats& t, const std::string& role) {
  const auto it = t.handled.find(role);
  return it == t.handled.end() ? 0 : it->second;
}

// Tech work arrives faster than the tech desk can do it; billing is light.
SimResult two_desk_run(const std::string& generalists, std::int64_t days = 10) {
  const auto model = SimModel::parse(fmt::format(R"(model: skills
start: 2026-01-05T00:00:00Z
arrivals:
  bill: {{ per_day: 96 }}
  fix: {{ per_day: 480 }}
staff:
  billing: {{ agents: 1 }}
  tech: {{ agents: 1 }}
{}
steps:
  bill/serve:
    work: {{ exponential: 5m }}
    events: [ {{ send: done, p: 1 }} ]
  fix/serve:
    work: {{ exponential: 5m }}
    events: [ {{ send: done, p: 1 }} ]
)",
                                                 generalists),
                                     "skills.yaml");
  return simulate(flows_of({bill_flow, fix_flow}), model, {.days = days, .seed = 5});
}

// Local times of the model's zone, for checking when agents worked.
struct Local {
  int weekday;  // Monday = 0
  int minute;   // of the day
};
Local local(TimePoint t, const char* zone = "Europe/Zagreb") {
  const auto lt = date::locate_zone(zone)->to_local(std::chrono::floor<std::chrono::seconds>(t));
  const auto day = date::floor<date::days>(lt);
  return {static_cast<int>((date::weekday(day).c_encoding() + 6) % 7), static_cast<int>((lt - day).count() / 60)};
}

}  // namespace

TEST_CASE("a team with skills serves several roles, the first preferred", "[simulate][staff]") {
  const auto alone = two_desk_run("");
  const auto tech_first = two_desk_run("  generalists: { agents: 2, serves: [tech, billing] }");
  const auto billing_first = two_desk_run("  generalists: { agents: 2, serves: [billing, tech] }");
  CHECK(two_desk_run("  generalists: { agents: 2, serves: [tech, billing] }").text() == tech_first.text());  // deterministic
  INFO(tech_first.text());

  // Alone, the tech desk drowns (480 a day of 5 minutes is 1.7 agents of work for one).
  CHECK(role(alone, "tech").queued_at_end > 1000);
  // With two generalists who prefer tech work, the backlog goes and tech waits are short.
  CHECK(role(tech_first, "tech").queued_at_end < 20);
  CHECK(role(tech_first, "tech").mean_wait < role(alone, "tech").mean_wait / 20);
  const auto& g = team(tech_first, "generalists");
  CHECK(g.serves == std::vector<std::string>{"tech", "billing"});
  CHECK(handled(g, "tech") > 5 * handled(g, "billing"));
  // Preferring billing, they take billing work whenever there is some: more of it than when
  // they preferred tech, and the billing desk's wait falls.
  const auto& b = team(billing_first, "generalists");
  CHECK(handled(b, "billing") > handled(g, "billing"));
  CHECK(role(billing_first, "billing").mean_wait < role(tech_first, "billing").mean_wait);

  for (const auto* r : {&alone, &tech_first, &billing_first}) {
    // A team only ever takes work of the roles it serves, and every item is counted once.
    CHECK(handled(team(*r, "billing"), "tech") == 0);
    CHECK(handled(team(*r, "tech"), "billing") == 0);
    for (const auto& q : r->roles) {
      std::size_t by_teams = 0;
      for (const auto& t : r->teams) by_teams += handled(t, q.role);
      CHECK(by_teams == q.handled);
    }
  }
  // The role rows keep their own team's agents; the text lists the teams and what they did.
  CHECK(role(tech_first, "tech").agents == 1);
  CHECK(tech_first.text().find("generalists") != std::string::npos);
  CHECK(tech_first.text().find("tech first, then billing") != std::string::npos);
}

TEST_CASE("a role served only by a team with skills has a queue of its own", "[simulate][staff]") {
  const auto model = SimModel::parse(R"(model: pool
start: 2026-01-05T00:00:00Z
arrivals:
  bill: { per_day: 50 }
  fix: { per_day: 50 }
staff:
  everyone: { agents: 2, serves: [tech, billing] }
steps:
  bill/serve:
    work: 5m
    events: [ { send: done, p: 1 } ]
  fix/serve:
    work: 5m
    events: [ { send: done, p: 1 } ]
)");
  const auto r = simulate(flows_of({bill_flow, fix_flow}), model, {.days = 3, .seed = 2});
  REQUIRE(r.roles.size() == 2);
  CHECK(role(r, "billing").agents == 0);  // no team named after the role
  CHECK(role(r, "billing").handled + role(r, "tech").handled == handled(team(r, "everyone"), "billing") +
                                                                     handled(team(r, "everyone"), "tech"));
  CHECK(role(r, "billing").handled > 100);
  CHECK(r.text().find("everyone") != std::string::npos);
}

TEST_CASE("agents work their shifts inside the calendar's hours, and the load is of that time", "[simulate][staff]") {
  // Early shift 2 agents 06:00-12:00, late shift 1 agent 12:00-20:00 on Monday to Wednesday;
  // the office calendar is open 08:00-16:00 on weekdays. So: 08:00-12:00 the early pair, 12:00-16:00
  // the late one (Mon-Wed only), nobody on Thursday afternoon, Friday afternoon or weekends.
  const auto model = SimModel::parse(R"(model: shifts
start: 2026-01-05T00:00:00Z
timezone: Europe/Zagreb
arrivals:
  queue: { per_day: 60 }
staff:
  agent:
    calendar: office
    shifts:
      - { agents: 2, hours: "06:00-12:00" }
      - { agents: 1, hours: "12:00-20:00", days: mon-wed }
steps:
  queue/serve:
    work: 10m
    events: [ { send: done, p: 1 } ]
)");
  MemoryStore store;
  const auto r = simulate(flows_of({one_desk}), model, {.days = 14, .store = &store});
  INFO(r.text());
  // On duty: 10 weekdays x 2 agents x 4 h, plus 6 days (Mon-Wed twice) x 1 agent x 4 h.
  CHECK(team(r, "agent").on_duty == 10 * 2 * 4h + 6 * 1 * 4h);
  CHECK(role(r, "agent").agents == 3);
  std::size_t early = 0, late = 0;
  store.for_each_record([&](const Record& rec) {
    if (rec.type != RecordType::event) return;
    // Work is 10 minutes: it ends within 10 minutes of a start on duty (overtime included).
    const Local l = local(rec.at - 10min);
    INFO(rec.actor << " finished at " << format_iso8601(rec.at));
    CHECK(l.weekday < 5);
    if (rec.actor == "agent-3") {
      ++late;
      CHECK(l.weekday < 3);
      CHECK((l.minute >= 12 * 60 && l.minute < 16 * 60));
    } else {
      ++early;
      CHECK((rec.actor == "agent-1" || rec.actor == "agent-2"));
      CHECK((l.minute >= 8 * 60 && l.minute < 12 * 60));
    }
  });
  CHECK(early > 100);
  CHECK(late > 50);
  // Utilization is busy time over time on duty: every item is 10 minutes of work.
  const double busy = static_cast<double>(role(r, "agent").handled) * 600.0;
  const double on_duty = std::chrono::duration<double>(team(r, "agent").on_duty).count();
  CHECK(team(r, "agent").utilization == Approx(busy / on_duty).epsilon(0.02));
}

TEST_CASE("agents take their breaks one after another, and nobody starts work on a break", "[simulate][staff]") {
  // Two agents around the clock (no calendar), each with a lunch hour in 11:00-14:00: the first
  // from 11:00, the second from 13:00. One from 09:00 to 09:30, all at once.
  const auto model = SimModel::parse(R"(model: breaks
start: 2026-01-05T00:00:00Z
timezone: Europe/Zagreb
arrivals:
  queue: { per_day: 200 }
staff:
  agent:
    agents: 2
    breaks:
      - { at: "11:00-14:00", for: 1h }
      - { at: "09:00", for: 30m }
steps:
  queue/serve:
    work: 5m
    events: [ { send: done, p: 1 } ]
)");
  MemoryStore store;
  const auto r = simulate(flows_of({one_desk}), model, {.days = 7, .store = &store});
  CHECK(team(r, "agent").on_duty == 7 * 2 * (24h - 1h - 30min));
  std::size_t events = 0;
  store.for_each_record([&](const Record& rec) {
    if (rec.type != RecordType::event) return;
    ++events;
    const int m = local(rec.at - 5min).minute;  // when the work started
    INFO(rec.actor << " finished at " << format_iso8601(rec.at));
    CHECK(!(m >= 9 * 60 && m < 9 * 60 + 30));
    if (rec.actor == "agent-1") CHECK(!(m >= 11 * 60 && m < 12 * 60));
    if (rec.actor == "agent-2") CHECK(!(m >= 13 * 60 && m < 14 * 60));
  });
  CHECK(events > 1000);
  // Cases that arrive during the common break wait for its end.
  CHECK(role(r, "agent").max_wait >= 20min);
}

TEST_CASE("a shift's own breaks replace the team's", "[simulate][staff]") {
  const auto model = SimModel::parse(R"(model: breaks
start: 2026-01-05T00:00:00Z
timezone: Europe/Zagreb
arrivals:
  queue: { per_day: 10 }
staff:
  agent:
    breaks: [ { at: "12:00", for: 1h } ]
    shifts:
      - { agents: 1, hours: "08:00-16:00" }
      - { agents: 1, hours: "16:00-24:00", breaks: [ { at: "20:00", for: 30m } ] }
steps:
  queue/serve:
    work: 5m
    events: [ { send: done, p: 1 } ]
)");
  const auto r = simulate(flows_of({one_desk}), model, {.days = 2});
  CHECK(team(r, "agent").on_duty == 2 * (7h + 7h + 30min));
}

TEST_CASE("duty: shifts past midnight, breaks, the calendar and clock changes", "[simulate][staff]") {
  const auto* zagreb = date::locate_zone("Europe/Zagreb");
  detail::SimShift night;
  night.from = 22 * 3600;
  night.to = 6 * 3600;
  night.days = {true, false, false, false, false, false, false};  // starts on Mondays only
  const detail::Duty d(nullptr, zagreb, &night, {});
  const auto on = [&](const char* iso) { return d.on(d.local(at(iso))); };
  // Zagreb is UTC+1 in January: Monday 5 January 22:00 local is 21:00Z.
  CHECK_FALSE(on("2026-01-05T20:59:59Z"));
  CHECK(on("2026-01-05T21:00:00Z"));
  CHECK(on("2026-01-06T04:59:59Z"));  // Tuesday 05:59 local
  CHECK_FALSE(on("2026-01-06T05:00:00Z"));
  CHECK_FALSE(on("2026-01-06T21:30:00Z"));  // Tuesday night: not a shift day
  CHECK(d.next_on(at("2026-01-05T09:00:00Z")) == at("2026-01-05T21:00:00Z"));
  CHECK(d.next_on(at("2026-01-06T06:00:00Z")) == at("2026-01-12T21:00:00Z"));
  CHECK(d.next_on(at("2026-01-06T01:00:00Z")) == at("2026-01-06T01:00:00Z"));
  CHECK(d.between(at("2026-01-05T00:00:00Z"), at("2026-01-19T00:00:00Z")) == 16h);

  // A break spread: three agents, an hour each in a three-hour window.
  detail::SimBreak lunch{.from = 11 * 3600, .to = 14 * 3600, .length = 3600};
  CHECK(detail::agent_breaks({lunch}, 0, 3) == std::vector<std::pair<std::int32_t, std::int32_t>>{{11 * 3600, 12 * 3600}});
  CHECK(detail::agent_breaks({lunch}, 1, 3) == std::vector<std::pair<std::int32_t, std::int32_t>>{{12 * 3600, 13 * 3600}});
  CHECK(detail::agent_breaks({lunch}, 2, 3) == std::vector<std::pair<std::int32_t, std::int32_t>>{{13 * 3600, 14 * 3600}});
  CHECK(detail::agent_breaks({lunch}, 0, 1) == std::vector<std::pair<std::int32_t, std::int32_t>>{{11 * 3600, 12 * 3600}});

  // Inside an office calendar (08:00-16:00 on weekdays): a 12:00-20:00 shift with a break at
  // 14:00-14:30 is on duty 12:00-14:00 and 14:30-16:00, 3.5 h a weekday.
  CalendarSpec office;
  office.name = "office";
  office.timezone = "Europe/Zagreb";
  for (std::size_t i = 0; i < 5; ++i) office.weekly[i] = {{8 * 60, 16 * 60}};
  const Calendar calendar(office);
  detail::SimShift late;
  late.from = 12 * 3600;
  late.to = 20 * 3600;
  late.days.fill(true);
  const detail::Duty l(&calendar, zagreb, &late, {{14 * 3600, 14 * 3600 + 1800}});
  CHECK(l.between(at("2026-01-05T00:00:00Z"), at("2026-01-12T00:00:00Z")) == 5 * 3h + 5 * 30min);
  CHECK(l.next_on(at("2026-01-05T07:00:00Z")) == at("2026-01-05T11:00:00Z"));   // 08:00 local: calendar open, shift not yet
  CHECK(l.next_on(at("2026-01-05T13:10:00Z")) == at("2026-01-05T13:30:00Z"));   // on the break: its end
  CHECK(l.next_on(at("2026-01-09T15:00:00Z")) == at("2026-01-12T11:00:00Z"));   // Friday 16:00: Monday noon
  // A shift that never meets the calendar's hours is never on duty, and the search ends.
  detail::SimShift evening;
  evening.from = 18 * 3600;
  evening.to = 22 * 3600;
  evening.days.fill(true);
  const detail::Duty never(&calendar, zagreb, &evening, {});
  CHECK(never.next_on(at("2026-01-05T00:00:00Z")) == TimePoint::max());
  CHECK(never.between(at("2026-01-05T00:00:00Z"), at("2026-02-05T00:00:00Z")) == 0h);

  // Spring forward in Zagreb (29 March 2026, 02:00 -> 03:00): a 00:00-04:00 shift lasts 3 hours.
  detail::SimShift small_hours;
  small_hours.from = 0;
  small_hours.to = 4 * 3600;
  small_hours.days.fill(true);
  const detail::Duty s(nullptr, zagreb, &small_hours, {});
  CHECK(s.between(at("2026-03-28T12:00:00Z"), at("2026-03-29T12:00:00Z")) == 3h);
  CHECK(s.between(at("2026-10-24T12:00:00Z"), at("2026-10-25T12:00:00Z")) == 5h);  // and back: 5
}

TEST_CASE("staff entries that cannot work are refused with their place and a fix", "[simulate][staff][errors]") {
  const auto problems = [](const std::string& staff) {
    try {
      const auto model = SimModel::parse(fmt::format(R"(model: m
start: 2026-01-05T00:00:00Z
arrivals: {{ bill: {{ per_day: 10 }} }}
staff:
{}
steps:
  bill/serve:
    work: 5m
    events: [ {{ send: done, p: 1 }} ]
)",
                                                     staff),
                                         "m.yaml");
      (void)simulate(flows_of({bill_flow, fix_flow}), model, {.days = 1});
    } catch (const FlowError& e) {
      std::string out;
      for (const auto& d : e.diagnostics()) out += d.str() + "\n";
      return out;
    }
    return std::string("accepted");
  };
  CHECK(problems("  billing: { agents: 1 }") == "accepted");
  CHECK(problems("  pool: { agents: 1, serves: [billing, tekh] }") ==
        "m.yaml:5:40: error: staff of 'pool' serves 'tekh', a role no loaded flow declares; did you mean 'tech'?\n");
  CHECK(problems("  pool: { agents: 1, serves: [billing, billing] }") == "m.yaml:5:40: error: `serves` names 'billing' twice\n");
  CHECK(problems("  pool: { agents: 1, serves: [billing], queue: fifo }") ==
        "m.yaml:5:48: error: `queue` orders the queue of role 'pool', which this team does not serve; set it on the entry "
        "of the role whose queue it orders, or add 'pool' to `serves`\n");
  CHECK(problems("  billing: { agents: 2, shifts: [ { agents: 1, hours: 08:00-16:00 } ] }") ==
        "m.yaml:5:22: error: staff of 'billing': with `shifts`, give `agents` per shift (the team is their sum)\n");
  CHECK(problems("  billing: { shifts: [ { agents: 1, hours: 8-16 } ] }") ==
        "m.yaml:5:44: error: `hours` '8-16' is not local times like 08:00-16:00\n");
  CHECK(problems("  billing: { shifts: [ { agents: 1, hours: 08:00-08:00 } ] }") ==
        "m.yaml:5:44: error: `hours` start and end at the same time; a shift around the clock needs no `shifts`\n");
  CHECK(problems("  billing: { shifts: [ { agents: 1 } ] }") ==
        "m.yaml:5:24: error: a shift needs `hours:`, e.g. hours: 08:00-16:00 (22:00-06:00 runs past midnight)\n");
  CHECK(problems("  billing: { shifts: [ { hours: 08:00-16:00, days: [mon-fry] } ] }") ==
        "m.yaml:5:53: error: 'mon-fry' is not a day or a range of days; write mon, mon-fri or sat,sun\n"
        "m.yaml:5:52: error: `days` names no day\n");
  CHECK(problems("  billing: { breaks: [ { at: 12:00-12:20, for: 30m } ] }") ==
        "m.yaml:5:30: error: a break of 30m does not fit in its window of the day\n");
  CHECK(problems("  billing: { breaks: [ { at: 23:30-00:30, for: 30m } ] }") ==
        "m.yaml:5:30: error: a break's window ends before it starts; a break stays within one day (00:00-24:00)\n");
  CHECK(problems("  billing: { breaks: [ { at: 25:00, for: 30m } ] }") ==
        "m.yaml:5:30: error: `at` '25:00' is not a local time (12:00) or local times like 08:00-16:00\n");
  CHECK(problems("  billing: { breaks: [ { for: 30m } ] }") ==
        "m.yaml:5:24: error: a break needs `at:`, a local time (12:00) or a window (11:30-13:30)\n");
  CHECK(problems("  billing: { breaks: { at: 12:00, for: 30m } }") ==
        "m.yaml:5:22: error: `breaks` is a list of { at: 11:30-13:30, for: 30m } (each agent once, spread over the window)\n");
}
