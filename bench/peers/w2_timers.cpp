// Workload W2 "deadlines" (../shared/peers/README.md), Escalon's side of bench/compare.sh.
//   build/bench/w2_timers [instances=100000]
//
// N cases each wait on a 1-hour delayed transition (a `wait: { for: 1h }` step) on one manual
// clock; all are created, the clock is advanced 1 h and one run_due() fires them all; every case
// is then checked to be in `escalated`. Prints create and fire rates and the heap per case.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <escalon/escalon.hpp>
#include <nlohmann/json.hpp>
#include <string>

#include "bench_support.hpp"

using namespace escalon;
using namespace std::chrono_literals;
using Stopwatch = std::chrono::steady_clock;

namespace {

constexpr const char* sla_yaml = R"(flow: w2-sla
start: waiting
steps:
  waiting: { wait: { for: 1h }, next: escalated }
  escalated: { on: { close: closed } }
  closed: { end: true }
)";

double seconds_since(Stopwatch::time_point t0) { return std::chrono::duration<double>(Stopwatch::now() - t0).count(); }

}  // namespace

int main(int argc, char** argv) {
  const std::size_t n = argc > 1 ? std::strtoull(argv[1], nullptr, 10) : 100'000;
  ManualClock clock{"2026-11-29T08:00:00Z"};
  // As XState keeps no history of its actors, the journal is not kept (records are still built
  // and handed to the sink).
  std::size_t records = 0;
  Engine engine({.clock = &clock, .keep_journal = false, .journal_sink = [&records](const Record&) { ++records; }});
  engine.add_flows(bench::flows_or_exit(sla_yaml, "w2-sla.yaml"));
  const double heap0 = bench::heap_bytes();
  const auto t0 = Stopwatch::now();
  for (std::size_t i = 0; i < n; ++i) (void)engine.start("w2-sla");
  const double create_s = seconds_since(t0);
  const double heap1 = bench::heap_bytes();
  clock.advance(1h);
  const auto t1 = Stopwatch::now();
  const std::size_t fired = engine.run_due();
  const double fire_s = seconds_since(t1);
  const std::size_t escalated = engine.query({.flow = "w2-sla", .step = "escalated"}).size();
  if (escalated != n || fired != n) {
    std::fprintf(stderr, "w2_timers: only %zu of %zu escalated (%zu timers fired)\n", escalated, n, fired);
    return 1;
  }
  nlohmann::json out = {
      {"peer", "escalon"},
      {"version", std::string(version())},
      {"workload", "w2-delayed-manualclock"},
      {"instances", n},
      {"create_s", create_s},
      {"create_per_s", static_cast<long long>(static_cast<double>(n) / create_s)},
      {"fire_s", fire_s},
      {"fire_per_s", static_cast<long long>(static_cast<double>(n) / fire_s)},
      {"heap_bytes_per_case", static_cast<long long>((heap1 - heap0) / static_cast<double>(n))},
      {"records", records},
  };
  std::printf("%s\n", out.dump().c_str());
  return 0;
}
