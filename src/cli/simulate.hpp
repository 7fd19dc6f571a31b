#pragma once
// `escalon simulate FLOWS --model M [--days N] [--seed S] [--start T] [--db STORE] [--html F]
// [--replay STORE [--from T] [--to T]] [--compare OTHER-MODEL]` (docs/simulation.md).

#include <CLI/CLI.hpp>
#include <cstdint>
#include <string>
#include <vector>

namespace escalon::cli {

struct SimulateArgs {
  std::vector<std::string> paths;
  std::string model, db, html, start, replay, from, to, compare;
  std::int64_t days = 30;
  std::uint64_t seed = 1;
  CLI::App* cmd = nullptr;

  void add(CLI::App& app);
  /// Exit status: 0, or 1 for flows, a model or a store that do not fit (the message says why).
  [[nodiscard]] int run() const;
};

}  // namespace escalon::cli
