// Workload W1 "ticket chart" (../shared/peers/README.md), Escalon's side of bench/compare.sh.
//   build/bench/w1_ticket records|defaults [events=1000000] [warmup=100000]
//
// States new, assigned, in-progress, waiting-customer, resolved, closed (end). One cycle is 8
// events: assign start ask reply resolve reopen resolve close; `reply` adds 1 to `notes`,
// `resolve` is guarded by notes > 0; a new case is started after every close, and every cycle
// is checked to end completed with notes = 1 (as the XState program checks its snapshot).
//   records   the journal is built in full and handed to a counting journal_sink, not kept
//             (keep_journal = false): the engine's own work per event.
//   defaults  EngineOptions{} apart from the clock: the journal is kept in memory, which is
//             what the CLI and the Python module give. Also prints the memory per kept record.
// Prints one JSON line, shaped like the peer's.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <escalon/escalon.hpp>
#include <nlohmann/json.hpp>
#include <string>

#include "bench_support.hpp"

using namespace escalon;
using Stopwatch = std::chrono::steady_clock;

namespace {

constexpr const char* ticket_yaml = R"(flow: w1-ticket
data:
  notes: { type: int, default: 0 }
start: new
steps:
  new: { on: { assign: assigned } }
  assigned: { on: { start: in-progress } }
  in-progress:
    on:
      ask: waiting-customer
      resolve: { to: resolved, when: "notes > 0" }
  waiting-customer: { on: { reply: { to: in-progress, set: { notes: "notes + 1" } } } }
  resolved: { on: { reopen: in-progress, close: closed } }
  closed: { end: true }
)";

constexpr const char* cycle[] = {"assign", "start", "ask", "reply", "resolve", "reopen", "resolve", "close"};

std::vector<FlowPtr> flows() { return bench::flows_or_exit(ticket_yaml, "w1-ticket.yaml"); }

struct Run {
  std::size_t cycles_verified = 0;
  std::size_t records = 0;
  std::string last_case;
};

// Sends n events (n / 8 cycles) through fresh cases.
Run run(Engine& engine, std::size_t n) {
  Run r;
  std::string id = engine.start("w1-ticket");
  for (std::size_t i = 0; i < n; ++i) {
    const std::size_t k = i & 7;
    engine.send(id, cycle[k]);
    if (k == 7) {
      const CaseView v = engine.get(id);
      if (v.status == CaseStatus::completed && v.data.at("notes").as_int() == 1) ++r.cycles_verified;
      r.last_case = id;
      id = engine.start("w1-ticket");
    }
  }
  return r;
}

struct Measured {
  Run run;
  double seconds = 0;
  double heap_growth = 0;  // bytes: the cases (and, when kept, the journal) of the timed run
};

Measured measure(bool keep_journal, std::size_t n, std::size_t warm) {
  ManualClock clock{"2026-11-29T08:00:00Z"};
  std::size_t records = 0;
  auto options = [&] {
    EngineOptions o{.clock = &clock};
    if (!keep_journal) {
      o.keep_journal = false;
      o.journal_sink = [&records](const Record&) { ++records; };
    }
    return o;
  };
  if (warm > 0) {
    Engine warmup(options());
    warmup.add_flows(flows());
    (void)run(warmup, warm);
  }
  Engine engine(options());
  engine.add_flows(flows());
  Measured m;
  const double heap0 = bench::heap_bytes();
  records = 0;
  const auto t0 = Stopwatch::now();
  m.run = run(engine, n);
  m.seconds = std::chrono::duration<double>(Stopwatch::now() - t0).count();
  m.heap_growth = bench::heap_bytes() - heap0;
  // Without a sink nothing counts the records; every cycle writes the same ones.
  m.run.records = keep_journal ? engine.history(m.run.last_case).size() * (n / 8) : records;
  return m;
}

}  // namespace

int main(int argc, char** argv) {
  const std::string mode = argc > 1 ? argv[1] : "records";
  const std::size_t n = argc > 2 ? std::strtoull(argv[2], nullptr, 10) : 1'000'000;
  const std::size_t warm = argc > 3 ? std::strtoull(argv[3], nullptr, 10) : 100'000;
  if ((mode != "records" && mode != "defaults") || n < 8) {
    std::fprintf(stderr, "usage: w1_ticket records|defaults [events >= 8] [warmup]\n");
    return 2;
  }
  const Measured m = measure(mode == "defaults", n, warm);
  if (m.run.cycles_verified != n / 8) {
    std::fprintf(stderr, "w1_ticket: bad result: %zu of %zu cycles ended completed with notes = 1\n",
                 m.run.cycles_verified, n / 8);
    return 1;
  }
  auto round1 = [](double x) { return static_cast<double>(static_cast<long long>(x * 10 + 0.5)) / 10.0; };
  nlohmann::json out = {
      {"peer", "escalon"},
      {"version", std::string(version())},
      {"workload", "w1-ticket-" + mode},
      {"events", n},
      {"seconds", m.seconds},
      {"events_per_s", static_cast<long long>(static_cast<double>(n) / m.seconds)},
      {"ns_per_event", round1(m.seconds * 1e9 / static_cast<double>(n))},
      {"cycles_verified", m.run.cycles_verified},
      {"records", m.run.records},
      {"heap_mb_growth", round1(m.heap_growth / 1048576.0)},
  };
  if (mode == "defaults") {
    // The cases stay in memory either way (no store): what the kept journal adds is the
    // difference to the same run that does not keep it.
    const Measured base = measure(false, n, 0);
    out["bytes_per_kept_record"] = static_cast<long long>((m.heap_growth - base.heap_growth) / static_cast<double>(m.run.records));
  }
  std::printf("%s\n", out.dump().c_str());
  return 0;
}
