// Idempotency keys (EventOptions::key). A host that retried a call after a timeout, a scenario
// replayed after a crash, or a second engine process delivering the same message must not apply
// it twice. The case itself remembers which keys it took and what came of them, in its stored
// state: the answer survives restarts and outlives the case's closing.

#include "base/hash.hpp"
#include "runtime/core.hpp"

namespace escalon::detail {
namespace {

constexpr std::size_t max_key_bytes = 200;

std::optional<std::string> oversize(std::string_view key) {
  if (key.size() <= max_key_bytes) return std::nullopt;
  return fmt::format("idempotency key is {} bytes; at most {} are allowed", key.size(), max_key_bytes);
}

}  // namespace

// A collision could only make a misused key look like a repeat, never apply a call twice.
std::uint64_t call_fingerprint(std::string_view call, const Map* args, std::string_view extra) {
  StableHash f;
  f.text(call);
  if (args) f.map(*args);
  f.text(extra);
  return f.h;
}

bool Op::replayed_key(Case& c, std::string_view call, const EventOptions& o, std::uint64_t fingerprint, TimePoint at) {
  if (auto why = oversize(o.key)) reject(&c, c.id, call, o, at, Refusal::bad_request, std::move(*why));
  if (const auto* keys = c.keys())
    for (auto it = keys->rbegin(); it != keys->rend(); ++it) {
      if (it->key != o.key) continue;
      if (it->fingerprint != fingerprint)
        reject(&c, c.id, call, o, at, Refusal::key_reused,
               fmt::format("idempotency key '{}' was used on case '{}' for another call or payload; a retry must "
                           "repeat the call exactly, a new call needs a new key",
                           o.key, c.id));
      if (it->refusal) throw_refusal(*it->refusal, it->message, it->reason);
      return true;
    }
  keyed = {&c, &o.key, fingerprint};
  return false;
}

void Op::remember_key(std::optional<Refusal> refusal, std::string message, std::string reason) {
  if (!keyed.c) return;
  Case& c = *keyed.c;
  auto& keys = c.more().keys;
  keys.push_back({*keyed.key, keyed.fingerprint, refusal, std::move(message), std::move(reason)});
  // Forget the oldest in batches: erasing one at a time from a full list costs a copy of it per
  // call.
  const std::size_t limit = std::max<std::size_t>(m.options.max_keys_per_case, 1);
  if (keys.size() > limit + limit / 8) keys.erase(keys.begin(), keys.end() - static_cast<std::ptrdiff_t>(limit));
  touch(c);
  keyed = {};
}

std::optional<std::string> Op::started_with(const std::string& key, std::uint64_t fingerprint) {
  if (auto why = oversize(key)) throw EventError(Refusal::bad_request, std::move(*why));
  std::optional<StartKey> first;
  if (auto it = m.start_keys.find(key); it != m.start_keys.end()) first = it->second;
  else if (m.store()) first = m.store()->find_start_key(key);
  if (!first) return std::nullopt;
  if (first->fingerprint != fmt::format("{:016x}", fingerprint))
    throw EventError(Refusal::key_reused,
                     fmt::format("idempotency key '{}' started case '{}' with another flow, id or data; a retry must "
                                 "repeat the call exactly, a new call needs a new key",
                                 key, first->case_id));
  return first->case_id;
}

void Op::keep_start_key(const std::string& key, const std::string& case_id, std::uint64_t fingerprint) {
  StartKey k{key, case_id, fmt::format("{:016x}", fingerprint)};
  u.start_keys.push_back(k);
  // On a shared store the unit may fail to commit (another engine took the key first) and run
  // again: only a committed key counts, so it is looked up in the store alone.
  if (!m.shared()) m.start_keys.emplace(key, std::move(k));
}

}  // namespace escalon::detail
