#pragma once
/// @file store.hpp
/// Where an engine keeps its cases so that a restart loses nothing. Each API call is one unit
/// of work: the records it produced and the new state of every case it touched are committed
/// together, atomically. The journal is the history; the case states (snapshots) make
/// recovery fast: a restarted engine loads the open cases' states, rebuilds its timers, and
/// fires whatever fell due while it was down, each exactly once.
///
/// The in-memory store keeps today's behaviour (nothing survives the process); the SQLite store
/// (docs/store.md) is the embedded default for durable cases.

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "escalon/error.hpp"
#include "escalon/journal.hpp"

namespace escalon {

/// A store failed (disk full, read-only, locked, corrupt). What was committed before is intact.
class StoreError : public Error {
 public:
  using Error::Error;
};

/// A case's full state after a unit of work, as the engine serializes it (JSON text).
struct StoredCase {
  std::string id;
  std::string flow;
  std::uint64_t seq = 0;  ///< the last record of the case in this state
  bool open = true;       ///< false once completed or cancelled
  std::string state;
};

/// One unit of work.
struct StoreBatch {
  std::span<const Record> records;
  std::span<const StoredCase> cases;
  std::map<std::string, std::string> meta;  ///< engine counters (e.g. the next case number per flow)
};

class Store {
 public:
  virtual ~Store() = default;
  /// Writes a unit atomically. When it returns, the unit is durable (as the store's sync mode
  /// defines it). Throws StoreError; then nothing of the unit was written.
  virtual void commit(const StoreBatch& batch) = 0;
  /// The latest state of every open case, in the order the cases were started.
  [[nodiscard]] virtual std::vector<StoredCase> open_cases() = 0;
  /// One case's records, in order.
  [[nodiscard]] virtual std::vector<Record> history(std::string_view case_id) = 0;
  /// The highest record sequence number written (0 for a new store).
  [[nodiscard]] virtual std::uint64_t last_seq() = 0;
  /// The time of that record (the epoch for a new store).
  [[nodiscard]] virtual TimePoint last_time() = 0;
  [[nodiscard]] virtual std::map<std::string, std::string> meta() = 0;
  /// Every record in order, one at a time (reports read the whole journal this way).
  virtual void for_each_record(const std::function<void(const Record&)>& visit) = 0;
};

/// A store in memory: durable for the life of the process (tests, simulations, restarts of an
/// Engine object within one process).
class MemoryStore final : public Store {
 public:
  void commit(const StoreBatch& batch) override;
  [[nodiscard]] std::vector<StoredCase> open_cases() override;
  [[nodiscard]] std::vector<Record> history(std::string_view case_id) override;
  [[nodiscard]] std::uint64_t last_seq() override;
  [[nodiscard]] TimePoint last_time() override;
  [[nodiscard]] std::map<std::string, std::string> meta() override;
  void for_each_record(const std::function<void(const Record&)>& visit) override;
  [[nodiscard]] std::size_t record_count() const;

 private:
  mutable std::mutex mutex_;
  std::vector<Record> records_;
  std::map<std::string, StoredCase, std::less<>> cases_;
  std::vector<std::string> order_;  // case ids in start order
  std::map<std::string, std::string> meta_;
};

/// Opens a store by location:
///   "memory:"                 a MemoryStore;
///   "sqlite:PATH"             SQLite in WAL mode, created if missing, schema migrated on open;
///                             each commit is fsynced before it returns (synchronous=FULL);
///   "sqlite:PATH?sync=normal" fsync at checkpoints only: survives a crash of the process, not
///                             of the machine.
/// One engine writes a SQLite store at a time (the file is locked while open). Throws
/// StoreError with the reason: not an SQLite file, another program's database, written by a
/// newer Escalon, locked by another writer, read-only, corrupt. docs/store.md has the details.
[[nodiscard]] std::unique_ptr<Store> open_store(std::string_view location);

}  // namespace escalon
