// open_store: a store by location. Each kind lives in its own file (store/stores.hpp).

#include <fmt/format.h>

#include "escalon/store.hpp"
#include "store/stores.hpp"

namespace escalon {
namespace {

std::unique_ptr<Store> open_sqlite_location(std::string rest) {
  std::string sync = "full";
  bool read_only = false;
  if (auto q = rest.find('?'); q != std::string::npos) {
    std::string_view opts = std::string_view(rest).substr(q + 1);
    while (!opts.empty()) {
      const auto amp = opts.find('&');
      const std::string_view opt = opts.substr(0, amp);
      if (opt == "sync=full" || opt == "sync=normal")
        sync = std::string(opt.substr(5));
      else if (opt == "mode=ro")
        read_only = true;
      else if (opt != "mode=rw")
        throw StoreError(fmt::format("unknown store option '{}'; use sync=full, sync=normal or mode=ro", opt));
      opts = amp == std::string_view::npos ? std::string_view() : opts.substr(amp + 1);
    }
    rest.resize(q);
  }
  if (rest.empty()) throw StoreError("a SQLite store needs a path: sqlite:cases.db");
  return open_sqlite_store(rest, sync, read_only);
}

}  // namespace

std::unique_ptr<Store> open_store(std::string_view location) {
  if (location == "memory:" || location == "memory") return std::make_unique<MemoryStore>();
  if (location.starts_with("sqlite:")) return open_sqlite_location(std::string(location.substr(7)));
  if (location.starts_with("postgresql:") || location.starts_with("postgres:")) return open_postgres_store(location);
  throw StoreError(fmt::format("unknown store '{}'; use memory:, sqlite:PATH or postgresql://[user@]host[:port]/database", location));
}

}  // namespace escalon
