#pragma once
// How the subcommands open the store that --db names: a SQLite file's path (cases.db), or a
// store location (sqlite:PATH, postgresql://..., memory:).

#include <memory>
#include <string>

#include "escalon/store.hpp"

namespace escalon::cli {

/// The help text of every subcommand's --db option (what open_db and open_db_to_read take).
inline constexpr const char* db_help =
    "The store: a SQLite file (cases.db or sqlite:cases.db) or postgresql://[user@]host[:port]/database";

/// Opens `location` (open_store), refusing first what would hang or mislead SQLite: a FIFO,
/// device or socket, a symlink loop. Throws StoreError.
[[nodiscard]] std::unique_ptr<Store> open_store_file(const std::string& location);

/// The store to write: a path without ':' is a SQLite file.
[[nodiscard]] std::unique_ptr<Store> open_db(const std::string& db);

/// The store to read only (inspect, report, outbox without --retry): a SQLite file opens with
/// mode=ro, unless the location says mode=rw.
[[nodiscard]] std::unique_ptr<Store> open_db_to_read(const std::string& db);

}  // namespace escalon::cli
