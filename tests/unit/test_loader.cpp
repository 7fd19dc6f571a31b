#include "support.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <filesystem>
#include <fstream>

#include "escalon/loader.hpp"
#include "escalon/scenario.hpp"
#include "escalon/simulate.hpp"

#include <sys/stat.h>
#include <unistd.h>

using namespace escalon;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

namespace {
const std::string src_dir = ESCALON_SOURCE_DIR;

bool is_sha256_hash(const std::string& h) {
  return h.size() == 7 + 64 && h.starts_with("sha256:") &&
         std::all_of(h.begin() + 7, h.end(), [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}
// FNV-1a 64 over the texts run together: the content hash of Escalon before SHA-256.
std::string fnv1a_hex(std::string_view text) {
  std::uint64_t h = 1469598103934665603ull;
  for (unsigned char c : text) { h ^= c; h *= 1099511628211ull; }
  return fmt::format("{:016x}", h);
}
const std::string tiny_flow = "flow: k\nstart: a\nsteps:\n  a: { on: { x: z } }\n  z: { end: true }\n";

std::string messages(const LoadResult& r) {
  std::string out;
  for (const auto& d : r.diagnostics) out += d.str() + "\n";
  return out;
}

struct TempDir {
  fs::path path;
  TempDir() {
    path = fs::temp_directory_path() / fs::path("escalon-test-" + std::to_string(::getpid()) + "-" +
                                                std::to_string(reinterpret_cast<std::uintptr_t>(this)));
    fs::create_directories(path);
  }
  ~TempDir() { fs::remove_all(path); }
  std::string write(const std::string& name, const std::string& text) const {
    auto p = path / name;
    fs::create_directories(p.parent_path());
    std::ofstream(p) << text;
    return p.string();
  }
};
}  // namespace

TEST_CASE("the issue's technician-visit example loads with its full meaning", "[loader]") {
  auto r = validate({src_dir + "/tests/flows/valid/issue-example.yaml"});
  INFO(messages(r));
  REQUIRE(r.ok(true));
  REQUIRE(r.flows.size() == 1);
  const Flow& f = *r.flows[0];
  CHECK(f.id == "technician-visit");
  CHECK(f.version == 1);
  CHECK(f.title == "Technician visit");
  CHECK(f.calendar == "office");
  CHECK(f.content_hash.size() == 7 + 64);  // "sha256:" + hex; 16 hex digits before SHA-256
  CHECK(f.legacy_hash.size() == 16);
  const auto& cal = f.calendars.at("office");
  CHECK(cal.timezone == "Europe/Zagreb");
  CHECK(cal.weekly[0] == std::vector<WorkInterval>{{480, 960}});
  CHECK(cal.weekly[4] == std::vector<WorkInterval>{{480, 960}});
  CHECK(cal.weekly[5].empty());
  CHECK(cal.holidays.size() == 2);

  REQUIRE(f.data.size() == 4);
  CHECK(f.find_field("customer")->required);
  CHECK(f.find_field("parts_needed")->default_value == Value(false));
  CHECK(f.find_field("priority")->type.values == std::vector<std::string>{"normal", "high", "urgent"});
  CHECK(f.find_field("slot")->type.kind == Type::Kind::datetime);

  REQUIRE(f.slas.size() == 1);
  CHECK(f.slas[0].within.str() == "2 business days");
  CHECK(f.slas[0].pause_in == std::vector<std::string>{"waiting-customer"});
  CHECK(f.slas[0].warn_at == Approx(0.75));

  CHECK(f.start == "intake");
  CHECK(f.steps.size() == 6);
  const Step& intake = *f.find_step("intake");
  CHECK(intake.kind == StepKind::task);
  CHECK(intake.role == "front-office");
  CHECK(intake.guide.find("preferred visit slots") != std::string::npos);
  CHECK(intake.deadline->within->length == 15min);
  REQUIRE(intake.on.size() == 2);
  CHECK(intake.on[0].event == "submit");
  CHECK(intake.on[0].target == "order-parts");
  CHECK(intake.on[0].when.text() == "parts_needed");
  CHECK(intake.on[1].when.empty());
  CHECK(intake.on[1].target_index == f.step_index("schedule"));
  CHECK(intake.where.line == 19);

  const Step& parts = *f.find_step("order-parts");
  REQUIRE(parts.deadline->escalate.size() == 2);
  CHECK(parts.deadline->escalate[0].share == Approx(0.8));
  CHECK(parts.deadline->escalate[0].notify == std::vector<std::string>{"parts-lead"});
  CHECK(parts.deadline->escalate[1].reassign == "parts-lead");
  CHECK(parts.deadline->escalate[1].set.at(0).field == "priority");

  const Step& sched = *f.find_step("schedule");
  CHECK(sched.deadline->within->str() == "4 business hours");
  CHECK(sched.deadline->escalate[0].repeat->str() == "1 business hour");
  CHECK(sched.on[0].set.at(0).value.text() == "event.slot");

  const Step& waiting = *f.find_step("waiting-customer");
  CHECK(waiting.deadline->expire == "closed");
  CHECK(waiting.deadline->within->length == 72h);
  CHECK(f.find_step("closed")->kind == StepKind::end);
}

TEST_CASE("a file reports all its errors, not only the first", "[loader]") {
  auto r = validate_text(R"(flow: demo
tittle: x
start: a
steps:
  a:
    rol: agent
    on: { done: zz }
  z: { end: true }
)", "many.yaml");
  CHECK(r.error_count() == 3);
  CHECK(messages(r) ==
        "many.yaml:2:1: error: unknown key 'tittle' in the flow; did you mean 'title'?\n"
        "many.yaml:6:5: error: unknown key 'rol' in step 'a'; did you mean 'role'?\n"
        "many.yaml:7:17: error: unknown step 'zz' in `to`; did you mean 'z'?\n");
}

TEST_CASE("step kinds beyond tasks load and check", "[loader]") {
  auto r = validate({src_dir + "/tests/flows/valid/all-kinds.yaml", src_dir + "/tests/flows/valid/child.yaml"});
  INFO(messages(r));
  REQUIRE(r.ok(true));
  REQUIRE(r.flows.size() == 2);
  const Flow& f = r.flows[0]->id == "all-kinds" ? *r.flows[0] : *r.flows[1];
  CHECK(f.find_step("lookup")->kind == StepKind::action);
  CHECK(f.find_step("lookup")->call == "crm.lookup");
  CHECK(f.find_step("lookup")->retry.attempts == 5);
  CHECK(f.find_step("lookup")->retry.backoff == 10s);
  CHECK(f.find_step("lookup")->on_error == "manual");
  CHECK(f.find_step("route")->kind == StepKind::decision);
  CHECK(f.find_step("route")->branches.size() == 2);
  CHECK(f.find_step("by-rule")->rule == "routing");
  CHECK(f.find_step("cool-off")->wait_for->length == 2h);
  CHECK(f.find_step("until-slot")->wait_until.text() == "slot - 1h");
  CHECK(f.find_step("parts")->subflow == "child");
  CHECK(f.find_step("parts")->input.size() == 1);
  CHECK(f.find_step("parts")->output.size() == 1);
  CHECK(f.find_step("split")->parallel == std::vector<std::string>{"call-customer", "book-van"});
  CHECK(f.find_step("meet")->join_mode == JoinMode::all);
  CHECK(f.find_step("done")->outcome == "resolved");
  CHECK(f.find_step("intake")->form.size() == 2);
  CHECK(f.find_step("intake")->on_enter.size() == 2);
  CHECK(f.find_step("intake")->on_enter[0].kind == Hook::Kind::call);
  CHECK(f.find_step("intake")->on_exit.at(0).kind == Hook::Kind::notify);
  CHECK(f.find_step("intake")->assign.text() == "rule('routing').team");
  CHECK(f.roles.size() == 4);
}

TEST_CASE("a sub-flow step records the child version its mappings were compiled against", "[loader][subflow]") {
  TempDir dir;
  const auto parent = dir.write("parent.yaml", R"(flow: parent
data:
  product: { type: string }
  qty: { type: int }
start: order
steps:
  order:
    subflow: { flow: parts, input: { item: product }, output: { qty: count } }
    next: done
  done: { end: true }
)");
  // Version 2 adds `count`, which the parent's `output:` reads; it is listed before version 1.
  const auto v2 = dir.write("parts-v2.yaml", R"(flow: parts
version: 2
data:
  item: { type: string, required: true }
  count: { type: int, default: 1 }
start: ship
steps:
  ship: { on: { shipped: done } }
  done: { end: true }
)");
  const auto v1 = dir.write("parts-v1.yaml", R"(flow: parts
version: 1
data:
  item: { type: string, required: true }
start: ship
steps:
  ship: { on: { shipped: done } }
  done: { end: true }
)");
  auto r = validate({parent, v2, v1});
  INFO(messages(r));
  REQUIRE(r.ok(true));
  REQUIRE(r.flows.size() == 3);
  const Flow& p = **std::find_if(r.flows.begin(), r.flows.end(), [](const FlowPtr& f) { return f->id == "parent"; });
  CHECK(p.find_step("order")->subflow == "parts");
  CHECK(p.find_step("order")->subflow_version == 2);
  CHECK(p.find_step("order")->output.at(0).value.text() == "count");
  CHECK(p.find_step("done")->subflow_version == 0);

  // With version 1 alone, the step pins version 1 (and `count` is not there to read).
  auto only_v1 = validate({parent, v1});
  CHECK(messages(only_v1).find("sub-flow 'parts' has no data field") == std::string::npos);
  CHECK(messages(only_v1).find("unknown name 'count'") != std::string::npos);
  const auto v1_ok = dir.write("parent-v1.yaml", R"(flow: parent
data:
  product: { type: string }
start: order
steps:
  order:
    subflow: { flow: parts, input: { item: product } }
    next: done
  done: { end: true }
)");
  auto r1 = validate({v1_ok, v1});
  INFO(messages(r1));
  REQUIRE(r1.ok(true));
  const Flow& p1 = r1.flows[0]->id == "parent" ? *r1.flows[0] : *r1.flows[1];
  CHECK(p1.find_step("order")->subflow_version == 1);
}

TEST_CASE("includes bring calendars, roles and rules from library files", "[loader]") {
  TempDir dir;
  dir.write("lib/zagreb.yaml", R"(library: zagreb
calendars:
  zagreb:
    timezone: Europe/Zagreb
    hours: { mon-thu: "08:00-16:00", fri: "08:00-14:00" }
    holidays: [2026-12-25]
    exceptions: { 2026-12-24: "08:00-12:00", 2026-12-31: closed }
roles: [agent, lead]
)");
  const auto flow = dir.write("flow.yaml", R"(flow: inc
include: [lib/zagreb.yaml]
calendar: zagreb
start: a
steps:
  a:
    role: agent
    deadline: { within: 1 business day, escalate: [ { at: 100%, notify: lead } ] }
    on: { done: z }
  z: { end: true }
)");
  auto r = validate({flow});
  INFO(messages(r));
  REQUIRE(r.ok(true));
  const Flow& f = *r.flows.at(0);
  CHECK(f.includes.size() == 1);
  CHECK(f.calendars.at("zagreb").weekly[4] == std::vector<WorkInterval>{{480, 840}});
  CHECK(f.calendars.at("zagreb").exceptions.size() == 2);
  CHECK(f.roles == std::vector<std::string>{"agent", "lead"});

  // An unknown role is now checked against the library's roles, with the library's location for calendars.
  const auto bad = dir.write("bad.yaml", R"(flow: inc2
include: [lib/zagreb.yaml]
calendar: zagreb
start: a
steps:
  a: { role: agnet, on: { done: z } }
  z: { end: true }
)");
  auto r2 = validate({bad});
  CHECK(messages(r2) == bad + ":6:14: error: unknown role 'agnet' in `role`; did you mean 'agent'?\n");
}

TEST_CASE("changing an included file changes the flow's content hash", "[loader]") {
  TempDir dir;
  dir.write("roles.yaml", "roles: [agent]\n");
  const auto flow = dir.write("f.yaml", "flow: h\ninclude: roles.yaml\nstart: a\nsteps:\n  a: { role: agent, on: { x: z } }\n  z: { end: true }\n");
  const auto h1 = validate({flow}).flows.at(0)->content_hash;
  dir.write("roles.yaml", "roles: [agent, lead]\n");
  const auto h2 = validate({flow}).flows.at(0)->content_hash;
  CHECK(h1 != h2);
  CHECK(is_sha256_hash(h1));
  CHECK(is_sha256_hash(h2));
  dir.write("roles.yaml", "roles: [agent]\n");
  CHECK(validate({flow}).flows.at(0)->content_hash == h1);
}

TEST_CASE("the content hash is SHA-256 over length-prefixed texts, tagged sha256:", "[loader][hash]") {
  TempDir dir;
  const auto file = dir.write("k.yaml", tiny_flow);
  const auto r = validate({file});
  REQUIRE(r.ok(true));
  const Flow& f = *r.flows.at(0);
  CHECK(is_sha256_hash(f.content_hash));
  // SHA-256 of the 8-byte little-endian length (70) and the text, computed outside Escalon.
  CHECK(f.content_hash == "sha256:1d12a0468b88ab50e94b3267090ff3c7bc5bbd83830a1ec6d385e63c74b4150a");
  CHECK(f.legacy_hash == "7ad386c143903d71");
  CHECK(f.legacy_hash == fnv1a_hex(tiny_flow));

  // The same content gives the same hash, wherever the file is and however it is loaded.
  CHECK(validate({file}).flows.at(0)->content_hash == f.content_hash);
  CHECK(validate({dir.write("elsewhere/other-name.yaml", tiny_flow)}).flows.at(0)->content_hash == f.content_hash);
  CHECK(validate_text(tiny_flow, "k.yaml").flows.at(0)->content_hash == f.content_hash);
  CHECK(validate_text(tiny_flow + "# note\n", "k.yaml").flows.at(0)->content_hash != f.content_hash);
}

TEST_CASE("matches_hash accepts the SHA-256 hash and, for older stores, the legacy one", "[loader][hash]") {
  const auto r = validate_text(tiny_flow, "k.yaml");
  REQUIRE(r.ok(true));
  const Flow& f = *r.flows.at(0);
  CHECK(f.matches_hash(f.content_hash));
  CHECK(f.matches_hash("7ad386c143903d71"));  // written by Escalon before SHA-256
  CHECK_FALSE(f.matches_hash("7ad386c143903d72"));
  CHECK_FALSE(f.matches_hash("sha256:" + std::string(64, '0')));
  CHECK_FALSE(f.matches_hash("sha256:7ad386c143903d71"));  // a prefix means SHA-256, never legacy
  CHECK_FALSE(f.matches_hash(f.content_hash.substr(7)));    // bare hex is read as legacy
  CHECK_FALSE(f.matches_hash(""));
  Flow built_by_hand;  // no hashes at all: nothing matches
  CHECK_FALSE(built_by_hand.matches_hash(""));
  CHECK_FALSE(built_by_hand.matches_hash("sha256:"));
}

TEST_CASE("texts split differently between a flow and its include hash differently", "[loader][hash]") {
  // "ab" + "c" and "a" + "bc": the same text run together, so the legacy FNV-1a hash cannot tell
  // them apart; the length prefixes of the SHA-256 hash can.
  const std::string flow = "flow: h\ninclude: roles.yaml\nstart: a\nsteps:\n  a: { role: agent, on: { x: z } }\n  z: { end: true }\n";
  const std::string roles = "roles: [agent]\n";
  TempDir one, two;
  const auto f1 = one.write("f.yaml", flow + "# moved\n");
  one.write("roles.yaml", roles);
  const auto f2 = two.write("f.yaml", flow);
  two.write("roles.yaml", "# moved\n" + roles);
  const auto r1 = validate({f1});
  const auto r2 = validate({f2});
  INFO(messages(r1) << messages(r2));
  REQUIRE(r1.ok(true));
  REQUIRE(r2.ok(true));
  const Flow& a = *r1.flows.at(0);
  const Flow& b = *r2.flows.at(0);
  CHECK(a.legacy_hash == b.legacy_hash);
  CHECK(a.legacy_hash == fnv1a_hex(flow + "# moved\n" + roles));
  CHECK(is_sha256_hash(a.content_hash));
  CHECK(is_sha256_hash(b.content_hash));
  CHECK(a.content_hash != b.content_hash);
  CHECK_FALSE(a.matches_hash(b.content_hash));
}

TEST_CASE("folders load every flow; duplicate ids and versions are errors", "[loader]") {
  TempDir dir;
  const std::string body = "start: a\nsteps:\n  a: { on: { x: z } }\n  z: { end: true }\n";
  dir.write("one.yaml", "flow: same\n" + body);
  dir.write("sub/two.yml", "flow: same\nversion: 2\n" + body);
  auto r = validate({dir.path.string()});
  INFO(messages(r));
  CHECK(r.ok());
  CHECK(r.flows.size() == 2);
  dir.write("sub/three.yaml", "flow: same\nversion: 2\n" + body);
  auto r2 = validate({dir.path.string()});
  CHECK(r2.error_count() == 1);
  CHECK(messages(r2).find("flow 'same' version 2 is also defined in") != std::string::npos);
  auto r3 = validate({(dir.path / "nothing-here").string()});
  CHECK(messages(r3).find("no such file or folder") != std::string::npos);
}

TEST_CASE("limits give clear errors instead of crashes", "[loader][limits]") {
  LoadOptions small;
  small.max_file_bytes = 100;
  auto big = validate_text(std::string(200, '#'), "big.yaml", ".", small);
  CHECK(messages(big) == "big.yaml: error: file is 200 bytes; at most 100 are allowed (LoadOptions::max_file_bytes)\n");

  std::string deep = "flow: x\nextra:\n";
  for (int i = 0; i < 80; ++i) deep += std::string(static_cast<std::size_t>(2 * i + 2), ' ') + "k:\n";
  auto d = validate_text(deep, "deep.yaml");
  CHECK(messages(d).find("YAML nests deeper than 64 levels") != std::string::npos);

  LoadOptions short_strings;
  short_strings.max_string_length = 10;
  auto s = validate_text("flow: x\ntitle: a title that is far too long\nstart: a\nsteps:\n  a: { on: { x: z } }\n  z: { end: true }\n",
                         "long.yaml", ".", short_strings);
  CHECK(messages(s) == "long.yaml:2:8: error: `title` is 28 characters long; at most 10 are allowed\n");

  // An alias bomb: each level doubles the nodes a reader would visit.
  std::string bomb = "flow: bomb\nstart: a\nsteps:\n  a: { on: { x: z } }\n  z: { end: true }\ncalendars:\n  c0: &a0 [x, x]\n";
  for (int i = 1; i < 30; ++i) bomb += "  c" + std::to_string(i) + ": &a" + std::to_string(i) + " [*a" + std::to_string(i - 1) + ", *a" + std::to_string(i - 1) + "]\n";
  LoadOptions few;
  few.max_nodes = 10'000;
  auto b = validate_text(bomb, "bomb.yaml", ".", few);
  CHECK(b.error_count() >= 1);
  CHECK_FALSE(b.ok());

  auto empty = validate_text("", "empty.yaml");
  CHECK(messages(empty) == "empty.yaml:1:1: error: file is empty; a flow starts with `flow: NAME`\n");
}

TEST_CASE("warnings are kept apart from errors and strict mode counts them", "[loader]") {
  auto r = validate_text(R"(flow: warn
calendars:
  unused: { timezone: UTC, hours: { mon-fri: "09:00-17:00" } }
start: a
steps:
  a:
    on:
      x:
        - { to: z }
        - { to: z, when: "1 > 0" }
  z: { end: true }
)", "warn.yaml");
  CHECK(r.error_count() == 0);
  CHECK(r.warning_count() == 2);
  CHECK(r.ok());
  CHECK_FALSE(r.ok(true));
  CHECK(r.flows.size() == 1);
  LoadOptions strict;
  strict.strict = true;
  CHECK_THROWS_AS(load_flows({src_dir + "/tests/flows/invalid/unknown-calendar.yaml"}, strict), FlowError);
}

// ------------------------------------------------------------------------------ hardening

namespace {
// A flow whose data field `f` has the given type and `default:` lines after `extra` (top level).
std::string flow_with_default(const std::string& type, const std::string& def, const std::string& extra = "") {
  return "flow: d\n" + extra + "start: a\ndata:\n  f: { type: " + type + ", default: " + def +
         " }\nsteps:\n  a: { on: { x: z } }\n  z: { end: true }\n";
}
std::string message_of(const FlowError& e) {
  std::string out;
  for (const auto& d : e.diagnostics()) out += d.str() + "\n";
  return out;
}
}  // namespace

TEST_CASE("alias bombs in data defaults stop at the node budget", "[loader][hardening]") {
  // 2^40 nodes behind the last item: the default used to be converted node by node (GBs of memory).
  std::string text = "flow: d\nstart: a\nsteps:\n  a: { on: { x: z } }\n  z: { end: true }\ndata:\n";
  text += "  f:\n    type: list\n    default:\n      - &a0 [x, x]\n";
  for (int i = 1; i < 40; ++i)
    text += "      - &a" + std::to_string(i) + " [*a" + std::to_string(i - 1) + ", *a" + std::to_string(i - 1) + "]\n";
  LoadOptions few;
  few.max_nodes = 10'000;
  const auto r = validate_text(text, "bomb.yaml", ".", few);
  CHECK(messages(r) == "bomb.yaml:12:9: error: document has more than 10000 nodes (aliases count each time they are "
                       "used); split it into smaller files\n");
}

TEST_CASE("alias bombs in scenario data and model values stop at the node budget", "[loader][hardening]") {
  TempDir dir;
  std::string data = "      a0: &a0 [x, x]\n";
  for (int i = 1; i < 40; ++i)
    data += "      a" + std::to_string(i) + ": &a" + std::to_string(i) + " [*a" + std::to_string(i - 1) + ", *a" +
            std::to_string(i - 1) + "]\n";
  const auto sc = dir.write("bomb-scenario.yaml", "clock: 2026-11-23T08:00:00Z\ncases:\n  - id: c1\n    flow: k\n    data:\n" + data);
  try {
    (void)load_scenario(sc);
    FAIL("expected FlowError");
  } catch (const FlowError& e) {
    CHECK(message_of(e) == sc + ":6:11: error: document has more than 1000000 nodes (aliases count each time they are "
                                "used); split it into smaller files\n");
  }
  std::string model = "model: m\nstart: 2026-01-05T00:00:00Z\narrivals:\n  k:\n    per_day: 1\n    data:\n";
  model += "      v:\n        list: &a0 [x, x]\n";
  for (int i = 1; i < 40; ++i)
    model += "      v" + std::to_string(i) + ": &a" + std::to_string(i) + " [*a" + std::to_string(i - 1) + ", *a" +
             std::to_string(i - 1) + "]\n";
  try {
    (void)SimModel::parse(model, "bomb-model.yaml");
    FAIL("expected FlowError");
  } catch (const FlowError& e) {
    CHECK(message_of(e) == "bomb-model.yaml:8:20: error: document has more than 1000000 nodes (aliases count each "
                           "time they are used); split it into smaller files\n");
  }
}

TEST_CASE("the node budget is per file and blames the file that used it up", "[loader][hardening]") {
  TempDir dir;
  std::string roles = "library: staff\nroles: [";
  for (int i = 0; i < 40; ++i) roles += (i ? ", r" : "r") + std::to_string(i);
  dir.write("lib/staff.yaml", roles + "]\n");
  std::string big = "library: big\nroles: [";
  for (int i = 0; i < 80; ++i) big += (i ? ", r" : "r") + std::to_string(i);
  dir.write("lib/big.yaml", big + "]\n");
  const std::string steps = "start: a\nsteps:\n  a: { role: r1, on: { x: z } }\n  z: { end: true }\n";
  LoadOptions opts;
  opts.max_nodes = 50;
  // 40 roles in the library and a dozen nodes in the flow: each file is within 50, both are not.
  auto ok = validate({dir.write("f.yaml", "flow: f\ninclude: [lib/staff.yaml]\n" + steps)}, opts);
  INFO(messages(ok));
  CHECK(ok.ok());
  auto bad = validate({dir.write("g.yaml", "flow: g\ninclude: [lib/big.yaml]\n" + steps)}, opts);
  const std::string lib = (dir.path / "lib/big.yaml").lexically_normal().string();
  CHECK(messages(bad).find(lib + ":2:") == 0);
  CHECK(messages(bad).find("error: document has more than 50 nodes") != std::string::npos);
  CHECK(messages(bad).find((dir.path / "g.yaml").string() + ":") == std::string::npos);
}

TEST_CASE("values that nest through aliases are held to the depth limit", "[loader][hardening]") {
  // An anchor inside itself: yaml-cpp builds a cycle, which the readers used to follow forever.
  auto self = validate_text(flow_with_default("list", "&x [*x]"), "self.yaml");
  CHECK(messages(self) == "self.yaml:4:29: error: value nests deeper than 64 levels (an alias adds the levels of what "
                          "it names); flatten it\n");
  auto type = validate_text("flow: t\nstart: a\ndata:\n  f: &t { type: list, of: *t }\nsteps:\n  a: { on: { x: z } }\n"
                            "  z: { end: true }\n",
                            "type.yaml");
  CHECK(messages(type) == "type.yaml:4:6: error: value nests deeper than 64 levels (an alias adds the levels of what "
                          "it names); flatten it\n");
  // 41 levels in the text, 81 through one alias.
  const std::string open(40, '['), close(40, ']');
  auto twice = validate_text(flow_with_default("list", "[&x " + open + close + ", " + open + "*x" + close + "]"), "twice.yaml");
  CHECK(messages(twice).find("error: value nests deeper than 64 levels") != std::string::npos);

  TempDir dir;
  const auto sc = dir.write("s.yaml", "clock: 2026-11-23T08:00:00Z\ncases:\n  - { id: c1, flow: k, data: { v: &x [*x] } }\n");
  try {
    (void)load_scenario(sc);
    FAIL("expected FlowError");
  } catch (const FlowError& e) {
    CHECK(message_of(e) == sc + ":3:35: error: value nests deeper than 64 levels (an alias adds the levels of what it "
                                "names); flatten it\n");
  }
  try {
    (void)SimModel::parse("model: m\nstart: 2026-01-05T00:00:00Z\narrivals:\n  k:\n    per_day: 1\n    data:\n"
                          "      v: &g { list: *g }\n",
                          "m.yaml");
    FAIL("expected FlowError");
  } catch (const FlowError& e) {
    CHECK(message_of(e) == "m.yaml:7:10: error: value nests deeper than 64 levels (an alias adds the levels of what it "
                           "names); flatten it\n");
  }
}

TEST_CASE("the text nesting check is not fooled by quotes", "[loader][hardening]") {
  const std::string deep = std::string(70, '[') + std::string(70, ']');
  // A double-quoted scalar that spans lines inside [...]: its closing quote starts line 3.
  auto multi = validate_text("flow: q\ntitle: [ \"x\n  \", " + deep + " ]\n", "multi.yaml");
  CHECK(messages(multi) == "multi.yaml:3:68: error: YAML nests deeper than 64 levels; flatten the document\n");
  // A quote inside plain text is a character, not the start of a quoted scalar.
  auto plain = validate_text("flow: q\ntitle: [ a 'b, " + deep + " ]\n", "plain.yaml");
  CHECK(messages(plain) == "plain.yaml:2:78: error: YAML nests deeper than 64 levels; flatten the document\n");
  // Complex keys nest on one line too.
  std::string keys = "flow: q\nx:\n";
  for (int i = 0; i < 70; ++i) keys += "? ";
  auto complex = validate_text(keys + "a\n", "keys.yaml");
  CHECK(messages(complex).find("keys.yaml:3:") == 0);
  CHECK(messages(complex).find("YAML nests deeper than 64 levels; flatten the document") != std::string::npos);
}

TEST_CASE("includes stay inside the folders being loaded", "[loader][hardening]") {
  TempDir dir;
  const std::string cal = "calendars:\n  office: { timezone: UTC, hours: { mon-fri: \"09:00-17:00\" } }\n";
  dir.write("outside/cal.yaml", cal);
  dir.write("flows/cal.yaml", cal);
  const std::string steps = "start: a\nsteps:\n  a: { on: { x: z } }\n  z: { end: true }\n";
  const std::string flows = (dir.path / "flows").string();
  auto run = [&](const std::string& name, const std::string& include, const LoadOptions& opts = {}) {
    dir.write("flows/" + name, "flow: f\ninclude: [" + include + "]\n" + steps);
    return messages(validate({(dir.path / "flows" / name).string()}, opts));
  };
  const std::string outside = (dir.path / "outside/cal.yaml").string();
  CHECK(run("up.yaml", "../outside/cal.yaml") ==
        flows + "/up.yaml:2:11: error: include '../outside/cal.yaml': '" + outside + "' resolves to '" +
            fs::weakly_canonical(outside).string() + "', outside the folders being loaded (" +
            fs::weakly_canonical(flows).string() +
            "); flows and the files they include must be inside them (or inside a folder of LoadOptions::include_roots)\n");
  CHECK(run("abs.yaml", "/etc/passwd") ==
        flows + "/abs.yaml:2:11: error: include '/etc/passwd': '/etc/passwd' resolves to '/etc/passwd', outside the "
                "folders being loaded (" + fs::weakly_canonical(flows).string() +
            "); flows and the files they include must be inside them (or inside a folder of LoadOptions::include_roots)\n");
  fs::create_symlink("/etc/passwd", dir.path / "flows/link.yaml");
  CHECK(run("sym.yaml", "link.yaml").find("error: include 'link.yaml': '" + flows + "/link.yaml' resolves to '/etc/passwd', "
                                           "outside the folders being loaded") != std::string::npos);
  // The folder as argument: the link inside it is refused, not read.
  const auto folder = messages(validate({flows}));
  CHECK(folder.find(flows + "/link.yaml: error: '" + flows + "/link.yaml' resolves to '/etc/passwd', outside the folders") !=
        std::string::npos);
  CHECK(folder.find("root:") == std::string::npos);
  fs::remove(dir.path / "flows/link.yaml");
  // A folder named in include_roots may be used.
  LoadOptions shared;
  shared.include_roots = {(dir.path / "outside").string()};
  CHECK(run("shared.yaml", "../outside/cal.yaml", shared).empty());
  CHECK(run("inside.yaml", "cal.yaml").empty());
  fs::create_symlink(dir.path / "flows/loop.yaml", dir.path / "flows/loop.yaml");
  CHECK(run("loop-inc.yaml", "loop.yaml") ==
        flows + "/loop-inc.yaml:2:11: error: include 'loop.yaml': cannot resolve '" + flows +
            "/loop.yaml': Too many levels of symbolic links\n");
  CHECK(messages(validate({flows + "/loop.yaml"})) ==
        flows + "/loop.yaml: error: too many levels of symbolic links (a symlink loop?); point the link at a file\n");
}

TEST_CASE("devices, FIFOs and folders are refused without being read", "[loader][hardening]") {
  TempDir dir;
  const std::string fifo = (dir.path / "pipe.yaml").string();
  REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
  // Opening a FIFO for reading blocks until a writer comes: this test would hang.
  CHECK(messages(validate({fifo})) ==
        fifo + ": error: '" + fifo + "' is a FIFO (named pipe); flows, scenarios and models are read from regular YAML files\n");
  CHECK(messages(validate({"/dev/zero"})) ==
        "/dev/zero: error: '/dev/zero' is a character device; flows, scenarios and models are read from regular YAML files\n");
  const std::string steps = "start: a\nsteps:\n  a: { on: { x: z } }\n  z: { end: true }\n";
  fs::create_directories(dir.path / "sub");
  const auto f = dir.write("f.yaml", "flow: f\ninclude: [pipe.yaml, sub]\n" + steps);
  CHECK(messages(validate({f})) ==
        f + ":2:11: error: include 'pipe.yaml': '" + fifo +
            "' is a FIFO (named pipe); flows, scenarios and models are read from regular YAML files\n" + f +
            ":2:22: error: include 'sub': '" + (dir.path / "sub").string() +
            "' is a folder; flows, scenarios and models are read from regular YAML files\n");
  try {
    (void)load_scenario(fifo);
    FAIL("expected FlowError");
  } catch (const FlowError& e) {
    CHECK(message_of(e) == fifo + ": error: cannot read the scenario file: '" + fifo +
                               "' is a FIFO (named pipe); flows, scenarios and models are read from regular YAML files\n");
  }
  // Reads are bounded by max_file_bytes.
  LoadOptions small;
  small.max_file_bytes = 100;
  const auto big = dir.write("big.yaml", std::string(200, '#'));
  CHECK(messages(validate({big}, small)) == big + ": error: file is 200 bytes; at most 100 are allowed (LoadOptions::max_file_bytes)\n");
}

TEST_CASE("a sub-flow reference is an id, never a path", "[loader][hardening]") {
  TempDir dir;
  dir.write("x.yaml", "flow: x\nstart: a\nsteps:\n  a: { on: { x: z } }\n  z: { end: true }\n");
  const auto f = dir.write("in/f.yaml", "flow: f\nstart: a\nsteps:\n  a: { subflow: { flow: ../x }, next: z }\n  z: { end: true }\n");
  CHECK(messages(validate({f})) == f + ":4:25: error: sub-flow '../x' is not a flow id: ids are lowercase letters, digits "
                                       "and '-' (e.g. technician-visit)\n");
}

TEST_CASE("a sub-flow file that cannot be read is reported once, not looked for forever", "[loader][hardening]") {
  TempDir dir;
  fs::create_symlink("/etc/passwd", dir.path / "pw.yaml");
  const auto f = dir.write("f.yaml", "flow: f\nstart: a\nsteps:\n  a: { subflow: { flow: pw }, next: z }\n  z: { end: true }\n");
  const std::string pw = (dir.path / "pw.yaml").string();
  CHECK(messages(validate({f})) ==
        f + ":4:25: error: sub-flow 'pw' is not loaded; load its file together with this one (or put it next to this file "
            "as pw.yaml)\n" +
            pw + ": error: '" + pw + "' resolves to '/etc/passwd', outside the folders being loaded (" +
            fs::weakly_canonical(dir.path).string() +
            "); flows and the files they include must be inside them (or inside a folder of LoadOptions::include_roots)\n");
}

TEST_CASE("an include named twice is an error, not read twice", "[loader][hardening]") {
  TempDir dir;
  dir.write("cal.yaml", "calendars:\n  office: { timezone: UTC, hours: { mon-fri: \"09:00-17:00\" } }\n");
  const auto f = dir.write("f.yaml", "flow: f\ninclude: [cal.yaml, ./cal.yaml]\ncalendar: office\nstart: a\nsteps:\n"
                                     "  a: { on: { x: z } }\n  z: { end: true }\n");
  CHECK(messages(validate({f})) == f + ":2:21: error: './cal.yaml' is already included (line 2); name it once\n");
}

TEST_CASE("invalid UTF-8 and NUL bytes are located errors", "[loader][hardening]") {
  auto bad = validate_text("flow: u\ntitle: caf\xC3\n", "u.yaml");
  CHECK(messages(bad) == "u.yaml:2:11: error: invalid UTF-8 (byte 0xC3); YAML files are UTF-8 text: save the file as UTF-8\n");
  auto latin1 = validate_text("flow: u\n# ok: \xC3\xA9\ntitle: \"Z\xFCrich\"\n", "l.yaml");
  CHECK(messages(latin1) == "l.yaml:3:10: error: invalid UTF-8 (byte 0xFC); YAML files are UTF-8 text: save the file as UTF-8\n");
  auto surrogate = validate_text("flow: u\ntitle: \xED\xA0\x80\n", "s.yaml");
  CHECK(messages(surrogate) == "s.yaml:2:8: error: invalid UTF-8 (byte 0xED); YAML files are UTF-8 text: save the file as UTF-8\n");
  auto nul = validate_text(std::string("flow: u\ntitle: \"a\0b\"\n", 21), "n.yaml");
  CHECK(messages(nul) == "n.yaml:2:10: error: NUL byte (\\0); YAML files are text: remove it (a file full of them is "
                         "UTF-16: save it as UTF-8)\n");
  TempDir dir;
  const auto sc = dir.write("s.yaml", "clock: 2026-11-23T08:00:00Z\ncases:\n  - { id: c1, flow: k, data: { name: \"\xFF\" } }\n");
  try {
    (void)load_scenario(sc);
    FAIL("expected FlowError");
  } catch (const FlowError& e) {
    CHECK(message_of(e) == sc + ":3:39: error: invalid UTF-8 (byte 0xFF); YAML files are UTF-8 text: save the file as UTF-8\n");
  }
  CHECK_THROWS_WITH(SimModel::parse("model: m\ndescription: \xC0\xAF\n", "m.yaml"),
                    "m.yaml:2:14: error: invalid UTF-8 (byte 0xC0); YAML files are UTF-8 text: save the file as UTF-8");
}
