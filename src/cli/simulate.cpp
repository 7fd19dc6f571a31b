// `escalon simulate`: the simulator over flows and a model, alone or compared with another model,
// on the model's random arrivals or on a real store's (docs/simulation.md).
#include "cli/simulate.hpp"

#include <fmt/format.h>
#include <unistd.h>

#include <charconv>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <tuple>

#include "escalon/escalon.hpp"
#include "cli/db.hpp"

namespace escalon::cli {
namespace {

constexpr int exit_ok = 0;
constexpr int exit_invalid = 1;

// --start, --from and --to into the options; false (with the message printed) for one that is
// no ISO-8601 instant, or --from/--to without --replay.
bool read_times(const SimulateArgs& a, SimOptions& options) {
  for (const auto& [text, into, flag] : {std::tuple{&a.start, &options.start, "--start"}, std::tuple{&a.from, &options.replay_from, "--from"},
                                         std::tuple{&a.to, &options.replay_to, "--to"}}) {
    if (text->empty()) continue;
    *into = parse_iso8601(*text);
    if (!*into) {
      std::cerr << fmt::format("escalon simulate: {} '{}' is not an ISO-8601 instant\n", flag, *text);
      return false;
    }
  }
  if (a.replay.empty() && (!a.from.empty() || !a.to.empty())) {
    std::cerr << "escalon simulate: --from and --to choose the stretch of --replay STORE to replay; give --replay too\n";
    return false;
  }
  return true;
}

// The bar goes to a terminal only, so that logs and CI output stay clean.
std::function<void(double)> progress_bar(std::int64_t days) {
  return [days, shown = -1](double done) mutable {
    const int pct = static_cast<int>(done * 100);
    if (pct == shown) return;
    shown = pct;
    const int filled = pct * 40 / 100;
    std::cerr << fmt::format("\r[{}{}] {:3}% of {}", std::string(static_cast<std::size_t>(filled), '#'),
                             std::string(static_cast<std::size_t>(40 - filled), ' '), pct,
                             days ? fmt::format("{} days", days) : std::string("the replayed days"))
              << std::flush;
  };
}

// Runs the simulation (and the comparison run), prints the report or the comparison, and
// returns the HTML page for --html.
std::string simulate_and_print(const SimulateArgs& a, const std::vector<FlowPtr>& flows, const SimOptions& options) {
  const auto model = SimModel::load(a.model);
  const auto result = simulate(flows, model, options);
  if (options.progress) std::cerr << '\n';
  if (a.compare.empty()) {
    std::cout << result.text() << std::flush;
    return result.html(fmt::format("Escalon simulation: {}", model.name()));
  }
  // The same arrivals (the same seed, or the same replayed cases) under the other model.
  const auto other_model = SimModel::load(a.compare);
  SimOptions second = options;
  second.store = nullptr;
  second.progress = nullptr;
  const auto other = simulate(flows, other_model, second);
  // Columns named by the models, or by their files when the names agree (a copy with one change).
  std::string first_name = model.name(), second_name = other_model.name();
  if (first_name == second_name) {
    first_name = std::filesystem::path(a.model).filename().string();
    second_name = std::filesystem::path(a.compare).filename().string();
  }
  std::cout << compare_text(result, first_name, other, second_name) << std::flush;
  return compare_html(result, first_name, other, second_name, fmt::format("Escalon: {} and {} compared", first_name, second_name));
}

}  // namespace

void SimulateArgs::add(CLI::App& app) {
    cmd = app.add_subcommand("simulate", "Run flows under a workload model on a virtual clock (docs/simulation.md); prints the KPI report");
    cmd->add_option("flows", paths, "Flow files or folders")->required();
    cmd->add_option("-m,--model", model, "The model file (arrivals, staff, step times, event probabilities)")->required()->check(CLI::ExistingFile);
    cmd->add_option("-d,--days", days, "How many days to simulate (with --replay: default the replayed stretch)")->check(CLI::Range(1, 3660));
    // CLI11 reads "-1" into a uint64 as 18446744073709551615 and saturates one too big to it:
    // check the text before it converts.
    const CLI::Validator whole_number(
        [](std::string& s) {
          std::uint64_t v = 0;
          const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
          if (!s.empty() && s[0] != '-' && ec == std::errc() && end == s.data() + s.size()) return std::string();
          return fmt::format("the seed is a whole number from 0 to 18446744073709551615, not {}", s);
        },
        "UINT64");
    cmd->add_option("--seed", seed, "Random seed: the same seed gives the same run")->check(whole_number);
    cmd->add_option("--start", start, "When the simulation starts (ISO-8601; default: the model's start, or the replayed stretch's)");
    cmd->add_option("--db", db, "Write the cases and journal into this SQLite file (or postgresql://... store), which must be new or empty");
    cmd->add_option("--html", html, "Also write a self-contained HTML page with charts");
    cmd->add_option("--replay", replay, "Take the arrivals (times, channels, start data) from the cases of this store instead of the model");
    cmd->add_option("--from", from, "With --replay: replay cases started from this instant (ISO-8601)");
    cmd->add_option("--to", to, "With --replay: replay cases started before this instant (ISO-8601)");
    cmd->add_option("--compare", compare, "Run again under this model with the same arrivals and print both side by side")->check(CLI::ExistingFile);
}

int SimulateArgs::run() const {
  SimOptions options{.days = days, .seed = seed};
  if (!read_times(*this, options)) return exit_invalid;
  if (!replay.empty() && cmd->get_option("--days")->count() == 0) options.days = 0;  // as long as the replayed stretch
  const bool tty = ::isatty(STDERR_FILENO) != 0;
  if (tty) options.progress = progress_bar(options.days);
  std::unique_ptr<Store> store, replayed;
  try {
    const auto flows = load_flows(std::span<const std::string>(paths));
    // A simulated month is not precious: sync=normal keeps the file consistent after a crash
    // and is several times faster than an fsync per call.
    if (!db.empty()) store = open_db(db.find(':') == std::string::npos ? "sqlite:" + db + "?sync=normal" : db);
    options.store = store.get();
    if (!replay.empty()) replayed = open_db_to_read(replay);
    options.replay = replayed.get();
    const std::string page = simulate_and_print(*this, flows, options);
    if (!html.empty()) {
      std::ofstream out(html, std::ios::binary);
      out << page;
      if (!out) {
        std::cerr << fmt::format("escalon simulate: cannot write {}\n", html);
        return exit_invalid;
      }
      std::cerr << fmt::format("wrote {}\n", html);
    }
    if (!db.empty()) std::cerr << fmt::format("cases and journal in {} (escalon report --db {}; escalon inspect --db {})\n", db, db, db);
  } catch (const FlowError& e) {
    if (tty) std::cerr << '\n';
    for (const auto& d : e.diagnostics()) std::cerr << d.str() << '\n';
    return exit_invalid;
  } catch (const Error& e) {
    if (tty) std::cerr << '\n';
    std::cerr << "escalon simulate: " << e.what() << '\n';
    return exit_invalid;
  }
  return exit_ok;
}

}  // namespace escalon::cli
