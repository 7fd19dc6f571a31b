// A damaged store file: the bytes go to a scratch SQLite file (seed: fuzz_store_seed, a real
// run), which is opened, read, recovered into an engine with flows/ loaded and its hash chains
// verified. StoreError is the promised refusal (docs/store.md); a crash, an abort or any other
// exception is a finding.
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "escalon/clock.hpp"
#include "escalon/engine.hpp"
#include "escalon/store.hpp"
#include "flows.hpp"
#include "fuzz_support.hpp"

using namespace escalon;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto& flows = fuzz::repo_flows();
  static const std::string path = fuzz::write_scratch("store.db", "");
  for (const char* suffix : {"-wal", "-shm", "-journal"}) std::filesystem::remove(path + suffix);
  fuzz::write_scratch("store.db", fuzz::text(data, size));
  try {
    auto store = open_store("sqlite:" + path + "?sync=normal");
    ManualClock clock{"2026-11-24T12:00:00Z"};  // a day after the seed's run: timers fall due
    Engine engine(EngineOptions{.clock = &clock, .store = store.get()});
    try {
      engine.add_flows(flows);
    } catch (const FlowError&) {
      return 0;  // a flow version stored with other content (a changed hash digit): refused as documented
    }
    (void)engine.recover();
    std::vector<std::string> ids;
    store->for_each_case(std::nullopt, [&](const StoredCase& c) { ids.push_back(c.id); });
    for (const auto& id : ids) {
      try {
        (void)engine.journal_jsonl(id);
      } catch (const CaseError&) {
        // A damaged file whose case index disagrees with its table (SQLite reports no
        // corruption for it): the listing names a case the lookup by id cannot find, and the
        // engine says "unknown case" as the store's lookup does. A finding only if the lookup
        // does find it.
        if (store->find_case(id)) throw;
      }
    }
    (void)verify_journal(*store);  // a hostile file's chain columns: a report, never a crash
  } catch (const StoreError&) {
  } catch (const std::exception& e) {
    fuzz::finding("open_store + recover", e);
  }
  return 0;
}
