// Engine benchmarks (issue "Runtime"): run `bench/run.sh` or
//   build/bench/engine_bench events|memory|timers [N]
//
//   events  N cases through a 6-step ticket flow with guards, journal on (records built and
//           handed to a sink), one thread: events per second.
//   memory  N open cases, each with a pending deadline and a 2-level ladder: peak RSS.
//   timers  N cases whose ladders all fall due, then one run_due(): timers fired per second.
#include <sys/resource.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <escalon/escalon.hpp>
#include <string>

#include "bench_support.hpp"

using namespace escalon;
using namespace std::chrono_literals;
using Stopwatch = std::chrono::steady_clock;

namespace {

const char* ticket_yaml = R"(flow: bench-ticket
data:
  priority: { type: enum, values: [low, normal, high], default: normal }
  amount: { type: int, default: 10 }
  reopened: { type: bool, default: false }
start: new
steps:
  new:
    role: agent
    deadline: { within: 4h, escalate: [ { at: 50%, notify: lead }, { at: 100%, notify: boss } ] }
    on:
      take: [ { to: triage, when: "amount < 1000 && priority != low" }, { to: triage } ]
  triage:
    role: agent
    on: { assign: { to: assigned, when: "priority in [normal, high]" } }
  assigned:
    role: back-office
    on: { start: in-progress }
  in-progress:
    role: back-office
    on:
      wait: waiting
      resolve: { to: resolved, when: "!reopened" }
  waiting:
    on: { reply: in-progress }
  resolved:
    on: { close: closed }
  closed: { end: true }
)";

std::vector<FlowPtr> bench_flows() { return bench::flows_or_exit(ticket_yaml, "bench-ticket.yaml"); }

long peak_rss_mib() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return u.ru_maxrss / 1024;
}

double seconds_since(Stopwatch::time_point t0) { return std::chrono::duration<double>(Stopwatch::now() - t0).count(); }

int events(std::size_t n) {
  ManualClock clock{"2026-11-23T08:00:00Z"};
  std::size_t records = 0;
  Engine engine({.clock = &clock, .keep_journal = false, .journal_sink = [&](const Record&) { ++records; }});
  engine.add_flows(bench_flows());
  std::vector<std::string> ids;
  ids.reserve(n);
  const auto s0 = Stopwatch::now();
  for (std::size_t i = 0; i < n; ++i) ids.push_back(engine.start("bench-ticket"));
  std::printf("events: started %zu cases in %.3f s (%.0f starts/s)\n", n, seconds_since(s0), static_cast<double>(n) / seconds_since(s0));
  const char* script[] = {"take", "assign", "start", "wait", "reply", "resolve", "close"};
  const std::size_t before = records;
  const auto t0 = Stopwatch::now();
  for (const char* ev : script)
    for (const auto& id : ids) engine.send(id, ev);
  const double s = seconds_since(t0);
  const double total = static_cast<double>(n) * 7;
  std::printf("events: %zu cases x 7 events = %.0f events in %.3f s: %.0f events/s, %.2f us/event, %zu journal records (%.1f per event)\n",
              n, total, s, total / s, s / total * 1e6, records - before, static_cast<double>(records - before) / total);
  return 0;
}

int memory(std::size_t n) {
  ManualClock clock{"2026-11-23T08:00:00Z"};
  std::size_t records = 0;
  Engine engine({.clock = &clock, .keep_journal = false, .journal_sink = [&](const Record&) { ++records; }});
  engine.add_flows(bench_flows());
  const long rss0 = peak_rss_mib();
  const auto t0 = Stopwatch::now();
  for (std::size_t i = 0; i < n; ++i) (void)engine.start("bench-ticket");
  const double s = seconds_since(t0);
  std::printf("memory: %zu open cases with a pending deadline and a 2-level ladder: peak RSS %ld MiB (%ld MiB before), "
              "%.0f bytes/case; started in %.2f s (%.0f starts/s); next due %s\n",
              n, peak_rss_mib(), rss0, static_cast<double>(peak_rss_mib() - rss0) * 1048576.0 / static_cast<double>(n), s,
              static_cast<double>(n) / s, format_iso8601(*engine.next_due()).c_str());
  return 0;
}

int timers(std::size_t n) {
  ManualClock clock{"2026-11-23T08:00:00Z"};
  std::size_t records = 0;
  Engine engine({.clock = &clock, .keep_journal = false, .journal_sink = [&](const Record&) { ++records; }});
  engine.add_flows(bench_flows());
  for (std::size_t i = 0; i < n; ++i) {
    (void)engine.start("bench-ticket");
    if (i % 1000 == 999) clock.advance(1s);  // spread the due times
  }
  clock.advance(24h);
  const auto t0 = Stopwatch::now();
  const std::size_t fired = engine.run_due();
  const double s = seconds_since(t0);
  std::printf("timers: %zu cases, %zu timers fired (2 levels + the due time each) in %.3f s: %.0f timers/s\n", n, fired, s,
              static_cast<double>(fired) / s);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  const std::string what = argc > 1 ? argv[1] : "events";
  const std::size_t n = argc > 2 ? std::strtoull(argv[2], nullptr, 10) : 0;
  if (what == "events") return events(n ? n : 200'000);
  if (what == "memory") return memory(n ? n : 1'000'000);
  if (what == "timers") return timers(n ? n : 1'000'000);
  std::fprintf(stderr, "usage: engine_bench events|memory|timers [N]\n");
  return 2;
}
