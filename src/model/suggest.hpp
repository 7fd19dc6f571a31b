#pragma once
// "Did you mean ...?" for unknown keys and names: the closest candidate by edit distance,
// offered only when it is close enough to be a plausible typo.

#include <algorithm>
#include <string>
#include <string_view>
#include <vector>

namespace escalon::detail {

inline std::size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<std::size_t> row(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t diag = row[0];
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t up = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diag + (a[i - 1] == b[j - 1] ? 0u : 1u)});
      diag = up;
    }
  }
  return row[b.size()];
}

/// The closest candidate, or "" when none is within a third of the word's length (at least 1, at most 3).
template <class Range>
std::string closest(std::string_view word, const Range& candidates) {
  const std::size_t limit = std::clamp<std::size_t>(word.size() / 3, 1, 3);
  std::string best;
  std::size_t best_d = limit + 1;
  for (const auto& c : candidates) {
    const std::string_view cv(c);
    const std::size_t d = edit_distance(word, cv);
    if (d < best_d) { best_d = d; best = std::string(cv); }
  }
  return best;
}

/// "; did you mean 'x'?" or "".
template <class Range>
std::string did_you_mean(std::string_view word, const Range& candidates) {
  auto c = closest(word, candidates);
  return c.empty() ? std::string() : "; did you mean '" + c + "'?";
}

}  // namespace escalon::detail
