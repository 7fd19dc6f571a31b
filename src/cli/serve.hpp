#pragma once
// `escalon serve --db STORE --flows PATH... [--notify smtp://...] [--webhook URL]...`: runs a
// store without a host. Timers fire on the system clock, the outbox is delivered through the
// mail and webhook channels, until SIGTERM or SIGINT (docs/delivery.md, "Operating a store").

#include <CLI/CLI.hpp>
#include <cstdint>
#include <string>
#include <vector>

#include "escalon/channels.hpp"

namespace escalon::cli {

struct ServeArgs {
  std::string db, from, directory_path;
  std::vector<std::string> flows, mail_urls, webhook_urls;
  std::int32_t max_attempts = DeliveryOptions{}.max_attempts;
  double first_retry = 30;  ///< seconds
  Directory directory;      ///< read from directory_path while the arguments are checked
  CLI::App* cmd = nullptr;

  void add(CLI::App& app);
  /// Exit status: 0 after a clean stop, 1 for bad flows or a store that fails.
  [[nodiscard]] int run() const;

 private:
  void check();  // throws CLI::ValidationError with exit status 2
};

}  // namespace escalon::cli
