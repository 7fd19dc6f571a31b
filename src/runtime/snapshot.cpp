// Case snapshots for stores: everything a restarted engine needs to carry on exactly where the
// case was, clocks included (how much time each counted, which levels fired, how often).
// Data values are written as JSON and read back through the flow's declared types, so
// datetimes and durations come back as datetimes and durations.

#include <fmt/format.h>

#include <charconv>

#include "escalon/store.hpp"
#include "base/json.hpp"
#include "store/seal.hpp"
#include "runtime/state.hpp"

namespace escalon::detail {
namespace {

using json = nlohmann::ordered_json;
constexpr int snapshot_version = 1;
constexpr std::int64_t max_stored_depth = 8;  // sub-flows nest at most 8 deep (subflows.cpp)

std::int64_t ms(TimePoint t) { return t.time_since_epoch().count(); }
TimePoint tp(const json& j) { return TimePoint{Duration{j.get<std::int64_t>()}}; }

std::string calendar_name(const FlowRt& rt, const Calendar* cal) {
  for (const auto& [name, c] : rt.calendars)
    if (c.get() == cal) return name;
  return {};
}

// Personal values (`pii: true`) are stored sealed with the case's secret (store/seal.hpp).
json values_json(const Flow& f, const std::vector<Value>& values, std::string_view secret) {
  json out = json::object();
  for (std::size_t i = 0; i < values.size(); ++i) {
    if (values[i].is_null()) continue;
    if (!f.data[i].pii) out[f.data[i].name] = value_to_json(values[i]);
    else if (!secret.empty()) out[f.data[i].name] = value_to_json(seal_value(values[i], secret));
  }
  return out;
}

std::vector<Value> values_from(const Flow& f, const json& j, const std::string& case_id, std::string_view secret,
                               bool erased) {
  std::vector<Value> out(f.data.size());
  for (const auto& [k, v] : j.items()) {
    const DataField* field = f.find_field(k);
    if (!field) throw StoreError(fmt::format("stored case '{}' has data field '{}', which flow '{}' v{} does not declare", case_id, k, f.id, f.version));
    Value value = value_from_json(v);
    if (is_sealed(value)) {
      if (secret.empty() && erased) continue;  // the key is gone: so is the value
      if (secret.empty())
        throw StoreError(fmt::format("stored case '{}' is damaged: its field '{}' is sealed but the case has no key (and was "
                                     "not erased)",
                                     case_id, k));
      auto opened = open_value(value, secret);
      if (!opened)
        throw StoreError(fmt::format("stored case '{}' is damaged: its field '{}' does not open with the case's key", case_id, k));
      value = std::move(*opened);
    }
    out[static_cast<std::size_t>(field - f.data.data())] = field->type.coerce(value, k);
  }
  return out;
}

// [key, fingerprint (16 hex digits: JSON numbers lose 64-bit integers in other readers),
//  refusal code or -1 when applied, message, and the refusal's reason when it has one]
json keys_json(const std::vector<AppliedKey>& keys) {
  json out = json::array();
  for (const auto& k : keys) {
    out.push_back(json::array({k.key, fmt::format("{:016x}", k.fingerprint),
                               k.refusal ? static_cast<int>(*k.refusal) : -1, k.message}));
    if (!k.reason.empty()) out.back().push_back(k.reason);
  }
  return out;
}

std::vector<AppliedKey> keys_from(const json& j, const std::string& id) {
  std::vector<AppliedKey> out;
  for (const auto& x : j) {
    AppliedKey k;
    k.key = x.at(0).get<std::string>();
    const auto fp = x.at(1).get<std::string>();
    const auto [end, ec] = std::from_chars(fp.data(), fp.data() + fp.size(), k.fingerprint, 16);
    const int code = x.at(2).get<int>();
    if (ec != std::errc{} || end != fp.data() + fp.size() || fp.size() != 16 || code < -1 ||
        code > static_cast<int>(Refusal::not_permitted) || k.key.empty())
      throw StoreError(fmt::format("stored case '{}' is damaged: idempotency key entry {} is not [key, 16 hex digits, "
                                   "refusal code, message]", id, x.dump(-1, ' ', false, json::error_handler_t::replace)));
    if (code >= 0) k.refusal = static_cast<Refusal>(code);
    k.message = x.at(3).get<std::string>();
    if (x.size() > 4) k.reason = x.at(4).get<std::string>();
    out.push_back(std::move(k));
  }
  return out;
}

ClockState clock_from(const json& x, const FlowRt& rt, const std::string& id) {
  ClockState k;
  k.kind = static_cast<ClockKind>(x.at("kind").get<int>());
  k.active = x.at("active").get<bool>();
  k.met = x.at("met").get<bool>();
  k.done = x.at("done").get<bool>();
  k.warned = x.at("warned").get<bool>();
  k.level = x.at("level").get<std::int32_t>();
  if (!k.active) return k;
  k.purpose = static_cast<TimerPurpose>(x.at("purpose").get<int>());
  k.running = x.at("running").get<bool>();
  k.business = x.at("business").get<bool>();
  k.index = x.at("index").get<std::int32_t>();
  k.attempt = x.at("attempt").get<std::int32_t>();
  k.visit = x.at("visit").get<std::uint32_t>();
  const auto cal = x.at("calendar").get<std::string>();
  k.cal = cal.empty() ? nullptr : rt.calendar(cal);
  if (!cal.empty() && !k.cal)
    throw StoreError(fmt::format("stored case '{}' uses calendar '{}', which flow '{}' lacks", id, cal, rt.flow->id));
  k.total = Duration{x.at("total").get<std::int64_t>()};
  k.consumed = Duration{x.at("consumed").get<std::int64_t>()};
  k.started = tp(x.at("started"));
  k.since = tp(x.at("since"));
  k.at = tp(x.at("at"));
  if (x.contains("floor")) k.floor = tp(x.at("floor"));
  for (const auto& r : x.at("rungs")) k.rungs.push_back({r.at(0).get<std::int32_t>(), tp(r.at(1))});
  return k;
}

}  // namespace

std::string save_case(const Case& c) {
  const Flow& f = c.flow();
  json j;
  j["v"] = snapshot_version;
  j["id"] = c.id;
  j["flow"] = f.id;
  j["version"] = f.version;
  j["hash"] = f.content_hash;
  j["status"] = static_cast<int>(c.status);
  j["step"] = c.step;
  j["visit"] = c.visit;
  j["data"] = values_json(f, c.data, c.secret());
  if (c.erased()) j["erased"] = true;
  j["assignee"] = c.assignee;
  if (!c.outcome().empty()) j["outcome"] = c.outcome();
  if (!c.incident().empty()) j["incident"] = c.incident();
  if (const auto* keys = c.keys()) j["keys"] = keys_json(*keys);
  j["started"] = ms(c.started);
  j["entered"] = ms(c.entered);
  if (c.last_at != min_time) j["last_at"] = ms(c.last_at);
  if (c.parent || !c.parent_id().empty()) {
    j["parent"] = c.parent ? c.parent->id : c.parent_id();
    j["parent_visit"] = c.parent_visit;
  }
  j["depth"] = c.depth;
  if (!c.children.empty()) {
    json ch = json::array();
    for (const auto& s : c.children) ch.push_back(s);
    j["children"] = ch;
  }
  if (c.join_step >= 0) {
    j["join_step"] = c.join_step;
    j["fork_data"] = values_json(f, c.fork_data, c.secret());
  }
  j["arrivals"] = c.arrivals;
  json clocks = json::array();
  for (const auto& k : c.clocks) {
    json x;
    x["kind"] = static_cast<int>(k.kind);
    x["active"] = k.active;
    if (k.active) {
      x["purpose"] = static_cast<int>(k.purpose);
      x["running"] = k.running;
      x["warned"] = k.warned;
      x["done"] = k.done;
      x["met"] = k.met;
      x["business"] = k.business;
      x["index"] = k.index;
      x["level"] = k.level;
      x["attempt"] = k.attempt;
      x["visit"] = k.visit;
      x["calendar"] = calendar_name(*c.rt, k.cal);
      x["total"] = k.total.count();
      x["consumed"] = k.consumed.count();
      x["started"] = ms(k.started);
      x["since"] = ms(k.since);
      x["at"] = ms(k.at);
      if (k.floor != min_time) x["floor"] = ms(k.floor);
      json rungs = json::array();
      for (const auto& r : k.rungs) rungs.push_back(json::array({r.count, ms(r.last)}));
      x["rungs"] = rungs;
    } else {
      x["met"] = k.met;  // an SLA that was met stays met
      x["done"] = k.done;
      x["warned"] = k.warned;
      x["level"] = k.level;
    }
    clocks.push_back(x);
  }
  j["clocks"] = clocks;
  // Text is checked where it comes in; a handler's error message is not: replaced, not thrown on.
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

// A stored clock must fit the flow it runs on: indexes in range, one rung state per level of its
// ladder. Recovery indexes with these values, so damage must be a StoreError here, not a crash.
static void check_clock(const Case& c, std::size_t i, const std::string& id) {
  const ClockState& k = c.clocks[i];
  const Flow& f = c.flow();
  const auto bad = [&](std::string_view what) {
    throw StoreError(fmt::format("stored case '{}' is damaged: its clock {} {}", id, i, what));
  };
  if (static_cast<int>(k.kind) > static_cast<int>(ClockKind::stage) ||
      static_cast<int>(k.purpose) > static_cast<int>(TimerPurpose::retry))
    bad("has an unknown kind");
  if (k.level < 0) bad("has a negative level");
  if (!k.active) return;
  const std::size_t slas = f.slas.size();
  const ClockKind expected = i < slas        ? ClockKind::sla
                             : i == slas     ? ClockKind::deadline
                             : i == slas + 1 ? ClockKind::timer
                                             : ClockKind::stage;
  if (k.kind != expected) bad("is not the kind of clock its place holds");
  const std::size_t limit = k.kind == ClockKind::sla ? slas : k.kind == ClockKind::stage ? f.stages.size() : f.steps.size();
  const char* holder = k.kind == ClockKind::sla ? "SLA" : k.kind == ClockKind::stage ? "stage" : "step";
  if (k.index < 0 || static_cast<std::size_t>(k.index) >= limit) bad(fmt::format("names {} {}, which the flow lacks", holder, k.index));
  if (k.kind == ClockKind::deadline && !f.steps[static_cast<std::size_t>(k.index)].deadline)
    bad("is the deadline of a step that has none");
  if (k.kind == ClockKind::stage && !f.stages[static_cast<std::size_t>(k.index)].deadline)
    bad("is the deadline of a stage that has none");
  const auto idx = static_cast<std::size_t>(k.index);
  const Deadline* dl = k.kind == ClockKind::deadline ? &*f.steps[idx].deadline
                       : k.kind == ClockKind::stage  ? &*f.stages[idx].deadline
                                                     : nullptr;
  const std::size_t levels = k.kind == ClockKind::sla ? f.slas[static_cast<std::size_t>(k.index)].escalate.size()
                             : dl                     ? dl->escalate.size()
                                                      : 0;
  if (k.rungs.size() != levels) bad(fmt::format("has {} escalation levels where the flow has {}", k.rungs.size(), levels));
  if (static_cast<std::size_t>(k.level) > levels) bad("has a level its ladder lacks");
}

namespace {

// Recovery reads every field of a stored case on trust after this check: each must be there,
// of its type and within its range, so that damage is a StoreError naming the case and the
// field, never a crash, a wrapped time, or a state written back.
class ShapeCheck {
 public:
  explicit ShapeCheck(const std::string& id) : id_(id) {}

  [[noreturn]] void bad(std::string_view field, std::string_view what) const {
    throw StoreError(fmt::format("stored case '{}' is damaged: its field '{}' {}", id_, field, what));
  }
  // A field's place: `key` inside `parent` (a clock `clocks[i]`, or the case itself when empty).
  // Spelled out only for an error: recovery checks every field of a million cases.
  struct Where {
    std::string_view parent;
    std::size_t index = no_index;
    static constexpr std::size_t no_index = static_cast<std::size_t>(-1);
    [[nodiscard]] std::string at(std::string_view key) const {
      if (parent.empty()) return std::string(key);
      if (index == no_index) return fmt::format("{}.{}", parent, key);
      return fmt::format("{}[{}].{}", parent, index, key);
    }
  };
  const json* get(const json& o, const char* key, const Where& w, bool optional) const {
    if (const auto it = o.find(key); it != o.end()) return &*it;
    if (!optional) bad(w.at(key), "is missing");
    return nullptr;
  }
  void string(const json& o, const char* key, const Where& w, bool optional = false) const {
    if (const json* v = get(o, key, w, optional); v && !v->is_string()) bad(w.at(key), fmt::format("must be text, not {}", shown(*v)));
  }
  void boolean(const json& o, const char* key, const Where& w) const {
    if (const json* v = get(o, key, w, false); !v->is_boolean())
      bad(w.at(key), fmt::format("must be true or false, not {}", shown(*v)));
  }
  void integer(const json& o, const char* key, const Where& w, std::int64_t lo, std::int64_t hi, bool optional = false) const {
    if (const json* v = get(o, key, w, optional); v && !integer_in(*v, lo, hi))
      bad(w.at(key), fmt::format("must be a whole number from {} to {}, not {}", lo, hi, shown(*v)));
  }
  void time(const json& o, const char* key, const Where& w, bool optional = false) const {
    if (const json* v = get(o, key, w, optional); v && !time_in(*v))
      bad(w.at(key), fmt::format("must be an instant in the years 1 to 9999 (milliseconds since 1970), not {}", shown(*v)));
  }
  void kind(const json& o, const char* key, const Where& w, bool object, bool optional = false) const {
    const json* v = get(o, key, w, optional);
    if (v && (object ? !v->is_object() : !v->is_array()))
      bad(w.at(key), fmt::format("must be {}, not {}", object ? "an object" : "a list", shown(*v)));
  }
  static bool integer_in(const json& v, std::int64_t lo, std::int64_t hi) {
    return v.is_number_integer() && !(v.is_number_unsigned() && v.get<std::uint64_t>() > static_cast<std::uint64_t>(hi)) &&
           v.get<std::int64_t>() >= lo && v.get<std::int64_t>() <= hi;
  }
  static bool time_in(const json& v) {
    return v.is_number_integer() && !(v.is_number_unsigned() && v.get<std::uint64_t>() > static_cast<std::uint64_t>(INT64_MAX)) &&
           in_time_range(tp(v));
  }
  static std::string shown(const json& v) {
    std::string s = v.dump();
    return s.size() > 40 ? s.substr(0, 37) + "..." : s;
  }

 private:
  const std::string& id_;
};

constexpr std::int64_t i32 = INT32_MAX, u32 = UINT32_MAX;

void check_clock_shape(const ShapeCheck& chk, const json& x, std::size_t i) {
  const ShapeCheck::Where w{"clocks", i};
  if (!x.is_object()) chk.bad(fmt::format("clocks[{}]", i), fmt::format("must be an object, not {}", ShapeCheck::shown(x)));
  // Kinds, status and step are int32 here; what they name is checked with the flow (check_clock).
  chk.integer(x, "kind", w, 0, 255);
  for (const char* b : {"active", "met", "done", "warned"}) chk.boolean(x, b, w);
  chk.integer(x, "level", w, -i32 - 1, i32);
  if (!x.at("active").get<bool>()) return;
  chk.integer(x, "purpose", w, 0, 255);
  for (const char* b : {"running", "business"}) chk.boolean(x, b, w);
  chk.integer(x, "index", w, -i32 - 1, i32);
  chk.integer(x, "attempt", w, 0, i32);
  chk.integer(x, "visit", w, 0, u32);
  chk.string(x, "calendar", w);
  const std::int64_t span = (max_time - min_time).count();
  chk.integer(x, "total", w, 0, span);
  chk.integer(x, "consumed", w, 0, span);
  for (const char* t : {"started", "since", "at"}) chk.time(x, t, w);
  chk.time(x, "floor", w, true);
  chk.kind(x, "rungs", w, false);
  const json& rungs = x.at("rungs");
  for (std::size_t r = 0; r < rungs.size(); ++r) {
    const json& rung = rungs[r];
    const auto rp = [&] { return fmt::format("clocks[{}].rungs[{}]", i, r); };
    if (!rung.is_array() || rung.size() != 2) chk.bad(rp(), fmt::format("must be [count, time], not {}", ShapeCheck::shown(rung)));
    if (!ShapeCheck::integer_in(rung[0], 0, i32))
      chk.bad(rp() + "[0]", fmt::format("must be a whole number from 0 to {}, not {}", i32, ShapeCheck::shown(rung[0])));
    if (!ShapeCheck::time_in(rung[1]))
      chk.bad(rp() + "[1]", fmt::format("must be an instant in the years 1 to 9999 (milliseconds since 1970), not {}",
                                        ShapeCheck::shown(rung[1])));
  }
}

void check_shape(const json& j, const std::string& id) {
  const ShapeCheck chk(id);
  const ShapeCheck::Where top{};
  for (const char* s : {"flow", "hash", "assignee"}) chk.string(j, s, top);
  for (const char* s : {"outcome", "incident", "parent"}) chk.string(j, s, top, true);
  chk.integer(j, "v", top, 0, i32);
  chk.integer(j, "version", top, 1, INT64_MAX);
  chk.integer(j, "status", top, -i32 - 1, i32);
  chk.integer(j, "step", top, -i32 - 1, i32);
  chk.integer(j, "visit", top, 0, u32);
  chk.integer(j, "parent_visit", top, 0, u32, true);
  chk.integer(j, "depth", top, 0, max_stored_depth);
  chk.integer(j, "join_step", top, -1, i32, true);
  chk.integer(j, "arrivals", top, 0, i32);
  chk.time(j, "started", top);
  chk.time(j, "entered", top);
  chk.time(j, "last_at", top, true);
  chk.kind(j, "data", top, true);
  if (j.value("join_step", json(-1)).get<std::int64_t>() >= 0) chk.kind(j, "fork_data", top, true);
  chk.kind(j, "children", top, false, true);
  if (const auto ch = j.find("children"); ch != j.end())
    for (std::size_t i = 0; i < ch->size(); ++i)
      if (!(*ch)[i].is_string())
        chk.bad(fmt::format("children[{}]", i), fmt::format("must be a case id, not {}", ShapeCheck::shown((*ch)[i])));
  chk.kind(j, "clocks", top, false);
  const json& clocks = j.at("clocks");
  for (std::size_t i = 0; i < clocks.size(); ++i) check_clock_shape(chk, clocks[i], i);
}

// A sub-flow case or branch is `PARENT/NAME`: its parent, children and join step must say so, or
// recovery would link (and cancel, and merge into) cases that are not its family.
void check_family(const Case& c, const std::string& parent) {
  const ShapeCheck chk(c.id);
  const Flow& f = c.flow();
  if (!parent.empty() && (!c.id.starts_with(parent + "/") || c.id.size() == parent.size() + 1))
    chk.bad("parent", fmt::format("names '{}', but a sub-flow case or branch of it has an id '{}/NAME'", parent, parent));
  if (parent.empty() && c.depth != 0) chk.bad("depth", fmt::format("is {} for a case without a parent", c.depth));
  for (std::size_t i = 0; i < c.children.size(); ++i) {
    const std::string& ch = c.children[i];
    if (!ch.starts_with(c.id + "/") || ch.size() == c.id.size() + 1)
      chk.bad(fmt::format("children[{}]", i), fmt::format("names '{}', which is not an id '{}/NAME'", ch, c.id));
  }
  if (c.join_step >= 0) {
    if (parent.empty()) chk.bad("join_step", "is set for a case that is no branch (it has no parent)");
    if (static_cast<std::size_t>(c.join_step) >= f.steps.size() ||
        f.steps[static_cast<std::size_t>(c.join_step)].kind != StepKind::join)
      chk.bad("join_step", fmt::format("is {}, which is no join step of flow '{}' v{}", c.join_step, f.id, f.version));
  }
  if (static_cast<std::size_t>(c.arrivals) > c.children.size())
    chk.bad("arrivals", fmt::format("counts {} branches arrived of {} children", c.arrivals, c.children.size()));
}

}  // namespace

LoadedCase load_case(std::string_view text, const std::function<FlowRt*(std::string_view, std::int64_t)>& find_flow,
                     std::string_view stored_id, std::string_view secret) {
  json j;
  try {
    // parse_json: an integer past int64 is an error, not a double that a field then refuses.
    j = parse_json(text, "its state");
  } catch (const DataError& e) {
    throw StoreError(fmt::format("stored case '{}' is damaged: {}", stored_id.empty() ? "?" : stored_id, e.message()));
  }
  const std::string id = j.is_object() && j.contains("id") && j.at("id").is_string() ? j.at("id").get<std::string>() : "?";
  try {
    if (id == "?" || id.empty()) ShapeCheck(id).bad("id", "must be the case's id");
    if (!stored_id.empty() && id != stored_id)
      ShapeCheck(id).bad("id", fmt::format("does not match the id '{}' it is stored under", stored_id));
    if (!secret.empty() && !valid_secret(secret))
      throw StoreError(fmt::format("stored case '{}' is damaged: its key is not 64 hex digits", id));
    check_shape(j, id);
    if (j.at("v").get<int>() > snapshot_version)
      throw StoreError(fmt::format("stored case '{}' was written by a newer Escalon (snapshot format {})", id, j.at("v").get<int>()));
    const std::string flow_id = j.at("flow").get<std::string>();
    const auto version = j.at("version").get<std::int64_t>();
    FlowRt* rt = find_flow(flow_id, version);
    if (!rt)
      throw StoreError(fmt::format("stored case '{}' runs flow '{}' version {}, which is not loaded; load that version "
                                   "before recovering (recover() or the first call that changes something)",
                                   id, flow_id, version));
    const Flow& f = *rt->flow;
    if (!f.matches_hash(j.at("hash").get<std::string>()))
      throw StoreError(fmt::format("stored case '{}' runs flow '{}' version {} with other content (hash {}, loaded {}); "
                                   "a changed flow needs a new version",
                                   id, flow_id, version, j.at("hash").get<std::string>(), f.content_hash));
    auto c = std::make_unique<Case>();
    c->id = id;
    c->rt = rt;
    const int status = j.at("status").get<int>();
    if (status < 0 || status > static_cast<int>(CaseStatus::incident))
      throw StoreError(fmt::format("stored case '{}' is damaged: unknown status {}", id, status));
    c->status = static_cast<CaseStatus>(status);
    c->step = j.at("step").get<std::int32_t>();
    if (c->step < 0 || c->step >= static_cast<std::int32_t>(f.steps.size()))
      throw StoreError(fmt::format("stored case '{}' is damaged: it is in step {}, which flow '{}' v{} lacks", id, c->step,
                                   f.id, f.version));
    c->visit = j.at("visit").get<std::uint32_t>();
    const bool erased = j.value("erased", false);
    c->data = values_from(f, j.at("data"), id, secret, erased);
    if (!secret.empty()) c->more().secret = secret;
    if (erased) c->more().erased = true;
    c->assignee = j.at("assignee").get<std::string>();
    c->set_incident(j.value("incident", std::string()));  // the outcome is the end step's
    if (j.contains("keys")) c->more().keys = keys_from(j.at("keys"), id);
    c->started = tp(j.at("started"));
    c->entered = tp(j.at("entered"));
    if (j.contains("last_at")) c->last_at = tp(j.at("last_at"));  // states written before it: unknown
    c->parent_visit = j.value("parent_visit", 0u);
    c->depth = j.at("depth").get<std::int32_t>();
    c->join_step = j.value("join_step", -1);
    if (c->join_step >= 0) c->fork_data = values_from(f, j.at("fork_data"), id, secret, erased);
    c->arrivals = j.at("arrivals").get<std::int32_t>();
    const auto& clocks = j.at("clocks");
    if (clocks.size() != rt->clock_count) throw StoreError(fmt::format("stored case '{}' has the wrong number of clocks", id));
    for (const auto& x : clocks) c->clocks.push_back(clock_from(x, *rt, id));
    for (std::size_t i = 0; i < c->clocks.size(); ++i) check_clock(*c, i, id);
    if (j.contains("children"))
      for (const auto& ch : j.at("children")) c->children.push_back(ch.get<std::string>());
    LoadedCase out;
    out.parent = j.value("parent", std::string());
    check_family(*c, out.parent);
    out.c = std::move(c);
    return out;
  } catch (const json::exception& e) {
    throw StoreError(fmt::format("stored case '{}' is damaged: {}", id, e.what()));
  } catch (const DataError& e) {
    throw StoreError(fmt::format("stored case '{}' has data that no longer fits its flow: {}", id, e.message()));
  }
}

}  // namespace escalon::detail
