// "Bad input never crashes": thousands of deterministic mutations of real flow files (deleted
// and inserted characters, swapped and repeated lines, truncation) must each end in a
// LoadResult, never an exception or a crash. Run under valgrind or sanitizers it also finds
// memory errors on error paths.

#include <filesystem>
#include <fstream>
#include <random>

#include "escalon/loader.hpp"
#include "support.hpp"

namespace fs = std::filesystem;

namespace {
std::vector<std::string> corpus() {
  std::vector<std::string> out;
  for (const char* dir : {"flows", "tests/flows/valid", "tests/flows/invalid"})
    for (const auto& e : fs::recursive_directory_iterator(fs::path(ESCALON_SOURCE_DIR) / dir))
      if (e.path().extension() == ".yaml") {
        std::ifstream in(e.path());
        out.emplace_back((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
      }
  std::sort(out.begin(), out.end());
  return out;
}

std::string mutate(std::string s, std::mt19937& rng) {
  static const std::string alphabet = " \n:-{}[],'\"#&*!|>%?0123456789abcz_.()=<";
  auto pick = [&](std::size_t n) { return n == 0 ? 0 : std::uniform_int_distribution<std::size_t>(0, n - 1)(rng); };
  const int ops = 1 + static_cast<int>(pick(4));
  for (int i = 0; i < ops && !s.empty(); ++i) {
    switch (pick(5)) {
      case 0: s.erase(pick(s.size()), 1 + pick(8)); break;
      case 1: s.insert(pick(s.size()), 1, alphabet[pick(alphabet.size())]); break;
      case 2: {  // repeat a line somewhere else
        auto a = s.rfind('\n', pick(s.size()));
        auto b = s.find('\n', a == std::string::npos ? 0 : a + 1);
        if (a != std::string::npos && b != std::string::npos) s.insert(pick(s.size()), s.substr(a, b - a));
        break;
      }
      case 3: s.resize(pick(s.size())); break;
      case 4: {  // swap two characters
        auto x = pick(s.size()), y = pick(s.size());
        std::swap(s[x], s[y]);
        break;
      }
    }
  }
  return s;
}
}  // namespace

TEST_CASE("mutated flow files never crash the loader", "[loader][fuzz]") {
  const auto files = corpus();
  REQUIRE(files.size() > 60);
  std::mt19937 rng(20261123);
  std::size_t valid = 0, invalid = 0;
  for (int i = 0; i < 3000; ++i) {
    const auto text = mutate(files[static_cast<std::size_t>(i) % files.size()], rng);
    escalon::LoadResult r;
    REQUIRE_NOTHROW(r = escalon::validate_text(text, "fuzz.yaml", ESCALON_SOURCE_DIR "/flows"));
    // Every file either loads a flow or says why not.
    if (r.ok()) {
      ++valid;
    } else {
      ++invalid;
      CHECK(r.error_count() > 0);
      for (const auto& d : r.diagnostics) CHECK_FALSE(d.message.empty());
    }
  }
  CHECK(invalid > 0);
  CHECK(valid + invalid == 3000);
}
