// The outbox of a store, read and put back by hand (outbox.hpp).

#include "cli/outbox.hpp"

#include <fmt/format.h>

#include <vector>

namespace escalon::cli {

std::string list_outbox(Store& store) {
  std::string out;
  std::size_t waiting = 0, dead = 0;
  store.for_each_outbox([&](const OutboxEntry& e) {
    std::string state;
    if (e.dead) {
      ++dead;
      state = fmt::format("DEAD after {} attempt{}", e.attempts, e.attempts == 1 ? "" : "s");
    } else {
      ++waiting;
      state = e.attempts == 0 ? std::string("waiting")
                              : fmt::format("{} attempt{} failed, next {}", e.attempts, e.attempts == 1 ? "" : "s",
                                            format_iso8601(e.next_attempt));
    }
    out += fmt::format("  {:<28} {:<10} {}{}\n", e.key, e.channel, state, e.error.empty() ? "" : ": " + e.error);
  });
  out += fmt::format("{} waiting, {} dead{}\n", waiting, dead,
                     dead ? " (escalon outbox --db ... --retry KEY puts a dead letter back)" : "");
  return out;
}

std::pair<std::string, bool> retry_outbox(Store& store, std::string_view db, std::string_view key, std::string_view channel) {
  std::vector<OutboxEntry> back;
  store.for_each_outbox([&](const OutboxEntry& e) {
    if (e.dead && e.key == key && (channel.empty() || e.channel == channel)) back.push_back(e);
  });
  for (auto& e : back) {
    e.dead = false;
    e.attempts = 0;
    e.next_attempt = TimePoint{};  // due whenever an engine next looks
  }
  if (back.empty())
    return {fmt::format("escalon outbox: no dead letter with key '{}'{} in {} (escalon outbox --db {} lists them)\n", key,
                        channel.empty() ? "" : fmt::format(" for channel '{}'", channel), db, db),
            false};
  store.commit({.outbox = back});
  return {fmt::format("{} entr{} put back for delivery\n", back.size(), back.size() == 1 ? "y" : "ies"), true};
}

std::string outbox_summary(Store& store, std::string_view db) {
  std::size_t waiting = 0, dead = 0;
  store.for_each_outbox([&](const OutboxEntry& e) { ++(e.dead ? dead : waiting); });
  if (waiting + dead == 0) return {};
  return fmt::format("{} notification{} waiting for delivery, {} dead letter{} (escalon outbox --db {})\n", waiting,
                     waiting == 1 ? "" : "s", dead, dead == 1 ? "" : "s", db);
}

}  // namespace escalon::cli
