#pragma once
// Personal data at rest, and the journal's hash chain (docs/security.md).
//
// Crypto-shredding: a case whose flow has `pii: true` fields gets a random 256-bit key (its
// secret, kept in its case row). Personal values are stored sealed with it
// (XChaCha20-Poly1305, a random nonce per value) in the case state and in journal records;
// erasing the case deletes the key, after which every copy of those values is noise, in every
// record, backup page and WAL frame, without rewriting one record.
//
// Hash chain: each case's stored records form a chain. A record's digest is BLAKE2b-256 of its
// stored JSON text; its link is BLAKE2b-256 over the previous link, the previous record's seq
// and the digest. The case row keeps the last link (the head). Sealed values are hashed as
// stored, so an erasure leaves every link valid.

#include <cstdint>
#include <functional>
#include <map>
#include <vector>
#include <optional>
#include <string>
#include <string_view>

#include "escalon/journal.hpp"
#include "escalon/store.hpp"
#include "escalon/value.hpp"

namespace escalon::detail {

/// A new case secret: 64 hex digits (32 random bytes).
[[nodiscard]] std::string new_case_secret();
/// Whether `secret` has the form new_case_secret gives.
[[nodiscard]] bool valid_secret(std::string_view secret);

/// Whether a stored case state (StoredCase::state) is of an erased case: its own `"erased":true`
/// key, read without parsing (text values escape their quotes, so only the key matches).
[[nodiscard]] inline bool state_erased(std::string_view state) { return state.find("\"erased\":true") != std::string_view::npos; }

/// Whether `v` is a sealed value: {"$sealed": "<base64 of nonce and ciphertext>"}.
[[nodiscard]] bool is_sealed(const Value& v);
/// `v` sealed with `secret` (a null value stays null: there is nothing to hide).
[[nodiscard]] Value seal_value(const Value& v, std::string_view secret);
/// The value `v` was, when `secret` opens it; nothing when the secret is gone or wrong.
[[nodiscard]] std::optional<Value> open_value(const Value& v, std::string_view secret);

/// What a personal value reads as once its case was erased.
[[nodiscard]] const Value& erased_value();

/// Calls `f` on each personal value the record holds (see Record::personal).
void for_each_personal(Record& r, const std::function<void(Value&)>& f);
/// The record as a store keeps it: personal values sealed with `secret`, or, when the case has
/// none (it was erased), replaced by erased_value().
[[nodiscard]] Record sealed_record(const Record& r, std::string_view secret);
/// Opens the sealed values of a record read back from a store; those `secret` cannot open
/// (an erased case) read as erased_value().
void open_record(Record& r, std::string_view secret);
/// A stored record's JSON with its personal values replaced by erased_value() (records of an
/// older store, written before values were sealed). Throws Error for text that is not a record.
[[nodiscard]] std::string erased_record_json(std::string_view json);

/// BLAKE2b-256 of `text`, 64 hex digits.
[[nodiscard]] std::string digest_hex(std::string_view text);
/// The link after `prev_link` (empty for a case's first record) for a record that follows
/// record `prev_seq` (0: none) with this digest.
[[nodiscard]] std::string chain_link(std::string_view prev_link, std::uint64_t prev_seq, std::string_view digest);


/// Where a case's chain stands before a batch: its last link and record number.
struct ChainTip {
  std::string link;
  std::uint64_t seq = 0;
};

/// The stored form of a batch: its records sealed with their cases' secrets (StoredCase::secret
/// of the batch's cases) and chained onto each case's tip (`tip` is asked once per case that has
/// records in the batch), and each such case's new head.
struct SealedBatch {
  std::vector<StoredRecord> records;  // in the batch's order
  std::map<std::string, std::string, std::less<>> heads;
};
[[nodiscard]] SealedBatch seal_batch(const StoreBatch& b, const std::function<ChainTip(const std::string& case_id)>& tip);

/// The secret of each of the batch's cases, by id (the records' sealing keys).
[[nodiscard]] std::map<std::string_view, std::string_view> batch_secrets(const StoreBatch& b);

}  // namespace escalon::detail
