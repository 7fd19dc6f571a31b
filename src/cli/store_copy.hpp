#pragma once
// `escalon store copy FROM TO`: a whole store into an empty one (SQLite <-> PostgreSQL).

#include <cstddef>

#include "escalon/store.hpp"

namespace escalon::cli {

struct CopyCounts {
  std::size_t flows = 0, cases = 0, records = 0, start_keys = 0, meta = 0, outbox = 0;
};

/// Copies every flow version, case (in start order, with its revision), record, meta counter,
/// start key and outbox entry of `from` into `to` in one unit, so `to` has all or nothing of it. Throws
/// StoreError when `to` is not empty (nothing written) or when the copy read back from `to`
/// differs in size from `from`.
CopyCounts copy_store(Store& from, Store& to, std::string_view to_name);

}  // namespace escalon::cli
