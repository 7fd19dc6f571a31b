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

// A model of one_desk in Zagreb time: `arrivals` is the map under `queue:`, `staff` the
// entries under `staff:`, `work` the time each case takes.
SimModel desk_model(std::string_view arrivals, std::string_view staff, std::string_view work) {
  return SimModel::parse(fmt::format(R"(model: desk
start: 2026-01-05T00:00:00Z
timezone: Europe/Zagreb
arrivals:
  queue: {}
staff:
{}
steps:
  queue/serve:
    work: {}
    events: [ {{ send: done, p: 1 }} ]
)",
                                     arrivals, staff, work));
}

// Tech work arrives faster than the tech desk can do it; billing is light.
SimResult two_desk_run(const std::string& generalists, std::int64_t days = 10, Store* store = nullptr) {
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
  return simulate(flows_of({bill_flow, fix_flow}), model, {.days = days, .seed = 5, .store = store});
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
  MemoryStore journal;
  const auto tech_first = two_desk_run("  generalists: { agents: 2, serves: [tech, billing] }", 10, &journal);
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
    // A team only ever takes work of the roles it serves.
    CHECK(handled(team(*r, "billing"), "tech") == 0);
    CHECK(handled(team(*r, "tech"), "billing") == 0);
  }
  // The journal agrees: each team's agents sent the `done` of exactly the work it counts, per role.
  std::map<std::pair<std::string, std::string>, std::size_t> sent;  // (team, flow)
  journal.for_each_record([&](const Record& rec) {
    if (rec.type == RecordType::event) ++sent[{rec.actor.substr(0, rec.actor.rfind('-')), rec.case_id.substr(0, rec.case_id.find('-'))}];
  });
  for (const auto& t : tech_first.teams) {
    INFO(t.team);
    CHECK(sent[{t.team, "bill"}] == handled(t, "billing"));
    CHECK(sent[{t.team, "fix"}] == handled(t, "tech"));
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
  const auto model = desk_model("{ per_day: 60 }", R"(  agent:
    calendar: office
    shifts:
      - { agents: 2, hours: "06:00-12:00" }
      - { agents: 1, hours: "12:00-20:00", days: mon-wed })",
                                 "10m");
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
  const auto model = desk_model("{ per_day: 200 }", R"(  agent:
    agents: 2
    breaks:
      - { at: "11:00-14:00", for: 1h }
      - { at: "09:00", for: 30m })",
                                 "5m");
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
  const auto model = desk_model("{ per_day: 10 }", R"(  agent:
    breaks: [ { at: "12:00", for: 1h } ]
    shifts:
      - { agents: 1, hours: "08:00-16:00" }
      - { agents: 1, hours: "16:00-24:00", breaks: [ { at: "20:00", for: 30m } ] })",
                                 "5m");
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

  // A break in the hour autumn repeats (Zagreb, 25 October 2026: 03:00 CEST -> 02:00 CET):
  // 02:10-02:40 local, asked in the second pass at 02:15 CET (01:15Z), ends at 02:40 CET.
  detail::SimShift all_day;
  all_day.from = 0;
  all_day.to = 24 * 3600;
  all_day.days.fill(true);
  const detail::Duty autumn(nullptr, zagreb, &all_day, {{2 * 3600 + 600, 2 * 3600 + 2400}});
  CHECK(autumn.next_on(at("2026-10-25T01:15:00Z")) == at("2026-10-25T01:40:00Z"));
  CHECK(autumn.next_on(at("2026-10-25T00:15:00Z")) == at("2026-10-25T00:40:00Z"));  // the first pass
  // 00:00-24:00: the whole day, to the next midnight.
  CHECK(autumn.between(at("2026-01-04T23:00:00Z"), at("2026-01-05T23:00:00Z")) == 24h - 30min);
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
  CHECK(problems("  billing: { shifts: [ { agents: 1, hours: 08:00-08:00 } ] }") == "accepted");  // 24 hours from 08:00
  CHECK(problems("  billing: { shifts: [ { agents: 1, hours: 00:00-24:00, days: mon-fri } ] }") == "accepted");
  CHECK(problems("  billing: { shifts: [ { agents: 1, hours: 24:00-08:00 } ] }") ==
        "m.yaml:5:44: error: `hours` '24:00-08:00' starts at 24:00, which is only an end; start at 00:00\n");
  CHECK(problems("  billing: { shifts: [ { agents: 1, hours: 08:00--1:00 } ] }") ==
        "m.yaml:5:44: error: `hours` '08:00--1:00' is not local times like 08:00-16:00\n");
  CHECK(problems("  billing: { breaks: [ { at: 12:00-13:-30, for: 30m } ] }") ==
        "m.yaml:5:30: error: `at` '12:00-13:-30' is not a local time (12:00) or local times like 08:00-16:00\n");
  CHECK(problems("  billing: { agents: 4294967297 }") == "m.yaml:5:22: error: `agents` must be between 1 and 100000\n");
  CHECK(problems("  billing: { agents: 1, capacity: 0 }") == "m.yaml:5:35: error: `capacity` must be between 1 and 100\n");
  CHECK(problems("  billing: { shifts: [ { agents: 60000, hours: 08:00-16:00 }, { agents: 60000, hours: 16:00-24:00 } ] }") ==
        "m.yaml:5:12: error: staff of 'billing': more than 100000 agents in all\n");
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

TEST_CASE("a queue offers its work first to the teams that prefer the role most", "[simulate][staff]") {
  // Billing work is light: the billing desk (billing first) takes nearly all of it, whichever
  // team the model lists first; the pool (tech first, billing second) only when it is busy.
  for (const char* staff : {"  pool: { agents: 3, serves: [tech, billing] }\n  billing: { agents: 3 }\n  tech: { agents: 1 }",
                            "  billing: { agents: 3 }\n  tech: { agents: 1 }\n  pool: { agents: 3, serves: [tech, billing] }"}) {
    const auto model = SimModel::parse(fmt::format(R"(model: order
start: 2026-01-05T00:00:00Z
arrivals:
  bill: {{ per_day: 100 }}
  fix: {{ per_day: 20 }}
staff:
{}
steps:
  bill/serve:
    work: {{ exponential: 5m }}
    events: [ {{ send: done, p: 1 }} ]
  fix/serve:
    work: {{ exponential: 5m }}
    events: [ {{ send: done, p: 1 }} ]
)",
                                                   staff));
    const auto r = simulate(flows_of({bill_flow, fix_flow}), model, {.days = 10, .seed = 4});
    INFO(r.text());
    CHECK(handled(team(r, "billing"), "billing") > 50 * std::max<std::size_t>(1, handled(team(r, "pool"), "billing")));
    // Tech work: both teams prefer it; the team named after the role is offered it first.
    CHECK(handled(team(r, "tech"), "tech") > handled(team(r, "pool"), "tech"));
  }
}

TEST_CASE("an agent starts at the very second the shift begins or the break ends", "[simulate][staff]") {
  // Cases arrive only at night, or only during the break: no later arrival or finished work
  // could wake the team, so the first work of the day shows when the team woke by itself.
  const auto run = [&](const std::string& staff, const char* by_hour) {
    const auto model = desk_model(fmt::format(R"({{ per_day: 5, by_hour: {{ "{}": 1 }} }})", by_hour), "  agent:\n" + staff, "10m");
    MemoryStore store;
    (void)simulate(flows_of({one_desk}), model, {.days = 3, .store = &store});
    std::map<std::string, TimePoint> first;  // local day -> first work finished
    store.for_each_record([&](const Record& rec) {
      if (rec.type != RecordType::event) return;
      const auto day = format_iso8601(rec.at).substr(0, 10);
      if (!first.count(day)) first[day] = rec.at;
    });
    return first;
  };
  // A 09:00-17:00 shift (08:00Z in January): work done at 09:10 local.
  const auto shift = run("    shifts: [ { agents: 1, hours: \"09:00-17:00\" } ]", "2-3");
  REQUIRE(shift.size() == 3);
  for (const auto& [day, t] : shift) CHECK(format_iso8601(t) == day + "T08:10:00Z");
  // The only agent's lunch, 12:00-13:00 local; arrivals in that hour wait for 13:00.
  const auto lunch = run("    agents: 1\n    breaks: [ { at: \"12:00\", for: 1h } ]", "12-13");
  REQUIRE(lunch.size() == 3);
  for (const auto& [day, t] : lunch) CHECK(format_iso8601(t) == day + "T12:10:00Z");
}

TEST_CASE("the team's breaks are spread over all its agents, across shifts", "[simulate][staff]") {
  // One agent per shift: spread per shift, both would lunch at 11:30 and leave nobody.
  const auto model = desk_model(R"({ per_day: 300, by_hour: { "11-14": 1 } })", R"(  agent:
    breaks: [ { at: "11:30-13:30", for: 30m } ]
    shifts:
      - { agents: 1, hours: "08:00-16:00" }
      - { agents: 1, hours: "10:00-18:00" })",
                                 "2m");
  MemoryStore store;
  const auto r = simulate(flows_of({one_desk}), model, {.days = 5, .store = &store});
  CHECK(team(r, "agent").on_duty == 5 * 2 * (8h - 30min));
  std::map<std::string, std::size_t> in_first_lunch;  // work started 11:30-12:00, per agent
  store.for_each_record([&](const Record& rec) {
    if (rec.type != RecordType::event) return;
    const int m = local(rec.at - 2min).minute;
    if (m >= 11 * 60 + 30 && m < 12 * 60) ++in_first_lunch[rec.actor];
    if (rec.actor == "agent-2") CHECK(!(m >= 13 * 60 && m < 13 * 60 + 30));  // the second's lunch
  });
  CHECK(in_first_lunch["agent-1"] == 0);
  CHECK(in_first_lunch["agent-2"] > 20);  // someone is there while the first lunches
}

TEST_CASE("queues stay exact when deadlines take cases out and priorities change while they wait", "[simulate][staff]") {
  // One overloaded agent; after 20 minutes a waiting case becomes urgent, after an hour it
  // gives up. Every arrival is then served, gave up, waits at the end or is in the agent's hands.
  const auto flows = flows_of({R"(flow: prio
roles: [agent]
data:
  priority: { type: enum, values: [normal, urgent], default: normal }
start: serve
steps:
  serve:
    role: agent
    deadline: { within: 1h, expire: gave-up, escalate: [ { at: 33%, priority: urgent } ] }
    on: { done: finished }
  finished: { end: true }
  gave-up: { end: true }
)"});
  const auto model = SimModel::parse(R"(model: exact
start: 2026-01-05T00:00:00Z
arrivals:
  prio: { per_day: 400 }
staff:
  agent: { agents: 1 }
steps:
  prio/serve:
    work: { exponential: 5m }
    events: [ { send: done, p: 1 } ]
)");
  MemoryStore store;
  const auto r = simulate(flows, model, {.days = 5, .seed = 8, .store = &store});
  std::size_t gave_up = 0, raised = 0, done = 0;
  store.for_each_record([&](const Record& rec) {
    if (rec.type == RecordType::entered && rec.step == "gave-up") ++gave_up;
    if (rec.type == RecordType::data_changed && rec.target == "priority") ++raised;
    if (rec.type == RecordType::event) ++done;
  });
  const auto& q = role(r, "agent");
  INFO(r.text());
  CHECK(gave_up > 100);
  CHECK(raised > gave_up);
  CHECK(q.handled == done);
  const std::size_t accounted = q.handled + gave_up + q.queued_at_end;
  CHECK(accounted <= r.arrivals.at("prio"));
  CHECK(accounted + 1 >= r.arrivals.at("prio"));  // at most one in the agent's hands
  // Nobody waits past the deadline, and the hourly samples count only the waiting.
  CHECK(q.max_wait <= 1h);
  for (const auto& sample : r.samples) CHECK(sample.queued.at("agent") <= sample.open);
  // Raised cases overtake: the urgent ones that were served waited less than the hour.
  CHECK(q.max_queue >= q.queued_at_end);
}
