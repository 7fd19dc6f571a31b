#pragma once
// `escalon outbox --db STORE [--retry KEY [--channel NAME]]`: the notifications a store has not
// delivered yet, and dead letters put back for delivery (docs/delivery.md).

#include <cstddef>
#include <string>
#include <string_view>

#include "escalon/store.hpp"

namespace escalon::cli {

/// One line per outbox entry (waiting, or dead with its error), then a count; "" times in UTC.
[[nodiscard]] std::string list_outbox(Store& store);

/// Puts the dead-lettered entries with `key` (of `channel`; empty: any) back in the outbox,
/// due at once, with their attempts counted from 1 again: the next engine that runs on the
/// store delivers them. Returns how many came back; 0 writes nothing.
std::size_t retry_outbox(Store& store, std::string_view key, std::string_view channel);

}  // namespace escalon::cli
