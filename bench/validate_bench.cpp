// Load-and-check time of a large flow (issue "Speed against the peers"): a generated flow of
// N steps in a chain, each a task with two guarded transitions (forward when the amount is
// small, back when it was reopened), a 4-hour deadline with a 2-level escalation ladder, and
// data fields the guards read. Times validate_text (parse YAML, build the model, compile the
// expressions, run the graph checks) over several rounds and prints the best and the median.
//   build/bench/validate_bench [steps=2000] [rounds=7]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <escalon/escalon.hpp>
#include <fmt/format.h>
#include <string>
#include <vector>

namespace {

std::string big_flow(std::size_t steps) {
  std::string y = R"(flow: big
data:
  priority: { type: enum, values: [low, normal, high], default: normal }
  amount: { type: int, default: 10 }
  reopened: { type: bool, default: false }
  visits: { type: int, default: 0 }
start: s0
steps:
)";
  for (std::size_t i = 0; i + 1 < steps; ++i) {
    const std::size_t back = i == 0 ? 0 : i - 1;
    y += fmt::format(R"(  s{0}:
    role: agent
    deadline: {{ within: 4h, escalate: [ {{ at: 50%, notify: lead }}, {{ at: 100%, notify: boss }} ] }}
    on:
      forward: {{ to: s{1}, when: "amount < 1000 && priority != low", set: {{ visits: "visits + 1" }} }}
      back: {{ to: s{2}, when: "reopened || visits > {3}" }}
)",
                     i, i + 1, back, i % 7);
  }
  y += fmt::format("  s{}: {{ end: true }}\n", steps - 1);
  return y;
}

}  // namespace

int main(int argc, char** argv) {
  const std::size_t steps = argc > 1 ? std::strtoull(argv[1], nullptr, 10) : 2000;
  const int rounds = argc > 2 ? std::atoi(argv[2]) : 7;
  if (steps < 2 || rounds < 1) {
    std::fprintf(stderr, "usage: validate_bench [steps >= 2] [rounds >= 1]\n");
    return 2;
  }
  const std::string text = big_flow(steps);
  std::vector<double> times;
  for (int r = 0; r < rounds; ++r) {
    const auto t0 = std::chrono::steady_clock::now();
    const auto result = escalon::validate_text(text, "big.yaml");
    times.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
    if (!result.ok() || result.flows.size() != 1) {
      for (const auto& d : result.diagnostics) std::fprintf(stderr, "%s\n", d.str().c_str());
      return 1;
    }
  }
  std::sort(times.begin(), times.end());
  std::printf("{\"peer\": \"escalon\", \"workload\": \"validate\", \"steps\": %zu, \"transitions\": %zu, \"bytes\": %zu, "
              "\"best_s\": %.4f, \"median_s\": %.4f}\n",
              steps, 2 * (steps - 1), text.size(), times.front(), times[times.size() / 2]);
  return 0;
}
