#pragma once
// "Did you mean ...?" for unknown keys and names: the closest candidate by edit distance,
// offered only when it is close enough to be a plausible typo.

#include <algorithm>
#include <iterator>
#include <string>
#include <string_view>
#include <vector>

namespace escalon::detail {

// Optimal string alignment distance: Levenshtein plus adjacent transpositions ("hgih" -> "high" is 1).
inline std::size_t edit_distance(std::string_view a, std::string_view b) {
  const std::size_t n = a.size(), m = b.size();
  std::vector<std::size_t> d((n + 1) * (m + 1));
  auto at = [&](std::size_t i, std::size_t j) -> std::size_t& { return d[i * (m + 1) + j]; };
  for (std::size_t i = 0; i <= n; ++i) at(i, 0) = i;
  for (std::size_t j = 0; j <= m; ++j) at(0, j) = j;
  for (std::size_t i = 1; i <= n; ++i)
    for (std::size_t j = 1; j <= m; ++j) {
      const std::size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
      at(i, j) = std::min({at(i - 1, j) + 1, at(i, j - 1) + 1, at(i - 1, j - 1) + cost});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1]) at(i, j) = std::min(at(i, j), at(i - 2, j - 2) + 1);
    }
  return at(n, m);
}

/// Suggestions are for people's typos in flows of people's size. Past this many candidates none
/// is offered: 10,000 unknown names against 10,000 steps took 47 s (issue "Hardening").
inline constexpr std::size_t max_suggestion_candidates = 2000;

/// The closest candidate, or "" when none is within a third of the word's length (at least 1, at most 3).
template <class Range>
std::string closest(std::string_view word, const Range& candidates) {
  const std::size_t limit = std::clamp<std::size_t>(word.size() / 3, 1, 3);
  if (word.size() > 256 || static_cast<std::size_t>(std::distance(std::begin(candidates), std::end(candidates))) >
                               max_suggestion_candidates)
    return {};
  std::string best;
  std::size_t best_d = limit + 1;
  for (const auto& c : candidates) {
    const std::string_view cv(c);
    // The distance is at least the difference in length: most candidates need no table.
    if ((cv.size() > word.size() ? cv.size() - word.size() : word.size() - cv.size()) >= best_d) continue;
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
