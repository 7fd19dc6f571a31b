#pragma once
// Personal data and the journal's integrity, from the command line (docs/security.md):
//   escalon erase --db STORE CASE --reason TEXT [--actor NAME]   crypto-shreds a closed case
//   escalon purge --db STORE [--older-than DURATION]             erases what retention allows
//   escalon verify --db STORE                                    checks every case's hash chain

#include <CLI/CLI.hpp>
#include <string>

namespace escalon::cli {

struct PrivacyArgs {
  std::string db, case_id, reason, actor = "escalon-cli", older_than;
  CLI::App* erase = nullptr;
  CLI::App* purge = nullptr;
  CLI::App* verify = nullptr;

  void add(CLI::App& app);
  /// Whether one of these subcommands was given.
  [[nodiscard]] bool chosen() const { return *erase || *purge || *verify; }
  /// Exit status: 0 done (verify: every chain holds), 1 refused, a store error, or a broken chain.
  [[nodiscard]] int run() const;
};

}  // namespace escalon::cli
