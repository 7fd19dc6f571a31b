// escalon verify: each case's hash chain checked against its records and its head. How the
// chain is built: store/seal.hpp. The first break of each case is named with what it means:
// a record changed (its content or its link), removed (a later record names it as its
// predecessor) or inserted (a later record skips it).

#include <fmt/format.h>

#include <map>

#include "escalon/store.hpp"
#include "base/json.hpp"
#include "store/seal.hpp"

namespace escalon {
namespace {

struct CaseRow {
  std::string head;
  std::uint64_t seq = 0;
};

// The columns a row is found and ordered by must say what its hashed JSON says.
std::string column_mismatch(const StoredRecord& r) {
  try {
    const auto j = detail::parse_json(r.json, "the record");
    if (j.at("seq").get<std::uint64_t>() != r.seq) return "seq";
    if (j.at("case").get<std::string>() != r.case_id) return "case_id";
    if (j.at("type").get<std::string>() != r.type) return "type";
    if (j.at("at").get<std::string>() != format_iso8601(r.at)) return "at";
  } catch (const std::exception&) {
    return "json";
  }
  return {};
}

class CaseCheck {
 public:
  CaseCheck(const std::string& id, const std::vector<StoredRecord>& rows, ChainReport& rep) : id_(id), rows_(rows), rep_(rep) {}

  // The first problem of the case's chain, or nothing; `head`: the case row's (null: no row).
  std::optional<std::string> run(const CaseRow* row) {
    if (!row)
      return fmt::format("case '{}': records {}.. belong to no stored case (inserted, or the case's row was removed)", id_,
                         rows_.front().seq);
    for (std::size_t i = 0; i < rows_.size(); ++i) {
      ++rep_.records;
      if (auto p = check(i)) {
        rep_.records += rows_.size() - i - 1;
        return p;
      }
    }
    if (!chained_ || row->head == link_) return std::nullopt;
    for (const auto& [seq, link] : accepted_)
      if (link == row->head)
        return fmt::format("case '{}': the records after record {} were inserted (the case's head is record {})", id_, seq, seq);
    return fmt::format("case '{}': its last records were removed, or its head was changed: the head matches none of its "
                       "records (the last one left is record {})",
                       id_, rows_.back().seq);
  }

 private:
  std::optional<std::string> check(std::size_t i) {
    const StoredRecord& r = rows_[i];
    if (r.digest.empty()) {
      if (chained_) return fmt::format("case '{}': record {} was inserted: it carries no link of the chain", id_, r.seq);
      ++rep_.unchained;  // written before the store kept a chain
      expected_prev_ = r.seq;
      return std::nullopt;
    }
    chained_ = true;
    // The predecessor first: a record that names one which another record already follows is
    // a second branch (inserted); one that names a record not there says that one was removed.
    if (r.prev != expected_prev_) {
      if (r.prev > expected_prev_)
        return fmt::format("case '{}': record {} was removed (record {} follows it in the chain)", id_, r.prev, r.seq);
      for (const auto& [seq, link] : accepted_)
        if (seq > r.prev)
          return fmt::format("case '{}': record {} was inserted (it follows record {}, which record {} follows already)",
                             id_, r.seq, r.prev, seq);
      return fmt::format("case '{}': record {} was changed: it names record {} as its predecessor", id_, r.seq, r.prev);
    }
    if (detail::digest_hex(r.json) != r.digest)
      return fmt::format("case '{}': record {} was changed: its content does not match its digest", id_, r.seq);
    if (auto col = column_mismatch(r); !col.empty())
      return fmt::format("case '{}': record {} was changed: its column '{}' does not match its content", id_, r.seq, col);
    if (detail::chain_link(link_, r.prev, r.digest) != r.link) {
      if (i + 1 < rows_.size() && rows_[i + 1].prev == r.prev)
        return fmt::format("case '{}': record {} was inserted (record {} follows record {} in the chain)", id_, r.seq,
                           rows_[i + 1].seq, r.prev);
      return fmt::format("case '{}': record {} was changed: its link does not match (content and digest rewritten?)", id_, r.seq);
    }
    link_ = r.link;
    expected_prev_ = r.seq;
    accepted_.emplace_back(r.seq, r.link);
    return std::nullopt;
  }

  const std::string& id_;
  const std::vector<StoredRecord>& rows_;
  ChainReport& rep_;
  std::string link_;
  std::uint64_t expected_prev_ = 0;
  bool chained_ = false;
  std::vector<std::pair<std::uint64_t, std::string>> accepted_;
};

}  // namespace

ChainReport verify_journal(Store& store) {
  ChainReport rep;
  std::map<std::string, CaseRow, std::less<>> cases;
  store.for_each_case(std::nullopt, [&](const StoredCase& c) { cases[c.id] = {c.head, c.seq}; });
  rep.cases = cases.size();
  std::map<std::string, bool, std::less<>> seen;
  std::vector<StoredRecord> rows;
  const auto finish = [&] {
    const std::string id = rows.front().case_id;
    auto it = cases.find(id);
    seen[id] = true;
    if (auto p = CaseCheck(id, rows, rep).run(it == cases.end() ? nullptr : &it->second)) rep.problems.push_back(std::move(*p));
    rows.clear();
  };
  store.for_each_stored_record([&](const StoredRecord& r) {
    if (!rows.empty() && rows.front().case_id != r.case_id) finish();
    rows.push_back(r);
  });
  if (!rows.empty()) finish();
  std::string all;
  for (const auto& [id, row] : cases) {
    if (!row.head.empty() && !seen.contains(id))
      rep.problems.push_back(fmt::format("case '{}': all its records were removed (its head is set)", id));
    all += fmt::format("{}\t{}\n", id, row.head);
  }
  rep.digest = detail::digest_hex(all);
  return rep;
}

}  // namespace escalon
