#pragma once
// The stores the tests of several engines on one store run against: a shared MemoryStore
// (engines in this process), and PostgreSQL when ESCALON_TEST_PG names a database.

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "escalon/engine.hpp"
#include "escalon/store.hpp"
#include "store_locations.hpp"

namespace escalon::test {

struct SharedStoreKind {
  std::string name;
  // Makes a fresh, empty store; keep what it returns alive while engines use the store.
  std::function<std::shared_ptr<void>()> open;
  // One engine's store handle (its own connection where the store has connections).
  std::function<Handle<Store>()> connect;
};

inline std::vector<SharedStoreKind> shared_stores() {
  std::vector<SharedStoreKind> out;
  auto memory = std::make_shared<std::shared_ptr<MemoryStore>>();
  out.push_back({"shared memory store",
                 [memory] {
                   *memory = std::make_shared<MemoryStore>(true);
                   return std::shared_ptr<void>(*memory);
                 },
                 [memory] { return Handle<Store>(*memory); }});
  if (!test_pg_uri().empty()) {
    auto location = std::make_shared<std::string>();
    out.push_back({"PostgreSQL",
                   [location] {
                     *location = fresh_pg_location();  // a schema of its own: an empty store
                     return std::shared_ptr<void>(location);
                   },
                   [location] { return Handle<Store>(open_store(*location)); }});
  }
  return out;
}

}  // namespace escalon::test
