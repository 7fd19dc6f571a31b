#pragma once
// Reading cases: views, queries, and cases read back from the store (views.cpp).

#include <optional>
#include <string_view>

#include "runtime/core.hpp"

namespace escalon::detail {

CaseView view_of(const Case& c, TimePoint now, std::string_view parent_id = {});
// The query's priority rank of the case, or nothing when the query does not select it.
std::optional<int> query_rank(const Query& q, const Case& c, TimePoint now);
std::vector<CaseView> run_query(Core& m, const Query& q, TimePoint now);
// A stored case rebuilt (its flow version is loaded from the store if need be), with the
// sequence number and revision the store holds for it.
LoadedCase load_stored(Core& m, const StoredCase& sc);
// The in-memory journal (an engine without a store): one case's records, or every record with
// the refused calls for unknown cases merged in by number.
void for_each_memory_record(const Core& m, std::string_view case_id, const std::function<void(const Record&)>& visit);

}  // namespace escalon::detail
