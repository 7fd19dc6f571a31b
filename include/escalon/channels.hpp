#pragma once
/// @file channels.hpp
/// Built-in notification channels: mail over SMTP and webhooks over HTTP(S), both through
/// libcurl. Register them with Engine::add_channel; the engine's outbox retries them.
///
/// @code
///   auto people = escalon::Directory::from_yaml("directory.yaml");   // roles -> addresses
///   engine.add_channel("mail", escalon::mail_channel({.url = "smtp://mail.local:25",
///                                                     .from = "escalon@example.hr",
///                                                     .directory = people}));
///   engine.add_channel("hook", escalon::webhook_channel({.url = "https://crm.local/escalon"}));
/// @endcode

#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "escalon/notification.hpp"

namespace escalon {

/// Who receives mail for a role or a person (`user:NAME`). Flows name roles; addresses live
/// with the host (or a YAML file it supplies), never in the flow.
///
/// YAML form:
/// @code
///   roles:
///     dispatch-lead: [ana@example.hr, ivo@example.hr]
///   users:
///     ana: ana@example.hr
/// @endcode
struct Directory {
  std::map<std::string, std::vector<std::string>, std::less<>> roles;
  std::map<std::string, std::string, std::less<>> users;

  /// Reads the YAML form; throws Error located at file:line:column of anything malformed
  /// (an address without '@', a role that is not a list...).
  [[nodiscard]] static Directory from_yaml(const std::string& path);
  /// The addresses for `to` (roles and user:NAME), each once, in order. An entry that is
  /// already an address (has '@') is taken as it is. Names with no address are left out.
  [[nodiscard]] std::vector<std::string> resolve(const std::vector<std::string>& to) const;
};

struct MailOptions {
  std::string url;        ///< smtp://host[:port] or smtps://host[:port]
  std::string from;       ///< the sender address
  Directory directory;
  std::string username;   ///< SMTP AUTH, when the server wants it
  std::string password;
  bool require_tls = false;  ///< smtp://: STARTTLS required (else used when offered); set it with a password
  std::chrono::milliseconds timeout{10'000};
};

/// The mail a notification becomes (RFC 5322, CRLF line ends): Date from n.at, Subject from
/// n.subject (else "[Escalon] <case>: <reason> at <step>"), encoded as RFC 2047 when not ASCII,
/// Message-ID from n.key, a UTF-8 text body. Exposed for tests and spool folders.
[[nodiscard]] std::string render_mail(const Notification& n, std::string_view from,
                                      const std::vector<std::string>& recipients);

/// A channel that mails each notification to the addresses of its `to`. No address for any
/// recipient is a PermanentDeliveryError (dead-lettered at once); a server that is down or
/// answers 4xx is an ordinary failure (retried).
[[nodiscard]] std::shared_ptr<Channel> mail_channel(MailOptions options);

struct WebhookOptions {
  std::string url;        ///< http:// or https://
  std::vector<std::pair<std::string, std::string>> headers;  ///< added to every request
  std::chrono::milliseconds timeout{10'000};
};

/// A channel that POSTs notification_to_json(n) with Content-Type application/json and the
/// header `Idempotency-Key: <n.key>`. 2xx is delivered; 408, 429 and 5xx are retried; other
/// answers are a PermanentDeliveryError.
[[nodiscard]] std::shared_ptr<Channel> webhook_channel(WebhookOptions options);

}  // namespace escalon
