#pragma once
// Helpers the benchmark programs share.

#include <malloc.h>

#include <cstdio>
#include <cstdlib>
#include <escalon/escalon.hpp>
#include <string_view>
#include <vector>

namespace bench {

// The flows of a benchmark's own YAML text; a text that does not load ends the program with its
// diagnostics (a benchmark of a broken flow would measure nothing).
inline std::vector<escalon::FlowPtr> flows_or_exit(std::string_view yaml, std::string_view name) {
  auto r = escalon::validate_text(yaml, name);
  if (!r.ok()) {
    for (const auto& d : r.diagnostics) std::fprintf(stderr, "%s\n", d.str().c_str());
    std::exit(1);
  }
  return r.flows;
}

// Bytes the heap has handed out and not taken back (glibc): unlike RSS, exact and not blurred
// by freed memory the allocator keeps.
inline double heap_bytes() {
  const struct mallinfo2 m = mallinfo2();
  return static_cast<double>(m.uordblks + m.hblkhd);
}

}  // namespace bench
