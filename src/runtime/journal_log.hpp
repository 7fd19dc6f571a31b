#pragma once
// The journal an engine without a store keeps in memory (EngineOptions::keep_journal): the
// only copy of the history, so it grows with every record and is what the default
// configuration (the CLI, Python) pays for. A Record is about 400 bytes of strings and values,
// most of them empty or repeated (the same steps, events and actors over and over); here a
// record is 80 bytes: its texts are numbers into one table of distinct texts, its values sit in
// a side table only when it has any, and each record names its case's previous record, so a
// case needs no list of its own. Records are turned back into Records only when read.

#include <array>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "escalon/journal.hpp"

namespace escalon::detail {

class JournalLog {
 public:
  static constexpr std::uint32_t none = UINT32_MAX;

  JournalLog();

  // Appends `r`. `case_last` is its case's newest record (Case::journal_last; none before the
  // first), moved on to `r`; null for a record of no case in memory.
  void append(const Record& r, std::uint32_t* case_last);
  [[nodiscard]] Record at(std::uint32_t pos) const;
  [[nodiscard]] std::size_t size() const noexcept { return records_.count; }
  // The positions of one case's records, oldest first, given its newest.
  [[nodiscard]] std::vector<std::uint32_t> chain(std::uint32_t last) const;
  // One case's records, oldest first, given its newest.
  [[nodiscard]] std::vector<Record> case_records(std::uint32_t last) const;
  // Changes record `pos` in place (erasure clears its personal values): only its values may
  // change; a change to anything else is ignored.
  void rewrite_values(std::uint32_t pos, const std::function<void(Record&)>& change);

 private:
  struct Packed {
    std::uint64_t seq;
    TimePoint at;
    TimePoint due;
    std::uint32_t case_id, step, event, actor, channel, target, message;
    std::uint32_t prev;
    std::uint32_t values;    // first of its values in values_ (none: it has none)
    std::uint32_t personal;  // its `personal` list in personal_ (none: empty)
    std::int32_t level, repeat;
    RecordType type;
    std::uint8_t value_mask;  // which of old_value, new_value, data are in values_, in that order
  };
  // Fixed-size blocks: appending never moves what is there, and memory grows by one block, not
  // by doubling.
  static constexpr std::size_t block_size = 4096;
  template <class T>
  struct Blocks {
    std::vector<std::unique_ptr<T[]>> blocks;
    std::size_t count = 0;
    T& operator[](std::size_t i) const { return blocks[i / block_size][i % block_size]; }
    std::uint32_t push(T v);
  };

  std::uint32_t intern(std::string_view text);
  [[nodiscard]] const std::string& text(std::uint32_t id) const { return texts_[id]; }

  Blocks<Packed> records_;
  Blocks<Value> values_;
  std::deque<std::string> texts_;  // text 0 is ""; a deque keeps the index's keys in place
  std::unordered_map<std::string_view, std::uint32_t> index_;
  std::vector<std::vector<std::uint32_t>> personal_;
};

}  // namespace escalon::detail
