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

#include <chrono>
#include <cstdint>
#include <functional>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
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

/// Another writer changed a case since this engine read it (optimistic concurrency: a store
/// shared by several engine processes refuses a stale write instead of losing the other one).
class ConflictError : public StoreError {
 public:
  using StoreError::StoreError;
};

/// A case's full state after a unit of work, as the engine serializes it (JSON text).
struct StoredCase {
  std::string id;
  std::string flow;
  std::uint64_t seq = 0;       ///< the last record of the case in this state
  bool open = true;            ///< false once completed or cancelled
  std::string state;
  /// Optimistic versions: how many times the case has been committed, this time included, and
  /// the revision the store must hold for this write to apply (0: the case is new). A store
  /// that finds another revision throws ConflictError and writes nothing of the batch.
  std::uint64_t revision = 0;
  std::uint64_t expected = 0;
  /// The case's earliest pending timer (deadline, escalation, SLA, wait, retry); the epoch when
  /// it has none. Lets a store shared by several engines hand out due work (Store::due_cases).
  TimePoint next_due{};
  /// The key (64 hex digits) that seals the case's personal values (`pii: true` fields) in its
  /// state and in its stored records; empty when its flow has none, and once the case was
  /// erased (Engine::erase): then nothing opens them again (docs/security.md, "Erasure").
  std::string secret;
  /// The last link of the case's hash chain (set by the store, read back by verify_journal).
  std::string head;
};

/// A journal record exactly as a store keeps it, for checks of the hash chain (verify_journal):
/// its JSON text with personal values sealed, and its link in its case's chain.
struct StoredRecord {
  std::uint64_t seq = 0;
  std::string case_id;
  TimePoint at{};
  std::string type;
  std::string json;
  std::string digest;      ///< BLAKE2b-256 of `json` (hex); empty in records written before the chain
  std::string link;        ///< the chain link over the previous link, `prev` and `digest`
  std::uint64_t prev = 0;  ///< the case's record before this one (0: its first)
};

/// A flow version as the store keeps it: cases started on it can be recovered even after the
/// file has moved on to a newer version.
struct StoredFlow {
  std::string id;
  std::int64_t version = 1;
  std::string hash;    ///< Flow::content_hash (the file and its includes)
  std::string file;    ///< the path it was loaded from (names it in messages; resolves its includes)
  std::string source;  ///< the flow file's text
};

/// A start with an idempotency key (StartOptions::key) and the case it created: a repeated
/// start finds it by key, in this process or after a restart.
struct StartKey {
  std::string key;
  std::string case_id;
  std::string fingerprint;  ///< 16 hex digits of the start's flow, version, id and data
};

/// A notification waiting in the outbox for one channel (notification.hpp; docs/delivery.md).
/// (key, channel) identifies it. Entries of a case and channel are delivered in `order`.
struct OutboxEntry {
  std::string key;            ///< Notification::key
  std::string channel;
  std::string case_id;
  std::uint64_t order = 0;    ///< the raising record's seq × 1000 + the notification's index
  std::int32_t attempts = 0;  ///< tries made so far
  TimePoint next_attempt{};   ///< when to try next (engine clock time)
  bool dead = false;          ///< dead-lettered: waits for Engine::redeliver
  std::string error;          ///< why the last try failed
  std::string notification;   ///< notification_to_json()
};

/// An outbox entry by identity.
struct OutboxRef {
  std::string key;
  std::string channel;
};

/// One unit of work.
struct StoreBatch {
  std::span<const Record> records;
  std::span<const StoredCase> cases;
  std::map<std::string, std::string> meta;  ///< engine counters (e.g. the next case number per flow)
  std::span<const StoredFlow> flows;        ///< flow versions seen for the first time
  std::span<const StartKey> start_keys;     ///< keyed starts of this unit (each key is new)
  std::span<const OutboxEntry> outbox;      ///< entries written or changed (by key and channel)
  std::span<const OutboxRef> delivered;     ///< entries delivered: they leave the outbox
};

class Store {
 public:
  virtual ~Store() = default;
  /// Writes a unit atomically. When it returns, the unit is durable (as the store's sync mode
  /// defines it). Throws StoreError; then nothing of the unit was written.
  virtual void commit(const StoreBatch& batch) = 0;
  /// The latest state of every open case, in the order the cases were started.
  [[nodiscard]] virtual std::vector<StoredCase> open_cases() = 0;
  /// One case's latest state, open or closed; nothing for an id no case ever had.
  [[nodiscard]] virtual std::optional<StoredCase> find_case(std::string_view id) = 0;
  /// Every case's latest state, in the order the cases were started; `open` set: only open
  /// (true) or only closed (false) cases. Reads of closed cases come here: an engine with a
  /// store keeps only open cases in memory.
  virtual void for_each_case(std::optional<bool> open, const std::function<void(const StoredCase&)>& visit) = 0;
  /// One case's records, in order.
  [[nodiscard]] virtual std::vector<Record> history(std::string_view case_id) = 0;
  /// The highest record sequence number written (0 for a new store).
  [[nodiscard]] virtual std::uint64_t last_seq() = 0;
  /// The time of that record (the epoch for a new store).
  [[nodiscard]] virtual TimePoint last_time() = 0;
  [[nodiscard]] virtual std::map<std::string, std::string> meta() = 0;
  /// Every stored flow version, by id then version.
  [[nodiscard]] virtual std::vector<StoredFlow> flows() = 0;
  /// Open cases with a timer due at or before `upto`, earliest first, at most `limit` (0: all).
  /// A store shared by several engines would lease these (see docs/store.md).
  [[nodiscard]] virtual std::vector<std::string> due_cases(TimePoint upto, std::size_t limit = 0) = 0;
  /// Every record in order, one at a time (reports read the whole journal this way).
  virtual void for_each_record(const std::function<void(const Record&)>& visit) = 0;
  /// The keyed start stored under `key`, if any. A store that keeps no start keys (this
  /// default) leaves idempotent starts to the engine's memory: repeats within one process.
  [[nodiscard]] virtual std::optional<StartKey> find_start_key(std::string_view key);
  /// Every stored start key, by key (`escalon store copy` reads them this way); none in a store
  /// that keeps none (this default).
  virtual void for_each_start_key(const std::function<void(const StartKey&)>& visit);
  /// Every outbox entry (pending and dead), by case then order. Small: entries leave the
  /// outbox once delivered.
  virtual void for_each_outbox(const std::function<void(const OutboxEntry&)>& visit) = 0;
  /// Every record as stored, by case then seq (verify_journal reads them). A store that keeps
  /// no hash chain (this default: the memory store) visits none.
  virtual void for_each_stored_record(const std::function<void(const StoredRecord&)>& visit);
  /// Makes what an erasure deleted unrecoverable from the store's files: SQLite overwrites
  /// deleted content (secure_delete) and empties its WAL (or does so after its next commit when
  /// a reader holds the WAL now); PostgreSQL vacuums the tables.
  virtual void scrub() {}
  /// Replaces with "[erased]" the personal values of the case's records written before the store
  /// kept a hash chain (an older store: they were not sealed). Records of the chain are left
  /// as they are: their sealed values went with the case's key.
  virtual void erase_unchained(std::string_view /*case_id*/) {}

  // ---- Stores shared by several engine processes (PostgreSQL; docs/deployment.md).
  //
  // On a shared store the store is the truth and an engine's memory holds only the cases its
  // running calls work on: each call loads its case (family) fresh, commits with the revision
  // it read, and applies the call again on ConflictError. Due timers are handed out by
  // claim_due. A store that is not shared (memory, SQLite) has one engine and never needs them.

  /// Whether several engines may write this store at once.
  [[nodiscard]] virtual bool shared() const { return false; }
  /// The next number for a generated case id `<flow>-<n>`: unique across every engine on the
  /// store, taken at once (outside any unit, so a unit that fails leaves a gap).
  [[nodiscard]] virtual std::uint64_t next_case_number(std::string_view flow);
  /// Fills `out` with new record sequence numbers, increasing, each greater than every number
  /// any engine took before this call. A unit that fails leaves a gap.
  virtual void take_seqs(std::span<std::uint64_t> out);
  /// Leases to `owner`, for `lease` of wall-clock time, up to `limit` open cases with a timer
  /// due at or before `upto` that no other live lease holds, earliest first. A commit of a
  /// case ends its lease; a lease that runs out (its engine died) frees the case for others.
  [[nodiscard]] virtual std::vector<std::string> claim_due(TimePoint upto, std::size_t limit, std::string_view owner,
                                                           std::chrono::milliseconds lease);
  /// Ends `owner`'s leases on these cases without a commit (nothing was due after all).
  virtual void release_claims(std::span<const std::string> ids, std::string_view owner);
  /// Waits up to `timeout` for a commit by another engine that set a timer due at or before
  /// `before`; true when one came (LISTEN/NOTIFY on PostgreSQL).
  virtual bool wait_for_work(TimePoint before, std::chrono::milliseconds timeout);
  /// The earliest pending timer of any open case; nothing when no case has one.
  [[nodiscard]] virtual std::optional<TimePoint> earliest_due();
  /// Leases to `owner`, for `lease`, up to `limit` outbox entries due at or before `upto`
  /// that no other live lease holds, each the first entry (by order) of its case and channel
  /// that is not dead, so that queues keep their order across engines. A commit that writes
  /// or removes an entry ends its lease.
  [[nodiscard]] virtual std::vector<OutboxEntry> claim_outbox(TimePoint upto, std::size_t limit, std::string_view owner,
                                                              std::chrono::milliseconds lease);
};

/// A store in memory: durable for the life of the process (tests, simulations, restarts of an
/// Engine object within one process).
class MemoryStore final : public Store {
 public:
  /// `shared`: several Engine objects in this process may use the store at once, as engines
  /// in several processes use a PostgreSQL store (tests of shared operation without a server).
  explicit MemoryStore(bool shared = false) : shared_(shared) {}
  void commit(const StoreBatch& batch) override;
  [[nodiscard]] std::vector<StoredCase> open_cases() override;
  [[nodiscard]] std::optional<StoredCase> find_case(std::string_view id) override;
  void for_each_case(std::optional<bool> open, const std::function<void(const StoredCase&)>& visit) override;
  [[nodiscard]] std::vector<Record> history(std::string_view case_id) override;
  [[nodiscard]] std::uint64_t last_seq() override;
  [[nodiscard]] TimePoint last_time() override;
  [[nodiscard]] std::map<std::string, std::string> meta() override;
  [[nodiscard]] std::vector<StoredFlow> flows() override;
  [[nodiscard]] std::vector<std::string> due_cases(TimePoint upto, std::size_t limit = 0) override;
  void for_each_record(const std::function<void(const Record&)>& visit) override;
  [[nodiscard]] std::optional<StartKey> find_start_key(std::string_view key) override;
  void for_each_start_key(const std::function<void(const StartKey&)>& visit) override;
  void for_each_outbox(const std::function<void(const OutboxEntry&)>& visit) override;
  [[nodiscard]] std::size_t record_count() const;
  [[nodiscard]] bool shared() const override { return shared_; }
  [[nodiscard]] std::uint64_t next_case_number(std::string_view flow) override;
  void take_seqs(std::span<std::uint64_t> out) override;
  [[nodiscard]] std::vector<std::string> claim_due(TimePoint upto, std::size_t limit, std::string_view owner,
                                                   std::chrono::milliseconds lease) override;
  void release_claims(std::span<const std::string> ids, std::string_view owner) override;
  bool wait_for_work(TimePoint before, std::chrono::milliseconds timeout) override;
  [[nodiscard]] std::optional<TimePoint> earliest_due() override;
  [[nodiscard]] std::vector<OutboxEntry> claim_outbox(TimePoint upto, std::size_t limit, std::string_view owner,
                                                      std::chrono::milliseconds lease) override;

 private:
  struct Lease {
    std::string owner;
    std::chrono::steady_clock::time_point until;
  };
  void open_records(std::span<Record> records) const;
  bool shared_ = false;
  std::uint64_t seq_taken_ = 0;
  std::map<std::string, Lease, std::less<>> leases_;
  std::condition_variable committed_;
  std::uint64_t commits_ = 0;
  TimePoint earliest_committed_{};  // the earliest next_due of the last commit (wakes waiters)
  mutable std::mutex mutex_;
  std::vector<Record> records_;
  std::map<std::string, StoredCase, std::less<>> cases_;
  std::vector<std::string> order_;  // case ids in start order
  std::map<std::string, std::string> meta_;
  std::map<std::pair<std::string, std::int64_t>, StoredFlow> flows_;
  std::map<std::string, StartKey, std::less<>> start_keys_;
  std::map<std::pair<std::string, std::string>, OutboxEntry> outbox_;  // by (key, channel)
  std::map<std::pair<std::string, std::string>, Lease> outbox_leases_;
};

/// Opens a store by location:
///   "memory:"                 a MemoryStore;
///   "sqlite:PATH"             SQLite in WAL mode, created if missing, schema migrated on open;
///                             each commit is fsynced before it returns (synchronous=FULL);
///   "sqlite:PATH?sync=normal" fsync at checkpoints only: survives a crash of the process, not
///                             of the machine.
///   "postgresql://user@host:port/db?options" (also "postgres://"): PostgreSQL, shared by
///                             several engine processes (docs/deployment.md); the schema is
///                             created or migrated on open.
/// One engine writes a SQLite store at a time (the file is locked while open). Throws
/// StoreError with the reason: not an SQLite file, another program's database, written by a
/// newer Escalon, locked by another writer, read-only, corrupt. docs/store.md has the details.
[[nodiscard]] std::unique_ptr<Store> open_store(std::string_view location);

/// What verify_journal found.
struct ChainReport {
  std::size_t cases = 0;      ///< cases checked
  std::size_t records = 0;    ///< records checked
  std::size_t unchained = 0;  ///< records written before the store kept a chain (not covered)
  /// One line per case whose chain is broken, naming the first record that was changed,
  /// removed or inserted; empty when every chain holds.
  std::vector<std::string> problems;
  /// BLAKE2b-256 over every case's id and head, in id order: write it down (a ticket, a
  /// signed mail) and compare later runs with it, to see a whole case removed or a journal
  /// rewritten with fresh hashes by someone who can write the store.
  std::string digest;
  [[nodiscard]] bool ok() const { return problems.empty(); }
};

/// Checks every case's hash chain against its records and its head (docs/security.md,
/// "Tamper-evident journal"). Reads the store only; throws StoreError when it cannot read it.
[[nodiscard]] ChainReport verify_journal(Store& store);

}  // namespace escalon
