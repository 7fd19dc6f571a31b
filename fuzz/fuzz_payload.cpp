// Event payloads from outside: JSON text -> Value (as the CLI reads --data, ISO text becoming
// datetimes) -> start, send, update on technician-visit (flows/) with a ManualClock, then the
// deadlines those values set. EventError is the promised refusal; anything else is a finding.
#include <cstdint>

#include "base/json.hpp"
#include "escalon/clock.hpp"
#include "escalon/engine.hpp"
#include "flows.hpp"
#include "fuzz_support.hpp"

using namespace escalon;

namespace {

// Events technician-visit and its sub-flow handle, in an order that walks most of its steps.
constexpr std::string_view events[] = {"submit", "parts-arrived", "alternative-found", "booked",
                                       "customer-unreachable", "customer-replied", "needs-parts",
                                       "booked", "fixed"};

template <class F>
void refused_ok(const char* where, F&& call) {
  try {
    call();
  } catch (const EventError&) {
  } catch (const std::exception& e) {
    fuzz::finding(where, e);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto& flows = fuzz::repo_flows();
  auto j = nlohmann::ordered_json::parse(fuzz::text(data, size), nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return 0;
  Value v;
  try {
    v = detail::value_from_json(j, detail::JsonStrings::iso_datetimes);
  } catch (const DataError&) {
    return 0;  // too deep or out of range: refused before it reaches the engine
  } catch (const std::exception& e) {
    fuzz::finding("value_from_json", e);
  }
  // A non-object still reaches typed fields, where it must be refused cleanly.
  Map payload = v.kind() == Value::Kind::map ? v.as_map() : Map{{"product", v}, {"slot", v}, {"preferred_slots", v}};

  ManualClock clock{"2026-11-23T08:00:00Z"};
  Engine engine(EngineOptions{.clock = &clock});
  engine.add_flows(flows);
  refused_ok("start with the payload as data", [&] { (void)engine.start("technician-visit", payload); });
  std::string id;
  refused_ok("start", [&] { id = engine.start("technician-visit", {{"customer", "ACME"}}); });
  if (id.empty()) fuzz::finding("start", std::runtime_error("a valid start was refused"));
  for (auto event : events) {
    refused_ok("send", [&] { engine.send(id, event, payload); });
    refused_ok("update", [&] { engine.update(id, payload); });
    clock.advance(std::chrono::hours{30});
    refused_ok("run_due", [&] { (void)engine.run_due(); });
  }
  try {
    (void)engine.get(id);
    (void)engine.journal_jsonl();
  } catch (const std::exception& e) {
    fuzz::finding("reading the case back", e);
  }
  return 0;
}
