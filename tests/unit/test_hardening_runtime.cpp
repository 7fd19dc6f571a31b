// Issue "Hardening", runtime side: nothing a flow, a payload, a scenario or a stored case holds
// may loop, overflow time arithmetic or crash the host; each failure is an incident on that
// case or an error naming the place, with the exact message checked here.

#include <algorithm>
#include <cstdint>

#include <nlohmann/json.hpp>

#include "escalon/calendar.hpp"
#include "escalon/engine.hpp"
#include "escalon/simulate.hpp"
#include "support.hpp"

using namespace escalon;
using namespace std::chrono_literals;
using escalon::test::at;

namespace {

std::size_t count(const std::vector<Record>& h, RecordType t) {
  return static_cast<std::size_t>(std::count_if(h.begin(), h.end(), [&](const Record& r) { return r.type == t; }));
}

// A decision that sends the case to a wait that ends at once, which leads back to the decision.
const char* spin_flow = R"(flow: spin
data:
  stop: { type: bool, default: false }
start: check
steps:
  check:
    decide:
      - { to: done, when: stop }
      - { to: pause }
  pause: { wait: { until: now() }, next: check, on: { halt: done } }
  done: { end: true }
)";

}  // namespace

TEST_CASE("a loop of automatic steps within one call is an incident naming the cycle", "[runtime][hardening]") {
  ManualClock clock{"2026-11-23T08:00:00Z"};
  Engine engine({.clock = &clock, .max_moves_per_call = 500});
  engine.add_flows(test::compile(spin_flow, "spin.yaml"));
  const std::string calm = engine.start("spin", {{"stop", true}});
  const std::string id = engine.start("spin");
  const auto v = engine.get(id);
  CHECK(v.status == CaseStatus::incident);
  CHECK(v.incident ==
        "more than 500 steps entered in one call: the steps 'check' -> 'pause' -> 'check' loop without waiting for "
        "anyone; let a task step, a wait that ends later or a branch that leaves the loop break the cycle");
  const auto h = engine.history(id);
  CHECK(count(h, RecordType::entered) == 500);  // bounded by the limit, not by memory
  CHECK(engine.get(calm).status == CaseStatus::completed);
  // The other cases and later calls carry on; the looping case waits for a person.
  clock.advance(1h);
  CHECK_NOTHROW(engine.run_due());
  const std::string other = engine.start("spin", {{"stop", true}});
  CHECK(engine.get(other).status == CaseStatus::completed);
}

TEST_CASE("the default move limit is 10,000 per case and call", "[runtime][hardening]") {
  CHECK(EngineOptions{}.max_moves_per_call == 10'000);
  ManualClock clock{"2026-11-23T08:00:00Z"};
  Engine engine({.clock = &clock});
  engine.add_flows(test::compile(spin_flow, "spin.yaml"));
  const std::string id = engine.start("spin");
  CHECK(engine.get(id).incident.starts_with("more than 10000 steps entered in one call: the steps 'check' -> 'pause'"));
  CHECK(count(engine.history(id), RecordType::entered) == 10'000);
}
