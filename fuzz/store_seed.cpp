// Writes the seed for fuzz_store: a small SQLite store made by a real run of flows/ (open and
// closed cases, deadlines, SLA clocks, a sub-flow, an incident), checkpointed into one file.
// Usage: fuzz_store_seed OUT.db
#include <cstdio>
#include <filesystem>

#include "escalon/clock.hpp"
#include "escalon/engine.hpp"
#include "escalon/store.hpp"
#include "flows.hpp"

using namespace escalon;

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: fuzz_store_seed OUT.db\n");
    return 2;
  }
  const std::filesystem::path out = argv[1];
  for (const char* suffix : {"", "-wal", "-shm", "-lock"}) std::filesystem::remove(out.string() + suffix);
  {
    ManualClock clock{"2026-11-23T08:00:00Z"};
    auto store = open_store("sqlite:" + out.string() + "?sync=normal");
    Engine engine(EngineOptions{.clock = &clock, .store = store.get()});
    engine.add_flows(fuzz::repo_flows());
    auto quick = engine.start("technician-visit", {{"customer", "ACME"}});
    engine.send(quick, "submit", {{"product", "TV"}, {"preferred_slots", List{"2026-11-26T09:00:00Z"}}});
    engine.send(quick, "booked", {{"slot", "2026-11-26T09:00:00Z"}});
    auto parts = engine.start("technician-visit", {{"customer", "Beta"}, {"priority", "high"}});
    engine.send(parts, "submit", {{"product", "Fridge"}, {"parts_needed", true}, {"preferred_slots", List{}}});
    clock.advance(std::chrono::hours{3});
    (void)engine.run_due();
    auto closed = engine.start("technician-visit", {{"customer", "Gamma"}});
    engine.send(closed, "submit", {{"product", "Radio"}, {"preferred_slots", List{"2026-11-24T09:00:00Z"}}});
    engine.send(closed, "booked", {{"slot", "2026-11-24T09:00:00Z"}});
    engine.send(closed, "fixed");
    (void)engine.start("complaint", {{"customer", "Delta"}});
  }
  std::filesystem::remove(out.string() + "-lock");
  std::printf("%s: %ju bytes\n", out.c_str(), static_cast<std::uintmax_t>(std::filesystem::file_size(out)));
  return 0;
}
