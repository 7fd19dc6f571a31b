#pragma once
// The simulator's random numbers: a seed gives the same run with any standard library.

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <numbers>
#include <random>

#include "sim/model.hpp"

namespace escalon::detail {

// std::mt19937_64 is specified exactly by the standard; the transforms below are ours, so a
// seed gives the same run with any standard library.
class Rng {
 public:
  explicit Rng(std::uint64_t seed) : g_(seed) {}
  // A generator of its own for stream `k` of a run: splitmix64 of the seed and the stream, so
  // that streams do not overlap and one stream's draws do not move another's.
  static Rng stream(std::uint64_t seed, std::uint64_t k) {
    std::uint64_t z = seed + 0x9E3779B97F4A7C15ULL * (k + 1);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return Rng(z ^ (z >> 31));
  }
  double uniform() { return static_cast<double>(g_() >> 11) * 0x1.0p-53; }            // [0, 1)
  double open() { return (static_cast<double>(g_() >> 11) + 0.5) * 0x1.0p-53; }       // (0, 1)
  double exponential(double mean) { return -mean * std::log(open()); }
  double normal() { return std::sqrt(-2.0 * std::log(open())) * std::cos(2.0 * std::numbers::pi * uniform()); }

 private:
  std::mt19937_64 g_;
};

inline Duration draw(const Dist& d, Rng& rng) {
  // Whole seconds: journals and reports read like a desk's, and nothing here is finer.
  const auto ms = [](double x) { return Duration{1000 * static_cast<std::int64_t>(std::llround(std::max(0.0, x) / 1000.0))}; };
  const double mean = static_cast<double>(d.mean.count());
  switch (d.kind) {
    case Dist::Kind::fixed: return d.mean;
    case Dist::Kind::exponential: return ms(rng.exponential(mean));
    case Dist::Kind::lognormal: {
      // Parameters of the underlying normal from the mean and sd of the duration itself.
      const double sd = static_cast<double>(d.sd.count());
      const double s2 = std::log1p((sd * sd) / (mean * mean));
      return ms(std::exp(std::log(mean) - s2 / 2 + std::sqrt(s2) * rng.normal()));
    }
    case Dist::Kind::uniform: return ms(mean + rng.uniform() * static_cast<double>((d.sd - d.mean).count()));
  }
  return d.mean;
}

}  // namespace escalon::detail
