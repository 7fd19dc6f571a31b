// The outbox's cost (issue "Alarms that are never lost"):
//   outbox_bench DIR [N] [full|normal]
// On a SQLite store at the given sync setting, N notifications are raised and delivered to a
// channel that does nothing, two ways, each next to the same work with no channel registered
// (no outbox entry, no delivery record):
//   events  one send per notification (a step's on_enter `notify`): one unit each, plus the
//           unit that records the delivery;
//   timers  N escalations fired by one run_due(): one unit for the firings, then one commit per
//           delivered queue.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <escalon/escalon.hpp>
#include <filesystem>
#include <string>

#include <fmt/format.h>

using namespace escalon;
using Stopwatch = std::chrono::steady_clock;

namespace {

const char* flow_yaml = R"(flow: alarm
start: a
steps:
  a:
    role: agent
    deadline: { within: 4h, escalate: [ { at: 50%, notify: lead, message: "late: {case.id}" } ] }
    on: { go: b }
  b:
    role: agent
    on_enter: [ { notify: [lead], message: "moved: {case.id}" } ]
    on: { back: a, done: z }
  z: { end: true }
)";

struct Quiet final : Channel {
  std::size_t got = 0;
  void deliver(const Notification&, std::int32_t) override { ++got; }
};

struct Run {
  double events_per_s = 0, timers_per_s = 0;
  std::size_t delivered = 0;
};

Run run(const std::string& dir, int n, const std::string& sync, bool channel) {
  const std::string path = dir + "/outbox.db";
  for (const char* ext : {"", "-wal", "-shm"}) std::filesystem::remove(path + ext);
  ManualClock clock{"2026-11-23T08:00:00Z"};
  auto quiet = std::make_shared<Quiet>();
  Engine engine({.clock = &clock, .keep_journal = false, .store = open_store("sqlite:" + path + "?sync=" + sync)});
  engine.add_flows(validate_text(flow_yaml, "alarm.yaml").flows);
  if (channel) engine.add_channel("quiet", quiet);
  std::vector<std::string> ids;
  for (int i = 0; i < n; ++i) ids.push_back(engine.start("alarm"));
  Run r;
  auto t0 = Stopwatch::now();
  for (const auto& id : ids) engine.send(id, "go");
  r.events_per_s = n / std::chrono::duration<double>(Stopwatch::now() - t0).count();
  for (const auto& id : ids) engine.send(id, "back");  // restarts the deadline
  clock.advance(std::chrono::hours{2});
  t0 = Stopwatch::now();
  engine.run_due();
  r.timers_per_s = n / std::chrono::duration<double>(Stopwatch::now() - t0).count();
  r.delivered = quiet->got;
  return r;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: outbox_bench DIR [N] [full|normal]\n");
    return 2;
  }
  const std::string dir = argv[1];
  const int n = argc > 2 ? std::atoi(argv[2]) : 2000;
  const std::string sync = argc > 3 ? argv[3] : "full";
  std::filesystem::create_directories(dir);
  const Run without = run(dir, n, sync, false);
  const Run with = run(dir, n, sync, true);
  std::printf("outbox, SQLite sync=%s, %d notifications each way:\n", sync.c_str(), n);
  std::printf("  events (send -> on_enter notify): %8.0f/s without a channel, %8.0f/s delivered through the outbox\n",
              without.events_per_s, with.events_per_s);
  std::printf("  timers (run_due -> escalation):   %8.0f/s without a channel, %8.0f/s delivered through the outbox\n",
              without.timers_per_s, with.timers_per_s);
  if (with.delivered != static_cast<std::size_t>(2 * n)) {
    std::fprintf(stderr, "expected %d deliveries, the channel got %zu\n", 2 * n, with.delivered);
    return 1;
  }
  return 0;
}
