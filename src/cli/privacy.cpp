// `escalon erase`, `purge` and `verify`. See privacy.hpp. Erase and purge go through an Engine
// on the store (what an erasure changes is the engine's to say), on closed cases only: they do
// not recover the store's open cases, so nothing else in it moves (no timer fires).

#include "cli/privacy.hpp"

#include <fmt/format.h>

#include <iostream>

#include "cli/db.hpp"
#include "escalon/engine.hpp"
#include "escalon/error.hpp"
#include "escalon/store.hpp"

namespace escalon::cli {

void PrivacyArgs::add(CLI::App& app) {
  erase = app.add_subcommand("erase",
                             "Erase the personal data (pii: fields) of a closed case for good: its key is deleted, the "
                             "journal keeps its records without the values (docs/security.md)");
  erase->add_option("--db", db, db_help)->required();
  erase->add_option("case", case_id, "The case id")->required();
  erase->add_option("--reason", reason, "Why (the erased record keeps it), e.g. 'customer request 2026-11-30'")->required();
  erase->add_option("--actor", actor, "Who erases (the erased record names them)");

  purge = app.add_subcommand("purge",
                             "Erase the personal data of every closed case past its retention (its flow's `retention:`, "
                             "else --older-than)");
  purge->add_option("--db", db, db_help)->required();
  purge->add_option("--older-than", older_than, "Retention for flows that set none, e.g. '90 days'");

  verify = app.add_subcommand("verify", "Check every case's hash chain: report records changed, removed or inserted");
  verify->add_option("--db", db, db_help)->required();
}

namespace {

int run_verify(const std::string& db) {
  const auto report = verify_journal(*open_db_to_read(db));
  std::cout << fmt::format("{} case{}, {} record{} checked", report.cases, report.cases == 1 ? "" : "s", report.records,
                           report.records == 1 ? "" : "s");
  if (report.unchained) std::cout << fmt::format(" ({} written before the store kept a chain, not covered)", report.unchained);
  std::cout << '\n';
  for (const auto& p : report.problems) std::cout << "  BROKEN " << p << '\n';
  std::cout << fmt::format("{}; digest {}\n", report.ok() ? "every chain holds" : "the journal was changed", report.digest);
  return report.ok() ? 0 : 1;
}

}  // namespace

int PrivacyArgs::run() const {
  const char* name = *erase ? "erase" : *purge ? "purge" : "verify";
  try {
    if (*verify) return run_verify(db);
    EngineOptions options{.store = open_db(db)};
    if (*purge && !older_than.empty()) {
      try {
        options.retention = parse_duration(older_than);
      } catch (const Error& e) {
        std::cerr << fmt::format("escalon purge: --older-than '{}': {}\n", older_than, e.what());
        return 1;
      }
    }
    Engine engine(std::move(options));
    if (*erase) {
      engine.erase(case_id, reason, EventOptions{.actor = actor, .channel = "cli"});
      std::cout << fmt::format("erased the personal data of case '{}'\n", case_id);
      return 0;
    }
    const auto ids = engine.apply_retention();
    for (const auto& id : ids) std::cout << "erased " << id << '\n';
    std::cout << fmt::format("{} case{} past retention erased\n", ids.size(), ids.size() == 1 ? "" : "s");
    return 0;
  } catch (const std::exception& e) {
    std::cerr << fmt::format("escalon {}: {}\n", name, e.what());
    return 1;
  }
}

}  // namespace escalon::cli
