#pragma once
// `escalon outbox --db STORE [--retry KEY [--channel NAME]]`: the notifications a store has not
// delivered yet, and dead letters put back for delivery (docs/delivery.md).

#include <cstddef>
#include <string>
#include <string_view>
#include <utility>

#include "escalon/store.hpp"

namespace escalon::cli {

/// One line per outbox entry (waiting, or dead with its error), then a count; "" times in UTC.
[[nodiscard]] std::string list_outbox(Store& store);

/// Puts the dead-lettered entries with `key` (of `channel`; empty: any) back in the outbox,
/// due at once, with their attempts counted from 1 again: the next engine that runs on the
/// store delivers them. Returns what to print and false when no entry matched (nothing
/// written); `db` names the store in the message.
std::pair<std::string, bool> retry_outbox(Store& store, std::string_view db, std::string_view key, std::string_view channel);

/// "N notifications waiting for delivery, M dead letters (escalon outbox --db DB)\n", or ""
/// when the outbox is empty (inspect prints it under the open cases).
[[nodiscard]] std::string outbox_summary(Store& store, std::string_view db);

}  // namespace escalon::cli
