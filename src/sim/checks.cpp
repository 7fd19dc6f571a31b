// Checks of a workload model against the flows it drives: every flow, step, event, data
// field, staff calendar, role and host action the model names must exist, and every
// expression must compile. All problems are collected and thrown together.

#include "sim/checks.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <set>

#include "escalon/error.hpp"
#include "base/suggest.hpp"
#include "sim/duty.hpp"

namespace escalon::detail {
namespace {

struct Checked {
  std::vector<Diagnostic> diags;
  void error(SourceLocation where, std::string message) {
    Diagnostic d;
    d.where = std::move(where);
    d.severity = Severity::error;
    d.message = std::move(message);
    diags.push_back(std::move(d));
  }
};

class ModelChecker {
 public:
  ModelChecker(const SimModelData& model, const std::map<std::string, const Flow*>& latest) : model_(model), latest_(latest) {
    for (const auto& [id, f] : latest_) flow_ids_.push_back(id);
  }

  CheckedModel run(std::span<const FlowPtr> flows) {
    check_time_zone();
    std::set<std::string> started = check_arrivals();
    add_subflows(started);
    check_staff(flows);
    for (const auto& ms : model_.steps) check_step(ms);
    check_actions(started);
    if (c_.diags.empty()) return std::move(out_);
    std::stable_sort(c_.diags.begin(), c_.diags.end(), [](const Diagnostic& a, const Diagnostic& b) {
      return std::tie(a.where.file, a.where.line, a.where.column) < std::tie(b.where.file, b.where.line, b.where.column);
    });
    throw FlowError(std::move(c_.diags));
  }

 private:
  const SimModelData& model_;
  const std::map<std::string, const Flow*>& latest_;
  std::vector<std::string> flow_ids_;
  Checked c_;
  CheckedModel out_;

  const Flow* find_flow(const std::string& id, const SourceLocation& where) {
    auto it = latest_.find(id);
    if (it == latest_.end()) {
      c_.error(where, fmt::format("no flow '{}' is loaded{}", id, did_you_mean(id, flow_ids_)));
      return nullptr;
    }
    return it->second;
  }

  void check_time_zone() {
    try {
      out_.zone = date::locate_zone(model_.timezone);
    } catch (const std::exception&) {
      c_.error({model_.file, 1, 1}, fmt::format("unknown time zone '{}'; use an IANA name such as Europe/Zagreb", model_.timezone));
    }
  }

  // Returns the flows that arrivals start.
  std::set<std::string> check_arrivals() {
    std::set<std::string> started;
    for (const auto& a : model_.arrivals) {
      const Flow* f = find_flow(a.flow, a.where);
      if (!f) continue;
      started.insert(f->id);
      check_data(*f, a.data);
      if (a.channel.kind == Gen::Kind::expr) c_.error(a.channel.where, "`channel` cannot be an expression");
    }
    return started;
  }

  // Flows that get cases: arrivals and, in turn, their sub-flows.
  void add_subflows(std::set<std::string>& started) const {
    for (bool grew = true; grew;) {
      grew = false;
      for (const auto& id : std::set<std::string>(started))
        for (const auto& s : latest_.at(id)->steps)
          if (s.kind == StepKind::subflow && latest_.count(s.subflow)) grew |= started.insert(s.subflow).second;
    }
  }

  // Calendars: any calendar of any loaded flow may set a team's hours. Each role a team
  // serves gets one queue, shared by every team that serves it.
  void check_staff(std::span<const FlowPtr> flows) {
    std::map<std::string, const CalendarSpec*> calendars;
    std::set<std::string> declared;  // roles the flows declare (a flow that declares none is not checked)
    for (const auto& f : flows) {
      for (const auto& [name, spec] : f->calendars) calendars.emplace(name, &spec);
      declared.insert(f->roles.begin(), f->roles.end());
    }
    std::vector<std::string> calendar_names;
    for (const auto& [n, s] : calendars) calendar_names.push_back(n);
    for (const auto& s : model_.staff) {
      std::unique_ptr<Calendar> calendar;
      if (!s.calendar.empty()) {
        auto it = calendars.find(s.calendar);
        if (it == calendars.end())
          c_.error(s.where, fmt::format("staff of '{}': no loaded flow has calendar '{}'{}", s.role, s.calendar,
                                        did_you_mean(s.calendar, calendar_names)));
        else
          calendar = std::make_unique<Calendar>(*it->second);
      }
      check_shifts(s, calendar.get());
      out_.calendars.push_back(std::move(calendar));
      for (std::size_t i = 0; i < s.serves.size(); ++i)
        if (const auto& role = s.serves[i]; !declared.empty() && !declared.count(role))
          c_.error(s.serves_where[i], fmt::format("staff of '{}' serves '{}', a role no loaded flow declares{}", s.role, role,
                                               did_you_mean(role, std::vector<std::string>(declared.begin(), declared.end()))));
    }
    // Queues in the order of the teams named after their roles, then the roles only teams with
    // skills serve: reports list roles the way the model lists staff.
    const auto add_queue = [&](const std::string& role) {
      if (out_.role_index.emplace(role, out_.queues.size()).second) out_.queues.push_back(role);
    };
    for (const auto& s : model_.staff)
      if (const auto roles = s.roles(); std::find(roles.begin(), roles.end(), s.role) != roles.end()) add_queue(s.role);
    for (const auto& s : model_.staff)
      for (const auto& role : s.roles()) add_queue(role);
  }

  // A shift that never falls in its calendar's working time (18:00-22:00 on an 8-to-4 office)
  // has agents who never work: surely not what the model means.
  void check_shifts(const SimStaff& s, const Calendar* calendar) {
    if (!calendar || !out_.zone) return;
    for (const auto& shift : s.shifts) {
      if (shift.from < 0) continue;  // its hours were refused already
      const Duty duty(calendar, out_.zone, &shift, {});
      if (duty.next_on(model_.start) == TimePoint::max())
        c_.error(shift.where, fmt::format("staff of '{}': this shift never falls in the working time of calendar '{}', so its "
                                          "agents would never work; change its `hours` or `days`",
                                          s.role, s.calendar));
    }
  }

  void check_step(const SimStep& ms) {
    const Flow* f = find_flow(ms.flow, ms.where);
    if (!f) return;
    const Step* s = f->find_step(ms.step);
    if (!s) {
      std::vector<std::string> names;
      for (const auto& st : f->steps) names.push_back(st.name);
      c_.error(ms.where, fmt::format("flow '{}' has no step '{}'{}", f->id, ms.step, did_you_mean(ms.step, names)));
      return;
    }
    if (!out_.steps.emplace(std::pair{ms.flow, ms.step}, &ms).second)
      c_.error(ms.where, fmt::format("step '{}/{}' is modelled twice", ms.flow, ms.step));
    check_step_events(ms, *f, *s);
    if (ms.work) check_step_staffed(ms, *s);
    if (!ms.starts_at.empty()) check_starts_at(ms, *f);
  }

  // `starts_at:` names a datetime field of the flow: the booked time the work waits for.
  void check_starts_at(const SimStep& ms, const Flow& f) {
    const DataField* d = f.find_field(ms.starts_at);
    if (d && d->type.kind == Type::Kind::datetime) return;
    std::vector<std::string> datetimes;
    for (const auto& x : f.data)
      if (x.type.kind == Type::Kind::datetime) datetimes.push_back(x.name);
    if (d)
      c_.error(ms.starts_at_where, fmt::format("`starts_at: {}` needs a datetime field; '{}' of flow '{}' is {}{}", ms.starts_at,
                                               ms.starts_at, f.id, d->type.str(),
                                               datetimes.empty() ? "" : fmt::format(" (its datetime fields: {})", fmt::join(datetimes, ", "))));
    else
      c_.error(ms.starts_at_where, fmt::format("flow '{}' has no data field '{}'{}", f.id, ms.starts_at,
                                               did_you_mean(ms.starts_at, datetimes)));
  }

  void check_step_events(const SimStep& ms, const Flow& f, const Step& s) {
    std::vector<std::string> events;
    for (const auto& t : s.on) events.push_back(t.event);
    if (s.stage >= 0)  // the stage's events apply in the step too
      for (const auto& t : f.stages[static_cast<std::size_t>(s.stage)].on) events.push_back(t.event);
    for (const auto& e : ms.events) {
      if (std::find(events.begin(), events.end(), e.event) == events.end())
        c_.error(e.where, fmt::format("step '{}' of flow '{}' does not handle event '{}'{}", ms.step, f.id, e.event,
                                      events.empty() ? "; it handles no events"
                                                     : did_you_mean(e.event, events).empty()
                                                           ? fmt::format("; it handles {}", fmt::join(events, ", "))
                                                           : did_you_mean(e.event, events)));
      check_data(f, e.data, /*any_field=*/true);
    }
  }

  // A step with `work:` needs a role in the flow and staff for that role in the model.
  void check_step_staffed(const SimStep& ms, const Step& s) {
    if (s.role.empty()) {
      c_.error(ms.where, fmt::format("step '{}/{}' has `work:` but no role in the flow, so no staff can do it; use "
                                     "`delay:` for answers from outside",
                                     ms.flow, ms.step));
    } else if (!out_.role_index.count(s.role)) {
      std::vector<std::string> role_names;
      for (const auto& [n, i] : out_.role_index) role_names.push_back(n);
      c_.error(ms.where, fmt::format("step '{}/{}' is work of role '{}', which has no staff; add it under `staff:` (or to a team's `serves`){}",
                                     ms.flow, ms.step, s.role, did_you_mean(s.role, role_names)));
    }
  }

  // Every host action that a started flow calls must be answered by the model.
  void check_actions(const std::set<std::string>& started) {
    std::set<std::string> answered;
    for (const auto& a : model_.actions) answered.insert(a.name);
    for (const auto& id : started) {
      const Flow& f = *latest_.at(id);
      for (const auto& s : f.steps) check_calls_answered(f, s, answered);
      for (const auto& a : model_.actions)
        for (const auto& [field, g] : a.set.fields)
          if (g.kind == Gen::Kind::expr) compile(f, g);
    }
  }

  void check_calls_answered(const Flow& f, const Step& s, const std::set<std::string>& answered) {
    std::vector<std::string> calls;
    if (s.kind == StepKind::action) calls.push_back(s.call);
    for (const auto* hooks : {&s.on_enter, &s.on_exit})
      for (const auto& h : *hooks)
        if (h.kind == Hook::Kind::call) calls.push_back(h.action);
    for (const auto& name : calls)
      if (!answered.count(name))
        c_.error({model_.file, 1, 1}, fmt::format("flow '{}' calls action '{}' (step '{}'), which the model does not "
                                                  "answer; add it under `actions:` ({}: {{}} succeeds and sets nothing)",
                                                  f.id, name, s.name, name));
  }

  void check_data(const Flow& f, const GenMap& m, bool any_field = false) {
    std::vector<std::string> names;
    for (const auto& d : f.data) names.push_back(d.name);
    for (std::size_t i = 0; i < m.fields.size(); ++i) {
      const auto& [field, g] = m.fields[i];
      if (!any_field && !f.find_field(field))
        c_.error(m.keys[i], fmt::format("flow '{}' has no data field '{}'{}", f.id, field, did_you_mean(field, names)));
      compile(f, g);
    }
  }

  void compile(const Flow& f, const Gen& g) {
    if (g.kind == Gen::Kind::list) return compile(f, g.items.front());
    if (g.kind != Gen::Kind::expr || out_.exprs.count(&g)) return;
    ExprEnv env;
    for (const auto& d : f.data) env.data[d.name] = d.type;
    env.rules = &f.rules;
    try {
      out_.exprs[&g] = compile_expression(g.text, env);
    } catch (const ExprError& e) {
      SourceLocation at = g.where;
      at.column += static_cast<std::int32_t>(e.offset());
      c_.error(at, e.message());
    }
  }
};

}  // namespace

CheckedModel check_model(const SimModelData& model, std::span<const FlowPtr> flows,
                         const std::map<std::string, const Flow*>& latest) {
  return ModelChecker(model, latest).run(flows);
}

}  // namespace escalon::detail
