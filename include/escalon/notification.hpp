#pragma once
/// @file notification.hpp
/// What the engine tells people (escalations, SLA warnings and breaches, a step's `notify`
/// hooks), and the channels that carry it: the host's listeners (Engine::on_notify), mail and
/// webhooks (channels.hpp), or a channel the host writes.
///
/// Delivery is durable (docs/delivery.md): a notification is written to the store's outbox in
/// the same transaction as the change that raised it, one entry per channel, and delivered
/// after the commit, in order per case and channel. A channel that throws is tried again with
/// growing pauses; after EngineOptions::delivery.max_attempts the entry is dead-lettered
/// (Engine::redeliver puts it back). After a crash every entry not yet delivered is delivered
/// again: at least once. Notification::key is the same on every attempt, so a channel or its
/// receiver can drop duplicates.

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "escalon/error.hpp"
#include "escalon/time.hpp"

namespace escalon {

struct Notification {
  TimePoint at{};
  std::string case_id;
  std::string flow;
  std::string step;
  std::vector<std::string> to;   ///< roles or user:NAME
  std::string subject;           ///< the flow's subject template, rendered (empty: none given)
  std::string message;
  std::string reason;            ///< "escalation", "sla-warning", "sla-breached", "on_enter", "on_exit"
  std::int32_t level = 0;
  std::int32_t repeat = 0;
  /// Stable idempotency key: "<case id>/<record seq>", the journal record that raised it
  /// (with "-2", "-3"... when one record raised several). The same on every delivery attempt
  /// and after a restart; unique across the store. Mail channels derive the Message-ID from it.
  std::string key;
};

/// One JSON object on one line ({"key":..,"at":"2026-11-23T08:00:00Z","case":..,...}): what the
/// outbox keeps and a webhook posts.
[[nodiscard]] std::string notification_to_json(const Notification& n);
/// Reads notification_to_json() text back; throws escalon::Error for anything else.
[[nodiscard]] Notification notification_from_json(std::string_view text);

/// A failure that trying again cannot fix (no address known for a role, a request the server
/// refuses as malformed): the entry is dead-lettered at once instead of retried.
class PermanentDeliveryError : public Error {
 public:
  using Error::Error;
};

/// Where notifications go. deliver() returns when the notification is handed over, or throws
/// (any exception; its message goes into the journal's `delivery-failed` record). The engine
/// calls one queue (case and channel) from one thread at a time, with its lock released. The
/// first try is made by the thread whose call raised the notification, before that call
/// returns; retries by run_due() or the runner. So a slow channel delays the call that raised
/// the notification and later ones of its queue, never other threads' calls.
class Channel {
 public:
  virtual ~Channel() = default;
  /// `attempt`: 1 for the first try of this entry (counting tries before a restart).
  virtual void deliver(const Notification& n, std::int32_t attempt) = 0;
};

/// How the engine retries a channel that failed.
struct DeliveryOptions {
  /// Tries per entry, the first included; then the entry is dead-lettered.
  std::int32_t max_attempts = 8;
  /// The pause after the first failure; each further failure doubles it, up to max_retry.
  Duration first_retry = std::chrono::seconds{30};
  Duration max_retry = std::chrono::hours{1};
};

}  // namespace escalon
