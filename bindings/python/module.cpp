// The `escalon` Python module: the host API of include/escalon/engine.hpp for Python scripts.
//
// GIL rules: every engine call releases the GIL (the engine may wait for its lock, the disk or
// a runner thread); Python handlers take it back while they run. Python callables kept by the
// engine are released with the GIL held, and the engine is destroyed with the GIL released, so
// a runner thread waiting for the GIL to call a handler can finish.

#include <pybind11/functional.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <escalon/escalon.hpp>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace py = pybind11;
using namespace escalon;

namespace {

// Python objects the conversions need, created once and deliberately never destroyed: a static
// py::object would be released after the interpreter has finalized.
struct PyTypes {
  py::object datetime, date, timedelta, utc, epoch, one_ms;
};
const PyTypes& types() {
  static const PyTypes* t = [] {
    auto dt = py::module_::import("datetime");
    auto* p = new PyTypes;
    p->datetime = dt.attr("datetime");
    p->date = dt.attr("date");
    p->timedelta = dt.attr("timedelta");
    p->utc = dt.attr("timezone").attr("utc");
    p->epoch = p->datetime(1970, 1, 1, py::arg("tzinfo") = p->utc);
    p->one_ms = p->timedelta(py::arg("milliseconds") = 1);
    return p;
  }();
  return *t;
}

py::object to_py(TimePoint t) { return types().epoch + types().timedelta(py::arg("milliseconds") = t.time_since_epoch().count()); }
py::object to_py(Duration d) { return types().timedelta(py::arg("milliseconds") = d.count()); }
// date.toordinal() is 1 for 0001-01-01, min_date. A C++ host's Date outside years 1 to 9999 makes
// fromordinal raise ValueError.
py::object to_py(Date d) { return types().date.attr("fromordinal")(std::int64_t{d.days} - min_date.days + 1); }

// A naive datetime is taken as UTC (the engine's journal is in UTC).
TimePoint to_time(py::handle h) {
  py::object dt = py::reinterpret_borrow<py::object>(h);
  if (dt.attr("tzinfo").is_none()) dt = dt.attr("replace")(py::arg("tzinfo") = types().utc);
  return TimePoint{Duration{(dt - types().epoch).attr("__floordiv__")(types().one_ms).cast<std::int64_t>()}};
}
Duration to_duration(py::handle h) { return Duration{h.attr("__floordiv__")(types().one_ms).cast<std::int64_t>()}; }

bool is_datetime(py::handle h) { return py::isinstance(h, types().datetime); }
bool is_timedelta(py::handle h) { return py::isinstance(h, types().timedelta); }
// datetime.datetime is a subclass of datetime.date: test is_datetime first.
bool is_date(py::handle h) { return py::isinstance(h, types().date); }
Date to_date(py::handle h) { return Date{h.attr("toordinal")().cast<std::int32_t>() - 1 + min_date.days}; }

py::object to_py(const Value& v) {
  switch (v.kind()) {
    case Value::Kind::null: return py::none();
    case Value::Kind::boolean: return py::bool_(v.as_bool());
    case Value::Kind::integer: return py::int_(v.as_int());
    case Value::Kind::number: return py::float_(v.as_number());
    case Value::Kind::string: return py::str(v.as_string());
    case Value::Kind::datetime: return to_py(v.as_datetime());
    case Value::Kind::duration: return to_py(v.as_duration());
    case Value::Kind::date: return to_py(v.as_date());
    case Value::Kind::list: {
      py::list out;
      for (const auto& x : v.as_list()) out.append(to_py(x));
      return out;
    }
    case Value::Kind::map: {
      py::dict out;
      for (const auto& [k, x] : v.as_map()) out[py::str(k)] = to_py(x);
      return out;
    }
  }
  return py::none();
}

py::dict to_py(const Map& m) {
  py::dict out;
  for (const auto& [k, x] : m) out[py::str(k)] = to_py(x);
  return out;
}

Value from_py(py::handle h, const std::string& what, std::size_t depth = 0);

Map map_from_py(py::handle h, const std::string& what, std::size_t depth = 0) {
  Map out;
  if (h.is_none()) return out;
  if (!py::isinstance<py::dict>(h))
    throw py::type_error(what + " must be a dict of field names to values, not " + std::string(py::str(h.get_type().attr("__name__"))));
  for (auto [k, v] : py::reinterpret_borrow<py::dict>(h)) {
    if (!py::isinstance<py::str>(k)) throw py::type_error(what + ": keys must be field names (str)");
    const auto key = k.cast<std::string>();
    out[key] = from_py(v, what + "['" + key + "']", depth + 1);
  }
  return out;
}

Value from_py(py::handle h, const std::string& what, std::size_t depth) {
  if (h.is_none()) return {};
  if (depth >= max_value_depth)  // a list that contains itself would recurse until the stack ends
    throw py::value_error(what.substr(0, 200) + ": nested deeper than " + std::to_string(max_value_depth) +
                          " levels (a list or dict that contains itself?)");
  if (py::isinstance<py::bool_>(h)) return h.cast<bool>();
  if (py::isinstance<py::int_>(h)) return h.cast<std::int64_t>();
  if (py::isinstance<py::float_>(h)) return h.cast<double>();
  if (py::isinstance<py::str>(h)) return h.cast<std::string>();
  if (is_datetime(h)) return to_time(h);
  if (is_date(h)) return to_date(h);
  if (is_timedelta(h)) return to_duration(h);
  if (py::isinstance<py::dict>(h)) return map_from_py(h, what, depth);
  if (py::isinstance<py::list>(h) || py::isinstance<py::tuple>(h)) {
    List out;
    std::size_t i = 0;
    for (auto x : h) out.push_back(from_py(x, what + "[" + std::to_string(i++) + "]", depth + 1));
    return out;
  }
  throw py::type_error(what + ": a " + std::string(py::str(h.get_type().attr("__name__"))) +
                       " cannot be case data; use None, bool, int, float, str, datetime, date, timedelta, list or dict");
}

std::vector<std::string> paths_from_py(py::handle h) {
  if (py::isinstance<py::str>(h) || py::hasattr(h, "__fspath__")) return {py::str(h).cast<std::string>()};
  std::vector<std::string> out;
  for (auto x : h) out.push_back(py::str(x).cast<std::string>());
  return out;
}

// Python callables held by the engine: released with the GIL held, from whatever thread.
std::shared_ptr<py::object> hold(py::object fn) {
  return {new py::object(std::move(fn)), [](py::object* o) {
            py::gil_scoped_acquire gil;
            delete o;
          }};
}

// "ValueError: message" from the exception being handled.
std::string describe(py::error_already_set& e) {
  std::string type = py::str(e.type().attr("__name__"));
  std::string text = py::str(e.value());
  return text.empty() ? type : type + ": " + text;
}

// The Python Engine object of each C++ engine, for ActionContext.engine (weak: a handler's
// context must not keep its engine alive). Touched with the GIL held only.
std::map<const Engine*, py::weakref>& python_engines() {
  static auto* engines = new std::map<const Engine*, py::weakref>;  // never destroyed: outlives the interpreter's teardown order
  return *engines;
}

struct PyEngine {
  std::unique_ptr<Store> store;
  py::object clock;  // keeps a ManualClock alive as long as the engine
  std::unique_ptr<Engine> engine;
  std::string location;

  PyEngine(const std::string& where, py::object clock_obj, bool group_commit, bool keep_journal, bool require_handlers,
           std::int32_t max_attempts, double first_retry_seconds, const std::string& authorization,
           const std::map<std::string, std::vector<std::string>>& access, py::object retention)
      : clock(std::move(clock_obj)), location(where) {
    const Clock* c = clock.is_none() ? nullptr : clock.cast<ManualClock*>();
    if (max_attempts < 1) throw Error("delivery_attempts must be at least 1, not " + std::to_string(max_attempts));
    if (!(first_retry_seconds >= 0)) throw Error("delivery_first_retry must be a number of seconds, at least 0");
    EngineOptions o{.authorization = authorization_from(authorization), .access = access_from(access)};
    store = open_store(where);
    DeliveryOptions delivery;
    delivery.max_attempts = max_attempts;
    delivery.first_retry = std::chrono::duration_cast<Duration>(std::chrono::duration<double>(first_retry_seconds));
    o.clock = c;
    o.keep_journal = keep_journal;
    o.store = store.get();
    o.group_commit = group_commit;
    o.require_handlers = require_handlers;
    o.delivery = delivery;
    if (!retention.is_none()) {
      if (!py::isinstance(retention, types().timedelta)) throw py::type_error("retention must be a datetime.timedelta or None");
      o.retention = Duration{py::cast<std::int64_t>(retention.attr("__floordiv__")(types().one_ms))};
    }
    engine = std::make_unique<Engine>(std::move(o));
  }
  static Authorization authorization_from(const std::string& s) {
    if (s == "automatic") return Authorization::automatic;
    if (s == "required") return Authorization::required;
    if (s == "off") return Authorization::off;
    throw py::value_error("authorization must be 'automatic', 'required' or 'off', not '" + s + "'");
  }
  // {"cancel": ["supervisor"], ...}: the AccessPolicy lists by name.
  static AccessPolicy access_from(const std::map<std::string, std::vector<std::string>>& in) {
    AccessPolicy a;
    const std::map<std::string, std::vector<std::string>*> slots{
        {"admin", &a.admin},   {"start", &a.start},           {"send", &a.send},     {"update", &a.update},
        {"cancel", &a.cancel}, {"reschedule", &a.reschedule}, {"repair", &a.repair}, {"migrate", &a.migrate},
        {"read_personal", &a.read_personal}, {"erase", &a.erase}};
    for (const auto& [k, v] : in) {
      const auto it = slots.find(k);
      if (it == slots.end())
        throw py::value_error("access has no entry '" + k +
                              "'; the entries are admin, start, send, update, cancel, reschedule, repair, migrate, read_personal, erase");
      *it->second = v;
    }
    return a;
  }
  ~PyEngine() {
    python_engines().erase(engine.get());
    py::gil_scoped_release nogil;
    engine.reset();
    store.reset();
  }
  Engine& e() { return *engine; }
};

// What Python sees of a loaded flow (the model itself stays in C++).
struct FlowInfo {
  std::string id;
  std::int64_t version;
  std::string title, file, hash;
  std::vector<std::string> steps;
};

using Roles = std::optional<std::vector<std::string>>;

EventOptions options(const std::optional<std::string>& actor, const std::optional<std::string>& channel,
                     const std::optional<std::string>& key, Roles roles) {
  return {actor.value_or(""), channel.value_or(""), key.value_or(""), std::move(roles)};
}

std::optional<CaseStatus> status_from(const std::optional<std::string>& s) {
  if (!s) return std::nullopt;
  for (auto st : {CaseStatus::active, CaseStatus::completed, CaseStatus::cancelled, CaseStatus::incident})
    if (case_status_name(st) == *s) return st;
  throw py::value_error("status must be None, 'active', 'completed', 'cancelled' or 'incident', not '" + *s + "'");
}

}  // namespace

PYBIND11_MODULE(_escalon, m) {
  m.doc() = "Escalon: a workflow and rules engine for contact-center hand-overs (flows in YAML, "
            "deadlines, escalations, SLAs on business calendars, an audit journal, durable cases).";

  // ------------------------------------------------------------------ errors
  static py::exception<Error> error(m, "Error");
  static py::exception<FlowError> flow_error(m, "FlowError", error.ptr());
  static py::exception<ExprError> expr_error(m, "ExprError", error.ptr());
  static py::exception<DataError> data_error(m, "DataError", error.ptr());
  static py::exception<EvalError> eval_error(m, "EvalError", error.ptr());
  static py::exception<EventError> event_error(m, "EventError", error.ptr());
  static py::exception<CaseError> case_error(m, "CaseError", event_error.ptr());
  static py::exception<StoreError> store_error(m, "StoreError", error.ptr());
  static py::exception<ConflictError> conflict_error(m, "ConflictError", store_error.ptr());
  static py::exception<PermanentDeliveryError> permanent_error(m, "PermanentDeliveryError", error.ptr());
  static py::exception<SqlError> sql_error(m, "SqlError", error.ptr());
  static py::exception<PermissionError> permission_error(m, "PermissionError", event_error.ptr());
  permission_error.doc() = "The caller's roles do not allow the call (an EventError with code 'not_permitted'); "
                           "recorded as rejected when it named a case (docs/security.md).";
  sql_error.doc() = "A statement of the sql action failed: unknown connection, refused or failing SQL, a value "
                    "that cannot be bound or read; the message names the connection.";
  permanent_error.doc() = "Raised by a notification listener for a failure that retrying cannot fix: the "
                          "notification is dead-lettered at once instead of retried.";
  error.doc() = "Base of every Escalon error.";
  flow_error.doc() = "A flow file is invalid: .diagnostics lists every problem; .file, .line, .column name the first.";
  data_error.doc() = "Case data that does not fit the flow's data schema.";
  case_error.doc() = "A case id the engine does not know (an EventError with code 'unknown_case').";
  event_error.doc() = "A call the engine refused (recorded as `rejected` when it named a case). .code says why: "
                      "'unknown_flow', 'unknown_case', 'duplicate_id', 'closed', 'incident', 'not_handled', "
                      "'guard_refused', 'bad_data', 'wrong_state', 'bad_request', 'key_reused' or 'not_permitted'.";
  store_error.doc() = "The store failed (disk full, read-only, locked, corrupt); what was stored is intact.";
  conflict_error.doc() = "Another writer changed the case since this engine read it.";

  py::register_exception_translator([](std::exception_ptr p) {
    // An instance of `type` carrying the message and, when there is a place, where it is.
    const auto instance = [](const py::object& type, const Error& e) {
      py::object inst = type(py::str(e.what()));
      inst.attr("message") = e.message();
      inst.attr("file") = e.where().known() ? py::object(py::str(e.where().file)) : py::none();
      inst.attr("line") = e.where().known() ? py::object(py::int_(e.where().line)) : py::none();
      inst.attr("column") = e.where().known() ? py::object(py::int_(e.where().column)) : py::none();
      return inst;
    };
    const auto raise = [&instance](const py::object& type, const Error& e) { PyErr_SetObject(type.ptr(), instance(type, e).ptr()); };
    try {
      if (p) std::rethrow_exception(p);
    } catch (const FlowError& e) {
      py::object inst = instance(flow_error, e);
      py::list diags;
      for (const auto& d : e.diagnostics()) diags.append(py::cast(d));
      inst.attr("diagnostics") = diags;
      for (const auto& d : e.diagnostics())
        if (d.severity == Severity::error) {
          inst.attr("file") = d.where.file;
          inst.attr("line") = d.where.line;
          inst.attr("column") = d.where.column;
          break;
        }
      PyErr_SetObject(flow_error.ptr(), inst.ptr());
    } catch (const ConflictError& e) {
      raise(conflict_error, e);
    } catch (const SqlError& e) {
      raise(sql_error, e);
    } catch (const StoreError& e) {
      raise(store_error, e);
    } catch (const ExprError& e) {
      raise(expr_error, e);
    } catch (const DataError& e) {
      raise(data_error, e);
    } catch (const EvalError& e) {
      raise(eval_error, e);
    } catch (const EventError& e) {  // CaseError and PermissionError included: their codes say which
      const py::object type = dynamic_cast<const CaseError*>(&e)         ? py::object(case_error)
                              : dynamic_cast<const PermissionError*>(&e) ? py::object(permission_error)
                                                                         : py::object(event_error);
      py::object inst = instance(type, e);
      inst.attr("code") = std::string(refusal_name(e.code()));
      inst.attr("reason") = e.reason();
      PyErr_SetObject(type.ptr(), inst.ptr());
    } catch (const Error& e) {
      raise(error, e);
    }
  });

  // ------------------------------------------------------------------ values
  py::class_<Diagnostic>(m, "Diagnostic", "One problem in a flow file, at file:line:column.")
      .def_property_readonly("file", [](const Diagnostic& d) { return d.where.file; })
      .def_property_readonly("line", [](const Diagnostic& d) { return d.where.line; })
      .def_property_readonly("column", [](const Diagnostic& d) { return d.where.column; })
      .def_property_readonly("severity", [](const Diagnostic& d) { return d.severity == Severity::error ? "error" : "warning"; })
      .def_readonly("message", &Diagnostic::message)
      .def("__str__", &Diagnostic::str)
      .def("__repr__", [](const Diagnostic& d) { return "<Diagnostic " + d.str() + ">"; });

  py::class_<ManualClock>(m, "ManualClock",
                          "A clock the script moves: a week of deadlines runs in a millisecond. Give the "
                          "start as a datetime (naive = UTC) or ISO-8601 text.")
      .def(py::init([](py::object start) {
             if (py::isinstance<py::str>(start)) return std::make_unique<ManualClock>(start.cast<std::string>());
             if (is_datetime(start)) return std::make_unique<ManualClock>(to_time(start));
             throw py::type_error("ManualClock(start): start must be a datetime or ISO-8601 text");
           }),
           py::arg("start"))
      .def("now", [](const ManualClock& c) { return to_py(c.now()); }, "The clock's time (an aware UTC datetime).")
      .def("advance", [](ManualClock& c, py::object d) { c.advance(to_duration(d)); }, py::arg("delta"),
           "Moves forward by a timedelta (never back).")
      .def("set", [](ManualClock& c, py::object t) { c.set(to_time(t)); }, py::arg("when"),
           "Moves to a datetime, which must not be earlier than now().");

  py::class_<ActionContext>(m, "ActionContext", "What an action handler sees; set() results merged into the case data.")
      .def_property_readonly("case_id", &ActionContext::case_id)
      .def_property_readonly("step", &ActionContext::step)
      .def_property_readonly("action", &ActionContext::action)
      .def_property_readonly("attempt", &ActionContext::attempt, "1 for the first attempt.")
      .def_property_readonly("key", &ActionContext::key,
                             "Idempotency key of this call: the same when a call lost in a crash is made again.")
      .def_property_readonly("inputs", [](const ActionContext& a) { return to_py(a.inputs()); }, "The step's `with:` values.")
      .def_property_readonly("data", [](const ActionContext& a) { return to_py(a.data()); }, "A copy of the case data.")
      .def_property_readonly(
          "engine",
          [](const ActionContext& a) -> py::object {
            const auto& engines = python_engines();
            const auto it = engines.find(&a.engine());
            py::object e = it == engines.end() ? py::none() : it->second();
            if (e.is_none()) throw Error("the engine of this ActionContext is gone");
            return e;
          },
          "The Engine that called the handler; calls made on it join the calling unit of work.")
      .def("set", [](ActionContext& a, std::string name, py::object v) { a.set(name, from_py(v, name)); }, py::arg("name"),
           py::arg("value"), "Sets a result (a data field of the flow).");

  py::class_<Notification>(m, "Notification", "An escalation, SLA warning or breach, or a hook's notify.")
      .def_property_readonly("at", [](const Notification& n) { return to_py(n.at); })
      .def_readonly("case_id", &Notification::case_id)
      .def_readonly("flow", &Notification::flow)
      .def_readonly("step", &Notification::step)
      .def_readonly("to", &Notification::to)
      .def_readonly("message", &Notification::message)
      .def_readonly("reason", &Notification::reason)
      .def_readonly("level", &Notification::level)
      .def_readonly("repeat", &Notification::repeat)
      .def_readonly("subject", &Notification::subject)
      .def_readonly("key", &Notification::key,
                    "Idempotency key '<case>/<record seq>': the same on every delivery attempt and after a restart.")
      .def("__repr__", [](const Notification& n) {
        return "<Notification " + n.reason + " " + n.case_id + " level " + std::to_string(n.level) + ">";
      });

  py::class_<DeadlineView>(m, "Deadline")
      .def_readonly("step", &DeadlineView::step)
      .def_readonly("stage", &DeadlineView::stage, "The stage whose deadline this is ('': the step's own).")
      .def_property_readonly("started", [](const DeadlineView& d) { return to_py(d.started); })
      .def_property_readonly("due", [](const DeadlineView& d) { return to_py(d.due); })
      .def_readonly("overdue", &DeadlineView::overdue)
      .def_readonly("level", &DeadlineView::level, "Highest escalation level fired so far (0: none).");

  py::class_<SlaView>(m, "Sla")
      .def_readonly("name", &SlaView::name)
      .def_property_readonly("state", [](const SlaView& s) { return std::string(sla_state_name(s.state)); })
      .def_property_readonly("elapsed", [](const SlaView& s) { return to_py(s.elapsed); })
      .def_property_readonly("remaining", [](const SlaView& s) { return to_py(s.remaining); })
      .def_property_readonly("due", [](const SlaView& s) { return s.due == TimePoint{} ? py::none() : to_py(s.due); })
      .def_readonly("warned", &SlaView::warned)
      .def_readonly("level", &SlaView::level);

  py::class_<CaseView>(m, "Case", "A snapshot of one case.")
      .def_readonly("id", &CaseView::id)
      .def_readonly("flow", &CaseView::flow)
      .def_readonly("version", &CaseView::version)
      .def_property_readonly("status", [](const CaseView& c) { return std::string(case_status_name(c.status)); })
      .def_readonly("steps", &CaseView::steps)
      .def_property_readonly("step", [](const CaseView& c) { return c.steps.empty() ? py::none() : py::object(py::str(c.steps.front())); },
                             "The current step (the end step once completed; None for a case without one).")
      .def_readonly("role", &CaseView::role)
      .def_readonly("assignee", &CaseView::assignee)
      .def_readonly("priority", &CaseView::priority)
      .def_property_readonly("data", [](const CaseView& c) { return to_py(c.data); })
      .def_property_readonly("started", [](const CaseView& c) { return to_py(c.started); })
      .def_property_readonly("entered", [](const CaseView& c) { return to_py(c.entered); })
      .def_readonly("deadlines", &CaseView::deadlines)
      .def_readonly("slas", &CaseView::slas)
      .def_readonly("outcome", &CaseView::outcome)
      .def_readonly("incident", &CaseView::incident)
      .def_readonly("parent", &CaseView::parent)
      .def_readonly("children", &CaseView::children)
      .def_property_readonly("overdue", &CaseView::overdue)
      .def_property_readonly("level", &CaseView::level)
      .def("__repr__", [](const CaseView& c) {
        return "<Case " + c.id + " " + std::string(case_status_name(c.status)) + (c.steps.empty() ? "" : " at " + c.steps.front()) + ">";
      });

  py::class_<Record>(m, "Record", "One journal record.")
      .def_readonly("seq", &Record::seq)
      .def_property_readonly("at", [](const Record& r) { return to_py(r.at); })
      .def_readonly("case_id", &Record::case_id)
      .def_property_readonly("type", [](const Record& r) { return std::string(record_type_name(r.type)); })
      .def_readonly("step", &Record::step)
      .def_readonly("event", &Record::event)
      .def_readonly("actor", &Record::actor)
      .def_readonly("channel", &Record::channel)
      .def_readonly("target", &Record::target)
      .def_readonly("level", &Record::level)
      .def_readonly("repeat", &Record::repeat)
      .def_property_readonly("due", [](const Record& r) {
        return r.type == RecordType::deadline_set || r.type == RecordType::resumed ? to_py(r.due) : py::none();
      })
      .def_property_readonly("old_value", [](const Record& r) { return to_py(r.old_value); })
      .def_property_readonly("new_value", [](const Record& r) { return to_py(r.new_value); })
      .def_property_readonly("data", [](const Record& r) { return to_py(r.data); })
      .def_readonly("message", &Record::message)
      .def("to_json", &Record::to_json)
      .def("__repr__", [](const Record& r) { return "<Record " + r.to_json() + ">"; });

  py::class_<FlowInfo>(m, "Flow", "A loaded flow version.")
      .def_readonly("id", &FlowInfo::id)
      .def_readonly("version", &FlowInfo::version)
      .def_readonly("title", &FlowInfo::title)
      .def_readonly("file", &FlowInfo::file)
      .def_readonly("hash", &FlowInfo::hash)
      .def_readonly("steps", &FlowInfo::steps)
      .def("__repr__", [](const FlowInfo& f) { return "<Flow " + f.id + " v" + std::to_string(f.version) + ">"; });

  const auto validate_fn = [](py::object paths, bool strict) {
    const auto p = paths_from_py(paths);
    LoadResult r;
    {
      py::gil_scoped_release nogil;
      r = validate(std::span<const std::string>(p), LoadOptions{.strict = strict});
    }
    return r.diagnostics;
  };
  m.def("validate", validate_fn, py::arg("paths"), py::arg("strict") = false,
        "Checks flow files and folders; returns every problem (errors and warnings) as Diagnostic, "
        "with file, line, column and message. An empty list means the flows are valid.");
  m.def(
      "verify_journal",
      [](const std::string& where) {
        ChainReport r;
        {
          py::gil_scoped_release nogil;
          // A SQLite file is read beside its writer, never upgraded or locked by a check.
          std::string location = where;
          if (location.starts_with("sqlite:") && location.find("mode=") == std::string::npos)
            location += location.find('?') == std::string::npos ? "?mode=ro" : "&mode=ro";
          auto store = open_store(location);
          r = verify_journal(*store);
        }
        py::dict d;
        d["ok"] = r.ok();
        d["cases"] = r.cases;
        d["records"] = r.records;
        d["unchained"] = r.unchained;
        d["problems"] = r.problems;
        d["digest"] = r.digest;
        return d;
      },
      py::arg("store"),
      "Checks every case's hash chain in a store ('sqlite:PATH?mode=ro' reads beside a running engine); "
      "returns {'ok', 'cases', 'records', 'unchained', 'problems', 'digest'} (docs/security.md).");

  // ------------------------------------------------------------------ sql
  py::class_<SqlConnections, std::shared_ptr<SqlConnections>>(
      m, "SqlConnections",
      "The databases the `sql` action may use, by name (docs/sql.md). Flows name a connection; the path, "
      "URL and password stay with the host.")
      .def(py::init<>())
      .def(
          "add_sqlite",
          [](SqlConnections& self, std::string name, const py::object& path, bool writable) {
            const auto file = py::module_::import("os").attr("fspath")(path).cast<std::string>();
            self.add_sqlite(std::move(name), file, writable ? SqlAccess::read_write : SqlAccess::read_only);
          },
          py::arg("name"), py::arg("path"), py::arg("writable") = false,
          "An SQLite file, opened now (a missing file raises SqlError). Read-only unless writable: the database "
          "itself refuses writes.")
      .def(
          "add_postgres",
          [](SqlConnections& self, std::string name, std::string url, bool writable) {
            self.add_postgres(std::move(name), std::move(url), writable ? SqlAccess::read_write : SqlAccess::read_only);
          },
          py::arg("name"), py::arg("url"), py::arg("writable") = false,
          "A PostgreSQL database (libpq URI), connected at first use; read-only transactions unless writable.")
      .def("names", &SqlConnections::names, "The configured connection names, sorted.")
      .def(
          "run",
          [](const SqlConnections& self, const std::string& name, const std::string& query, py::object params,
             std::size_t max_rows) {
            List bound;
            if (py::isinstance<py::str>(params) || py::isinstance<py::bytes>(params))
              throw py::type_error("params must be a list of values, not a string");
            if (!params.is_none())
              for (auto p : params) bound.push_back(from_py(p, "params"));
            SqlConnections::Result r;
            {
              py::gil_scoped_release nogil;
              r = self.run(name, query, bound, max_rows);
            }
            py::list rows;
            for (const auto& row : r.rows) {
              py::dict d;
              for (const auto& [k, v] : row) d[py::str(k)] = to_py(v);
              rows.append(d);
            }
            return rows;
          },
          py::arg("name"), py::arg("query"), py::arg("params") = py::none(), py::arg("max_rows") = 1,
          "Runs one statement with params bound to ?1.. / $1..; returns up to max_rows rows as dicts. "
          "For a host's own checks; flows use `call: sql`.");

  // ------------------------------------------------------------------ engine
  py::class_<PyEngine>(m, "Engine",
                       "Runs cases of loaded flows on a store.\n\n"
                       "Engine(store='memory:', clock=None, group_commit=False, keep_journal=True, "
                       "require_handlers=False): store is 'memory:' or 'sqlite:PATH[?sync=normal]'; clock a "
                       "ManualClock (None: the system clock); require_handlers: changing calls, recover() and "
                       "start_runner() raise Error while a loaded flow calls an action without a handler.")
      .def(py::init<const std::string&, py::object, bool, bool, bool, std::int32_t, double, const std::string&,
                    const std::map<std::string, std::vector<std::string>>&, py::object>(),
           py::arg("store") = "memory:", py::arg("clock") = py::none(), py::arg("group_commit") = false,
           py::arg("keep_journal") = true, py::arg("require_handlers") = false, py::arg("delivery_attempts") = 8,
           py::arg("delivery_first_retry") = 30.0, py::arg("authorization") = "automatic",
           py::arg("access") = std::map<std::string, std::vector<std::string>>{}, py::arg("retention") = py::none())
      .def(
          "add_mail_channel",
          [](PyEngine& self, const std::string& name, const std::string& url, const std::string& sender, py::object directory,
             const std::string& username, const std::string& password, bool require_tls, double timeout) {
            Directory people;
            if (py::isinstance<py::str>(directory) || py::hasattr(directory, "__fspath__")) {
              people = Directory::from_yaml(py::str(directory).cast<std::string>());
            } else {
              const auto d = directory.cast<py::dict>();
              if (d.contains("roles")) people.roles = d["roles"].cast<std::map<std::string, std::vector<std::string>, std::less<>>>();
              if (d.contains("users")) people.users = d["users"].cast<std::map<std::string, std::string, std::less<>>>();
            }
            self.e().add_channel(name, mail_channel({.url = url,
                                                     .from = sender,
                                                     .directory = std::move(people),
                                                     .username = username,
                                                     .password = password,
                                                     .require_tls = require_tls,
                                                     .timeout = std::chrono::milliseconds(static_cast<std::int64_t>(timeout * 1000))}));
          },
          py::arg("name"), py::arg("url"), py::arg("sender"), py::arg("directory"), py::arg("username") = "",
          py::arg("password") = "", py::arg("require_tls") = false, py::arg("timeout") = 10.0,
          "Mails notifications over SMTP (url smtp://host:port or smtps://); directory: a YAML file of "
          "roles and users, or a dict {'roles': {role: [addresses]}, 'users': {name: address}} (docs/channels.md).")
      .def(
          "add_webhook_channel",
          [](PyEngine& self, const std::string& name, const std::string& url, const std::map<std::string, std::string>& headers,
             double timeout) {
            WebhookOptions o{.url = url, .headers = {headers.begin(), headers.end()},
                             .timeout = std::chrono::milliseconds(static_cast<std::int64_t>(timeout * 1000))};
            self.e().add_channel(name, webhook_channel(std::move(o)));
          },
          py::arg("name"), py::arg("url"), py::arg("headers") = std::map<std::string, std::string>{}, py::arg("timeout") = 10.0,
          "POSTs each notification as JSON with an Idempotency-Key header (docs/channels.md).")
      .def(
          "add_sql_action",
          [](PyEngine& self, std::shared_ptr<SqlConnections> connections, const std::string& name) {
            if (!connections) throw Error("add_sql_action needs SqlConnections, not None");
            self.e().on_action(name, sql_action(std::move(connections)));
          },
          py::arg("connections"), py::arg("name") = "sql",
          "Registers the built-in sql action under `name` (`call: sql` in flows) on these connections; it runs "
          "without the GIL (docs/sql.md).")
      .def_readonly("store", &PyEngine::location)
      .def(
          "load",
          [](PyEngine& self, py::object paths) {
            const auto p = paths_from_py(paths);
            py::gil_scoped_release nogil;
            self.e().load(std::span<const std::string>(p));
          },
          py::arg("paths"), "Loads flow files and folders; raises FlowError with every problem (nothing loaded then).")
      .def_static("validate", validate_fn, py::arg("paths"), py::arg("strict") = false, "Same as escalon.validate().")
      .def(
          "flows",
          [](PyEngine& self) {
            std::vector<FlowInfo> out;
            for (const auto& f : self.e().flows()) {
              FlowInfo i{f->id, f->version, f->title, f->file, f->content_hash, {}};
              for (const auto& s : f->steps) i.steps.push_back(s.name);
              out.push_back(std::move(i));
            }
            return out;
          },
          "The loaded flow versions.")
      .def(
          "recover", [](PyEngine& self) { py::gil_scoped_release nogil; return self.e().recover(); },
          "With a durable store: brings back every open case and fires what fell due while the "
          "engine was down. Call after load(); without it, the first call that changes something "
          "recovers. Returns the number of cases recovered (0 once recovered).")
      .def(
          "missing_handlers", [](PyEngine& self) { return self.e().missing_handlers(); },
          "Every `call:` of a loaded flow with no registered handler, as Diagnostic warnings at the "
          "place in the flow file that calls it. Empty when every call has a handler.")
      .def(
          "start",
          [](PyEngine& self, const std::string& flow, py::object data, std::optional<std::string> id, std::optional<std::string> actor,
             std::optional<std::string> channel, std::int64_t version, std::optional<std::string> key, Roles roles) {
            Map d = map_from_py(data, "data");
            StartOptions o{.id = id.value_or(""), .actor = actor.value_or(""), .channel = channel.value_or(""), .version = version,
                           .key = key.value_or(""), .roles = std::move(roles)};
            py::gil_scoped_release nogil;
            return self.e().start(flow, std::move(d), std::move(o));
          },
          py::arg("flow"), py::arg("data") = py::none(), py::kw_only(), py::arg("id") = py::none(), py::arg("actor") = py::none(),
          py::arg("channel") = py::none(), py::arg("version") = 0, py::arg("key") = py::none(), py::arg("roles") = py::none(),
          "Starts a case; returns its id (with key=: the first case's id when the start is repeated).")
      .def(
          "send",
          [](PyEngine& self, const std::string& case_id, const std::string& event, py::object payload, std::optional<std::string> actor,
             std::optional<std::string> channel,
             std::optional<std::string> key, Roles roles) {
            Map p = map_from_py(payload, "payload");
            py::gil_scoped_release nogil;
            self.e().send(case_id, event, std::move(p), options(actor, channel, key, std::move(roles)));
          },
          py::arg("case_id"), py::arg("event"), py::arg("payload") = py::none(), py::kw_only(), py::arg("actor") = py::none(),
          py::arg("channel") = py::none(), py::arg("key") = py::none(), py::arg("roles") = py::none(),
          "Sends an event. Raises CaseError (unknown case), EventError (the case cannot take it now; "
          "recorded as rejected) or DataError (payload does not fit the form).")
      .def(
          "update",
          [](PyEngine& self, const std::string& case_id, py::object changes, std::optional<std::string> actor,
             std::optional<std::string> channel,
             std::optional<std::string> key, Roles roles) {
            Map c = map_from_py(changes, "changes");
            py::gil_scoped_release nogil;
            self.e().update(case_id, std::move(c), options(actor, channel, key, std::move(roles)));
          },
          py::arg("case_id"), py::arg("changes"), py::kw_only(), py::arg("actor") = py::none(), py::arg("channel") = py::none(), py::arg("key") = py::none(), py::arg("roles") = py::none(),
          "Changes case data from outside; deadlines that read a changed field move.")
      .def(
          "cancel",
          [](PyEngine& self, const std::string& case_id, const std::string& reason, std::optional<std::string> actor,
             std::optional<std::string> channel,
             std::optional<std::string> key, Roles roles) {
            py::gil_scoped_release nogil;
            self.e().cancel(case_id, reason, options(actor, channel, key, std::move(roles)));
          },
          py::arg("case_id"), py::arg("reason") = "", py::kw_only(), py::arg("actor") = py::none(), py::arg("channel") = py::none(), py::arg("key") = py::none(), py::arg("roles") = py::none())
      .def(
          "erase",
          [](PyEngine& self, const std::string& case_id, const std::string& reason, std::optional<std::string> actor,
             std::optional<std::string> channel, Roles roles) {
            py::gil_scoped_release nogil;
            self.e().erase(case_id, reason, options(actor, channel, std::nullopt, std::move(roles)));
          },
          py::arg("case_id"), py::arg("reason"), py::kw_only(), py::arg("actor") = py::none(), py::arg("channel") = py::none(),
          py::arg("roles") = py::none(),
          "Erases a closed case's personal data (pii: fields) for good: its key is deleted, the journal keeps "
          "its records without the values, an `erased` record says who and why (docs/security.md).")
      .def(
          "apply_retention",
          [](PyEngine& self) {
            py::gil_scoped_release nogil;
            return self.e().apply_retention();
          },
          "Erases every closed case past its retention (the flow's `retention:`, else Engine(retention=...)); "
          "returns their ids.")
      .def(
          "reschedule",
          [](PyEngine& self, const std::string& case_id, py::object due, std::optional<std::string> actor,
             std::optional<std::string> channel,
             std::optional<std::string> key, Roles roles) {
            const TimePoint t = to_time(due);
            py::gil_scoped_release nogil;
            self.e().reschedule(case_id, t, options(actor, channel, key, std::move(roles)));
          },
          py::arg("case_id"), py::arg("due"), py::kw_only(), py::arg("actor") = py::none(), py::arg("channel") = py::none(), py::arg("key") = py::none(), py::arg("roles") = py::none(),
          "Moves the due time of the current step's deadline.")
      .def(
          "retry",
          [](PyEngine& self, const std::string& case_id, std::optional<std::string> actor, std::optional<std::string> channel,
             std::optional<std::string> key, Roles roles) {
            py::gil_scoped_release nogil;
            self.e().retry(case_id, options(actor, channel, key, std::move(roles)));
          },
          py::arg("case_id"), py::kw_only(), py::arg("actor") = py::none(), py::arg("channel") = py::none(), py::arg("key") = py::none(), py::arg("roles") = py::none(),
          "For a case in an incident: runs the failed action again.")
      .def(
          "resolve",
          [](PyEngine& self, const std::string& case_id, py::object data, std::optional<std::string> to_step,
             std::optional<std::string> actor, std::optional<std::string> channel,
             std::optional<std::string> key, Roles roles) {
            Map d = map_from_py(data, "data");
            py::gil_scoped_release nogil;
            self.e().resolve(case_id, std::move(d), to_step.value_or(""), options(actor, channel, key, std::move(roles)));
          },
          py::arg("case_id"), py::arg("data") = py::none(), py::arg("to_step") = py::none(), py::kw_only(), py::arg("actor") = py::none(),
          py::arg("channel") = py::none(), py::arg("key") = py::none(), py::arg("roles") = py::none(), "For a case in an incident: moves it on as if the action had succeeded.")
      .def(
          "migrate",
          [](PyEngine& self, const std::string& flow, std::int64_t to, std::int64_t from, std::map<std::string, std::string> steps,
             std::vector<std::string> cases, std::optional<std::string> actor, std::optional<std::string> channel, Roles roles) {
            Migration mig{.flow = flow, .from = from, .to = to, .steps = {steps.begin(), steps.end()}, .cases = std::move(cases)};
            py::gil_scoped_release nogil;
            return self.e().migrate(mig, options(actor, channel, std::nullopt, std::move(roles)));
          },
          py::arg("flow"), py::arg("to") = 0, py::kw_only(), py::arg("from_version") = 0,
          py::arg("steps") = std::map<std::string, std::string>{}, py::arg("cases") = std::vector<std::string>{},
          py::arg("actor") = py::none(), py::arg("channel") = py::none(), py::arg("roles") = py::none(),
          "Moves open cases to another loaded version (to=0: the newest); steps maps old step names "
          "to new ones. All or nothing. Returns how many cases moved.")
      .def(
          "run_due", [](PyEngine& self) { py::gil_scoped_release nogil; return self.e().run_due(); },
          "Fires every deadline, escalation and timer due up to the clock's now; returns how many fired.")
      .def(
          "next_due",
          [](PyEngine& self) -> py::object {
            std::optional<TimePoint> t;
            {
              py::gil_scoped_release nogil;
              t = self.e().next_due();
            }
            return t ? to_py(*t) : py::none();
          },
          "When the next timer is due (None: nothing pending).")
      .def(
          "start_runner",
          [](PyEngine& self, py::object max_sleep) {
            const Duration d = max_sleep.is_none() ? Duration{std::chrono::seconds{1}} : to_duration(max_sleep);
            py::gil_scoped_release nogil;
            self.e().start_runner(d);
          },
          py::arg("max_sleep") = py::none(), "Fires deadlines on time from a background thread (handlers then run there).")
      .def("stop_runner", [](PyEngine& self) { py::gil_scoped_release nogil; self.e().stop_runner(); })
      .def(
          "get", [](PyEngine& self, const std::string& id) { py::gil_scoped_release nogil; return self.e().get(id); }, py::arg("case_id"),
          "A snapshot of one case; raises CaseError for an unknown id.")
      .def(
          "query",
          [](PyEngine& self, std::optional<std::string> flow, std::optional<std::string> step, std::optional<std::string> role,
             std::optional<std::string> assignee, std::optional<std::string> status, std::optional<bool> overdue, std::int32_t min_level,
             std::size_t limit) {
            Query q{.flow = flow.value_or(""), .step = step.value_or(""), .role = role.value_or(""), .assignee = assignee.value_or(""),
                    .status = status_from(status), .overdue = overdue, .min_level = min_level, .limit = limit};
            py::gil_scoped_release nogil;
            return self.e().query(q);
          },
          py::kw_only(), py::arg("flow") = py::none(), py::arg("step") = py::none(), py::arg("role") = py::none(),
          py::arg("assignee") = py::none(), py::arg("status") = "active", py::arg("overdue") = py::none(), py::arg("min_level") = 0,
          py::arg("limit") = 0,
          "A work queue: cases filtered by flow, step, role, assignee, status (None: any), overdue, "
          "min_level; highest priority first, then longest waiting.")
      .def(
          "history",
          [](PyEngine& self, const std::string& id) {
            py::gil_scoped_release nogil;
            auto h = self.e().history(id);
            if (h.empty()) h = self.store->history(id);  // a closed case of an earlier run
            return h;
          },
          py::arg("case_id"), "The case's journal records, in order.")
      .def(
          "journal_jsonl",
          [](PyEngine& self, const std::string& id, bool personal, std::optional<std::string> actor, Roles roles) {
            const ReadOptions read{.personal = personal, .actor = actor.value_or(""), .roles = std::move(roles)};
            py::gil_scoped_release nogil;
            return self.e().journal_jsonl(id, read);
          },
          py::arg("case_id") = "", py::kw_only(), py::arg("personal") = false, py::arg("actor") = py::none(),
          py::arg("roles") = py::none(),
          "The journal (or one case's) as JSON Lines; values of `pii:` fields are *** unless personal=True "
          "(with roles=: needs access['read_personal']).")
      .def("case_count", [](PyEngine& self) { return self.e().case_count(); })
      .def(
          "report",
          [](PyEngine& self, py::object at) {
            std::optional<TimePoint> now;
            if (!at.is_none()) now = to_time(at);
            std::string json;
            {
              py::gil_scoped_release nogil;
              json = report_json(make_report(*self.store, now));
            }
            return py::module_::import("json").attr("loads")(json);
          },
          py::arg("at") = py::none(),
          "The supervisor's KPIs from the journal, as a dict: cases, first-contact resolution, "
          "deadlines met, escalations per level, SLAs, time per step, backlog per assignee.")
      .def(
          "report_text",
          [](PyEngine& self, py::object at) {
            std::optional<TimePoint> now;
            if (!at.is_none()) now = to_time(at);
            py::gil_scoped_release nogil;
            return report_text(make_report(*self.store, now));
          },
          py::arg("at") = py::none(), "The same report as a text table.")
      .def(
          "on_action",
          [](py::object self_obj, const std::string& name, py::object fn) {
            auto& self = self_obj.cast<PyEngine&>();
            python_engines()[self.engine.get()] = py::weakref(self_obj);
            auto held = hold(fn);
            self.e().on_action(name, [held](ActionContext& a) {
              std::string failure;
              {
                py::gil_scoped_acquire gil;
                try {
                  py::object result = (*held)(py::cast(&a, py::return_value_policy::reference));
                  if (py::isinstance<py::dict>(result))
                    for (auto [k, v] : py::reinterpret_borrow<py::dict>(result)) {
                      const auto key = py::str(k).cast<std::string>();
                      a.set(key, from_py(v, key));
                    }
                } catch (py::error_already_set& e) {
                  failure = describe(e);
                }
              }
              if (!failure.empty()) throw std::runtime_error(failure);
            });
          },
          py::arg("name"), py::arg("handler"),
          "Registers handler(ctx) for `call: name`. It may ctx.set() results or return a dict of "
          "them; raising an exception fails the attempt (retry, then incident; the message is kept).")
      .def(
          "action",
          [](py::object self, const std::string& name) {
            return py::cpp_function([self, name](py::object fn) {
              self.attr("on_action")(name, fn);
              return fn;
            });
          },
          py::arg("name"), "Decorator form of on_action: @engine.action('erp.order_parts').")
      .def(
          "on_notify",
          [](PyEngine& self, py::object fn, std::string channel) {
            auto held = hold(fn);
            self.e().on_notify(
                [held](const Notification& n) {
                  std::string failure;
                  bool permanent = false;
                  {
                    py::gil_scoped_acquire gil;
                    try {
                      (*held)(n);
                    } catch (py::error_already_set& e) {
                      permanent = e.matches(permanent_error);
                      failure = describe(e);
                    }
                  }
                  if (permanent) throw PermanentDeliveryError(failure);
                  if (!failure.empty()) throw std::runtime_error(failure);
                },
                std::move(channel));
            return fn;
          },
          py::arg("listener"), py::arg("channel") = "host",
          "Adds a notification listener to `channel` (usable as a decorator: @engine.on_notify). "
          "Notifications go through the outbox: raising fails the delivery, which is retried with "
          "growing pauses and dead-lettered after EngineOptions' max attempts (at once for "
          "PermanentDeliveryError); the key is the same on every attempt.")
      .def(
          "outbox",
          [](PyEngine& self) {
            py::list out;
            for (const auto& e : self.e().outbox()) {
              py::dict d;
              d["key"] = e.key;
              d["channel"] = e.channel;
              d["case_id"] = e.case_id;
              d["attempts"] = e.attempts;
              d["next_attempt"] = to_py(e.next_attempt);
              d["dead"] = e.dead;
              d["error"] = e.error;
              out.append(d);
            }
            return out;
          },
          "Notifications not delivered yet (waiting for a try or a retry) and dead letters, as dicts.")
      .def(
          "redeliver",
          [](PyEngine& self, const std::string& key, const std::string& channel) {
            py::gil_scoped_release nogil;
            return self.e().redeliver(key, channel);
          },
          py::arg("key"), py::arg("channel") = "",
          "Puts dead letters with this key (of this channel; '': any) back for delivery by the next "
          "run_due(); returns how many came back.");

  m.attr("__version__") = std::string(escalon::version());  // escalon/version.hpp, from CMake
}
