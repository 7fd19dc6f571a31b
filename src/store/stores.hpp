#pragma once
// The store kinds behind open_store (open_store.cpp), each in its own file: only that file sees
// its database library's headers.

#include <memory>
#include <string>
#include <string_view>

#include "escalon/store.hpp"

namespace escalon {

/// `sync`: "full" or "normal"; `read_only`: the `?mode=ro` reader (docs/store.md).
[[nodiscard]] std::unique_ptr<Store> open_sqlite_store(const std::string& path, const std::string& sync, bool read_only);

/// `location`: "postgresql://...", "postgres://..." or "postgresql:" (libpq's PG* environment),
/// with Escalon's options (sync=, schema=) among the URI's query parameters.
[[nodiscard]] std::unique_ptr<Store> open_postgres_store(std::string_view location);

}  // namespace escalon
