// A store into another, in one unit (store_copy.hpp). The whole store is held in memory while
// it is copied: one commit is what makes the copy all-or-nothing through the Store interface.

#include "cli/store_copy.hpp"

#include <fmt/format.h>

#include <vector>

#include "store/seal.hpp"

namespace escalon::cli {
namespace {

// A store is empty when it has nothing an engine would find on recovery or a report would read.
void require_empty(Store& to, std::string_view name) {
  std::size_t cases = 0;
  to.for_each_case(std::nullopt, [&](const StoredCase&) { ++cases; });
  std::size_t keys = 0;
  to.for_each_start_key([&](const StartKey&) { ++keys; });
  const auto records = to.last_seq();
  const auto flows = to.flows().size();
  const auto meta = to.meta().size();
  if (cases || keys || records || flows || meta)
    throw StoreError(fmt::format("{} is not empty ({} cases, {} records, {} flow versions, {} counters, {} start keys); copy into a "
                                 "new store (nothing was changed)",
                                 name, cases, records, flows, meta, keys));
}

}  // namespace

CopyCounts copy_store(Store& from, Store& to, std::string_view to_name) {
  require_empty(to, to_name);
  const auto flows = from.flows();
  std::vector<StoredCase> cases;
  from.for_each_case(std::nullopt, [&](const StoredCase& c) {
    cases.push_back(c);
    cases.back().expected = 0;  // new to the target, with the revision it has
    // A case stored before personal values were sealed (an older store) gets its key now: the
    // copy seals its records' personal values instead of dropping them.
    if (c.secret.empty() && !detail::state_erased(c.state)) cases.back().secret = detail::new_case_secret();
  });
  std::vector<Record> records;
  from.for_each_record([&](const Record& r) { records.push_back(r); });
  std::vector<StartKey> keys;
  from.for_each_start_key([&](const StartKey& k) { keys.push_back(k); });
  std::vector<OutboxEntry> outbox;
  from.for_each_outbox([&](const OutboxEntry& e) { outbox.push_back(e); });
  const auto meta = from.meta();
  to.commit({.records = records, .cases = cases, .meta = meta, .flows = flows, .start_keys = keys, .outbox = outbox});
  if (to.last_seq() != from.last_seq() || to.flows().size() != flows.size())
    throw StoreError(fmt::format("{}: the copy reads back differently (last record {} of {}); do not use it", to_name, to.last_seq(),
                                 from.last_seq()));
  return {.flows = flows.size(), .cases = cases.size(), .records = records.size(), .start_keys = keys.size(), .meta = meta.size(),
          .outbox = outbox.size()};
}

}  // namespace escalon::cli
