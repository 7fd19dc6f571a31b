// Moved out of main.cpp so that `serve` (serve.cpp) opens --db by the same rules as the other
// subcommands.

#include "cli/db.hpp"

#include <fmt/format.h>

#include <cerrno>
#include <filesystem>
#include <system_error>

namespace fs = std::filesystem;

namespace escalon::cli {

// SQLite opens whatever the path names: a FIFO blocked the command forever (open() waits for a
// writer). Folders are left to SQLite, which says the path is not an SQLite file.
std::unique_ptr<Store> open_store_file(const std::string& location) {
  if (location.rfind("sqlite:", 0) == 0) {
    const std::string path =
        location.substr(7, location.find('?') == std::string::npos ? std::string::npos : location.find('?') - 7);
    std::error_code ec;
    const auto st = fs::status(path, ec);
    if (ec && ec.value() == ELOOP)
      throw StoreError(
          fmt::format("{}: too many levels of symbolic links (a symlink loop?); give the path of a SQLite file", path));
    if (!ec && fs::exists(st) && !fs::is_regular_file(st) && !fs::is_directory(st))
      throw StoreError(fmt::format(
          "{} is not a regular file (a FIFO, device or socket); a store is a SQLite file: give another path", path));
  }
  return open_store(location);
}

// --db takes a store location (sqlite:PATH, postgresql://..., memory:) or, more often, just a
// SQLite file's path. PostgreSQL has no file to lock: readers just open it.
std::unique_ptr<Store> open_db(const std::string& db) {
  return open_store_file(db.find(':') == std::string::npos ? "sqlite:" + db : db);
}

// inspect and report only read: they open the store read-only, so they work beside the engine
// that writes it (one consistent snapshot, taken at open).
std::unique_ptr<Store> open_db_to_read(const std::string& db) {
  std::string location = db.find(':') == std::string::npos ? "sqlite:" + db : db;
  // `?mode=rw` says otherwise (reading a store of an older schema upgrades it, which writes).
  if (location.rfind("sqlite:", 0) == 0 && location.find("mode=rw") == std::string::npos)
    location += location.find('?') == std::string::npos ? "?mode=ro" : "&mode=ro";
  return open_store_file(location);
}

}  // namespace escalon::cli
