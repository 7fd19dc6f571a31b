// Drives technician-visit cases against a SQLite store until it is killed (tests/crash/test_crash.sh).
//
//   crash_driver DB FLOWS_DIR SEED [group]
//
// Every acknowledged send (the call returned) is appended to DB.acks as "CASE COUNT", COUNT being
// the number of sends to that case acknowledged so far; the parent checks the store has them.
// The virtual clock is kept in DB.clock, written before it is used, so it never goes back.
#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <stdexcept>
#include <escalon/escalon.hpp>
#include <fstream>
#include <map>
#include <random>
#include <string>
#include <thread>
#include <vector>

using namespace escalon;

namespace {
// Atomic: a kill leaves either the old or the new content, never an empty file.
void write_file(const std::string& path, const std::string& text) {
  { std::ofstream(path + ".tmp", std::ios::trunc) << text; }
  std::rename((path + ".tmp").c_str(), path.c_str());
}

void append(int fd, const std::string& line) {
  if (::write(fd, line.data(), line.size()) != static_cast<ssize_t>(line.size())) std::_Exit(3);
}
}  // namespace

int main(int argc, char** argv) {
  if (argc != 4 && argc != 5) {
    std::fprintf(stderr, "usage: crash_driver DB FLOWS_DIR SEED [group]\n");
    return 2;
  }
  const std::string db = argv[1];
  // `group`: three threads call the engine with group commit on. Each thread sends only to the
  // cases it owns (by id hash), so each case's acknowledged count grows in one order.
  const int threads = argc == 5 && std::string(argv[4]) == "group" ? 3 : 1;
  const std::uint64_t seed = std::stoull(argv[3]);

  TimePoint now = *parse_iso8601("2026-11-23T08:00:00Z");
  if (std::ifstream in(db + ".clock"); in) {
    std::string s;
    in >> s;
    if (auto t = parse_iso8601(s)) now = *t;
  }
  ManualClock clock(now);
  auto store = open_store("sqlite:" + db);
  Engine engine({.clock = &clock, .keep_journal = false, .store = store.get(), .group_commit = threads > 1});
  engine.load({argv[2]});
  engine.on_notify([](const Notification&) {});
  // The ordering service: slow (the engine lock is released while it runs, so other threads'
  // calls interleave with the unit that called it), fails now and then, and reads the engine
  // from inside the handler. A kill while it runs must lose the calling unit entirely.
  std::atomic<std::uint64_t> orders{0};
  engine.on_action("parts.order", [&](ActionContext& a) {
    const auto n = orders.fetch_add(1) + seed * 1000003;
    std::this_thread::sleep_for(std::chrono::microseconds(200 + n % 1500));
    if (n % 4 == 0) throw std::runtime_error("the ordering service timed out");
    (void)engine.get(a.case_id());
    a.set("order_id", "PO-" + std::to_string(n));
    a.set("supplier", "ACME Parts");
  });
  engine.recover();

  const auto owner = [threads](const std::string& id) { return static_cast<int>(std::hash<std::string>{}(id) % static_cast<std::size_t>(threads)); };
  std::vector<std::map<std::string, int>> sends(static_cast<std::size_t>(threads));  // acknowledged sends per case, as stored
  for (const auto& c : engine.query({.status = std::nullopt}))
    for (const auto& r : engine.history(c.id))
      if (r.type == RecordType::event && r.actor == "driver") ++sends[static_cast<std::size_t>(owner(c.id))][c.id];
  const int acks = ::open((db + ".acks").c_str(), O_WRONLY | O_APPEND | O_CREAT, 0644);
  // The flow the cases run (FLOWS_DIR holds others, and sub-flows: not the first one loaded).
  FlowPtr flow;
  for (const auto& f : engine.flows())
    if (f->id == "technician-visit") flow = f;
  if (!flow) {
    std::fprintf(stderr, "crash_driver: no technician-visit flow in %s\n", argv[2]);
    return 2;
  }

  const auto work = [&](int me) {
    std::mt19937_64 rng(seed * 7919 + static_cast<std::uint64_t>(me));
    auto pick = [&](std::uint64_t n) { return std::uniform_int_distribution<std::uint64_t>(0, n - 1)(rng); };
    auto& mine = sends[static_cast<std::size_t>(me)];
    for (std::uint64_t i = 0;; ++i) {
      const auto op = pick(10);
      if (op < 3 || (op >= 8 && me != 0)) {  // only thread 0 moves the clock
        (void)engine.start("technician-visit", {{"customer", "C" + std::to_string(i)}});
        continue;
      }
      if (op < 8) {
        auto open = engine.query({});
        std::erase_if(open, [&](const CaseView& c) { return owner(c.id) != me; });
        if (open.empty()) continue;
        const auto& c = open[pick(open.size())];
        const Step* step = flow->find_step(c.steps.at(0));
        if (!step || step->on.empty()) continue;
        const std::string event = step->on[pick(step->on.size())].event;
        Map payload;
        if (event == "submit")
          payload = {{"preferred_slots", List{clock.now() + std::chrono::hours{48}}}, {"product", "tv"}, {"parts_needed", pick(2) == 0}};
        if (event == "booked") payload = {{"slot", clock.now() + std::chrono::hours{24 + static_cast<int>(pick(72))}}};
        try {
          engine.send(c.id, event, payload, {.actor = "driver"});
        } catch (const EventError&) {
          continue;  // refused (e.g. a case that fell into an incident): not acknowledged
        }
        append(acks, c.id + " " + std::to_string(++mine[c.id]) + "\n");  // one write(): whole lines
        continue;
      }
      const TimePoint next = clock.now() + std::chrono::minutes{1 + static_cast<int>(pick(180))};
      write_file(db + ".clock", format_iso8601(next));
      clock.set(next);
      engine.run_due();
    }
  };
  std::vector<std::thread> pool;
  for (int t = 1; t < threads; ++t) pool.emplace_back(work, t);
  work(0);  // never returns: the test kills the process
}
